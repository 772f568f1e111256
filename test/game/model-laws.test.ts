// The page's side of the safety monitor: the `laws` part of the picture in the model (snapshot,
// then deltas that add numbered violations), the violation shown until dismissed, what it
// highlights, and the HUD's line, which never claims a check the relay did not report.
import { describe, expect, it } from 'vitest';
import { emptyPeerView, type Delta, type LawBlind, type LawsView, type LawViolation, type PeerView, type VillagePicture } from '../../shared/village.ts';
import { VillageModel } from '../../game/src/model.ts';
import { lawsLine } from '../../game/src/game/lawsLine.ts';

const T0 = 1_700_000_000_000;

function peer(name: string): PeerView {
  return { ...emptyPeerView(name), process: 'up', pid: 100, reporting: true, term: 1 };
}

function violation(n: number, over: Partial<LawViolation> = {}): LawViolation {
  return {
    n,
    law: 'election_safety',
    name: 'Election Safety',
    statement: 'At most one leader can be elected in a given term.',
    message: `peer1 and peer2 were both leaders in term ${n}.`,
    peers: ['peer1', 'peer2'],
    indexes: [],
    terms: [n],
    evidence: [
      { peer: 'peer1', seq: 4, boot: 'b1', type: 'state', t: T0, said: `state: leader of term ${n}` },
      { peer: 'peer2', seq: 9, boot: 'b2', type: 'state', t: T0, said: `state: leader of term ${n}` },
    ],
    at: T0 + n,
    file: `/logs/violation-${n}.json`,
    ...over,
  };
}

function laws(over: Partial<LawsView> = {}): LawsView {
  return { eventsSeen: 0, eventsChecked: 0, violationCount: 0, violations: [], blind: [], ...over };
}

function village(l: LawsView | undefined, peers = ['peer1', 'peer2', 'peer3']): VillageModel {
  const m = new VillageModel();
  m.setConnection('open', T0);
  const picture: VillagePicture = {
    peers: peers.map(peer),
    kv: {},
    attacks: false,
    nextAttackAt: null,
    reviveAfterS: 0,
    timing: null,
    profile: 'fast',
    counters: { elections: 0, messages: 0, droppedEvents: 0 },
    launcher: true,
    ...(l ? { laws: l } : {}),
  };
  m.receive({ type: 'snapshot', now: T0, picture }, T0);
  return m;
}

function lawsDelta(m: VillageModel, status: Partial<LawsView>, added: LawViolation[] = []): void {
  const { eventsSeen, eventsChecked, violationCount, blind } = laws(status);
  const d: Delta = { type: 'laws', laws: { eventsSeen, eventsChecked, violationCount, blind }, violations: added };
  m.receive({ type: 'batch', now: T0, deltas: [d] }, T0);
}

const blind = (peer: string, sinceSeq: number, numbered = true): LawBlind => ({ peer, sinceSeq, reason: 'r', numbered });

