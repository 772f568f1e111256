// The durable log as the -v events describe it: one prefix hash per entry that always equals the
// hash chain of the log as it now stands, across appends, truncations and growth.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_TILES, ReportedLog } from '../../peer/reported-log.ts';
import type { Entry } from '../../peer/raft/types.ts';
import { EMPTY_PREFIX, entryHash, prefixHash, prefixHashes } from '../../shared/log-hash.ts';

const label = (data: string | null) => (data === null ? 'noop' : data);
const entry = (index: number, term: number, data: string | null = `c${index}.${term}`): Entry => ({ index, term, data });
const hs = (term: number, vote: string | null = null, commit = 0) => ({ term, vote, commit });

describe('the reported log', () => {
  it('states what the peer recovered: the last write, term, vote, commit and log end with their prefix hashes', () => {
    const entries = [entry(1, 1, null), entry(2, 1), entry(3, 2)];
    const phs = prefixHashes(EMPTY_PREFIX, entries);
    const log = new ReportedLog(entries, hs(2, 'peer3', 9), 17, label);
    // The commit on disk was ahead of the entries (a torn write): clamped to the log.
    expect(log.recovered).toEqual({ w: 17, term: 2, vote: 'peer3', commit: 3, commitPh: phs[2], lastIndex: 3, lastTerm: 2, lastPh: phs[2], base: null });
    expect(log.ph(0)).toBe(EMPTY_PREFIX);
    expect(log.ph(2)).toBe(prefixHash(prefixHash(EMPTY_PREFIX, 1, entryHash(null)), 1, entryHash('c2.1')));
    expect(log.ph(4)).toBeUndefined();
    expect(log.tail().map((t) => [t.index, t.label, t.ph])).toEqual([[1, 'noop', phs[0]], [2, 'c2.1', phs[1]], [3, 'c3.2', phs[2]]]);
    expect(new ReportedLog([], hs(0), 0, label).recovered).toEqual({ w: 0, term: 0, vote: null, commit: 0, commitPh: EMPTY_PREFIX, lastIndex: 0, lastTerm: 0, lastPh: EMPTY_PREFIX, base: null });
  });

  it('reports a write: where it cut the log, the new tiles, and the durable state after it', () => {
    const log = new ReportedLog([entry(1, 1), entry(2, 1), entry(3, 1)], hs(1), 4, label);
    const w = log.write([entry(2, 3), entry(3, 3), entry(4, 3)], 5, hs(3, 'peer2'));
    const phs = prefixHashes(EMPTY_PREFIX, [entry(1, 1), entry(2, 3), entry(3, 3), entry(4, 3)]);
    expect(w.cutFrom).toBe(2);
    expect(w.tiles).toEqual([
      { index: 2, term: 3, label: 'c2.3', ph: phs[1] },
      { index: 3, term: 3, label: 'c3.3', ph: phs[2] },
      { index: 4, term: 3, label: 'c4.3', ph: phs[3] },
    ]);
    expect(w.persisted).toEqual({ w: 5, term: 3, vote: 'peer2', lastIndex: 4, lastTerm: 3, lastPh: phs[3] });
    expect(log.tail().map((t) => t.index)).toEqual([1, 2, 3, 4]);
    // A hard state alone is a write too; a save that wrote nothing new (its number already told) is not.
    expect(log.write([], 6, hs(4, null)).persisted).toEqual({ w: 6, term: 4, vote: null, lastIndex: 4, lastTerm: 3, lastPh: phs[3] });
    expect(log.write([], 6, hs(4, null))).toEqual({ cutFrom: null, tiles: [], persisted: null });
  });

  it('keeps every prefix hash equal to the hash chain of the log as it stands, whatever writes replace', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ back: fc.nat(6), count: fc.integer({ min: 1, max: 40 }), term: fc.integer({ min: 1, max: 9 }) }), { maxLength: 60 }),
        (writes) => {
          let model: Entry[] = [];
          const log = new ReportedLog([], hs(0), 0, label);
          let w = 0;
          for (const { back, count, term } of writes) {
            const first = Math.max(1, model.length + 1 - back);
            const entries = Array.from({ length: count }, (_, k) => entry(first + k, term, k % 5 === 0 ? null : `d${first + k}-${term}-${w}`));
            const cuts = first <= model.length;
            model = [...model.slice(0, first - 1), ...entries];
            const r = log.write(entries, ++w, hs(term));
            expect(r.cutFrom).toBe(cuts ? first : null);
          }
          const phs = prefixHashes(EMPTY_PREFIX, model);
          expect(log.lastIndex).toBe(model.length);
          for (let i = 1; i <= model.length; i++) expect(log.ph(i)).toBe(phs[i - 1]);
          const tail = log.tail();
          expect(tail.length).toBe(Math.min(MAX_TILES, model.length));
          tail.forEach((t, k) => expect(t).toEqual({ index: model.length - tail.length + k + 1, term: model[model.length - tail.length + k]!.term, label: label(model[model.length - tail.length + k]!.data), ph: phs[model.length - tail.length + k] }));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps at most 500 tiles, and fewer when their labels would not fit the size asked for; grows past 1024 entries', () => {
    const entries = Array.from({ length: 1200 }, (_, i) => entry(i + 1, 1, 'x'.repeat(100)));
    const log = new ReportedLog(entries.slice(0, 10), hs(1), 1, label);
    for (let i = 10; i < 1200; i += 30) log.write(entries.slice(i, i + 30), i, hs(1));
    expect(log.tail().map((t) => t.index)).toEqual(Array.from({ length: 500 }, (_, k) => 701 + k));
    // Past its first 1024 slots, the hash array grew without losing any.
    const phs = prefixHashes(EMPTY_PREFIX, entries);
    expect([log.ph(1), log.ph(1024), log.ph(1025), log.ph(1200)]).toEqual([phs[0], phs[1023], phs[1024], phs[1199]]);
    const small = log.tail(10 * 164);
    expect(small.map((t) => t.index)).toEqual(Array.from({ length: 10 }, (_, k) => 1191 + k));
  });
});
