import { describe, expect, it } from 'vitest';
import type { PeerEvent, RpcKind } from '../../shared/events.ts';
import { emptyPeerView, type Delta, type PeerView, type VillagePicture } from '../../shared/village.ts';
import { FLIGHT_LINGER_MS, FLIGHT_TIMEOUT_MS, MAX_CONSOLE_LINES, MAX_FLIGHTS, VillageModel } from '../../game/src/model.ts';

const T0 = 1_700_000_000_000;

function peer(name: string, over: Partial<PeerView> = {}): PeerView {
  return { ...emptyPeerView(name), process: 'up', pid: 100, reporting: true, term: 1, ...over };
}

function picture(over: Partial<VillagePicture> = {}): VillagePicture {
  return {
    peers: [peer('peer1'), peer('peer2'), peer('peer3')],
    kv: {},
    attacks: false,
    nextAttackAt: null,
    reviveAfterS: 15,
    timing: { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 },
    profile: 'fast',
    counters: { elections: 0, messages: 0, droppedEvents: 0 },
    launcher: true,
    ...over,
  };
}

/** A model that got a snapshot at relay time T0, received at local time T0 (no offset). */
function villageWith(over: Partial<VillagePicture> = {}): VillageModel {
  const m = new VillageModel();
  m.setConnection('open', T0);
  m.receive({ type: 'snapshot', now: T0, picture: picture(over) }, T0);
  return m;
}

function batch(m: VillageModel, deltas: Delta[], now = T0, localNow = now): void {
  m.receive({ type: 'batch', now, deltas }, localNow);
}

function rpc(type: 'rpc_send' | 'rpc_recv' | 'rpc_drop', from: string, to: string, rid: string, kind: RpcKind = 'append_entries', extra: object = {}): Delta {
  const base = { t: T0, rid, rpc: kind, term: 1, heartbeat: false, entries: 1 };
  let event: PeerEvent;
  if (type === 'rpc_send') event = { ...base, type, peer: from, to, ...extra } as PeerEvent;
  else if (type === 'rpc_recv') event = { ...base, type, peer: to, from, ...extra } as PeerEvent;
  else event = { ...base, type, peer: from, to, reason: 'dropped', ...extra } as PeerEvent;
  return { type: 'event', event };
}

