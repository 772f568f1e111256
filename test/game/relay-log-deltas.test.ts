// Peer log tiles from the relay's picture to the page's model: `peer` deltas carry only what
// changed in a log (new tiles, where it was cut, where it now begins), and folding them into
// the model gives exactly the relay's log.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { LogTile, PeerEvent } from '../../shared/events.ts';
import type { Delta, RelayToBrowser } from '../../shared/village.ts';
import { MAX_TILES, Picture } from '../../game/relay/picture.ts';
import { applyLogChange, VillageModel } from '../../game/src/model.ts';

const T = 1_700_000_000_000;
const timing = { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 };

function picture(): Picture {
  const p = new Picture({ order: ['peer1', 'peer2'], reviveAfterS: 0, now: () => T });
  p.applyEvent({ type: 'hello', peer: 'peer1', t: T, pid: 1, cluster: ['peer1', 'peer2'], profile: 'fast', timing });
  return p;
}

const tiles = (from: number, to: number, term = 1): LogTile[] => Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, label: `x add ${from + i}` }));
const append = (entries: LogTile[]): PeerEvent => ({ type: 'log_append', peer: 'peer1', t: T, entries });
const truncate = (from: number): PeerEvent => ({ type: 'log_truncate', peer: 'peer1', t: T, from });
const resync = (tail: LogTile[], over: Partial<Extract<PeerEvent, { type: 'resync' }>> = {}): PeerEvent => {
  const last = tail.at(-1);
  return {
    type: 'resync', peer: 'peer1', t: T, role: 'follower', term: 3, vote: null, leader: 'peer2', commit: 0, commitPh: 0,
    lastIndex: last?.index ?? 0, lastTerm: last?.term ?? 0, lastPh: 0, base: null, durable: { w: 1, term: 3, vote: null }, tail, ...over,
  };
};
const compacted = (index: number, lastIndex: number, reason: 'compacted' | 'installed' = 'compacted'): PeerEvent => ({ type: 'snapshot', peer: 'peer1', t: T, reason, index, term: 1, ph: 0, lastIndex });
const peerDeltas = (ds: Delta[]) => ds.filter((d): d is Extract<Delta, { type: 'peer' }> => d.type === 'peer' && d.peer.name === 'peer1');
const batch = (deltas: Delta[]): RelayToBrowser => JSON.parse(JSON.stringify({ type: 'batch', now: T, deltas }));
const snapshot = (p: Picture): RelayToBrowser => JSON.parse(JSON.stringify({ type: 'snapshot', now: T, picture: p.snapshot() }));
const indexes = (log: readonly LogTile[] | undefined) => (log ?? []).map((t) => t.index);

