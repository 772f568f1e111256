// Random and mutated frames against a real peer's endpoints: /client, /admin (with the secret),
// /raft (with and without it). The peer must answer every bad frame with an error or drop it,
// close a connection only for an oversized frame or invalid UTF-8, stay alive with bounded
// memory, and the cluster must keep committing afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PEER_HEADER, SECRET_HEADER } from '../../shared/peer-protocol.ts';
import { pidAlive, startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { deepFrames, describeFrame, exchange, junkFrame, mutate, upgradeStatus, nastyNumber, rssMiB, type Exchange, type Frame } from './frames.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const MAX_FRAME = 65536; // the harness's [limits] max_frame_bytes
let c: TestCluster;
let target: string;
let pid: number;
let rssBefore: number;

beforeAll(async () => {
  c = await startCluster({ peers: 3 });
  const leader = await c.waitForLeader();
  target = c.names.find((n) => n !== leader)!; // a follower: fuzzing it must not stop the cluster
  pid = c.pid(target)!;
  await c.write(['warm', 'add', 1]);
  rssBefore = rssMiB(pid);
});

afterAll(async () => {
  await c?.teardown();
});

const sample = <T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] => fc.sample(arb, { numRuns: n, seed });
const text = (v: unknown): Frame => ({ text: JSON.stringify(v) });

/** Frames the endpoint must refuse by closing: over the size limit. */
const oversized = (base: (pad: string) => unknown): Frame[] => [text(base('x'.repeat(MAX_FRAME))), { text: 'y'.repeat(MAX_FRAME + 1) }, { binary: Buffer.alloc(MAX_FRAME + 10, 7) }];

function url(path: string): string {
  const p = c.peer(target);
  return `ws://${p.host}:${p.port}${path}`;
}

/** Brings the fuzzed peer back if an earlier test killed it, so each test stands on its own. */
async function ensureAlive(): Promise<void> {
  if (c.alive(target)) return;
  c.start(target);
  pid = c.pid(target)!;
  await c.waitForLeader({ timeoutMs: 30_000 });
  rssBefore = rssMiB(pid);
}

/** Runs an exchange; if the peer died on the way, fails with what it printed as it died. */
async function survive<T>(what: string, run: () => Promise<T>): Promise<T> {
  let result: T | undefined;
  let error: unknown = null;
  try {
    result = await run();
  } catch (e) {
    error = e;
  }
  await new Promise((r) => setTimeout(r, 300)); // a frame handled late can still kill it
  if (!pidAlive(pid)) {
    const out = c.output(target);
    throw new Error(`${target} died during ${what}; its last words:\n${out.slice(Math.max(0, out.lastIndexOf('\n', out.length - 2500)))}`);
  }
  if (error) throw error;
  return result!;
}

/** Every exchange: one reply that `answers` accepts, or a close for a frame that deserves it. */
function expectAnsweredOrRefused(xs: Exchange[], answers: (reply: Record<string, unknown>) => boolean): void {
  for (const x of xs) {
    const what = describeFrame(x.frame);
    if (x.closed !== null) {
      // Only too-big frames (1009) and text frames that are not UTF-8 (1007) end a connection.
      const size = 'text' in x.frame ? Buffer.byteLength(x.frame.text) : 'binary' in x.frame ? x.frame.binary.length : x.frame.badText.length;
      expect(x.closed === 1009 ? size > MAX_FRAME : x.closed === 1007 && 'badText' in x.frame, `closed with ${x.closed} after ${what}`).toBe(true);
      continue;
    }
    expect(x.replies, `replies to ${what}`).toHaveLength(1);
    expect(answers(x.replies[0]!), `reply ${JSON.stringify(x.replies[0]).slice(0, 300)} to ${what}`).toBe(true);
  }
}