describe('snapshot and peer deltas', () => {
  it('a snapshot replaces the whole picture, peers in the relay order', () => {
    const m = villageWith({ kv: { x: 1 }, attacks: true, counters: { elections: 2, messages: 9, droppedEvents: 1 } });
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'peer1:1')]);
    m.receive({ type: 'snapshot', now: T0, picture: picture({ peers: [peer('b'), peer('a')], kv: { y: 2 }, attacks: false, launcher: false }) }, T0);
    expect(m.names()).toEqual(['b', 'a']);
    expect(m.kv).toEqual({ y: 2 });
    expect(m.attacks).toBe(false);
    expect(m.launcher).toBe(false);
    expect(m.flights.size).toBe(0);
    expect(m.hasPicture).toBe(true);
  });

  it('a peer delta replaces that peer and keeps the others', () => {
    const m = villageWith();
    batch(m, [{ type: 'peer', peer: peer('peer2', { role: 'leader', term: 3, commitIndex: 4, log: [{ index: 2, term: 3, label: 'x add 1' }, { index: 1, term: 1, label: 'noop' }] }) }]);
    const p2 = m.peers.get('peer2')!;
    expect(p2.role).toBe('leader');
    expect(p2.term).toBe(3);
    expect(p2.log.map((t) => t.index)).toEqual([1, 2]);
    expect(m.peers.get('peer1')!.role).toBe('follower');
    expect(m.names()).toEqual(['peer1', 'peer2', 'peer3']);
  });

  it('the election deadline becomes local time, and the ring drains with the local clock', () => {
    const m = new VillageModel();
    m.setConnection('open', T0);
    // The browser's clock is 10 s ahead of the relay's.
    const skew = 10_000;
    m.receive({ type: 'snapshot', now: T0, picture: picture({ peers: [peer('peer1', { electionDeadline: T0 + 600 })] }) }, T0 + skew);
    const p = m.peers.get('peer1')!;
    expect(p.deadlineLocal).toBe(T0 + skew + 600);
    expect(m.timerLeft(p, T0 + skew)).toBeCloseTo(1);
    expect(m.timerLeft(p, T0 + skew + 300)).toBeCloseTo(0.5);
    expect(m.timerLeft(p, T0 + skew + 900)).toBe(0);
  });

  it('a leader, a dead peer and an unreachable peer have no election timer', () => {
    const m = villageWith({
      peers: [
        peer('peer1', { role: 'leader', electionDeadline: null }),
        peer('peer2', { process: 'down', electionDeadline: T0 + 500 }),
        peer('peer3', { reporting: false, electionDeadline: T0 + 500 }),
      ],
    });
    for (const p of m.peers.values()) expect(m.timerLeft(p, T0)).toBeNull();
  });

  it('the clock offset follows the fastest frame, not one that was held up on the way', () => {
    const m = villageWith();
    expect(m.clockOffset).toBe(0);
    batch(m, [], T0 + 1000, T0 + 1800); // this frame spent 800 ms on the way
    expect(m.clockOffset!).toBeLessThan(20);
    batch(m, [], T0 + 2000, T0 + 1990); // the browser's clock is really 10 ms behind
    expect(m.clockOffset).toBe(-10);
  });

  it('console lines keep the time of day through a pause, while the model runs on village time that stood still', () => {
    const m = villageWith();
    // Paused for two minutes: village time stands at T0, the wall clock and the relay go on.
    const later = T0 + 120_000;
    m.receive({ type: 'batch', now: later, deltas: [{ type: 'console', line: 'a visitor resumed the village', level: 'event', at: later }] }, T0, later);
    expect(m.console.at(-1)).toMatchObject({ text: 'a visitor resumed the village', at: later });
    expect(m.toWall(later)).toBe(later);
    // The model's own time is village time: a peer's deadline 300 ms on is 300 ms after village now.
    expect(m.toLocal(later + 300)).toBe(T0 + 300);
  });
});

describe('what a villager looks like', () => {
  it('by role, and grave or unreachable above all', () => {
    const m = villageWith({
      peers: [
        peer('a', { role: 'leader' }),
        peer('b', { role: 'candidate' }),
        peer('c', { role: 'precandidate' }),
        peer('d', { role: 'follower' }),
        peer('e', { role: 'leader', process: 'down' }),
        peer('f', { role: 'leader', reporting: false }),
      ],
    });
    expect([...m.peers.values()].map((p) => m.lookOf(p))).toEqual(['leader', 'candidate', 'precandidate', 'follower', 'grave', 'unreachable']);
  });

  it('everyone alive is unreachable while the relay is away; graves stay graves', () => {
    const m = villageWith({ peers: [peer('a', { role: 'leader' }), peer('b', { process: 'down' })] });
    m.setConnection('closed', T0 + 1, { error: 'gone', retryAt: T0 + 500 });
    expect(m.lookOf(m.peers.get('a')!)).toBe('unreachable');
    expect(m.lookOf(m.peers.get('b')!)).toBe('grave');
    expect(m.leader()).toBeNull();
  });

  it('the leader is the living leader with the highest term', () => {
    const m = villageWith({
      peers: [peer('a', { role: 'leader', term: 2 }), peer('b', { role: 'leader', term: 3 }), peer('c', { role: 'leader', term: 9, process: 'down' })],
    });
    expect(m.leader()!.name).toBe('b');
    expect(m.term()).toBe(9);
  });

  it('status numbers: commit index from the leader, live peers are up and reporting', () => {
    const m = villageWith({
      peers: [peer('a', { role: 'leader', commitIndex: 5 }), peer('b', { commitIndex: 7, lastIndex: 9 }), peer('c', { process: 'down' }), peer('d', { reporting: false })],
    });
    expect(m.commitIndex()).toBe(5);
    expect(m.liveCount()).toBe(2);
    expect(m.maxIndex()).toBe(9);
  });
});

