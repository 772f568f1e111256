// The replicated key-value state machine of the client contract (../shared/DESIGN.md): the store,
// the client sessions and the codec of log entries. What a command is (operations, arity, the
// check of a client's list, usage texts and formatting) is shared/kv-commands.ts.
//
// Every replica applies the same entries in the same order, so everything here is
// deterministic: no clock, no randomness, and the session table is bounded by log order.
//
// Client sessions (dissertation §6.3): an entry may carry (client, seq). The store remembers,
// per client, the highest seq applied and its outcome. A repeated (client, seq) returns the
// remembered outcome without applying again, so a client may retry a command whose outcome
// it does not know (leader crashed, timeout) and it takes effect once.
import { commandList, formatCommand, parseCommand, showValue, typeName, type KvCommand, type KvValue } from '../shared/kv-commands.ts';

export type ApplyOutcome = { ok: true; value: unknown; key: string | null } | { ok: false; error: 'bad_command'; message: string };

/** Clients remembered for exactly-once; beyond this the least recently used (by log order) is forgotten. */
export const MAX_SESSIONS = 10_000;

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

/** One client session in a snapshot: client, seq, index of the entry that last used it, outcome. */
export type SessionImage = [string, number, number, ApplyOutcome];

/** The store as a snapshot holds it (KvStore.image / restore). */
export interface StoreImage {
  applied: number;
  data: Map<string, KvValue>;
  /** Least recently used first. */
  sessions: SessionImage[];
}

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

  /**
   * The store as of now, for a snapshot (peer/snapshot-state.ts): the keys with their values and
   * the client sessions, copied shallowly (values are strings, numbers and booleans, outcomes are
   * never changed once made), so the store may go on changing while the copy is encoded. A Map
   * copy: the cheapest copy of a large store (one table, no object per key).
   */
  image(): StoreImage {
    const sessions: SessionImage[] = [];
    for (const [client, s] of this.sessions) sessions.push([client, s.seq, s.index, s.outcome]);
    return { applied: this.applied, data: new Map(this.data), sessions };
  }

  /** Replaces the whole store (keys, sessions, applied index) by a snapshot's image. */
  restore(image: StoreImage): void {
    this.data.clear();
    for (const [k, v] of image.data) this.data.set(k, v);
    this.sessions.clear();
    // In the image's order: least recently used first, as the table keeps them.
    for (const [client, seq, index, outcome] of image.sessions) this.sessions.set(client, { seq, index, outcome });
    this.applied = image.applied;
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
          return { ok: false, error: 'bad_command', message: `cannot add to ${c.key}: it holds ${typeName(base)} (${showValue(base)}), not a number` };
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
