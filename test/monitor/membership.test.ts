// The safety monitor while the membership changes: it counts no majorities, so a newcomer
// reporting (a peer outside the cluster the others announced), its config events and a
// leaver going quiet raise no alarm and break nothing; and a law broken by the newcomer is
// still caught.
import { describe, expect, it } from 'vitest';
import { createMonitor } from '../../game/relay/monitor/monitor.ts';
import { FakePeer, feed } from './fake-peer.ts';

describe('the safety monitor with peers joining and leaving', () => {
  it('takes config events and a newcomer that no hello named, and checks the newcomer like the others', () => {
    const m = createMonitor();
    const names = ['peer1', 'peer2', 'peer3'];
    const [p1, p2, p3] = names.map((n) => new FakePeer(n, { cluster: names }));
    expect(feed(m, p1!.hello(), p2!.hello(), p3!.hello(), p1!.campaign(2), p2!.grantVote(2, 'peer1'), p1!.lead())).toEqual([]);
    expect(feed(m, p1!.propose(['x', 'add', '1']), p2!.follow(p1!), p1!.commitTo(2))).toEqual([]);
    // peer6 was never in anyone's hello; it reports as a learner, then as a voter.
    const p6 = new FakePeer('peer6', { cluster: names });
    const conf = (voters: string[], learners: string[]) => p6.event({ type: 'config', voters, learners });
    expect(feed(m, p6.hello(), conf(names, ['peer6']), p6.follow(p1!), p1!.event({ type: 'config', voters: [...names, 'peer6'], learners: [] }))).toEqual([]);
    expect(feed(m, conf([...names, 'peer6'], []), p6.commitTo(2))).toEqual([]);
    expect(m.status().blind.map((b) => b.peer)).toEqual([]);
    // A newcomer is held to the laws: claiming to lead term 2 as well breaks Election Safety.
    const v = feed(m, p6.campaign(2), p6.lead());
    expect(v.map((x) => x.law)).toContain('election_safety');
    expect(v.find((x) => x.law === 'election_safety')!.peers.sort()).toEqual(['peer1', 'peer6']);
  });
});