describe('peer deltas carry only what changed in a log', () => {
  it('a peer delta after appends carries only the new tiles', () => {
    const p = picture();
    p.applyEvent(append(tiles(1, 250)));
    p.takeDeltas();
    p.applyEvent(append(tiles(251, 251)));
    p.applyEvent(append(tiles(252, 253)));
    const [d] = peerDeltas(p.takeDeltas().deltas);
    expect(d!.peer).not.toHaveProperty('log');
    expect(d!.log).toEqual({ from: 251, tiles: tiles(251, 253), start: 1 });
  });

  it('a delta for a change of fields only carries no log change', () => {
    const p = picture();
    p.applyEvent(append(tiles(1, 5)));
    p.takeDeltas();
    p.applyEvent({ type: 'commit', peer: 'peer1', t: T, index: 5 });
    const [d] = peerDeltas(p.takeDeltas().deltas);
    expect(d!.peer.commitIndex).toBe(5);
    expect(d!.log).toBeUndefined();
  });

  it('the log\'s end moves up with the appended tiles, between two states, and never down from a state ahead of them', () => {
    const p = picture();
    p.applyEvent(append(tiles(1, 5, 2)));
    const [d] = peerDeltas(p.takeDeltas().deltas);
    expect(d!.peer).toMatchObject({ lastIndex: 5, lastTerm: 2 });
    // The core's log runs ahead of what is saved: the state says 9, a later save brings 6..7.
    p.applyEvent({ type: 'state', peer: 'peer1', t: T, role: 'follower', term: 2, vote: null, leader: 'peer2', commitIndex: 5, appliedIndex: 5, lastIndex: 9, lastTerm: 2, electionDeadline: null });
    p.applyEvent(append(tiles(6, 7, 2)));
    expect(peerDeltas(p.takeDeltas().deltas).at(-1)!.peer.lastIndex).toBe(9);
  });

  it('once the log is full, the delta says where the relay log now begins', () => {
    const p = picture();
    p.applyEvent(append(tiles(1, MAX_TILES)));
    p.takeDeltas();
    p.applyEvent(append(tiles(MAX_TILES + 1, MAX_TILES + 2)));
    const [d] = peerDeltas(p.takeDeltas().deltas);
    expect(d!.log).toEqual({ from: MAX_TILES + 1, tiles: tiles(MAX_TILES + 1, MAX_TILES + 2), start: 3 });
  });

  it('truncation shows in the model: the cut tiles go, the new ones follow', () => {
    const p = picture();
    const m = new VillageModel();
    p.applyEvent(append(tiles(1, 10)));
    p.takeDeltas();
    m.receive(snapshot(p), T);
    p.applyEvent(truncate(7));
    p.applyEvent(append(tiles(7, 8, 2)));
    const { deltas } = p.takeDeltas();
    expect(peerDeltas(deltas)[0]!.log).toEqual({ from: 7, tiles: tiles(7, 8, 2), start: 1 });
    m.receive(batch(deltas), T);
    expect(m.peers.get('peer1')!.log).toEqual([...tiles(1, 6), ...tiles(7, 8, 2)]);
    // A truncation alone empties the tail.
    p.applyEvent(truncate(3));
    m.receive(batch(p.takeDeltas().deltas), T);
    expect(indexes(m.peers.get('peer1')!.log)).toEqual([1, 2]);
    p.applyEvent(truncate(1));
    m.receive(batch(p.takeDeltas().deltas), T);
    expect(m.peers.get('peer1')!.log).toEqual([]);
  });

  it('a late browser gets the full log in its snapshot', () => {
    const p = picture();
    p.applyEvent(append(tiles(1, 400)));
    p.takeDeltas();
    p.applyEvent(append(tiles(401, 401)));
    p.takeDeltas();
    const m = new VillageModel();
    m.receive(snapshot(p), T);
    expect(indexes(m.peers.get('peer1')!.log)).toEqual(indexes(tiles(402 - MAX_TILES, 401)));
  });

  it('a delta applied on top of a snapshot that already holds it changes nothing', () => {
    const p = picture();
    p.applyEvent(append(tiles(1, 20)));
    p.applyEvent(truncate(15));
    p.applyEvent(append(tiles(15, 30, 2)));
    const { deltas } = p.takeDeltas();
    const m = new VillageModel();
    m.receive(snapshot(p), T);
    m.receive(batch(deltas), T);
    expect(m.peers.get('peer1')!.log).toEqual(p.peer('peer1')!.log);
  });

  it('a resync replaces the log and the fields it carries, and the model follows', () => {
    const p = picture();
    const m = new VillageModel();
    p.applyEvent(append(tiles(1, 10)));
    m.receive(snapshot(p), T);
    p.takeDeltas();
    p.applyEvent(resync(tiles(5, 8, 2), { role: 'leader', term: 4, vote: 'peer1', leader: 'peer1', commit: 7 }));
    const { deltas } = p.takeDeltas();
    const [d] = peerDeltas(deltas);
    expect(d!.peer).toMatchObject({ role: 'leader', term: 4, vote: 'peer1', leader: 'peer1', commitIndex: 7, lastIndex: 8, lastTerm: 2 });
    m.receive(batch(deltas), T);
    expect(m.peers.get('peer1')!.log).toEqual(tiles(5, 8, 2));
    // A resync is folded into the picture, not passed on as an animation event; the leader is counted.
    expect(deltas.filter((x) => x.type === 'event')).toEqual([]);
    expect(p.counterValues().elections).toBe(1);
  });

  it('a snapshot event drops the tiles it folded away; an installed one also what follows lastIndex', () => {
    const p = picture();
    const m = new VillageModel();
    p.applyEvent(append(tiles(1, 10)));
    m.receive(snapshot(p), T);
    p.applyEvent(compacted(4, 10));
    m.receive(batch(p.takeDeltas().deltas), T);
    expect(indexes(m.peers.get('peer1')!.log)).toEqual([5, 6, 7, 8, 9, 10]);
    p.applyEvent(compacted(7, 7, 'installed'));
    const { deltas } = p.takeDeltas();
    m.receive(batch(deltas), T);
    expect(m.peers.get('peer1')!.log).toEqual([]);
    expect(peerDeltas(deltas)[0]!.peer.lastIndex).toBe(7);
  });

  it('a persisted event changes nothing a browser sees and sends nothing', () => {
    const p = picture();
    p.takeDeltas();
    p.applyEvent({ type: 'persisted', peer: 'peer1', t: T, w: 3, term: 1, vote: null, lastIndex: 0, lastTerm: 0, lastPh: 0 });
    expect(p.hasPending()).toBe(false);
  });

  it('a malformed log change is ignored and counted, and the log stays as it was', () => {
    const m = new VillageModel();
    const p = picture();
    p.applyEvent(append(tiles(1, 3)));
    m.receive(snapshot(p), T);
    const fields = { ...p.snapshot().peers[0]!, log: undefined };
    m.receive({ type: 'batch', now: T, deltas: [{ type: 'peer', peer: fields, log: { from: 'x' } as never }] }, T);
    expect(m.ignored).toBe(1);
    expect(indexes(m.peers.get('peer1')!.log)).toEqual([1, 2, 3]);
    expect(applyLogChange([], null)).toBeNull();
  });

  it('folding the deltas gives exactly the relay log, whatever appends, cuts and flushes happen', () => {
    type Op =
      | { kind: 'append'; back: number; n: number; term: number }
      | { kind: 'cut'; back: number }
      | { kind: 'compact'; back: number }
      | { kind: 'resync'; back: number; n: number }
      | { kind: 'flush'; back?: undefined }
      | { kind: 'late'; back?: undefined };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), back: fc.nat(8), n: fc.integer({ min: 1, max: 180 }), term: fc.integer({ min: 1, max: 9 }) }),
      fc.record({ kind: fc.constant('cut' as const), back: fc.nat(400) }),
      fc.record({ kind: fc.constant('compact' as const), back: fc.nat(400) }),
      fc.record({ kind: fc.constant('resync' as const), back: fc.nat(20), n: fc.nat(40) }),
      fc.constant({ kind: 'flush' as const }),
      fc.constant({ kind: 'late' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const p = picture();
        const m = new VillageModel();
        m.receive(snapshot(p), T);
        let late: VillageModel | null = null;
        const flush = () => {
          const { deltas } = p.takeDeltas();
          m.receive(batch(deltas), T);
          late?.receive(batch(deltas), T);
          expect(m.peers.get('peer1')!.log).toEqual(p.peer('peer1')!.log);
          if (late) expect(late.peers.get('peer1')!.log).toEqual(p.peer('peer1')!.log);
        };
        for (const o of ops) {
          const log = p.peer('peer1')!.log;
          const next = (log.at(-1)?.index ?? 0) + 1;
          const at = Math.max(1, next - (o.back ?? 0));
          if (o.kind === 'append') p.applyEvent(append(tiles(at, at + o.n - 1, o.term)));
          else if (o.kind === 'cut') p.applyEvent(truncate(at));
          else if (o.kind === 'compact') p.applyEvent(compacted(at - 1, next - 1));
          else if (o.kind === 'resync') p.applyEvent(resync(o.n ? tiles(at, at + o.n - 1, 5) : []));
          else if (o.kind === 'flush') flush();
          else {
            // A browser that connects now gets the snapshot (after the flush that precedes it).
            flush();
            late = new VillageModel();
            late.receive(snapshot(p), T);
          }
        }
        flush();
      }),
      { numRuns: 300 },
    );
  });
});
