// The browser fan-out without sockets or timers: browsers are recording sinks whose buffered
// bytes the test sets, and time is a scheduler the test turns by hand.
import { describe, expect, it } from 'vitest';
import type { PeerEvent } from '../../shared/events.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { Fanout, type Scheduler, type Sink } from '../../game/relay/fanout.ts';
import { Picture } from '../../game/relay/picture.ts';

const T = 1_700_000_000_000;
const HIGH = 4000;
const LOW = 500;
const timing = { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 };

class Browser implements Sink {
  readonly raw: string[] = [];
  bufferedAmount = 0;
  open = true;
  send(frame: string): void {
    this.raw.push(frame);
  }
  /** Everything received so far, parsed; take() returns only what came since the last take(). */
  private taken = 0;
  take(): RelayToBrowser[] {
    const fresh = this.raw.slice(this.taken).map((f) => JSON.parse(f) as RelayToBrowser);
    this.taken = this.raw.length;
    return fresh;
  }
}

/** Time by hand: turn() runs what was set for the next turn, advance(ms) moves the clock. */
class Clock implements Scheduler {
  t = 0;
  private nextTurn: Array<() => void> = [];
  private timers: Array<{ at: number; every: number; fn: () => void }> = [];
  monotonic(): number {
    return this.t;
  }
  soon(fn: () => void): () => void {
    this.nextTurn.push(fn);
    return () => (this.nextTurn = this.nextTurn.filter((f) => f !== fn));
  }
  after(ms: number, fn: () => void): () => void {
    return this.add(ms, 0, fn);
  }
  every(ms: number, fn: () => void): () => void {
    return this.add(ms, ms, fn);
  }
  pending(): number {
    return this.nextTurn.length + this.timers.length;
  }
  turn(): void {
    const run = this.nextTurn;
    this.nextTurn = [];
    for (const fn of run) fn();
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      if (due.every > 0) due.at += due.every;
      else this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
    this.t = end;
  }
  private add(ms: number, every: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, every, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((x) => x !== timer));
  }
}

function village(flushMs = 25, minFlushSpacingMs = 8) {
  const clock = new Clock();
  const picture = new Picture({ order: ['peer1', 'peer2'], reviveAfterS: 0, now: () => T });
  picture.watching = true;
  const fanout = new Fanout({ source: picture, highWaterBytes: HIGH, lowWaterBytes: LOW, flushMs, minFlushSpacingMs, now: () => T, scheduler: clock });
  return { clock, picture, fanout };
}

const hello = (peer: string): PeerEvent => ({ type: 'hello', peer, t: T, pid: 1, cluster: ['peer1', 'peer2'], profile: 'fast', timing });
const commit = (index: number): PeerEvent => ({ type: 'commit', peer: 'peer1', t: T, index });
const kinds = (ms: RelayToBrowser[]) => ms.map((m) => m.type);
const commitsIn = (m: RelayToBrowser | undefined) =>
  m?.type === 'batch' ? m.deltas.flatMap((d) => (d.type === 'event' && d.event.type === 'commit' ? [d.event.index] : [])) : [];

