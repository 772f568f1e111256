// Leader election: the paper's §5.1-5.2 and §5.4.1, and Figure 2's rules for all servers,
// followers and candidates. Each test: set up a state, step messages in, check what comes out.
import { describe, expect, it } from 'vitest';
import { EMAX, EMIN, HB, ae, leaderOf, node, sent, vote, voteReply, take } from './harness.ts';

describe('all servers (§5.1)', () => {
  it('a server that sees a higher term adopts it and reverts to follower (§5.1)', () => {
    const l = leaderOf('n1', { term: 1 });
    expect(l.status()).toMatchObject({ role: 'leader', term: 2 });
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 5, success: false, matchIndex: 0 }, 10);
    expect(l.status()).toMatchObject({ role: 'follower', term: 5, vote: null, leader: null });
    const rd = take(l);
    expect(rd.hardState).toMatchObject({ term: 5, vote: null });
    expect(rd.events).toContainEqual(expect.objectContaining({ kind: 'step_down' }));
  });

  it('a server rejects an AppendEntries with a stale term and answers with its own term (§5.1)', () => {
    const f = node('n2', { term: 3, log: [1, 3] });
    f.step(ae('n1', 'n2', 2, 2, 3, [2], 2), 10);
    const [r] = sent(f, 'append_entries_reply');
    expect(r).toMatchObject({ term: 3, success: false });
    expect(f.status()).toMatchObject({ term: 3, lastIndex: 2, commitIndex: 0 });
  });

  it('a server rejects a RequestVote with a stale term (§5.1)', () => {
    const f = node('n2', { term: 3 });
    f.step(vote('n1', 'n2', 2, 10, 2), 10);
    expect(sent(f, 'request_vote_reply')).toEqual([expect.objectContaining({ term: 3, granted: false })]);
    expect(f.status().vote).toBeNull();
  });

  it('a server ignores messages from peers outside the cluster and messages addressed to others', () => {
    const f = node('n2', { term: 1 });
    f.step(ae('n9', 'n2', 7, 0, 0, [7], 1), 10);
    f.step(ae('n1', 'n3', 7, 0, 0, [7], 1), 10);
    expect(f.status()).toMatchObject({ term: 1, lastIndex: 0 });
    expect(sent(f)).toEqual([]);
  });
});

