// The monitor over whole histories of the real Raft core (model-cluster.ts): random clean runs with
// crashes, restarts, loss, cut-off peers and events lost on the way raise no alarm; the core's
// planted double vote and a shell that forgets its vote on restart are caught.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMonitor } from '../../game/relay/monitor/monitor.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import { runModel, type ModelOptions } from './model-cluster.ts';

function watch(opts: ModelOptions): { violations: Violation[]; checked: number; events: number; everBlind: boolean; applied: number } {
  const run = runModel(opts);
  const m = createMonitor();
  const violations: Violation[] = [];
  let everBlind = false;
  for (const e of run.events) {
    violations.push(...m.observe(e));
    if (!everBlind && m.status().blind.length > 0) everBlind = true;
  }
  return { violations, checked: m.status().eventsChecked, events: run.events.length, everBlind, applied: run.applied };
}

const history = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  peers: fc.constantFrom(3, 5),
  durationMs: fc.integer({ min: 800, max: 2500 }),
  dropRate: fc.double({ min: 0, max: 0.25, noNaN: true }),
  crashEveryMs: fc.constantFrom(0, 250, 600),
  isolateEveryMs: fc.constantFrom(0, 300),
  crashNewLeaderRate: fc.constantFrom(0, 0.3),
  crashAfterCommitRate: fc.constantFrom(0, 0.1),
  eventLossRate: fc.constantFrom(0, 0, 0.01, 0.05),
});

describe('the monitor over histories of the real core', () => {
  it('raises no alarm on random clean histories (crashes, restarts, loss, cut-off peers, lost events)', () => {
    fc.assert(
      fc.property(history, (opts) => {
        const r = watch(opts);
        expect(r.violations).toEqual([]);
        expect(r.checked).toBeGreaterThan(0);
        expect(r.checked).toBeLessThanOrEqual(r.events);
      }),
      { numRuns: 40, seed: 20_251_111 },
    );
  });

  it('goes blind when events are lost, and still raises no alarm', () => {
    const r = watch({ seed: 7, peers: 3, durationMs: 2000, eventLossRate: 0.05, crashEveryMs: 500 });
    expect(r.everBlind).toBe(true);
    expect(r.violations).toEqual([]);
    expect(r.applied).toBeGreaterThan(50);
  });

  it('catches the core\'s planted double vote, naming one vote per term', () => {
    const found: Violation[] = [];
    for (let seed = 1; seed <= 60 && found.length === 0; seed++) {
      found.push(...watch({ seed, peers: 5, durationMs: 2000, dropRate: 0.15, crashEveryMs: 150, isolateEveryMs: 200, crashNewLeaderRate: 0.5, plantBug: 'double_vote' }).violations);
    }
    expect(found.length).toBeGreaterThan(0);
    expect(found.map((v) => v.law)).toContain('one_vote_per_term');
    const vote = found.find((v) => v.law === 'one_vote_per_term')!;
    expect(vote.evidence).toHaveLength(2);
    expect(vote.evidence.every((e) => typeof e.seq === 'number')).toBe(true);
  });

  it('catches a shell that does not keep the vote on disk, as a vote forgotten across a restart', () => {
    const found: Violation[] = [];
    for (let seed = 1; seed <= 20 && found.length === 0; seed++) {
      found.push(...watch({ seed, peers: 3, durationMs: 2000, crashEveryMs: 300, forgetVoteOnRestart: true }).violations);
    }
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found.map((v) => v.law))).toEqual(new Set(['one_vote_per_term']));
    expect(found[0]!.message).toMatch(/forgotten/);
  });
});