describe('logs', () => {
  it('tiles are found by index, committed up to the commit index', () => {
    const log = [2, 3, 5, 6].map((index) => ({ index, term: 1, label: `e${index}` }));
    const m = villageWith({ peers: [peer('a', { log, commitIndex: 3 })] });
    const a = m.peers.get('a')!;
    expect(m.tileAt(a, 5)!.label).toBe('e5');
    expect(m.tileAt(a, 4)).toBeNull();
    expect(m.tileAt(a, 1)).toBeNull();
    expect(m.tileAt(a, 7)).toBeNull();
    expect(m.isCommitted(a, 3)).toBe(true);
    expect(m.isCommitted(a, 5)).toBe(false);
  });

  it('an apply event gives the villager a bubble with the command and its result', () => {
    const m = villageWith();
    batch(m, [{ type: 'event', event: { type: 'apply', peer: 'peer2', t: T0, entries: [{ index: 4, term: 1, command: ['x', 'add', '100'], ok: true, result: 100, key: 'x', value: 100 }] } }], T0, T0 + 5);
    expect(m.peers.get('peer2')!.lastApply).toEqual({ index: 4, label: 'x add 100', result: '100', ok: true, at: T0 + 5 });
  });

  it('of a batch of applies the bubble shows the last command, skipping no-ops', () => {
    const m = villageWith();
    const entries = [
      { index: 4, term: 1, command: ['x', 'add', '1'], ok: true, result: 1, key: 'x', value: 1 },
      { index: 5, term: 1, command: ['y', 'set', 'hi'], ok: true, result: 'hi', key: 'y', value: 'hi' },
      { index: 6, term: 2, command: null, ok: true, result: null, key: null, value: null },
    ];
    batch(m, [{ type: 'event', event: { type: 'apply', peer: 'peer2', t: T0, entries } }], T0, T0 + 5);
    expect(m.peers.get('peer2')!.lastApply).toEqual({ index: 5, label: 'y set hi', result: 'hi', ok: true, at: T0 + 5 });
  });
});

