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

  it('names the field that is wrong', () => {
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'rpc_drop', to: 'peer2', reason: 'lost', ...rpc })).toEqual({ ok: false, message: 'reason: expected one of blocked, dropped, disconnected' });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'log_append', entries: [5] })).toEqual({ ok: false, message: 'entries[0]: expected a JSON object' });
    expect(parsePeerEvent({ peer: '1bad', t: 1, type: 'commit', index: 1 })).toEqual({ ok: false, message: 'peer: "1bad" is not a peer name' });
    expect(parsePeerEvent({ peer: 'peer1', t: 1, type: 'nope' })).toEqual({ ok: false, message: 'type: unknown event type "nope"' });
    expect(parsePeerEvent([])).toEqual({ ok: false, message: 'event: expected a JSON object' });
  });
});
