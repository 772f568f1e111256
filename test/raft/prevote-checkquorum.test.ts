// PreVote (dissertation §9.6), CheckQuorum (§6.2) and leader stickiness (§4.2.3): together they
// keep a peer that was cut off from disrupting the cluster when it comes back.
import { describe, expect, it } from 'vitest';
import { EMIN, HB, ae, aeOk, leaderOf, node, sent, vote, voteReply, take } from './harness.ts';

const both = { preVote: true, checkQuorum: true };

describe('PreVote (dissertation §9.6)', () => {
  it('a pre-candidate asks for pre-votes for term+1 without changing its own term or vote (§9.6)', () => {
    const f = node('n1', { term: 3, vote: 'n2', log: [1, 3], opts: both });
    f.tick(f.nextDeadline());
    expect(f.status()).toMatchObject({ role: 'precandidate', term: 3, vote: 'n2' });
    const rd = take(f);
    expect(rd.hardState).toBeNull();
    expect(rd.sent).toHaveLength(2);
    for (const m of rd.sent) expect(m).toMatchObject({ type: 'request_vote', preVote: true, term: 4, lastLogIndex: 2, lastLogTerm: 3 });
  });

  it('a pre-candidate that wins a majority of pre-votes starts a real election (§9.6)', () => {
    const f = node('n1', { term: 3, opts: both });
    f.tick(f.nextDeadline());
    take(f);
    f.step(voteReply('n2', 'n1', 4, true, true), 300);
    expect(f.status()).toMatchObject({ role: 'candidate', term: 4, vote: 'n1' });
    expect(sent(f, 'request_vote').every((m) => !m.preVote && m.term === 4)).toBe(true);
  });

  it('a pre-candidate rejected by a majority goes back to follower without bumping its term (§9.6)', () => {
    const f = node('n1', { term: 3, opts: both });
    f.tick(f.nextDeadline());
    // A refusal carries the refuser's own term (etcd does the same).
    f.step(voteReply('n2', 'n1', 3, false, true), 300);
    f.step(voteReply('n3', 'n1', 3, false, true), 300);
    expect(f.status()).toMatchObject({ role: 'follower', term: 3 });
  });

  it('a pre-candidate refused by a peer already in the term it asked about takes that term, and can ask again above it', () => {
    // n2 and n3 voted in term 4 already; n1 (term 3, the longest log) would ask about term 4 for
    // ever if the refusals did not carry their term.
    const f = node('n1', { term: 3, log: [1, 3, 3], opts: both });
    f.tick(f.nextDeadline());
    f.step(voteReply('n2', 'n1', 4, false, true), 300);
    expect(f.status()).toMatchObject({ role: 'follower', term: 4 });
    take(f);
    f.tick(f.nextDeadline());
    expect(sent(f, 'request_vote').map((m) => m.term)).toEqual([5, 5]);
  });

  it('a peer refuses a pre-vote with its own term, not the term asked about', () => {
    const f = node('n2', { term: 3, log: [1, 3, 3], opts: both });
    f.step(vote('n1', 'n2', 4, 1, 1, true), 10);
    expect(take(f).sent).toEqual([expect.objectContaining({ type: 'request_vote_reply', preVote: true, granted: false, term: 3 })]);
  });

  it('a peer grants a pre-vote without changing its term, its vote or its timer (§9.6)', () => {
    const f = node('n2', { term: 3, vote: 'n3', log: [1, 3], opts: both });
    const deadline = f.nextDeadline();
    f.step(vote('n1', 'n2', 4, 2, 3, true), 10);
    const rd = take(f);
    expect(rd.sent).toEqual([expect.objectContaining({ type: 'request_vote_reply', preVote: true, granted: true, term: 4 })]);
    expect(rd.hardState).toBeNull();
    expect(f.status()).toMatchObject({ term: 3, vote: 'n3' });
    expect(f.nextDeadline()).toBe(deadline);
  });

  it('a peer refuses a pre-vote to a candidate with a less up-to-date log (§9.6, §5.4.1)', () => {
    const f = node('n2', { term: 3, log: [1, 3], opts: both });
    f.step(vote('n1', 'n2', 4, 5, 2, true), 10);
    expect(sent(f, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: false, preVote: true })]);
  });

  it('a peer that rejoins after a partition cannot disrupt a healthy leader (§9.6)', () => {
    // n3 was cut off; its timer fires again and again. With PreVote its term stays put, so when
    // it can talk again the leader and followers are not forced into a new term.
    const n3 = node('n3', { term: 2, log: [1, 2], opts: both });
    for (let i = 0; i < 5; i++) {
      n3.tick(n3.nextDeadline());
      take(n3); // its pre-votes go nowhere
    }
    expect(n3.status()).toMatchObject({ role: 'precandidate', term: 2 });
    const n2 = node('n2', { term: 2, log: [1, 2, 2], opts: both });
    n2.step(ae('n1', 'n2', 2, 3, 2, [], 3), 1000); // n2 hears from leader n1
    take(n2);
    n3.tick(n3.nextDeadline());
    for (const m of sent(n3, 'request_vote')) if (m.to === 'n2') n2.step(m, 1010);
    expect(sent(n2, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: false })]);
    expect(n2.status()).toMatchObject({ term: 2, leader: 'n1' });
  });

  it('a leader refuses pre-votes: it is alive (§9.6)', () => {
    const l = leaderOf('n1', { term: 1, opts: { preVote: true } });
    l.step(vote('n3', 'n1', 3, 5, 2, true), 10);
    expect(sent(l, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: false, preVote: true })]);
    expect(l.status()).toMatchObject({ role: 'leader', term: 2 });
  });

  it('without PreVote, a returning peer with a higher term forces the leader to step down (§5.1; why PreVote exists)', () => {
    const l = leaderOf('n1', { term: 1 });
    l.step(vote('n3', 'n1', 9, 0, 0), 10);
    expect(l.status()).toMatchObject({ role: 'follower', term: 9 });
  });
});