describe('election timeouts (§5.2)', () => {
  it('a follower starts an election after its randomized election timeout (§5.2)', () => {
    const draws = [0, 0.999];
    for (const r of draws) {
      const f = node('n1', { log: [1, 1], term: 1, opts: { random: () => r } });
      const deadline = f.nextDeadline();
      expect(deadline).toBeGreaterThanOrEqual(EMIN);
      expect(deadline).toBeLessThan(EMAX);
      f.tick(deadline - 1);
      expect(f.status().role).toBe('follower');
      f.tick(deadline);
      // §5.2: increment the term, vote for yourself, ask every other server for its vote.
      expect(f.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'n1' });
      const rd = take(f);
      expect(rd.hardState).toMatchObject({ term: 2, vote: 'n1' });
      expect(rd.sent.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
      for (const m of rd.sent) expect(m).toMatchObject({ type: 'request_vote', term: 2, lastLogIndex: 2, lastLogTerm: 1, preVote: false });
    }
  });

  it('election timeouts are drawn from [electionMin, electionMax) with the injected random source (§5.2)', () => {
    expect(node('n1', { now: 1000, opts: { random: () => 0 } }).nextDeadline()).toBe(1000 + EMIN);
    expect(node('n1', { now: 1000, opts: { random: () => 0.5 } }).nextDeadline()).toBe(1000 + (EMIN + EMAX) / 2);
    expect(node('n1', { now: 1000, opts: { random: () => 0.9 } }).nextDeadline()).toBeCloseTo(1000 + EMIN + 0.9 * (EMAX - EMIN));
  });

  it('a follower resets its election timer on AppendEntries from the current leader (Figure 2, Followers)', () => {
    const f = node('n2', { term: 1 });
    const first = f.nextDeadline();
    f.step(ae('n1', 'n2', 1, 0, 0, [], 0), first - 10);
    expect(f.nextDeadline()).toBe(first - 10 + (EMIN + EMAX) / 2);
    f.tick(first);
    expect(f.status()).toMatchObject({ role: 'follower', leader: 'n1' });
  });

  it('a candidate whose election times out (split vote) starts a new election in the next term (§5.2)', () => {
    const c = node('n1', { term: 1 });
    c.tick(c.nextDeadline());
    expect(c.status()).toMatchObject({ role: 'candidate', term: 2 });
    take(c);
    c.step(voteReply('n2', 'n1', 2, false), c.nextDeadline() - 50);
    c.tick(c.nextDeadline());
    expect(c.status()).toMatchObject({ role: 'candidate', term: 3, vote: 'n1' });
    expect(sent(c, 'request_vote').map((m) => m.term)).toEqual([3, 3]);
  });

  it('a leader has no election timer; it sends heartbeats every heartbeat interval (§5.2)', () => {
    const l = leaderOf('n1', { now: 100 });
    expect(l.status().electionDeadline).toBeNull();
    expect(l.nextDeadline()).toBe(100 + HB);
    l.tick(100 + HB - 1);
    expect(sent(l)).toEqual([]);
    l.tick(100 + HB);
    const beats = sent(l, 'append_entries');
    expect(beats.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    expect(l.nextDeadline()).toBe(100 + 2 * HB);
  });
});

describe('winning and losing (§5.2)', () => {
  it('a candidate becomes leader with votes from a majority, counting its own (§5.2)', () => {
    const c = node('n1', { peers: ['n1', 'n2', 'n3', 'n4', 'n5'], term: 1 });
    c.tick(c.nextDeadline());
    take(c);
    c.step(voteReply('n2', 'n1', 2, true), 300);
    expect(c.status().role).toBe('candidate');
    c.step(voteReply('n2', 'n1', 2, true), 300); // a duplicate counts once
    expect(c.status().role).toBe('candidate');
    c.step(voteReply('n3', 'n1', 2, false), 300);
    c.step(voteReply('n4', 'n1', 2, true), 300);
    expect(c.status()).toMatchObject({ role: 'leader', leader: 'n1', term: 2 });
  });

  it('a candidate ignores votes from another term (§5.2)', () => {
    const c = node('n1', { term: 1 });
    c.tick(c.nextDeadline());
    c.step(voteReply('n2', 'n1', 1, true), 300);
    expect(c.status().role).toBe('candidate');
  });

  it('a candidate gives up and becomes follower when a majority rejects it', () => {
    const c = node('n1', { term: 1 });
    c.tick(c.nextDeadline());
    c.step(voteReply('n2', 'n1', 2, false), 300);
    c.step(voteReply('n3', 'n1', 2, false), 300);
    expect(c.status()).toMatchObject({ role: 'follower', term: 2, vote: 'n1' });
  });

  it('a candidate reverts to follower on AppendEntries from a leader of its term (§5.2)', () => {
    const c = node('n1', { term: 1 });
    c.tick(c.nextDeadline());
    take(c);
    c.step(ae('n2', 'n1', 2, 0, 0, [2], 0), 300);
    expect(c.status()).toMatchObject({ role: 'follower', term: 2, leader: 'n2', lastIndex: 1 });
    expect(sent(c, 'append_entries_reply')).toEqual([expect.objectContaining({ success: true, matchIndex: 1 })]);
  });

  it('a single-server cluster elects itself at once, and commits its no-op once it is saved', () => {
    const n = node('solo', { peers: ['solo'] });
    n.tick(n.nextDeadline());
    expect(n.status()).toMatchObject({ role: 'leader', term: 1, lastIndex: 1, commitIndex: 0 });
    take(n);
    expect(n.status()).toMatchObject({ role: 'leader', term: 1, commitIndex: 1 });
  });
});

describe('voting (§5.2, §5.4.1)', () => {
  it('each server votes for at most one candidate per term, first come first served (§5.2)', () => {
    const f = node('n3', { term: 1 });
    f.step(vote('n1', 'n3', 2, 0, 0), 10);
    f.step(vote('n2', 'n3', 2, 0, 0), 11);
    f.step(vote('n1', 'n3', 2, 0, 0), 12); // the same candidate asking again gets the same answer
    const replies = sent(f, 'request_vote_reply');
    expect(replies.map((r) => [r.to, r.granted])).toEqual([
      ['n1', true],
      ['n2', false],
      ['n1', true],
    ]);
    expect(f.status()).toMatchObject({ term: 2, vote: 'n1' });
  });

  it('the vote is in the same Ready as the reply, so it is persisted before the reply is sent (Figure 2)', () => {
    const f = node('n3', { term: 1 });
    f.step(vote('n1', 'n3', 2, 0, 0), 10);
    const rd = take(f);
    expect(rd.hardState).toEqual({ term: 2, vote: 'n1', commit: 0 });
    expect(rd.early).toEqual([]);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'request_vote_reply', granted: true })]);
  });

  it('granting a vote resets the election timer (Figure 2, Followers)', () => {
    const f = node('n3', { term: 1 });
    f.step(vote('n1', 'n3', 2, 0, 0), 200);
    expect(f.nextDeadline()).toBe(200 + (EMIN + EMAX) / 2);
  });

  it('a voter denies a candidate whose last log term is older (§5.4.1)', () => {
    const f = node('n3', { term: 3, log: [1, 3] });
    f.step(vote('n1', 'n3', 4, 5, 2), 10);
    expect(sent(f, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: false, term: 4 })]);
    expect(f.status()).toMatchObject({ term: 4, vote: null });
  });

  it('a voter denies a candidate with the same last term but a shorter log (§5.4.1)', () => {
    const f = node('n3', { term: 3, log: [1, 3, 3] });
    f.step(vote('n1', 'n3', 4, 2, 3), 10);
    expect(sent(f, 'request_vote_reply')[0]!.granted).toBe(false);
    f.step(vote('n2', 'n3', 4, 3, 3), 10);
    expect(sent(f, 'request_vote_reply')[0]!.granted).toBe(true);
  });

  it('a voter grants a candidate whose last term is newer even if its log is shorter (§5.4.1)', () => {
    const f = node('n3', { term: 3, log: [1, 1, 1, 1] });
    f.step(vote('n1', 'n3', 4, 2, 3), 10);
    expect(sent(f, 'request_vote_reply')[0]!.granted).toBe(true);
  });

  it('a leader rejects a vote request for its own term (it voted for itself)', () => {
    const l = leaderOf('n1', { term: 1 });
    l.step(vote('n2', 'n1', 2, 10, 2), 10);
    expect(sent(l, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: false })]);
    expect(l.status().role).toBe('leader');
  });
});

