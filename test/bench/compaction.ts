// The snapshot workloads (ours only): what log compaction buys and costs a running cluster.
//   long     a 3-peer cluster after N commands from 64 clients: the members' RSS and data
//            directories, then one member SIGKILLed and started again: process start to caught
//            up, and to serving a linearizable read (it is asked to campaign, then a get)
//   install  the store filled with big values (few commands), a new member started with --join
//            and `join` asked of the leader: join to the newcomer caught up (InstallSnapshot)
//   snapab   W1 (64 clients) on two clusters at once, snapshots on (the repository's limits)
//            and off (thresholds no run reaches), alternating short runs: paired ratios
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { adminRequest, sendOnce } from '../../shared/admin-client.ts';
import { CLIENT_PATH } from '../../shared/client-protocol.ts';
import { loadConfig } from '../../shared/config.ts';
import { changeMembership } from '../../shared/membership-client.ts';
import { BusyMeter, rssMiB as rssMiBOf } from './machine.ts';
import { OursCluster } from './ours.ts';
import { startOurPeers, type OurPeers } from './peers.ts';
import { median } from './stats.ts';
import { closedLoop, pushCommands, rssOf } from './workloads.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Snapshots off: thresholds no bench run reaches. */
export const SNAPSHOTS_OFF = { entries: 1_000_000_000, bytes: 1_000_000_000_000 };

