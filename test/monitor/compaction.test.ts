// Logs that start after a snapshot: the monitor knows a peer's log only above its base (and the
// base itself, by its prefix hash), claims nothing below it, and the laws go on holding.
import { describe, expect, it } from 'vitest';
import { KnownLog } from '../../game/relay/monitor/known-log.ts';
import { createMonitor } from '../../game/relay/monitor/monitor.ts';
import type { LogTile, PeerEvent } from '../../shared/events.ts';
import { command, FakePeer, feed, laws } from './fake-peer.ts';

const tiles = (from: number, to: number, term = 1, salt = 0): LogTile[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, label: 'cmd', ph: 1000 * (from + i) + salt }));

describe('the known log of one peer', () => {
  it('knows the entries it was told about, nothing below them, and that nothing lies past the end', () => {
    const log = KnownLog.fromEnd({ index: 0, term: 0, ph: 0 }, null, 100);
    expect(log.append(tiles(1, 5))).toBeNull();
    expect(log.at(3)).toEqual({ kind: 'known', term: 1, ph: 3000 });
    expect(log.at(6)).toEqual({ kind: 'absent', lastIndex: 5 });
    expect(log.at(0)).toEqual({ kind: 'known', term: 0, ph: 0 });
    const recovered = KnownLog.fromEnd({ index: 9, term: 2, ph: 9000 }, null, 100);
    expect(recovered.at(9)).toEqual({ kind: 'known', term: 2, ph: 9000 });
    expect(recovered.at(8)).toEqual({ kind: 'unknown' });
  });

  it('follows truncations and replacing appends, and refuses an append that leaves a hole', () => {
    const log = KnownLog.fromEnd({ index: 0, term: 0, ph: 0 }, null, 100);
    log.append(tiles(1, 5));
    log.truncateFrom(4);
    expect(log.at(4)).toEqual({ kind: 'absent', lastIndex: 3 });
    expect(log.append(tiles(3, 4, 2, 7))).toBeNull();
    expect(log.at(3)).toEqual({ kind: 'known', term: 2, ph: 3007 });
    expect(log.lastIndex).toBe(4);
    expect(log.append(tiles(9, 9))).toBe('hole');
    expect(log.append([{ index: 5, term: 2, label: 'noop' }])).toBe('no_ph');
    expect(log.lastIndex).toBe(4);
  });

  it('after a snapshot knows the base by its prefix hash and nothing below it', () => {
    const log = KnownLog.fromEnd({ index: 0, term: 0, ph: 0 }, null, 100);
    log.append(tiles(1, 8));
    log.snapshot({ index: 5, term: 1, ph: 5000 }, 8);
    expect(log.at(5)).toEqual({ kind: 'known', term: 1, ph: 5000 });
    expect(log.at(4)).toEqual({ kind: 'unknown' });
    expect(log.at(7)).toEqual({ kind: 'known', term: 1, ph: 7000 });
    expect(log.size).toBe(3);
    // A leader's snapshot that replaces the whole log: only the base is known.
    log.snapshot({ index: 20, term: 3, ph: 20_000 }, 20);
    expect(log.at(20)).toEqual({ kind: 'known', term: 3, ph: 20_000 });
    expect(log.at(7)).toEqual({ kind: 'unknown' });
    expect(log.at(21)).toEqual({ kind: 'absent', lastIndex: 20 });
  });

  it('keeps at most twice its window of entries', () => {
    const log = KnownLog.fromEnd({ index: 0, term: 0, ph: 0 }, null, 10);
    for (let i = 1; i <= 1000; i++) log.append(tiles(i, i));
    expect(log.size).toBeLessThanOrEqual(20);
    expect(log.at(1000)).toEqual({ kind: 'known', term: 1, ph: 1_000_000 });
    expect(log.at(900)).toEqual({ kind: 'unknown' });
  });
});

describe('the laws over compacted logs', () => {
  function compacted(): { m: ReturnType<typeof createMonitor>; p1: FakePeer; p2: FakePeer; p3: FakePeer } {
    const m = createMonitor();
    const [p1, p2, p3] = ['peer1', 'peer2', 'peer3'].map((n) => new FakePeer(n)) as [FakePeer, FakePeer, FakePeer];
    feed(m, p1.hello(), p2.hello(), p3.hello());
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['a', 'set', '1'], ['b', 'set', '2'], ['c', 'set', '3']), p2.follow(p1), p3.follow(p1), p1.commitTo(4));
    return { m, p1, p2, p3 };
  }

  const snapshot = (p: FakePeer, index: number, ph = p.ph(index)): PeerEvent =>
    p.event({ type: 'snapshot', reason: 'compacted', index, term: p.log[index - 1]!.term, ph, lastIndex: p.lastIndex });

  it('a leader whose snapshot holds the committed entries raises no alarm', () => {
    const { m, p2, p3 } = compacted();
    expect(feed(m, snapshot(p2, 4), p2.campaign(2), p3.grantVote(2, 'peer2'), p2.lead())).toEqual([]);
  });

  it('a snapshot base that disagrees with another log at the same (index, term) is caught', () => {
    const { m, p2 } = compacted();
    const vs = feed(m, snapshot(p2, 3, 12345));
    expect(laws(vs)).toEqual(['log_matching']);
    expect(vs[0]!.indexes).toEqual([3]);
  });

  it('a new leader whose snapshot base is the committed index is checked against it', () => {
    const { m, p2, p3 } = compacted();
    // peer2 holds another entry 4 and compacts through it: its base names another log than the committed one.
    p2.log[3] = { term: 1, data: command(['d', 'set', '4']) };
    const vs = feed(m, snapshot(p2, 4), p2.campaign(2), p3.grantVote(2, 'peer2'), p2.lead());
    expect(laws(vs)).toContain('log_matching');
    expect(laws(vs)).toContain('leader_completeness');
  });

  it('a resync with a snapshot base and a tail restores the known log above the base', () => {
    const { m, p2 } = compacted();
    p2.lose(2);
    feed(m, p2.state());
    expect(m.status().blind.map((b) => b.peer)).toEqual(['peer2']);
    const base = { index: 2, term: 1, ph: p2.ph(2) };
    const tail = [p2.tile(3), p2.tile(4)];
    const r = p2.event({
      type: 'resync',
      role: 'follower',
      term: 1,
      vote: 'peer1',
      leader: 'peer1',
      commit: 4,
      commitPh: p2.ph(4),
      lastIndex: 4,
      lastTerm: 1,
      lastPh: p2.ph(4),
      base,
      durable: { w: p2.w, term: 1, vote: 'peer1' },
      tail,
    });
    expect(feed(m, r)).toEqual([]);
    expect(m.status().blind).toEqual([]);
  });
});
