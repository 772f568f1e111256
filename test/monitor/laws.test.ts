// Each law, once with a stream of events that obeys it (no alarm, and the check was made) and once
// with a stream that breaks it (the right law, the peers and the events that show it).
import { describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../game/relay/monitor/monitor.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { entryHash } from '../../shared/log-hash.ts';
import { command, FakePeer, feed, laws } from './fake-peer.ts';

function village(names = ['peer1', 'peer2', 'peer3']): { m: Monitor; peers: FakePeer[] } {
  const m = createMonitor();
  const peers = names.map((n) => new FakePeer(n, { cluster: names }));
  expect(feed(m, peers.map((p) => p.hello()))).toEqual([]);
  return { m, peers };
}

/** The (peer, seq) of each piece of evidence. */
function cited(v: Violation): { peer: string; seq: number | null }[] {
  return v.evidence.map((e) => ({ peer: e.peer, seq: e.seq }));
}

function at(e: PeerEvent): { peer: string; seq: number | null } {
  return { peer: e.peer, seq: e.seq ?? null };
}

function last(events: PeerEvent[], type: PeerEvent['type']): PeerEvent {
  const found = events.filter((e) => e.type === type);
  return found[found.length - 1]!;
}

/** peer1 leads term 1 with a no-op and `n` commands, everyone holds them, peer1 commits them. */
function replicated(m: Monitor, [p1, p2, p3]: FakePeer[], n = 2): Violation[] {
  const cmds = Array.from({ length: n }, (_, i) => ['x', 'add', String(i + 1)]);
  return feed(m, p1!.campaign(1), p2!.grantVote(1, 'peer1'), p1!.lead(), p1!.propose(...cmds), p2!.follow(p1!), p3!.follow(p1!), p1!.commitTo(n + 1));
}

describe('Election Safety: at most one leader per term', () => {
  it('successive leaders of successive terms raise no alarm', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    expect(replicated(m, peers)).toEqual([]);
    const vs = feed(m, p2.campaign(2), p3.grantVote(2, 'peer2'), p2.lead(), p1.follow(p2));
    expect(vs).toEqual([]);
    expect(m.status().eventsChecked).toBeGreaterThan(0);
  });

  it('a second peer leading the same term is caught, with both claims as evidence', () => {
    const { m, peers } = village();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    expect(feed(m, p1.campaign(1))).toEqual([]);
    const won = p1.lead();
    expect(feed(m, won)).toEqual([]);
    const rival = [...p2.campaign(1), ...p2.lead()];
    const vs = feed(m, rival);
    expect(laws(vs)).toEqual(['election_safety']);
    expect(vs[0]!.peers).toEqual(['peer1', 'peer2']);
    expect(vs[0]!.terms).toEqual([1]);
    // peer1's first claim (its state as leader), and peer2's (its state as leader).
    expect(cited(vs[0]!)).toEqual([at(won[0]!), at(rival.find((e) => e.type === 'state' && e.role === 'leader')!)]);
    expect(vs[0]!.statement).toMatch(/At most one leader/);
  });

  it('is caught from what a receiver saw, when the second leader itself reported nothing', () => {
    const { m, peers } = village();
    const [p1, , p3] = peers as [FakePeer, FakePeer, FakePeer];
    feed(m, p1.campaign(1), p1.lead());
    const seen = p3.rpc('rpc_recv', 'append_entries', 'peer2', { term: 1, entries: 1 });
    const vs = feed(m, seen);
    expect(laws(vs)).toEqual(['election_safety']);
    expect(vs[0]!.peers).toEqual(['peer1', 'peer2']);
    expect(cited(vs[0]!)[1]).toEqual(at(seen));
  });
});

