// Across a crash and restart (a hello with a new boot): what was durable must come back; what was
// only in memory may be lost; a data directory replaced on purpose (a new dataId) starts afresh.
import { describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../game/relay/monitor/monitor.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { command, FakePeer, feed, laws } from './fake-peer.ts';

function village(): { m: Monitor; p1: FakePeer; p2: FakePeer; p3: FakePeer } {
  const m = createMonitor();
  const [p1, p2, p3] = ['peer1', 'peer2', 'peer3'].map((n) => new FakePeer(n)) as [FakePeer, FakePeer, FakePeer];
  expect(feed(m, p1.hello(), p2.hello(), p3.hello())).toEqual([]);
  return { m, p1, p2, p3 };
}

function replicated({ m, p1, p2, p3 }: ReturnType<typeof village>): void {
  expect(
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['x', 'add', '1'], ['x', 'add', '2']), p2.follow(p1), p3.follow(p1), p1.commitTo(3), p2.commitTo(3), p3.commitTo(3)),
  ).toEqual([]);
}

const seqOf = (e: PeerEvent) => ({ peer: e.peer, seq: e.seq ?? null });

describe('votes across a restart', () => {
  it('a granted vote missing after the restart is caught: the vote was forgotten', () => {
    const { m, p2 } = village();
    const granted = p2.grantVote(3, 'peer1');
    feed(m, granted);
    p2.disk.vote = null; // the vote never reached the disk
    const hello = p2.hello();
    const vs = feed(m, hello);
    expect(laws(vs)).toEqual(['one_vote_per_term']);
    expect(vs[0]!.message).toMatch(/recovered no vote/);
    expect(vs[0]!.evidence.map((e) => ({ peer: e.peer, seq: e.seq }))).toEqual([seqOf(granted.find((e) => e.type === 'persisted')!), seqOf(hello)]);
  });

  it('a vote for another candidate in the same term after the restart is caught', () => {
    const { m, p2 } = village();
    feed(m, p2.grantVote(3, 'peer1'));
    p2.disk = { ...p2.disk, term: 2, vote: null }; // the whole hard state of term 3 was lost
    const vs = feed(m, p2.hello(), p2.grantVote(3, 'peer3'));
    expect(laws(vs)).toContain('one_vote_per_term');
    const vote = vs.find((v) => v.law === 'one_vote_per_term')!;
    expect(vote.peers).toEqual(['peer2', 'peer1', 'peer3']);
    expect(vote.terms).toEqual([3]);
  });

  it('a vote given only in memory (never answered, never on disk) may be lost without alarm', () => {
    const { m, p2 } = village();
    // The state shows the vote; the peer crashed before its write and its reply.
    const vs = feed(m, p2.state({ term: 3, vote: 'peer1' }), p2.hello(), p2.grantVote(3, 'peer3'));
    expect(vs).toEqual([]);
  });
});

describe('terms across a restart', () => {
  it('a term on disk before the crash and lower after is caught', () => {
    const { m, p1 } = village();
    feed(m, p1.campaign(5));
    p1.disk.term = 4;
    p1.disk.vote = null;
    const vs = feed(m, p1.hello());
    expect(laws(vs)).toEqual(['term_never_decreases']);
    expect(vs[0]!.terms).toEqual([5, 4]);
  });

  it('a term that was only in memory may be lost without alarm', () => {
    const { m, p1 } = village();
    // state events show the core's term, which can run ahead of the disk.
    const vs = feed(m, p1.campaign(2), p1.state({ term: 7 }), p1.hello(), p1.state());
    expect(vs).toEqual([]);
  });

  it('a message the peer sent proves its term was on disk', () => {
    const { m, p1 } = village();
    feed(m, p1.rpc('rpc_send', 'append_entries_reply', 'peer2', { term: 6, ok: false }));
    const vs = feed(m, p1.hello());
    expect(laws(vs)).toEqual(['term_never_decreases']);
  });

  it('a reconnection of the same process keeps its lifetime: a lower term after it is caught', () => {
    const { m, p1 } = village();
    feed(m, p1.state({ term: 5 }), p1.reconnect());
    expect(laws(feed(m, p1.state({ term: 4 })))).toEqual(['term_never_decreases']);
  });
});

