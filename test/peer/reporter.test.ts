// The -v reporter: never blocks, bounded queue with a drop counter, catches a (re)connected relay up.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerEvent } from '../../shared/events.ts';
import { Reporter } from '../../peer/reporter.ts';
import { freePorts, sleep, waitFor } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

function reporter(port: number, maxQueue?: number, minSpacingMs?: number): Reporter {
  let n = 0;
  const r = new Reporter({
    url: `ws://127.0.0.1:${port}/peer`,
    peer: 'peer1',
    hello: () => ({ type: 'hello', pid: 1, cluster: ['peer1'], profile: 'fast', timing: { heartbeatMs: 1, electionMinMs: 2, electionMaxMs: 3, latencyMs: 0 } }),
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
    await waitFor('hello', () => relay.events.length >= 2);
    expect(relay.events.map((e) => e.type)).toEqual(['hello', 'commit']);
    expect(relay.events[0]).toMatchObject({ peer: 'peer1', t: expect.any(Number) });
    r.emit({ type: 'log_truncate', from: 3 });
    await waitFor('the event', () => relay.events.some((e) => e.type === 'log_truncate'));
    expect(relay.events.some((e) => e.type === 'commit' && e.index === 99)).toBe(false);
  });

  it('drops and counts events beyond its queue, and reports the count', async () => {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const r = reporter(port!, 5);
    await waitFor('connected', () => r.connected && relay.events.length >= 2);
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
    await waitFor('connected', () => r.connected && relay.events.length >= 2);
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
    await waitFor('connected', () => r.connected && relay.events.length >= 2);
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
});
