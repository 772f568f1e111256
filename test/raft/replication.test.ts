// Log replication and commitment: the paper's §5.3 and §5.4.2, Figure 2's AppendEntries rules,
// plus batching, pipelining and flow control (probe/replicate).
import { describe, expect, it } from 'vitest';
import { HB, ae, aeOk, leaderOf, node, sent, stableLeader, voteReply, take } from './harness.ts';
import type { AppendEntries, Message } from '../../peer/raft/types.ts';

const to = (msgs: Message[], peer: string) => msgs.filter((m) => m.to === peer) as AppendEntries[];

describe('the leader (§5.3)', () => {
  it('a leader appends a proposal to its log and sends it to its followers (§5.3)', () => {
    const l = stableLeader('n1', { term: 1 });
    const r = l.propose('x=1', 10);
    expect(r).toEqual({ ok: true, index: 2, term: 2 });
    const rd = take(l);
    expect(rd.entries).toEqual([{ index: 2, term: 2, data: 'x=1' }]);
    for (const p of ['n2', 'n3']) {
      expect(to(rd.sent, p)).toEqual([expect.objectContaining({ type: 'append_entries', prevLogIndex: 1, prevLogTerm: 2, entries: [{ index: 2, term: 2, data: 'x=1' }] })]);
    }
  });

  it('a server that is not the leader refuses proposals and names the leader it knows (§5.1)', () => {
    const f = node('n2', { term: 1 });
    expect(f.propose('x', 0)).toEqual({ ok: false, leader: null });
    f.step(ae('n1', 'n2', 1, 0, 0, [], 0), 1);
    expect(f.propose('x', 2)).toEqual({ ok: false, leader: 'n1' });
    expect(f.status().lastIndex).toBe(0);
  });

  it('a leader commits an entry once it is stored on a majority, counting itself (§5.3)', () => {
    const peers = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const l = stableLeader('n1', { peers, term: 1 });
    l.propose('x', 10);
    take(l);
    l.step(aeOk('n2', 'n1', 2, 2), 11);
    expect(l.status().commitIndex).toBe(1);
    l.step(aeOk('n3', 'n1', 2, 2), 12);
    expect(l.status().commitIndex).toBe(2);
    const rd = take(l);
    expect(rd.committed).toEqual([{ index: 2, term: 2, data: 'x' }]);
    expect(rd.hardState?.commit).toBe(2);
    // Followers that hold the entry learn the new commit index at once.
    expect(to(rd.sent, 'n2')).toEqual([expect.objectContaining({ leaderCommit: 2, entries: [] })]);
    expect(to(rd.sent, 'n3')).toEqual([expect.objectContaining({ leaderCommit: 2, entries: [] })]);
  });

  it('a leader commits only entries from its current term by counting replicas (§5.4.2)', () => {
    // Figure 8: the leader of term 4 holds an entry of term 2 that a majority now stores. Counting
    // replicas must not commit it; it commits when an entry of term 4 reaches a majority.
    const mk = (plantBug?: 'commit_previous_term') => {
      const n = node('n1', { term: 3, log: [1, 1, 2], opts: plantBug ? { plantBug } : {} });
      n.campaign(0);
      n.step(voteReply('n2', 'n1', 4, true), 1);
      take(n);
      expect(n.status()).toMatchObject({ role: 'leader', term: 4, lastIndex: 4 });
      n.step(aeOk('n2', 'n1', 4, 3), 2); // n2 stores 1..3 (term-2 entry at 3), not the no-op
      return n;
    };
    const l = mk();
    expect(l.status().commitIndex).toBe(0);
    l.step(aeOk('n2', 'n1', 4, 4), 3);
    expect(l.status().commitIndex).toBe(4);
    expect(take(l).committed.map((e) => `${e.index}/${e.term}`)).toEqual(['1/1', '2/1', '3/2', '4/4']);
    // The test-only switch plants exactly this bug.
    expect(mk('commit_previous_term').status().commitIndex).toBe(3);
  });

  it('a leader never commits past what a majority stores, even when asked by a stale reply', () => {
    const l = stableLeader('n1', { term: 1 });
    l.step(aeOk('n2', 'n1', 2, 99), 5); // cannot match what was never sent
    expect(l.status().commitIndex).toBe(1);
    expect(l.followers().find((f) => f.peer === 'n2')!.match).toBe(1);
  });
});

