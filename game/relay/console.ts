// The web console's language: one typed line -> one command. Pure, so it is tested on its own.
//
//   x add 100   ['x','add','100']   get x   set y 5   add x 1   cas k a b   del k
//   kill peer2   revive peer2   isolate peer3   heal   campaign peer1
//   attacks off|on   status   help

export type KvValue = string | number | boolean;

export type ConsoleCommand =
  | { kind: 'kv'; command: KvValue[] }
  | { kind: 'kill' | 'revive' | 'isolate' | 'campaign'; peer: string }
  | { kind: 'heal' }
  | { kind: 'attacks'; on: boolean | null }
  | { kind: 'status' }
  | { kind: 'help' };

export type ConsoleParse = { ok: true; command: ConsoleCommand } | { ok: false; message: string };

export const CONSOLE_HELP = [
  'Key-value commands (through the Raft leader, linearizable):',
  '  set KEY VALUE      add KEY N      get KEY      del KEY      cas KEY FROM TO',
  '  also as KEY OP ARGS (x add 100) or as a list: [\'x\', \'add\', \'100\']',
  'Village commands:',
  '  kill PEER      revive PEER      isolate PEER      heal      campaign PEER',
  '  attacks on|off      status      help',
].join('\n');

const KV_OPS: Record<string, number> = { get: 0, del: 0, set: 1, add: 1, cas: 2 };
const KV_USAGE: Record<string, string> = {
  get: 'get KEY',
  del: 'del KEY',
  set: 'set KEY VALUE',
  add: 'add KEY NUMBER',
  cas: 'cas KEY FROM TO',
};
const PEER_VERBS = { kill: 'kill', revive: 'revive', isolate: 'isolate', campaign: 'campaign', elect: 'campaign' } as const;

interface Token {
  text: string;
  quoted: boolean;
}

export function parseConsoleLine(input: string): ConsoleParse {
  const line = input.trim();
  if (line === '') return { ok: false, message: 'empty line; type help for the commands' };
  if (line.startsWith('[')) return parseList(line);
  const tokens = tokenize(line);
  if (!tokens.ok) return tokens;
  const t = tokens.tokens;
  const words = t.map((x) => x.text);
  const first = t[0]!.quoted ? '' : words[0]!.toLowerCase();

  if (t.length === 1 && (first === 'help' || first === '?')) return { ok: true, command: { kind: 'help' } };
  if (t.length === 1 && first === 'status') return { ok: true, command: { kind: 'status' } };
  if (t.length === 1 && first === 'heal') return { ok: true, command: { kind: 'heal' } };
  if (first === 'attacks' && t.length <= 2) {
    if (t.length === 1) return { ok: true, command: { kind: 'attacks', on: null } };
    const arg = words[1]!.toLowerCase();
    if (arg === 'on' || arg === 'off') return { ok: true, command: { kind: 'attacks', on: arg === 'on' } };
    return { ok: false, message: `attacks takes on or off, got ${JSON.stringify(words[1])}` };
  }
  if (first in PEER_VERBS && t.length <= 2) {
    const kind = PEER_VERBS[first as keyof typeof PEER_VERBS];
    if (t.length === 1) return { ok: false, message: `usage: ${first} PEER (for example: ${first} peer2)` };
    return { ok: true, command: { kind, peer: words[1]! } };
  }

  // Key-value: verb first (set y 5) or key first (y set 5).
  if (first in KV_OPS) {
    const op = first;
    const args = t.slice(1);
    if (args.length !== KV_OPS[op]! + 1) return { ok: false, message: `usage: ${KV_USAGE[op]}` };
    return kv([args[0]!.text, op, ...args.slice(1).map(value)]);
  }
  if (t.length >= 2) {
    const op = t[1]!.quoted ? '' : words[1]!.toLowerCase();
    if (op in KV_OPS) {
      const args = t.slice(2);
      if (args.length !== KV_OPS[op]!) return { ok: false, message: `usage: ${KV_USAGE[op]} (or KEY ${op}${KV_OPS[op]! > 0 ? ' ...' : ''})` };
      return kv([words[0]!, op, ...args.map(value)]);
    }
  }
  return { ok: false, message: `unknown command ${JSON.stringify(line.length > 60 ? line.slice(0, 60) + '...' : line)}; type help for the commands` };
}

