// The client contract (external and stable: tools outside the project speak it).
//
// A client opens ws://HOST:PORT/client on any peer and sends one JSON object per text frame:
//   {"type":"request_command","id":"r1","command":["x","add","100"]}
//   optional "client":"<id>","seq":<n> make the command exactly-once across retries.
// Every request gets exactly one command_result with the same id:
//   {"type":"command_result","id":"r1","ok":true,"value":100,"index":12,"term":3}
//   {"type":"command_result","id":"r1","ok":false,"error":"not_leader","leader":"peer2"}  (leader null when unknown)
//   {"type":"command_result","id":"r1","ok":false,"error":"bad_command","message":"..."}
//   {"type":"command_result","id":"r1","ok":false,"error":"unknown"}
// A frame that is not a valid request gets {"type":"error","error":"bad_frame","message":"..."}
// (with "id" when the id could be read) and changes nothing.
//
// This module holds the types and one validator per message type. Validators take `unknown`
// (the result of JSON.parse) and either return a typed message or say what is wrong. What a
// command is (set/add/get/del/cas) is shared/kv-commands.ts's business: here `command` is any list.

export const CLIENT_PATH = '/client';
/** Longest request id accepted, in characters. */
export const MAX_ID_LENGTH = 128;
/** Longest client (session) id accepted, in characters. */
export const MAX_CLIENT_ID_LENGTH = 128;
/** Most items in a command list (the longest command, cas, has 4). */
export const MAX_COMMAND_ITEMS = 16;
/** Largest sequence number: it must stay an exact integer in JSON. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface RequestCommand {
  type: 'request_command';
  id: string;
  /** As the client sent it, e.g. ["x","add","100"]; the peer checks it with shared/kv-commands.ts parseCommand(). */
  command: unknown[];
  /** Session id; present together with seq or not at all. */
  client?: string;
  seq?: number;
}

export interface CommandOk {
  type: 'command_result';
  id: string;
  ok: true;
  value: unknown;
  index: number;
  term: number;
}

/** The peer is not the leader; nothing was done. */
export interface CommandNotLeader {
  type: 'command_result';
  id: string;
  ok: false;
  error: 'not_leader';
  leader: string | null;
  /** Not part of the contract; clients may add why (e.g. "no peer reachable"). */
  message?: string;
}

/** The command is invalid; nothing was done. */
export interface CommandBad {
  type: 'command_result';
  id: string;
  ok: false;
  error: 'bad_command';
  message: string;
}

/** Leadership was lost or time ran out after the entry was appended: it may or may not take effect. */
export interface CommandUnknown {
  type: 'command_result';
  id: string;
  ok: false;
  error: 'unknown';
  /** Not part of the contract; clients may add why (e.g. "timed out after 5000 ms"). */
  message?: string;
}

export type CommandFailure = CommandNotLeader | CommandBad | CommandUnknown;
export type CommandResult = CommandOk | CommandFailure;
export type CommandError = CommandFailure['error'];

/** The reply to a frame that is not a valid request. */
export interface ErrorReply {
  type: 'error';
  error: 'bad_frame';
  message: string;
  id?: string;
}

export type ClientRequest = RequestCommand;
export type ClientReply = CommandResult | ErrorReply;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; id?: string };

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function fail<T>(message: string, id?: string): Parsed<T> {
  return id === undefined ? { ok: false, message } : { ok: false, message, id };
}

/** A readable id when there is one, for error replies to malformed frames. */
function readableId(o: Obj): string | undefined {
  const id = o.id;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : undefined;
}

function checkId(o: Obj): string | null {
  if (!('id' in o)) return 'missing "id" (a string naming the request, e.g. "r1")';
  if (typeof o.id !== 'string') return `"id" must be a string, got ${describe(o.id)}`;
  if (o.id.length === 0) return '"id" must not be empty';
  if (o.id.length > MAX_ID_LENGTH) return `"id" is longer than ${MAX_ID_LENGTH} characters`;
  return null;
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** A short description of a value for error messages. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'string') return x.length > 40 ? `the string ${JSON.stringify(x.slice(0, 40))}...` : `the string ${JSON.stringify(x)}`;
  if (typeof x === 'number' || typeof x === 'boolean') return `${typeof x} ${String(x)}`;
  return typeof x === 'object' ? 'an object' : typeof x;
}

export function parseRequestCommand(x: unknown): Parsed<RequestCommand> {
  if (!isObj(x)) return fail(`expected a JSON object, got ${describe(x)}`);
  const id = readableId(x);
  if (x.type !== 'request_command') return fail(`expected "type":"request_command", got ${describe(x.type)}`, id);
  const idError = checkId(x);
  if (idError) return fail(idError, id);
  if (!('command' in x)) return fail('missing "command" (a list such as ["x","add","100"])', id);
  if (!Array.isArray(x.command)) return fail(`"command" must be a list such as ["x","add","100"], got ${describe(x.command)}`, id);
  if (x.command.length > MAX_COMMAND_ITEMS) return fail(`"command" has ${x.command.length} items; at most ${MAX_COMMAND_ITEMS}`, id);
  const hasClient = x.client !== undefined;
  const hasSeq = x.seq !== undefined;
  if (hasClient !== hasSeq) return fail('"client" and "seq" go together: give both (exactly-once) or neither', id);
  const req: RequestCommand = { type: 'request_command', id: x.id as string, command: x.command };
  if (hasClient) {
    if (typeof x.client !== 'string' || x.client.length === 0 || x.client.length > MAX_CLIENT_ID_LENGTH) {
      return fail(`"client" must be a non-empty string of at most ${MAX_CLIENT_ID_LENGTH} characters, got ${describe(x.client)}`, id);
    }
    if (typeof x.seq !== 'number' || !Number.isSafeInteger(x.seq) || x.seq < 1) {
      return fail(`"seq" must be a whole number from 1 to ${MAX_SEQ}, got ${describe(x.seq)}`, id);
    }
    req.client = x.client;
    req.seq = x.seq;
  }
  return { ok: true, value: req };
}

