// Membership and snapshots from the peers' events to the page's model, through the relay's
// picture (its deltas and the snapshot a late browser gets): who is drawn as a newcomer, and
// where each log begins.
import { describe, expect, it } from 'vitest';
import { Picture } from '../../game/relay/picture.ts';
import { VillageModel } from '../../game/src/model.ts';
import type { LogTile, PeerEvent } from '../../shared/events.ts';
import type { RelayToBrowser } from '../../shared/village.ts';

const T = 1_700_000_000_000;
const NAMES = ['peer1', 'peer2', 'peer3', 'peer4'];

function ev(peer: string, e: Record<string, unknown>): PeerEvent {
  return { peer, t: T, ...e } as PeerEvent;
}

function state(peer: string, role: 'leader' | 'follower', over: Record<string, unknown> = {}): PeerEvent {
  return ev(peer, { type: 'state', role, term: 2, vote: 'peer1', leader: 'peer1', commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: null, ...over });
}

function tiles(from: number, to: number, term = 2): LogTile[] {
  const out: LogTile[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, label: `x add ${i}` });
  return out;
}

/** A relay picture of three voters led by peer1, with peer4 up and reporting; and a live page watching it. */
function village(): { picture: Picture; live: VillageModel; flush: () => void } {
  const picture = new Picture({ order: NAMES, reviveAfterS: 0, now: () => T });
  const live = new VillageModel();
  live.setConnection('open', T);
  for (const n of NAMES) picture.applyEvent(ev(n, { type: 'hello', pid: 100, cluster: NAMES.slice(0, 3), profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 } }));
  for (const n of NAMES) picture.applyEvent(state(n, n === 'peer1' ? 'leader' : 'follower'));
  live.receive(wire({ type: 'snapshot', now: T, picture: picture.snapshot() }), T);
  picture.takeDeltas();
  const flush = () => live.receive(wire({ type: 'batch', now: T, deltas: picture.takeDeltas().deltas }), T);
  return { picture, live, flush };
}

/** What the page would read off the wire. */
function wire(m: RelayToBrowser): RelayToBrowser {
  return JSON.parse(JSON.stringify(m)) as RelayToBrowser;
}

function lateBrowser(picture: Picture): VillageModel {
  const m = new VillageModel();
  m.setConnection('open', T);
  m.receive(wire({ type: 'snapshot', now: T, picture: picture.snapshot() }), T);
  return m;
}

function looks(m: VillageModel): Record<string, string> {
  return Object.fromEntries([...m.peers.values()].map((p) => [p.name, m.lookOf(p)]));
}

const config = (peer: string, voters: string[], learners: string[]) => ev(peer, { type: 'config', voters, learners });

describe('newcomers: learners of the configuration in force', () => {
  it('a learner in the leader\'s configuration is a newcomer; the voters never are', () => {
    const { picture, live, flush } = village();
    for (const n of ['peer1', 'peer2', 'peer3']) picture.applyEvent(config(n, ['peer1', 'peer2', 'peer3'], ['peer4']));
    flush();
    expect(looks(live)).toEqual({ peer1: 'leader', peer2: 'follower', peer3: 'follower', peer4: 'newcomer' });
    expect(looks(lateBrowser(picture))).toEqual(looks(live));
  });

  it('once promoted it is drawn by its role again', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(config('peer1', ['peer1', 'peer2', 'peer3'], ['peer4']));
    flush();
    expect(live.lookOf(live.peers.get('peer4')!)).toBe('newcomer');
    picture.applyEvent(config('peer1', ['peer1', 'peer2', 'peer3', 'peer4'], []));
    flush();
    expect(looks(live)).toEqual({ peer1: 'leader', peer2: 'follower', peer3: 'follower', peer4: 'follower' });
    expect(looks(lateBrowser(picture))).toEqual(looks(live));
  });

  it('the leader\'s configuration wins over a follower that has not heard of the change yet', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(config('peer2', ['peer1', 'peer2', 'peer3'], ['peer4']));
    picture.applyEvent(config('peer1', ['peer1', 'peer2', 'peer3', 'peer4'], []));
    flush();
    expect(live.isLearner('peer4')).toBe(false);
    expect(live.membership()).toEqual({ voters: ['peer1', 'peer2', 'peer3', 'peer4'], learners: [] });
  });

  it('a peer started to join but not added yet is no learner, and a dead learner is a grave', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(config('peer1', ['peer1', 'peer2', 'peer3'], []));
    flush();
    expect(live.lookOf(live.peers.get('peer4')!)).toBe('follower');
    picture.applyEvent(config('peer1', ['peer1', 'peer2', 'peer3'], ['peer4']));
    picture.applyLauncherReport({ type: 'process', peer: 'peer4', pid: null, alive: false, exitCode: null, signal: 'SIGKILL' });
    flush();
    expect(live.lookOf(live.peers.get('peer4')!)).toBe('grave');
  });

  it('the configuration a resync carries counts as a config event', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(ev('peer1', { type: 'resync', role: 'leader', term: 2, vote: 'peer1', leader: 'peer1', commit: 0, commitPh: 0, lastIndex: 0, lastTerm: 0, lastPh: 0, base: null, durable: { w: 1, term: 2, vote: 'peer1' }, tail: [], config: { voters: ['peer1', 'peer2', 'peer3'], learners: ['peer4'] } }));
    flush();
    expect(live.isLearner('peer4')).toBe(true);
  });
});