describe('the follower (Figure 2, AppendEntries receiver)', () => {
  it('a follower rejects AppendEntries whose prevLogIndex it does not hold, hinting where its log ends (§5.3)', () => {
    const f = node('n2', { term: 2, log: [1, 1, 1] });
    f.step(ae('n1', 'n2', 2, 5, 2, [2], 0), 1);
    expect(sent(f, 'append_entries_reply')).toEqual([expect.objectContaining({ success: false, matchIndex: 5, conflictIndex: 4 })]);
    expect(f.status().lastIndex).toBe(3);
  });

  it('a follower rejects AppendEntries whose prevLogTerm does not match, hinting the conflicting term and its first index (§5.3)', () => {
    const f = node('n2', { term: 3, log: [1, 2, 2, 2] });
    f.step(ae('n1', 'n2', 3, 4, 3, [3], 0), 1);
    const [r] = sent(f, 'append_entries_reply');
    expect(r).toMatchObject({ success: false, matchIndex: 4, conflictTerm: 2, conflictIndex: 2 });
  });

  it('a follower deletes a conflicting entry and all that follow it, then appends (§5.3)', () => {
    const f = node('n2', { term: 3, log: [1, 1, 2, 2, 2] });
    f.step(ae('n1', 'n2', 3, 2, 1, [3, 3], 0), 1);
    expect(f.entries().map((e) => e.term)).toEqual([1, 1, 3, 3]);
    const rd = take(f);
    // Entries in a Ready at or below the stored last index replace it and all after it.
    expect(rd.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['3/3', '4/3']);
    expect(rd.events).toContainEqual({ kind: 'truncate', from: 3 });
    expect(rd.sent).toEqual([expect.objectContaining({ success: true, matchIndex: 4 })]);
  });

  it('a follower keeps entries it already holds: a stale, reordered AppendEntries truncates nothing (Figure 2, step 4)', () => {
    const f = node('n2', { term: 2, log: [2, 2, 2] });
    f.step(ae('n1', 'n2', 2, 0, 0, [2], 0), 1);
    expect(f.status().lastIndex).toBe(3);
    expect(take(f).entries).toEqual([]);
  });

  it('a duplicated AppendEntries changes nothing the second time (§5.5: RPCs are idempotent)', () => {
    const f = node('n2', { term: 2 });
    const m = ae('n1', 'n2', 2, 0, 0, [2, 2], 1);
    f.step(m, 1);
    const first = take(f);
    f.step(m, 2);
    const second = take(f);
    expect(first.entries).toHaveLength(2);
    expect(second.entries).toEqual([]);
    expect(second.committed).toEqual([]);
    expect(second.sent).toEqual([expect.objectContaining({ success: true, matchIndex: 2 })]);
  });

  it('a follower sets commitIndex = min(leaderCommit, index of last new entry) (Figure 2, step 5)', () => {
    const f = node('n2', { term: 2, log: [1, 1, 1] });
    // The leader has committed 3, but this message only vouches for the log up to index 1.
    f.step(ae('n1', 'n2', 2, 1, 1, [], 3), 1);
    expect(f.status().commitIndex).toBe(1);
    f.step(ae('n1', 'n2', 2, 1, 1, [2], 3), 2);
    expect(f.status().commitIndex).toBe(2);
    expect(take(f).committed.map((e) => `${e.index}/${e.term}`)).toEqual(['1/1', '2/2']);
  });

  it('a follower never overwrites an entry it knows is committed (§5.4, Leader Completeness)', () => {
    const f = node('n2', { term: 2, log: [1, 2], commit: 2 });
    f.step(ae('n1', 'n2', 3, 1, 1, [3], 2), 1);
    expect(f.entries().map((e) => e.term)).toEqual([1, 2]);
  });

  it('the planted truncate_committed cuts a follower\'s committed entries after a stale heartbeat, and writes the cut to disk', () => {
    // The leader's heartbeat at its last known match index (1) arrives after the follower
    // acknowledged and committed 1..3: the follower must keep them; the planted bug deletes 2..3.
    const stale = ae('n1', 'n2', 2, 1, 2, [], 3);
    const honest = node('n2', { term: 2, log: [2, 2, 2], commit: 3 });
    honest.step(stale, 1);
    expect(honest.status().lastIndex).toBe(3);
    const f = node('n2', { term: 2, log: [2, 2, 2], commit: 3, opts: { plantBug: 'truncate_committed' } });
    f.step(stale, 1);
    expect(f.status()).toMatchObject({ lastIndex: 1, commitIndex: 3 });
    const rd = take(f);
    // The last kept entry is written again: a write at index 1 cuts the durable log after it.
    expect(rd.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['1/2']);
    expect(rd.events).toContainEqual({ kind: 'truncate', from: 2 });
  });
});

