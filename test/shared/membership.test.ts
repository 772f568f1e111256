// The configuration on the wire (shared/membership.ts, shared/peer-protocol.ts): one validator for
// AppendEntries entries, WAL records and events; and the admin membership requests.
import { describe, expect, it } from 'vitest';
import { formatMembership, parseMembership } from '../../shared/membership.ts';
import { parseAdminRequest, parsePeerFrame } from '../../shared/peer-protocol.ts';

const PEERS = ['peer1', 'peer2', 'peer3'];

describe('parseMembership', () => {
  it('takes voters and learners, copying the lists', () => {
    const input = { voters: ['peer1', 'peer2'], learners: ['peer4'] };
    const m = parseMembership(input);
    expect(m).toEqual(input);
    expect(typeof m !== 'string' && m.voters).not.toBe(input.voters);
    expect(formatMembership({ voters: ['peer1', 'peer2'], learners: [] })).toBe('voters peer1, peer2; no learners');
  });

  it('says what is wrong with a configuration that is not one', () => {
    expect(parseMembership(null)).toBe('a configuration must be an object {voters, learners}');
    expect(parseMembership({ voters: 'peer1', learners: [] })).toBe('"voters" must be a list of peer names');
    expect(parseMembership({ voters: ['peer1', 7], learners: [] })).toBe('"voters[1]" must be a peer name');
    expect(parseMembership({ voters: [], learners: ['peer2'] })).toBe('a configuration needs at least one voter');
    expect(parseMembership({ voters: ['peer1'], learners: ['peer1'] })).toBe('a name appears twice in the configuration (peer1, peer1)');
  });
});

describe('configuration entries in AppendEntries', () => {
  const ae = (entry: unknown) =>
    JSON.stringify({ type: 'append_entries', rid: 'peer1:1', from: 'peer1', to: 'peer2', term: 2, prevLogIndex: 4, prevLogTerm: 2, leaderCommit: 4, entries: [entry] });

  it('carries conf through validation (it used to be dropped)', () => {
    const r = parsePeerFrame(ae({ index: 5, term: 2, data: null, conf: { voters: ['peer1', 'peer2'], learners: ['peer3'] } }));
    expect(r.ok && r.value[0]!.type === 'append_entries' && r.value[0]!.entries[0]).toEqual({ index: 5, term: 2, data: null, conf: { voters: ['peer1', 'peer2'], learners: ['peer3'] } });
  });

  it('refuses a malformed configuration, or one with data, as a bad frame', () => {
    expect(parsePeerFrame(ae({ index: 5, term: 2, data: null, conf: { voters: [], learners: [] } }))).toEqual({
      ok: false,
      message: 'message (append_entries): entries[0].conf: a configuration needs at least one voter',
    });
    expect(parsePeerFrame(ae({ index: 5, term: 2, data: '{}', conf: { voters: ['peer1'], learners: [] } }))).toEqual({
      ok: false,
      message: 'message (append_entries): entries[0]: a configuration entry carries no data',
    });
  });
});

describe('admin membership requests', () => {
  it('parses join and leave with an optional timeout', () => {
    expect(parseAdminRequest(JSON.stringify({ type: 'membership', id: 'm1', op: 'join', peer: 'peer6', timeoutMs: 5000 }), PEERS)).toEqual({
      ok: true,
      value: { type: 'membership', id: 'm1', op: 'join', peer: 'peer6', timeoutMs: 5000 },
      id: 'm1',
    });
    expect(parseAdminRequest(JSON.stringify({ type: 'removed', by: 'peer1', index: 9, term: 2 }), PEERS)).toMatchObject({ ok: true, value: { type: 'removed', by: 'peer1', index: 9, term: 2 } });
  });

  it('refuses add (the key-value command), a bad name and a bad timeout', () => {
    expect(parseAdminRequest(JSON.stringify({ type: 'membership', op: 'add', peer: 'peer6' }), PEERS)).toEqual({ ok: false, message: '"op" must be join or leave, got "add"' });
    expect(parseAdminRequest(JSON.stringify({ type: 'membership', op: 'join', peer: '6peer' }), PEERS)).toEqual({ ok: false, message: '"peer" must be a peer name, got "6peer"' });
    expect(parseAdminRequest(JSON.stringify({ type: 'membership', op: 'leave', peer: 'peer2', timeoutMs: 0 }), PEERS)).toEqual({ ok: false, message: '"timeoutMs" must be from 1 to 600000, got 0' });
  });
});
