// Missing events: a hole in a peer's seq makes the monitor blind for that peer (it says since which
// event and why), silent on the checks that need every event of it, until the peer's resync.
// Checks between self-contained facts go on. Only checks really made are counted.
import { describe, expect, it } from 'vitest';
import { createMonitor, type BlindPeer, type Monitor } from '../../game/relay/monitor/monitor.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { command, FakePeer, feed, laws } from './fake-peer.ts';

function village(): { m: Monitor; p1: FakePeer; p2: FakePeer; p3: FakePeer } {
  const m = createMonitor();
  const [p1, p2, p3] = ['peer1', 'peer2', 'peer3'].map((n) => new FakePeer(n)) as [FakePeer, FakePeer, FakePeer];
  expect(feed(m, p1.hello(), p2.hello(), p3.hello())).toEqual([]);
  return { m, p1, p2, p3 };
}

describe('a hole in seq', () => {
  it('makes the monitor blind for that peer since the first missing event, and only for that peer', () => {
    const { m, p1, p2 } = village();
    feed(m, p1.campaign(1));
    const next = p2.seq;
    p2.lose(3);
    feed(m, p2.state({ term: 1 }), p2.rpc('rpc_send', 'append_entries_reply', 'peer1', { ok: true }));
    expect(m.status().blind).toEqual([{ peer: 'peer2', sinceSeq: next, reason: `events ${next}..${next + 2} are missing`, numbered: true }]);
  });

  it('silences the checks that need the peer\'s whole log: no false alarm from a stale picture of it', () => {
    const { m, p1, p2, p3 } = village();
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['x', 'add', '1']), p2.follow(p1), p1.commitTo(2));
    // peer3 takes the entries, but the monitor never sees it: all it knew is an empty log.
    p3.follow(p1);
    const vs = feed(m, p3.campaign(2), p1.grantVote(2, 'peer3'), p3.lead());
    expect(vs).toEqual([]);
    expect(m.status().blind.map((b) => b.peer)).toEqual(['peer3']);
  });

  it('makes that same check when peer3\'s empty log is known for sure: the hole is what silenced it', () => {
    const { m, p1, p2, p3 } = village();
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['x', 'add', '1']), p2.follow(p1), p1.commitTo(2));
    const vs = feed(m, p3.campaign(2), p1.grantVote(2, 'peer3'), p3.lead());
    expect(laws(vs)[0]).toBe('leader_completeness');
    expect(m.status().blind).toEqual([]);
  });

  it('ends with the peer\'s resync, after which those checks are made again', () => {
    const { m, p1, p2, p3 } = village();
    feed(m, p1.campaign(1), p2.grantVote(1, 'peer1'), p1.lead(), p1.propose(['x', 'add', '1']), p2.follow(p1), p1.commitTo(2));
    p3.follow(p1);
    feed(m, p3.campaign(2), p3.lead());
    expect(feed(m, p3.resync())).toEqual([]);
    expect(m.status().blind).toEqual([]);
    // Now peer3 (leader of term 2) overwrites its last entry: seen only through its known log.
    p3.log[p3.lastIndex - 1] = { term: 2, data: command(['y', 'set', '1']) };
    p3.w++;
    const vs = feed(m, p3.event({ type: 'log_append', entries: [p3.tile(p3.lastIndex)] }), p3.persisted());
    expect(laws(vs)).toContain('leader_append_only');
  });

  it('leaves the checks between self-contained facts on: a blind peer\'s second leader in a term is still caught', () => {
    const { m, p1, p2 } = village();
    feed(m, p1.campaign(1), p1.lead());
    p2.lose(10);
    const vs = feed(m, p2.campaign(1), p2.lead());
    expect(m.status().blind.map((b) => b.peer)).toEqual(['peer2']);
    expect(laws(vs)).toEqual(['election_safety']);
  });
});

