// Parses frames that arrive at the relay (from peers, the launcher and browsers) into typed
// messages. Everything from the network is `unknown` until one of these functions says otherwise;
// after that the relay trusts the types.
import type { AppliedEntry, LauncherReport, LogPoint, LogTile, PeerEvent, Recovered, LogStart, RpcKind, RpcSummary, SnapshotChunk } from '../../shared/events.ts';
import type { BrowserToRelay } from '../../shared/village.ts';
import { parseLogWindow } from '../../shared/peer-protocol.ts';
import type { Timing } from '../../shared/config.ts';
import { parseMembership, type Membership, type MembershipError, type MembershipResult } from '../../shared/membership.ts';
import { parseLessonRequest } from './lessons.ts';
import { MAX_HELD_REPORTED, MAX_SPEED, MIN_SPEED } from '../../shared/village-clock.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

type Obj = Record<string, unknown>;

class Invalid extends Error {}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const RPC_KINDS: readonly RpcKind[] = ['request_vote', 'request_vote_reply', 'append_entries', 'append_entries_reply', 'timeout_now', 'install_snapshot', 'install_snapshot_reply'];
const ROLES = ['follower', 'precandidate', 'candidate', 'leader'] as const;
const DROP_REASONS = ['blocked', 'dropped', 'disconnected'] as const;
const SNAPSHOT_REASONS = ['compacted', 'installed'] as const;
/** Longest `boot` or `dataId` (random ids). */
const MAX_ID = 64;
/** Prefix hashes are 53-bit integers, entry hashes 32-bit (shared/log-hash.ts). */
const PH_LIMIT = 2 ** 53;
const H_LIMIT = 2 ** 32;
/** Longest log-tile label kept (the village draws a few characters of it). */
const MAX_LABEL = 200;
/** Most log tiles accepted in one log_append event. */
const MAX_TILES_PER_EVENT = 10_000;

function fail(message: string): never {
  throw new Invalid(message);
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what}: expected a JSON object`);
  return v as Obj;
}

function str(o: Obj, key: string, max = 256): string {
  const v = o[key];
  if (typeof v !== 'string') fail(`${key}: expected a string`);
  if (v.length > max) fail(`${key}: longer than ${max} characters`);
  return v;
}

function name(o: Obj, key: string): string {
  const v = str(o, key, 32);
  if (!NAME.test(v)) fail(`${key}: ${JSON.stringify(v)} is not a peer name`);
  return v;
}

function nullableName(o: Obj, key: string): string | null {
  return o[key] === null ? null : name(o, key);
}

function num(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${key}: expected a number`);
  return v;
}

function nat(o: Obj, key: string): number {
  const v = num(o, key);
  if (!Number.isInteger(v) || v < 0) fail(`${key}: expected a whole number >= 0`);
  return v;
}

function nullableNum(o: Obj, key: string): number | null {
  return o[key] === null || o[key] === undefined ? null : num(o, key);
}

function bool(o: Obj, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(`${key}: expected true or false`);
  return v;
}

function optBool(o: Obj, key: string): boolean | undefined {
  return o[key] === undefined ? undefined : bool(o, key);
}

function names(o: Obj, key: string, max = 64): string[] {
  const v = o[key];
  if (!Array.isArray(v)) fail(`${key}: expected a list of peer names`);
  if (v.length > max) fail(`${key}: more than ${max} names`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || !NAME.test(x)) fail(`${key}[${i}]: expected a peer name`);
    return x;
  });
}

function oneOf<T extends string>(o: Obj, key: string, allowed: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(`${key}: expected one of ${allowed.join(', ')}`);
  return v as T;
}

function timing(v: unknown): Timing {
  const o = obj(v, 'timing');
  return { heartbeatMs: nat(o, 'heartbeatMs'), electionMinMs: nat(o, 'electionMinMs'), electionMaxMs: nat(o, 'electionMaxMs'), latencyMs: nat(o, 'latencyMs') };
}

function tile(v: unknown, i: number): LogTile {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`entries[${i}]: expected a JSON object`);
  const o = v as Obj;
  const label = typeof o.label === 'string' ? o.label.slice(0, MAX_LABEL) : fail(`entries[${i}].label: expected a string`);
  const t: LogTile = { index: natAt(o, 'index', i), term: natAt(o, 'term', i), label };
  if (o.ph !== undefined) t.ph = hashAt(o, 'ph', PH_LIMIT, i);
  return t;
}

/** nat() for a field of entries[i], named so in the error. */
function natAt(o: Obj, key: string, i: number): number {
  const v = o[key];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  return fail(`entries[${i}].${key}: expected a whole number >= 0`);
}

