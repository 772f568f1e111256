import { describe, expect, it } from 'vitest';
import { KvStore, decodeEntry, encodeEntry, entryLabel, type ApplyOutcome } from '../../peer/kv.ts';
import { parseCommand, type KvCommand } from '../../shared/kv-commands.ts';

function cmd(input: unknown[]): KvCommand {
  const p = parseCommand(input);
  if (!p.ok) throw new Error(p.message);
  return p.command;
}

/** Applies commands as log entries 1, 2, 3... and returns the outcomes. */
function run(store: KvStore, ...commands: unknown[][]): ApplyOutcome[] {
  return commands.map((c) => store.apply(encodeEntry(cmd(c)), store.appliedIndex + 1));
}

function values(outcomes: ApplyOutcome[]): unknown[] {
  return outcomes.map((o) => (o.ok ? o.value : `error: ${o.message}`));
}

describe('KvStore commands', () => {
  it('set returns the value it stored', () => {
    const kv = new KvStore();
    expect(values(run(kv, ['y', 'set', '5'], ['y', 'get'], ['s', 'set', 'hi'], ['s', 'get']))).toEqual([5, 5, 'hi', 'hi']);
  });

  it('add counts a missing key as 0 and returns the new value', () => {
    const kv = new KvStore();
    expect(values(run(kv, ['x', 'add', '100'], ['x', 'add', 5], ['x', 'add', '-105']))).toEqual([100, 105, 0]);
  });

  it('get returns null for a missing key', () => {
    expect(values(run(new KvStore(), ['nope', 'get']))).toEqual([null]);
  });

  it('del returns the previous value, or null', () => {
    const kv = new KvStore();
    expect(values(run(kv, ['x', 'set', 3], ['x', 'del'], ['x', 'del'], ['x', 'get']))).toEqual([3, 3, null, null]);
  });

  it('cas swaps only when the value matches (null meaning not set)', () => {
    const kv = new KvStore();
    expect(values(run(kv, ['c', 'cas', 1, 2], ['c', 'cas', null, '1'], ['c', 'cas', '1', 2], ['c', 'cas', 1, 3], ['c', 'get']))).toEqual([
      false,
      true,
      true,
      false,
      2,
    ]);
  });

  it('adding to a string is a bad command and changes nothing', () => {
    const kv = new KvStore();
    const [, r] = run(kv, ['s', 'set', 'abc'], ['s', 'add', 1]);
    expect(r).toEqual({ ok: false, error: 'bad_command', message: 'cannot add to s: it holds a string ("abc"), not a number' });
    expect(kv.valueOf('s')).toBe('abc');
  });

  it('reports the key an entry touched, and null for a no-op', () => {
    const kv = new KvStore();
    expect(kv.apply(null, 1)).toEqual({ ok: true, value: null, key: null });
    expect(kv.apply(encodeEntry(cmd(['x', 'add', 1])), 2)).toEqual({ ok: true, value: 1, key: 'x' });
    expect(kv.appliedIndex).toBe(2);
  });

  it('never throws on entry data that does not decode', () => {
    const kv = new KvStore();
    expect(kv.apply('not json', 1)).toMatchObject({ ok: false, error: 'bad_command' });
    expect(kv.apply('{"cmd":["x","nope"]}', 2)).toMatchObject({ ok: false, message: expect.stringMatching(/unknown operation/) });
    expect(kv.apply('[1]', 3)).toMatchObject({ ok: false });
    expect(kv.apply('{"cmd":["x","get"],"client":"c","seq":0}', 4)).toMatchObject({ ok: false, message: expect.stringMatching(/client\/seq/) });
  });

  it('read serves get and refuses writes', () => {
    const kv = new KvStore();
    run(kv, ['x', 'set', 1]);
    expect(kv.read(cmd(['x', 'get']))).toEqual({ ok: true, value: 1, key: 'x' });
    expect(kv.read(cmd(['x', 'set', 2]))).toMatchObject({ ok: false });
    expect(kv.valueOf('x')).toBe(1);
  });

  it('entries returns a copy of the store', () => {
    const kv = new KvStore();
    run(kv, ['a', 'set', 1], ['b', 'set', 'two']);
    const e = kv.entries();
    expect(e).toEqual({ a: 1, b: 'two' });
    e.a = 99;
    expect(kv.valueOf('a')).toBe(1);
  });
});

