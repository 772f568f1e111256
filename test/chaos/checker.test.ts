import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, checkKey, formatCounterexample, formatOperation, type CheckOptions } from './checker.ts';
import type { KvInput, Operation, Outcome, Value } from './history.ts';
import { simulatedHistory } from './simulated-history.ts';

// A tiny history builder: op(client, input, invoke, ret, result). ret null = unknown outcome.
let nextId = 0;
function op(client: string, input: KvInput, invoke: number, ret: number | null, result?: Value | { fail: string }, key = 'x'): Operation {
  let outcome: Outcome;
  if (ret === null) outcome = { type: 'unknown', error: 'timeout' };
  else if (result !== null && typeof result === 'object' && !Array.isArray(result) && 'fail' in result) outcome = { type: 'fail', error: String(result.fail) };
  else outcome = { type: 'ok', value: (result ?? null) as Value };
  return { id: nextId++, client, key, input, invoke, ret: ret ?? Infinity, outcome };
}
const set = (value: Value): KvInput => ({ f: 'set', value });
const add = (n: number): KvInput => ({ f: 'add', n });
const get: KvInput = { f: 'get' };
const del: KvInput = { f: 'del' };
const cas = (from: Value, to: Value): KvInput => ({ f: 'cas', from, to });

type Search = NonNullable<CheckOptions['search']>;
const searches: Search[] = ['auto', 'depth-first', 'breadth-first'];

