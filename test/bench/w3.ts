// W3, the village's pipeline: peers started with -v stream events to the relay, which batches
// them to browsers. A subscriber (a plain WebSocket on the relay's /village, no browser, in a
// thread of its own as a browser is its own process: subscriber-thread.ts) measures how long
// an event takes from the peer (its `t`) to arrival, under the W1 8-client load; the same load without -v gives the cost of reporting; and a synthetic peer flooding the
// relay at rising rates finds the highest event rate it sustains.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { tsxLoader } from '../../peer/spawn.ts';
import type { PeerEvent } from '../../shared/events.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { BusyMeter, fmtBusy, leastDisturbed } from './machine.ts';
import { OursCluster } from './ours.ts';
import { startOurPeers, type OurPeers } from './peers.ts';
import type { RunRecord } from './report.ts';
import { distribution, fmtNumber, type Distribution } from './stats.ts';
import type { BenchSystem } from './system.ts';
import { SubscriberThread } from './subscriber-thread.ts';
import { closedLoop } from './workloads.ts';
import { freePorts } from './etcd.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROFILER = new URL('./cpu-profiler.mjs', import.meta.url).href;
export const RELAY_MAIN = join(REPO_ROOT, 'game/relay/main.ts');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the relay ----

export interface RelayProcess {
  port: number;
  pid: number;
  /** The last 2,000 characters the relay printed. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts the relay (monster attacks off) on `port`; with cpuProfDir it is profiled as the peers are. */
export async function startRelay(configFile: string, port: number, logDir: string, label = 'relay', cpuProfDir: string | null = null): Promise<RelayProcess> {
  if (!existsSync(RELAY_MAIN)) throw new Error(`the relay (${RELAY_MAIN}) is not there`);
  const profEnv: NodeJS.ProcessEnv = cpuProfDir
    ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PROFILER}`.trim(), BENCH_CPU_PROF_DIR: cpuProfDir }
    : {};
  const logFile = join(logDir, `${label}.stdout`);
  const out = createWriteStream(logFile, { flags: 'a' });
  // The village clock stays off (peers started by the bench never run on it) unless
  // RAFT_BENCH_CLOCK=on asks for it, to measure what an unpaused clock costs.
  const clock = process.env.RAFT_BENCH_CLOCK === 'on' ? 'on' : 'off';
  const p: ChildProcess = spawn(process.execPath, ['--import', tsxLoader(), RELAY_MAIN, '--config', configFile, '--port', String(port), '--attacks', 'off', '--clock', clock], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, RAFT_EXIT_WITH_STDIN: '1', ...profEnv },
  });
  let tail = '';
  const keep = (c: Buffer) => {
    out.write(c);
    tail = (tail + c.toString()).slice(-2000);
  };
  p.stdout!.on('data', keep);
  p.stderr!.on('data', keep);
  p.stdin!.on('error', () => {});
  let exited = false;
  p.on('exit', () => {
    exited = true;
    out.end();
  });
  // Ready when /village accepts a WebSocket.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      await sleep(100); // the last of its output
      throw new Error(`the relay exited at start:\n${tail}`);
    }
    try {
      const ws = await openSubscriberSocket(port, 1000);
      ws.terminate();
      break;
    } catch {
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`the relay did not accept /village within 20 s:\n${tail}`);
      }
      await sleep(100);
    }
  }
  return {
    port,
    pid: p.pid!,
    output: () => tail,
    stop: async () => {
      if (exited) return;
      const done = new Promise<void>((r) => p.once('exit', () => r()));
      // SIGTERM first when profiling: the relay writes its profile as it exits gracefully.
      p.kill(cpuProfDir ? 'SIGTERM' : 'SIGKILL');
      const force = setTimeout(() => p.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(force);
    },
  };
}

function openSubscriberSocket(port: number, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/village`, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`/village: HTTP ${res.statusCode}`)));
  });
}

// ---- the subscriber ----

/** Listens on /village and measures, per event, arrival time minus the peer's `t`. */
export class Subscriber {
  private delays: number[] = [];
  private windowFrom = Infinity;
  private windowTo = Infinity;
  /** Events counted in the window; a sampled letter counts with the RPCs it stands for. */
  received = 0;
  /** Events per type counted in the window. */
  byType = new Map<string, number>();
  /** Events with this peer name (for the synthetic flood). */
  private onEvent: ((e: PeerEvent, now: number, count: number) => void) | null = null;

