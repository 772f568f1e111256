// Which letters browsers are sent under load: the LetterSampler alone, then through the Picture
// (what a batch carries, and that the counters stay exact).
import { describe, expect, it } from 'vitest';
import type { PeerEvent, RpcKind } from '../../shared/events.ts';
import type { Delta } from '../../shared/village.ts';
import { LetterSampler, MAX_DECIDED_RIDS, MIN_LETTER_SPACING_MS, type LetterEvent } from '../../game/relay/letter-sampler.ts';
import { Picture } from '../../game/relay/picture.ts';

const T = 1_700_000_000_000;
const base = { t: T, term: 2, heartbeat: false, entries: 1 };
const send = (n: number, rpc: RpcKind = 'append_entries', over: Partial<LetterEvent> = {}): LetterEvent =>
  ({ type: 'rpc_send', peer: 'peer1', to: 'peer2', rid: `peer1:${n}`, rpc, ...base, ...over }) as LetterEvent;
const recv = (n: number, rpc: RpcKind = 'append_entries', over: Partial<LetterEvent> = {}): LetterEvent =>
  ({ type: 'rpc_recv', peer: 'peer2', from: 'peer1', rid: `peer1:${n}`, rpc, ...base, ...over }) as LetterEvent;

/** The relay's clock in these tests: each batch below goes out a letter spacing after the one before. */
let clock = T;
const sampler = () => new LetterSampler(() => clock);
const nextBatch = (s: LetterSampler, ms = MIN_LETTER_SPACING_MS) => {
  s.endBatch();
  clock += ms;
};