describe.each(searches)('linearizability checker (%s search)', (search) => {
const verdict = (ops: Operation[]) => checkKey('x', ops, { search }).verdict;

describe('accepts', () => {
  it('a sequential history of every command, a missing key reading as null and adding from 0', () => {
    expect(
      verdict([
        op('a', get, 0, 1, null),
        op('a', add(5), 2, 3, 5),
        op('a', set(7), 4, 5, 7),
        op('a', cas(7, 9), 6, 7, true),
        op('a', cas(7, 11), 8, 9, false),
        op('a', del, 10, 11, 9),
        op('a', get, 12, 13, null),
        op('a', del, 14, 15, null),
      ]),
    ).toBe('linearizable');
  });

  it('concurrent overlapping operations taking effect in an order other than invocation order', () => {
    // b's add is invoked later but takes effect first; the read overlaps both.
    expect(
      verdict([
        op('a', add(1), 0, 10, 3),
        op('b', add(2), 1, 9, 2),
        op('c', get, 2, 3, null),
        op('c', get, 4, 12, 3),
      ]),
    ).toBe('linearizable');
  });

  it('an unknown add that took effect, seen by later reads', () => {
    expect(verdict([op('a', add(5), 0, null), op('b', get, 10, 11, 5), op('b', get, 12, 13, 5)])).toBe('linearizable');
  });

  it('an unknown add that never took effect', () => {
    expect(verdict([op('a', add(5), 0, null), op('b', get, 10, 11, null), op('b', add(1), 12, 13, 1)])).toBe('linearizable');
  });

  it('an unknown add that takes effect long after its client gave up', () => {
    expect(verdict([op('a', add(5), 0, null), op('b', get, 10, 11, null), op('b', get, 20, 21, 5)])).toBe('linearizable');
  });

  it('many unknown identical adds, of which some took effect', () => {
    const ops = Array.from({ length: 60 }, (_, i) => op(`c${i}`, add(1), i, null));
    ops.push(op('r', get, 100, 101, 17), op('r', get, 102, 103, 23), op('r', add(1), 104, 105, 24));
    expect(verdict(ops)).toBe('linearizable');
  });

  it('failed operations as if they never happened', () => {
    expect(verdict([op('a', add(100), 0, 1, { fail: 'not_leader' }), op('a', set('s'), 2, 3, { fail: 'bad_command' }), op('b', get, 4, 5, null)])).toBe('linearizable');
  });

  it('one of two concurrent cas winning', () => {
    expect(verdict([op('a', set(0), 0, 1, 0), op('a', cas(0, 1), 2, 5, true), op('b', cas(0, 2), 3, 6, false), op('c', get, 7, 8, 1)])).toBe('linearizable');
  });

  it('each key on its own (keys never constrain each other)', () => {
    const r = checkHistory([op('a', set(1), 0, 1, 1, 'x'), op('a', set(2), 2, 3, 2, 'y'), op('b', get, 4, 5, 1, 'x'), op('b', get, 6, 7, 2, 'y')]);
    expect(r.verdict).toBe('linearizable');
    expect(r.keys.map((k) => k.key)).toEqual(['x', 'y']);
  });

  it('numeric strings as numbers, as the contract reads them', () => {
    expect(verdict([op('a', set('5'), 0, 1, 5), op('b', add('2' as unknown as number), 2, 3, 7), op('b', cas('7', '-1.5e1'), 4, 5, true), op('c', get, 6, 7, -15)])).toBe('linearizable');
  });

  it('non-number values compared as JSON, with object keys in any order', () => {
    expect(verdict([op('a', set({ b: 1, a: [1, 'z'] }), 0, 1, { b: 1, a: [1, 'z'] }), op('b', get, 2, 3, { a: [1, 'z'], b: 1 })])).toBe('linearizable');
  });
});

describe('rejects', () => {
  it('a stale read, and shows the read, the value it should have seen and the writes before it', () => {
    const ops = [op('a', set(1), 0, 1, 1), op('a', set(2), 2, 3, 2), op('b', get, 4, 5, 1)];
    const r = checkKey('x', ops, { search });
    expect(r.verdict).toBe('not_linearizable');
    if (search === 'depth-first') return; // the depth-first search alone gives no counterexample
    const c = r.counterexample!;
    expect(c.stuck.id).toBe(ops[2]!.id);
    expect(c.possible).toEqual([2]);
    expect(c.before.map((o) => o.id)).toEqual([ops[0]!.id, ops[1]!.id]);
    const text = formatCounterexample(c);
    expect(text).toContain('get returned 1, but the value was 2');
    expect(text).toContain(formatOperation(ops[1]!));
  });

  it('a lost add (two adds, the second result ignoring the first)', () => {
    expect(verdict([op('a', add(1), 0, 1, 1), op('b', add(1), 2, 3, 1)])).toBe('not_linearizable');
  });

  it('a lost add between concurrent adds both returning the same total', () => {
    expect(verdict([op('a', add(1), 0, 5, 1), op('b', add(1), 1, 6, 1)])).toBe('not_linearizable');
  });

  it('a lost add found by a later read', () => {
    expect(verdict([op('a', add(1), 0, 1, 1), op('b', add(2), 2, 3, 3), op('c', get, 4, 5, 1)])).toBe('not_linearizable');
  });

  it('two winning cas from the same value', () => {
    const r = checkKey('x', [op('a', set(0), 0, 1, 0), op('a', cas(0, 1), 2, 5, true), op('b', cas(0, 2), 3, 6, true)], { search });
    expect(r.verdict).toBe('not_linearizable');
    if (search !== 'depth-first') expect(formatCounterexample(r.counterexample!)).toMatch(/cas 0 [12] returned true, but the value was [12]/);
  });

  it('a read of a value never written', () => {
    const r = checkKey('x', [op('a', set(1), 0, 1, 1), op('b', get, 2, 3, 7)], { search });
    expect(r.verdict).toBe('not_linearizable');
    if (search !== 'depth-first') expect(formatCounterexample(r.counterexample!)).toContain('get returned 7, but the value was 1');
  });

  it('a read of a value written only after the read returned', () => {
    expect(verdict([op('b', get, 0, 1, 5), op('a', set(5), 2, 3, 5)])).toBe('not_linearizable');
  });

  it('an unknown add seen, then unseen', () => {
    expect(verdict([op('a', add(5), 0, null), op('b', get, 10, 11, 5), op('b', get, 12, 13, null)])).toBe('not_linearizable');
  });

  it('more unknown adds taking effect than there were', () => {
    const ops = Array.from({ length: 30 }, (_, i) => op(`c${i}`, add(1), i, null));
    ops.push(op('r', get, 100, 101, 31));
    expect(verdict(ops)).toBe('not_linearizable');
  });

  it('an add that succeeded on a value that is not a number', () => {
    expect(verdict([op('a', set('word'), 0, 1, 'word'), op('b', add(1), 2, 3, 1)])).toBe('not_linearizable');
  });

  it('a failed add that took effect after all', () => {
    expect(verdict([op('a', add(100), 0, 1, { fail: 'not_leader' }), op('b', get, 4, 5, 100)])).toBe('not_linearizable');
  });

  it('a whole history when one key is not linearizable', () => {
    const r = checkHistory([op('a', set(1), 0, 1, 1, 'x'), op('b', get, 2, 3, 9, 'y')], { search });
    expect(r.verdict).toBe('not_linearizable');
    expect(r.keys.find((k) => k.key === 'y')!.verdict).toBe('not_linearizable');
    expect(r.keys.find((k) => k.key === 'x')!.verdict).toBe('linearizable');
  });
});

});

describe('linearizability checker on long histories', () => {
  it('accepts thousands of concurrent operations on one key of a correct store, some with unknown outcomes', () => {
    for (const seed of [1, 2, 3]) {
      const ops = simulatedHistory({ seed, operations: 3000, clients: 6, unknownRate: 0.03, addAmounts: [1] });
      const r = checkKey('x', ops);
      expect(r.verdict, `seed ${seed}`).toBe('linearizable');
      expect(r.operations).toBeGreaterThan(2500);
    }
  });

  it('rejects a long history after one read is made stale, pointing at that read', () => {
    for (const [operations, clients, unknownRate] of [
      [3000, 5, 0.01],
      [300, 10, 0.1],
    ] as const) {
      const ops = simulatedHistory({ seed: 7, operations, clients, unknownRate, addAmounts: [1] });
      // A completed read well after a completed set in the middle now returns that set's value,
      // long overwritten.
      const sets = ops.filter((o) => o.input.f === 'set' && o.outcome.type === 'ok');
      const early = sets[Math.floor(sets.length / 2)]!;
      const read = ops.find((o) => o.input.f === 'get' && o.outcome.type === 'ok' && o.invoke > early.ret + 100)!;
      const stale = (early.input as { value: Value }).value;
      expect(read.outcome).not.toEqual({ type: 'ok', value: stale });
      read.outcome = { type: 'ok', value: stale };
      const r = checkKey('x', ops);
      expect(r.verdict).toBe('not_linearizable');
      expect(r.counterexample!.stuck.id).toBe(read.id);
    }
  });

  it('gives up with inconclusive when the step budget runs out', () => {
    const ops = simulatedHistory({ seed: 4, operations: 500, clients: 5 });
    expect(checkKey('x', ops, { search: 'depth-first', maxSteps: 50 }).verdict).toBe('inconclusive');
    expect(checkKey('x', ops, { search: 'breadth-first', maxSteps: 50 }).verdict).toBe('inconclusive');
  });
});