describe("the leader's own acknowledgement waits for its save (§10.2.1, etcd's Advance)", () => {
  it('a leader counts its own copy of an entry toward commitment only once persisted() reports it on disk', () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 10);
    const rd = l.ready(); // the save is still running
    l.step(aeOk('n2', 'n1', 2, 2), 11);
    expect(l.status().commitIndex).toBe(1); // n2's copy and a volatile one are not a majority
    expect(l.ready().committed).toEqual([]);
    l.persisted(rd);
    expect(l.status().commitIndex).toBe(2);
    expect(take(l).committed).toEqual([{ index: 2, term: 2, data: 'x' }]);
  });

  it("a majority of followers' acknowledgements commits an entry whose save on the leader is still running", () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 10);
    l.ready();
    l.step(aeOk('n2', 'n1', 2, 2), 11);
    l.step(aeOk('n3', 'n1', 2, 2), 12);
    expect(l.status().commitIndex).toBe(2);
  });

  it("a leader's AppendEntries may leave before its save; votes and acknowledgements only after", () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 10);
    const rd = l.ready();
    expect(rd.early.map((m) => `${m.type} ${m.to}`)).toEqual(['append_entries n2', 'append_entries n3']);
    expect(rd.messages).toEqual([]);
    const f = node('n2', { term: 2 });
    f.step(ae('n1', 'n2', 2, 0, 0, [2], 0), 1);
    const fr = f.ready();
    expect(fr.early).toEqual([]);
    expect(fr.messages).toEqual([expect.objectContaining({ type: 'append_entries_reply', success: true, matchIndex: 1 })]);
    const c = node('n3', { term: 2 });
    c.campaign(1);
    const cr = c.ready();
    expect(cr.early).toEqual([]);
    expect(cr.messages.map((m) => m.type)).toEqual(['request_vote', 'request_vote']);
  });

  it("a new leader whose term and vote are not yet reported on disk sends its AppendEntries after the save", () => {
    const n = node('n1', { term: 1 });
    n.campaign(0);
    const candidacy = n.ready(); // term 2 and the vote for itself: save not reported yet
    n.step(voteReply('n2', 'n1', 2, true), 1);
    expect(n.status().role).toBe('leader');
    const first = n.ready();
    expect(first.early).toEqual([]);
    expect(first.messages.filter((m) => m.type === 'append_entries')).toHaveLength(2);
    n.persisted(candidacy);
    n.persisted(first);
    n.step(aeOk('n2', 'n1', 2, 1), 2); // commits the no-op: n2 is told at once
    const next = n.ready();
    expect(next.early).toEqual([expect.objectContaining({ type: 'append_entries', to: 'n2', leaderCommit: 1 })]);
    expect(next.messages).toEqual([]);
  });

  it('the planted count_self_before_durable bug commits with one follower and a volatile copy', () => {
    const l = stableLeader('n1', { term: 1, opts: { plantBug: 'count_self_before_durable' } });
    l.propose('x', 10);
    l.ready();
    l.step(aeOk('n2', 'n1', 2, 2), 11);
    expect(l.status().commitIndex).toBe(2);
  });
});

