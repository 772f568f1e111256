// The lessons' questions over the peers' events (game/src/page/lessons/journal.ts) and the
// relay's check of a lesson message (game/relay/lessons.ts): pure, no processes.
import { describe, expect, it } from 'vitest';
import type { PeerEvent } from '../../shared/events.ts';
import { appendAcks, candidatesIn, commitsOf, Journal, preVoteRequests, votesFor } from '../../game/src/page/lessons/journal.ts';
import { parseLessonRequest } from '../../game/relay/lessons.ts';

const rpc = (type: 'rpc_send' | 'rpc_recv' | 'rpc_drop', peer: string, other: string, f: Record<string, unknown>): PeerEvent =>
  ({ type, peer, t: 0, ...(type === 'rpc_recv' ? { from: other } : { to: other }), heartbeat: false, entries: 0, ...f }) as unknown as PeerEvent;

describe('the journal of events', () => {
  it('counts a candidate its own vote and each granted real vote of that term once, never pre-votes or refusals', () => {
    const j = new Journal();
    const add = (ev: PeerEvent) => j.add(ev, 0);
    add(rpc('rpc_recv', 'peer1', 'peer2', { rid: 'peer2:1', rpc: 'request_vote_reply', term: 4, ok: true }));
    add(rpc('rpc_recv', 'peer1', 'peer2', { rid: 'peer2:2', rpc: 'request_vote_reply', term: 4, ok: true }));
    add(rpc('rpc_recv', 'peer1', 'peer3', { rid: 'peer3:1', rpc: 'request_vote_reply', term: 4, ok: false }));
    add(rpc('rpc_recv', 'peer1', 'peer4', { rid: 'peer4:1', rpc: 'request_vote_reply', term: 4, ok: true, preVote: true }));
    add(rpc('rpc_recv', 'peer1', 'peer5', { rid: 'peer5:1', rpc: 'request_vote_reply', term: 3, ok: true }));
    expect(votesFor(j.since(0), 'peer1', 4)).toEqual(['peer1', 'peer2']);
  });

  it('names the candidates of a term from their vote requests, and counts pre-vote requests dropped at a fence', () => {
    const j = new Journal();
    j.add(rpc('rpc_send', 'peer2', 'peer1', { rid: 'peer2:7', rpc: 'request_vote', term: 5 }), 0);
    j.add(rpc('rpc_drop', 'peer3', 'peer1', { rid: 'peer3:2', rpc: 'request_vote', term: 5, reason: 'blocked' }), 0);
    j.add(rpc('rpc_drop', 'peer4', 'peer1', { rid: 'peer4:2', rpc: 'request_vote', term: 6, preVote: true, reason: 'blocked' }), 0);
    j.add(rpc('rpc_drop', 'peer4', 'peer2', { rid: 'peer4:3', rpc: 'request_vote', term: 6, preVote: true, reason: 'blocked' }), 0);
    expect(candidatesIn(j.since(0), 5)).toEqual(['peer2', 'peer3']);
    expect(preVoteRequests(j.since(0), 'peer4')).toBe(2);
    expect(preVoteRequests(j.since(0), 'peer2')).toBe(0);
  });

  it('answers from a mark on: events heard before it are not counted', () => {
    const j = new Journal();
    j.add({ type: 'commit', peer: 'peer1', t: 0, index: 3 }, 0);
    const m = j.mark();
    j.add({ type: 'commit', peer: 'peer1', t: 0, index: 5 }, 0);
    j.add(rpc('rpc_recv', 'peer1', 'peer2', { rid: 'peer2:9', rpc: 'append_entries_reply', term: 2, ok: true }), 0);
    j.add(rpc('rpc_recv', 'peer1', 'peer3', { rid: 'peer3:9', rpc: 'append_entries_reply', term: 2, ok: true, heartbeat: true }), 0);
    expect(commitsOf(j.since(m), 'peer1')).toEqual([5]);
    expect(commitsOf(j.since(0), 'peer1')).toEqual([3, 5]);
    expect(appendAcks(j.since(m), 'peer1')).toEqual(['peer2']);
  });
});

describe("the relay's check of a lesson message", () => {
  it('takes a peek and a request with a session', () => {
    expect(parseLessonRequest({ type: 'lesson', op: 'peek', peer: 'peer2' })).toEqual({ ok: true, value: { type: 'lesson', op: 'peek', peer: 'peer2' } });
    const r = parseLessonRequest({ type: 'lesson', op: 'request', peer: 'peer1', command: ['n', 'add', '1'], client: 'c1', seq: 2, cutOff: ['peer2'] });
    expect(r).toEqual({ ok: true, value: { type: 'lesson', op: 'request', peer: 'peer1', command: ['n', 'add', '1'], client: 'c1', seq: 2, cutOff: ['peer2'] } });
  });

  it.each([
    [{ op: 'peek', peer: 7 }, /peer: expected a peer name/],
    [{ op: 'dance', peer: 'peer1' }, /op: expected "peek" or "request"/],
    [{ op: 'request', peer: 'peer1', command: [] }, /command: expected a list/],
    [{ op: 'request', peer: 'peer1', command: ['x', 1] }, /command: expected a list/],
    [{ op: 'request', peer: 'peer1', command: ['x', 'get'], seq: 1 }, /client and seq: give both/],
    [{ op: 'request', peer: 'peer1', command: ['x', 'get'], client: 'c', seq: 0 }, /seq: expected a whole number >= 1/],
    [{ op: 'request', peer: 'peer1', command: ['x', 'get'], timeoutMs: -5 }, /timeoutMs: expected a whole number/],
    [{ op: 'request', peer: 'peer1', command: ['x', 'get'], cutOff: ['peer1'] }, /cutOff: expected a list of peer names other than the peer itself/],
  ])('refuses %j with a message that says what is wrong', (msg, why) => {
    const r = parseLessonRequest({ type: 'lesson', ...msg });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(why);
  });
});
