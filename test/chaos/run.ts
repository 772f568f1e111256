// One chaos run: a real cluster of peer processes, concurrent clients recording a history, and
// the nemesis doing its worst; then everything is healed, the cluster settles, every key is
// read once more, the replicas are compared, and the history is checked for linearizability.
// Throughout, the peers run with -v into an in-process sink (monitor-sink.ts) where the relay's
// safety monitor checks Raft's laws on every event; a broken law fails the run.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ClusterClient } from '../../shared/client.ts';
import { seededRandom } from '../../game/relay/monster.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import type { Network } from '../support/netns.ts';
import { startNetnsVillage } from '../support/netns-cluster.ts';
import { canonical, checkHistory, type HistoryResult } from './checker.ts';
import { commandOf, HistoryRecorder, outcomeOf, saveHistory, type Operation } from './history.ts';
import { LAWS } from '../../game/relay/monitor/laws.ts';
import { MonitorSink, type MonitorReport } from './monitor-sink.ts';
import { describeAction, Nemesis, type NemesisAction, type NemesisCounts, type NemesisOptions, type PeerView } from './nemesis.ts';
import { Workload } from './workload.ts';
import { MembershipDriver, type MembershipCounts } from './membership-driver.ts';
import { latestMembers } from '../../peer/launcher-members.ts';

export interface ChaosOptions {
  peers: number;
  seconds: number;
  seed: number;
  /** Concurrent clients (default peers + 3, at least 4). */
  clients?: number;
  /** Keys in use at once (default 3). */
  keys?: number;
  /** Operations per key before it is retired (default 300). */
  opsPerKey?: number;
  /** Where to write the history (JSON lines); null for nowhere. */
  historyFile?: string | null;
  /** Keep the cluster's directory (logs, durable state) afterwards; it is always kept when the check fails. */
  keep?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Seconds between progress lines (default 5). */
  progressEvery?: number;
  /** Longest pause between a client's operations, in ms (to spare a shared machine). */
  thinkMs?: number;
  /** Nemesis timing instead of the one scaled to the run's length. */
  nemesis?: Partial<Pick<NemesisOptions, 'gapMs' | 'faultMs' | 'monsterEveryMs' | 'reviveAfterMs' | 'kinds'>>;
  /**
   * Each peer on a host of its own (network namespaces, root only; test/support/netns.ts), in the
   * lan profile, and the network faults made by the kernel instead of the peers' /admin faults:
   * partitions as conntrack drops (an isolated peer is cut both ways, or only its incoming or
   * only its outgoing connections, in turn), loss with nftables, delay in the router's hop.
   */
  netns?: boolean;
  /**
   * Membership changes during the run (membership-driver.ts): the ini lists one peer more than
   * the cluster starts with, and members are added and removed while the nemesis strikes.
   */
  membership?: boolean;
}

export interface OperationCounts {
  total: number;
  ok: number;
  failed: number;
  unknown: number;
  /** By command and outcome: { add: { ok: 10, unknown: 1 }, ... }. */
  byCommand: Record<string, Record<string, number>>;
  /** Why operations failed or were unknown: { not_leader: 3, unknown: 2, timeout: 1 }. */
  byError: Record<string, number>;
}

export interface ChaosReport {
  seed: number;
  peers: number;
  seconds: number;
  clients: number;
  operations: OperationCounts;
  nemesis: NemesisCounts;
  /** Every nemesis action, with its time from the start in ms. */
  timeline: { at: number; action: NemesisAction }[];
  /** Whether every replica holds the same store after settling, and what differed if not. */
  replicas: { agree: boolean; keys: number; detail: string };
  check: HistoryResult;
  checkMs: number;
  /** The safety monitor over the peers' -v events: what it checked, what it saw broken, when it was blind. */
  /** The safety monitor's findings; null with --netns, where it does not run. */
  monitor: MonitorReport | null;
  history: Operation[];
  historyFile: string | null;
  /** The cluster's directory, when kept. */
  dir: string | null;
  /** With --membership: the changes made, and the members at the end. */
  membership: (MembershipCounts & { members: string[] }) | null;
}

