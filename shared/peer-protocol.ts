// The peer's own wire protocol: peer-to-peer RPCs on /raft and the admin channel on /admin.
// (The client contract on /client lives in shared/client-protocol.ts.)
//
// Every frame is one JSON text frame, parsed from `unknown` by the validators here, which every
// receiver shares; inside the peer, only validated, typed messages exist.
//
// ws://HOST:PORT/raft   a peer of the cluster sends Raft messages. The connecting peer proves
//                       membership with two upgrade headers: x-raft-peer (its name) and
//                       x-raft-secret (the [cluster] secret). A frame is one PeerEnvelope or an
//                       array of them (several messages for the same peer sent in one turn).
//                       InstallSnapshot travels here too, in chunks: a chunk's `data` is at most
//                       max_bytes_per_append characters of the snapshot (base64, no escapes).
// ws://HOST:PORT/admin  fault injection, forced elections, status and membership changes
//                       (x-raft-secret required).
import type { Config, Entry, Message, MessageType, PeerId, RaftMessage, SnapshotMessage } from '../peer/raft/types.ts';
import { parseMembership, type MembershipOp, type MembershipResult } from './membership.ts';

export const RAFT_PATH = '/raft';
export const ADMIN_PATH = '/admin';
export const PEER_HEADER = 'x-raft-peer';
export const SECRET_HEADER = 'x-raft-secret';

/** A Raft message on the wire, with `rid` = `${from}:${n}`, unique per sender, to pair the two ends of a flight. */
export type PeerEnvelope = RaftMessage & { rid: string };

/** Fault injection settings of one peer. */
export interface Faults {
  /** Peers whose traffic is dropped in both directions (a partition). */
  blocked: PeerId[];
  /** Probability in [0, 1] of dropping each outgoing message. */
  dropRate: number;
  /** Delay added to every incoming message, on top of the profile's latency. */
  latencyMs: number;
}

// ---- admin channel ----

export type AdminRequest =
  /** Change fault injection; omitted fields stay as they are. `{type:'faults'}` alone just reads them. */
  | { type: 'faults'; id?: string; blocked?: PeerId[]; dropRate?: number; latencyMs?: number }
  /** Start an election now (the game's "force election"). */
  | { type: 'campaign'; id?: string }
  /**
   * The peer's state; with `kv: true` also the whole key-value store, with `log` a window of its
   * log, with `progress: true` a leader's nextIndex and matchIndex per follower.
   */
  | { type: 'status'; id?: string; kv?: boolean; log?: LogWindow; progress?: boolean }
  /**
   * A membership change, asked of the leader (shared/membership.ts): `join` adds the peer as a
   * learner and promotes it to voter once it has caught up; `leave` removes it. The reply comes
   * when the change is committed (or refused, or timed out after `timeoutMs`, default 30 s).
   */
  | { type: 'membership'; id?: string; op: MembershipOp; peer: PeerId; timeoutMs?: number }
  /**
   * From the leader to a peer whose removal committed at `index` in `term`: the leader no longer
   * replicates to it, so this is how it learns. It replies, then exits.
   */
  | { type: 'removed'; id?: string; by: PeerId; index: number; term: number };

/** The most log entries one status reply carries. */
export const MAX_STATUS_ENTRIES = 200;
/** A command longer than this is cut (ending in …) in a status reply's log. */
export const MAX_STATUS_COMMAND_CHARS = 160;

/**
 * Which entries a status request asks for: the last `last` of the log, or `from` through `to`
 * (inclusive). At most MAX_STATUS_ENTRIES either way.
 */
export type LogWindow = { last: number } | { from: number; to: number };

/** One log entry as a status reply shows it. */
export interface StatusEntry {
  index: number;
  term: number;
  /** As a user would type it ('x add 100'), 'noop', 'config voters=a,b learners=c', or '?' when it does not decode. */
  command: string;
}

/** The window of the log a status reply carries. */
export interface StatusLog {
  /** The first index still in the log (entries before it were folded into a snapshot). */
  first: number;
  /** The last index of the log. */
  last: number;
  /** The window sent, `from` through `to`, clipped to first..last; `from` > `to` when it holds nothing. */
  from: number;
  to: number;
  entries: StatusEntry[];
}

