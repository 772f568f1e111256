// The replicated key-value state machine of the client contract (../shared/DESIGN.md):
//   [k,"set",v]         -> v
//   [k,"add",n]         -> the new value (a missing key counts as 0)
//   [k,"get"]           -> the value, or null
//   [k,"del"]           -> the previous value, or null
//   [k,"cas",from,to]   -> true if the value was `from` (null = missing) and is now `to`, else false
// Numbers may arrive as numeric strings ("100" -> 100), as in the original ['x', 'add', '100'].
//
// Every replica applies the same entries in the same order, so everything here is
// deterministic: no clock, no randomness, and the session table is bounded by log order.
//
// Client sessions (dissertation §6.3): an entry may carry (client, seq). The store remembers,
// per client, the highest seq applied and its outcome. A repeated (client, seq) returns the
// remembered outcome without applying again, so a client may retry a command whose outcome
// it does not know (leader crashed, timeout) and it takes effect once.

export type KvValue = string | number | boolean;

export type KvCommand =
  | { op: 'set'; key: string; value: KvValue }
  | { op: 'add'; key: string; amount: number }
  | { op: 'get'; key: string }
  | { op: 'del'; key: string }
  | { op: 'cas'; key: string; from: KvValue | null; to: KvValue };

export type KvOp = KvCommand['op'];

export type ApplyOutcome = { ok: true; value: unknown; key: string | null } | { ok: false; error: 'bad_command'; message: string };

export const OPS: readonly KvOp[] = ['set', 'add', 'get', 'del', 'cas'];
export const MAX_KEY_LENGTH = 256;
/** Longest string value, in characters. */
export const MAX_VALUE_LENGTH = 65_536;
/** Clients remembered for exactly-once; beyond this the least recently used (by log order) is forgotten. */
export const MAX_SESSIONS = 10_000;

const USAGE: Record<KvOp, string> = {
  set: '[key, "set", value]',
  add: '[key, "add", number]',
  get: '[key, "get"]',
  del: '[key, "del"]',
  cas: '[key, "cas", from, to]',
};
const ARGS: Record<KvOp, number> = { set: 1, add: 1, get: 0, del: 0, cas: 2 };

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** "100" -> 100, "-2.5" -> -2.5; anything else is returned unchanged. */
export function numericOrSelf(x: unknown): unknown {
  if (typeof x === 'string' && NUMERIC.test(x)) {
    const n = Number(x);
    if (Number.isFinite(n)) return n;
  }
  return x;
}

function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'object') return 'an object';
  return String(x);
}