describe('Leader Append-Only: a leader never overwrites or deletes its entries', () => {
  it('a deposed leader whose uncommitted entries are replaced in a later term raises no alarm', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    // peer1 leads term 1 and appends an entry nobody else gets; peer2 leads term 2 and writes over it.
    const vs = feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p2.follow(p1), p3.follow(p1), p1.propose(['lost', 'set', '1']));
    vs.push(...feed(m, p2.campaign(2), p3.grantVote(2, 'peer2'), p2.lead(), p2.propose(['x', 'set', '2'])));
    const taken = p1.follow(p2);
    expect(taken.some((e) => e.type === 'log_truncate')).toBe(true);
    vs.push(...feed(m, taken));
    expect(vs).toEqual([]);
  });

  it('a leader deleting entries of its log in its own term is caught', () => {
    const { m, peers } = village();
    const [p1] = peers as [FakePeer];
    feed(m, p1.campaign(1), p1.lead(), p1.propose(['x', 'add', '1'], ['x', 'add', '2']));
    p1.log = p1.log.slice(0, 1);
    p1.w++;
    const events = [p1.event({ type: 'log_truncate', from: 2, term: 1 }), p1.persisted()];
    const vs = feed(m, events);
    expect(laws(vs)).toEqual(['leader_append_only']);
    expect(vs[0]!.indexes).toEqual([2]);
    expect(cited(vs[0]!)[1]).toEqual(at(last(events, 'log_truncate')));
  });

  it('a leader overwriting an entry without reporting a truncation is caught at the durable write', () => {
    const { m, peers } = village();
    const [p1] = peers as [FakePeer];
    feed(m, p1.campaign(1), p1.lead(), p1.propose(['x', 'add', '1'], ['x', 'add', '2']));
    // The log's last entry (index 3) changes; the peer reports only the new tile.
    p1.log[2] = { term: 1, data: command(['y', 'add', '9']) };
    p1.w++;
    const changed = [p1.event({ type: 'log_append', entries: [p1.tile(3)] }), p1.persisted()];
    const vs = feed(m, changed);
    // Two versions of entry (3, term 1) also break Log Matching.
    expect(laws(vs)).toEqual(['log_matching', 'leader_append_only']);
    expect(vs[1]!.peers).toEqual(['peer1']);
    expect(vs[1]!.message).toMatch(/entry 3 of its log changed/);
    expect(cited(vs[1]!)[1]).toEqual(at(changed[1]!));
  });
});

describe('Log Matching: equal (index, term) means equal logs up to there', () => {
  it('followers holding the leader\'s entries raise no alarm, and the comparison counts as a check', () => {
    const { m, peers } = village();
    const before = m.status().eventsChecked;
    expect(replicated(m, peers)).toEqual([]);
    expect(m.status().eventsChecked).toBeGreaterThan(before);
  });

  it('another command at the same index and term is caught', () => {
    const { m, peers } = village();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    feed(m, p1.campaign(1), p1.lead(), p1.propose(['x', 'add', '1']));
    p2.term = 1;
    const forged = p2.write([p1.log[0]!, { term: 1, data: command(['x', 'add', '2']) }], 1);
    const vs = feed(m, forged);
    expect(laws(vs)).toEqual(['log_matching']);
    expect(vs[0]!.indexes).toEqual([2]);
    expect(vs[0]!.terms).toEqual([1]);
    expect(vs[0]!.peers).toEqual(['peer1', 'peer2']);
  });

  it('the same entry over different earlier entries is caught by the prefix hash', () => {
    const { m, peers } = village();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    feed(m, p1.campaign(1), p1.lead(), p1.propose(['x', 'add', '1'], ['x', 'add', '2']));
    // peer2 holds the same entry 3, but another entry 2; it reports only entry 3.
    p2.log = [p1.log[0]!, { term: 1, data: command(['z', 'del']) }, p1.log[2]!];
    const tile = p2.event({ type: 'log_append', entries: [p2.tile(3)] });
    const vs = feed(m, tile);
    expect(laws(vs)).toEqual(['log_matching']);
    expect(vs[0]!.indexes).toEqual([3]);
    expect(vs[0]!.message).toMatch(/entries before it/);
    expect(cited(vs[0]!)[1]).toEqual(at(tile));
  });
});