describe('the log across a restart', () => {
  it('a write reported durable and missing after the restart is caught', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p1 } = ctx;
    const kept = { ...p1.disk, log: p1.disk.log.slice() };
    const write = p1.propose(['x', 'add', '3']);
    feed(m, write);
    p1.disk = kept; // the disk lost the last write
    const vs = feed(m, p1.hello());
    expect(laws(vs)).toEqual(['durable_log']);
    expect(vs[0]!.message).toMatch(/reported write #\d+ durable/);
    expect(vs[0]!.evidence[0]!.seq).toBe(write[write.length - 1]!.seq);
  });

  it('a write acknowledged by its log_append (durable) and missing after the restart is caught', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p1 } = ctx;
    p1.foldWrites = true;
    const kept = { ...p1.disk, log: p1.disk.log.slice() };
    const write = p1.propose(['x', 'add', '3']);
    expect(write.map((e) => e.type)).not.toContain('persisted');
    feed(m, write);
    p1.disk = kept;
    const vs = feed(m, p1.hello());
    expect(laws(vs)).toEqual(['durable_log']);
    expect(vs[0]!.message).toMatch(/reported write #\d+ durable/);
    expect(vs[0]!.evidence[0]).toMatchObject({ type: 'log_append', seq: write.find((e) => e.type === 'log_append')!.seq });
  });

  it('the same write number with another log is caught', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p2 } = ctx;
    p2.disk.log = p2.disk.log.slice(0, 2);
    const vs = feed(m, p2.hello());
    expect(laws(vs)).toEqual(['durable_log']);
    expect(vs[0]!.message).toMatch(/its log ends at 2/);
  });

  it('a committed entry missing after the restart is caught even when later writes happened', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p3 } = ctx;
    p3.disk.w += 5; // writes nobody heard about, then the damage
    p3.disk.log = p3.disk.log.slice(0, 1);
    const vs = feed(m, p3.hello());
    expect(laws(vs)).toEqual(['durable_log']);
    expect(vs[0]!.message).toMatch(/without entry 3/);
  });

  it('a committed entry changed under later entries is caught once the resync shows it', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p3 } = ctx;
    // Later writes nobody heard about added entries 4 and 5; entry 3 (committed) was replaced.
    p3.disk.w += 2;
    p3.disk.log = [...p3.disk.log.slice(0, 2), { term: 1, data: command(['x', 'add', '99']) }, { term: 1, data: null }, { term: 1, data: null }];
    const hello = p3.hello();
    expect(feed(m, hello)).toEqual([]);
    const vs = feed(m, p3.resync());
    expect(laws(vs)).toContain('durable_log');
  });

  it('a clean restart after unreported writes raises no alarm', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p3 } = ctx;
    p3.disk.w += 2;
    p3.disk.log = [...p3.disk.log, { term: 1, data: command(['x', 'add', '3']) }];
    expect(feed(m, p3.hello(), p3.resync(), p3.state())).toEqual([]);
  });

  it('a commit index lower after the restart is no alarm (commit need not be on disk)', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p2 } = ctx;
    p2.disk.commit = 1;
    expect(feed(m, p2.hello(), p2.state(), p2.commitTo(2))).toEqual([]);
  });
});

describe('a data directory replaced on purpose', () => {
  it('a new dataId starts afresh: an empty log, term 0 and new votes raise no alarm', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p2 } = ctx;
    p2.dataId = 'peer2-dir-2';
    p2.disk = { term: 0, vote: null, commit: 0, log: [], w: 0 };
    const vs = feed(m, p2.hello(), p2.resync(), p2.grantVote(1, 'peer3'));
    expect(vs).toEqual([]);
    expect(m.status().blind).toEqual([]);
  });

  it('the same loss with the same dataId is caught', () => {
    const ctx = village();
    replicated(ctx);
    const { m, p2 } = ctx;
    p2.disk = { term: 0, vote: null, commit: 0, log: [], w: 0 };
    // The lost vote of term 1 is named by the lower term it comes back with.
    expect(laws(feed(m, p2.hello()))).toEqual(['term_never_decreases', 'durable_log']);
  });

  it('without a dataId nothing is carried across restarts, so nothing is claimed', () => {
    const m = createMonitor();
    const hello = (t: number): PeerEvent => ({ type: 'hello', pid: t, cluster: ['peer1'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 }, peer: 'peer1', t });
    const state = (term: number): PeerEvent => ({ type: 'state', role: 'follower', term, vote: 'peer2', leader: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: null, peer: 'peer1', t: term });
    const vs = feed(m, hello(1), state(5), hello(2), state(3));
    expect(vs).toEqual([]);
  });
});
