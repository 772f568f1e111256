// The rules of a key-value command (shared/kv-commands.ts): the check a peer runs on a client's
// list, the two usage forms, and how a command is printed.
import { describe, expect, it } from 'vitest';
import { parseKvLine } from '../../shared/command-line.ts';
import {
  ARITY,
  LIST_USAGE,
  OPS,
  TYPED_USAGE,
  arityError,
  commandList,
  commandWords,
  formatCommand,
  formatCommandList,
  isReadOnly,
  opNamed,
  parseCommand,
  type KvCommand,
} from '../../shared/kv-commands.ts';

function cmd(input: unknown[]): KvCommand {
  const p = parseCommand(input);
  if (!p.ok) throw new Error(p.message);
  return p.command;
}

function badMessage(input: unknown): string {
  const p = parseCommand(input);
  if (p.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return p.message;
}

describe('checking a client\'s command (parseCommand)', () => {
  it('turns numeric strings into numbers, as the original [x, add, 100]', () => {
    expect(cmd(['x', 'add', '100'])).toEqual({ op: 'add', key: 'x', amount: 100 });
    expect(cmd(['x', 'add', '-2.5'])).toEqual({ op: 'add', key: 'x', amount: -2.5 });
    expect(cmd(['y', 'set', '5'])).toEqual({ op: 'set', key: 'y', value: 5 });
    expect(cmd(['z', 'cas', '1', '2'])).toEqual({ op: 'cas', key: 'z', from: 1, to: 2 });
  });

  it('keeps non-numeric strings as strings for set and cas', () => {
    expect(cmd(['y', 'set', 'hello'])).toEqual({ op: 'set', key: 'y', value: 'hello' });
    expect(cmd(['y', 'set', '12abc'])).toEqual({ op: 'set', key: 'y', value: '12abc' });
    expect(cmd(['y', 'set', ' 5'])).toEqual({ op: 'set', key: 'y', value: ' 5' });
    expect(cmd(['y', 'cas', 'a', 'b'])).toEqual({ op: 'cas', key: 'y', from: 'a', to: 'b' });
    expect(cmd(['y', 'cas', null, 'b'])).toEqual({ op: 'cas', key: 'y', from: null, to: 'b' });
  });

  it('accepts operations in any case', () => {
    expect(cmd(['x', 'GET'])).toEqual({ op: 'get', key: 'x' });
  });

  it('rejects a wrong number of arguments, naming the right form', () => {
    expect(badMessage(['x', 'add'])).toMatch(/add takes 1 argument after the key \(\[key, "add", number\]\), got 0/);
    expect(badMessage(['x', 'get', '1'])).toMatch(/get takes 0 arguments.*got 1/);
    expect(badMessage(['x', 'cas', '1'])).toMatch(/cas takes 2 arguments/);
    expect(badMessage(['x', 'set'])).toMatch(/set takes 1 argument/);
    expect(badMessage(['x', 'del', 'y'])).toMatch(/del takes 0 arguments/);
    expect(badMessage(['x'])).toMatch(/at least a key and an operation/);
    expect(badMessage([])).toMatch(/got 0 items/);
  });

  it('rejects an unknown operation, listing the valid ones', () => {
    expect(badMessage(['x', 'mul', '2'])).toBe('unknown operation "mul" (second item); operations: set, add, get, del, cas');
    expect(badMessage(['x', 3])).toMatch(/unknown operation 3/);
  });

  it('rejects adding something that is not a number', () => {
    expect(badMessage(['x', 'add', 'ten'])).toBe('add needs a number to add, got "ten"');
    expect(badMessage(['x', 'add', true])).toMatch(/add needs a number/);
  });

  it('rejects bad keys and values', () => {
    expect(badMessage('x add 1')).toMatch(/a command is a list/);
    expect(badMessage([5, 'get'])).toMatch(/key \(first item\) must be a string/);
    expect(badMessage(['', 'get'])).toMatch(/must not be empty/);
    expect(badMessage(['k'.repeat(300), 'get'])).toMatch(/longer than 256/);
    expect(badMessage(['x', 'set', { a: 1 }])).toMatch(/set: the value must be a number, a string or true\/false, got an object/);
    expect(badMessage(['x', 'set', null])).toMatch(/got null/);
    expect(badMessage(['x', 'cas', [1], 2])).toMatch(/or null for "not set"/);
  });
});

describe('operations and their arity', () => {
  it('names an operation in any case and nothing else', () => {
    expect(OPS.map((op) => opNamed(op.toUpperCase()))).toEqual(OPS);
    expect(opNamed('mul')).toBeNull();
    expect(opNamed('')).toBeNull();
    expect(opNamed('constructor')).toBeNull();
  });

  it('words a wrong number of arguments in the list form a peer answers with', () => {
    expect(arityError('add', 0, 'list')).toBe('add takes 1 argument after the key ([key, "add", number]), got 0');
    expect(arityError('get', 1, 'list')).toBe('get takes 0 arguments after the key ([key, "get"]), got 1');
    expect(arityError('cas', 1, 'list')).toBe('cas takes 2 arguments after the key ([key, "cas", from, to]), got 1');
  });

  it('words a wrong number of arguments in the typed form the terminal client and the console answer with', () => {
    expect(arityError('add', 0, 'typed')).toBe('add takes 1 argument after the key, got 0; usage: add KEY NUMBER (or KEY add NUMBER)');
    expect(arityError('del', 2, 'typed')).toBe('del takes 0 arguments after the key, got 2; usage: del KEY (or KEY del)');
    expect(arityError('cas', 0, 'typed')).toBe('cas takes 2 arguments after the key, got 0; usage: cas KEY FROM TO (or KEY cas FROM TO; FROM null means "not set")');
  });

  it('gives every operation both usage forms, each naming the operation and as many arguments as it takes', () => {
    for (const op of OPS) {
      expect(arityError(op, ARITY[op], 'list'), op).toBeNull();
      expect(arityError(op, ARITY[op], 'typed'), op).toBeNull();
      expect(LIST_USAGE[op].split(', ')).toHaveLength(2 + ARITY[op]);
      expect(LIST_USAGE[op]).toContain(`"${op}"`);
      expect(TYPED_USAGE[op].split(' (')[0]!.split(' ')).toHaveLength(2 + ARITY[op]);
      expect(TYPED_USAGE[op].startsWith(`${op} KEY`)).toBe(true);
    }
  });

  it('answers the peer and the typed line from the same rule', () => {
    expect(badMessage(['x', 'add'])).toBe(arityError('add', 0, 'list'));
    expect(parseKvLine('x add')).toEqual({ ok: false, message: arityError('add', 0, 'typed') });
    expect(parseKvLine("['x', 'cas', 1]")).toEqual({ ok: false, message: arityError('cas', 1, 'typed') });
  });
});

describe('formatting', () => {
  it('formats commands as a person would type them', () => {
    expect(formatCommand(cmd(['x', 'add', '100']))).toBe('x add 100');
    expect(formatCommand(cmd(['y', 'set', 'two words']))).toBe('y set "two words"');
    expect(formatCommand(cmd(['z', 'cas', null, 1]))).toBe('z cas null 1');
    expect(formatCommand(cmd(['b', 'set', true]))).toBe('b set true');
    expect(formatCommand(cmd(['b', 'set', 'true']))).toBe('b set "true"');
    expect(commandWords(cmd(['x', 'add', '100']))).toEqual(['x', 'add', '100']);
  });

  it('marks only get as read-only', () => {
    expect(isReadOnly(cmd(['x', 'get']))).toBe(true);
    for (const c of [['x', 'set', 1], ['x', 'add', 1], ['x', 'del'], ['x', 'cas', 1, 2]]) expect(isReadOnly(cmd(c))).toBe(false);
  });

  it('formats a command so that the typed language reads it back as the same command', () => {
    const commands = [
      ['x', 'add', 100],
      ['y', 'set', 'two words'],
      ['y', 'set', '5'],
      ['y', 'set', 'True'],
      ['y', 'set', 'None'],
      ['y', 'set', "it's \"quoted\""],
      ['y', 'set', '[x, y]'],
      ['y', 'set', 'back\\slash\nnewline\u00e9'],
      ['add', 'set', 1],
      ['GET', 'del'],
      ['set', 'get'],
      ['cas', 'cas', null, 'add'],
      ['5', 'set', false],
      ['z', 'cas', 'null', 'x'],
    ].map(cmd);
    for (const c of commands) {
      const typed = formatCommand(c);
      const back = parseKvLine(typed);
      expect(back.ok, typed).toBe(true);
      if (back.ok) expect(cmd(back.value), typed).toEqual(c);
    }
  });

  it('formats an unchecked list for the console, quoting a key that names an operation', () => {
    expect(formatCommandList(['x', 'add', 100])).toBe('x add 100');
    expect(formatCommandList(['name', 'set', 'hello world'])).toBe('name set "hello world"');
    expect(formatCommandList(['add', 'set', 1])).toBe('"add" set 1');
    expect(formatCommandList(['y', 'set', '5'])).toBe('y set "5"');
    expect(formatCommandList(['k', 'cas', null, true])).toBe('k cas null true');
    expect(commandList(cmd(['k', 'cas', null, true]))).toEqual(['k', 'cas', null, true]);
  });
});
