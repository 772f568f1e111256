// The safety monitor over the real peers' -v events: a cluster of real processes reports to an
// in-process relay that parses every event with the relay's parser and runs createMonitor over it
// as it arrives. Writes, a leader killed
// (SIGKILL) and restarted, a follower restarted: no law broken, nobody left blind once the
// restarts' resyncs are in, and most events checked. Then the same run's data directories:
// one wiped with its DATA_ID removed too (a reset on purpose) raises nothing; one wiped with its
// DATA_ID kept (the peer comes back empty under the same id) is caught as lost durable writes.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMonitor, type Monitor } from '../../game/relay/monitor/monitor.ts';
import { parsePeerEvent } from '../../game/relay/validate.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { DATA_ID_FILE, WAL_FILE } from '../../peer/storage.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

type Of<T extends PeerEvent['type']> = Extract<PeerEvent, { type: T }>;

let c: TestCluster;
let relay: FakeRelay;
let monitor: Monitor;
const violations: Violation[] = [];
/** Events the relay's own parser refused, with why (there should be none). */
const refused: string[] = [];
/** The peer whose directory the second test resets. */
let resetPeer = '';

const of = <T extends PeerEvent['type']>(type: T, peer?: string): Of<T>[] =>
  relay.events.filter((e): e is Of<T> => e.type === type && (peer === undefined || e.peer === peer));
const hellos = (peer: string) => of('hello', peer);
/** A peer's durable writes as reported: `persisted`, or a `log_append` carrying its write. */
type Ack = { w: number; lastIndex: number; seq: number | undefined; type: string };
const acks = (peer?: string): Ack[] =>
  relay.events.flatMap((e): Ack[] => {
    if (peer !== undefined && e.peer !== peer) return [];
    if (e.type === 'persisted') return [{ w: e.w, lastIndex: e.lastIndex, seq: e.seq, type: e.type }];
    if (e.type === 'log_append' && e.durable) return [{ w: e.durable.w, lastIndex: e.entries.at(-1)!.index, seq: e.seq, type: e.type }];
    return [];
  });
const describeViolations = () => violations.map((v) => `${v.law}: ${v.message}`).join('\n');

/** Writes `x add 1` n times through the leader; returns the last index. */
async function writes(n: number, among?: string[]): Promise<number> {
  let index = 0;
  for (let i = 0; i < n; i++) {
    const r = await c.write(['x', 'add', 1], { among });
    expect(r).toMatchObject({ ok: true });
    index = (r as { index: number }).index;
  }
  return index;
}

/** Waits until every running peer reported applying `index`, and the monitor is blind for none. */
async function settled(index: number): Promise<void> {
  const running = c.names.filter((n) => c.alive(n));
  await waitFor(`every peer to apply ${index} and the monitor to see them all`, () => {
    const applied = running.every((n) => of('apply', n).some((e) => e.entries.some((a) => a.index >= index)));
    return applied && monitor.status().blind.length === 0;
  }, 30_000);
}

/** A new process of `name` said hello (after `before` hellos of it) and its resync came. */
async function helloAgain(name: string, before: number): Promise<Of<'hello'>> {
  const hello = await waitFor(`a new hello from ${name}`, () => hellos(name)[before], 30_000);
  await waitFor(`the resync of ${name} after its hello`, () => relay.events.slice(relay.events.indexOf(hello)).some((e) => e.type === 'resync' && e.peer === name), 30_000);
  return hello;
}

beforeAll(async () => {
  c = await startCluster({ peers: 3, verbose: true, start: false });
  relay = await FakeRelay.start(c.relayPort);
  monitor = createMonitor();
  // As the relay does: its parser first, then the monitor.
  relay.onPeerEvent = (e) => {
    const parsed = parsePeerEvent(e);
    if (parsed.ok) violations.push(...monitor.observe(parsed.value));
    else refused.push(`${e.type} from ${e.peer}: ${parsed.message}`);
  };
  c.startAll();
});

afterAll(async () => {
  await c?.teardown();
  await relay?.close();
});