describe('a peer under random and mutated frames', () => {
  it('answers every frame on /client with a command_result or a bad_frame error', async () => {
    const valid: Record<string, unknown>[] = [
      { type: 'request_command', id: 'v1', command: ['fz', 'add', '3'] },
      { type: 'request_command', id: 'v2', command: ['fz', 'set', 7], client: 'fuzzer', seq: 1 },
      { type: 'request_command', id: 'v3', command: ['fz', 'cas', 7, 8] },
      { type: 'request_command', id: 'v4', command: ['fz', 'get'] },
      { type: 'request_command', id: 'v5', command: ['fz', 'del'], client: 'fuzzer', seq: 2 },
    ];
    const commands = fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), nastyNumber), fc.constantFrom('set', 'add', 'get', 'del', 'cas', 'ADD', 'nope'), fc.array(fc.oneof(nastyNumber, fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }));
    const frames: Frame[] = [
      ...sample(mutate(valid).map(text), 150, 1),
      ...sample(commands.map(([k, op, args]) => text({ type: 'request_command', id: 'c', command: [k, op, ...args] })), 80, 2),
      ...sample(junkFrame, 120, 3),
      ...deepFrames(20_000, [(n) => `{"type":"request_command","id":"deep","command":${n}}`, (n) => `{"type":${n}}`, (n) => `{"type":"request_command","id":${n},"command":["a","get"]}`, (n) => n]),
      ...oversized((pad) => ({ type: 'request_command', id: 'big', command: ['k', 'set', pad] })),
    ];
    const xs = await survive('the /client fuzzing', () =>
      exchange(url('/client'), {}, frames, {
        frame: () => JSON.stringify({ type: 'request_command', id: 'probe', command: ['probe', 'get'] }),
        isReply: (m) => m.id === 'probe' && m.type === 'command_result',
      }),
    );
    expectAnsweredOrRefused(xs, (r) => (r.type === 'error' && r.error === 'bad_frame' && typeof r.message === 'string') || r.type === 'command_result');
    expect(xs.filter((x) => x.replies[0]?.type === 'error').length).toBeGreaterThan(frames.length / 3);
    expect(pidAlive(pid)).toBe(true);
  });

  it('answers every frame on /admin with a reply or a bad_frame error', async () => {
    await ensureAlive();
    const valid: Record<string, unknown>[] = [
      { type: 'status', id: 'a1' },
      { type: 'status', id: 'a2', kv: true },
      { type: 'faults', id: 'a3' },
      { type: 'faults', id: 'a4', blocked: [], dropRate: 0, latencyMs: 0 },
      { type: 'status', id: 'a5', log: { last: 20 }, progress: true },
      { type: 'status', id: 'a6', log: { from: 1, to: 200 } },
    ];
    const windows = fc.oneof(
      fc.record({ last: nastyNumber }),
      fc.record({ from: nastyNumber, to: nastyNumber }),
      fc.record({ last: nastyNumber, from: nastyNumber }, { requiredKeys: [] }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(nastyNumber, fc.jsonValue({ maxDepth: 1 })), { maxKeys: 3 }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const frames: Frame[] = [
      ...sample(mutate(valid).map(text), 200, 4),
      ...sample(fc.tuple(windows, fc.oneof(fc.constant(undefined), fc.boolean(), nastyNumber)).map(([log, progress]) => text({ type: 'status', id: 'w', log, progress })), 120, 6),
      ...sample(junkFrame, 100, 5),
      ...deepFrames(20_000, [(n) => `{"type":"faults","blocked":${n}}`, (n) => `{"type":${n}}`, (n) => `{"type":"status","id":${n}}`, (n) => `{"type":"status","log":${n}}`]),
      ...oversized((pad) => ({ type: 'status', id: pad })),
    ];
    const xs = await survive('the /admin fuzzing', () =>
      exchange(url('/admin'), { [SECRET_HEADER]: c.config.secret }, frames, {
        frame: () => JSON.stringify({ type: 'status', id: 'probe' }),
        isReply: (m) => m.id === 'probe' && m.type === 'status',
      }),
    );
    expectAnsweredOrRefused(xs, (r) => (r.type === 'error' && r.error === 'bad_frame') || ['status', 'faults', 'campaign'].includes(r.type as string));
    // A status that was answered carries a log window only when one was asked for, never over the limit.
    for (const x of xs) {
      const r = x.replies[0];
      if (r?.type !== 'status' || r.log === undefined) continue;
      const log = r.log as { from: number; to: number; entries: { index: number }[] };
      expect(log.entries.length, describeFrame(x.frame)).toBeLessThanOrEqual(200);
      expect(log.entries.map((e) => e.index)).toEqual(Array.from({ length: Math.max(0, log.to - log.from + 1) }, (_, i) => log.from + i));
    }
    expect(xs.some((x) => x.replies[0]?.type === 'status' && x.replies[0].log !== undefined)).toBe(true);
    // Mutated frames may have set real faults on the peer: take them off.
    await c.faults(target, { blocked: [], dropRate: 0, latencyMs: 0 });
    expect(pidAlive(pid)).toBe(true);
  });

  it('drops random and mutated /raft frames from an authenticated member, and refuses them without the secret', async () => {
    await ensureAlive();
    const from = c.names.find((n) => n !== target)!;
    const base = { from, to: target, rid: `${from}:fuzz` };
    const valid: Record<string, unknown>[] = [
      { ...base, type: 'request_vote', term: 0, lastLogIndex: 0, lastLogTerm: 0, preVote: true },
      { ...base, type: 'request_vote_reply', term: 0, granted: false, preVote: false },
      { ...base, type: 'append_entries', term: 0, prevLogIndex: 0, prevLogTerm: 0, entries: [{ index: 1, term: 0, data: null }], leaderCommit: 0 },
      { ...base, type: 'append_entries_reply', term: 0, success: false, matchIndex: 0, conflictIndex: 1 },
      { ...base, type: 'timeout_now', term: 0 },
      // InstallSnapshot chunks: a first chunk of a stale snapshot (index 1, at or below the
      // follower's commit index: answered and dropped), a later chunk of an unknown one (refused),
      // and a reply.
      { ...base, type: 'install_snapshot', term: 0, snapshotIndex: 1, snapshotTerm: 0, snapshotConfig: { voters: c.names, learners: [] }, offset: 0, size: 8, data: 'kv1:AAAA' },
      { ...base, type: 'install_snapshot', term: 0, snapshotIndex: 9, snapshotTerm: 1, snapshotConfig: { voters: c.names, learners: [] }, offset: 4, size: 100, data: 'QUJD' },
      { ...base, type: 'install_snapshot_reply', term: 0, snapshotIndex: 9, offset: 100, matchIndex: 0 },
    ];
    const frames: Frame[] = [
      ...sample(mutate(valid).map(text), 200, 6),
      ...sample(fc.array(mutate(valid), { minLength: 1, maxLength: 4 }).map(text), 50, 7),
      ...sample(junkFrame, 100, 8),
      ...deepFrames(20_000, [(n) => `{"type":"append_entries","rid":"x","from":"${from}","to":"${target}","term":0,"prevLogIndex":0,"prevLogTerm":0,"leaderCommit":0,"entries":${n}}`, (n) => `{"type":${n}}`, (n) => n]),
    ];
    const headers = { [PEER_HEADER]: from, [SECRET_HEADER]: c.config.secret };
    const xs = await survive('the /raft fuzzing', () => exchange(url('/raft'), headers, frames, null, 5));
    for (const x of xs) {
      // The real peer reconnecting replaces this connection (1006); nothing else may close it.
      if (x.closed !== null) expect([1006, 1007, 1009], `closed with ${x.closed} after ${describeFrame(x.frame)}`).toContain(x.closed);
      expect(x.replies, 'a peer never answers on the connection a message came in on').toEqual([]);
    }
    expect(pidAlive(pid)).toBe(true);

    // Without the secret, or with a wrong one, or naming no member: refused before any frame.
    const refusals = sample(
      fc.record({
        peer: fc.option(fc.oneof(fc.constantFrom(...c.names), fc.string({ maxLength: 10 })), { nil: undefined }),
        secret: fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.constant(c.config.secret.slice(0, -1)), fc.constant(`${c.config.secret} `)), { nil: undefined }),
      }),
      40,
      9,
    );
    for (const r of refusals) {
      const h: Record<string, string> = {};
      if (r.peer !== undefined && /^[\x21-\x7e]*$/.test(r.peer)) h[PEER_HEADER] = r.peer;
      if (r.secret !== undefined && /^[\x21-\x7e]*$/.test(r.secret)) h[SECRET_HEADER] = r.secret;
      const status = await upgradeStatus(url('/raft'), h);
      expect([401, 403], `headers ${JSON.stringify(h)}`).toContain(status);
    }
  });

  it('is still alive with bounded memory, and the cluster keeps committing', async () => {
    expect(pidAlive(pid)).toBe(true);
    const rssAfter = rssMiB(pid);
    expect(rssAfter - rssBefore, `RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`).toBeLessThan(100);
    try {
      await c.waitForLeader({ timeoutMs: 30_000 });
    } catch (e) {
      const st = await c.statuses(c.names);
      throw new Error(`${(e as Error).message}; the peers now: ${st.map((s) => `${s.peer} ${s.role} term ${s.term}`).join(', ')}`);
    }
    expect(await c.write(['after-fuzz', 'add', 1], { timeoutMs: 30_000 })).toMatchObject({ ok: true });
    // Every peer, the fuzzed one included, applies it.
    await waitFor('every peer to apply the write after the fuzzing', async () => (await c.statuses(c.names, true)).every((s) => s.kv?.['after-fuzz'] === 1), 30_000);
  });
});
