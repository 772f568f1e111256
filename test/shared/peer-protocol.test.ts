import { describe, expect, it } from 'vitest';
import { parseAdminRequest, parseEnvelope, parsePeerFrame } from '../../shared/peer-protocol.ts';

const vote = { type: 'request_vote', rid: 'peer1:1', from: 'peer1', to: 'peer2', term: 3, lastLogIndex: 7, lastLogTerm: 2, preVote: false };
const append = {
  type: 'append_entries',
  rid: 'peer1:2',
  from: 'peer1',
  to: 'peer2',
  term: 3,
  prevLogIndex: 4,
  prevLogTerm: 2,
  entries: [
    { index: 5, term: 3, data: null },
    { index: 6, term: 3, data: '{"cmd":["x","add",1]}' },
  ],
  leaderCommit: 4,
  readSeq: 2,
};

function message(frame: unknown): string {
  const r = parsePeerFrame(JSON.stringify(frame));
  if (r.ok) throw new Error('expected a refusal');
  return r.message;
}

describe('peer RPC validation', () => {
  it('accepts every RPC type and returns exactly the typed fields', () => {
    const frames = [
      vote,
      { ...vote, preVote: true, force: true },
      { type: 'request_vote_reply', rid: 'peer2:1', from: 'peer2', to: 'peer1', term: 3, granted: true, preVote: false },
      append,
      { type: 'append_entries_reply', rid: 'peer2:2', from: 'peer2', to: 'peer1', term: 3, success: false, matchIndex: 4, conflictIndex: 3, conflictTerm: 1 },
      { type: 'timeout_now', rid: 'peer1:3', from: 'peer1', to: 'peer2', term: 3 },
    ];
    for (const f of frames) {
      const r = parseEnvelope(f);
      expect(r).toEqual({ ok: true, value: f });
    }
    const extra = parseEnvelope({ ...vote, sneaky: 'x' });
    expect(extra.ok && 'sneaky' in extra.value).toBe(false);
  });

  it('accepts an array of messages in one frame', () => {
    const r = parsePeerFrame(JSON.stringify([vote, append]));
    expect(r.ok && r.value.map((m) => m.type)).toEqual(['request_vote', 'append_entries']);
  });

  it('refuses malformed frames with a message naming the field', () => {
    expect(message({ type: 'nope' })).toMatch(/"type" must be one of request_vote, /);
    expect(message('nope')).toMatch(/must be a JSON object/);
    expect(message([])).toMatch(/at least one message/);
    expect(message({ ...vote, term: -1 })).toMatch(/"term" must be a whole number >= 0, got -1/);
    expect(message({ ...vote, term: 1.5 })).toMatch(/"term"/);
    expect(message({ ...vote, from: '../etc' })).toMatch(/"from" must be a peer name/);
    expect(message({ ...vote, rid: 7 })).toMatch(/"rid" must be a non-empty string/);
    expect(message({ ...vote, preVote: 'yes' })).toMatch(/"preVote" must be true or false/);
    expect(message({ ...append, entries: 'all' })).toMatch(/"entries" must be an array/);
    expect(message({ ...append, entries: [{ index: 5, term: 3, data: 7 }] })).toMatch(/entries\[0\]\.data must be a string or null/);
    expect(message({ ...append, entries: [{ index: 6, term: 3, data: null }] })).toMatch(/entries\[0\]\.index must be 5 \(consecutive/);
    expect(message([vote, { ...append, leaderCommit: null }])).toMatch(/message 1 \(append_entries\): "leaderCommit"/);
    const notJson = parsePeerFrame('{"type":');
    expect(notJson.ok).toBe(false);
  });
});

describe('InstallSnapshot validation', () => {
  const chunk = {
    type: 'install_snapshot',
    rid: 'peer1:4',
    from: 'peer1',
    to: 'peer3',
    term: 5,
    snapshotIndex: 500,
    snapshotTerm: 4,
    snapshotConfig: { voters: ['peer1', 'peer2', 'peer3'], learners: ['peer4'] },
    offset: 1024,
    size: 4000,
    data: 'QUJD'.repeat(256),
  };
  const reply = { type: 'install_snapshot_reply', rid: 'peer3:9', from: 'peer3', to: 'peer1', term: 5, snapshotIndex: 500, offset: 2048, matchIndex: 0 };

  it('accepts a chunk and a reply, returning exactly the typed fields', () => {
    expect(parseEnvelope(chunk)).toEqual({ ok: true, value: chunk });
    expect(parseEnvelope(reply)).toEqual({ ok: true, value: reply });
    const extra = parseEnvelope({ ...chunk, snapshotConfig: { ...chunk.snapshotConfig, extra: 1 }, more: 2 });
    expect(extra).toEqual({ ok: true, value: chunk });
  });

  it('refuses malformed chunks and replies, naming the field', () => {
    expect(message({ ...chunk, snapshotIndex: 0 })).toMatch(/\(install_snapshot\): "snapshotIndex" must be >= 1/);
    expect(message({ ...chunk, offset: 3990 })).toMatch(/the chunk \(offset 3990, 1024 characters\) runs past "size" 4000/);
    expect(message({ ...chunk, data: null })).toMatch(/"data" must be a string, got null/);
    expect(message({ ...chunk, size: -1 })).toMatch(/"size" must be a whole number >= 0/);
    expect(message({ ...chunk, snapshotTerm: 2 ** 49 })).toMatch(/"snapshotTerm" must be at most/);
    expect(message({ ...chunk, snapshotConfig: null })).toMatch(/"snapshotConfig" must be a JSON object/);
    expect(message({ ...chunk, snapshotConfig: { voters: [], learners: [] } })).toMatch(/"snapshotConfig.voters" must name at least one voter/);
    expect(message({ ...chunk, snapshotConfig: { voters: ['peer1', 'peer1'], learners: [] } })).toMatch(/"snapshotConfig" names a peer twice/);
    expect(message({ ...chunk, snapshotConfig: { voters: ['peer1', '../x'], learners: [] } })).toMatch(/"snapshotConfig.voters\[1\]" must be a peer name/);
    expect(message({ ...chunk, snapshotConfig: { voters: ['peer1'] } })).toMatch(/"snapshotConfig.learners" must be an array/);
    expect(message({ ...reply, matchIndex: 'all' })).toMatch(/\(install_snapshot_reply\): "matchIndex" must be a whole number/);
    expect(message({ ...reply, offset: undefined })).toMatch(/"offset" must be a whole number >= 0, got nothing/);
  });
});

describe('admin request validation', () => {
  const peers = ['peer1', 'peer2', 'peer3'];
  const parse = (v: unknown) => parseAdminRequest(JSON.stringify(v), peers);

  it('accepts faults, campaign and status, with optional ids', () => {
    expect(parse({ type: 'faults', id: 'a', blocked: ['peer2', 'peer2'], dropRate: 0.5, latencyMs: 100 })).toMatchObject({
      ok: true,
      value: { type: 'faults', id: 'a', blocked: ['peer2'], dropRate: 0.5, latencyMs: 100 },
    });
    expect(parse({ type: 'faults' })).toMatchObject({ ok: true, value: { type: 'faults' } });
    expect(parse({ type: 'campaign' })).toMatchObject({ ok: true, value: { type: 'campaign' } });
    expect(parse({ type: 'status', kv: true, id: 's' })).toMatchObject({ ok: true, value: { type: 'status', kv: true, id: 's' } });
  });

  it('refuses bad requests and keeps a readable id for the error reply', () => {
    const r = parse({ type: 'faults', id: 'x1', blocked: ['peer9'] });
    expect(r).toMatchObject({ ok: false, id: 'x1' });
    expect(!r.ok && r.message).toMatch(/peer9 not in the cluster \(peer1, peer2, peer3\)/);
    expect(parse({ type: 'faults', dropRate: 2 })).toMatchObject({ ok: false });
    expect(parse({ type: 'faults', latencyMs: 1e9 })).toMatchObject({ ok: false });
    expect(parse({ type: 'reboot' })).toMatchObject({ ok: false });
    expect(parse([1])).toMatchObject({ ok: false });
    expect(parseAdminRequest('{', peers)).toMatchObject({ ok: false });
  });
});

describe('hostile frames', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

  it('a frame with deeply nested JSON in any field is refused, never thrown', () => {
    const raft = `{"type":"request_vote","rid":"peer2:1","from":"peer2","to":"peer1","term":${deep(20_000)},"lastLogIndex":0,"lastLogTerm":0,"preVote":true}`;
    expect(parsePeerFrame(raft)).toMatchObject({ ok: false });
    expect(parseAdminRequest(`{"type":"faults","blocked":${deep(20_000)}}`, ['peer1', 'peer2'])).toMatchObject({ ok: false });
    expect(parseAdminRequest(`{"type":"status","kv":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`, ['peer1'])).toMatchObject({ ok: false });
  });

  it('a term or index past 2^48 is refused, so one frame cannot move the cluster to a term no election can pass', () => {
    const vote = (term: number) => ({ type: 'request_vote', rid: 'peer2:1', from: 'peer2', to: 'peer1', term, lastLogIndex: 0, lastLogTerm: 0, preVote: true });
    expect(parseEnvelope(vote(Number.MAX_SAFE_INTEGER))).toMatchObject({ ok: false, message: expect.stringContaining('"term" must be at most') });
    expect(parseEnvelope(vote(2 ** 32))).toMatchObject({ ok: true });
  });
});
