// The relay's peer-event parser: what it keeps of valid events and what it refuses, and why.
import { describe, expect, it } from 'vitest';
import { parsePeerEvent } from '../../game/relay/validate.ts';

const rpc = { rid: 'peer1:7', rpc: 'append_entries_reply', term: 3, heartbeat: false, entries: 0 };

describe('parsePeerEvent', () => {
  it('keeps every field of each event type, in the order peers send them', () => {
    const events = [
      { peer: 'peer1', t: 5, type: 'hello', pid: 9, cluster: ['peer1', 'peer2'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 } },
      { peer: 'peer1', t: 5, type: 'state', role: 'follower', term: 3, vote: null, leader: 'peer2', commitIndex: 4, appliedIndex: 4, lastIndex: 5, lastTerm: 3, electionDeadline: 1234 },
      { peer: 'peer1', t: 5, type: 'rpc_send', to: 'peer2', ...rpc, ok: true },
      { peer: 'peer1', t: 5, type: 'rpc_recv', from: 'peer2', ...rpc, preVote: true, ok: false },
      { peer: 'peer1', t: 5, type: 'rpc_drop', to: 'peer3', reason: 'blocked', ...rpc },
      { peer: 'peer1', t: 5, type: 'log_append', entries: [{ index: 4, term: 2, label: 'noop' }, { index: 5, term: 3, label: 'x add 1' }] },
      { peer: 'peer1', t: 5, type: 'log_truncate', from: 4 },
      { peer: 'peer1', t: 5, type: 'commit', index: 4 },
      { peer: 'peer1', t: 5, type: 'apply', entries: [{ index: 5, term: 3, command: ['x', 'add', '1'], ok: true, result: 1, key: 'x', value: 1 }, { index: 6, term: 3, command: null, ok: true, result: null, key: null, value: null }] },
      { peer: 'peer1', t: 5, type: 'faults', blocked: ['peer2'], dropRate: 0.25, latencyMs: 10 },
      { peer: 'peer1', t: 5, type: 'reporter_dropped', count: 3 },
    ];
    for (const e of events) {
      const r = parsePeerEvent(e);
      expect(r).toEqual({ ok: true, value: e });
      if (r.ok) expect(JSON.stringify(r.value)).toBe(JSON.stringify(e));
    }
  });

  it('keeps the fields the safety monitor reads: seq on every event, hello recovery, hashes, write terms', () => {
    const recovered = { w: 212, term: 3, vote: 'peer1', commit: 12, commitPh: 5103882004117231, lastIndex: 14, lastTerm: 3, lastPh: 7741220935513002, base: null };
    const events = [
      { peer: 'peer3', t: 5, type: 'hello', pid: 9, cluster: ['peer1', 'peer3'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 }, boot: '9f2c4e1a7b3d', dataId: '41d07c9e2a6f', recovered, seq: 0 },
      { peer: 'peer3', t: 5, type: 'hello', pid: 9, cluster: ['peer3'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 }, recovered: { ...recovered, base: { index: 5, term: 2, ph: 77 } } },
      { peer: 'peer1', t: 5, type: 'rpc_send', to: 'peer2', ...rpc, ok: true, seq: 7 },
      { peer: 'peer1', t: 5, type: 'log_append', entries: [{ index: 11, term: 4, label: 'x add 100', ph: 3395020194462017 }], seq: 89 },
      { peer: 'peer1', t: 5, type: 'log_append', entries: [{ index: 12, term: 4, label: 'noop', ph: 77 }], durable: { w: 214, term: 4, vote: null }, seq: 90 },
      { peer: 'peer1', t: 5, type: 'log_truncate', from: 11, term: 4, seq: 88 },
      { peer: 'peer1', t: 5, type: 'commit', index: 11, term: 4, ph: 3395020194462017, seq: 93 },
      { peer: 'peer1', t: 5, type: 'apply', entries: [{ index: 11, term: 4, h: 2735150412, command: ['x', 'add', '100'], ok: true, result: 100, key: 'x', value: 100 }], seq: 95 },
      { peer: 'peer3', t: 5, type: 'persisted', w: 213, term: 3, vote: 'peer1', lastIndex: 15, lastTerm: 3, lastPh: 2290417763310455, seq: 41 },
      { peer: 'peer2', t: 5, type: 'snapshot', reason: 'compacted', index: 5000, term: 7, ph: 8817300264209113, lastIndex: 5123, seq: 20511 },
      { peer: 'peer2', t: 5, type: 'snapshot', reason: 'installed', index: 6000, term: 8, ph: 0, lastIndex: 6000 },
      {
        peer: 'peer2', t: 5, type: 'resync', role: 'follower', term: 4, vote: null, leader: 'peer1', commit: 11, commitPh: 3395020194462017,
        lastIndex: 11, lastTerm: 4, lastPh: 3395020194462017, base: { index: 9, term: 3, ph: 12 }, durable: { w: 240, term: 4, vote: null },
        tail: [{ index: 10, term: 3, label: 'y set 5', ph: 6120930016742981 }, { index: 11, term: 4, label: 'x add 100', ph: 3395020194462017 }], seq: 96,
      },
    ];
    for (const e of events) expect(parsePeerEvent(e)).toEqual({ ok: true, value: e });
  });

  it('refuses malformed monitor fields and events, naming the field', () => {
    const refused = (e: Record<string, unknown>) => {
      const r = parsePeerEvent({ peer: 'peer1', t: 1, ...e });
      return r.ok ? 'accepted' : r.message;
    };
    const recovered = { w: 1, term: 1, vote: null, commit: 0, commitPh: 0, lastIndex: 0, lastTerm: 0, lastPh: 0, base: null };
    const hello = { type: 'hello', pid: 1, cluster: ['peer1'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 } };
    expect(refused({ type: 'commit', index: 1, seq: -1 })).toBe('seq: expected a whole number >= 0');
    expect(refused({ type: 'commit', index: 1, seq: 1.5 })).toBe('seq: expected a whole number >= 0');
    expect(refused({ type: 'commit', index: 1, ph: 2 ** 53 })).toBe('ph: expected a hash (a whole number from 0 to 2^53 - 1)');
    expect(refused({ type: 'commit', index: 1, term: 'x' })).toBe('term: expected a number');
    expect(refused({ type: 'log_truncate', from: 3, term: -2 })).toBe('term: expected a whole number >= 0');
    expect(refused({ type: 'log_append', entries: [{ index: 1, term: 1, label: 'a', ph: '12' }] })).toBe('entries[0].ph: expected a hash (a whole number from 0 to 2^53 - 1)');
    expect(refused({ type: 'apply', entries: [{ index: 1, term: 1, h: 2 ** 32, command: null, ok: true, result: null, key: null, value: null }] })).toBe(
      'entries[0].h: expected a hash (a whole number from 0 to 2^32 - 1)',
    );
    expect(refused({ ...hello, boot: '' })).toBe('boot: expected an id of 1 to 64 characters');
    expect(refused({ ...hello, dataId: 'x'.repeat(65) })).toBe('dataId: expected an id of 1 to 64 characters');
    expect(refused({ ...hello, recovered: 3 })).toBe('recovered: expected a JSON object');
    expect(refused({ ...hello, recovered: { ...recovered, vote: 'no one' } })).toBe('recovered.vote: "no one" is not a peer name');
    expect(refused({ ...hello, recovered: { ...recovered, base: { index: 1, term: 1 } } })).toBe('recovered.base.ph: expected a hash (a whole number from 0 to 2^53 - 1)');
    expect(refused({ type: 'persisted', w: 1, term: 1, vote: null, lastIndex: 1, lastTerm: 1 })).toBe('lastPh: expected a hash (a whole number from 0 to 2^53 - 1)');
    expect(refused({ type: 'snapshot', reason: 'lost', index: 5, term: 1, ph: 1, lastIndex: 5 })).toBe('reason: expected one of compacted, installed');
    expect(refused({ type: 'snapshot', reason: 'compacted', index: 5, term: 1, ph: 1, lastIndex: 4 })).toBe("lastIndex: 4 is below the snapshot's index 5");
    const resync = { type: 'resync', role: 'leader', term: 2, vote: 'peer1', leader: 'peer1', commit: 1, commitPh: 1, lastIndex: 2, lastTerm: 2, lastPh: 2, base: null, durable: { w: 3, term: 2, vote: 'peer1' }, tail: [] };
    expect(refused(resync)).toBe('accepted');
    expect(refused({ ...resync, durable: { w: 3, term: 2 } })).toBe('durable.vote: expected a string');
    expect(refused({ ...resync, tail: [{ index: 2, term: 2, label: 'a' }, { index: 2, term: 2, label: 'b' }] })).toBe('tail[1].index: indexes must ascend');
    expect(refused({ ...resync, tail: 'all of it' })).toBe('tail: expected a list of log tiles');
    expect(refused({ ...resync, role: 'king' })).toBe('role: expected one of follower, precandidate, candidate, leader');
  });

  it('drops fields it does not know and turns command numbers into text', () => {
    const r = parsePeerEvent({ peer: 'peer1', t: 1, type: 'apply', entries: [{ index: 2, term: 1, command: ['x', 'add', 100], ok: true, result: 100, key: 'x', value: 100, extra: 'no' }], extra: 'no' });
    expect(r).toEqual({ ok: true, value: { peer: 'peer1', t: 1, type: 'apply', entries: [{ index: 2, term: 1, command: ['x', 'add', '100'], ok: true, result: 100, key: 'x', value: 100 }] } });
  });

  it('refuses an apply whose entries do not ascend or are malformed, saying which entry', () => {
    const a = (index: number) => ({ index, term: 1, command: ['x', 'add', '1'], ok: true, result: 1, key: 'x', value: 1 });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'apply', entries: [a(3), a(3)] })).toEqual({ ok: false, message: 'entries[1].index: indexes must ascend' });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'apply', entries: [a(3), { ...a(4), ok: 'yes' }] })).toEqual({ ok: false, message: 'entries[1].ok: expected true or false' });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'apply', index: 3 })).toEqual({ ok: false, message: 'entries: expected a list of applied entries' });
  });

  it('refuses a log_append whose indexes do not ascend, saying which entry', () => {
    const r = parsePeerEvent({ peer: 'peer1', t: 1, type: 'log_append', entries: [{ index: 4, term: 1, label: 'a' }, { index: 4, term: 1, label: 'b' }] });
    expect(r).toEqual({ ok: false, message: 'entries[1].index: indexes must ascend' });
  });

  it('keeps what a letter says (vote, append and reply numbers) and refuses one that is not a whole number', () => {
    const said = [
      { peer: 'peer1', t: 5, type: 'rpc_send', to: 'peer2', rid: 'peer1:8', rpc: 'request_vote', term: 4, heartbeat: false, entries: 0, preVote: false, lastLogIndex: 9, lastLogTerm: 3 },
      { peer: 'peer1', t: 5, type: 'rpc_send', to: 'peer2', rid: 'peer1:9', rpc: 'append_entries', term: 4, heartbeat: false, entries: 2, prevLogIndex: 7, prevLogTerm: 3, leaderCommit: 6 },
      { peer: 'peer2', t: 5, type: 'rpc_recv', from: 'peer3', ...rpc, ok: false, matchIndex: 5, conflictIndex: 6, conflictTerm: 2 },
    ];
    for (const e of said) expect(parsePeerEvent(e)).toEqual({ ok: true, value: e });
    expect(parsePeerEvent({ ...said[1], leaderCommit: -1 })).toEqual({ ok: false, message: 'leaderCommit: expected a whole number >= 0' });
    expect(parsePeerEvent({ ...said[0], lastLogTerm: '3' })).toEqual({ ok: false, message: 'lastLogTerm: expected a number' });
  });

  it('names the field that is wrong', () => {
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'rpc_drop', to: 'peer2', reason: 'lost', ...rpc })).toEqual({ ok: false, message: 'reason: expected one of blocked, dropped, disconnected' });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'log_append', entries: [5] })).toEqual({ ok: false, message: 'entries[0]: expected a JSON object' });
    expect(parsePeerEvent({ peer: '1bad', t: 1, type: 'commit', index: 1 })).toEqual({ ok: false, message: 'peer: "1bad" is not a peer name' });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'nope' })).toEqual({ ok: false, message: 'type: unknown event type "nope"' });
    expect(parsePeerEvent([])).toEqual({ ok: false, message: 'event: expected a JSON object' });
  });
});