describe('a villager moving out', () => {
  it('a removed peer that exits leaves the village, with no gravestone, even before the launcher names the new members', () => {
    const { picture, live } = village();
    picture.applyLauncherReport({ type: 'launcher_hello', peers: NAMES, profile: 'fast' });
    picture.applyEvent(config('peer1', ['peer1', 'peer3', 'peer4'], []));
    picture.applyLauncherReport({ type: 'process', peer: 'peer2', pid: null, alive: false, exitCode: 0, signal: null });
    const { resync, deltas } = picture.takeDeltas();
    expect(resync).toBe(true);
    live.receive(wire({ type: 'snapshot', now: T, picture: picture.snapshot() }), T);
    live.receive(wire({ type: 'batch', now: T, deltas }), T);
    expect(looks(live)).toEqual({ peer1: 'leader', peer3: 'follower', peer4: 'follower' });
  });

  it('a member that goes down is a gravestone: a crash is not a removal', () => {
    const { picture, live, flush } = village();
    picture.applyLauncherReport({ type: 'launcher_hello', peers: NAMES, profile: 'fast' });
    picture.applyEvent(config('peer1', ['peer1', 'peer2', 'peer3', 'peer4'], []));
    picture.applyLauncherReport({ type: 'process', peer: 'peer2', pid: null, alive: false, exitCode: null, signal: 'SIGKILL' });
    flush();
    expect(looks(live)).toEqual({ peer1: 'leader', peer2: 'grave', peer3: 'follower', peer4: 'follower' });
  });
});

describe('where a log begins after a snapshot', () => {
  it('a compaction moves the log\'s start: the snapshot\'s last index and term, and no tiles at or below it', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(ev('peer2', { type: 'log_append', entries: tiles(1, 12) }));
    flush();
    expect(live.logStartOf(live.peers.get('peer2')!)).toBeNull();
    picture.applyEvent(ev('peer2', { type: 'snapshot', reason: 'compacted', index: 10, term: 2, ph: 1, lastIndex: 12 }));
    flush();
    const p2 = live.peers.get('peer2')!;
    expect(live.logStartOf(p2)).toEqual({ firstIndex: 11, snapshotIndex: 10, snapshotTerm: 2 });
    expect(p2.log.map((t) => t.index)).toEqual([11, 12]);
    const late = lateBrowser(picture);
    expect(late.logStartOf(late.peers.get('peer2')!)).toEqual({ firstIndex: 11, snapshotIndex: 10, snapshotTerm: 2 });
    expect(late.peers.get('peer2')!.log.map((t) => t.index)).toEqual([11, 12]);
    expect(live.logStartOf(live.peers.get('peer3')!)).toBeNull();
  });

  it('an installed snapshot replaces the log, and a state event\'s log start is taken as it is', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(ev('peer4', { type: 'snapshot', reason: 'installed', index: 30, term: 3, ph: 1, lastIndex: 30 }));
    flush();
    expect(live.logStartOf(live.peers.get('peer4')!)).toEqual({ firstIndex: 31, snapshotIndex: 30, snapshotTerm: 3 });
    expect(live.peers.get('peer4')!.log).toEqual([]);
    picture.applyEvent(state('peer4', 'follower', { lastIndex: 44, log: { firstIndex: 35, snapshotIndex: 40, snapshotTerm: 4 } }));
    flush();
    expect(live.logStartOf(live.peers.get('peer4')!)).toEqual({ firstIndex: 35, snapshotIndex: 40, snapshotTerm: 4 });
  });

  it('a resync without a base says the log has no snapshot any more (a wiped peer)', () => {
    const { picture, live, flush } = village();
    picture.applyEvent(ev('peer3', { type: 'snapshot', reason: 'compacted', index: 5, term: 2, ph: 1, lastIndex: 5 }));
    flush();
    expect(live.logStartOf(live.peers.get('peer3')!)).not.toBeNull();
    picture.applyEvent(ev('peer3', { type: 'resync', role: 'follower', term: 2, vote: null, leader: 'peer1', commit: 0, commitPh: 0, lastIndex: 0, lastTerm: 0, lastPh: 0, base: null, durable: { w: 1, term: 2, vote: null }, tail: [] }));
    flush();
    expect(live.logStartOf(live.peers.get('peer3')!)).toBeNull();
  });
});