describe('new leaders', () => {
  it('a new leader appends a no-op entry of its term and sends it to every follower (dissertation §6.4)', () => {
    const c = node('n1', { term: 1, log: [1, 1] });
    c.tick(c.nextDeadline());
    take(c);
    c.step(voteReply('n2', 'n1', 2, true), 300);
    expect(c.status()).toMatchObject({ role: 'leader', lastIndex: 3, lastTerm: 2 });
    const rd = take(c);
    expect(rd.entries).toEqual([{ index: 3, term: 2, data: null }]);
    const appends = rd.sent.filter((m) => m.type === 'append_entries');
    expect(appends.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const m of appends) expect(m).toMatchObject({ term: 2, prevLogIndex: 2, prevLogTerm: 1, entries: [{ index: 3, term: 2, data: null }] });
  });

  it('campaign() starts an election at once, without PreVote, even at a leader', () => {
    const f = node('n2', { term: 4, opts: { preVote: true } });
    f.campaign(5);
    expect(f.status()).toMatchObject({ role: 'candidate', term: 5, vote: 'n2' });
    expect(sent(f, 'request_vote')).toEqual([
      expect.objectContaining({ to: 'n1', preVote: false, force: true, term: 5 }),
      expect.objectContaining({ to: 'n3', preVote: false, force: true, term: 5 }),
    ]);
    const l = leaderOf('n1', { term: 1 });
    l.readIndex('r', 10);
    l.campaign(10);
    expect(l.status()).toMatchObject({ role: 'candidate', term: 3 });
    expect(take(l).readFailures).toEqual([{ ctx: 'r', leader: null }]);
  });

  it('a follower told TimeoutNow by its leader campaigns at once (dissertation §3.10)', () => {
    const f = node('n2', { term: 3, opts: { preVote: true, checkQuorum: true } });
    f.step(ae('n1', 'n2', 3, 0, 0, [], 0), 10);
    take(f);
    f.step({ type: 'timeout_now', from: 'n1', to: 'n2', term: 3 }, 20);
    expect(f.status()).toMatchObject({ role: 'candidate', term: 4 });
    expect(sent(f, 'request_vote').every((m) => m.force === true && !m.preVote)).toBe(true);
  });
});