/** Nemesis timing scaled to the run's length, so that a short run still sees every kind of fault. */
function timings(seconds: number) {
  const ms = seconds * 1000;
  const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
  return {
    gapMs: clamp(ms / 24, 600, 1500),
    faultMs: clamp(ms / 12, 1200, 3000),
    monsterEveryMs: clamp(ms / 6, 3000, 8000),
    reviveAfterMs: 1500,
  };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => {});
  const clients = o.clients ?? Math.max(4, o.peers + 3);
  const village = o.netns ? await startNetnsVillage({ peers: o.peers, router: true, profile: 'lan' }) : null;
  // Otherwise the peers report (-v) to the monitor's sink on the ini's relay address: it listens first.
  if (village && o.membership) {
    await village.teardown();
    throw new Error('--membership and --netns do not go together yet');
  }
  const c = village ? village.cluster : await startCluster({ peers: o.peers + (o.membership ? 1 : 0), members: o.peers, verbose: true, start: false });
  const started = performance.now();
  let sink: MonitorSink | null = null;
  if (!village) {
    try {
      sink = await MonitorSink.start({
        config: c.config,
        now: () => performance.now() - started,
        onViolation: (v, file) => log(`LAW BROKEN: ${LAWS[v.law].name}. ${v.message}${file ? ` Evidence: ${file}` : ''}`),
      });
    } catch (e) {
      await c.teardown();
      throw e;
    }
    c.startAll();
  }
  let cleaned = false;
  const paused = new Set<string>();
  const cleanup = async (keep: boolean) => {
    if (cleaned) return;
    cleaned = true;
    for (const n of paused) signal(c, n, 'SIGCONT');
    if (keep) {
      await c.stopAll('SIGKILL');
      village?.net.teardown();
    } else if (village) {
      await village.teardown();
    } else {
      await c.teardown();
    }
    await sink?.close();
  };
  const onSignal = () => {
    void cleanup(false).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(o, c, sink, clients, paused, log, cleanup, village?.net ?? null);
  } catch (e) {
    await cleanup(o.keep ?? false);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function signal(c: TestCluster, name: string, sig: NodeJS.Signals): void {
  const pid = c.pid(name);
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

async function run(
  o: ChaosOptions,
  c: TestCluster,
  sink: MonitorSink | null,
  clients: number,
  paused: Set<string>,
  log: (line: string) => void,
  cleanup: (keep: boolean) => Promise<void>,
  net: Network | null,
): Promise<ChaosReport> {
  log(`chaos: ${o.peers} peers, ${o.seconds} s, seed ${o.seed}, ${clients} clients; cluster in ${c.dir}${net ? `; each peer on a host of its own (${net.subnet}.0/24, faults by the kernel)` : ''}${o.membership ? `; members change (${c.names.at(-1)} is in the ini only, for now)` : ''}`);
  const initial = c.names.slice(0, o.peers);
  await c.waitForLeader({ among: initial, timeoutMs: 30_000 });

  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const stamp = (ms = now()) => `[${(ms / 1000).toFixed(1).padStart(6)}s]`;
  const history = new HistoryRecorder(() => performance.now());
  const workload = new Workload({
    peers: c.peers,
    clients,
    keys: o.keys ?? 3,
    opsPerKey: o.opsPerKey ?? 300,
    random: seededRandom(o.seed ^ 0x5bd1e995),
    history,
    timeoutMs: 4000,
    runId: `chaos-${o.seed}-${process.pid}-${Date.now().toString(36)}`,
    ...(o.thinkMs !== undefined ? { thinkMs: o.thinkMs } : {}),
  });
  const nemesis = new Nemesis({ peers: c.names, random: seededRandom(o.seed), ...timings(o.seconds), ...o.nemesis }, now());
  const timeline: { at: number; action: NemesisAction }[] = [];
  const driver = o.membership ? new MembershipDriver(c, initial, seededRandom(o.seed ^ 0x1b873593), (l) => log(`${stamp()} ${l}`)) : null;
  // A non-member that is not running is nothing to kill or revive: the nemesis sees it as up.
  const member = (name: string) => !driver || driver.members.has(name);

  // What the nemesis sees: who runs, who is paused, who leads (polled over /admin).
  let leader: string | null = null;
  const view = (): PeerView[] => c.names.map((name) => ({ name, alive: c.alive(name) || !member(name), paused: paused.has(name), leader: name === leader }));
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const up = c.names.filter((n) => c.alive(n) && !paused.has(n));
      const st = await Promise.all(up.map((n) => c.admin(n, { type: 'status' }, 500).catch(() => null)));
      let best: { peer: string; term: number } | null = null;
      for (const s of st) if (s && s.type === 'status' && s.role === 'leader' && (!best || s.term > best.term)) best = { peer: s.peer, term: s.term };
      leader = best?.peer ?? null;
      await sleepMs(200);
    }
  })();

  // The network faults wanted now; a peer that misses them (it was restarting) gets them later.
  let groups: string[][] | null = null;
  let lossy = { dropRate: 0, latencyMs: 0 };
  let version = 0;
  const wanted = (n: string) => ({ blocked: groups ? c.names.filter((x) => !groups!.find((g) => g.includes(n))?.includes(x)) : [], ...lossy });
  const applyFaults = async (n: string, v: number) => {
    const until = performance.now() + 5000;
    for (let first = true; ; first = false) {
      if (v !== version || !c.alive(n) || paused.has(n)) return;
      try {
        await c.faults(n, wanted(n));
        if (!first) log(`${stamp()}   (${n} took the faults once it was up)`);
        return;
      } catch (e) {
        if (first) log(`${stamp()}   (${n} did not take the faults yet: ${(e as Error).message}; retrying)`);
        if (performance.now() > until) return log(`${stamp()}   (${n} never took the faults)`);
        await sleepMs(100);
      }
    }
  };
  const background: Promise<void>[] = [];
  const applyAll = async () => {
    const v = ++version;
    await Promise.all(
      c.names
        .filter((n) => c.alive(n) && !paused.has(n))
        .map((n) => {
          const p = applyFaults(n, v);
          background.push(p);
          return Promise.race([p, sleepMs(1000)]);
        }),
    );
  };

  // With --netns the network faults are the kernel's: the rules live on the hosts, so a peer that
  // restarts or wakes up is under them at once.
  let cuts = 0;
  const kernelFaults = async (a: NemesisAction) => {
    const k = net!;
    if (a.type === 'partition') {
      k.heal();
      const single = a.groups.find((g) => g.length === 1);
      const kind = single ? (['both ways', 'incoming only', 'outgoing only'] as const)[cuts++ % 3] : null;
      if (single && kind === 'incoming only') k.cutIncoming(single[0]!);
      else if (single && kind === 'outgoing only') k.cutOutgoing(single[0]!);
      else k.partition(a.groups);
      if (kind) log(`${stamp()}   (kernel: ${single![0]} cut ${kind})`);
    } else if (a.type === 'lossy') {
      k.setLoss(Math.round(a.dropRate * 100));
      await k.setDelay(a.latencyMs, Math.floor(a.latencyMs / 2));
    } else if (a.type === 'heal') {
      k.heal();
      k.setLoss(0);
      await k.setDelay(0, 0);
    }
  };

  const execute = async (a: NemesisAction) => {
    timeline.push({ at: now(), action: a });
    log(`${stamp()} nemesis: ${describeAction(a)}`);
    if (net && (a.type === 'partition' || a.type === 'lossy' || a.type === 'heal')) return kernelFaults(a);
    switch (a.type) {
      case 'kill':
        if (a.peer === leader) leader = null;
        await c.kill(a.peer);
        paused.delete(a.peer);
        break;
      case 'restart':
        if (!c.alive(a.peer)) {
          c.start(a.peer, {}, { join: driver?.joins(a.peer) ?? false });
          if (groups || lossy.dropRate > 0 || lossy.latencyMs > 0) background.push(applyFaults(a.peer, version));
        }
        break;
      case 'partition':
        groups = a.groups;
        await applyAll();
        break;
      case 'lossy':
        lossy = { dropRate: a.dropRate, latencyMs: a.latencyMs };
        await applyAll();
        break;
      case 'heal':
        groups = null;
        lossy = { dropRate: 0, latencyMs: 0 };
        await applyAll();
        break;
      case 'pause':
        signal(c, a.peer, 'SIGSTOP');
        paused.add(a.peer);
        break;
      case 'resume':
        signal(c, a.peer, 'SIGCONT');
        paused.delete(a.peer);
        // It missed any fault change while it slept.
        background.push(applyFaults(a.peer, version));
        break;
    }
  };

  workload.start();
  driver?.start();
  try {
    const end = o.seconds * 1000;
    const every = (o.progressEvery ?? 5) * 1000;
    let nextProgress = every;
    let lastCount = 0;
    while (now() < end) {
      for (const a of nemesis.tick(now(), view())) await execute(a);
      if (now() >= nextProgress) {
        const ops = history.operations();
        const k = countOps(ops);
        const f = nemesis.current();
        const laws = sink?.monitor.status() ?? null;
        log(
          `${stamp()} ${k.total} ops (ok ${k.ok}, failed ${k.failed}, unknown ${k.unknown}), ${Math.round(((k.total - lastCount) * 1000) / every)}/s; leader ${leader ?? 'none'}; ${f ? `fault: ${f.kind}${f.peer ? ` ${f.peer}` : ''}` : 'no fault'}; monitor: ${laws ? `${laws.eventsChecked} events checked, ${laws.violationCount ? `${laws.violationCount} LAWS BROKEN` : 'laws hold'}` : 'not running'}`,
        );
        lastCount = k.total;
        nextProgress += every;
      }
      await sleepMs(50);
    }

    // Heal everything, let the clients finish, let the cluster settle.
    log(`${stamp()} stopping: healing every fault, waiting for the clients' last operations`);
    for (const a of nemesis.stop(view())) await execute(a);
    await driver?.stop();
    await workload.stop();
    polling = false;
    await poller;
    await Promise.all(background);
  } catch (e) {
    // Leave nothing running behind: the clients would go on against a cluster being torn down.
    workload.abort();
    polling = false;
    await driver?.stop();
    throw e;
  }
  // With membership changes: the members are what the most up-to-date log says; others stop.
  let members = c.names;
  if (driver) {
    members = latestMembers(c.config)?.members ?? [...driver.members];
    for (const n of c.names) if (!members.includes(n)) await c.kill(n);
    for (const n of members) if (!c.alive(n)) c.start(n, {}, { join: driver.joins(n) });
    log(`${stamp()} members at the end: ${members.join(', ')}`);
  }
  const settled = await settle(c, members, log, stamp);

  // One more read of every key, after everything: what unknown operations did is now visible.
  // (Not on a cluster that did not settle: every read would wait out its timeout.)
  if (settled) {
    const reader = new ClusterClient({ peers: c.peers.filter((p) => members.includes(p.name)), clientId: `final-${process.pid}-${Date.now().toString(36)}`, timeoutMs: 10_000 });
    for (const key of workload.keysUsed()) {
      const input = { f: 'get' as const };
      const op = history.invoke('final', key, input);
      history.complete(op, outcomeOf(await reader.command(commandOf(key, input))));
    }
    reader.close();
  }

  const replicas = await compareReplicas(c, members, settled);
  const ops = history.operations();
  const t1 = performance.now();
  const check = checkHistory(ops);
  const checkMs = performance.now() - t1;

  let historyFile: string | null = null;
  if (o.historyFile) {
    mkdirSync(dirname(o.historyFile), { recursive: true });
    saveHistory(o.historyFile, ops);
    historyFile = o.historyFile;
  }
  const monitor = sink?.report() ?? null;
  const failed = check.verdict !== 'linearizable' || !replicas.agree || (monitor?.violationCount ?? 0) > 0;
  const keep = (o.keep ?? false) || failed;
  await cleanup(keep);
  return {
    seed: o.seed,
    peers: o.peers,
    seconds: o.seconds,
    clients,
    operations: countOps(ops),
    nemesis: { ...nemesis.counts },
    timeline,
    replicas,
    check,
    checkMs,
    monitor,
    history: ops,
    historyFile,
    dir: keep ? c.dir : null,
    membership: driver ? { ...driver.counts, members } : null,
  };
}

