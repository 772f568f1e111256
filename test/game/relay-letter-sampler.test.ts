// Which letters browsers are sent under load: the LetterSampler alone, then through the Picture
// (what a batch carries, and that the counters stay exact).
import { describe, expect, it } from 'vitest';
import type { PeerEvent, RpcKind } from '../../shared/events.ts';
import type { Delta } from '../../shared/village.ts';
import { LETTER_SPACING_MS, LetterSampler, MAX_DECIDED_RIDS, type LetterEvent } from '../../game/relay/letter-sampler.ts';
import { Picture } from '../../game/relay/picture.ts';

const T = 1_700_000_000_000;
const base = { t: T, term: 2, heartbeat: false, entries: 1 };
const send = (n: number, rpc: RpcKind = 'append_entries', over: Partial<LetterEvent> = {}): LetterEvent =>
  ({ type: 'rpc_send', peer: 'peer1', to: 'peer2', rid: `peer1:${n}`, rpc, ...base, ...over }) as LetterEvent;
const recv = (n: number, rpc: RpcKind = 'append_entries', over: Partial<LetterEvent> = {}): LetterEvent =>
  ({ type: 'rpc_recv', peer: 'peer2', from: 'peer1', rid: `peer1:${n}`, rpc, ...base, ...over }) as LetterEvent;

describe('the letter sampler', () => {
  it('passes every letter of a quiet village, each standing for itself', () => {
    const s = new LetterSampler();
    for (let n = 0; n < 5; n++) {
      const at = T + n * LETTER_SPACING_MS;
      expect(s.take(send(n), at)).toBe(0);
      expect(s.take(recv(n), at + 1)).toBe(0);
    }
  });

  it('under load shows one AppendEntries per spacing between two villagers; the next one shown counts those left out, and their receives are left out too', () => {
    const s = new LetterSampler();
    expect(s.take(send(1), T)).toBe(0);
    for (let n = 2; n <= 6; n++) expect(s.take(send(n), T + n)).toBeNull();
    expect(s.take(recv(1), T + 7)).toBe(0);
    for (let n = 2; n <= 6; n++) expect(s.take(recv(n), T + 8)).toBeNull();
    expect(s.take(send(7), T + LETTER_SPACING_MS)).toBe(5);
    expect(s.take(send(8), T + LETTER_SPACING_MS + 1)).toBeNull();
    expect(s.take(send(9), T + 2 * LETTER_SPACING_MS)).toBe(1);
  });

  it('a receive heard before its send decides the letter; the send follows, and a send left out is counted then', () => {
    const s = new LetterSampler();
    expect(s.take(recv(1), T)).toBe(0);
    expect(s.take(recv(2), T + 1)).toBeNull();
    expect(s.take(send(1), T + 2)).toBe(0);
    expect(s.take(send(2), T + 3)).toBeNull();
    expect(s.take(send(3), T + LETTER_SPACING_MS)).toBe(1);
  });

  it('never thins votes, TimeoutNow or InstallSnapshot', () => {
    const s = new LetterSampler();
    const kinds: RpcKind[] = ['request_vote', 'request_vote_reply', 'timeout_now', 'install_snapshot', 'install_snapshot_reply'];
    let n = 0;
    for (const k of kinds) for (let i = 0; i < 5; i++) expect(s.take(send(n++, k), T)).toBe(0);
  });

  it('letters that look different do not share a spacing: receiver, heartbeat, outcome, dropped', () => {
    const s = new LetterSampler();
    expect(s.take(send(1), T)).toBe(0);
    expect(s.take(send(2, 'append_entries', { to: 'peer3' }), T)).toBe(0);
    expect(s.take(send(3, 'append_entries', { heartbeat: true, entries: 0 }), T)).toBe(0);
    expect(s.take(send(4, 'append_entries_reply', { ok: true }), T)).toBe(0);
    expect(s.take(send(5, 'append_entries_reply', { ok: false }), T)).toBe(0);
    expect(s.take({ ...send(6), type: 'rpc_drop', reason: 'blocked' } as LetterEvent, T)).toBe(0);
    expect(s.take(send(7), T)).toBeNull();
  });

  it('remembers a bounded number of undecided rids: the oldest is decided afresh', () => {
    const s = new LetterSampler();
    expect(s.take(send(0), T)).toBe(0);
    for (let n = 1; n <= MAX_DECIDED_RIDS; n++) s.take(send(n), T + 1);
    // rid 0 was forgotten: its receive is a new letter, and the spacing from the first send has not passed.
    expect(s.take(recv(0), T + 2)).toBeNull();
    // rid MAX was remembered as left out.
    expect(s.take(recv(MAX_DECIDED_RIDS), T + 3)).toBeNull();
    expect(s.take(send(1, 'append_entries', { rid: 'peer1:x' }), T + LETTER_SPACING_MS)).toBe(MAX_DECIDED_RIDS);
  });
});

describe('letters through the Picture', () => {
  it('a burst of AppendEntries reaches browsers as a few letters that account for every RPC, with the message counter exact', () => {
    let now = T;
    const picture = new Picture({ order: ['peer1', 'peer2'], reviveAfterS: 0, now: () => now });
    picture.watching = true;
    const events = (ds: Delta[]) => ds.flatMap((d) => (d.type === 'event' ? [d] : []));
    for (let n = 0; n < 100; n++) {
      now = T + n; // 100 sends over 100 ms
      picture.applyEvent(send(n) as PeerEvent);
      picture.applyEvent(recv(n) as PeerEvent);
    }
    const { deltas } = picture.takeDeltas();
    const letters = events(deltas);
    const sends = letters.filter((d) => d.event.type === 'rpc_send');
    expect(sends.length).toBe(Math.ceil(100 / LETTER_SPACING_MS));
    // Every shown send has its receive; the left-out ones after the last shown are counted by the next one.
    expect(letters.filter((d) => d.event.type === 'rpc_recv').map((d) => (d.event as LetterEvent).rid)).toEqual(sends.map((d) => (d.event as LetterEvent).rid));
    const accounted = sends.reduce((a, d) => a + 1 + (d.more ?? 0), 0);
    now = T + 200;
    picture.applyEvent(send(1000) as PeerEvent);
    const next = events(picture.takeDeltas().deltas);
    expect(accounted + 1 + (next[0]!.more ?? 0)).toBe(101);
    expect(picture.counterValues().messages).toBe(101);
    expect(picture.counterValues().droppedEvents).toBe(0);
  });
});
