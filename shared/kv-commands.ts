// What a key-value command is, in one place: the operations, how many arguments each takes, the
// usage texts in both forms, the check every peer runs on a client's command, and how a command
// is printed. The client contract (../shared/DESIGN.md):
//   [k,"set",v]         -> v
//   [k,"add",n]         -> the new value (a missing key counts as 0)
//   [k,"get"]           -> the value, or null
//   [k,"del"]           -> the previous value, or null
//   [k,"cas",from,to]   -> true if the value was `from` (null = missing) and is now `to`, else false
// Numbers may arrive as numeric strings ("100" -> 100), as in the original ['x', 'add', '100'].
//
// Two usage forms name the same rule: the list form a peer answers a bad_command with
// ([key, "add", number]) and the typed form of the terminal client and the web console
// (add KEY NUMBER (or KEY add NUMBER)). What a command *does* is the state machine's business
// (peer/kv.ts); the typed syntax (words, quotes, list literals) is shared/command-line.ts.
// Pure: no Node imports and no store, so the relay and the browser may use it too.

export type KvValue = string | number | boolean;

export type KvCommand =
  | { op: 'set'; key: string; value: KvValue }
  | { op: 'add'; key: string; amount: number }
  | { op: 'get'; key: string }
  | { op: 'del'; key: string }
  | { op: 'cas'; key: string; from: KvValue | null; to: KvValue };

export type KvOp = KvCommand['op'];

export const OPS: readonly KvOp[] = ['set', 'add', 'get', 'del', 'cas'];
export const MAX_KEY_LENGTH = 256;
/** Longest string value, in characters. */
export const MAX_VALUE_LENGTH = 65_536;

/** Arguments after the key, per operation. */
export const ARITY: Readonly<Record<KvOp, number>> = { set: 1, add: 1, get: 0, del: 0, cas: 2 };

/** The list form, as a peer names it in a bad_command. */
export const LIST_USAGE: Readonly<Record<KvOp, string>> = {
  set: '[key, "set", value]',
  add: '[key, "add", number]',
  get: '[key, "get"]',
  del: '[key, "del"]',
  cas: '[key, "cas", from, to]',
};

/** The typed form, as the terminal client and the web console name it. */
export const TYPED_USAGE: Readonly<Record<KvOp, string>> = {
  get: 'get KEY (or KEY get)',
  del: 'del KEY (or KEY del)',
  set: 'set KEY VALUE (or KEY set VALUE)',
  add: 'add KEY NUMBER (or KEY add NUMBER)',
  cas: 'cas KEY FROM TO (or KEY cas FROM TO; FROM null means "not set")',
};

/** The operation a word names, in any case ("ADD" -> add), or null. */
export function opNamed(word: string): KvOp | null {
  const w = word.toLowerCase();
  return (OPS as readonly string[]).includes(w) ? (w as KvOp) : null;
}

/**
 * Null when `op` takes `args` arguments after the key; else what is wrong, in the list form
 * (what a peer answers) or the typed form (what the terminal client and the console answer).
 */
export function arityError(op: KvOp, args: number, form: 'list' | 'typed'): string | null {
  if (args === ARITY[op]) return null;
  const takes = `${op} takes ${ARITY[op]} argument${ARITY[op] === 1 ? '' : 's'} after the key`;
  return form === 'list' ? `${takes} (${LIST_USAGE[op]}), got ${args}` : `${takes}, got ${args}; usage: ${TYPED_USAGE[op]}`;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** "100" -> 100, "-2.5" -> -2.5; anything else is returned unchanged. */
export function numericOrSelf(x: unknown): unknown {
  if (typeof x === 'string' && NUMERIC.test(x)) {
    const n = Number(x);
    if (Number.isFinite(n)) return n;
  }
  return x;
}

/** A value as an error message shows it: strings quoted and cut at 40 characters. */
export function showValue(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'object') return 'an object';
  return String(x);
}

/** What kind of value this is, as an error message names it: 'a string', 'true/false'. */
export function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'string') return 'a string';
  if (typeof x === 'number') return 'a number';
  if (typeof x === 'boolean') return 'true/false';
  return typeof x === 'object' ? 'an object' : typeof x;
}

type ValueCheck = { ok: true; value: KvValue } | { ok: false; message: string };

function checkValue(raw: unknown, what: string): ValueCheck {
  const v = numericOrSelf(raw);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { ok: false, message: `${what} must be a finite number` };
    return { ok: true, value: v };
  }
  if (typeof v === 'boolean') return { ok: true, value: v };
  if (typeof v === 'string') {
    if (v.length > MAX_VALUE_LENGTH) return { ok: false, message: `${what} is longer than ${MAX_VALUE_LENGTH} characters` };
    return { ok: true, value: v };
  }
  return { ok: false, message: `${what} must be a number, a string or true/false, got ${typeName(v)}` };
}

