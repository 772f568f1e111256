// Linearizable reads with ReadIndex (dissertation §6.4).
import { describe, expect, it } from 'vitest';
import { HB, aeOk, leaderOf, node, stableLeader } from './harness.ts';

describe('ReadIndex (dissertation §6.4)', () => {
  it('a leader serves a read at the commit index it had when the read arrived, after a majority confirms its leadership (§6.4)', () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 1);
    l.ready();
    l.step(aeOk('n2', 'n1', 2, 2), 2); // commit 2
    l.ready();
    l.readIndex('r1', 3);
    const rd = l.ready();
    expect(rd.readStates).toEqual([]);
    // Step 3: a fresh heartbeat round, tagged with a new readSeq.
    const round = rd.messages.filter((m) => m.type === 'append_entries');
    expect(round.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    const seq = (round[0] as { readSeq?: number }).readSeq!;
    expect(seq).toBeGreaterThan(0);
    // A proposal after the read does not change the read's index.
    l.propose('y', 4);
    l.ready();
    l.step(aeOk('n3', 'n1', 2, 2, seq), 5);
    expect(l.ready().readStates).toEqual([{ ctx: 'r1', index: 2 }]);
  });

  it('a read waits until the leader has committed an entry of its own term (§6.4 step 1)', () => {
    const l = leaderOf('n1', { term: 1, log: [1, 1] }); // no-op at 3, not yet committed
    l.readIndex('r1', 1);
    const rd = l.ready();
    expect(rd.readStates).toEqual([]);
    expect(rd.messages.some((m) => m.type === 'append_entries' && m.readSeq! > 0)).toBe(false);
    l.step(aeOk('n2', 'n1', 2, 3), 2); // the no-op commits; the read gets its round
    const round = l.ready().messages.filter((m) => m.type === 'append_entries' && (m.readSeq ?? 0) > 0);
    expect(round.length).toBeGreaterThan(0);
    l.step(aeOk('n2', 'n1', 2, 3, (round[0] as { readSeq: number }).readSeq), 3);
    expect(l.ready().readStates).toEqual([{ ctx: 'r1', index: 3 }]);
  });

  it('acknowledgements of an older round do not confirm a newer read (§6.4)', () => {
    const l = stableLeader('n1', { term: 1 });
    l.readIndex('a', 1);
    l.ready();
    l.readIndex('b', 2);
    const seqB = (l.ready().messages[0] as { readSeq: number }).readSeq;
    l.step(aeOk('n2', 'n1', 2, 1, seqB - 1), 3);
    expect(l.ready().readStates).toEqual([{ ctx: 'a', index: 1 }]);
    l.step(aeOk('n3', 'n1', 2, 1, seqB), 4);
    expect(l.ready().readStates).toEqual([{ ctx: 'b', index: 1 }]);
  });

  it('reads that arrive in the same turn share one heartbeat round', () => {
    const l = stableLeader('n1', { term: 1 });
    l.readIndex('a', 1);
    l.readIndex('b', 1);
    const msgs = l.ready().messages;
    expect(msgs).toHaveLength(2);
    l.step(aeOk('n2', 'n1', 2, 1, (msgs[0] as { readSeq: number }).readSeq), 2);
    expect(l.ready().readStates.map((r) => r.ctx)).toEqual(['a', 'b']);
  });

  it('a follower refuses a read and names the leader it knows', () => {
    const f = node('n2', { term: 1 });
    f.readIndex('r', 0);
    expect(f.ready().readFailures).toEqual([{ ctx: 'r', leader: null }]);
  });

  it('pending reads fail when the leader loses leadership', () => {
    const l = stableLeader('n1', { term: 1, opts: { checkQuorum: true } });
    l.readIndex('r', 1);
    l.ready();
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 7, success: false, matchIndex: 0 }, 2);
    expect(l.ready().readFailures).toEqual([{ ctx: 'r', leader: null }]);
  });

  it('a single-server cluster serves a read at once', () => {
    const n = node('solo', { peers: ['solo'] });
    n.tick(n.nextDeadline());
    n.readIndex('r', 300);
    expect(n.ready().readStates).toEqual([{ ctx: 'r', index: 1 }]);
  });

  it('the regular heartbeat round also confirms pending reads', () => {
    const l = stableLeader('n1', { term: 1 });
    l.readIndex('r', 1);
    l.ready(); // the dedicated round is lost
    l.tick(HB);
    const hb = l.ready().messages.find((m) => m.to === 'n2') as { readSeq: number };
    l.step(aeOk('n2', 'n1', 2, 1, hb.readSeq), HB + 1);
    expect(l.ready().readStates).toEqual([{ ctx: 'r', index: 1 }]);
  });
});
