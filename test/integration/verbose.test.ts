// Peers started with -v: their events reach a relay (a fake one here) and tell the truth
// about what they did: a send and its receive carry the same rid, appends, commits and
// applies follow a write, and a relay that comes late or restarts is caught up.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PeerEvent } from '../../shared/events.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let c: TestCluster;
let relay: FakeRelay | null = null;

type Of<T extends PeerEvent['type']> = Extract<PeerEvent, { type: T }>;
const of = <T extends PeerEvent['type']>(r: FakeRelay, type: T, peer?: string): Of<T>[] =>
  r.events.filter((e): e is Of<T> => e.type === type && (peer === undefined || e.peer === peer));

beforeAll(async () => {
  // The relay is not up yet: the peers must work without it.
  c = await startCluster({ peers: 3, verbose: true });
});

afterAll(async () => {
  await c?.teardown();
  await relay?.close();
});

describe('peers started with -v', () => {
  it('keep working while the relay is down', async () => {
    await c.waitForLeader();
    expect(await c.write(['x', 'set', 1])).toMatchObject({ ok: true });
  });

  it('say hello to a relay that comes up later, with their state and their log so far', async () => {
    relay = await FakeRelay.start(c.relayPort);
    const r = relay;
    for (const name of c.names) {
      const hello = (await r.waitForEvent((e) => e.type === 'hello' && e.peer === name, `hello from ${name}`)) as Of<'hello'>;
      expect(hello.cluster).toEqual(c.names);
      expect(hello.pid).toBe(c.pid(name));
      expect(hello.profile).toBe('fast');
      expect(hello.timing.heartbeatMs).toBe(50);
    }
    const leader = await c.waitForLeader();
    await waitFor('a state from every peer', () => c.names.every((n) => of(r, 'state', n).length > 0));
    await waitFor('a resync from every peer', () => c.names.every((n) => of(r, 'resync', n).length > 0));
    for (const n of c.names) {
      const events = r.events.filter((e) => e.peer === n);
      expect(events[0]!.type).toBe('hello');
      // The catch-up follows: a resync (the full state and the log's tail), the faults, and a
      // state (a newer state sent in the same frame replaces it, so it may come a little later).
      expect(events.slice(1, 4).map((e) => e.type)).toEqual(expect.arrayContaining(['resync', 'faults']));
      const tiles = of(r, 'resync', n)[0]!.tail;
      expect(tiles.map((t) => t.label)).toContain('x set 1');
      expect(tiles[0]).toMatchObject({ index: 1, label: 'noop', ph: expect.any(Number) });
      // No log_truncate: a catch-up is not a truncation.
      expect(events.slice(0, 4).some((e) => e.type === 'log_truncate')).toBe(false);
    }
    const st = of(r, 'state', leader).at(-1)!;
    expect(st).toMatchObject({ role: 'leader', leader, electionDeadline: null });
    expect(r.garbage).toEqual([]);
    // The real relay takes events only from members of the cluster.
    expect(r.connections.length).toBeGreaterThanOrEqual(3);
    expect(r.connections.every((x) => x.path === '/peer' && x.secret === c.config.secret)).toBe(true);
  });

  it('pair every send with its receive by rid, and report appends, commits and applies of a write', async () => {
    const r = relay!;
    const leader = await c.waitForLeader();
    const from = r.events.length;
    const w = await c.write(['x', 'add', 41]);
    expect(w).toMatchObject({ ok: true, value: 42 });
    const index = (w as { index: number }).index;
    await waitFor('every peer to report the apply', () =>
      c.names.every((n) => r.events.some((e) => e.type === 'apply' && e.peer === n && e.entries.some((a) => a.index === index))),
    );
    const fresh = r.events.slice(from);
    const sends = fresh.filter((e): e is Of<'rpc_send'> => e.type === 'rpc_send' && e.peer === leader && e.rpc === 'append_entries' && e.entries > 0);
    expect(sends.length).toBeGreaterThan(0);
    for (const s of sends) {
      expect(s.rid.startsWith(`${leader}:`)).toBe(true);
      const recv = await waitFor(`the receive of ${s.rid}`, () => r.events.find((e) => e.type === 'rpc_recv' && e.rid === s.rid) as Of<'rpc_recv'> | undefined);
      expect(recv).toMatchObject({ peer: s.to, from: leader, rpc: 'append_entries', entries: s.entries, heartbeat: false });
    }
    // Heartbeats are reported as such, and their replies come back under their own rids.
    const hb = await waitFor('a heartbeat', () => r.events.slice(from).find((e): e is Of<'rpc_send'> => e.type === 'rpc_send' && e.heartbeat && e.rpc === 'append_entries'));
    await waitFor('the heartbeat to land', () => r.events.some((e) => e.type === 'rpc_recv' && e.rid === hb.rid));

    for (const n of c.names) {
      expect(fresh.some((e) => e.type === 'log_append' && e.peer === n && e.entries.some((t) => t.index === index && t.label === 'x add 41'))).toBe(true);
      const apply = fresh.find((e): e is Of<'apply'> => e.type === 'apply' && e.peer === n && e.entries.some((a) => a.index === index))!;
      expect(apply.entries.find((a) => a.index === index)).toMatchObject({ command: ['x', 'add', '41'], ok: true, result: 42, key: 'x', value: 42 });
      await waitFor(`${n} to report the commit`, () => r.events.some((e) => e.type === 'commit' && e.peer === n && e.index >= index));
    }
  });

  it('report injected faults and the messages they drop', async () => {
    const r = relay!;
    const leader = await c.waitForLeader();
    const victim = c.names.find((n) => n !== leader)!;
    await c.faults(leader, { blocked: [victim] });
    await r.waitForEvent((e) => e.type === 'faults' && e.peer === leader && e.blocked.includes(victim), 'the faults event');
    const drop = (await r.waitForEvent(
      (e) => e.type === 'rpc_drop' && e.peer === leader && e.to === victim && e.reason === 'blocked',
      'a blocked message',
    )) as Of<'rpc_drop'>;
    expect(r.events.some((e) => e.type === 'rpc_send' && e.rid === drop.rid)).toBe(false);
    await c.heal();
    await c.waitForLeader();
  });

  it('deliver messages only after the injected latency, and report the landing when it happens', async () => {
    const r = relay!;
    const leader = await c.waitForLeader();
    const slow = c.names.find((n) => n !== leader)!;
    await c.faults(slow, { latencyMs: 300 });
    const from = r.events.length;
    const recv = (await waitFor('a delayed delivery', () =>
      r.events.slice(from).find((e) => e.type === 'rpc_recv' && e.peer === slow && r.events.slice(from).some((s) => s.type === 'rpc_send' && s.rid === e.rid)),
    )) as Of<'rpc_recv'>;
    const send = r.events.find((e) => e.type === 'rpc_send' && e.rid === recv.rid)!;
    expect(recv.t - send.t).toBeGreaterThanOrEqual(290);
    await c.heal();
  });

  it('catch a restarted relay up without any help', async () => {
    await relay!.close();
    relay = await FakeRelay.start(c.relayPort);
    const r = relay;
    for (const n of c.names) await r.waitForEvent((e) => e.type === 'hello' && e.peer === n, `hello again from ${n}`);
    await waitFor('state and log tiles from every peer', () =>
      c.names.every((n) => of(r, 'state', n).length > 0 && of(r, 'resync', n).some((e) => e.tail.some((t) => t.label === 'x add 41'))),
    );
  });
});