describe('the safety monitor over real peers', () => {
  it('sees no law broken through writes, a leader killed and restarted and a follower restarted, and ends blind for nobody', async () => {
    const first = await c.waitForLeader();
    await writes(15);
    const dataIds = new Map(c.names.map((n) => [n, hellos(n)[0]!.dataId]));
    for (const n of c.names) {
      expect(hellos(n)[0]).toMatchObject({ boot: expect.stringMatching(/^[0-9a-f]{12}$/), dataId: expect.stringMatching(/^[0-9a-f]{12}$/), recovered: { w: 0, lastIndex: 0 } });
    }

    // The leader dies mid-run (SIGKILL); the others elect a new one and go on.
    const lastPersisted = acks(first).at(-1)!;
    await c.kill(first);
    const others = c.names.filter((n) => n !== first);
    const second = await c.waitForLeader({ among: others });
    await writes(10, others);
    c.start(first);
    const back = await helloAgain(first, 1);
    // The same directory, a new lifetime, every durable write back.
    expect(back.dataId).toBe(dataIds.get(first));
    expect(back.boot).not.toBe(hellos(first)[0]!.boot);
    expect(back.recovered!.w).toBeGreaterThanOrEqual(lastPersisted.w);
    expect(back.recovered!.lastIndex).toBeGreaterThanOrEqual(lastPersisted.lastIndex);
    await writes(10);

    // A follower restarts.
    const follower = c.names.find((n) => n !== second && n !== first)!;
    await c.kill(follower);
    await writes(5, c.names.filter((n) => n !== follower));
    c.start(follower);
    await helloAgain(follower, 1);
    const last = await writes(5);
    await settled(last);

    const st = monitor.status();
    expect(refused).toEqual([]);
    expect(st.violationCount, describeViolations()).toBe(0);
    expect(st.blind).toEqual([]);
    // Every event numbered; most took part in a check that could have failed.
    expect(relay.events.every((e) => typeof e.seq === 'number')).toBe(true);
    expect(st.eventsSeen).toBe(relay.events.length);
    expect(st.eventsChecked).toBeGreaterThan(st.eventsSeen * 0.3);
    // A catch-up is a resync, never a truncation: only real conflicts truncate, in a later term.
    for (const t of of('log_truncate')) expect(t.term).toBeGreaterThan(0);
    console.log(
      `monitor over real peers: ${st.eventsSeen} events, ${st.eventsChecked} checked (${Math.round((100 * st.eventsChecked) / st.eventsSeen)}%), ` +
        `${acks().length} durable writes acknowledged (${of('persisted').length} as persisted), ${of('resync').length} resync, ${of('log_truncate').length} log_truncate, last index ${last}`,
    );
  });

  it('raises nothing when a peer comes back from a directory reset on purpose (its data id removed with its log)', async () => {
    const leader = await c.waitForLeader();
    const reset = c.names.find((n) => n !== leader)!;
    resetPeer = reset;
    const before = hellos(reset).length;
    const oldId = hellos(reset).at(-1)!.dataId;
    await c.kill(reset);
    const dir = join(c.config.dataDir, reset);
    rmSync(join(dir, WAL_FILE));
    rmSync(join(dir, DATA_ID_FILE));
    c.start(reset);
    const hello = await helloAgain(reset, before);
    expect(hello.dataId).not.toBe(oldId);
    expect(hello.recovered).toMatchObject({ w: 0, term: 0, vote: null, lastIndex: 0 });
    await settled(await writes(3));
    expect(monitor.status().violationCount, describeViolations()).toBe(0);
  });

  it('catches a peer that comes back empty under the same data id: its acknowledged writes are lost', async () => {
    const leader = await c.waitForLeader();
    // One with a history: not the peer reset just before, if the leader is another.
    const victim = c.names.find((n) => n !== leader && n !== resetPeer) ?? c.names.find((n) => n !== leader)!;
    const before = hellos(victim).length;
    const acked = acks(victim).at(-1)!;
    await c.kill(victim);
    rmSync(join(c.config.dataDir, victim, WAL_FILE)); // DATA_ID stays: the directory claims to be the same
    c.start(victim);
    const hello = await helloAgain(victim, before);
    expect(hello.dataId).toBe(hellos(victim)[before - 1]!.dataId);
    expect(hello.recovered).toMatchObject({ w: 0, lastIndex: 0 });
    const lost = await waitFor('the monitor to report the lost writes', () => violations.find((v) => v.law === 'durable_log'), 10_000);
    expect(lost.peers).toEqual([victim]);
    expect(lost.message).toBe(`${victim} reported write #${acked.w} durable before it restarted, but recovered only through write #0.`);
    expect(lost.evidence.map((e) => [e.peer, e.type, e.seq])).toEqual([
      [victim, acked.type, acked.seq],
      [victim, 'hello', hello.seq],
    ]);
    // Whatever else it breaks, it is this peer's doing (its term and vote went back with its log).
    for (const v of violations) {
      expect(['durable_log', 'term_never_decreases', 'one_vote_per_term']).toContain(v.law);
      expect(v.peers[0]).toBe(victim);
    }
    console.log(`planted: ${violations.map((v) => `${v.law}: ${v.message}`).join(' | ')}`);
  });
});
