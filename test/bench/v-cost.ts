// What -v costs per command, in CPU time rather than throughput: on a shared machine the
// throughput of W3 follows whatever else runs, while the CPU time a command takes in the peers
// and in the relay hardly does. Runs W3's setup (3 peers, 8 closed-loop clients, with -v: the
// relay and one /village subscriber) for a fixed number of commands, alternating a cluster
// without -v and one with it, and reads the processes' CPU time (/proc/PID/stat) around each
// run. Prints, per pair, CPU ms per command of the peers without -v, of the peers with -v and
// of the relay, the events per command the peers sent (as the relay's monitor counted them) and
// the subscriber received (by type), and the CPU ratio
// plain / (-v + relay): the W3 throughput ratio the cluster would reach were it CPU-bound on
// cores it shares with the relay.
//
// --verbose-only: leave out the runs without -v (for counts, or to compare two trees' -v runs).
//
//   npx tsx test/bench/v-cost.ts [--commands 3000] [--pairs 3] [--cpu-prof DIR] [--verbose-only]
import { procTicks } from './machine.ts';
import { OursCluster } from './ours.ts';
import { startOurPeers, type OurPeers } from './peers.ts';
import { median } from './stats.ts';
import { SubscriberThread } from './subscriber-thread.ts';
import { startRelay, type RelayProcess } from './w3.ts';
import type { BenchSystem } from './system.ts';
import { payload } from './workloads.ts';

const HZ = 100;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const cpuProfIdx = process.argv.indexOf('--cpu-prof');
const cpuProfDir = cpuProfIdx >= 0 ? process.argv[cpuProfIdx + 1]! : null;
const COMMANDS = arg('--commands', 3000);
const PAIRS = arg('--pairs', 3);
const CLIENTS = 8;

/** `total` writes by CLIENTS closed-loop clients; failed ones (a busy machine times some out) are retried. Returns the writes acknowledged. */
async function push(sys: BenchSystem, total: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const cs = await Promise.all(Array.from({ length: CLIENTS }, () => sys.client()));
  try {
    await Promise.all(
      cs.map(async (c, ci) => {
        while (ok < total && next < total * 3) {
          const i = next++;
          await c.put(`vc-${ci}-${i % 64}`, payload(i)).then(
            () => void ok++,
            () => {},
          );
        }
      }),
    );
  } finally {
    for (const c of cs) c.close();
  }
  return ok;
}

function ticks(pids: readonly number[]): number {
  let t = 0;
  for (const p of pids) t += procTicks(p);
  return t;
}

async function plainRun(): Promise<number> {
  const sys = new OursCluster(() => startOurPeers({ count: 3, cpuProfDir }));
  await sys.start();
  try {
    await push(sys, 300); // warm-up
    const t0 = ticks(sys.pids());
    const done = await push(sys, COMMANDS);
    return ((ticks(sys.pids()) - t0) / HZ / done) * 1000;
  } finally {
    await sys.stop();
  }
}

async function verboseRun(): Promise<{ peers: number; relay: number; events: number; sent: number; byType: Record<string, number> }> {
  let relay: RelayProcess | null = null;
  let peers: OurPeers | null = null;
  const sys = new OursCluster(async () => {
    peers = await startOurPeers({
      count: 3,
      verbose: true,
      cpuProfDir,
      beforeStart: async (c) => {
        relay = await startRelay(c.configFile, c.relayPort, c.dir, 'relay', cpuProfDir);
      },
    });
    return peers;
  });
  await sys.start();
  const sub = await SubscriberThread.open(relay!.port);
  try {
    await sub.waitForReporting(sys.members, 10_000);
    await push(sys, 300);
    await new Promise((r) => setTimeout(r, 300));
    sub.window(Date.now(), Date.now() + 3_600_000);
    const p0 = ticks(sys.pids());
    const r0 = procTicks(relay!.pid);
    const done = await push(sys, COMMANDS);
    await new Promise((r) => setTimeout(r, 500)); // the last events reach the relay
    const p1 = ticks(sys.pids());
    const r1 = procTicks(relay!.pid);
    const got = await sub.collect();
    const byType: Record<string, number> = {};
    for (const [k, v] of Object.entries(got.byType)) byType[k] = v / done;
    return { peers: ((p1 - p0) / HZ / done) * 1000, relay: ((r1 - r0) / HZ / done) * 1000, events: got.received / done, sent: got.monitored / done, byType };
  } finally {
    sub.close();
    await sys.stop();
    await (relay as RelayProcess | null)?.stop();
  }
}

const f = (x: number) => x.toFixed(3);
const ratios: number[] = [];
for (let i = 0; i < PAIRS; i++) {
  const plain = process.argv.includes('--verbose-only') ? NaN : await plainRun();
  const v = await verboseRun();
  const ratio = plain / (v.peers + v.relay);
  ratios.push(ratio);
  const types = Object.entries(v.byType)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n.toFixed(2)}`)
    .join(', ');
  console.log(
    `pair ${i + 1}: CPU ms/command: peers ${f(plain)} without -v; with -v peers ${f(v.peers)} + relay ${f(v.relay)}; ratio ${ratio.toFixed(3)}; ` +
      `events/command from the peers ${v.sent.toFixed(2)}, to the subscriber ${v.events.toFixed(2)} (${types})`,
  );
}
console.log(`median CPU ratio without/with -v: ${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}] over ${PAIRS} pairs of ${COMMANDS} commands`);
process.exit(0);