function kv(command: KvValue[]): ConsoleParse {
  const key = command[0];
  if (typeof key !== 'string' || key === '') return { ok: false, message: 'the key must be a non-empty string' };
  return { ok: true, command: { kind: 'kv', command } };
}

/** A bare word that reads as a number, true or false is that value; anything else a string. */
function value(t: Token): KvValue {
  if (t.quoted) return t.text;
  if (/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t.text)) {
    const n = Number(t.text);
    if (Number.isFinite(n)) return n;
  }
  if (t.text === 'true') return true;
  if (t.text === 'false') return false;
  return t.text;
}

function tokenize(line: string): { ok: true; tokens: Token[] } | { ok: false; message: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const s = readQuoted(line, i);
      if (!s.ok) return s;
      tokens.push({ text: s.text, quoted: true });
      i = s.end;
      continue;
    }
    let j = i;
    while (j < line.length && !/\s/.test(line[j]!)) j++;
    tokens.push({ text: line.slice(i, j), quoted: false });
    i = j;
  }
  return { ok: true, tokens };
}

function readQuoted(line: string, start: number): { ok: true; text: string; end: number } | { ok: false; message: string } {
  const q = line[start]!;
  let out = '';
  let i = start + 1;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      const n = line[i + 1]!;
      out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      i += 2;
      continue;
    }
    if (c === q) return { ok: true, text: out, end: i + 1 };
    out += c;
    i++;
  }
  return { ok: false, message: `missing closing ${q}` };
}

/** `['x', 'add', '100']` (Python style) or `["x","add",100]` (JSON): items kept as given. */
function parseList(line: string): ConsoleParse {
  if (!line.endsWith(']')) return { ok: false, message: "a list must end with ]: ['x', 'add', '100']" };
  const body = line.slice(1, -1);
  const items: KvValue[] = [];
  let i = 0;
  const skip = () => {
    while (i < body.length && /\s/.test(body[i]!)) i++;
  };
  skip();
  if (i === body.length) return { ok: false, message: "empty list; try ['x', 'add', '100']" };
  while (i < body.length) {
    skip();
    const c = body[i];
    if (c === '"' || c === "'") {
      const s = readQuoted(body, i);
      if (!s.ok) return s;
      items.push(s.text);
      i = s.end;
    } else {
      let j = i;
      while (j < body.length && body[j] !== ',') j++;
      const word = body.slice(i, j).trim();
      if (word === '') return { ok: false, message: 'empty item in the list' };
      const v = value({ text: word, quoted: false });
      if (typeof v === 'string') return { ok: false, message: `${JSON.stringify(word)} must be quoted in a list: '${word}'` };
      items.push(v);
      i = j;
    }
    skip();
    if (i < body.length) {
      if (body[i] !== ',') return { ok: false, message: `expected , in the list at ${JSON.stringify(body.slice(i, i + 10))}` };
      i++;
      skip();
      if (i === body.length) break; // a trailing comma
    }
  }
  if (items.length < 2) return { ok: false, message: "a command list has a key and an operation: ['x', 'get']" };
  const op = items[1];
  if (typeof op !== 'string' || !(op.toLowerCase() in KV_OPS)) return { ok: false, message: `unknown operation ${JSON.stringify(op)}; expected set, add, get, del or cas` };
  const lower = op.toLowerCase();
  if (items.length !== KV_OPS[lower]! + 2) return { ok: false, message: `usage: ${KV_USAGE[lower]}` };
  items[1] = lower;
  return kv(items);
}

/** How a command reads in the console: x add 100. */
export function formatKv(command: readonly KvValue[]): string {
  return command.map((v) => (typeof v === 'string' && v !== '' && !/\s/.test(v) ? v : JSON.stringify(v))).join(' ');
}
