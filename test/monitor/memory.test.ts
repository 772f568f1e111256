// A long run keeps the monitor's memory bounded: every memory holds at most what its window allows,
// however many events, entries and terms went by (counts of retained items, not time).
import { describe, expect, it } from 'vitest';
import { createMonitor, type MonitorOptions } from '../../game/relay/monitor/monitor.ts';
import { runModel } from './model-cluster.ts';

const SMALL: Required<Omit<MonitorOptions, 'maxViolations' | 'onBlindChange'>> = { termWindow: 4, indexWindow: 300, logWindow: 50, voteWindow: 4, committedLimit: 5 };

function bounds(o: typeof SMALL, peers: number): Record<string, number> {
  return {
    peers,
    leaderTerms: 2 * o.termWindow + 2,
    entryIndexes: 2 * o.indexWindow + 2,
    entryFacts: 4 * (2 * o.indexWindow + 2),
    appliedIndexes: 2 * o.indexWindow + 2,
    committedFacts: o.committedLimit,
    knownLogEntries: peers * 2 * o.logWindow,
    votes: peers * (2 * o.voteWindow + 2),
    diskVotes: peers * (2 * o.voteWindow + 2),
    truncations: peers * 16,
    violationsKept: 0,
    dedupKeys: 0,
  };
}

describe('memory over a long run', () => {
  it('stays within each window while the run goes on (a run of many terms and thousands of entries)', () => {
    const peers = 3;
    const run = runModel({ seed: 11, peers, durationMs: 30_000, crashEveryMs: 700, crashNewLeaderRate: 0.3, dropRate: 0.05, commandsPerProposal: 3 });
    const m = createMonitor(SMALL);
    const limit = bounds(SMALL, peers);
    let maxTerm = 0;
    let maxIndex = 0;
    let peak: Record<string, number> = {};
    for (const e of run.events) {
      expect(m.observe(e)).toEqual([]);
      if (e.type === 'state') maxTerm = Math.max(maxTerm, e.term);
      if (e.type === 'persisted') maxIndex = Math.max(maxIndex, e.lastIndex);
      if (e.seq !== undefined && e.seq % 97 === 0) {
        const now = m.retained();
        peak = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, Math.max(v, peak[k] ?? 0)]));
      }
    }
    // The run went far past every window...
    expect(maxTerm).toBeGreaterThan(4 * SMALL.termWindow);
    expect(maxIndex).toBeGreaterThan(10 * SMALL.indexWindow);
    expect(run.events.length).toBeGreaterThan(40_000);
    // ...and no memory ever held more than its window allows.
    for (const [k, v] of Object.entries(peak)) expect(v, k).toBeLessThanOrEqual(limit[k]!);
    expect(peak.entryIndexes).toBeGreaterThan(SMALL.indexWindow / 2);
  });

  it('holds no more after a run three times as long', () => {
    const options = { indexWindow: 2000, logWindow: 500 };
    const retainedAfter = (durationMs: number) => {
      const run = runModel({ seed: 5, peers: 3, durationMs, dropRate: 0.02, commandsPerProposal: 4 });
      const m = createMonitor(options);
      for (const e of run.events) m.observe(e);
      return { retained: m.retained(), events: run.events.length };
    };
    const short = retainedAfter(15_000);
    const long = retainedAfter(45_000);
    expect(long.events).toBeGreaterThan(2.5 * short.events);
    // Windows full at both lengths: the indexes kept stop at the window, not at the run's length.
    expect(short.retained.entryIndexes).toBeGreaterThanOrEqual(options.indexWindow);
    expect(long.retained.entryIndexes).toBeLessThanOrEqual(2 * options.indexWindow + 2);
    expect(long.retained.appliedIndexes).toBeLessThanOrEqual(2 * options.indexWindow + 2);
    expect(long.retained.knownLogEntries).toBeLessThanOrEqual(3 * 2 * options.logWindow);
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    expect(total(long.retained)).toBeLessThan(1.5 * total(short.retained));
  });
});
