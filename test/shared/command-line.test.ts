import { describe, expect, it } from 'vitest';
import { parseKvLine, parseKvWords, parseListLiteral, tokenize, wordValue } from '../../shared/command-line.ts';

const ok = (line: string) => {
  const r = parseKvLine(line);
  if (!r.ok) throw new Error(`${line}: ${r.message}`);
  return r.value;
};
const err = (line: string) => {
  const r = parseKvLine(line);
  if (r.ok) throw new Error(`${line} parsed as ${JSON.stringify(r.value)}`);
  return r.message;
};

describe('splitting a line into words', () => {
  it('separates on whitespace and keeps quoted text whole, marking it quoted', () => {
    expect(tokenize(`a "b c" 'd\\'e' true`)).toEqual({
      ok: true,
      value: [
        { text: 'a', quoted: false },
        { text: 'b c', quoted: true },
        { text: "d'e", quoted: true },
        { text: 'true', quoted: false },
      ],
    });
  });

  it('reads JSON and Python escapes, and keeps an unknown escape as typed', () => {
    const r = tokenize(`"a\\nb\\t\\u00e9\\\\" 'x\\d'`);
    expect(r).toEqual({ ok: true, value: [{ text: 'a\nb\t\u00e9\\', quoted: true }, { text: 'x\\d', quoted: true }] });
  });

  it('names an unterminated quote', () => {
    const r = tokenize('set y "open');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/missing closing ".*unterminated double quote/);
  });

  it('reads bare numbers, true/false/null (and Python spellings) as values, quoted words as strings', () => {
    const values = ['5', '-2.5', '1e3', '007x', 'true', 'False', 'null', 'None', 'word'].map((text) => wordValue({ text, quoted: false }));
    expect(values).toEqual([5, -2.5, 1000, '007x', true, false, null, null, 'word']);
    expect(wordValue({ text: '5', quoted: true })).toBe('5');
    expect(wordValue({ text: 'null', quoted: true })).toBe('null');
  });
});

describe('reading list literals', () => {
  it('reads JSON and Python-style lists, with bare words and a trailing comma', () => {
    expect(parseListLiteral('["x","add",100]')).toEqual({ ok: true, value: ['x', 'add', 100] });
    expect(parseListLiteral("['x', 'set', 'it\\'s', ]")).toEqual({ ok: true, value: ['x', 'set', "it's"] });
    expect(parseListLiteral("['z', 'cas', None, 1]")).toEqual({ ok: true, value: ['z', 'cas', null, 1] });
    expect(parseListLiteral('[x, add, 100]')).toEqual({ ok: true, value: ['x', 'add', 100] });
    expect(parseListLiteral('[]')).toEqual({ ok: true, value: [] });
  });

  it('rejects a list that is not closed, has text after it or lacks a comma', () => {
    expect(parseListLiteral("['x', 'add'")).toEqual({ ok: false, message: expect.stringMatching(/must end with \]/) });
    expect(parseListLiteral("['x'] extra")).toEqual({ ok: false, message: 'unexpected text after ]' });
    expect(parseListLiteral("['x' 'y']")).toEqual({ ok: false, message: expect.stringMatching(/expected , or \]/) });
    expect(parseListLiteral("['x', , 'y']").ok).toBe(false);
  });
});

describe('reading a key-value command line', () => {
  it('gives the same command for key-first, operation-first and list forms', () => {
    for (const line of ['x add 100', 'add x 100', '  x ADD 100 ', 'ADD x 100', '[x, add, 100]', '["x", "add", 100]']) {
      expect(ok(line), line).toEqual(['x', 'add', 100]);
    }
    expect(ok("['x', 'add', '100']")).toEqual(['x', 'add', '100']);
    expect(ok("['x', 'ADD', '100']")).toEqual(['x', 'add', '100']);
  });

  it('reads every operation, verb first and key first', () => {
    expect(ok('get x')).toEqual(['x', 'get']);
    expect(ok('x get')).toEqual(['x', 'get']);
    expect(ok('set y 5')).toEqual(['y', 'set', 5]);
    expect(ok('y set 5')).toEqual(['y', 'set', 5]);
    expect(ok('del k')).toEqual(['k', 'del']);
    expect(ok('cas k a b')).toEqual(['k', 'cas', 'a', 'b']);
    expect(ok("cas z null 'a b'")).toEqual(['z', 'cas', null, 'a b']);
    expect(ok('SET y true')).toEqual(['y', 'set', true]);
  });

  it('keeps quoted values as strings and keys as typed', () => {
    expect(ok('set y "two words"')).toEqual(['y', 'set', 'two words']);
    expect(ok('set y "5"')).toEqual(['y', 'set', '5']);
    expect(ok('set v 007x')).toEqual(['v', 'set', '007x']);
    expect(ok('5 set x')).toEqual(['5', 'set', 'x']);
    expect(ok('set y "null"')).toEqual(['y', 'set', 'null']);
    expect(ok('true get')).toEqual(['true', 'get']);
  });

  it('lets keys share names with operations', () => {
    expect(ok('add add 1')).toEqual(['add', 'add', 1]);
    expect(ok('get set')).toEqual(['set', 'get']);
    expect(ok('set get 5')).toEqual(['get', 'set', 5]);
    expect(ok('del set 5')).toEqual(['del', 'set', 5]);
    expect(ok('"get" del')).toEqual(['get', 'del']);
  });

  it('takes words already split by a shell', () => {
    const words = (...w: string[]) => parseKvWords(w.map((text) => ({ text, quoted: false })));
    expect(words('x', 'add', '-5')).toEqual({ ok: true, value: ['x', 'add', -5] });
    expect(words('get', 'x')).toEqual({ ok: true, value: ['x', 'get'] });
  });

  it('says what is wrong before anything is sent', () => {
    expect(err('')).toMatch(/empty line.*help/);
    expect(err('[]')).toMatch(/empty list/);
    expect(err('get')).toBe('get needs a key, e.g. "get x"');
    expect(err('cas')).toBe('cas needs a key, e.g. "cas x 1 2"');
    expect(err('bogus')).toMatch(/cannot read "bogus" as a command.*help/);
    expect(err('x'.repeat(200))).toMatch(/cannot read "x{60}\.\.\." as a command/);
    expect(err('x add')).toMatch(/add takes 1 argument after the key, got 0; usage: add KEY NUMBER/);
    expect(err('set y')).toMatch(/usage: set KEY VALUE/);
    expect(err('cas k a')).toMatch(/usage: cas KEY FROM TO/);
    expect(err('get x y')).toMatch(/get takes 0 arguments/);
    expect(err("['x','add']")).toMatch(/usage: add KEY NUMBER/);
    expect(err('x mul 2')).toMatch(/^bad command: unknown operation "mul".*operations: set, add, get, del, cas/);
    expect(err("['x','mul','2']")).toMatch(/unknown operation "mul"/);
    expect(err('x add ten')).toMatch(/^bad command: add needs a number to add, got "ten"/);
    expect(err('y set null')).toMatch(/set: the value must be a number, a string or true\/false, got null/);
    expect(err('"" set 1')).toMatch(/key .* must not be empty/);
    expect(err("['x', 'add'")).toMatch(/^cannot read the list: the list must end with \]/);
    expect(err('set y "open')).toMatch(/unterminated double quote/);
  });
});
