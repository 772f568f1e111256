// Five villagers on five hosts of their own (Linux network namespaces joined by a bridge, the
// relay on a sixth, a router with a delaying hop), in the lan profile, with the faults made by the
// kernel: loss and duplication (nftables), delay and reordering (the hop), one-way cuts of the
// leader per connection direction (conntrack), a partition, and the relay's host crashing. A
// workload runs through the client contract the whole time; its history must be linearizable.
//
// Needs root (CI runs as root); without it beforeAll fails with what to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../game/relay/monster.ts';
import { ClusterClient } from '../../shared/client.ts';
import type { CommandResult } from '../../shared/client-protocol.ts';
import { timingOf } from '../../shared/config.ts';
import { checkHistory, canonical, formatCounterexample, originOf } from '../chaos/checker.ts';
import { commandOf, HistoryRecorder, outcomeOf } from '../chaos/history.ts';
import { Workload } from '../chaos/workload.ts';
import { sleep, waitFor } from '../support/cluster.ts';
import { startNetnsVillage, type NetnsVillage } from '../support/netns-cluster.ts';

const PEERS = 5;
let v: NetnsVillage;
let history: HistoryRecorder;
let workload: Workload;
let electionMaxMs = 0;

/** The log index a successful command_result names. */
function indexOf(r: CommandResult): number {
  if (!r.ok) throw new Error(`expected a successful command, got ${JSON.stringify(r)}`);
  return r.index;
}

/** Completed (ok) operations so far. */
function okCount(): number {
  return history.operations().filter((op) => op.outcome.type === 'ok').length;
}

/** Waits until the workload completes `n` more operations, or fails after `timeoutMs`. */
async function progress(n: number, timeoutMs: number, what: string): Promise<void> {
  const start = okCount();
  await waitFor(`${n} more completed operations ${what}`, () => okCount() >= start + n, timeoutMs, 100);
}

/** The leader all running peers agree on, with its term. */
async function leaderAndTerm(among?: string[]): Promise<{ leader: string; term: number }> {
  const leader = await v.cluster.waitForLeader({ timeoutMs: 30_000, ...(among ? { among } : {}) });
  const s = await v.cluster.status(leader);
  return { leader, term: s.term };
}

/**
 * After a one-way cut of `old` (the leader of `term`): a different peer leads a later term and
 * commits a write, within a few election timeouts.
 */
async function newWorkingLeader(old: string, term: number): Promise<{ leader: string; ms: number }> {
  const t0 = performance.now();
  const others = v.cluster.names.filter((n) => n !== old);
  const leader = await waitFor(
    `a new leader among ${others.join(', ')} after cutting ${old}`,
    async () => {
      const st = await v.cluster.statuses(others);
      const l = st.find((s) => s.role === 'leader' && s.term > term);
      return l && st.filter((s) => s.leader === l.peer && s.term === l.term).length >= 3 ? l.peer : undefined;
    },
    6 * electionMaxMs,
    100,
  );
  const r = await v.cluster.write(['netns-probe', 'add', 1], { among: others, timeoutMs: 6 * electionMaxMs });
  expect(r.ok).toBe(true);
  return { leader, ms: performance.now() - t0 };
}

beforeAll(async () => {
  v = await startNetnsVillage({ peers: PEERS, relay: true, router: true });
  electionMaxMs = timingOf(v.cluster.config, 'lan').electionMaxMs;
  await v.startRelay();
  await v.cluster.waitForLeader({ timeoutMs: 30_000 });
  history = new HistoryRecorder(() => performance.now());
  workload = new Workload({
    peers: v.cluster.peers,
    clients: 4,
    keys: 3,
    opsPerKey: 200,
    random: seededRandom(14),
    history,
    timeoutMs: 4 * electionMaxMs,
    runId: `netns-${process.pid}-${Date.now().toString(36)}`,
    thinkMs: 10,
  });
  workload.start();
}, 90_000);

afterAll(async () => {
  workload?.abort();
  await v?.teardown();
}, 30_000);