/** Waits for one leader, and every peer to have applied everything the leader committed. */
async function settle(c: TestCluster, members: string[], log: (line: string) => void, stamp: () => string): Promise<boolean> {
  try {
    await c.waitForLeader({ among: members, timeoutMs: 30_000 });
    // A write through the new leader makes its commit index cover every earlier entry.
    await c.write(['__chaos_settle', 'add', 1], { among: members, timeoutMs: 20_000 });
    await waitFor(
      'every peer to apply the whole log',
      async () => {
        const st = await c.statuses(members);
        if (st.length !== members.length) return false;
        const commit = Math.max(...st.map((s) => s.commitIndex));
        return st.every((s) => s.appliedIndex === commit && s.commitIndex === commit);
      },
      30_000,
      100,
    );
    log(`${stamp()} settled: one leader, every peer applied the whole log`);
    return true;
  } catch (e) {
    log(`${stamp()} the cluster did not settle: ${(e as Error).message}`);
    return false;
  }
}

async function compareReplicas(c: TestCluster, members: string[], settled: boolean): Promise<ChaosReport['replicas']> {
  if (!settled) return { agree: false, keys: 0, detail: 'the cluster did not settle, so the replicas could not be compared' };
  const st = await c.statuses(members, true);
  if (st.length !== members.length) return { agree: false, keys: 0, detail: `only ${st.length} of ${members.length} peers answered` };
  const stores = st.map((s) => ({ peer: s.peer, kv: s.kv ?? {}, text: canonical(s.kv ?? {}) }));
  const first = stores[0]!;
  const keys = Object.keys(first.kv).length;
  const differ = stores.filter((s) => s.text !== first.text);
  if (differ.length === 0) return { agree: true, keys, detail: `all ${stores.length} peers hold the same ${keys} keys` };
  const d = differ[0]!;
  const diffKeys = [...new Set([...Object.keys(first.kv), ...Object.keys(d.kv)])].filter((k) => canonical(first.kv[k]) !== canonical(d.kv[k]));
  return {
    agree: false,
    keys,
    detail: `${d.peer} differs from ${first.peer} on ${diffKeys.length} keys, e.g. ${diffKeys
      .slice(0, 3)
      .map((k) => `${k}: ${canonical(first.kv[k])} vs ${canonical(d.kv[k])}`)
      .join('; ')}`,
  };
}

export function countOps(ops: readonly Operation[]): OperationCounts {
  const k: OperationCounts = { total: ops.length, ok: 0, failed: 0, unknown: 0, byCommand: {}, byError: {} };
  for (const op of ops) {
    const t = op.outcome.type;
    if (t === 'ok') k.ok++;
    else if (t === 'fail') k.failed++;
    else k.unknown++;
    const name = t === 'fail' ? 'failed' : t;
    const by = (k.byCommand[op.input.f] ??= {});
    by[name] = (by[name] ?? 0) + 1;
    if (op.outcome.type !== 'ok') k.byError[op.outcome.error] = (k.byError[op.outcome.error] ?? 0) + 1;
  }
  return k;
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