describe('the browser fan-out', () => {
  it('gives a browser that joins late the whole picture and the console lines, then only what changes', () => {
    const { picture, fanout } = village();
    const early = new Browser();
    fanout.add(early);
    picture.applyEvent(hello('peer1'));
    picture.say('the monster rests (attacks off)', 'event');
    fanout.flush();
    picture.applyEvent(commit(1));
    fanout.flush();

    const late = new Browser();
    fanout.add(late);
    picture.applyEvent(commit(2));
    fanout.flush();
    const [snapshot, history, ...rest] = late.take();
    expect(snapshot?.type).toBe('snapshot');
    if (snapshot?.type !== 'snapshot') return;
    expect(snapshot.picture.peers.find((p) => p.name === 'peer1')).toMatchObject({ reporting: true, commitIndex: 2 });
    expect(history?.type).toBe('batch');
    if (history?.type === 'batch') expect(history.deltas.map((d) => (d.type === 'console' ? d.line : d.type))).toEqual(['peer1 is reporting (pid 1)', 'the monster rests (attacks off)']);
    // The commit of this flush is in the snapshot already; the next batch brings only the new one.
    expect(rest).toEqual([]);
    picture.applyEvent(commit(3));
    fanout.flush();
    const next = late.take();
    expect(kinds(next)).toEqual(['batch']);
    expect(commitsIn(next[0])).toEqual([3]);
    expect(commitsIn(early.take().at(-1))).toEqual([3]);
  });

  it('sends every browser the same batch, and nothing when nothing changed', () => {
    const { picture, fanout } = village();
    const a = new Browser();
    const b = new Browser();
    fanout.add(a);
    fanout.add(b);
    fanout.flush();
    a.take();
    b.take();
    picture.applyEvent(hello('peer1'));
    picture.applyEvent(commit(1));
    fanout.flush();
    fanout.flush();
    expect(a.raw.slice(-1)).toEqual(b.raw.slice(-1));
    expect(kinds(a.take())).toEqual(['batch']);
    expect(kinds(b.take())).toEqual(['batch']);
  });

  it('skips a browser whose socket backs up, and resynchronizes it with a snapshot once it drains', () => {
    const { picture, fanout } = village();
    const slow = new Browser();
    const quick = new Browser();
    fanout.add(slow);
    fanout.add(quick);
    picture.applyEvent(hello('peer1'));
    fanout.flush();
    slow.take();
    quick.take();

    slow.bufferedAmount = HIGH + 1;
    picture.applyEvent(commit(1));
    fanout.flush();
    expect(slow.take()).toEqual([]);
    expect(fanout.behind()).toBe(1);

    // Draining, but still above the low-water mark: still skipped, nothing queued for it.
    slow.bufferedAmount = LOW + 1;
    picture.applyEvent(commit(2));
    fanout.flush();
    expect(slow.take()).toEqual([]);
    expect(fanout.behind()).toBe(1);
    expect(fanout.resyncs).toBe(0);

    slow.bufferedAmount = LOW;
    picture.applyEvent(commit(3));
    fanout.flush();
    const resync = slow.take();
    // The snapshot, then the console lines (as a browser that joins gets them), no old batches.
    expect(kinds(resync)).toEqual(['snapshot', 'batch']);
    expect(resync[1]?.type === 'batch' && resync[1].deltas.every((d) => d.type === 'console')).toBe(true);
    if (resync[0]?.type === 'snapshot') expect(resync[0].picture.peers.find((p) => p.name === 'peer1')?.commitIndex).toBe(3);
    expect(fanout.resyncs).toBe(1);
    expect(fanout.behind()).toBe(0);

    picture.applyEvent(commit(4));
    fanout.flush();
    expect(commitsIn(slow.take()[0])).toEqual([4]);
    expect(quick.take().flatMap(commitsIn)).toEqual([1, 2, 3, 4]);
  });

  it('sends a fresh snapshot before the batch when the picture asks for a resync', () => {
    const { picture, fanout } = village();
    const b = new Browser();
    fanout.add(b);
    picture.applyLauncherReport({ type: 'launcher_hello', peers: ['peer1', 'peer2'], profile: 'fast' });
    picture.applyEvent(hello('peer1'));
    fanout.flush();
    b.take();
    // A launcher that brings a smaller village: peer2 leaves the picture.
    picture.applyLauncherReport({ type: 'launcher_hello', peers: ['peer1'], profile: 'fast' });
    picture.applyEvent(commit(1));
    fanout.flush();
    const got = b.take();
    expect(kinds(got)).toEqual(['snapshot', 'batch']);
    if (got[0]?.type === 'snapshot') expect(got[0].picture.peers.map((p) => p.name)).toEqual(['peer1']);
  });

  it('sends nothing to a browser whose connection is closing, and forgets one removed', () => {
    const { picture, fanout } = village();
    const closing = new Browser();
    const gone = new Browser();
    fanout.add(closing);
    fanout.add(gone);
    closing.open = false;
    fanout.remove(gone);
    picture.applyEvent(hello('peer1'));
    fanout.flush();
    expect(closing.raw).toEqual([]);
    expect(gone.raw).toEqual([]);
    expect(fanout.size).toBe(1);
  });

  it('puts the peer events of one turn in one batch, flushed in the next turn', () => {
    const { clock, picture, fanout } = village();
    const b = new Browser();
    fanout.add(b);
    clock.advance(110); // the interval's last flush was at 100
    b.take();
    for (const i of [1, 2, 3]) {
      picture.applyEvent(commit(i));
      fanout.flushSoon();
    }
    expect(b.take()).toEqual([]);
    clock.turn();
    const got = b.take();
    expect(kinds(got)).toEqual(['batch']);
    expect(commitsIn(got[0])).toEqual([1, 2, 3]);
  });

  it('flushes at most once per minFlushSpacingMs when peer events keep coming', () => {
    const { clock, picture, fanout } = village(25, 8);
    const b = new Browser();
    fanout.add(b);
    clock.advance(110); // the interval's last flush was at 100
    b.take();
    picture.applyEvent(commit(1));
    fanout.flushSoon();
    clock.turn();
    expect(commitsIn(b.take()[0])).toEqual([1]);

    // Right after a flush: the next one waits until 8 ms have passed since it.
    clock.advance(3);
    picture.applyEvent(commit(2));
    fanout.flushSoon();
    clock.turn();
    expect(b.take()).toEqual([]);
    clock.advance(4);
    expect(b.take()).toEqual([]);
    picture.applyEvent(commit(3));
    fanout.flushSoon();
    clock.advance(1);
    expect(commitsIn(b.take()[0])).toEqual([2, 3]);
  });

  it('keeps the spacing when it is longer than the interval: the interval skips a turn too soon after a flush', () => {
    const { clock, picture, fanout } = village(25, 40);
    const b = new Browser();
    fanout.add(b);
    clock.advance(25); // the interval's flush at 25 sends the snapshot
    b.take();
    clock.advance(20); // t = 45: 20 ms after that flush
    picture.applyEvent(commit(1));
    fanout.flushSoon(); // due at 65, 40 ms after the last flush
    clock.turn();
    clock.advance(5); // the interval's turn at 50 is too soon: nothing
    expect(b.take()).toEqual([]);
    clock.advance(14); // t = 64
    expect(b.take()).toEqual([]);
    clock.advance(1); // t = 65
    expect(commitsIn(b.take()[0])).toEqual([1]);
    picture.applyEvent(commit(2));
    clock.advance(10); // the interval at 75: 10 ms after the last flush, skipped
    expect(b.take()).toEqual([]);
    clock.advance(25); // the interval at 100: 35 ms after, skipped; at 125 it flushes
    expect(b.take()).toEqual([]);
    clock.advance(25);
    expect(commitsIn(b.take()[0])).toEqual([2]);
  });

  it('flushes every flushMs when nothing asks, and not at all once stopped', () => {
    const { clock, picture, fanout } = village(25, 8);
    const b = new Browser();
    fanout.add(b);
    clock.advance(24);
    expect(b.raw).toEqual([]);
    clock.advance(1);
    expect(kinds(b.take())).toEqual(['snapshot']);
    picture.applyEvent(commit(1));
    clock.advance(25);
    expect(commitsIn(b.take()[0])).toEqual([1]);

    picture.applyEvent(commit(2));
    fanout.flushSoon();
    fanout.stop();
    expect(clock.pending()).toBe(0);
    fanout.flushSoon();
    clock.turn();
    clock.advance(1000);
    expect(b.raw.length).toBe(2);
  });
});