describe('the laws part in the model', () => {
  it('comes with the snapshot, and deltas update the counts and add the new violations once', () => {
    const m = village(laws({ eventsSeen: 10, eventsChecked: 4 }));
    expect(m.laws).toEqual(laws({ eventsSeen: 10, eventsChecked: 4 }));
    lawsDelta(m, { eventsSeen: 20, eventsChecked: 9, violationCount: 1 }, [violation(1)]);
    expect(m.laws!.violations.map((v) => v.n)).toEqual([1]);
    // The same violation again (a delta after a snapshot that held it) is not added twice.
    lawsDelta(m, { eventsSeen: 30, eventsChecked: 12, violationCount: 2 }, [violation(1), violation(2)]);
    expect(m.laws!.violations.map((v) => v.n)).toEqual([1, 2]);
    expect(m.laws!.eventsChecked).toBe(12);
  });

  it('is null when the relay sends none, and malformed parts are skipped without breaking the page', () => {
    expect(village(undefined).laws).toBeNull();
    const m = village(laws());
    m.receive({ type: 'batch', now: T0, deltas: [{ type: 'laws', laws: null, violations: [] } as unknown as Delta] }, T0);
    expect(m.ignored).toBe(1);
    lawsDelta(m, { eventsChecked: 1, violationCount: 1 }, [{ n: 'x' } as unknown as LawViolation, violation(1, { peers: [5] as unknown as string[] })]);
    expect(m.laws!.violations).toHaveLength(1);
    expect(m.laws!.violations[0]!.peers).toEqual([]);
  });

  it('shows the first violation not dismissed; dismissing it shows the next, then none', () => {
    const m = village(laws({ violationCount: 2, violations: [violation(1), violation(2)] }));
    expect(m.shownViolation()!.n).toBe(1);
    m.dismissViolation(m.shownViolation()!);
    expect(m.shownViolation()!.n).toBe(2);
    m.dismissViolation(m.shownViolation()!);
    expect(m.shownViolation()).toBeNull();
    // A later violation shows again.
    lawsDelta(m, { violationCount: 3 }, [violation(3)]);
    expect(m.shownViolation()!.n).toBe(3);
  });

  it('highlights exactly the villagers of the shown violation, and their tiles at its indexes', () => {
    const m = village(laws({ violationCount: 1, violations: [violation(1, { law: 'state_machine_safety', peers: ['peer2', 'peer3', 'peer9'], indexes: [7] })] }));
    const h = m.lawHighlight();
    expect([...h.villagers]).toEqual(['peer2', 'peer3']);
    expect([...h.tiles]).toEqual(['peer2:7', 'peer3:7']);
    m.dismissViolation(m.shownViolation()!);
    expect(m.lawHighlight().villagers.size).toBe(0);
    expect(m.lawHighlight().tiles.size).toBe(0);
  });
});

describe('the HUD line about the laws', () => {
  it('says the laws hold and how many events were checked', () => {
    expect(lawsLine(village(laws({ eventsSeen: 120, eventsChecked: 95 })))).toEqual({ text: 'laws hold · 95 events checked', tone: 'hold' });
  });

  it('names the blind peers and since which event', () => {
    const m = village(laws({ eventsSeen: 500, eventsChecked: 400, blind: [blind('peer3', 120), blind('peer1', 7)] }));
    expect(lawsLine(m)).toEqual({ text: 'laws hold · 400 events checked · blind: peer3 since event 120, peer1 since event 7', tone: 'partial' });
  });

  it('says plainly when no peer sends the monitor\'s fields, and which peers do not when some do', () => {
    const none = village(laws({ eventsSeen: 50, eventsChecked: 12, blind: ['peer1', 'peer2', 'peer3'].map((p) => blind(p, 0, false)) }));
    expect(lawsLine(none).text).toBe("laws hold · 12 events checked · no peer sends the monitor's fields yet: missing events cannot be told");
    expect(lawsLine(none).tone).toBe('partial');
    const some = village(laws({ eventsSeen: 50, eventsChecked: 12, blind: [blind('peer2', 0, false)] }));
    expect(lawsLine(some).text).toBe('laws hold · 12 events checked · no monitor fields from peer2');
  });

  it('never says the laws hold before anything was checked', () => {
    expect(lawsLine(village(laws())).text).toBe('laws: no events yet');
    expect(lawsLine(village(laws({ eventsSeen: 30 }))).text).toBe('laws: nothing checked yet (30 events seen)');
    expect(lawsLine(village(undefined)).text).toBe('laws: not watched (this relay runs no safety monitor)');
  });

  it('names a broken law first, with how many more', () => {
    const m = village(laws({ eventsSeen: 900, eventsChecked: 800, violationCount: 3, violations: [violation(1), violation(2)] }));
    expect(lawsLine(m)).toEqual({ text: 'LAW BROKEN: Election Safety (+2 more) · 800 events checked', tone: 'broken' });
  });
});