describe('letters in the air', () => {
  it('a letter leaves at the send and lands at the receive with the same rid', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'peer1:7', 'request_vote')], T0, T0 + 10);
    const f = m.flights.get('peer1:7')!;
    expect(f).toMatchObject({ from: 'peer1', to: 'peer2', rpc: 'request_vote', sentAt: T0 + 10, landedAt: null, vanishedAt: null });
    batch(m, [rpc('rpc_recv', 'peer1', 'peer2', 'peer1:7', 'request_vote')], T0, T0 + 60);
    expect(m.flights.get('peer1:7')!.landedAt).toBe(T0 + 60);
  });

  it('a letter keeps what it says: the numbers of its RPC that are whole numbers, nothing else', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'peer1:5', 'append_entries', { entries: 2, prevLogIndex: 7, prevLogTerm: 3, leaderCommit: 6, matchIndex: -1, conflictTerm: '2' })], T0, T0);
    expect(m.flights.get('peer1:5')!.said).toEqual({ prevLogIndex: 7, prevLogTerm: 3, leaderCommit: 6 });
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'peer1:6', 'request_vote', { lastLogIndex: 9, lastLogTerm: 3 })], T0, T0);
    expect(m.flights.get('peer1:6')!.said).toEqual({ lastLogIndex: 9, lastLogTerm: 3 });
  });

  it('a sampled letter keeps how many other RPCs it stands for; a malformed count stands for none', () => {
    const m = villageWith();
    batch(m, [{ ...rpc('rpc_send', 'peer1', 'peer2', 'peer1:1'), more: 12 } as Delta, rpc('rpc_send', 'peer1', 'peer2', 'peer1:2')], T0, T0);
    batch(m, [{ ...rpc('rpc_recv', 'peer1', 'peer2', 'peer1:3'), more: 4 } as Delta, { ...rpc('rpc_send', 'peer1', 'peer2', 'peer1:4'), more: -3 } as Delta], T0, T0);
    batch(m, [{ ...rpc('rpc_drop', 'peer1', 'peer2', 'peer1:5'), more: 2 } as Delta, { ...rpc('rpc_send', 'peer1', 'peer2', 'peer1:6'), more: 'x' } as unknown as Delta], T0, T0);
    expect(['peer1:1', 'peer1:2', 'peer1:3', 'peer1:4', 'peer1:5', 'peer1:6'].map((r) => m.flights.get(r)!.more)).toEqual([12, 0, 4, 0, 2, 0]);
  });

  it('a receive heard before its send is a letter that already landed; the late send changes nothing', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_recv', 'peer1', 'peer2', 'peer1:8'), rpc('rpc_send', 'peer1', 'peer2', 'peer1:8')], T0, T0 + 20);
    const f = m.flights.get('peer1:8')!;
    expect(f.landedAt).toBe(T0 + 20);
    expect(f.from).toBe('peer1');
    expect(m.flights.size).toBe(1);
  });

  it('a dropped letter vanishes on the way and never lands', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer3', 'peer1:9')], T0, T0);
    batch(m, [rpc('rpc_drop', 'peer1', 'peer3', 'peer1:9', 'append_entries', { reason: 'blocked' })], T0, T0 + 30);
    m.prune(T0 + 40);
    const f = m.flights.get('peer1:9')!;
    expect(f.vanishedAt).toBe(T0 + 30);
    expect(f.vanishReason).toBe('blocked');
    expect(f.landedAt).toBeNull();
  });

  it('a receiver that refuses a letter ends the flight its sender started', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer3', 'peer1:11')], T0, T0);
    // Reported by the receiver: peer = to = peer3.
    batch(m, [{ type: 'event', event: { type: 'rpc_drop', peer: 'peer3', to: 'peer3', reason: 'blocked', t: T0, rid: 'peer1:11', rpc: 'append_entries', term: 1, heartbeat: true, entries: 0 } }], T0, T0 + 30);
    expect(m.flights.get('peer1:11')).toMatchObject({ from: 'peer1', to: 'peer3', vanishedAt: T0 + 30, vanishReason: 'blocked' });
    // Heard without the send: the letter is drawn from the rid's sender.
    batch(m, [{ type: 'event', event: { type: 'rpc_drop', peer: 'peer3', to: 'peer3', reason: 'blocked', t: T0, rid: 'peer2:4', rpc: 'append_entries', term: 1, heartbeat: true, entries: 0 } }], T0, T0 + 31);
    expect(m.flights.get('peer2:4')).toMatchObject({ from: 'peer2', to: 'peer3', vanishReason: 'blocked' });
  });

  it('a drop with no send heard is still shown vanishing', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_drop', 'peer2', 'peer1', 'peer2:1')], T0, T0 + 5);
    expect(m.flights.get('peer2:1')).toMatchObject({ vanishedAt: T0 + 5, vanishReason: 'dropped', landedAt: null });
  });

  it('a letter never heard landing is given up as lost after the timeout, then forgotten', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'peer1:10')], T0, T0);
    m.prune(T0 + FLIGHT_TIMEOUT_MS - 1);
    expect(m.flights.get('peer1:10')!.vanishedAt).toBeNull();
    m.prune(T0 + FLIGHT_TIMEOUT_MS + 1);
    expect(m.flights.get('peer1:10')!.vanishReason).toBe('lost');
    m.prune(T0 + FLIGHT_TIMEOUT_MS + 2 + FLIGHT_LINGER_MS);
    expect(m.flights.has('peer1:10')).toBe(false);
  });

  it('landed letters are forgotten after a while; letters in the air are kept', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'a'), rpc('rpc_recv', 'peer1', 'peer2', 'a'), rpc('rpc_send', 'peer1', 'peer3', 'b')], T0, T0);
    m.prune(T0 + FLIGHT_LINGER_MS + 1);
    expect([...m.flights.keys()]).toEqual(['b']);
  });

  it('the number of letters is bounded, finished ones forgotten first', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'keep')]);
    const deltas: Delta[] = [];
    for (let i = 0; i < MAX_FLIGHTS + 50; i++) deltas.push(rpc('rpc_send', 'peer1', 'peer2', `x${i}`), rpc('rpc_recv', 'peer1', 'peer2', `x${i}`));
    batch(m, deltas);
    expect(m.flights.size).toBeLessThanOrEqual(MAX_FLIGHTS);
    expect(m.flights.has('keep')).toBe(true);
  });

  it('letters all in the air beyond the bound: the oldest are forgotten, down to nine tenths at once, the newest kept', () => {
    const m = villageWith();
    const deltas: Delta[] = [];
    for (let i = 0; i <= MAX_FLIGHTS; i++) deltas.push(rpc('rpc_send', 'peer1', 'peer2', `a${i}`));
    batch(m, deltas);
    expect(m.flights.size).toBe(MAX_FLIGHTS - MAX_FLIGHTS / 10);
    expect(m.flights.has(`a${MAX_FLIGHTS}`)).toBe(true);
    expect(m.flights.has('a0')).toBe(false);
    batch(m, [rpc('rpc_send', 'peer1', 'peer2', 'b')]);
    expect(m.flights.size).toBe(MAX_FLIGHTS - MAX_FLIGHTS / 10 + 1);
  });

  it('heartbeats, pre-votes and reply outcomes are kept for drawing', () => {
    const m = villageWith();
    batch(m, [
      { type: 'event', event: { type: 'rpc_send', peer: 'peer1', to: 'peer2', t: T0, rid: 'h', rpc: 'append_entries', term: 2, heartbeat: true, entries: 0 } },
      { type: 'event', event: { type: 'rpc_send', peer: 'peer2', to: 'peer1', t: T0, rid: 'r', rpc: 'request_vote_reply', term: 2, heartbeat: false, entries: 0, preVote: true, ok: false } },
    ]);
    expect(m.flights.get('h')).toMatchObject({ heartbeat: true, term: 2, ok: null });
    expect(m.flights.get('r')).toMatchObject({ preVote: true, ok: false, rpc: 'request_vote_reply' });
  });
});