function typeName(x: unknown): string {
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

/** Validates a command as a client sent it (a list) into a KvCommand. */
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
  const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : rawOp;
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
    return bad(`unknown operation ${show(rawOp)} (second item); operations: ${OPS.join(', ')}`);
  }
  const kop = op as KvOp;
  const args = input.length - 2;
  if (args !== ARGS[kop]) {
    return bad(`${kop} takes ${ARGS[kop]} argument${ARGS[kop] === 1 ? '' : 's'} after the key (${USAGE[kop]}), got ${args}`);
  }
  switch (kop) {
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
      if (typeof n !== 'number' || !Number.isFinite(n)) return bad(`add needs a number to add, got ${show(input[2])}`);
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

function word(x: unknown): string {
  if (typeof x === 'string') {
    // Quote what would read back differently: spaces, quotes, brackets, numbers, keywords, empty.
    if (x === '' || /[\s"'\[\],\\]/.test(x) || NUMERIC.test(x) || x === 'true' || x === 'false' || x === 'null') return JSON.stringify(x);
    return x;
  }
  return String(x);
}

/** The command as a person would type it: 'x add 100', 'y set "two words"', 'z cas null 1'. */
export function formatCommand(command: KvCommand): string {
  return commandList(command).map(word).join(' ');
}

/** The command as a list of words, for events: ['x','add','100']. */
export function commandWords(command: KvCommand): string[] {
  return commandList(command).map((x) => (typeof x === 'string' ? x : String(x)));
}

export function isReadOnly(command: KvCommand): boolean {
  return command.op === 'get';
}

// ---- log entries ----

/** What Entry.data holds for a command: {"cmd":[...normalized...],"client":"c","seq":3}. */
export interface DecodedEntry {
  command: KvCommand;
  client?: string;
  seq?: number;
}

export function encodeEntry(command: KvCommand, client?: string, seq?: number): string {
  const o: { cmd: unknown[]; client?: string; seq?: number } = { cmd: commandList(command) };
  if (client !== undefined && seq !== undefined) {
    o.client = client;
    o.seq = seq;
  }
  return JSON.stringify(o);
}

export function decodeEntry(data: string): { ok: true; entry: DecodedEntry } | { ok: false; message: string } {
  let o: unknown;
  try {
    o = JSON.parse(data);
  } catch {
    return { ok: false, message: 'log entry is not valid JSON' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, message: 'log entry is not an object' };
  const rec = o as Record<string, unknown>;
  const parsed = parseCommand(rec.cmd);
  if (!parsed.ok) return { ok: false, message: parsed.message };
  const entry: DecodedEntry = { command: parsed.command };
  if (rec.client !== undefined || rec.seq !== undefined) {
    if (typeof rec.client !== 'string' || typeof rec.seq !== 'number' || !Number.isSafeInteger(rec.seq) || rec.seq < 1) {
      return { ok: false, message: 'log entry has an invalid client/seq' };
    }
    entry.client = rec.client;
    entry.seq = rec.seq;
  }
  return { ok: true, entry };
}

/** A label for a log entry: 'noop', 'x add 100', or '?' for data that does not decode. */
export function entryLabel(data: string | null): string {
  if (data === null) return 'noop';
  const d = decodeEntry(data);
  return d.ok ? formatCommand(d.entry.command) : '?';
}

// ---- the store ----

interface Session {
  seq: number;
  outcome: ApplyOutcome;
  /** Log index of the entry that last used this session. */
  index: number;
}

export class KvStore {
  private readonly data = new Map<string, KvValue>();
  /** Insertion order = order of last use by log index, so the first one is the least recently used. */
  private readonly sessions = new Map<string, Session>();
  private applied = 0;

  constructor(private readonly maxSessions = MAX_SESSIONS) {}

  /** Index of the last entry applied. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Applies a committed entry. `data` is Entry.data (null for a leader's no-op). Never throws. */
  apply(data: string | null, index: number): ApplyOutcome {
    if (index > this.applied) this.applied = index;
    if (data === null) return { ok: true, value: null, key: null };
    const decoded = decodeEntry(data);
    if (!decoded.ok) return { ok: false, error: 'bad_command', message: decoded.message };
    const { command, client, seq } = decoded.entry;
    if (client === undefined || seq === undefined) return this.execute(command);

    const session = this.sessions.get(client);
    if (session) {
      if (seq === session.seq) {
        this.touch(client, session, index);
        return session.outcome; // a retry: the first copy already took effect (§6.3)
      }
      if (seq < session.seq) {
        return { ok: false, error: 'bad_command', message: `stale sequence: client ${client} already used seq ${session.seq}, this command has seq ${seq}` };
      }
    }
    const outcome = this.execute(command);
    this.touch(client, { seq, outcome, index }, index);
    return outcome;
  }

  /** Serves a read (get) at the current state, for ReadIndex. */
  read(command: KvCommand): ApplyOutcome {
    if (command.op !== 'get') return { ok: false, error: 'bad_command', message: `read() serves get only, not ${command.op}` };
    return this.execute(command);
  }

  /** The current value of a key, or null. */
  valueOf(key: string): KvValue | null {
    return this.data.get(key) ?? null;
  }

  /** A copy of the whole store. */
  entries(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.data) out[k] = v;
    return out;
  }

  get size(): number {
    return this.data.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private touch(client: string, session: Session, index: number): void {
    session.index = index;
    this.sessions.delete(client);
    this.sessions.set(client, session);
    // Every replica applies the same entries in the same order, so every replica forgets the same client.
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
  }

  private execute(c: KvCommand): ApplyOutcome {
    const current = this.data.get(c.key);
    switch (c.op) {
      case 'get':
        return { ok: true, value: current ?? null, key: c.key };
      case 'set':
        this.data.set(c.key, c.value);
        return { ok: true, value: c.value, key: c.key };
      case 'del':
        this.data.delete(c.key);
        return { ok: true, value: current ?? null, key: c.key };
      case 'add': {
        const base = current === undefined ? 0 : current;
        if (typeof base !== 'number') {
          return { ok: false, error: 'bad_command', message: `cannot add to ${c.key}: it holds ${typeName(base)} (${show(base)}), not a number` };
        }
        const sum = base + c.amount;
        if (!Number.isFinite(sum)) return { ok: false, error: 'bad_command', message: `adding ${c.amount} to ${c.key} overflows` };
        this.data.set(c.key, sum);
        return { ok: true, value: sum, key: c.key };
      }
      case 'cas': {
        const matches = c.from === null ? current === undefined : current === c.from;
        if (!matches) return { ok: true, value: false, key: c.key };
        this.data.set(c.key, c.to);
        return { ok: true, value: true, key: c.key };
      }
    }
  }
}