describe('finding where logs agree (§5.3)', () => {
  it('a leader backs up nextIndex a whole term per round trip using the follower hints (§5.3)', () => {
    // Leader log 1 1 1 4 4 | 5(no-op); follower 1 1 1 2 2 2 2 3 3.
    const l = leaderOf('n1', { term: 4, log: [1, 1, 1, 4, 4] });
    expect(l.status()).toMatchObject({ term: 5, lastIndex: 6 });
    const f = node('n2', { term: 3, log: [1, 1, 1, 2, 2, 2, 2, 3, 3] });
    let trips = 0;
    let msgs: Message[] = [];
    l.tick(HB); // heartbeat: the probe to n2
    msgs = to(take(l).sent, 'n2');
    while (msgs.length > 0 && trips < 10) {
      trips++;
      for (const m of msgs) f.step(m, 100);
      const replies = take(f).sent;
      for (const r of replies) l.step(r, 100);
      msgs = to(take(l).sent, 'n2').filter((m) => m.entries.length > 0);
      if (f.entries().map((e) => e.term).join() === '1,1,1,4,4,5') break;
    }
    expect(f.entries().map((e) => e.term)).toEqual([1, 1, 1, 4, 4, 5]);
    expect(trips).toBe(2); // one rejection (conflict term 2 skipped at once), one accepted append
    expect(l.followers().find((p) => p.peer === 'n2')).toMatchObject({ match: 6, state: 'replicate' });
  });

  it('a leader that holds the conflicting term retries just after its own last entry of that term (§5.3)', () => {
    const l = leaderOf('n1', { term: 3, log: [1, 2, 2, 3] }); // + no-op 5/4
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 4, success: false, matchIndex: 4, conflictTerm: 2, conflictIndex: 2 }, 1);
    const [m] = to(take(l).sent, 'n2');
    expect(m).toMatchObject({ prevLogIndex: 3, prevLogTerm: 2 });
    expect(m!.entries.map((e) => e.index)).toEqual([4, 5]);
  });
  it('a leader starts over with a follower whose disk lost entries it had acknowledged, and brings it back', () => {
    // The follower acknowledged 1..5, then restarted with an empty log (its state directory was lost).
    const l = stableLeader('n1', { term: 2, log: [1, 1, 2, 2] }); // + no-op 5/3
    expect(l.followers().find((p) => p.peer === 'n2')).toMatchObject({ match: 5, state: 'replicate' });
    const f = node('n2', { term: 3 });
    l.tick(HB); // heartbeat at match 5
    let msgs: Message[] = to(take(l).sent, 'n2');
    for (let trip = 0; trip < 5 && msgs.length > 0; trip++) {
      for (const m of msgs) f.step(m, HB);
      for (const r of take(f).sent) l.step(r, HB);
      msgs = to(take(l).sent, 'n2');
    }
    expect(f.entries().map((e) => e.term)).toEqual([1, 1, 2, 2, 3]);
    expect(l.followers().find((p) => p.peer === 'n2')).toMatchObject({ match: 5, state: 'replicate' });
  });
});

