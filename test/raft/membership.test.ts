// Membership change (dissertation ch. 4): single-server changes through the log, learners that
// catch up before they vote, a removed leader stepping down, removed peers unable to disrupt.
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../peer/raft/node.ts';
import { Cluster, aeOk, node, options, stableLeader, take, vote, voteReply } from './harness.ts';
import type { AppendEntries, Entry } from '../../peer/raft/types.ts';

/** A stable leader n1 of term 2 with its no-op committed (so that it may change the configuration). */
function committedLeader(peers = ['n1', 'n2', 'n3']): RaftNode {
  const l = stableLeader('n1', { peers, term: 1, opts: { allPeers: ['n1', 'n2', 'n3', 'n4', 'n5'] } });
  expect(l.status().commitIndex).toBe(1);
  return l;
}

describe('single-server membership change (§4.1)', () => {
  it('a configuration entry is in force on the leader as soon as it is appended, and the learner gets the log', () => {
    const l = committedLeader();
    expect(l.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 1)).toEqual({ ok: true, index: 2, term: 2 });
    expect(l.configuration()).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    const rd = take(l);
    expect(rd.entries).toEqual([{ index: 2, term: 2, data: null, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } }]);
    expect(rd.sent.filter((m) => m.to === 'n4')).toEqual([expect.objectContaining({ type: 'append_entries', prevLogIndex: 2 })]);
    expect(l.followers().map((f) => f.peer).sort()).toEqual(['n2', 'n3', 'n4']);
  });

  it('a learner\'s acknowledgement does not count toward commitment', () => {
    const l = committedLeader();
    l.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 1);
    take(l);
    l.step(aeOk('n4', 'n1', 2, 2), 2);
    expect(l.status().commitIndex).toBe(1);
    l.step(aeOk('n2', 'n1', 2, 2), 3);
    expect(l.status().commitIndex).toBe(2);
  });

  it('only one change at a time: a second change waits until the first is committed', () => {
    const l = committedLeader();
    l.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 1);
    take(l);
    expect(l.proposeConfChange({ op: 'remove', peer: 'n3' }, 2)).toMatchObject({ ok: false, reason: expect.stringMatching(/not committed/) });
    l.step(aeOk('n2', 'n1', 2, 2), 3);
    expect(l.proposeConfChange({ op: 'remove', peer: 'n3' }, 4)).toMatchObject({ ok: true, index: 3 });
  });

  it('the planted two_changes_in_flight bug accepts a second change while the first is uncommitted', () => {
    const l = stableLeader('n1', { term: 1, opts: { plantBug: 'two_changes_in_flight' } });
    l.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 1);
    expect(l.proposeConfChange({ op: 'remove', peer: 'n3' }, 2)).toMatchObject({ ok: true });
  });

  it('a new leader changes the configuration only after an entry of its term is committed', () => {
    const fresh = node('n1', { term: 1 });
    fresh.campaign(0);
    fresh.step(voteReply('n2', 'n1', 2, true), 1);
    take(fresh);
    expect(fresh.status().role).toBe('leader');
    expect(fresh.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 2)).toMatchObject({ ok: false, reason: expect.stringMatching(/no entry of this term/) });
  });

  it('a learner is promoted only once its log reaches the leader\'s commit index', () => {
    const l = committedLeader();
    l.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 1);
    take(l);
    l.step(aeOk('n2', 'n1', 2, 2), 2);
    take(l);
    expect(l.proposeConfChange({ op: 'promote', peer: 'n4' }, 3)).toMatchObject({ ok: false, reason: expect.stringMatching(/not caught up/) });
    l.step(aeOk('n4', 'n1', 2, 2), 4);
    expect(l.proposeConfChange({ op: 'promote', peer: 'n4' }, 5)).toMatchObject({ ok: true });
    expect(l.configuration()).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
  });

  it('a leader removed from the configuration steps down once the change commits, not before (§4.2.2)', () => {
    const l = committedLeader();
    l.proposeConfChange({ op: 'remove', peer: 'n1' }, 1);
    take(l);
    expect(l.status().role).toBe('leader');
    // It no longer counts itself: one of the two remaining voters is not a majority of them.
    l.step(aeOk('n2', 'n1', 2, 2), 2);
    expect(l.status().role).toBe('leader');
    l.step(aeOk('n3', 'n1', 2, 2), 3);
    expect(l.status().role).toBe('follower');
    const rd = take(l);
    expect(rd.events).toContainEqual(expect.objectContaining({ kind: 'step_down', reason: 'removed from the configuration' }));
    // It told the others the commit of its removal before stepping down.
    expect(rd.sent.filter((m): m is AppendEntries => m.type === 'append_entries').map((m) => m.leaderCommit)).toEqual([2, 2]);
    // And it never campaigns again.
    l.tick(10_000);
    expect(take(l).sent.filter((m) => m.type === 'request_vote')).toEqual([]);
  });

  it('a learner never campaigns', () => {
    const n = new RaftNode(options('n4', ['n1', 'n2', 'n3'], { learners: ['n4'] }), { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, 0);
    n.tick(10_000);
    n.campaign(10_001);
    expect(n.status().role).toBe('follower');
    expect(take(n).sent).toEqual([]);
  });

  it('a peer that knows it was removed never campaigns', () => {
    const conf: Entry = { index: 2, term: 1, data: null, conf: { voters: ['n1', 'n2'], learners: [] } };
    const f = new RaftNode(options('n3', ['n1', 'n2', 'n3']), { hardState: { term: 1, vote: null, commit: 2 }, entries: [{ index: 1, term: 1, data: null }, conf] }, 0);
    f.tick(10_000);
    f.campaign(10_001);
    expect(f.status()).toMatchObject({ role: 'follower', term: 1 });
    expect(take(f).sent).toEqual([]);
  });

  it('with CheckQuorum, a member that hears from its leader ignores the elections of a removed peer', () => {
    const f = node('n2', { term: 1, log: [1], opts: { checkQuorum: true, allPeers: ['n1', 'n2', 'n3'] } });
    f.step({ type: 'append_entries', from: 'n1', to: 'n2', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [{ index: 2, term: 1, data: null, conf: { voters: ['n1', 'n2'], learners: [] } }], leaderCommit: 2 }, 10);
    take(f);
    f.step(vote('n3', 'n2', 9, 5, 1), 20);
    expect(f.status().term).toBe(1);
    expect(take(f).sent).toEqual([expect.objectContaining({ type: 'request_vote_reply', granted: false })]);
  });

  it('a configuration entry cut off with a conflicting suffix is no longer in force', () => {
    const f = node('n2', { term: 2, log: [1], opts: { allPeers: ['n1', 'n2', 'n3'] } });
    f.step({ type: 'append_entries', from: 'n1', to: 'n2', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [{ index: 2, term: 2, data: null, conf: { voters: ['n1', 'n2'], learners: [] } }], leaderCommit: 1 }, 1);
    expect(f.configuration().voters).toEqual(['n1', 'n2']);
    f.step({ type: 'append_entries', from: 'n3', to: 'n2', term: 3, prevLogIndex: 1, prevLogTerm: 1, entries: [{ index: 2, term: 3, data: 'x' }], leaderCommit: 1 }, 2);
    expect(f.configuration().voters).toEqual(['n1', 'n2', 'n3']);
  });

  it('a snapshot carries the configuration, and a restart from it uses it', () => {
    const l = committedLeader();
    l.proposeConfChange({ op: 'remove', peer: 'n3' }, 1);
    take(l);
    l.step(aeOk('n2', 'n1', 2, 2), 2);
    take(l);
    l.snapshotTaken(2, 's');
    const rd = l.ready();
    expect(rd.snapshot?.config).toEqual({ voters: ['n1', 'n2'], learners: [] });
    const again = new RaftNode(options('n1', ['n1', 'n2', 'n3']), { hardState: { term: 2, vote: 'n1', commit: 2 }, snapshot: rd.snapshot!, entries: [] }, 0);
    expect(again.configuration()).toEqual({ voters: ['n1', 'n2'], learners: [] });
  });

  it('a candidate counts only the votes of the current voters; the planted count_old_config_votes bug counts removed ones', () => {
    const conf: Entry = { index: 1, term: 1, data: null, conf: { voters: ['n1', 'n2', 'n3'], learners: [] } };
    const peers = ['n1', 'n2', 'n3', 'n4', 'n5'];
    for (const [bug, role] of [[false, 'candidate'], [true, 'leader']] as const) {
      const c = new RaftNode(options('n1', peers, bug ? { plantBug: 'count_old_config_votes' } : {}), { hardState: { term: 1, vote: null, commit: 1 }, entries: [conf] }, 0);
      c.campaign(0);
      c.step(voteReply('n4', 'n1', 2, true), 1);
      expect(c.status().role).toBe(role);
    }
  });

  it('a cluster grows from 3 to 4 voters and shrinks back, and keeps committing', () => {
    const ids = ['n1', 'n2', 'n3', 'n4'];
    const c = new Cluster(['n1', 'n2', 'n3'], { allPeers: ids });
    c.nodes.set('n4', new RaftNode(options('n4', ['n1', 'n2', 'n3'], { learners: ['n4'], allPeers: ids }), { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, 0));
    c.applied.set('n4', []);
    c.get('n1').campaign(0);
    c.stabilize();
    const l = c.get('n1');
    expect(l.proposeConfChange({ op: 'add_learner', peer: 'n4' }, 1)).toMatchObject({ ok: true });
    c.stabilize();
    expect(l.proposeConfChange({ op: 'promote', peer: 'n4' }, 2)).toMatchObject({ ok: true });
    c.stabilize();
    for (const id of ids) expect(c.get(id).configuration().voters).toEqual(ids);
    expect(l.proposeConfChange({ op: 'remove', peer: 'n2' }, 3)).toMatchObject({ ok: true });
    c.stabilize();
    l.propose('after', 4);
    c.stabilize();
    for (const id of ['n1', 'n3', 'n4']) {
      expect(c.get(id).configuration().voters).toEqual(['n1', 'n3', 'n4']);
      expect(c.applied.get(id)!.at(-1)?.data).toBe('after');
    }
    // n2 is no longer counted: with n4 cut off, n1 and n3 are a majority of the three voters.
    c.drop = (m) => m.from === 'n4' || m.to === 'n4' || m.to === 'n2';
    l.propose('with n3', 5);
    c.stabilize();
    expect(c.applied.get('n1')!.at(-1)?.data).toBe('with n3');
  });
});