describe('client sessions (dissertation §6.3)', () => {
  it('applies a retried (client, seq) once and returns the first outcome', () => {
    const kv = new KvStore();
    const add = cmd(['x', 'add', 10]);
    const first = kv.apply(encodeEntry(add, 'c1', 1), 1);
    const retry = kv.apply(encodeEntry(add, 'c1', 1), 2);
    expect(first).toEqual({ ok: true, value: 10, key: 'x' });
    expect(retry).toEqual(first);
    expect(kv.valueOf('x')).toBe(10);
    expect(kv.apply(encodeEntry(add, 'c1', 2), 3)).toEqual({ ok: true, value: 20, key: 'x' });
  });

  it('keeps sessions of different clients apart', () => {
    const kv = new KvStore();
    const add = cmd(['x', 'add', 1]);
    kv.apply(encodeEntry(add, 'a', 1), 1);
    kv.apply(encodeEntry(add, 'b', 1), 2);
    expect(kv.valueOf('x')).toBe(2);
  });

  it('caches a failed outcome too', () => {
    const kv = new KvStore();
    kv.apply(encodeEntry(cmd(['s', 'set', 'str'])), 1);
    const first = kv.apply(encodeEntry(cmd(['s', 'add', 1]), 'c', 1), 2);
    kv.apply(encodeEntry(cmd(['s', 'set', 0])), 3);
    expect(kv.apply(encodeEntry(cmd(['s', 'add', 1]), 'c', 1), 4)).toEqual(first);
    expect(kv.valueOf('s')).toBe(0);
  });

  it('refuses an older seq than the last one seen as a stale sequence', () => {
    const kv = new KvStore();
    kv.apply(encodeEntry(cmd(['x', 'add', 1]), 'c', 5), 1);
    const r = kv.apply(encodeEntry(cmd(['x', 'add', 1]), 'c', 4), 2);
    expect(r).toEqual({ ok: false, error: 'bad_command', message: 'stale sequence: client c already used seq 5, this command has seq 4' });
    expect(kv.valueOf('x')).toBe(1);
  });

  it('forgets the least recently used client beyond the bound, the same way on every replica', () => {
    const replay = () => {
      const kv = new KvStore(3);
      const add = cmd(['x', 'add', 1]);
      let i = 0;
      for (const c of ['a', 'b', 'c']) kv.apply(encodeEntry(add, c, 1), ++i);
      kv.apply(encodeEntry(add, 'a', 2), ++i); // a is now the most recent; b the least
      kv.apply(encodeEntry(add, 'd', 1), ++i); // evicts b
      return { kv, i };
    };
    const { kv, i } = replay();
    expect(kv.sessionCount).toBe(3);
    const before = kv.valueOf('x');
    // a, c, d are remembered: their retries are not applied again
    for (const [c, s] of [['a', 2], ['c', 1], ['d', 1]] as const) kv.apply(encodeEntry(cmd(['x', 'add', 1]), c, s), i + 1);
    expect(kv.valueOf('x')).toBe(before);
    // b was forgotten: its retry is applied again (the documented limit of a bounded table)
    kv.apply(encodeEntry(cmd(['x', 'add', 1]), 'b', 1), i + 2);
    expect(kv.valueOf('x')).toBe((before as number) + 1);
    // a second replica applying the same log ends in the same state
    const other = replay();
    for (const [c, s] of [['a', 2], ['c', 1], ['d', 1]] as const) other.kv.apply(encodeEntry(cmd(['x', 'add', 1]), c, s), i + 1);
    other.kv.apply(encodeEntry(cmd(['x', 'add', 1]), 'b', 1), i + 2);
    expect(other.kv.entries()).toEqual(kv.entries());
  });
});

describe('entry encoding and formatting', () => {
  it('round-trips a command with its session through Entry.data', () => {
    const c = cmd(['x', 'cas', '1', 'two']);
    const d = decodeEntry(encodeEntry(c, 'cl', 7));
    expect(d).toEqual({ ok: true, entry: { command: c, client: 'cl', seq: 7 } });
    expect(decodeEntry(encodeEntry(c))).toEqual({ ok: true, entry: { command: c } });
  });

  it('labels a log entry as a person would type it, a no-op as noop and undecodable data as ?', () => {
    expect(entryLabel(null)).toBe('noop');
    expect(entryLabel(encodeEntry(cmd(['k', 'del']), 'c', 1))).toBe('k del');
    expect(entryLabel(encodeEntry(cmd(['y', 'set', 'two words'])))).toBe('y set "two words"');
    expect(entryLabel('garbage')).toBe('?');
  });
});