describe('linearizability checker, both searches', () => {
  // Small random histories, mostly not linearizable: values and results from a tiny domain.
  const small = fc.integer({ min: 0, max: 2 });
  const inputArb: fc.Arbitrary<KvInput> = fc.oneof(
    small.map((v) => set(v)),
    fc.constant(add(1)),
    fc.constant(get),
    fc.constant(del),
    fc.tuple(small, small).map(([a, b]) => cas(a, b)),
  );
  const opArb = fc.record({
    client: fc.integer({ min: 0, max: 2 }),
    input: inputArb,
    start: fc.integer({ min: 0, max: 30 }),
    length: fc.integer({ min: 0, max: 10 }),
    outcome: fc.oneof(
      { weight: 6, arbitrary: fc.oneof(small, fc.constant(null), fc.boolean()).map((value): Outcome => ({ type: 'ok', value })) },
      { weight: 2, arbitrary: fc.constant<Outcome>({ type: 'unknown', error: 'timeout' }) },
      { weight: 1, arbitrary: fc.constant<Outcome>({ type: 'fail', error: 'not_leader' }) },
    ),
  });
  const historyArb = fc.array(opArb, { minLength: 1, maxLength: 9 }).map((xs) =>
    xs.map((x, id): Operation => ({
      id,
      client: `c${x.client}`,
      key: 'x',
      input: x.input,
      invoke: x.start,
      ret: x.outcome.type === 'unknown' ? Infinity : x.start + x.length,
      outcome: x.outcome,
    })),
  );

  /**
   * The definition, by brute force: some subset of the unknown operations plus every completed
   * one, in some order that respects real time, replays on a plain map with the recorded results.
   */
  function linearizableByDefinition(all: Operation[]): boolean {
    const ops = all.filter((o) => o.outcome.type !== 'fail');
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const replay = (order: Operation[]): boolean => {
      let value: Value = null;
      for (const o of order) {
        const i = o.input;
        let result: Value;
        if (i.f === 'set') result = value = i.value;
        else if (i.f === 'add') {
          if (value !== null && typeof value !== 'number') {
            if (o.outcome.type === 'ok') return false;
            continue;
          }
          result = value = (value ?? 0) + i.n;
        } else if (i.f === 'get') result = value;
        else if (i.f === 'del') {
          result = value;
          value = null;
        } else {
          result = same(value, i.from);
          if (result) value = i.to;
        }
        if (o.outcome.type === 'ok' && !same(result, o.outcome.value)) return false;
      }
      return true;
    };
    const search = (chosen: Operation[], rest: Operation[]): boolean => {
      if (rest.every((o) => o.outcome.type !== 'ok')) return replay(chosen);
      return rest.some((o, k) => {
        // o can go next only if nothing left had returned before o was invoked.
        if (rest.some((p) => p !== o && p.ret < o.invoke)) return false;
        return search([...chosen, o], rest.filter((_, j) => j !== k));
      });
    };
    // Unknown operations left in `rest` at the end are the ones that never took effect.
    return search([], ops);
  }

  it('agree with the definition on random small histories', () => {
    fc.assert(
      fc.property(
        historyArb.filter((ops) => ops.length <= 6),
        (ops) => {
          const expected = linearizableByDefinition(ops) ? 'linearizable' : 'not_linearizable';
          expect(checkKey('x', ops, { search: 'depth-first' }).verdict).toBe(expected);
          expect(checkKey('x', ops, { search: 'breadth-first' }).verdict).toBe(expected);
        },
      ),
      { numRuns: 2000, seed: 43 },
    );
  });

  it('agree on random small histories', () => {
    fc.assert(
      fc.property(historyArb, (ops) => {
        const dfs = checkKey('x', ops, { search: 'depth-first' }).verdict;
        const bfs = checkKey('x', ops, { search: 'breadth-first' }).verdict;
        expect(bfs).toBe(dfs);
      }),
      { numRuns: 3000, seed: 42 },
    );
  });

  it('accept every history of a correct store', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 8 }), (seed, clients) => {
        const ops = simulatedHistory({ seed, operations: 60, clients, unknownRate: 0.2 });
        expect(checkKey('x', ops, { search: 'depth-first' }).verdict).toBe('linearizable');
        expect(checkKey('x', ops, { search: 'breadth-first' }).verdict).toBe('linearizable');
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