/** A leader's view of one follower's replication (Figure 2: nextIndex[], matchIndex[]). */
export interface FollowerStatus {
  peer: PeerId;
  nextIndex: number;
  matchIndex: number;
}

export interface PeerStatus {
  peer: PeerId;
  pid: number;
  cluster: PeerId[];
  role: 'follower' | 'precandidate' | 'candidate' | 'leader';
  term: number;
  vote: PeerId | null;
  leader: PeerId | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  lastTerm: number;
  /** Wall clock ms of the next election if nothing is heard; null for a leader. */
  electionDeadline: number | null;
  faults: Faults;
  /** Peers this one currently has an open outgoing connection to. */
  connected: PeerId[];
  profile: string;
  /** With `log` in the request: the window of the log asked for. */
  log?: StatusLog;
  /** With `progress: true` in the request: one per follower on a leader, null on any other role. */
  progress?: FollowerStatus[] | null;
}

export type AdminReply =
  | ({ type: 'faults'; id?: string } & Faults)
  | { type: 'campaign'; id?: string; ok: true }
  | ({ type: 'status'; id?: string; kv?: Record<string, unknown> } & PeerStatus)
  | ({ type: 'membership'; id?: string } & MembershipResult)
  | { type: 'removed'; id?: string; ok: true }
  | ErrorFrame;

/** The reply to a frame that could not be understood, on /client and /admin. */
export interface ErrorFrame {
  type: 'error';
  error: 'bad_frame';
  message: string;
  id?: string;
}

// ---- validation ----

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

class Invalid extends Error {}

/** A validator never throws on input: anything unexpected (a stack overflow on nesting) is a bad frame. */
function invalidFrame(e: unknown): string {
  return `invalid frame (${e instanceof RangeError ? 'nested too deeply' : 'could not be read'})`;
}