  private constructor(private ws: WebSocket) {
    ws.on('message', (data) => {
      const now = Date.now();
      let m: RelayToBrowser;
      try {
        m = JSON.parse(String(data)) as RelayToBrowser;
      } catch {
        return;
      }
      if (m.type === 'snapshot') {
        for (const p of m.picture.peers) this.reporting.set(p.name, p.reporting);
        this.messages = m.picture.counters.messages;
        return;
      }
      if (m.type !== 'batch') return;
      for (const d of m.deltas) {
        if (d.type === 'peer') this.reporting.set(d.peer.name, d.peer.reporting);
        if (d.type === 'counters') this.messages = d.counters.messages;
        if (d.type !== 'event') continue;
        const e = d.event;
        // A sampled letter stands for `more` RPCs whose events the relay did not send (letter-sampler.ts).
        const count = 1 + (d.more ?? 0);
        this.onEvent?.(e, now, count);
        if (e.t >= this.windowFrom && e.t <= this.windowTo) {
          this.received += count;
          this.delays.push(now - e.t);
          this.byType.set(e.type, (this.byType.get(e.type) ?? 0) + count);
        }
      }
    });
  }

  /** Whether each peer's -v stream is connected, as the relay last said. */
  readonly reporting = new Map<string, boolean>();

  /** The relay's count of letters sent (rpc_send events it took), as it last said. */
  messages = 0;

  async waitForReporting(names: readonly string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!names.every((n) => this.reporting.get(n))) {
      if (Date.now() > end) throw new Error(`peers not reporting to the relay within ${timeoutMs} ms: ${names.filter((n) => !this.reporting.get(n)).join(', ')}`);
      await sleep(20);
    }
  }

  static async open(port: number): Promise<Subscriber> {
    return new Subscriber(await openSubscriberSocket(port, 3000));
  }

  /** Counts events whose peer time `t` lies in [from, to] (wall clock ms). */
  window(from: number, to: number): void {
    this.windowFrom = from;
    this.windowTo = to;
    this.delays = [];
    this.received = 0;
    this.byType.clear();
  }

  listen(fn: ((e: PeerEvent, now: number, count: number) => void) | null): void {
    this.onEvent = fn;
  }

  result(): Distribution {
    return distribution(this.delays);
  }

  close(): void {
    this.ws.terminate();
  }
}

// ---- the synthetic flood: the highest event rate the relay sustains ----

export interface FloodStep {
  rate: number;
  sent: number;
  received: number;
  delay: Distribution;
  sustained: boolean;
}

function openPeerStream(relayPort: number, secret: string): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    const w = new WebSocket(`ws://127.0.0.1:${relayPort}/peer`, { headers: { 'x-raft-secret': secret }, perMessageDeflate: false });
    w.once('open', () => resolve(w));
    w.once('error', reject);
    w.once('unexpected-response', (_q, res) => reject(new Error(`/peer: HTTP ${res.statusCode}`)));
  });
}

/**
 * Synthetic peers (one stream per cluster name, on a relay no real peer reports to) send
 * rpc_send events at `rate` per second in total for `ms`, batched per 5 ms as the reporter does; the step is sustained when the
 * relay told the subscriber it took at least 99% of them (its message counter: the letters it
 * passes on are a sample, letter-sampler.ts) and the p99 delay of those that reached the
 * subscriber stayed under 100 ms.
 */