describe('board, attacks, monster, counters, console', () => {
  it('kv deltas set and remove keys', () => {
    const m = villageWith({ kv: { a: 1 } });
    batch(m, [
      { type: 'kv', key: 'x', value: 100 },
      { type: 'kv', key: 'a', value: null, deleted: true },
      { type: 'kv', key: 'n', value: null },
    ]);
    expect(m.kv).toEqual({ x: 100, n: null });
  });

  it('attacks and the next strike time, in local time', () => {
    const m = villageWith();
    batch(m, [{ type: 'attacks', on: true, nextAttackAt: T0 + 20_000 }], T0, T0 + 3);
    expect(m.attacks).toBe(true);
    expect(m.nextAttackLocal).toBe(T0 + 20_000);
    batch(m, [{ type: 'attacks', on: false, nextAttackAt: null }]);
    expect(m.attacks).toBe(false);
    expect(m.nextAttackLocal).toBeNull();
  });

  it('the monster hunts a victim, strikes, and goes back to wandering when attacks stop', () => {
    const m = villageWith({ attacks: true });
    batch(m, [{ type: 'monster', action: 'hunt', victim: 'peer2', at: T0 + 2500 }], T0, T0 + 1);
    expect(m.monster).toEqual({ action: 'hunt', victim: 'peer2', at: T0 + 1, strikeAt: T0 + 2500 });
    batch(m, [{ type: 'monster', action: 'strike', victim: 'peer2' }], T0 + 2500, T0 + 2500);
    expect(m.monster).toMatchObject({ action: 'strike', victim: 'peer2', strikeAt: null });
    batch(m, [{ type: 'attacks', on: false, nextAttackAt: null }], T0 + 3000, T0 + 3000);
    expect(m.monster.action).toBe('wander');
  });

  it('counters and the launcher state come from their deltas', () => {
    const m = villageWith({ launcher: false });
    batch(m, [
      { type: 'counters', counters: { elections: 3, messages: 120, droppedEvents: 2 } },
      { type: 'launcher', connected: true },
    ]);
    expect(m.counters).toEqual({ elections: 3, messages: 120, droppedEvents: 2 });
    expect(m.launcher).toBe(true);
  });

  it('console lines are kept in order, with their level, and bounded', () => {
    const m = villageWith();
    batch(m, [
      { type: 'console', line: 'x add 100', level: 'input' },
      { type: 'console', line: '100', level: 'result' },
      { type: 'console', line: 'peer2 is the leader of term 4', level: 'event' },
      { type: 'console', line: '> not typed', level: 'info' },
    ]);
    // A typed line reads as the page's own echo does; text never decides the level.
    expect(m.console.map((l) => [l.level, l.text])).toEqual([
      ['input', '> x add 100'],
      ['result', '100'],
      ['event', 'peer2 is the leader of term 4'],
      ['info', '> not typed'],
    ]);
    expect(m.console.map((l) => l.at)).toEqual([T0, T0, T0, T0]);
    batch(m, [{ type: 'console', line: 'old news', level: 'event', at: T0 - 60_000 }], T0, T0);
    expect(m.console.at(-1)).toMatchObject({ text: 'old news', at: T0 - 60_000 });
    for (let i = 0; i < MAX_CONSOLE_LINES + 10; i++) m.addConsoleLine('info', `l${i}`, T0);
    expect(m.console.length).toBe(MAX_CONSOLE_LINES);
    expect(m.console[m.console.length - 1]!.text).toBe(`l${MAX_CONSOLE_LINES + 9}`);
  });
});