function hashAt(o: Obj, key: string, limit: number, i: number): number {
  const v = o[key];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < limit) return v;
  return fail(`entries[${i}].${key}: expected a hash (a whole number from 0 to 2^${Math.log2(limit)} - 1)`);
}

/** A hash field: a whole number below 2^53 (prefix hash) or 2^32 (entry hash). */
function hash(o: Obj, key: string, limit = PH_LIMIT): number {
  const v = o[key];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < limit) return v;
  return fail(`${key}: expected a hash (a whole number from 0 to 2^${Math.log2(limit)} - 1)`);
}

/** A random id (hello.boot, hello.dataId): a short string. */
function id(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID) fail(`${key}: expected an id of 1 to ${MAX_ID} characters`);
  return v;
}

/** A nested object, its fields' errors prefixed with its name (`recovered.base.ph: ...`). */
function nested<T>(o: Obj, key: string, parse: (x: Obj) => T): T {
  const x = obj(o[key], key);
  try {
    return parse(x);
  } catch (e) {
    if (e instanceof Invalid) fail(`${key}.${e.message}`);
    throw e;
  }
}

function logPoint(o: Obj): LogPoint {
  return { index: nat(o, 'index'), term: nat(o, 'term'), ph: hash(o, 'ph') };
}

function nullableLogPoint(o: Obj, key: string): LogPoint | null {
  return o[key] === null ? null : nested(o, key, logPoint);
}

function recovered(o: Obj): Recovered {
  return {
    w: nat(o, 'w'),
    term: nat(o, 'term'),
    vote: nullableName(o, 'vote'),
    commit: nat(o, 'commit'),
    commitPh: hash(o, 'commitPh'),
    lastIndex: nat(o, 'lastIndex'),
    lastTerm: nat(o, 'lastTerm'),
    lastPh: hash(o, 'lastPh'),
    base: nullableLogPoint(o, 'base'),
  };
}

function durable(o: Obj): { w: number; term: number; vote: string | null } {
  return { w: nat(o, 'w'), term: nat(o, 'term'), vote: nullableName(o, 'vote') };
}

/**
 * The `entries` list of a log_append or apply: each item parsed, at most MAX_TILES_PER_EVENT,
 * indexes ascending (the village keeps logs sorted by index; a peer's appends and applies
 * always ascend).
 */
function ascending<T extends { index: number }>(o: Obj, what: string, parse: (v: unknown, i: number) => T): T[] {
  const e = o.entries;
  if (!Array.isArray(e)) fail(`entries: expected a list of ${what}`);
  if (e.length > MAX_TILES_PER_EVENT) fail(`entries: more than ${MAX_TILES_PER_EVENT} ${what}`);
  const out: T[] = new Array(e.length);
  for (let i = 0; i < e.length; i++) {
    const x = parse(e[i], i);
    if (i > 0 && x.index <= out[i - 1]!.index) fail(`entries[${i}].index: indexes must ascend`);
    out[i] = x;
  }
  return out;
}

function appliedEntry(v: unknown, i: number): AppliedEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`entries[${i}]: expected a JSON object`);
  const o = v as Obj;
  try {
    const key = o.key === null || o.key === undefined ? null : str(o, 'key', 1024);
    if (o.h === undefined) return { index: nat(o, 'index'), term: nat(o, 'term'), command: command(o.command), ok: bool(o, 'ok'), result: o.result ?? null, key, value: o.value ?? null };
    return { index: nat(o, 'index'), term: nat(o, 'term'), h: hash(o, 'h', H_LIMIT), command: command(o.command), ok: bool(o, 'ok'), result: o.result ?? null, key, value: o.value ?? null };
  } catch (e) {
    if (e instanceof Invalid) fail(`entries[${i}].${e.message}`);
    throw e;
  }
}

function command(v: unknown): string[] | null {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length > 16) fail('command: expected a short list or null');
  // Numbers may appear in a command (`['x','add',100]`); the village shows them as text.
  return v.map((x) => (typeof x === 'string' ? x.slice(0, MAX_LABEL) : JSON.stringify(x) ?? 'null'));
}

function guard<T>(f: () => T): Parsed<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, message: e.message };
    throw e;
  }
}

/** Parses the text of a frame as JSON; the error says it was not JSON. */
export function parseJson(text: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'not valid JSON' };
  }
}

export function parsePeerEvent(input: unknown): Parsed<PeerEvent> {
  // No closure and no object spreads on this path: it runs for every event of every peer.
  try {
    return { ok: true, value: peerEvent(input) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, message: e.message };
    throw e;
  }
}

