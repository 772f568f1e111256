// The -v reporter: never blocks, bounded queue with a drop counter, catches a (re)connected relay up,
// numbers its events so that a reader sees any that went missing, and resyncs after a loss.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerEvent } from '../../shared/events.ts';
import { Reporter, type PeerEventBody } from '../../peer/reporter.ts';
import { freePorts, sleep, waitFor } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** A resync that names its term, so that a test can tell which one it got. */
const resyncOf = (term: number): PeerEventBody => ({
  type: 'resync', role: 'follower', term, vote: null, leader: null, commit: 0, commitPh: 0,
  lastIndex: 0, lastTerm: 0, lastPh: 0, base: null, durable: { w: 0, term, vote: null }, tail: [],
});

function reporter(port: number, maxQueue?: number, minSpacingMs?: number, resync: () => PeerEventBody | null = () => resyncOf(0), maxFrameBytes?: number): Reporter {
  let n = 0;
  const r = new Reporter({
    maxFrameBytes,
    url: `ws://127.0.0.1:${port}/peer`,
    peer: 'peer1',
    hello: () => ({ type: 'hello', pid: 1, cluster: ['peer1'], profile: 'fast', timing: { heartbeatMs: 1, electionMinMs: 2, electionMaxMs: 3, latencyMs: 0 } }),
    resync,
    catchUp: () => [{ type: 'commit', index: ++n }],
    maxQueue,
    minSpacingMs,
  });
  cleanup.push(() => r.close());
  return r;
}

