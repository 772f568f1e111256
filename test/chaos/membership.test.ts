// A short chaos run with membership changes: three real peers and one more name in the ini; the
// members change (a newcomer joins, members leave, the leader among them) while the nemesis
// kills, partitions and pauses. The history must stay linearizable, the final members must
// agree, and the safety monitor must see no law broken.
import { beforeAll, describe, expect, it } from 'vitest';
import { runChaos, type ChaosReport } from './run.ts';

describe('a chaos run that changes the members', () => {
  let report: ChaosReport;
  const lines: string[] = [];

  beforeAll(async () => {
    report = await runChaos({
      peers: 3,
      seconds: 30,
      seed: 20_261_206,
      clients: 4,
      thinkMs: 4,
      historyFile: null,
      membership: true,
      log: (l) => lines.push(l),
      // Faults further apart than in chaos.test.ts: a join needs a new process started, a learner
      // caught up and two entries committed between them.
      nemesis: { gapMs: 1500, faultMs: 1500, monsterEveryMs: 9000, reviveAfterMs: 1200 },
    });
  }, 200_000);

  it('adds and removes members under faults, and the history stays linearizable with every member ending the same', () => {
    const why = `\n${lines.join('\n')}`;
    const m = report.membership!;
    expect(m, 'membership changes ran').not.toBeNull();
    expect(m.joins + m.leaves, `changes done${why}`).toBeGreaterThan(0);
    expect(report.check.verdict, why).toBe('linearizable');
    expect(report.replicas.agree, report.replicas.detail + why).toBe(true);
    expect(report.operations.ok).toBeGreaterThan(50);
    expect(m.members.length).toBeGreaterThanOrEqual(3);
  });

  it('the safety monitor checks every peer, the newcomer included, and sees no law broken', () => {
    const mon = report.monitor!;
    expect(mon.violations.map((v) => `${v.law}: ${v.message}`)).toEqual([]);
    expect(mon.refused, mon.reasons.join('\n')).toBe(0);
    expect(mon.eventsChecked).toBeGreaterThan(500);
  });
});