describe('other ways to lose events', () => {
  it('an event whose seq goes back is ignored and makes the peer blind', () => {
    const { m, p1 } = village();
    const events = [p1.rpc('rpc_send', 'append_entries_reply', 'peer2', { ok: true }), p1.rpc('rpc_send', 'append_entries_reply', 'peer2', { ok: true })];
    feed(m, events);
    // A duplicate of an earlier event, or one from a stream that closed: not believed.
    const vs = feed(m, { ...events[0]!, type: 'rpc_send', rpc: 'append_entries', to: 'peer3', term: 1 } as PeerEvent);
    expect(vs).toEqual([]);
    expect(m.status().blind).toEqual([{ peer: 'peer1', sinceSeq: events[1]!.seq! + 1, reason: expect.stringMatching(/came after event/), numbered: true }]);
  });

  it('reporter_dropped makes the peer blind until its resync', () => {
    const { m, p1 } = village();
    const dropped = p1.event({ type: 'reporter_dropped', count: 40 });
    feed(m, dropped);
    expect(m.status().blind).toEqual([{ peer: 'peer1', sinceSeq: dropped.seq, reason: 'the reporter dropped 40 events', numbered: true }]);
    feed(m, p1.resync());
    expect(m.status().blind).toEqual([]);
  });

  it('a reconnection after a relay outage shows the hole in its hello, and its resync ends it', () => {
    const { m, p1 } = village();
    const next = p1.seq;
    p1.lose(25);
    feed(m, p1.reconnect());
    expect(m.status().blind).toEqual([{ peer: 'peer1', sinceSeq: next, reason: `events ${next}..${next + 24} are missing`, numbered: true }]);
    feed(m, p1.resync());
    expect(m.status().blind).toEqual([]);
  });

  it('a monitor that starts after the peer is blind for it from its first event until a resync', () => {
    const m = createMonitor();
    const p1 = new FakePeer('peer1');
    p1.hello();
    p1.lose(7);
    feed(m, p1.reconnect());
    expect(m.status().blind).toEqual([{ peer: 'peer1', sinceSeq: 0, reason: 'the monitor joined at event 7 of this process', numbered: true }]);
    feed(m, p1.resync());
    expect(m.status().blind).toEqual([]);
  });

  it('a peer whose events carry no seq is blind from the start, and its facts are still checked', () => {
    const m = createMonitor();
    const legacy = (peer: string, t: number, body: object) => ({ ...body, peer, t }) as PeerEvent;
    const hello = { type: 'hello', pid: 1, cluster: ['peer1', 'peer2'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 } };
    const leader = (term: number) => ({ type: 'state', role: 'leader', term, vote: null, leader: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: null });
    feed(m, legacy('peer1', 1, hello), legacy('peer2', 2, hello));
    expect(m.status().blind).toEqual([
      { peer: 'peer1', sinceSeq: 0, reason: 'its events carry no seq, so missing events cannot be told', numbered: false },
      { peer: 'peer2', sinceSeq: 0, reason: 'its events carry no seq, so missing events cannot be told', numbered: false },
    ]);
    const vs = feed(m, legacy('peer1', 3, leader(4)), legacy('peer2', 4, leader(4)));
    expect(laws(vs)).toEqual(['election_safety']);
    expect(vs[0]!.evidence.map((e) => e.seq)).toEqual([null, null]);
  });
});

describe('blind periods', () => {
  it('are told as they start and end: why and since which event, then null at the resync', () => {
    const changes: [string, BlindPeer | null][] = [];
    const m = createMonitor({ onBlindChange: (peer, blind) => changes.push([peer, blind]) });
    const [p1, p2] = [new FakePeer('peer1'), new FakePeer('peer2')];
    feed(m, p1.hello(), p2.hello(), p1.campaign(1));
    expect(changes).toEqual([]);
    const next = p2.seq;
    p2.lose(2);
    feed(m, p2.state({ term: 1 }), p2.rpc('rpc_send', 'append_entries_reply', 'peer1', { ok: true }));
    // Still blind: a second hole changes nothing (the period began at the first).
    p2.lose(1);
    feed(m, p2.rpc('rpc_send', 'append_entries_reply', 'peer1', { ok: true }));
    expect(changes).toEqual([['peer2', { peer: 'peer2', sinceSeq: next, reason: `events ${next}..${next + 1} are missing`, numbered: true }]]);
    feed(m, p2.resync());
    expect(changes.at(-1)).toEqual(['peer2', null]);
    expect(changes).toHaveLength(2);
  });

  it('start at the hello of a peer whose events carry no seq, and say so', () => {
    const changes: [string, BlindPeer | null][] = [];
    const m = createMonitor({ onBlindChange: (peer, blind) => changes.push([peer, blind]) });
    const hello = { type: 'hello', pid: 1, cluster: ['peer1'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 }, peer: 'peer1', t: 1 } as PeerEvent;
    feed(m, hello);
    expect(changes).toEqual([['peer1', { peer: 'peer1', sinceSeq: 0, reason: 'its events carry no seq, so missing events cannot be told', numbered: false }]]);
  });
});

describe('events checked', () => {
  it('counts only events that took part in a check that could have failed', () => {
    const { m, p1, p2 } = village();
    const start = m.status().eventsChecked;
    // Nothing to compare: faults, a received heartbeat, the first apply at an index.
    feed(m, p1.event({ type: 'faults', blocked: [], dropRate: 0, latencyMs: 0 }), p1.rpc('rpc_recv', 'append_entries_reply', 'peer2', { ok: true }));
    p1.log = [{ term: 1, data: null }];
    p2.log = [{ term: 1, data: null }];
    feed(m, p1.apply(1, 1));
    expect(m.status().eventsChecked).toBe(start);
    // The second apply at index 1 is compared with the first.
    feed(m, p2.apply(1, 1));
    expect(m.status().eventsChecked).toBe(start + 1);
    expect(m.status().eventsSeen).toBe(7);
  });
});

describe('a peer seen before its hello', () => {
  it('is blind from its first event until a resync, and its facts are still checked', () => {
    const m = createMonitor();
    const p1 = new FakePeer('peer1');
    const p2 = new FakePeer('peer2');
    p1.hello();
    p2.hello();
    feed(m, p1.state({ role: 'leader', term: 3 }));
    expect(m.status().blind).toEqual([{ peer: 'peer1', sinceSeq: 0, reason: 'no hello seen for this process', numbered: true }]);
    expect(laws(feed(m, p2.state({ role: 'leader', term: 3 })))).toEqual(['election_safety']);
    feed(m, p1.resync(), p2.resync());
    expect(m.status().blind).toEqual([]);
  });
});