function fail(message: string): never {
  throw new Invalid(message);
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} must be a JSON object`);
  return v as Obj;
}

/**
 * The largest term or index a frame may carry. Far beyond any real cluster's (a new term every
 * millisecond would take thousands of years to get there), and low enough that term + 1 and
 * index arithmetic stay exact. Without a bound, one frame with term 2^53 - 1 would move every peer
 * to a term from which no election can be won, and it is persisted.
 */
export const MAX_WIRE_NUMBER = 2 ** 48;

function nat(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`"${key}" must be a whole number >= 0, got ${show(v)}`);
  if (v > MAX_WIRE_NUMBER) fail(`"${key}" must be at most ${MAX_WIRE_NUMBER}, got ${v}`);
  return v;
}

function optNat(o: Obj, key: string): number | undefined {
  return o[key] === undefined ? undefined : nat(o, key);
}

function bool(o: Obj, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(`"${key}" must be true or false, got ${show(v)}`);
  return v;
}

function name(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(v)) fail(`"${key}" must be a peer name, got ${show(v)}`);
  return v;
}

function optId(o: Obj): string | undefined {
  const v = o.id;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 200) fail(`"id" must be a string of at most 200 characters, got ${show(v)}`);
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    // Deeply nested JSON overflows the stack of JSON.stringify: a validator must still answer.
    s = Array.isArray(v) ? 'a deeply nested list' : typeof v === 'object' ? 'a deeply nested object' : typeof v;
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function entry(v: unknown, i: number): Entry {
  const o = obj(v, `entries[${i}]`);
  const index = nat(o, 'index');
  const term = nat(o, 'term');
  if (index < 1) fail(`entries[${i}].index must be >= 1`);
  const data = o.data;
  if (data !== null && typeof data !== 'string') fail(`entries[${i}].data must be a string or null, got ${show(data)}`);
  if (o.conf === undefined) return { index, term, data: data as string | null };
  // A configuration entry (dissertation §4.1): it is in force as soon as it is in the log.
  const conf = parseMembership(o.conf);
  if (typeof conf === 'string') fail(`entries[${i}].conf: ${conf}`);
  if (data !== null) fail(`entries[${i}]: a configuration entry carries no data`);
  return { index, term, data: null, conf };
}

type Validator = (o: Obj, from: PeerId, to: PeerId, term: number) => Message;
type SnapshotValidator = (o: Obj, from: PeerId, to: PeerId, term: number) => SnapshotMessage;

/** A configuration (voters and learners): distinct peer names, at least one voter. */
function configuration(v: unknown, what: string): Config {
  const o = obj(v, `"${what}"`);
  const list = (key: 'voters' | 'learners'): PeerId[] => {
    const raw = o[key];
    if (!Array.isArray(raw) || raw.length > 64) fail(`"${what}.${key}" must be an array of at most 64 peer names, got ${show(raw)}`);
    return raw.map((n, i) => name({ [`${what}.${key}[${i}]`]: n }, `${what}.${key}[${i}]`));
  };
  const voters = list('voters');
  const learners = list('learners');
  if (voters.length === 0) fail(`"${what}.voters" must name at least one voter`);
  if (new Set([...voters, ...learners]).size !== voters.length + learners.length) fail(`"${what}" names a peer twice`);
  return { voters, learners };
}

/** One validator per RPC type. Extra fields are dropped: what passes is exactly the typed message. */
const validators: Record<MessageType, Validator> = {
  request_vote: (o, from, to, term) => {
    const m: Message = {
      type: 'request_vote',
      from,
      to,
      term,
      lastLogIndex: nat(o, 'lastLogIndex'),
      lastLogTerm: nat(o, 'lastLogTerm'),
      preVote: bool(o, 'preVote'),
    };
    if (o.force !== undefined) m.force = bool(o, 'force');
    return m;
  },
  request_vote_reply: (o, from, to, term) => ({
    type: 'request_vote_reply',
    from,
    to,
    term,
    granted: bool(o, 'granted'),
    preVote: bool(o, 'preVote'),
  }),
  append_entries: (o, from, to, term) => {
    const prevLogIndex = nat(o, 'prevLogIndex');
    const raw = o.entries;
    if (!Array.isArray(raw)) fail(`"entries" must be an array, got ${show(raw)}`);
    const entries = raw.map(entry);
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.index !== prevLogIndex + 1 + i) fail(`entries[${i}].index must be ${prevLogIndex + 1 + i} (consecutive after prevLogIndex)`);
    }
    const m: Message = {
      type: 'append_entries',
      from,
      to,
      term,
      prevLogIndex,
      prevLogTerm: nat(o, 'prevLogTerm'),
      entries,
      leaderCommit: nat(o, 'leaderCommit'),
    };
    const readSeq = optNat(o, 'readSeq');
    if (readSeq !== undefined) m.readSeq = readSeq;
    return m;
  },
  append_entries_reply: (o, from, to, term) => {
    const m: Message = { type: 'append_entries_reply', from, to, term, success: bool(o, 'success'), matchIndex: nat(o, 'matchIndex') };
    const conflictIndex = optNat(o, 'conflictIndex');
    const conflictTerm = optNat(o, 'conflictTerm');
    const readSeq = optNat(o, 'readSeq');
    if (conflictIndex !== undefined) m.conflictIndex = conflictIndex;
    if (conflictTerm !== undefined) m.conflictTerm = conflictTerm;
    if (readSeq !== undefined) m.readSeq = readSeq;
    return m;
  },
  timeout_now: (_o, from, to, term) => ({ type: 'timeout_now', from, to, term }),
};

/** Paper §7, InstallSnapshot and its reply (chunks of a snapshot, peer/raft/types.ts). */
const snapshotValidators: Record<SnapshotMessage['type'], SnapshotValidator> = {
  install_snapshot: (o, from, to, term) => {
    const snapshotIndex = nat(o, 'snapshotIndex');
    if (snapshotIndex < 1) fail('"snapshotIndex" must be >= 1');
    const offset = nat(o, 'offset');
    const size = nat(o, 'size');
    const data = o.data;
    if (typeof data !== 'string') fail(`"data" must be a string, got ${show(data)}`);
    if (offset + data.length > size) fail(`the chunk (offset ${offset}, ${data.length} characters) runs past "size" ${size}`);
    return {
      type: 'install_snapshot',
      from,
      to,
      term,
      snapshotIndex,
      snapshotTerm: nat(o, 'snapshotTerm'),
      snapshotConfig: configuration(o.snapshotConfig, 'snapshotConfig'),
      offset,
      size,
      data,
    };
  },
  install_snapshot_reply: (o, from, to, term) => ({
    type: 'install_snapshot_reply',
    from,
    to,
    term,
    snapshotIndex: nat(o, 'snapshotIndex'),
    offset: nat(o, 'offset'),
    matchIndex: nat(o, 'matchIndex'),
  }),
};

export const MESSAGE_TYPES = [...Object.keys(validators), ...Object.keys(snapshotValidators)] as RaftMessage['type'][];

function envelope(v: unknown, what: string): PeerEnvelope {
  const o = obj(v, what);
  const type = o.type;
  if (typeof type !== 'string' || !(Object.hasOwn(validators, type) || Object.hasOwn(snapshotValidators, type))) {
    fail(`${what}: "type" must be one of ${MESSAGE_TYPES.join(', ')}, got ${show(type)}`);
  }
  const rid = o.rid;
  if (typeof rid !== 'string' || rid.length === 0 || rid.length > 100) fail(`${what}: "rid" must be a non-empty string, got ${show(rid)}`);
  try {
    const from = name(o, 'from');
    const to = name(o, 'to');
    const term = nat(o, 'term');
    const msg: RaftMessage = Object.hasOwn(validators, type)
      ? validators[type as MessageType](o, from, to, term)
      : snapshotValidators[type as SnapshotMessage['type']](o, from, to, term);
    return Object.assign(msg, { rid });
  } catch (e) {
    if (e instanceof Invalid) fail(`${what} (${type}): ${e.message}`);
    throw e;
  }
}

/** Validates one decoded Raft message (with its rid). */
export function parseEnvelope(v: unknown): Parsed<PeerEnvelope> {
  try {
    return { ok: true, value: envelope(v, 'message') };
  } catch (e) {
    return { ok: false, message: e instanceof Invalid ? e.message : invalidFrame(e) };
  }
}

/** Parses a /raft text frame: one envelope or a non-empty array of them. */
export function parsePeerFrame(text: string): Parsed<PeerEnvelope[]> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, message: `not JSON: ${show(text)}` };
  }
  try {
    if (Array.isArray(v)) {
      if (v.length === 0) fail('an array frame must hold at least one message');
      return { ok: true, value: v.map((m, i) => envelope(m, `message ${i}`)) };
    }
    return { ok: true, value: [envelope(v, 'message')] };
  } catch (e) {
    return { ok: false, message: e instanceof Invalid ? e.message : invalidFrame(e) };
  }
}

/** Parses an /admin text frame. `peers` are the cluster's names (blocked names must be among them). */
export function parseAdminRequest(text: string, peers: readonly PeerId[]): Parsed<AdminRequest> & { id?: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, message: `not JSON: ${show(text)}` };
  }
  let id: string | undefined;
  try {
    const o = obj(v, 'an admin request');
    id = typeof o.id === 'string' ? o.id : undefined;
    id = optId(o);
    switch (o.type) {
      case 'faults': {
        const r: AdminRequest = { type: 'faults' };
        if (id !== undefined) r.id = id;
        if (o.blocked !== undefined) {
          if (!Array.isArray(o.blocked)) fail(`"blocked" must be an array of peer names, got ${show(o.blocked)}`);
          const blocked = o.blocked.map((b, i) => name({ [`blocked[${i}]`]: b }, `blocked[${i}]`));
          const unknown = blocked.filter((b) => !peers.includes(b));
          if (unknown.length) fail(`"blocked": ${unknown.join(', ')} not in the cluster (${peers.join(', ')})`);
          r.blocked = [...new Set(blocked)];
        }
        if (o.dropRate !== undefined) {
          const d = o.dropRate;
          if (typeof d !== 'number' || !(d >= 0 && d <= 1)) fail(`"dropRate" must be a number from 0 to 1, got ${show(d)}`);
          r.dropRate = d;
        }
        if (o.latencyMs !== undefined) {
          const l = nat(o, 'latencyMs');
          if (l > 60_000) fail(`"latencyMs" must be at most 60000, got ${l}`);
          r.latencyMs = l;
        }
        return { ok: true, value: r, id };
      }
      case 'campaign':
        return { ok: true, value: id === undefined ? { type: 'campaign' } : { type: 'campaign', id }, id };
      case 'status': {
        const r: AdminRequest = { type: 'status' };
        if (id !== undefined) r.id = id;
        if (o.kv !== undefined) r.kv = bool(o, 'kv');
        if (o.log !== undefined) r.log = logWindow(o.log);
        if (o.progress !== undefined) r.progress = bool(o, 'progress');
        return { ok: true, value: r, id };
      }
      case 'membership': {
        if (o.op !== 'join' && o.op !== 'leave') fail(`"op" must be join or leave, got ${show(o.op)}`);
        const r: AdminRequest = { type: 'membership', op: o.op as MembershipOp, peer: name(o, 'peer') };
        if (id !== undefined) r.id = id;
        if (o.timeoutMs !== undefined) {
          const t = nat(o, 'timeoutMs');
          if (t < 1 || t > 600_000) fail(`"timeoutMs" must be from 1 to 600000, got ${t}`);
          r.timeoutMs = t;
        }
        return { ok: true, value: r, id };
      }
      case 'removed': {
        const r: AdminRequest = { type: 'removed', by: name(o, 'by'), index: nat(o, 'index'), term: nat(o, 'term') };
        if (id !== undefined) r.id = id;
        return { ok: true, value: r, id };
      }
      default:
        fail(`"type" must be one of faults, campaign, status, membership, removed, got ${show(o.type)}`);
    }
  } catch (e) {
    const message = e instanceof Invalid ? e.message : invalidFrame(e);
    return id === undefined ? { ok: false, message } : { ok: false, message, id };
  }
}

/** A status request's `log`: exactly {"last": n} or {"from": a, "to": b}, within MAX_STATUS_ENTRIES. */
function logWindow(v: unknown): LogWindow {
  const o = obj(v, '"log"');
  const unknown = Object.keys(o).filter((k) => k !== 'last' && k !== 'from' && k !== 'to');
  if (unknown.length) fail(`"log" takes {"last": n} or {"from": a, "to": b}; it has no ${unknown.map((k) => show(k)).join(', ')}`);
  if (o.last !== undefined) {
    if (o.from !== undefined || o.to !== undefined) fail('"log" takes either "last" or "from" and "to", not both');
    const last = nat(o, 'last');
    if (last < 1 || last > MAX_STATUS_ENTRIES) fail(`"last" must be from 1 to ${MAX_STATUS_ENTRIES}, got ${last}`);
    return { last };
  }
  if (o.from === undefined || o.to === undefined) fail('"log" needs "last", or both "from" and "to"');
  const from = nat(o, 'from');
  const to = nat(o, 'to');
  if (from < 1) fail('"from" must be at least 1 (the first index of a log)');
  if (to < from) fail(`"to" must be at least "from" (${from}), got ${to}`);
  if (to - from + 1 > MAX_STATUS_ENTRIES) fail(`"log" asks for ${to - from + 1} entries; at most ${MAX_STATUS_ENTRIES} at once`);
  return { from, to };
}

/** Parses a log window from any edge (the relay's browser messages too): the window, or why not. */
export function parseLogWindow(v: unknown): Parsed<LogWindow> {
  try {
    return { ok: true, value: logWindow(v) };
  } catch (e) {
    return { ok: false, message: e instanceof Invalid ? e.message : invalidFrame(e) };
  }
}

export function badFrame(message: string, id?: string): ErrorFrame {
  return id === undefined ? { type: 'error', error: 'bad_frame', message } : { type: 'error', error: 'bad_frame', message, id };
}