describe('parsePeerEvent: InstallSnapshot summaries', () => {
  const snap = { rid: 'peer1:9', term: 4, heartbeat: false, entries: 0 };
  it('keeps an install_snapshot chunk and its reply with their chunk fields', () => {
    const events = [
      { peer: 'peer1', t: 5, type: 'rpc_send', to: 'peer3', ...snap, rpc: 'install_snapshot', chunk: { index: 500, offset: 65536, bytes: 65536, size: 200000 } },
      { peer: 'peer3', t: 6, type: 'rpc_recv', from: 'peer1', ...snap, rpc: 'install_snapshot', chunk: { index: 500, offset: 0, bytes: 65536, size: 200000 } },
      { peer: 'peer3', t: 6, type: 'rpc_send', to: 'peer1', ...snap, rpc: 'install_snapshot_reply', ok: true, chunk: { index: 500, offset: 200000, bytes: 0, size: 0 } },
    ];
    for (const e of events) expect(parsePeerEvent(e)).toEqual({ ok: true, value: e });
  });

  it('refuses a chunk on other RPCs, and a chunk that runs past its snapshot', () => {
    const refused = (e: Record<string, unknown>) => {
      const r = parsePeerEvent({ peer: 'peer1', t: 1, type: 'rpc_send', to: 'peer2', ...snap, ...e });
      return r.ok ? 'accepted' : r.message;
    };
    expect(refused({ rpc: 'append_entries', chunk: { index: 1, offset: 0, bytes: 1, size: 1 } })).toBe('chunk: only an install_snapshot or its reply has one, not append_entries');
    expect(refused({ rpc: 'install_snapshot', chunk: { index: 1, offset: 10, bytes: 5, size: 12 } })).toBe("chunk.offset: the chunk (10 + 5) runs past the snapshot's size 12");
    expect(refused({ rpc: 'install_snapshot', chunk: { index: 1, offset: 0, bytes: 5 } })).toBe('chunk.size: expected a number');
    expect(refused({ rpc: 'install_snapshot_rply' })).toMatch(/^rpc: expected one of/);
  });
});

describe('parsePeerEvent: where a log begins', () => {
  const state = { peer: 'peer2', t: 5, type: 'state', role: 'follower', term: 3, vote: null, leader: 'peer1', commitIndex: 5200, appliedIndex: 5200, lastIndex: 5210, lastTerm: 3, electionDeadline: 1234 };
  it('keeps state.log (first index, and the snapshot\'s last index and term)', () => {
    const e = { ...state, log: { firstIndex: 4001, snapshotIndex: 5000, snapshotTerm: 3 } };
    expect(parsePeerEvent(e)).toEqual({ ok: true, value: e });
    expect(parsePeerEvent(state)).toEqual({ ok: true, value: state });
  });

  it('refuses a malformed state.log, naming the field', () => {
    const r = (log: unknown) => {
      const p = parsePeerEvent({ ...state, log });
      return p.ok ? 'accepted' : p.message;
    };
    expect(r({ firstIndex: 0, snapshotIndex: 0, snapshotTerm: 0 })).toBe('log.firstIndex: expected a whole number >= 1');
    expect(r({ firstIndex: 5, snapshotIndex: 4 })).toBe('log.snapshotTerm: expected a number');
    expect(r('from 5')).toBe('log: expected a JSON object');
  });
});