/** Validates a command as a client sent it (a list) into a KvCommand; the message is what a bad_command says. */
export function parseCommand(input: unknown): { ok: true; command: KvCommand } | { ok: false; message: string } {
  const bad = (message: string) => ({ ok: false as const, message });
  if (!Array.isArray(input)) return bad(`a command is a list such as ["x", "add", "100"], got ${typeName(input)}`);
  if (input.length < 2) {
    return bad(`a command needs at least a key and an operation, e.g. ["x", "get"]; got ${input.length} item${input.length === 1 ? '' : 's'}`);
  }
  const [key, rawOp] = input;
  if (typeof key !== 'string') return bad(`the key (first item) must be a string, got ${typeName(key)}`);
  if (key.length === 0) return bad('the key (first item) must not be empty');
  if (key.length > MAX_KEY_LENGTH) return bad(`the key is longer than ${MAX_KEY_LENGTH} characters`);
  const op = typeof rawOp === 'string' ? opNamed(rawOp) : null;
  if (op === null) return bad(`unknown operation ${showValue(rawOp)} (second item); operations: ${OPS.join(', ')}`);
  const wrong = arityError(op, input.length - 2, 'list');
  if (wrong) return bad(wrong);
  switch (op) {
    case 'get':
      return { ok: true, command: { op: 'get', key } };
    case 'del':
      return { ok: true, command: { op: 'del', key } };
    case 'set': {
      const v = checkValue(input[2], 'the value');
      if (!v.ok) return bad(`set: ${v.message}`);
      return { ok: true, command: { op: 'set', key, value: v.value } };
    }
    case 'add': {
      const n = numericOrSelf(input[2]);
      if (typeof n !== 'number' || !Number.isFinite(n)) return bad(`add needs a number to add, got ${showValue(input[2])}`);
      return { ok: true, command: { op: 'add', key, amount: n } };
    }
    case 'cas': {
      let from: KvValue | null = null;
      if (input[2] !== null) {
        const f = checkValue(input[2], 'the expected value (from)');
        if (!f.ok) return bad(`cas: ${f.message} (or null for "not set")`);
        from = f.value;
      }
      const t = checkValue(input[3], 'the new value (to)');
      if (!t.ok) return bad(`cas: ${t.message}`);
      return { ok: true, command: { op: 'cas', key, from, to: t.value } };
    }
  }
}

/** The command as a list, normalized: ["x","add",100]. */
export function commandList(command: KvCommand): unknown[] {
  switch (command.op) {
    case 'set':
      return [command.key, 'set', command.value];
    case 'add':
      return [command.key, 'add', command.amount];
    case 'get':
    case 'del':
      return [command.key, command.op];
    case 'cas':
      return [command.key, 'cas', command.from, command.to];
  }
}

/** Bare words that read as values in a typed command (JSON's and Python's spellings). */
export const WORD_VALUES: ReadonlyMap<string, boolean | null> = new Map<string, boolean | null>([
  ['true', true],
  ['True', true],
  ['false', false],
  ['False', false],
  ['null', null],
  ['None', null],
]);

/**
 * One item as typed, quoted where the bare word would read back as something else: spaces,
 * quotes, brackets, numbers, the words of WORD_VALUES, empty, and a key that names an operation.
 */
function word(x: unknown, isKey: boolean): string {
  if (typeof x === 'string') {
    if (x === '' || /[\s"'\[\],\\]/.test(x) || NUMERIC.test(x) || WORD_VALUES.has(x) || (isKey && opNamed(x) !== null)) return JSON.stringify(x);
    return x;
  }
  return String(x);
}

/** A command list as a person would type it, unchecked: ['y', 'set', '5'] -> 'y set "5"', ['add', 'set', 1] -> '"add" set 1'. */
export function formatCommandList(list: readonly unknown[]): string {
  return list.map((x, i) => word(x, i === 0)).join(' ');
}

/** The command as a person would type it: 'x add 100', 'y set "two words"', 'z cas null 1'. */
export function formatCommand(command: KvCommand): string {
  return formatCommandList(commandList(command));
}

/** The command as a list of words, for events: ['x','add','100']. */
export function commandWords(command: KvCommand): string[] {
  return commandList(command).map((x) => (typeof x === 'string' ? x : String(x)));
}

export function isReadOnly(command: KvCommand): boolean {
  return command.op === 'get';
}
