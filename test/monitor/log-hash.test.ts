// The entry and prefix hashes the monitor compares: deterministic, sensitive to every input, and
// within the 53 bits a JSON number carries exactly.
import { describe, expect, it } from 'vitest';
import { EMPTY_PREFIX, entryHash, formatEntryHash, formatPrefixHash, prefixHash, prefixHashes } from '../../shared/log-hash.ts';

const cmd = (s: string) => JSON.stringify({ cmd: s.split(' '), client: 'c-1', seq: 1 });

describe('entryHash', () => {
  it('gives the same 32-bit value for the same data every time', () => {
    const h = entryHash(cmd('x add 100'));
    expect(entryHash(cmd('x add 100'))).toBe(h);
    expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
  });

  it('tells apart commands that differ in one character, the no-op and the empty string', () => {
    const values = [cmd('x add 100'), cmd('x add 101'), cmd('y add 100'), '', null].map(entryHash);
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('prefixHash', () => {
  it('is an integer below 2^53 that survives a JSON round trip', () => {
    let ph = EMPTY_PREFIX;
    for (let i = 1; i <= 1000; i++) {
      ph = prefixHash(ph, 1 + (i >> 4), entryHash(cmd(`k add ${i}`)));
      expect(Number.isSafeInteger(ph) && ph >= 0).toBe(true);
      expect(JSON.parse(JSON.stringify(ph))).toBe(ph);
    }
  });

  it('changes with the previous prefix, the term and the entry', () => {
    const base = prefixHash(12345678901234, 3, 42);
    expect(prefixHash(12345678901235, 3, 42)).not.toBe(base);
    expect(prefixHash(12345678901234 + 2 ** 32, 3, 42)).not.toBe(base);
    expect(prefixHash(12345678901234, 4, 42)).not.toBe(base);
    expect(prefixHash(12345678901234, 3, 43)).not.toBe(base);
    expect(prefixHash(12345678901234, 3, 42)).toBe(base);
  });

  it('uses the high bits too: 10,000 chained hashes are distinct and spread over 53 bits', () => {
    let ph = EMPTY_PREFIX;
    const seen = new Set<number>();
    let high = 0;
    for (let i = 1; i <= 10_000; i++) {
      ph = prefixHash(ph, 1, entryHash(null));
      seen.add(ph);
      if (ph >= 2 ** 52) high++;
    }
    expect(seen.size).toBe(10_000);
    // About half should have the top bit set.
    expect(high).toBeGreaterThan(4000);
    expect(high).toBeLessThan(6000);
  });

  it('prefixHashes chains from the given start like prefixHash does step by step', () => {
    const entries = [
      { term: 1, data: null },
      { term: 1, data: cmd('x add 1') },
      { term: 2, data: cmd('x add 2') },
    ];
    const chained = prefixHashes(EMPTY_PREFIX, entries);
    let ph = EMPTY_PREFIX;
    const stepwise = entries.map((e) => (ph = prefixHash(ph, e.term, entryHash(e.data))));
    expect(chained).toEqual(stepwise);
    // Two logs that differ at index 2 differ at every later index.
    const other = prefixHashes(EMPTY_PREFIX, [entries[0]!, { term: 1, data: cmd('x add 9') }, entries[2]!]);
    expect(other[0]).toBe(chained[0]);
    expect(other[1]).not.toBe(chained[1]);
    expect(other[2]).not.toBe(chained[2]);
  });

  it('formats hashes with a fixed number of hex digits', () => {
    expect(formatPrefixHash(255)).toBe('000000000000ff');
    expect(formatEntryHash(255)).toBe('000000ff');
  });
});
