// What a batch carries of the peers' apply events: per peer, its last applied command (the
// page's bubble), while the board still gets every key.
import { describe, expect, it } from 'vitest';
import type { AppliedEntry, PeerEvent } from '../../shared/events.ts';
import { Picture } from '../../game/relay/picture.ts';
import { VillageModel } from '../../game/src/model.ts';

const T = 1_700_000_000_000;
const entry = (index: number, key: string | null): AppliedEntry =>
  key === null ? { index, term: 2, command: null, ok: true, result: null, key: null, value: null } : { index, term: 2, command: [key, 'set', `v${index}`], ok: true, result: `v${index}`, key, value: `v${index}` };
const apply = (peer: string, ...entries: AppliedEntry[]): PeerEvent => ({ type: 'apply', peer, t: T, entries });

describe('apply events in a batch', () => {
  it('carry one apply per peer with its last command, and the board and the bubble are as if every apply had been sent', () => {
    const picture = new Picture({ order: ['peer1', 'peer2'], reviveAfterS: 0, now: () => T });
    picture.watching = true;
    const all = [
      apply('peer1', entry(1, null), entry(2, 'a')),
      apply('peer2', entry(1, null)),
      apply('peer1', entry(3, 'b'), entry(4, 'c')),
      apply('peer1', entry(5, null)),
      apply('peer2', entry(2, 'a'), entry(3, 'b')),
    ];
    for (const e of all) picture.applyEvent(e);
    const { deltas } = picture.takeDeltas();
    const applies = deltas.flatMap((d) => (d.type === 'event' && d.event.type === 'apply' ? [d.event] : []));
    expect(applies.map((e) => [e.peer, e.entries.map((a) => a.index)])).toEqual([
      ['peer1', [4]],
      ['peer2', [3]],
    ]);
    // The page folds the batch: the same bubbles and board as a page given every apply.
    const sampled = new VillageModel();
    const whole = new VillageModel();
    const snapshot = { type: 'snapshot' as const, now: T, picture: { ...picture.snapshot(), kv: {} } };
    sampled.receive(snapshot, T);
    whole.receive(snapshot, T);
    sampled.receive({ type: 'batch', now: T, deltas }, T);
    whole.receive({ type: 'batch', now: T, deltas: [...deltas.filter((d) => !(d.type === 'event' && d.event.type === 'apply')), ...all.map((event) => ({ type: 'event' as const, event }))] }, T);
    for (const n of ['peer1', 'peer2']) expect(sampled.peers.get(n)!.lastApply).toEqual(whole.peers.get(n)!.lastApply);
    expect(sampled.kv).toEqual({ a: 'v2', b: 'v3', c: 'v4' });
    // The next batch starts afresh; an apply of no-ops only carries nothing.
    picture.applyEvent(apply('peer1', entry(6, null)));
    expect(picture.takeDeltas().deltas.some((d) => d.type === 'event')).toBe(false);
  });
});