describe('Leader Completeness: a new leader holds every entry committed before its term', () => {
  it('a new leader that holds the committed entries raises no alarm', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    expect(replicated(m, peers)).toEqual([]);
    const vs = feed(m, p2.commitTo(3), p2.campaign(2), p3.grantVote(2, 'peer2'), p2.lead(), p1.follow(p2));
    expect(vs).toEqual([]);
  });

  it('a new leader whose log ends before a committed entry is caught', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['x', 'add', '1']), p2.follow(p1));
    const commit = p1.commitTo(2);
    feed(m, commit);
    // peer3 never got an entry, yet leads term 2.
    const won = [...p3.campaign(2), ...p3.lead()];
    const vs = feed(m, won);
    expect(laws(vs)[0]).toBe('leader_completeness');
    expect(vs.every((v) => v.law === 'leader_completeness')).toBe(true);
    expect(vs[0]!.peers).toEqual(['peer3', 'peer1']);
    expect(vs[0]!.indexes).toEqual([2]);
    expect(vs[0]!.message).toMatch(/ends at index 0/);
    expect(cited(vs[0]!)[0]).toEqual(at(commit[0]!));
  });

  it('Figure 8: an entry of an earlier term committed by counting, and a later leader without it, is caught', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    // Term 2: peer1 leads, appends entry 2 that only it holds; peer3 has entry 1.
    feed(m, p1.campaign(2), p1.lead(), p1.propose(['x', 'set', 'a']), p3.follow(p1, 1));
    // Term 3: peer3 leads and writes its no-op at index 2.
    feed(m, p3.campaign(3), p3.lead());
    // Term 4: peer1 leads again, copies its entry 2 (term 2) to peer2 and counts it committed.
    feed(m, p1.campaign(4), p1.lead(), p2.follow(p1, 2));
    expect(feed(m, p1.commitTo(2))).toEqual([]);
    // Term 5: peer3 leads with entry 2 of term 3.
    const vs = feed(m, p3.campaign(5), p3.lead());
    expect(laws(vs)).toEqual(['leader_completeness']);
    expect(vs[0]!.peers).toEqual(['peer3', 'peer1']);
    expect(vs[0]!.message).toMatch(/holds entry 2 of term 3/);
  });

  it('is caught from the entries alone when the new leader\'s log is not known (its events have a hole)', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['x', 'add', '1'], ['x', 'add', '2']), p2.follow(p1), p1.commitTo(3));
    p3.lose(3);
    const vs = feed(m, p3.campaign(2), p3.lead());
    expect(m.status().blind.map((b) => b.peer)).toEqual(['peer3']);
    expect(laws(vs)).toEqual(['leader_completeness']);
    expect(vs[0]!.message).toMatch(/holds entry 1 of term 2/);
  });
});

describe('State Machine Safety: no two peers apply different entries at one index', () => {
  it('peers applying the same entries raise no alarm', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    replicated(m, peers);
    const before = m.status().eventsChecked;
    expect(feed(m, p1.apply(1, 3), p2.apply(1, 3), p3.apply(1, 2))).toEqual([]);
    expect(m.status().eventsChecked).toBe(before + 2);
  });

  it('another command applied at the same index is caught', () => {
    const { m, peers } = village();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    replicated(m, peers);
    feed(m, p1.apply(1, 3));
    p2.log[2] = { term: 1, data: command(['x', 'add', '100']) };
    const bad = p2.apply(1, 3);
    const vs = feed(m, bad);
    expect(laws(vs)).toEqual(['state_machine_safety']);
    expect(vs[0]!.indexes).toEqual([3]);
    expect(vs[0]!.message).toMatch(/x add 100/);
    expect(cited(vs[0]!)[1]).toEqual(at(bad));
  });

  it('tells apart two entries with the same words by their hash (two sessions sending "x add 1")', () => {
    const { m, peers } = village();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    const same = (client: string) => ({ index: 1, term: 1, command: ['x', 'add', '1'], ok: true, result: 1, key: 'x', value: 1, h: entryHash(JSON.stringify({ cmd: ['x', 'add', '1'], client })) });
    feed(m, p1.event({ type: 'apply', entries: [same('c-1')] }));
    const vs = feed(m, p2.event({ type: 'apply', entries: [same('c-2')] }));
    expect(laws(vs)).toEqual(['state_machine_safety']);
  });

  it('compares the words when peers send no entry hash', () => {
    const { m, peers } = village();
    const [p1, p2, p3] = peers as [FakePeer, FakePeer, FakePeer];
    const entry = (words: string[]) => ({ index: 4, term: 2, command: words, ok: true, result: null, key: null, value: null });
    expect(feed(m, p1.event({ type: 'apply', entries: [entry(['x', 'add', '1'])] }), p2.event({ type: 'apply', entries: [entry(['x', 'add', '1'])] }))).toEqual([]);
    expect(laws(feed(m, p3.event({ type: 'apply', entries: [entry(['x', 'add', '2'])] })))).toEqual(['state_machine_safety']);
  });
});