/** The optional fields of an RPC summary, added after the required ones (as peers send them). */
function rpcOptions<T extends RpcSummary>(s: T, o: Obj): T {
  const preVote = optBool(o, 'preVote');
  if (preVote !== undefined) s.preVote = preVote;
  const ok = optBool(o, 'ok');
  if (ok !== undefined) s.ok = ok;
  if (o.chunk !== undefined) {
    if (s.rpc !== 'install_snapshot' && s.rpc !== 'install_snapshot_reply') fail(`chunk: only an install_snapshot or its reply has one, not ${s.rpc}`);
    s.chunk = nested(o, 'chunk', snapshotChunk);
  }
  // What the letter says (shared/events.ts RpcSummary): each one only when the peer sent it.
  if (o.lastLogIndex !== undefined) s.lastLogIndex = nat(o, 'lastLogIndex');
  if (o.lastLogTerm !== undefined) s.lastLogTerm = nat(o, 'lastLogTerm');
  if (o.prevLogIndex !== undefined) s.prevLogIndex = nat(o, 'prevLogIndex');
  if (o.prevLogTerm !== undefined) s.prevLogTerm = nat(o, 'prevLogTerm');
  if (o.leaderCommit !== undefined) s.leaderCommit = nat(o, 'leaderCommit');
  if (o.matchIndex !== undefined) s.matchIndex = nat(o, 'matchIndex');
  if (o.conflictIndex !== undefined) s.conflictIndex = nat(o, 'conflictIndex');
  if (o.conflictTerm !== undefined) s.conflictTerm = nat(o, 'conflictTerm');
  return s;
}

/** state.log: where the log begins (after a snapshot). */
function logStart(o: Obj): LogStart {
  const l = { firstIndex: nat(o, 'firstIndex'), snapshotIndex: nat(o, 'snapshotIndex'), snapshotTerm: nat(o, 'snapshotTerm') };
  if (l.firstIndex < 1) fail('firstIndex: expected a whole number >= 1');
  return l;
}

/** rpc_*.chunk: which snapshot, where the chunk starts, its length and the snapshot's size (never the data). */
function snapshotChunk(o: Obj): SnapshotChunk {
  const c = { index: nat(o, 'index'), offset: nat(o, 'offset'), bytes: nat(o, 'bytes'), size: nat(o, 'size') };
  if (c.size > 0 && c.offset + c.bytes > c.size) fail(`offset: the chunk (${c.offset} + ${c.bytes}) runs past the snapshot's size ${c.size}`);
  return c;
}

function peerEvent(input: unknown): PeerEvent {
  const o = obj(input, 'event');
  const e = peerEventBody(o);
  // Every event may carry its place in the peer's stream (for the safety monitor).
  if (o.seq !== undefined) e.seq = nat(o, 'seq');
  return e;
}

