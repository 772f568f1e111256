// The typed language of key-value commands, shared by the terminal client (peer/user.ts) and the
// relay's web console (game/relay/console.ts). Pure: no Node imports, so a browser may use it too.
//
//   x add 100          key first: KEY OP ARGS
//   add x 100          operation first: OP KEY ARGS (get x, set y 5, cas k a b, del k)
//   ['x', 'add', '100'] / ["x","add",100]    a list, JSON or Python quotes, as in the original User.py
//
// Words are split on whitespace; '...' and "..." quote (with \n \t \r \0 \\ \' \" \uXXXX escapes).
// A bare word in a value position reads as a number, true/false or null (Python's True/False/None
// too); a quoted word is always a string, and never an operation. Keys are always strings and the
// operation is lower-cased, so `X ADD 5` and `add X 5` both give ["X", "add", 5]. A command is
// checked against the client contract (shared/kv-commands.ts: the typed usage for a wrong number
// of arguments, then the peer's own parseCommand) before it is returned, so a mistake is
// answered at once, in the same words everywhere. This file is the syntax; the rules are there.
import { ARITY, WORD_VALUES, arityError, numericOrSelf, opNamed, parseCommand, type KvOp } from './kv-commands.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** A value in a typed command: what the client contract carries. */
export type CommandValue = string | number | boolean | null;

/** One word of a typed line, and whether it was quoted (a quoted word is data, never a keyword). */
export interface Token {
  text: string;
  quoted: boolean;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };

/** Reads a quoted string starting at text[i] (the quote). Returns the string and the index after it. */
function readQuoted(text: string, i: number): Parsed<{ s: string; next: number }> {
  const q = text[i]!;
  let s = '';
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j]!;
    if (c === q) return { ok: true, value: { s, next: j + 1 } };
    if (c === '\\' && j + 1 < text.length) {
      const n = text[++j]!;
      if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(j + 1, j + 5))) {
        s += String.fromCharCode(parseInt(text.slice(j + 1, j + 5), 16));
        j += 4;
      } else s += ESCAPES[n] ?? `\\${n}`;
      continue;
    }
    s += c;
  }
  return { ok: false, message: `missing closing ${q} (unterminated ${q === '"' ? 'double' : 'single'} quote)` };
}

/** Splits a line into words: whitespace separates, '...' and "..." quote. */
export function tokenize(line: string): Parsed<Token[]> {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const r = readQuoted(line, i);
      if (!r.ok) return r;
      out.push({ text: r.value.s, quoted: true });
      i = r.value.next;
      continue;
    }
    let j = i;
    while (j < line.length && !/\s/.test(line[j]!)) j++;
    out.push({ text: line.slice(i, j), quoted: false });
    i = j;
  }
  return { ok: true, value: out };
}

/** A bare word as a value: a number, true/false/null (or Python's True/False/None), else the word. */
export function bareValue(word: string): CommandValue {
  const keyword = WORD_VALUES.get(word);
  if (keyword !== undefined) return keyword;
  return numericOrSelf(word) as string | number;
}

/** A word in a value position: quoted words stay strings, bare ones are read by bareValue. */
export function wordValue(t: Token): CommandValue {
  return t.quoted ? t.text : bareValue(t.text);
}

/** A list as typed in JSON (["x","add",100]) or Python (['x', 'add', '100']); bare words are allowed. */
export function parseListLiteral(text: string): Parsed<unknown[]> {
  const t = text.trim();
  try {
    const j: unknown = JSON.parse(t);
    if (Array.isArray(j)) return { ok: true, value: j };
  } catch {
    // not JSON: read it as a Python-style list below
  }
  if (!t.startsWith('[')) return { ok: false, message: 'a list starts with [' };
  const out: unknown[] = [];
  let i = 1;
  const skip = () => {
    while (i < t.length && /\s/.test(t[i]!)) i++;
  };
  skip();
  if (t[i] === ']') return i === t.length - 1 ? { ok: true, value: out } : { ok: false, message: 'unexpected text after ]' };
  for (;;) {
    skip();
    if (i >= t.length) return { ok: false, message: "the list must end with ]: ['x', 'add', '100']" };
    const c = t[i]!;
    if (c === '"' || c === "'") {
      const r = readQuoted(t, i);
      if (!r.ok) return r;
      out.push(r.value.s);
      i = r.value.next;
    } else {
      let j = i;
      while (j < t.length && t[j] !== ',' && t[j] !== ']') j++;
      const word = t.slice(i, j).trim();
      if (word === '') return { ok: false, message: `missing item at position ${out.length + 1}` };
      out.push(bareValue(word));
      i = j;
    }
    skip();
    if (t[i] === ',') {
      i++;
      skip();
      if (t[i] === ']') i++;
      else continue;
    } else if (t[i] === ']') i++;
    else if (i >= t.length) return { ok: false, message: "the list must end with ]: ['x', 'add', '100']" };
    else return { ok: false, message: `expected , or ] after item ${out.length}` };
    skip();
    return i === t.length ? { ok: true, value: out } : { ok: false, message: 'unexpected text after ]' };
  }
}

const opOf = (t: Token | undefined): KvOp | null => (!t || t.quoted ? null : opNamed(t.text));

const shown = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);

/** A command list checked against the client contract; the operation lower-cased. */
function checked(list: unknown[]): Parsed<CommandValue[]> {
  if (list.length === 0) return { ok: false, message: "empty list; try ['x', 'add', '100']" };
  const command = [...list];
  const op = typeof command[1] === 'string' ? opNamed(command[1]) : null;
  if (op !== null) {
    command[1] = op;
    const wrong = arityError(op, command.length - 2, 'typed');
    if (wrong) return { ok: false, message: wrong };
  }
  const c = parseCommand(command);
  if (!c.ok) return { ok: false, message: `bad command: ${c.message}` };
  // parseCommand accepts only strings, numbers, true/false and null (cas from) in a command.
  return { ok: true, value: command as CommandValue[] };
}

/**
 * Words -> a contract command. Key first (x add 100) or operation first (add x 100); when both
 * readings are possible (get set) the operation-first one wins if its number of arguments fits.
 */
export function parseKvWords(words: Token[]): Parsed<CommandValue[]> {
  if (words.length === 0) return { ok: false, message: 'empty line; type help for the commands' };
  const first = opOf(words[0]);
  const second = opOf(words[1]);
  if (words.length === 1) {
    if (first) return { ok: false, message: `${first} needs a key, e.g. "${first} x${ARITY[first] === 0 ? '' : first === 'cas' ? ' 1 2' : ' 1'}"` };
    return {
      ok: false,
      message: `cannot read ${shown(words[0]!.text)} as a command: write KEY OP ARGS (x add 100), OP KEY ARGS (get x) or a list (['x', 'add', '100']); type help for the commands`,
    };
  }
  const verbFirst = first !== null && (second === null || ARITY[first] === words.length - 2);
  const [key, op] = verbFirst ? [words[1]!, words[0]!] : [words[0]!, words[1]!];
  // The key is always a string; an unknown operation is named by parseCommand.
  return checked([key.text, op.text, ...words.slice(2).map(wordValue)]);
}

/** One typed line (words or a list) -> a contract command, or what is wrong with it. */
export function parseKvLine(line: string): Parsed<CommandValue[]> {
  const t = line.trim();
  if (t.startsWith('[')) {
    const list = parseListLiteral(t);
    if (!list.ok) return { ok: false, message: `cannot read the list: ${list.message}` };
    return checked(list.value);
  }
  const words = tokenize(t);
  if (!words.ok) return words;
  return parseKvWords(words.value);
}