describe('CheckQuorum (dissertation §6.2)', () => {
  it('a leader that has not heard from a majority for an election timeout steps down (§6.2)', () => {
    const l = leaderOf('n1', { term: 1, opts: both });
    for (let t = HB; t < EMIN; t += HB) l.tick(t);
    expect(l.status().role).toBe('leader');
    l.tick(EMIN);
    expect(l.status()).toMatchObject({ role: 'follower', term: 2, leader: null });
    expect(take(l).events).toContainEqual(expect.objectContaining({ kind: 'step_down', reason: expect.stringContaining('CheckQuorum') }));
  });

  it('a leader that hears from a majority stays leader (§6.2)', () => {
    const l = leaderOf('n1', { term: 1, opts: both });
    let t = 0;
    for (let round = 0; round < 10; round++) {
      t += HB;
      l.tick(t);
      l.step(aeOk('n2', 'n1', 2, 0), t); // n3 stays silent: n1 + n2 are a majority
    }
    expect(l.status().role).toBe('leader');
  });

  it('a follower that heard from its leader within the minimum election timeout ignores RequestVote (§4.2.3)', () => {
    const f = node('n2', { term: 2, opts: both });
    f.step(ae('n1', 'n2', 2, 0, 0, [], 0), 100);
    take(f);
    f.step(vote('n3', 'n2', 3, 0, 0), 100 + EMIN - 1);
    expect(f.status()).toMatchObject({ term: 2, vote: null, leader: 'n1' });
    expect(sent(f, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: false })]);
    // Once the lease has run out the vote is considered.
    f.step(vote('n3', 'n2', 3, 0, 0), 100 + EMIN);
    expect(f.status()).toMatchObject({ term: 3, vote: 'n3' });
  });

  it('a forced election (campaign, TimeoutNow) is granted even while followers hear from a leader', () => {
    const f = node('n2', { term: 2, opts: both });
    f.step(ae('n1', 'n2', 2, 0, 0, [], 0), 100);
    take(f);
    f.step({ ...vote('n3', 'n2', 3, 0, 0), force: true }, 110);
    expect(f.status()).toMatchObject({ term: 3, vote: 'n3' });
    expect(sent(f, 'request_vote_reply')).toEqual([expect.objectContaining({ granted: true })]);
  });

  it('a leader with CheckQuorum ignores vote requests from a higher term while its lease holds (§6.2)', () => {
    const l = leaderOf('n1', { term: 1, opts: both });
    l.step(vote('n3', 'n1', 9, 0, 0), 10);
    expect(l.status()).toMatchObject({ role: 'leader', term: 2 });
  });

  it('a stale leader learns of a higher term from a rejection and steps down (§5.1)', () => {
    const l = leaderOf('n1', { term: 1, opts: both });
    l.tick(HB);
    take(l);
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 4, success: false, matchIndex: 1 }, HB + 1);
    expect(l.status()).toMatchObject({ role: 'follower', term: 4 });
  });
});