export interface Hooks {
  log: (line: string) => void;
  track: (s: OursCluster) => void;
  untrack: (s: OursCluster) => void;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Elections while a workload ran: how many terms began (from /admin status before and after),
 * and the lines (with their times) of every election timeout and leader change still in the
 * members' log files (they rotate), to say when.
 */
export function elections(peers: OurPeers, members: readonly string[], terms: { before: number; after: number }): { leaderChanges: number; termsBefore: number; termsAfter: number; lines: string[] } {
  const lines: string[] = [];
  let leaders = 0;
  for (const m of members) {
    let text = '';
    try {
      text = readFileSync(join(peers.dir, 'logs', `${m}.log`), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) {
      if (/became LEADER/.test(l)) leaders++;
      if (/became LEADER|election timeout|stepped down/.test(l)) lines.push(`${m}: ${l.trim()}`);
    }
  }
  // The log files rotate (log_file_bytes): the terms say how many elections there were.
  void leaders;
  return { leaderChanges: Math.max(0, terms.after - terms.before), termsBefore: terms.before, termsAfter: terms.after, lines: lines.sort().slice(0, 40) };
}

/** Bytes under a directory (files only, recursively). */
function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += duBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

async function withCluster<T>(hooks: Hooks, start: () => Promise<OurPeers>, fn: (sys: OursCluster, peers: OurPeers) => Promise<T>): Promise<T> {
  let peers: OurPeers | null = null;
  const sys = new OursCluster(async () => (peers = await start()));
  hooks.track(sys);
  try {
    await sys.start();
    return await fn(sys, peers!);
  } finally {
    await sys.stop().catch(() => {});
    hooks.untrack(sys);
  }
}

/** One request_command on a fresh connection to `peer`; the raw reply (or the error's text). */
async function commandOn(peers: OurPeers, name: string, command: unknown[], timeoutMs: number): Promise<{ ok?: boolean; error?: string; value?: unknown; leader?: string | null }> {
  const addr = peers.peers.find((p) => p.name === name)!;
  try {
    const r = (await sendOnce(addr, CLIENT_PATH, JSON.stringify({ type: 'request_command', id: 'r', command }), { timeoutMs })) as { ok?: boolean; error?: string };
    return r;
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

// ---- long run ----

export interface LongRunResult {
  commands: number;
  seconds: number;
  /** Writes that failed and were sent again (to a new leader). */
  errors: number;
  firstError: string | null;
  /** Leader changes while the commands were sent (from the members' logs). */
  elections: { leaderChanges: number; termsBefore: number; termsAfter: number; lines: string[] };
  rss: Record<string, number>;
  dataMiB: Record<string, number>;
  /** Snapshot files in each member's data directory. */
  snapshots: Record<string, number>;
  restarted: string;
  commitAtKill: number;
  /** Process start to its first /admin status answer, to applied >= the commit at the kill, to a read served. */
  toStatusMs: number;
  toCaughtUpMs: number;
  toReadMs: number;
  /** What the restarted peer said about its start (the snapshot it started from). */
  startLine: string | null;
}

export async function runLongRun(o: { commands: number; clients: number } & Hooks): Promise<LongRunResult> {
  return withCluster(o, () => startOurPeers({ count: 3 }), async (sys, peers) => {
    const every = Math.max(10_000, Math.round(o.commands / 10 / 10_000) * 10_000);
    let lastShown = 0;
    const termBefore = Number((await sys.adminStatus(await sys.waitForLeader(10_000)))?.term ?? 0);
    const pushed = await pushCommands(sys, o.commands, o.clients, (d) => {
      if (d - lastShown >= every) {
        lastShown = d;
        o.log(`    ${d.toLocaleString('en-US')} commands; RSS ${Object.entries(rssOf(sys)).map(([m, v]) => `${m} ${v.toFixed(0)}`).join(' ')} MiB`);
      }
    });
    const rss = rssOf(sys);
    const termAfter = Number((await sys.adminStatus(await sys.waitForLeader(10_000)))?.term ?? 0);
    const during = elections(peers, sys.members, { before: termBefore, after: termAfter });
    const dataMiB: Record<string, number> = {};
    const snapshots: Record<string, number> = {};
    for (const m of sys.members) {
      dataMiB[m] = duBytes(join(peers.dir, 'data', m)) / 2 ** 20;
      snapshots[m] = countSnapshots(join(peers.dir, 'data', m));
    }
    const leader = await sys.waitForLeader(10_000);
    const ls = await sys.adminStatus(leader);
    const commitAtKill = Number(ls?.commitIndex ?? 0);
    const member = sys.members.find((m) => m !== leader)!;
    sys.kill(member);
    const goneBy = Date.now() + 5000;
    while (peers.pidOf(member) !== null && Date.now() < goneBy) await sleep(5);
    const logFile = join(peers.dir, 'logs', `${member}.log`);
    const logBefore = fileSize(logFile);
    const t0 = performance.now();
    await sys.restart(member);
    let toStatusMs = NaN;
    let toCaughtUpMs = NaN;
    let toReadMs = NaN;
    let lastCampaign = -Infinity;
    const deadline = t0 + 120_000;
    const addr = peers.peers.find((p) => p.name === member)!;
    while (performance.now() < deadline) {
      const st = await sys.adminStatus(member, 500);
      if (st) {
        if (Number.isNaN(toStatusMs)) toStatusMs = performance.now() - t0;
        if (Number.isNaN(toCaughtUpMs) && Number(st.appliedIndex) >= commitAtKill) toCaughtUpMs = performance.now() - t0;
        if (st.role !== 'leader' && performance.now() - lastCampaign > 1000) {
          lastCampaign = performance.now();
          await adminRequest(addr, peers.secret, { type: 'campaign' }, 1000).catch(() => null);
        }
        if (st.role === 'leader') {
          const r = await commandOn(peers, member, ['rss-0-0', 'get'], 2000);
          if (r.ok === true) {
            toReadMs = performance.now() - t0;
            if (Number.isNaN(toCaughtUpMs)) toCaughtUpMs = toReadMs;
            break;
          }
        }
      }
      await sleep(5);
    }
    if (Number.isNaN(toReadMs)) throw new Error(`${member} served no linearizable read within 120 s of its restart`);
    const said = readFileSync(logFile, 'utf8').slice(logBefore);
    const startLine = /starting from snapshot[^\n]*/.exec(said)?.[0] ?? null;
    return { commands: o.commands, seconds: pushed.seconds, errors: pushed.errors, firstError: pushed.firstError, elections: during, rss, dataMiB, snapshots, restarted: member, commitAtKill, toStatusMs, toCaughtUpMs, toReadMs, startLine };
  });
}

// ---- InstallSnapshot to a new member ----

export interface InstallResult {
  stateMiB: number;
  values: number;
  valueBytes: number;
  fillSeconds: number;
  fillErrors: number;
  /** Leader changes while the store was filled (from the members' logs). */
  elections: { leaderChanges: number; termsBefore: number; termsAfter: number; lines: string[] };
  /** Small commands written after the big values, until the log was cut past them. */
  smallCommands: number;
  newcomer: string;
  commitAtJoin: number;
  /** `join` sent to the newcomer applied through the commit index at the join. */
  toCaughtUpMs: number;
  /** `join` sent to its answer (the newcomer promoted to voter). */
  toVoterMs: number;
  /** The newcomer's RSS when caught up. */
  rssMiB: number;
  /** The newcomer's log line saying it installed a snapshot (null: it got the log instead). */
  installedLine: string | null;
}

export async function runInstall(o: { mib: number; valueBytes: number } & Hooks): Promise<InstallResult> {
  return withCluster(o, () => startOurPeers({ count: 4, members: 3 }), async (sys, peers) => {
    const values = Math.max(1, Math.ceil((o.mib * 2 ** 20) / o.valueBytes));
    // Random base64: a snapshot of it does not compress away, as a real store's might.
    const value = (i: number) => `${String(i).padStart(8, '0')}${randomBytes(Math.ceil((o.valueBytes * 3) / 4)).toString('base64').slice(0, o.valueBytes - 8)}`;
    const termBefore = Number((await sys.adminStatus(await sys.waitForLeader(10_000)))?.term ?? 0);
    const t0 = performance.now();
    const filled = await pushCommands(sys, values, 4, undefined, value, (_c, i) => `big-${i}`);
    const fillSeconds = (performance.now() - t0) / 1000;
    o.log(`    ${values} values of ${o.valueBytes} bytes written in ${fillSeconds.toFixed(1)} s${filled.errors ? ` (${filled.errors} failed and sent again; the first: ${filled.firstError})` : ''}`);
    const config = loadConfig(peers.configFile);
    const newcomer = config.peers[3]!.name;
    let leader = await sys.waitForLeader(10_000);
    // The log keeps snapshot_trailing_entries (1,000) entries before a snapshot: with few big
    // commands no entry is ever cut, and a newcomer would get them all by AppendEntries. Small
    // commands follow until every member holds a snapshot whose kept entries start after the big
    // ones, so that the newcomer can only get the state by InstallSnapshot.
    const bigIndex = Number((await sys.adminStatus(leader))?.commitIndex ?? 0);
    const trailing = config.limits.snapshotTrailingEntries;
    let small = 0;
    while (Math.min(...sys.members.map((m) => newestSnapshotIndex(join(peers.dir, 'data', m)))) <= bigIndex + trailing + 1) {
      if (small >= 50_000) throw new Error(`no snapshot past index ${bigIndex + trailing + 1} after ${small} small commands`);
      await pushCommands(sys, 2000, 64);
      small += 2000;
      await sleep(200); // a snapshot is written in the background
    }
    o.log(`    ${fmtInt(small)} small commands after them, until every member's snapshot is past index ${fmtInt(bigIndex + trailing + 1)}`);
    leader = await sys.waitForLeader(10_000);
    const during = elections(peers, sys.members, { before: termBefore, after: Number((await sys.adminStatus(leader))?.term ?? 0) });
    const commitAtJoin = Number((await sys.adminStatus(leader))?.commitIndex ?? 0);
    peers.startJoiner(newcomer);
    const addr = config.peers[3]!;
    // The newcomer listens before it is asked to join, as `npm run peer -- peer4 3 --join` then `join peer4`.
    const upBy = Date.now() + 30_000;
    while (Date.now() < upBy && !(await adminRequest(addr, peers.secret, { type: 'status' }, 500).catch(() => null))) await sleep(20);
    const tJoin = performance.now();
    let toVoterMs = NaN;
    const joined = changeMembership(config, 'join', newcomer, { ask: [leader], timeoutMs: 300_000 }).then((r) => {
      if (!r.ok) throw new Error(`join ${newcomer}: ${r.error}: ${r.message}`);
      toVoterMs = performance.now() - tJoin;
    });
    let failed: Error | null = null;
    joined.catch((e: Error) => (failed = e));
    let toCaughtUpMs = NaN;
    while (performance.now() - tJoin < 300_000 && !failed) {
      const st = (await adminRequest(addr, peers.secret, { type: 'status' }, 1000).catch(() => null)) as { type: string; appliedIndex?: number } | null;
      if (st?.type === 'status' && Number(st.appliedIndex) >= commitAtJoin) {
        toCaughtUpMs = performance.now() - tJoin;
        break;
      }
      await sleep(10);
    }
    if (failed) throw failed;
    if (Number.isNaN(toCaughtUpMs)) throw new Error(`${newcomer} did not catch up within 300 s of join`);
    const pid = peers.pidOf(newcomer);
    const rssMiB = pid ? rssMiBOf(pid) : NaN;
    await joined;
    const said = (() => {
      try {
        return readFileSync(join(peers.dir, 'logs', `${newcomer}.log`), 'utf8');
      } catch {
        return '';
      }
    })();
    const installedLine = /installed a snapshot[^\n]*/.exec(said)?.[0] ?? null;
    return { stateMiB: (values * o.valueBytes) / 2 ** 20, values, valueBytes: o.valueBytes, fillSeconds, fillErrors: filled.errors, elections: during, smallCommands: small, newcomer, commitAtJoin, toCaughtUpMs, toVoterMs, rssMiB, installedLine };
  });
}

// ---- W1 with snapshots on vs off, paired ----

export interface SnapAbResult {
  clients: number;
  pairs: { on: { opsPerSec: number; p50: number; cpuUsPerOp: number }; off: { opsPerSec: number; p50: number; cpuUsPerOp: number } }[];
  /** Medians of the per-pair ratios on/off. */
  opsRatio: number;
  p50Ratio: number;
  cpuRatio: number;
  /** Snapshots the "on" cluster's leader directory holds at the end (there are at most two). */
  snapshotFilesOn: number;
}

export async function runSnapAb(o: { clients: number; pairs: number; ms: number; warmupMs: number } & Hooks): Promise<SnapAbResult> {
  let onPeers: OurPeers | null = null;
  const on = new OursCluster(async () => (onPeers = await startOurPeers({ count: 3 })));
  const off = new OursCluster(() => startOurPeers({ count: 3, snapshot: SNAPSHOTS_OFF }));
  o.track(on);
  o.track(off);
  try {
    await on.start();
    await off.start();
    const pairs: SnapAbResult['pairs'] = [];
    for (let pair = 0; pair < o.pairs; pair++) {
      const order = pair % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      const got: Partial<SnapAbResult['pairs'][number]> = {};
      for (const side of order) {
        const sys = side === 'on' ? on : off;
        const meter = new BusyMeter(() => sys.pids());
        const r = await closedLoop(sys, { clients: o.clients, durationMs: o.ms, warmupMs: o.warmupMs, keyPrefix: `sab${pair}` });
        const busy = meter.stop();
        got[side] = { opsPerSec: r.opsPerSec, p50: r.latency.p50, cpuUsPerOp: (busy.systemCores * 1e6) / r.opsPerSec };
        o.log(`    pair ${pair + 1}/${o.pairs} snapshots ${side.padEnd(3)}: ${r.opsPerSec.toFixed(0)} ops/s, p50 ${r.latency.p50.toFixed(2)} ms, cluster ${got[side]!.cpuUsPerOp.toFixed(0)} µs CPU/op (others ${busy.otherCores.toFixed(2)} cores)`);
      }
      pairs.push(got as SnapAbResult['pairs'][number]);
    }
    const leader = await on.waitForLeader();
    const snapshotFilesOn = countSnapshots(join(onPeers!.dir, 'data', leader));
    return {
      clients: o.clients,
      pairs,
      opsRatio: median(pairs.map((p) => p.on.opsPerSec / p.off.opsPerSec)),
      p50Ratio: median(pairs.map((p) => p.on.p50 / p.off.p50)),
      cpuRatio: median(pairs.map((p) => p.on.cpuUsPerOp / p.off.cpuUsPerOp)),
      snapshotFilesOn,
    };
  } finally {
    await on.stop().catch(() => {});
    await off.stop().catch(() => {});
    o.untrack(on);
    o.untrack(off);
  }
}

const fmtInt = (n: number) => n.toLocaleString('en-US');

/** The index of the newest snapshot file in a data directory (0 when there is none). */
function newestSnapshotIndex(dir: string): number {
  try {
    return Math.max(0, ...readdirSync(dir).map((f) => Number(/^snap-(\d+)-\d+\.snap$/.exec(f)?.[1] ?? 0)));
  } catch {
    return 0;
  }
}

function countSnapshots(dir: string): number {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.snap')).length;
  } catch {
    return 0;
  }
}