async function floodStep(relayPort: number, secret: string, names: readonly string[], sub: Subscriber, rate: number, ms: number): Promise<FloodStep> {
  const streams = await Promise.all(names.map(() => openPeerStream(relayPort, secret)));
  const timing = { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 };
  streams.forEach((ws, i) =>
    ws.send(JSON.stringify({ type: 'hello', peer: names[i], t: Date.now(), pid: process.pid, cluster: names, profile: 'bench', timing })),
  );
  await sleep(300);
  const delays: number[] = [];
  const ours = new Set(names);
  const from = Date.now();
  const messagesBefore = sub.messages;
  sub.listen((e, now) => {
    if (e.type === 'rpc_send' && ours.has(e.peer) && e.t >= from) delays.push(now - e.t);
  });
  // Send in 5 ms slices, one frame (a JSON array) per peer per slice, as a peer's reporter
  // sends what it queued in one turn.
  let sent = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    const t = Date.now();
    const frames: object[][] = names.map(() => []);
    while (sent < due) {
      const i = sent % names.length;
      const peer = names[i]!;
      const to = names[(i + 1) % names.length]!;
      frames[i]!.push({ type: 'rpc_send', peer, t, to, rid: `${peer}:${sent}`, rpc: 'append_entries', term: 1, heartbeat: false, entries: 1 });
      sent++;
    }
    frames.forEach((f, i) => {
      if (f.length) streams[i]!.send(JSON.stringify(f));
    });
    await sleep(5);
  }
  // Let the tail arrive.
  const tailEnd = Date.now() + 1000;
  while (sub.messages - messagesBefore < sent && Date.now() < tailEnd) await sleep(20);
  const received = sub.messages - messagesBefore;
  sub.listen(null);
  for (const ws of streams) ws.terminate();
  const delay = distribution(delays);
  return { rate, sent, received, delay, sustained: received >= sent * 0.99 && delay.p99 <= 100 };
}

/** Raises the rate step by step until the relay stops keeping up; returns the last rate it kept up with. */
export async function relayMaxRate(
  relayPort: number,
  secret: string,
  names: readonly string[],
  opts: { stepMs: number; rates: number[]; log: (s: string) => void },
): Promise<{ best: number; steps: FloodStep[] }> {
  const sub = await Subscriber.open(relayPort);
  const steps: FloodStep[] = [];
  let best = 0;
  try {
    await sleep(200);
    for (const rate of opts.rates) {
      const s = await floodStep(relayPort, secret, names, sub, rate, opts.stepMs);
      steps.push(s);
      opts.log(
        `    relay flood ${fmtNumber(rate)} events/s: got ${fmtNumber(s.received)}/${fmtNumber(s.sent)}, delay p50 ${fmtNumber(s.delay.p50)} ms p99 ${fmtNumber(s.delay.p99)} ms -> ${s.sustained ? 'sustained' : 'not sustained'}`,
      );
      if (!s.sustained) break;
      best = rate;
      await sleep(300);
    }
  } finally {
    sub.close();
  }
  return { best, steps };
}

// ---- W3 as a whole ----

export interface W3Options {
  rep: number;
  durationMs: number;
  warmupMs: number;
  quick: boolean;
  log: (s: string) => void;
  cpuProfDir: string | null;
  track: (s: BenchSystem) => void;
  untrack: (s: BenchSystem) => void;
  /** How often a disturbed W1 run may be measured again, and how to wait for quiet. */
  attempts: number;
  quiet: () => Promise<void>;
  /** Records a figure (and a run) as soon as it is measured, so a later failure keeps it. */
  figure: (key: string, value: number) => void;
  run: (r: RunRecord) => void;
}