describe('the -v reporter', () => {
  it('builds nothing while the relay is down, then says hello and catches the relay up', async () => {
    const [port] = await freePorts(1);
    const r = reporter(port!);
    r.emit({ type: 'commit', index: 99 }); // relay down: not queued, not counted
    expect(r.dropped).toBe(0);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    await waitFor('hello', () => relay.events.length >= 3);
    expect(relay.events.map((e) => e.type)).toEqual(['hello', 'resync', 'commit']);
    expect(relay.events[0]).toMatchObject({ peer: 'peer1', t: expect.any(Number) });
    r.emit({ type: 'log_truncate', from: 3 });
    await waitFor('the event', () => relay.events.some((e) => e.type === 'log_truncate'));
    expect(relay.events.some((e) => e.type === 'commit' && e.index === 99)).toBe(false);
  });

  it('splits a turn whose events pass half the frame limit into several frames, each within it, the events in order', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const sizes: number[] = [];
    relay.onFrame = (text) => sizes.push(Buffer.byteLength(text));
    const r = reporter(port!, undefined, undefined, undefined, 8192);
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    const from = relay.frames;
    const fromSizes = sizes.length;
    // About 100 bytes each: 200 of them make some 20 KB, past the 4 KiB budget (half of 8192).
    for (let i = 0; i < 200; i++) r.emit({ type: 'commit', index: 1000 + i });
    await waitFor('all 200', () => relay.events.filter((e) => e.type === 'commit' && e.index >= 1000).length === 200);
    expect(relay.events.filter((e) => e.type === 'commit' && e.index >= 1000).map((e) => (e.type === 'commit' ? e.index : 0))).toEqual(Array.from({ length: 200 }, (_, i) => 1000 + i));
    expect(relay.frames - from).toBeGreaterThanOrEqual(4);
    expect(Math.max(...sizes.slice(fromSizes))).toBeLessThanOrEqual(4096);
  });

  it('drops and counts events beyond its queue, and reports the count', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const r = reporter(port!, 5);
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    for (let i = 0; i < 12; i++) r.emit({ type: 'commit', index: 100 + i }); // one turn: the queue holds 5
    expect(r.dropped).toBe(7);
    await waitFor('the drop report', () => relay.events.some((e) => e.type === 'reporter_dropped'));
    const rep = relay.events.find((e): e is Extract<PeerEvent, { type: 'reporter_dropped' }> => e.type === 'reporter_dropped')!;
    expect(rep.count).toBe(7);
    await waitFor('the queued five', () => relay.events.filter((e) => e.type === 'commit' && e.index >= 100).length === 5);
  });

  it('sends the events of one turn as one frame, in order, with only the latest state', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const r = reporter(port!);
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    const before = relay.frames;
    const state = (term: number) => ({ type: 'state', role: 'follower', term, vote: null, leader: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: term }) as const;
    r.emit(state(1));
    r.emit({ type: 'commit', index: 200 });
    r.emit(state(2));
    r.emit({ type: 'commit', index: 201 });
    r.emit(state(3));
    await waitFor('the turn', () => relay.events.some((e) => e.type === 'state' && e.term === 3));
    expect(relay.frames - before).toBe(1);
    const got = relay.events.filter((e) => (e.type === 'commit' && e.index >= 200) || e.type === 'state');
    expect(got.map((e) => (e.type === 'state' ? `state ${e.term}` : e.type === 'commit' ? `commit ${e.index}` : ''))).toEqual(['commit 200', 'commit 201', 'state 3']);
  });

  it('under a steady stream sends at most one frame per spacing, each event within it', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const r = reporter(port!, undefined, 50);
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    await sleep(60);
    const before = relay.frames;
    // An event every millisecond or so for ~300 ms: one frame per turn would be ~300 frames.
    const started = performance.now();
    let i = 0;
    await new Promise<void>((done) => {
      const tick = () => {
        r.emit({ type: 'commit', index: 1000 + i++ });
        if (performance.now() - started < 300) setTimeout(tick, 1);
        else done();
      };
      tick();
    });
    await waitFor('every event', () => relay.events.filter((e) => e.type === 'commit' && e.index >= 1000).length === i);
    const frames = relay.frames - before;
    expect(i).toBeGreaterThan(50);
    expect(frames).toBeGreaterThanOrEqual(2);
    expect(frames).toBeLessThanOrEqual(Math.ceil((performance.now() - started) / 50) + 1);
  });

  it('reconnects to a restarted relay and says hello again', async () => {
    const [port] = await freePorts(1);
    let relay = await FakeRelay.start(port!);
    reporter(port!);
    await waitFor('first hello', () => relay.events.some((e) => e.type === 'hello'));
    await relay.close();
    await sleep(100);
    relay = await FakeRelay.start(port!);
    const second = relay;
    cleanup.push(() => second.close());
    await waitFor('second hello', () => second.events.some((e) => e.type === 'hello'), 10_000);
    expect(second.events.find((e) => e.type === 'commit')).toMatchObject({ index: 2 });
  });

  it('numbers counted events 0, 1, 2, ... and gives snapshots the next number without taking it', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const r = reporter(port!);
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    const state = { type: 'state', role: 'follower', term: 1, vote: null, leader: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: 1 } as const;
    r.emit({ type: 'commit', index: 5 });
    await sleep(20); // its own frame, so the state below is not coalesced with anything
    r.emit(state);
    r.emit({ type: 'log_truncate', from: 3, term: 2 });
    await waitFor('the events', () => relay.events.some((e) => e.type === 'log_truncate'));
    // hello and resync first (snapshots: 0), the catch-up commit takes 0, then 1, the state 2, the truncate 2.
    expect(relay.events.map((e) => `${e.type} ${e.seq}`)).toEqual(['hello 0', 'resync 0', 'commit 0', 'commit 1', 'state 2', 'log_truncate 2']);
  });

  it('numbers the events it could not send while the relay was down, so the next connection shows the hole', async () => {
    const [port] = await freePorts(1);
    let relay = await FakeRelay.start(port!);
    const r = reporter(port!);
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    await relay.close();
    await waitFor('the reporter to see the relay gone', () => !r.connected);
    for (let i = 0; i < 4; i++) r.emit({ type: 'commit', index: 50 + i }); // lost: numbers 1..4
    relay = await FakeRelay.start(port!);
    const second = relay;
    cleanup.push(() => second.close());
    await waitFor('the second hello', () => second.events.length >= 3, 10_000);
    // The catch-up commit of the first connection took 0, the lost ones 1..4.
    expect(second.events.slice(0, 3).map((e) => `${e.type} ${e.seq}`)).toEqual(['hello 5', 'resync 5', 'commit 5']);
  });

  it('after dropping events reports how many, then a resync, each numbered after the events queued before it', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    let term = 0;
    const r = reporter(port!, 5, undefined, () => resyncOf(++term));
    await waitFor('connected', () => r.connected && relay.events.length >= 3);
    const from = relay.events.length;
    for (let i = 0; i < 12; i++) r.emit({ type: 'commit', index: 100 + i }); // seq 1..12; the queue holds 5 (1..5)
    await waitFor('the resync', () => relay.events.slice(from).some((e) => e.type === 'resync'));
    const got = relay.events.slice(from).map((e) => `${e.type} ${e.seq}${e.type === 'reporter_dropped' ? ` count ${e.count}` : ''}`);
    expect(got).toEqual(['commit 1', 'commit 2', 'commit 3', 'commit 4', 'commit 5', 'reporter_dropped 13 count 7', 'resync 14']);
    expect(relay.events.at(-1)).toMatchObject({ type: 'resync', term: 2 });
    // Nothing more is owed: the next event follows on.
    r.emit({ type: 'commit', index: 200 });
    await waitFor('the next event', () => relay.events.some((e) => e.type === 'commit' && e.index === 200));
    expect(relay.events.at(-1)!.seq).toBe(14);
    expect(relay.events.filter((e) => e.type === 'resync')).toHaveLength(2);
  });

  it('asks again for a resync that cannot be stated yet, and sends it once it can', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    let asked = 0;
    let ready = false;
    reporter(port!, undefined, undefined, () => (asked++, ready ? resyncOf(7) : null));
    await waitFor('hello and the catch-up', () => relay.events.length >= 2);
    await sleep(50);
    expect(asked).toBeGreaterThan(1);
    expect(relay.events.some((e) => e.type === 'resync')).toBe(false);
    ready = true;
    await waitFor('the resync', () => relay.events.some((e) => e.type === 'resync'));
    expect(relay.events.map((e) => `${e.type} ${e.seq}`)).toEqual(['hello 0', 'commit 0', 'resync 1']);
    const n = asked;
    await sleep(50);
    expect(asked).toBe(n);
  });
});