describe('batching and pipelining', () => {
  it('proposals of one turn share AppendEntries, up to maxEntriesPerAppend each', () => {
    const l = stableLeader('n1', { term: 1, opts: { maxEntriesPerAppend: 4, maxInflightAppends: 8 } });
    for (let i = 0; i < 10; i++) l.propose(`c${i}`, 5);
    const msgs = to(take(l).sent, 'n2');
    expect(msgs.map((m) => m.entries.length)).toEqual([4, 4, 2]);
    expect(msgs.map((m) => m.prevLogIndex)).toEqual([1, 5, 9]);
  });

  it('maxBytesPerAppend limits a batch by data length, but every append carries at least one entry', () => {
    const l = stableLeader('n1', { term: 1, opts: { maxBytesPerAppend: 12, maxInflightAppends: 8 } });
    for (let i = 0; i < 4; i++) l.propose('12345', 5);
    l.propose('x'.repeat(100), 5);
    const msgs = to(take(l).sent, 'n2');
    expect(msgs.map((m) => m.entries.length)).toEqual([2, 2, 1]);
  });

  it('a leader pipelines at most maxInflightAppends unacknowledged appends to a follower', () => {
    const l = stableLeader('n1', { term: 1, opts: { maxEntriesPerAppend: 1, maxInflightAppends: 2 } });
    for (let i = 0; i < 5; i++) l.propose(`c${i}`, 5);
    expect(to(take(l).sent, 'n2').map((m) => m.entries[0]!.index)).toEqual([2, 3]);
    expect(l.followers().find((p) => p.peer === 'n2')).toMatchObject({ state: 'replicate', inflight: 2, next: 4 });
    l.step(aeOk('n2', 'n1', 2, 2), 6); // the first is acknowledged: room for one more
    expect(to(take(l).sent, 'n2').map((m) => m.entries[0]!.index)).toEqual([4]);
  });

  it('a follower in probe state gets one append at a time until it answers (or the next heartbeat)', () => {
    const l = leaderOf('n1', { term: 1 }); // followers start in probe; the no-op probe is outstanding
    l.propose('a', 1);
    l.propose('b', 1);
    expect(to(take(l).sent, 'n2')).toEqual([]);
    l.tick(HB); // heartbeat: the probe is sent again
    const probe = to(take(l).sent, 'n2');
    expect(probe).toHaveLength(1);
    expect(probe[0]).toMatchObject({ prevLogIndex: 0, entries: [{ index: 1 }, { index: 2 }, { index: 3 }] });
    l.step(aeOk('n2', 'n1', 2, 3), HB + 1);
    expect(l.followers().find((p) => p.peer === 'n2')).toMatchObject({ state: 'replicate', match: 3, next: 4 });
  });

  it('a rejection sends a replicating follower back to probe, and a stale rejection is ignored', () => {
    const l = stableLeader('n1', { term: 1, opts: { maxEntriesPerAppend: 1, maxInflightAppends: 4 } });
    for (let i = 0; i < 4; i++) l.propose(`c${i}`, 5);
    take(l); // appends with prev 1, 2, 3, 4 in flight; say the first was lost
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 2, success: false, matchIndex: 2, conflictIndex: 2 }, 6);
    expect(l.followers().find((p) => p.peer === 'n2')).toMatchObject({ state: 'probe', next: 2 });
    expect(to(take(l).sent, 'n2')).toEqual([expect.objectContaining({ prevLogIndex: 1, entries: [expect.objectContaining({ index: 2 })] })]);
    // The rejections of the later appends in flight are stale now.
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 2, success: false, matchIndex: 3, conflictIndex: 2 }, 7);
    expect(to(take(l).sent, 'n2')).toEqual([]);
  });

  it('a leader resends when appends go unacknowledged for two heartbeats (lost messages)', () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 1);
    take(l); // lost
    l.tick(HB);
    take(l);
    l.tick(2 * HB);
    const msgs = to(take(l).sent, 'n2');
    expect(msgs).toContainEqual(expect.objectContaining({ prevLogIndex: 1, entries: [expect.objectContaining({ index: 2, data: 'x' })] }));
  });

  it('a heartbeat is an empty AppendEntries at the follower match index carrying the commit index', () => {
    const l = stableLeader('n1', { term: 1 });
    l.tick(HB);
    const [hb] = to(take(l).sent, 'n2');
    expect(hb).toMatchObject({ type: 'append_entries', term: 2, prevLogIndex: 1, prevLogTerm: 2, entries: [], leaderCommit: 1 });
  });
});