export function parseCommandResult(x: unknown): Parsed<CommandResult> {
  if (!isObj(x)) return fail(`expected a JSON object, got ${describe(x)}`);
  const id = readableId(x);
  if (x.type !== 'command_result') return fail(`expected "type":"command_result", got ${describe(x.type)}`, id);
  const idError = checkId(x);
  if (idError) return fail(idError, id);
  const rid = x.id as string;
  if (x.ok === true) {
    if (!('value' in x)) return fail('a successful command_result needs "value"', rid);
    if (!isIndex(x.index)) return fail(`"index" must be a whole number >= 0, got ${describe(x.index)}`, rid);
    if (!isIndex(x.term)) return fail(`"term" must be a whole number >= 0, got ${describe(x.term)}`, rid);
    return { ok: true, value: { type: 'command_result', id: rid, ok: true, value: x.value, index: x.index, term: x.term } };
  }
  if (x.ok !== false) return fail(`"ok" must be true or false, got ${describe(x.ok)}`, rid);
  const message = x.message;
  if (message !== undefined && typeof message !== 'string') return fail(`"message" must be a string, got ${describe(message)}`, rid);
  switch (x.error) {
    case 'not_leader': {
      if (x.leader !== null && typeof x.leader !== 'string') return fail(`"leader" must be a peer name or null, got ${describe(x.leader)}`, rid);
      const r: CommandNotLeader = { type: 'command_result', id: rid, ok: false, error: 'not_leader', leader: x.leader };
      if (message !== undefined) r.message = message;
      return { ok: true, value: r };
    }
    case 'bad_command':
      if (typeof message !== 'string') return fail('a bad_command result needs "message"', rid);
      return { ok: true, value: { type: 'command_result', id: rid, ok: false, error: 'bad_command', message } };
    case 'unknown': {
      const r: CommandUnknown = { type: 'command_result', id: rid, ok: false, error: 'unknown' };
      if (message !== undefined) r.message = message;
      return { ok: true, value: r };
    }
    default:
      return fail(`"error" must be not_leader, bad_command or unknown, got ${describe(x.error)}`, rid);
  }
}

export function parseErrorReply(x: unknown): Parsed<ErrorReply> {
  if (!isObj(x)) return fail(`expected a JSON object, got ${describe(x)}`);
  if (x.type !== 'error') return fail(`expected "type":"error", got ${describe(x.type)}`);
  if (x.error !== 'bad_frame') return fail(`expected "error":"bad_frame", got ${describe(x.error)}`);
  if (typeof x.message !== 'string') return fail('an error reply needs "message"');
  const r: ErrorReply = { type: 'error', error: 'bad_frame', message: x.message };
  if (x.id !== undefined) {
    if (typeof x.id !== 'string') return fail(`"id" must be a string, got ${describe(x.id)}`);
    r.id = x.id;
  }
  return { ok: true, value: r };
}

/** What a client may receive: a command_result or an error reply. */
export function parseClientReply(x: unknown): Parsed<ClientReply> {
  if (isObj(x) && x.type === 'error') return parseErrorReply(x);
  return parseCommandResult(x);
}

/** An error reply for a malformed frame. */
export function badFrame(message: string, id?: string): ErrorReply {
  return id === undefined ? { type: 'error', error: 'bad_frame', message } : { type: 'error', error: 'bad_frame', message, id };
}

/**
 * For a peer: a raw text frame from /client -> a request, or the error reply to send back.
 * `maxBytes` refuses oversized frames before parsing them.
 */
export function decodeClientFrame(text: string, maxBytes = Infinity): { ok: true; request: ClientRequest } | { ok: false; reply: ErrorReply } {
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    return { ok: false, reply: badFrame(`frame is larger than ${maxBytes} bytes`) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reply: badFrame(`frame is not valid JSON (${(e as Error).message})`) };
  }
  const parsed = parseRequestCommand(json);
  if (!parsed.ok) return { ok: false, reply: badFrame(parsed.message, parsed.id) };
  return { ok: true, request: parsed.value };
}

// ---- constructors for replies (so every sender spells the contract the same way) ----

export function okResult(id: string, value: unknown, index: number, term: number): CommandOk {
  return { type: 'command_result', id, ok: true, value: value === undefined ? null : value, index, term };
}

export function notLeaderResult(id: string, leader: string | null): CommandNotLeader {
  return { type: 'command_result', id, ok: false, error: 'not_leader', leader };
}

export function badCommandResult(id: string, message: string): CommandBad {
  return { type: 'command_result', id, ok: false, error: 'bad_command', message };
}

export function unknownResult(id: string, message?: string): CommandUnknown {
  return message === undefined ? { type: 'command_result', id, ok: false, error: 'unknown' } : { type: 'command_result', id, ok: false, error: 'unknown', message };
}