export async function runW3(o: W3Options): Promise<void> {
  const figures: Record<string, number> = {};
  const runs = { push: (r: RunRecord) => o.run(r) };
  let lastBusy: RunRecord['busy'] = null;
  const clients = 8;

  // 1. W1 8 clients without -v.
  {
    const sys = new OursCluster(() => startOurPeers({ count: 3, cpuProfDir: o.cpuProfDir }));
    o.track(sys);
    try {
      await sys.start();
      const { value: r, busy } = await leastDisturbed(
        o.attempts,
        async () => {
          const meter = new BusyMeter(() => sys.pids());
          const value = await closedLoop(sys, { clients, durationMs: o.durationMs, warmupMs: o.warmupMs, keyPrefix: 'w3' });
          return { value, busy: meter.stop() };
        },
        {
          quiet: o.quiet,
          log: o.log,
          label: 'W3 without -v',
          discarded: (d) => runs.push({ system: 'ours', rep: o.rep, workload: 'W3 W1-8 without -v (discarded: disturbed)', busy: d.busy, detail: d.value }),
        },
      );
      o.figure('w3.ops.plain', (figures['w3.ops.plain'] = r.opsPerSec));
      runs.push({ system: 'ours', rep: o.rep, workload: 'W3 W1-8 without -v', busy, detail: r });
      o.log(`  W3 without -v: ${fmtNumber(r.opsPerSec)} ops/s, p50 ${fmtNumber(r.latency.p50)} ms; ${fmtBusy(busy)}`);
    } finally {
      await sys.stop();
      o.untrack(sys);
    }
  }

  // 2. The same with -v, the relay running and a subscriber measuring event delay.
  let peers: OurPeers | null = null;
  let relay: RelayProcess | null = null;
  let sub: SubscriberThread | null = null;
  const sys = new OursCluster(async () => {
    peers = await startOurPeers({
      count: 3,
      verbose: true,
      cpuProfDir: o.cpuProfDir,
      // The relay first, so that every peer reports from its start.
      beforeStart: async (c) => {
        relay = await startRelay(c.configFile, c.relayPort, c.dir, 'relay', o.cpuProfDir);
      },
    });
    return peers;
  });
  o.track(sys);
  try {
    await sys.start();
    sub = await SubscriberThread.open(relay!.port);
    await sub.waitForReporting(sys.members, 10_000).catch((e: Error) => {
      throw new Error(`${e.message}; the relay said:\n${relay!.output().trim().split('\n').slice(-5).join('\n')}`);
    });
    const s = sub;
    const {
      value: { r, d, received, types },
      busy,
    } = await leastDisturbed(
      o.attempts,
      async () => {
        const from = Date.now() + o.warmupMs;
        s.window(from, from + o.durationMs);
        const meter = new BusyMeter(() => [...sys.pids(), relay!.pid]);
        const r = await closedLoop(sys, { clients, durationMs: o.durationMs, warmupMs: o.warmupMs, keyPrefix: 'w3' });
        const busy = meter.stop();
        await sleep(500); // the last events of the window
        const got = await s.collect();
        return { value: { r, d: got.delays, received: got.received, types: got.byType }, busy };
      },
      {
        quiet: o.quiet,
        log: o.log,
        label: 'W3 with -v',
        discarded: (x) => runs.push({ system: 'ours', rep: o.rep, workload: 'W3 W1-8 with -v (discarded: disturbed)', busy: x.busy, detail: x.value }),
      },
    );
    o.figure('w3.ops.verbose', (figures['w3.ops.verbose'] = r.opsPerSec));
    o.figure('w3.delay.p50', (figures['w3.delay.p50'] = d.p50));
    o.figure('w3.delay.p99', (figures['w3.delay.p99'] = d.p99));
    o.figure('w3.events', (figures['w3.events'] = received / (o.durationMs / 1000)));
    if (figures['w3.ops.plain']) o.figure('w3.ops.ratio', (figures['w3.ops.ratio'] = r.opsPerSec / figures['w3.ops.plain']));
    runs.push({ system: 'ours', rep: o.rep, workload: 'W3 W1-8 with -v', busy, detail: { w1: r, delay: d, events: received, byType: types } });
    o.log(
      `  W3 with -v: ${fmtNumber(r.opsPerSec)} ops/s; ${fmtNumber(received)} events, delay p50 ${fmtNumber(d.p50)} ms p99 ${fmtNumber(d.p99)} ms max ${fmtNumber(d.max)} ms; ${fmtBusy(busy)} (system includes the relay)`,
    );
    sub.close();
    sub = null;

    // 3. The highest rate a relay sustains: a second relay on its own port, fed by synthetic
    //    peers (the real ones keep reporting to the first relay and are idle meanwhile).
    const p = peers as OurPeers | null;
    const [floodPort] = await freePorts(1);
    const floodRelay = await startRelay(p!.configFile, floodPort!, p!.dir, 'flood-relay');
    try {
      const rates = o.quick ? [1000, 4000] : [2000, 5000, 10_000, 20_000, 40_000, 80_000, 160_000];
      const meter2 = new BusyMeter(() => [floodRelay.pid]);
      const flood = await relayMaxRate(floodPort!, p!.secret, p!.peers.map((x) => x.name), { stepMs: o.quick ? 500 : 2000, rates, log: o.log });
      o.figure('w3.relay.rate', (figures['w3.relay.rate'] = flood.best));
      lastBusy = meter2.stop();
      runs.push({ system: 'ours', rep: o.rep, workload: 'W3 relay flood', busy: lastBusy, detail: flood });
      o.log(`  W3 the relay sustains ${fmtNumber(flood.best)} events/s (cores used by the relay: ${fmtNumber(lastBusy.systemCores)})`);
    } finally {
      await floodRelay.stop();
    }
  } finally {
    sub?.close();
    await sys.stop();
    await (relay as RelayProcess | null)?.stop();
    o.untrack(sys);
  }
}