describe('a village on five hosts of its own (network namespaces, lan profile)', () => {
  it('runs each peer on its own host, bound to the address the ini gives it', async () => {
    for (const p of v.cluster.peers) {
      expect(p.host.startsWith(`${v.net.subnet}.`)).toBe(true);
      const pid = v.cluster.pid(p.name)!;
      expect(v.net.pids(p.name)).toContain(pid);
    }
    await progress(20, 20_000, 'with no fault');
  }, 60_000);

  it('keeps committing while the kernel loses 10% of the packets and duplicates 5%', async () => {
    v.net.setLoss(10);
    v.net.setDuplication(5);
    try {
      await sleep(6000);
      await progress(40, 40_000, 'under 10% loss and 5% duplication');
      // The kernel really dropped and duplicated packets of every peer host.
      for (const p of v.cluster.names) {
        const c = v.net.wireCounters(p);
        expect(c.dropped, p).toBeGreaterThan(0);
        expect(c.duplicated, p).toBeGreaterThan(0);
      }
    } finally {
      v.net.setLoss(0);
      v.net.setDuplication(0);
    }
  }, 60_000);

  it('keeps committing while every peer-to-peer chunk waits 50±20 ms in the router', async () => {
    await v.net.setDelay(50, 20);
    await v.net.hopStats(); // from here on: chunks that all got the delay
    try {
      await sleep(6000);
      await progress(40, 40_000, 'under 50±20 ms of delay');
      const s = await v.net.hopStats();
      expect(s.chunks).toBeGreaterThan(100);
      expect(s.minMs).toBeGreaterThanOrEqual(29);
      expect(s.meanMs).toBeGreaterThanOrEqual(45);
      // Messages on different connections overtook each other: reordering.
      expect(s.overtook).toBeGreaterThan(0);
    } finally {
      await v.net.setDelay(0, 0);
    }
  }, 60_000);

  it('elects a working leader within a few election timeouts when the leader can send but not receive', async () => {
    const { leader, term } = await leaderAndTerm();
    v.net.cutIncoming(leader);
    try {
      const r = await newWorkingLeader(leader, term);
      expect(r.leader).not.toBe(leader);
      expect(r.ms).toBeLessThan(6 * electionMaxMs);
    } finally {
      v.net.heal();
    }
    await v.cluster.waitForLeader({ timeoutMs: 30_000 });
  }, 60_000);

  it('elects a working leader within a few election timeouts when the leader can receive but not send', async () => {
    const { leader, term } = await leaderAndTerm();
    v.net.cutOutgoing(leader);
    try {
      const r = await newWorkingLeader(leader, term);
      expect(r.leader).not.toBe(leader);
    } finally {
      v.net.heal();
    }
    await v.cluster.waitForLeader({ timeoutMs: 30_000 });
  }, 60_000);

  it('goes on in the majority of a partition, and the minority catches up once it heals', async () => {
    const { leader } = await leaderAndTerm();
    const minority = [leader, v.cluster.names.find((n) => n !== leader)!];
    const majority = v.cluster.names.filter((n) => !minority.includes(n));
    v.net.partition([minority, majority]);
    try {
      await v.cluster.waitForLeader({ among: majority, timeoutMs: 6 * electionMaxMs });
      await progress(20, 30_000, 'in the majority of a partition');
    } finally {
      v.net.heal();
    }
    const commit = indexOf(await v.cluster.write(['netns-probe', 'add', 1], { timeoutMs: 20_000 }));
    await waitFor(
      'every peer to apply through the write after the heal',
      async () => (await v.cluster.statuses(v.cluster.names)).filter((s) => s.appliedIndex >= commit).length === PEERS,
      30_000,
      200,
    );
  }, 90_000);

  it('catches a follower up whose cable was pulled (link down) once it is back', async () => {
    const { leader } = await leaderAndTerm();
    const follower = v.cluster.names.find((n) => n !== leader)!;
    v.net.linkDown(follower);
    try {
      await progress(20, 30_000, `with ${follower}'s link down`);
    } finally {
      v.net.linkUp(follower);
    }
    const commit = indexOf(await v.cluster.write(['netns-probe', 'add', 1], { timeoutMs: 20_000 }));
    await waitFor(`${follower} to apply through ${commit}`, async () => (await v.cluster.status(follower)).appliedIndex >= commit, 30_000, 200);
  }, 90_000);

  it('loses no peer data when the relay host crashes, and the peers report again when it is back', async () => {
    const before = okCount();
    const killed = v.net.crash('relay');
    expect(killed.length).toBeGreaterThan(0);
    v.net.linkDown('relay');
    await progress(20, 30_000, 'with the relay host down');
    v.net.linkUp('relay');
    await v.startRelay();
    const picture = `http://${v.relayAddress}:${v.relayPort}/api/picture`;
    await waitFor(
      'every peer reporting to the restarted relay',
      async () => {
        const res = await fetch(picture);
        const p = (await res.json()) as { picture: { peers: { name: string; reporting: boolean }[] } };
        return p.picture.peers.filter((x) => x.reporting).length === PEERS;
      },
      30_000,
      250,
    );
    expect(okCount()).toBeGreaterThan(before);
  }, 90_000);

  it('records a linearizable history, and every replica holds the same store', async () => {
    await workload.stop();
    await v.cluster.waitForLeader({ timeoutMs: 30_000 });
    const settle = await v.cluster.write(['netns-settle', 'add', 1], { timeoutMs: 20_000 });
    await waitFor(
      'every peer to apply the whole log',
      async () => {
        const st = await v.cluster.statuses(v.cluster.names);
        return st.length === PEERS && st.every((s) => s.appliedIndex >= indexOf(settle));
      },
      30_000,
      200,
    );
    const reader = new ClusterClient({ peers: v.cluster.peers, clientId: `final-${process.pid}`, timeoutMs: 10_000 });
    for (const key of workload.keysUsed()) {
      const op = history.invoke('final', key, { f: 'get' });
      history.complete(op, outcomeOf(await reader.command(commandOf(key, { f: 'get' }))));
    }
    reader.close();
    const ops = history.operations();
    const result = checkHistory(ops);
    const bad = result.keys.find((k) => k.counterexample);
    expect(result.verdict, bad?.counterexample ? formatCounterexample(bad.counterexample, originOf(ops)) : '').toBe('linearizable');
    expect(ops.filter((op) => op.outcome.type === 'ok').length).toBeGreaterThan(150);
    const stores = (await v.cluster.statuses(v.cluster.names, true)).map((s) => canonical(s.kv ?? {}));
    expect(stores).toHaveLength(PEERS);
    expect(new Set(stores).size).toBe(1);
  }, 120_000);
});

