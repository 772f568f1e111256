// A short chaos run as part of `npm test`: three real peer processes, concurrent clients, and
// the nemesis killing (the leader too), partitioning, pausing and restarting peers for about
// twenty seconds. The history must be linearizable and the replicas must agree; the peers run
// with -v into the safety monitor, which must have checked their events and seen no law broken.
import { beforeAll, describe, expect, it } from 'vitest';
import { checkHistory } from './checker.ts';
import type { Operation } from './history.ts';
import { runChaos, type ChaosReport } from './run.ts';

describe('a chaos run against three real peers', () => {
  let report: ChaosReport;
  const lines: string[] = [];

  // The run is the fixture of both tests, so either can run alone (`-t`) or first.
  beforeAll(async () => {
    // Faults close together, so that every kind comes round at least twice even on a busy machine.
    report = await runChaos({
      peers: 3,
      seconds: 20,
      seed: 20_240_607,
      clients: 4,
      thinkMs: 4,
      historyFile: null,
      log: (l) => lines.push(l),
      nemesis: { gapMs: 500, faultMs: 1400, monsterEveryMs: 4000, reviveAfterMs: 1200 },
    });
  }, 150_000);

  it('stays linearizable through kills, leader kills, partitions and pauses, and every replica ends the same', () => {
    const why = `\n${lines.join('\n')}\n${JSON.stringify(report.check.keys.filter((k) => k.verdict !== 'linearizable'), null, 1)}`;
    expect(report.check.verdict, why).toBe('linearizable');
    expect(report.replicas.agree, report.replicas.detail).toBe(true);
    expect(report.operations.ok).toBeGreaterThan(100);
    for (const k of ['kill', 'partition', 'pause']) expect(report.nemesis[k] ?? 0, `${k}${why}`).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('nemesis: SIGKILL'))).toBe(true);
  });

  it('runs its peers into the safety monitor, which checks their events and sees no law broken', () => {
    const m = report.monitor!;
    expect(m, 'the monitor ran').not.toBeNull();
    expect(m.violations.map((v) => `${v.law}: ${v.message}`)).toEqual([]);
    expect(m.violationCount).toBe(0);
    expect(m.peers.sort()).toEqual(['peer1', 'peer2', 'peer3']);
    expect(m.eventsChecked).toBeGreaterThan(1000);
    expect(m.refused, m.reasons.join('\n')).toBe(0);
  });

  it('has a checker that rejects the same history once one read is made to return a value nobody wrote', () => {
    const ops: Operation[] = report.history.map((op) => ({ ...op }));
    const read = ops.find((op) => op.client !== 'final' && op.input.f === 'get' && op.outcome.type === 'ok' && op.invoke > ops[ops.length >> 1]!.invoke)!;
    expect(read).toBeDefined();
    read.outcome = { type: 'ok', value: -424242 };
    const r = checkHistory(ops);
    expect(r.verdict).toBe('not_linearizable');
    const bad = r.keys.find((k) => k.verdict === 'not_linearizable')!;
    expect(bad.key).toBe(read.key);
    expect(bad.counterexample?.stuck.id).toBe(read.id);
  });
});
