// Linearizable reads with ReadIndex (dissertation §6.4).
import { describe, expect, it } from 'vitest';
import { HB, aeOk, leaderOf, node, stableLeader, take } from './harness.ts';

describe('ReadIndex (dissertation §6.4)', () => {
  it('a leader serves a read at the commit index it had when the read arrived, after a majority confirms its leadership (§6.4)', () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 1);
    take(l);
    l.step(aeOk('n2', 'n1', 2, 2), 2); // commit 2
    take(l);
    l.readIndex('r1', 3);
    const rd = take(l);
    expect(rd.readStates).toEqual([]);
    // Step 3: a fresh heartbeat round, tagged with a new readSeq.
    const round = rd.sent.filter((m) => m.type === 'append_entries');
    expect(round.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    const seq = (round[0] as { readSeq?: number }).readSeq!;
    expect(seq).toBeGreaterThan(0);
    // A proposal after the read does not change the read's index.
    l.propose('y', 4);
    take(l);
    l.step(aeOk('n3', 'n1', 2, 2, seq), 5);
    expect(take(l).readStates).toEqual([{ ctx: 'r1', index: 2 }]);
  });

  it('a read waits until the leader has committed an entry of its own term (§6.4 step 1)', () => {
    const l = leaderOf('n1', { term: 1, log: [1, 1] }); // no-op at 3, not yet committed
    l.readIndex('r1', 1);
    const rd = take(l);
    expect(rd.readStates).toEqual([]);
    expect(rd.sent.some((m) => m.type === 'append_entries' && m.readSeq! > 0)).toBe(false);
    l.step(aeOk('n2', 'n1', 2, 3), 2); // the no-op commits; the read gets its round
    const round = take(l).sent.filter((m) => m.type === 'append_entries' && (m.readSeq ?? 0) > 0);
    expect(round.length).toBeGreaterThan(0);
    l.step(aeOk('n2', 'n1', 2, 3, (round[0] as { readSeq: number }).readSeq), 3);
    expect(take(l).readStates).toEqual([{ ctx: 'r1', index: 3 }]);
  });

  it('acknowledgements of an older round do not confirm a newer read (§6.4)', () => {
    const l = stableLeader('n1', { term: 1 });
    l.readIndex('a', 1);
    take(l);
    l.readIndex('b', 2);
    const seqB = (take(l).sent[0] as { readSeq: number }).readSeq;
    l.step(aeOk('n2', 'n1', 2, 1, seqB - 1), 3);
    expect(take(l).readStates).toEqual([{ ctx: 'a', index: 1 }]);
    l.step(aeOk('n3', 'n1', 2, 1, seqB), 4);
    expect(take(l).readStates).toEqual([{ ctx: 'b', index: 1 }]);
  });

  it('reads that arrive in the same turn share one heartbeat round', () => {
    const l = stableLeader('n1', { term: 1 });
    l.readIndex('a', 1);
    l.readIndex('b', 1);
    const msgs = take(l).sent;
    expect(msgs).toHaveLength(2);
    l.step(aeOk('n2', 'n1', 2, 1, (msgs[0] as { readSeq: number }).readSeq), 2);
    expect(take(l).readStates.map((r) => r.ctx)).toEqual(['a', 'b']);
  });

  it('a follower refuses a read and names the leader it knows', () => {
    const f = node('n2', { term: 1 });
    f.readIndex('r', 0);
    expect(take(f).readFailures).toEqual([{ ctx: 'r', leader: null }]);
  });

  it('pending reads fail when the leader loses leadership', () => {
    const l = stableLeader('n1', { term: 1, opts: { checkQuorum: true } });
    l.readIndex('r', 1);
    take(l);
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 7, success: false, matchIndex: 0 }, 2);
    expect(take(l).readFailures).toEqual([{ ctx: 'r', leader: null }]);
  });

  it('a single-server cluster serves a read at once, without a heartbeat round', () => {
    const n = node('solo', { peers: ['solo'] });
    n.tick(n.nextDeadline());
    take(n); // its no-op is saved, and so committed
    n.readIndex('r', 300);
    expect(take(n).readStates).toEqual([{ ctx: 'r', index: 1 }]);
  });

  it('the regular heartbeat round also confirms pending reads', () => {
    const l = stableLeader('n1', { term: 1 });
    l.readIndex('r', 1);
    take(l); // the dedicated round is lost
    l.tick(HB);
    const hb = take(l).sent.find((m) => m.to === 'n2') as { readSeq: number };
    l.step(aeOk('n2', 'n1', 2, 1, hb.readSeq), HB + 1);
    expect(take(l).readStates).toEqual([{ ctx: 'r', index: 1 }]);
  });
});