describe('per peer, within one process lifetime', () => {
  it('a term going down is caught; a message of an earlier term sent after a later state is not an alarm', () => {
    const { m, peers } = village();
    const [p1] = peers as [FakePeer];
    // Messages built before a term change leave after the state that shows it.
    expect(feed(m, p1.state({ term: 3 }), p1.rpc('rpc_send', 'append_entries_reply', 'peer2', { term: 2, ok: false }))).toEqual([]);
    const down = p1.state({ term: 2 });
    const vs = feed(m, down);
    expect(laws(vs)).toEqual(['term_never_decreases']);
    expect(vs[0]!.terms).toEqual([3, 2]);
    expect(cited(vs[0]!)[1]).toEqual(at(down));
  });

  it('a commit index going down is caught; a commit event trailing a later state is not an alarm', () => {
    const { m, peers } = village();
    const [p1] = peers as [FakePeer];
    expect(feed(m, p1.state({ commitIndex: 3 }), p1.event({ type: 'commit', index: 2 }), p1.event({ type: 'commit', index: 3 }))).toEqual([]);
    const vs = feed(m, p1.event({ type: 'commit', index: 1 }));
    expect(laws(vs)).toEqual(['commit_never_decreases']);
    expect(vs[0]!.indexes).toEqual([3, 1]);
    expect(laws(feed(m, p1.state({ commitIndex: 2 })))).toEqual(['commit_never_decreases']);
  });

  it('two votes in one term are caught; pre-votes to two candidates are not votes', () => {
    const { m, peers } = village();
    const [, , p3] = peers as [FakePeer, FakePeer, FakePeer];
    const pre = [
      p3.rpc('rpc_send', 'request_vote_reply', 'peer1', { term: 4, ok: true, preVote: true }),
      p3.rpc('rpc_send', 'request_vote_reply', 'peer2', { term: 4, ok: true, preVote: true }),
    ];
    expect(feed(m, pre)).toEqual([]);
    const first = p3.grantVote(4, 'peer1');
    const second = p3.rpc('rpc_send', 'request_vote_reply', 'peer2', { term: 4, ok: true });
    const vs = feed(m, first, second);
    expect(laws(vs)).toEqual(['one_vote_per_term']);
    expect(vs[0]!.peers).toEqual(['peer3', 'peer1', 'peer2']);
    expect(cited(vs[0]!)[1]).toEqual(at(second));
  });
});

describe('violations', () => {
  it('state the law in plain words and are reported once, however many events repeat them', () => {
    const { m, peers } = village();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    feed(m, p1.campaign(1), p1.lead());
    const vs = feed(m, p2.campaign(1), p2.lead(), p2.lead(), p2.rpc('rpc_send', 'append_entries', 'peer3'));
    expect(laws(vs)).toEqual(['election_safety']);
    expect(m.status().violationCount).toBe(1);
    expect(m.status().violations[0]!.statement).toBe('At most one leader can be elected in a given term.');
  });
});