function peerEventBody(o: Obj): PeerEvent {
  const peer = name(o, 'peer');
  const t = num(o, 't');
  const type = str(o, 'type', 32);
  switch (type) {
    case 'hello': {
      const hello: PeerEvent = { peer, t, type, pid: nat(o, 'pid'), cluster: names(o, 'cluster'), profile: str(o, 'profile', 64), timing: timing(o.timing) };
      if (o.boot !== undefined) hello.boot = id(o, 'boot');
      if (o.dataId !== undefined) hello.dataId = id(o, 'dataId');
      if (o.recovered !== undefined) hello.recovered = nested(o, 'recovered', recovered);
      return hello;
    }
    case 'state':
      return {
        peer,
        t,
        type,
        role: oneOf(o, 'role', ROLES),
        term: nat(o, 'term'),
        vote: nullableName(o, 'vote'),
        leader: nullableName(o, 'leader'),
        commitIndex: nat(o, 'commitIndex'),
        appliedIndex: nat(o, 'appliedIndex'),
        lastIndex: nat(o, 'lastIndex'),
        lastTerm: nat(o, 'lastTerm'),
        electionDeadline: nullableNum(o, 'electionDeadline'),
        ...(o.electionInMs === undefined ? {} : { electionInMs: nullableNum(o, 'electionInMs') }),
        ...(o.log === undefined ? {} : { log: nested(o, 'log', logStart) }),
      };
    case 'rpc_send': {
      const to = name(o, 'to');
      return rpcOptions({ peer, t, type, to, rid: str(o, 'rid', 80), rpc: oneOf(o, 'rpc', RPC_KINDS), term: nat(o, 'term'), heartbeat: bool(o, 'heartbeat'), entries: nat(o, 'entries') }, o);
    }
    case 'rpc_recv': {
      const from = name(o, 'from');
      return rpcOptions({ peer, t, type, from, rid: str(o, 'rid', 80), rpc: oneOf(o, 'rpc', RPC_KINDS), term: nat(o, 'term'), heartbeat: bool(o, 'heartbeat'), entries: nat(o, 'entries') }, o);
    }
    case 'rpc_drop': {
      const to = name(o, 'to');
      const reason = oneOf(o, 'reason', DROP_REASONS);
      return rpcOptions({ peer, t, type, to, reason, rid: str(o, 'rid', 80), rpc: oneOf(o, 'rpc', RPC_KINDS), term: nat(o, 'term'), heartbeat: bool(o, 'heartbeat'), entries: nat(o, 'entries') }, o);
    }
    case 'log_append': {
      const a: PeerEvent = { peer, t, type, entries: ascending(o, 'log tiles', tile) };
      if (o.durable !== undefined) a.durable = nested(o, 'durable', durable);
      return a;
    }
    case 'log_truncate':
      if (o.term === undefined) return { peer, t, type, from: nat(o, 'from') };
      return { peer, t, type, from: nat(o, 'from'), term: nat(o, 'term') };
    case 'commit': {
      const c: PeerEvent = { peer, t, type, index: nat(o, 'index') };
      if (o.term !== undefined) c.term = nat(o, 'term');
      if (o.ph !== undefined) c.ph = hash(o, 'ph');
      return c;
    }
    case 'apply':
      return { peer, t, type, entries: ascending(o, 'applied entries', appliedEntry) };
    case 'faults': {
      const dropRate = num(o, 'dropRate');
      if (dropRate < 0 || dropRate > 1) fail('dropRate: expected a number from 0 to 1');
      return { peer, t, type, blocked: names(o, 'blocked'), dropRate, latencyMs: nat(o, 'latencyMs') };
    }
    case 'reporter_dropped':
      return { peer, t, type, count: nat(o, 'count') };
    case 'config':
      return { peer, t, type, ...membership(o) };
    case 'persisted':
      return { peer, t, type, w: nat(o, 'w'), term: nat(o, 'term'), vote: nullableName(o, 'vote'), lastIndex: nat(o, 'lastIndex'), lastTerm: nat(o, 'lastTerm'), lastPh: hash(o, 'lastPh') };
    case 'snapshot': {
      const reason = oneOf(o, 'reason', SNAPSHOT_REASONS);
      const index = nat(o, 'index');
      const lastIndex = nat(o, 'lastIndex');
      if (lastIndex < index) fail(`lastIndex: ${lastIndex} is below the snapshot's index ${index}`);
      return { peer, t, type, reason, index, term: nat(o, 'term'), ph: hash(o, 'ph'), lastIndex };
    }
    case 'resync':
      return {
        peer,
        t,
        type,
        role: oneOf(o, 'role', ROLES),
        term: nat(o, 'term'),
        vote: nullableName(o, 'vote'),
        leader: nullableName(o, 'leader'),
        commit: nat(o, 'commit'),
        commitPh: hash(o, 'commitPh'),
        lastIndex: nat(o, 'lastIndex'),
        lastTerm: nat(o, 'lastTerm'),
        lastPh: hash(o, 'lastPh'),
        base: nullableLogPoint(o, 'base'),
        durable: nested(o, 'durable', durable),
        tail: tail(o),
        ...(o.config === undefined ? {} : { config: membership(obj(o.config, 'config'), 'config.') }),
      };
    case 'clock': {
      const held = o.held;
      if (!Array.isArray(held) || held.length > MAX_HELD_REPORTED) fail(`held: expected a list of at most ${MAX_HELD_REPORTED} letters`);
      const clock: PeerEvent = {
        peer, t, type, paused: bool(o, 'paused'), speed: num(o, 'speed'), timerInMs: nullableNum(o, 'timerInMs'),
        held: held.map((h, i) => {
          const x = obj(h, `held[${i}]`);
          return { rid: str(x, 'rid', 80), from: name(x, 'from'), rpc: str(x, 'rpc', 32), inMs: num(x, 'inMs') };
        }),
      };
      if (o.step !== undefined) clock.step = nat(o, 'step');
      if (o.did !== undefined) clock.did = str(o, 'did', 200);
      return clock;
    }
    default:
      return fail(`type: unknown event type ${JSON.stringify(type)}`);
  }
}

/** A configuration: voters (at least one) and learners, no name twice (shared/membership.ts). */
function membership(o: Obj, where = ''): Membership {
  const m = parseMembership(o);
  if (typeof m === 'string') fail(`${where}${m}`);
  return m;
}