describe('the letter sampler', () => {
  /** Offers the event; returns null when left out, else its delta (whose `more` may grow later in the batch). */
  const offer = (s: LetterSampler, e: LetterEvent): Extract<Delta, { type: 'event' }> | null => {
    const d: Extract<Delta, { type: 'event' }> = { type: 'event', event: e };
    return s.take(e, d) ? d : null;
  };

  it('passes every letter of a quiet village, one per batch, each standing for itself', () => {
    const s = sampler();
    for (let n = 0; n < 5; n++) {
      const d = offer(s, send(n));
      expect(offer(s, recv(n))).not.toBeNull();
      nextBatch(s);
      expect(d?.more).toBeUndefined();
    }
  });

  it('under load a batch carries the first AppendEntries between two villagers, counting the others of the batch; their receives are left out too', () => {
    const s = sampler();
    const first = offer(s, send(1))!;
    for (let n = 2; n <= 6; n++) expect(offer(s, send(n))).toBeNull();
    expect(offer(s, recv(1))).not.toBeNull();
    for (let n = 2; n <= 6; n++) expect(offer(s, recv(n))).toBeNull();
    expect(first.more).toBe(5);
    nextBatch(s);
    const next = offer(s, send(7))!;
    expect(offer(s, send(8))).toBeNull();
    expect(next.more).toBe(1);
    expect(first.more).toBe(5);
  });

  it('a receive heard before its send decides the letter; the send follows, and a send left out is counted then', () => {
    const s = sampler();
    const shown = offer(s, recv(1))!;
    expect(offer(s, recv(2))).toBeNull();
    expect(offer(s, send(1))).not.toBeNull();
    expect(offer(s, send(2))).toBeNull();
    expect(shown.more).toBe(1);
  });

  it('a send whose rid was already sent is a new letter, counted as one', () => {
    const s = sampler();
    expect(offer(s, send(1))).not.toBeNull();
    expect(offer(s, send(2))).toBeNull();
    nextBatch(s);
    // rid peer1:2 again (left out before), then peer1:1 again (shown before): the first of the batch is shown, the other counted.
    const shown = offer(s, send(2))!;
    expect(offer(s, send(1))).toBeNull();
    expect(shown.more).toBe(1);
  });

  it('sends at most one letter a spacing on a path however often batches go out; the next one counts those left out between', () => {
    const s = sampler();
    let n = 0;
    const shown: Array<Extract<Delta, { type: 'event' }>> = [];
    // Batches every 8 ms, three AppendEntries in each, for 200 ms.
    for (let b = 0; b < 25; b++) {
      for (let i = 0; i < 3; i++) {
        const d = offer(s, send(n++));
        if (d) shown.push(d);
      }
      nextBatch(s, 8);
    }
    const d = offer(s, send(n++))!;
    shown.push(d);
    expect(shown.length).toBe(Math.ceil((25 * 8) / MIN_LETTER_SPACING_MS) + 1);
    // Every RPC is counted by exactly one letter drawn.
    expect(shown.reduce((sum, x) => sum + 1 + (x.more ?? 0), 0)).toBe(n);
  });

  it('never thins votes, TimeoutNow or InstallSnapshot', () => {
    const s = sampler();
    const kinds: RpcKind[] = ['request_vote', 'request_vote_reply', 'timeout_now', 'install_snapshot', 'install_snapshot_reply'];
    let n = 0;
    for (const k of kinds) for (let i = 0; i < 5; i++) expect(offer(s, send(n++, k))).not.toBeNull();
  });

  it('letters that look different are not counted together: receiver, heartbeat, outcome, dropped', () => {
    const s = sampler();
    expect(offer(s, send(1))).not.toBeNull();
    expect(offer(s, send(2, 'append_entries', { to: 'peer3' }))).not.toBeNull();
    expect(offer(s, send(3, 'append_entries', { heartbeat: true, entries: 0 }))).not.toBeNull();
    expect(offer(s, send(4, 'append_entries_reply', { ok: true }))).not.toBeNull();
    expect(offer(s, send(5, 'append_entries_reply', { ok: false }))).not.toBeNull();
    expect(offer(s, { ...send(6), type: 'rpc_drop', reason: 'blocked' } as LetterEvent)).not.toBeNull();
    expect(offer(s, send(7))).toBeNull();
  });

  it('remembers a bounded number of undecided rids: the oldest are decided afresh', () => {
    const s = sampler();
    expect(offer(s, send(0))).not.toBeNull();
    nextBatch(s);
    const shown = offer(s, send(1))!;
    for (let n = 2; n <= MAX_DECIDED_RIDS + 1; n++) offer(s, send(n));
    expect(shown.more).toBe(MAX_DECIDED_RIDS);
    // rid 0 was forgotten: its receive is a new letter, and this batch has one of its kind already.
    expect(offer(s, recv(0))).toBeNull();
    nextBatch(s);
    // the newest rids are remembered: a left-out one's receive is left out though it would be the first of its batch.
    expect(offer(s, recv(MAX_DECIDED_RIDS + 1))).toBeNull();
    expect(offer(s, recv(MAX_DECIDED_RIDS))).toBeNull();
    // rid 1 (shown) was forgotten with the oldest half: its receive is decided afresh, now the first of its kind.
    expect(offer(s, recv(1))).not.toBeNull();
  });
});

describe('letters through the Picture', () => {
  it('a burst of AppendEntries reaches browsers as one letter per batch that accounts for every RPC, with the message counter exact', () => {
    let now = T;
    const picture = new Picture({ order: ['peer1', 'peer2'], reviveAfterS: 0, now: () => now });
    picture.watching = true;
    const letters = (ds: Delta[]) => ds.flatMap((d) => (d.type === 'event' ? [d] : []));
    let n = 0;
    const batches: ReturnType<typeof letters>[] = [];
    for (const size of [100, 1, 30]) {
      for (let i = 0; i < size; i++, n++) {
        picture.applyEvent(send(n) as PeerEvent);
        picture.applyEvent(recv(n) as PeerEvent);
      }
      batches.push(letters(picture.takeDeltas().deltas));
      now += MIN_LETTER_SPACING_MS;
    }
    for (const b of batches) {
      // The send and the receive of one letter.
      expect(b.map((d) => d.event.type)).toEqual(['rpc_send', 'rpc_recv']);
      expect((b[0]!.event as LetterEvent).rid).toBe((b[1]!.event as LetterEvent).rid);
    }
    expect(batches.map((b) => 1 + (b[0]!.more ?? 0))).toEqual([100, 1, 30]);
    expect(picture.counterValues().messages).toBe(131);
    expect(picture.counterValues().droppedEvents).toBe(0);
  });
});
