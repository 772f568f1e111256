// What a lesson (game/src/page/lessons/) asks of one villager that the village's other commands
// cannot do: read that villager's own key-value store (`peek`, through /admin status with kv:
// the store as it has applied it, stale if it is cut off), and send one command of the client
// contract to that villager only (`request`: no leader search, no retry, the session fields as
// given), so a lesson can show a cut-off leader taking a command it cannot commit, or a retry
// applied once. Everything else a lesson does goes through the village's ordinary commands.
import { sendOnce } from '../../shared/admin-client.ts';
import { CLIENT_PATH, MAX_CLIENT_ID_LENGTH, MAX_COMMAND_ITEMS, MAX_SEQ, parseClientReply } from '../../shared/client-protocol.ts';
import type { PeerAddress } from '../../shared/config.ts';
import type { AdminReply, AdminRequest } from '../../shared/peer-protocol.ts';
import type { LessonRequest } from '../../shared/village.ts';

export interface LessonReply {
  ok: boolean;
  text: string;
  value?: unknown;
}

export interface LessonDeps {
  /** The village's peers, as addresses from the ini. */
  peers: PeerAddress[];
  admin(peer: PeerAddress, request: AdminRequest): Promise<AdminReply>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
const MAX_REQUEST_TIMEOUT_MS = 60_000;

/** Checks a `lesson` message from a browser (the caller has read `type`); says what is wrong. */
export function parseLessonRequest(o: Record<string, unknown>): { ok: true; value: LessonRequest } | { ok: false; message: string } {
  const bad = (message: string) => ({ ok: false as const, message });
  if (typeof o.peer !== 'string' || !NAME.test(o.peer)) return bad(`peer: expected a peer name, got ${JSON.stringify(o.peer)}`);
  const peer = o.peer;
  if (o.op === 'peek') return { ok: true, value: { type: 'lesson', op: 'peek', peer } };
  if (o.op !== 'request') return bad(`op: expected "peek" or "request", got ${JSON.stringify(o.op)}`);
  const c = o.command;
  if (!Array.isArray(c) || c.length === 0 || c.length > MAX_COMMAND_ITEMS || !c.every((w) => typeof w === 'string' && w.length <= 200)) {
    return bad(`command: expected a list of 1 to ${MAX_COMMAND_ITEMS} strings, e.g. ["x","add","1"]`);
  }
  const value: LessonRequest = { type: 'lesson', op: 'request', peer, command: c as string[] };
  if ((o.client === undefined) !== (o.seq === undefined)) return bad('client and seq: give both (an exactly-once command) or neither');
  if (o.client !== undefined) {
    if (typeof o.client !== 'string' || o.client.length === 0 || o.client.length > MAX_CLIENT_ID_LENGTH) return bad(`client: expected 1 to ${MAX_CLIENT_ID_LENGTH} characters`);
    if (typeof o.seq !== 'number' || !Number.isInteger(o.seq) || o.seq < 1 || o.seq > MAX_SEQ) return bad('seq: expected a whole number >= 1');
    value.client = o.client;
    value.seq = o.seq;
  }
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !Number.isInteger(o.timeoutMs) || o.timeoutMs < 1 || o.timeoutMs > MAX_REQUEST_TIMEOUT_MS) {
      return bad(`timeoutMs: expected a whole number from 1 to ${MAX_REQUEST_TIMEOUT_MS}`);
    }
    value.timeoutMs = o.timeoutMs;
  }
  if (o.cutOff !== undefined) {
    if (!Array.isArray(o.cutOff) || o.cutOff.length > 64 || !o.cutOff.every((x) => typeof x === 'string' && NAME.test(x) && x !== peer)) {
      return bad('cutOff: expected a list of peer names other than the peer itself');
    }
    value.cutOff = o.cutOff as string[];
  }
  return { ok: true, value };
}

let nextRequest = 1;

/** Carries out one lesson request. Never throws: a failure is a reply that says what went wrong. */
export async function lessonRequest(msg: LessonRequest, d: LessonDeps): Promise<LessonReply> {
  const peer = d.peers.find((p) => p.name === msg.peer);
  if (!peer) return { ok: false, text: `${msg.peer} is not in the village; villagers: ${d.peers.map((p) => p.name).join(', ')}` };
  if (msg.op === 'peek') {
    try {
      const r = await d.admin(peer, { type: 'status', kv: true });
      if (r.type !== 'status') return { ok: false, text: `${peer.name} answered ${r.type === 'error' ? r.message : r.type}` };
      const value = { peer: r.peer, role: r.role, term: r.term, commitIndex: r.commitIndex, appliedIndex: r.appliedIndex, kv: r.kv ?? {} };
      return { ok: true, text: `${peer.name}'s own store: ${JSON.stringify(value.kv)}`, value };
    } catch (e) {
      return { ok: false, text: `could not read ${peer.name}'s store: ${(e as Error).message}` };
    }
  }
  if (msg.cutOff) {
    const unknown = msg.cutOff.filter((n) => !d.peers.some((p) => p.name === n));
    if (unknown.length) return { ok: false, text: `cutOff: ${unknown.join(', ')} not in the village; villagers: ${d.peers.map((p) => p.name).join(', ')}` };
    try {
      const r = await d.admin(peer, { type: 'faults', blocked: msg.cutOff });
      if (r.type === 'error') return { ok: false, text: `${peer.name} refused the faults: ${r.message}` };
    } catch (e) {
      return { ok: false, text: `could not cut ${peer.name} off: ${(e as Error).message}` };
    }
  }
  const id = `lesson-${nextRequest++}`;
  const frame = JSON.stringify({ type: 'request_command', id, command: msg.command, ...(msg.client !== undefined ? { client: msg.client, seq: msg.seq } : {}) });
  let raw: unknown;
  try {
    raw = await sendOnce(peer, CLIENT_PATH, frame, { timeoutMs: msg.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS });
  } catch (e) {
    // No answer in time: to the client that is an unknown outcome, and the lesson says so.
    return { ok: true, text: `${peer.name} did not answer: ${(e as Error).message}`, value: { type: 'command_result', id, ok: false, error: 'unknown', message: (e as Error).message } };
  }
  const parsed = parseClientReply(raw);
  if (!parsed.ok) return { ok: false, text: `${peer.name} sent something that is not a command result: ${parsed.message}` };
  return { ok: true, text: `${peer.name} answered ${JSON.stringify(parsed.value)}`, value: parsed.value };
}