const MEMBERSHIP_ERRORS: readonly MembershipError[] = ['unknown_peer', 'already_member', 'not_member', 'in_flight', 'not_leader', 'timeout', 'refused'];

/** A join or leave outcome a launcher reports (shared/membership.ts). */
function membershipResult(o: Obj): MembershipResult {
  const op = oneOf(o, 'op', ['join', 'leave'] as const);
  const peer = name(o, 'peer');
  if (bool(o, 'ok')) return { ok: true, op, peer, config: membership(obj(o.config, 'result.config'), 'result.config: '), index: nat(o, 'index') };
  const r: MembershipResult = { ok: false, op, peer, error: oneOf(o, 'error', MEMBERSHIP_ERRORS), message: str(o, 'message', 2000), leader: nullableName(o, 'leader') };
  if (o.config !== undefined) r.config = membership(obj(o.config, 'result.config'), 'result.config: ');
  return r;
}

/** resync.tail: log tiles, ascending by index (the same rules as log_append's entries). */
function tail(o: Obj): LogTile[] {
  try {
    return ascending({ entries: o.tail }, 'log tiles', tile);
  } catch (e) {
    if (e instanceof Invalid && e.message.startsWith('entries')) fail(`tail${e.message.slice('entries'.length)}`);
    throw e;
  }
}

export function parseLauncherReport(input: unknown): Parsed<LauncherReport> {
  return guard((): LauncherReport => {
    const o = obj(input, 'report');
    const type = str(o, 'type', 32);
    switch (type) {
      case 'launcher_hello':
        return o.runs === undefined
          ? { type, peers: names(o, 'peers'), profile: str(o, 'profile', 64) }
          : { type, peers: names(o, 'peers'), profile: str(o, 'profile', 64), runs: names(o, 'runs') };
      case 'process': {
        const pid = o.pid === null || o.pid === undefined ? null : nat(o, 'pid');
        const exitCode = o.exitCode === null || o.exitCode === undefined ? null : num(o, 'exitCode');
        const signal = o.signal === null || o.signal === undefined ? null : str(o, 'signal', 32);
        return { type, peer: name(o, 'peer'), pid, alive: bool(o, 'alive'), exitCode, signal };
      }
      case 'membership':
        return { type, result: membershipResult(obj(o.result, 'result')) };
      default:
        return fail(`type: unknown launcher report ${JSON.stringify(type)}`);
    }
  });
}

/** The id of a browser frame, if one can be read, so that even a refusal can be paired. */
export function browserFrameId(input: unknown): string {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const id = (input as Obj).id;
    if (typeof id === 'string' && id.length <= 64) return id;
  }
  return '';
}

export function parseBrowserMessage(input: unknown): Parsed<BrowserToRelay> {
  return guard((): BrowserToRelay => {
    const o = obj(input, 'message');
    const id = o.id === undefined ? undefined : str(o, 'id', 64);
    const withId = <T extends object>(m: T): T & { id?: string } => (id === undefined ? m : { ...m, id });
    const type = str(o, 'type', 32);
    switch (type) {
      case 'kill':
      case 'revive':
      case 'isolate':
      case 'campaign':
        return withId({ type, peer: name(o, 'peer') });
      case 'heal':
        return withId({ type });
      case 'attacks':
        return withId({ type, on: bool(o, 'on') });
      case 'console':
        return withId({ type, line: str(o, 'line', 2000) });
      case 'lesson': {
        const lesson = parseLessonRequest(o);
        return lesson.ok ? withId(lesson.value) : fail(lesson.message);
      }
      case 'clock': {
        const action = oneOf(o, 'action', ['pause', 'resume', 'step', 'speed', 'drop'] as const);
        if (action === 'drop') {
          const rid = str(o, 'rid', 80);
          if (rid.length === 0) fail('rid: expected the rid of a held letter, got an empty string');
          return withId({ type, action, rid });
        }
        if (action !== 'speed') return withId({ type, action });
        const speed = num(o, 'speed');
        if (speed < MIN_SPEED || speed > MAX_SPEED) fail(`speed: expected a number from ${MIN_SPEED} to ${MAX_SPEED}, got ${speed}`);
        return withId({ type, action, speed });
      }
      case 'inspect': {
        if (o.log === undefined) return withId({ type, peer: name(o, 'peer') });
        const log = parseLogWindow(o.log);
        if (!log.ok) return fail(`log: ${log.message}`);
        return withId({ type, peer: name(o, 'peer'), log: log.value });
      }
      default:
        return fail(`type: unknown message ${JSON.stringify(type)}; expected kill, revive, isolate, heal, campaign, attacks, console, lesson, clock or inspect`);
    }
  });
}
