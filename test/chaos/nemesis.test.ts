import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../game/relay/monster.ts';
import { FAULT_KINDS, Nemesis, type NemesisAction, type PeerView } from './nemesis.ts';

/** Plays a nemesis against a pretend cluster for `ms`, carrying out its actions on the view. */
function play(peers: number, seed: number, ms: number) {
  const names = Array.from({ length: peers }, (_, i) => `peer${i + 1}`);
  const view: PeerView[] = names.map((name, i) => ({ name, alive: true, paused: false, leader: i === 0 }));
  let cut = new Set<string>();
  const nemesis = new Nemesis({ peers: names, random: seededRandom(seed), gapMs: 800, faultMs: 1500, monsterEveryMs: 3000, reviveAfterMs: 1500 }, 0);
  const actions: { at: number; a: NemesisAction }[] = [];
  let worst = 0;
  const apply = (a: NemesisAction, at: number) => {
    actions.push({ at, a });
    const v = (n: string) => view.find((x) => x.name === n)!;
    switch (a.type) {
      case 'kill':
        Object.assign(v(a.peer), { alive: false, paused: false, leader: false });
        break;
      case 'restart':
        v(a.peer).alive = true;
        break;
      case 'pause':
        v(a.peer).paused = true;
        break;
      case 'resume':
        v(a.peer).paused = false;
        break;
      case 'partition':
        cut = new Set(a.groups[0]!.length < a.groups[1]!.length ? a.groups[0] : a.groups[1]);
        break;
      case 'heal':
        cut = new Set();
        break;
      case 'lossy':
        break;
    }
    // The cluster elects a new leader among the available majority at once.
    const available = view.filter((x) => x.alive && !x.paused && !cut.has(x.name));
    if (!available.some((x) => x.leader)) {
      view.forEach((x) => (x.leader = false));
      if (available.length > peers / 2) available[0]!.leader = true;
    }
    worst = Math.max(worst, peers - available.length);
  };
  for (let t = 0; t < ms; t += 50) for (const a of nemesis.tick(t, view)) apply(a, t);
  for (const a of nemesis.stop(view)) apply(a, ms);
  return { nemesis, actions, view, cut, worst };
}

describe('the chaos nemesis', () => {
  it('causes every kind of fault in a short run, and kills the leader on purpose', () => {
    const { nemesis } = play(3, 1, 20_000);
    for (const k of ['kill', 'kill-leader', 'restart', 'partition', 'pause', 'resume', 'lossy', 'heal']) expect(nemesis.counts[k], k).toBeGreaterThan(0);
    for (const k of FAULT_KINDS) expect(nemesis.counts[k] ?? 0, k).toBeGreaterThan(0);
  });

  it('never leaves fewer than a majority of peers available', () => {
    for (const [peers, seed] of [
      [3, 2],
      [5, 3],
      [7, 4],
    ] as const) {
      const { worst } = play(peers, seed, 60_000);
      expect(worst, `${peers} peers`).toBeLessThanOrEqual(Math.floor((peers - 1) / 2));
    }
  });

  it('heals everything when stopped: every peer running, none paused, no partition', () => {
    const { view, cut } = play(5, 5, 7_300);
    expect(view.every((v) => v.alive && !v.paused)).toBe(true);
    expect(cut.size).toBe(0);
  });

  it('replays the same schedule from the same seed', () => {
    const a = play(5, 42, 30_000).actions;
    const b = play(5, 42, 30_000).actions;
    expect(b).toEqual(a);
    expect(play(5, 43, 30_000).actions).not.toEqual(a);
  });
});