describe('the connection', () => {
  it('losing the relay is said once, counted, and the picture is stale until the next snapshot', () => {
    const m = villageWith();
    m.setConnection('closed', T0 + 10, { error: 'relay unreachable', retryAt: T0 + 510 });
    expect(m.connection).toMatchObject({ state: 'closed', failures: 1, retryAt: T0 + 510, error: 'relay unreachable' });
    expect(m.hasPicture).toBe(false);
    m.setConnection('connecting', T0 + 510);
    m.setConnection('closed', T0 + 520, { retryAt: T0 + 1520 });
    expect(m.connection.failures).toBe(2);
    expect(m.console.filter((l) => l.text.includes('lost the connection'))).toHaveLength(1);
    m.setConnection('open', T0 + 1600);
    expect(m.connection.failures).toBe(0);
    expect(m.hasPicture).toBe(false);
    m.receive({ type: 'snapshot', now: T0 + 1600, picture: picture() }, T0 + 1600);
    expect(m.hasPicture).toBe(true);
    expect(m.console.some((l) => l.text.includes('connected to the relay again'))).toBe(true);
  });
});

describe('bad input', () => {
  it('malformed deltas and events are counted and ignored, never thrown', () => {
    const m = villageWith();
    const junk = [null, 42, { type: 'nope' }, { type: 'event', event: null }, { type: 'event', event: { type: 'rpc_send' } }, { type: 'peer', peer: { nope: 1 } }, { type: 'console', line: 5, level: 'x' }];
    expect(() => batch(m, junk as unknown as Delta[])).not.toThrow();
    expect(m.ignored).toBeGreaterThanOrEqual(4);
    expect(m.names()).toEqual(['peer1', 'peer2', 'peer3']);
  });

  it('events of a peer outside the picture draw letters but add no villager', () => {
    const m = villageWith();
    batch(m, [rpc('rpc_send', 'ghost', 'peer1', 'ghost:1'), { type: 'event', event: { type: 'commit', peer: 'ghost', t: T0, index: 3 } }]);
    expect(m.flights.has('ghost:1')).toBe(true);
    expect(m.peers.has('ghost')).toBe(false);
  });
});
