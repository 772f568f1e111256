// The deterministic simulation: hundreds of seeds of faults (loss, duplication, delay, reordering,
// partitions, saves that take time, crashes at every point of the early send -> persist -> send ->
// apply sequence) with the safety checks after every step and a liveness check after healing; and
// proof that the checks bite.
import { describe, expect, it } from 'vitest';
import { failureReport, runSim, type SimResult, type ViolationKind } from './sim.ts';
import type { PlantedBug } from '../../peer/raft/types.ts';

function runSeeds(peers: number, from: number, count: number): { failures: SimResult[]; acked: number; crashes: number; overtaken: number; snapshots: number; installs: number } {
  const failures: SimResult[] = [];
  let acked = 0;
  let crashes = 0;
  let overtaken = 0;
  let snapshots = 0;
  let installs = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = runSim({ seed, peers });
    acked += r.stats.acked;
    crashes += r.stats.crashes;
    overtaken += r.stats.overtaken;
    snapshots += r.stats.snapshots;
    installs += r.stats.installs;
    if (r.violation) failures.push(r);
  }
  return { failures, acked, crashes, overtaken, snapshots, installs };
}

/** Search seeds for the first violation; bounded. */
function firstViolation(opts: { peers: number; plantBug: PlantedBug; checkVoteOnce?: boolean; checkDurableQuorum?: boolean }, limit: number): SimResult | null {
  for (let seed = 1; seed <= limit; seed++) {
    const r = runSim({ seed, ...opts });
    if (r.violation) return r;
  }
  return null;
}

describe('simulation: safety and liveness hold under faults', () => {
  // 600 seeds in all: 3 and 5 peers.
  for (const [peers, from, count] of [
    [3, 1, 200],
    [3, 201, 200],
    [5, 1, 100],
    [5, 101, 100],
  ] as const) {
    it(`${count} seeds with ${peers} peers (seeds ${from}..${from + count - 1}) show no violation`, () => {
      const { failures, acked, crashes, overtaken, snapshots, installs } = runSeeds(peers, from, count);
      expect(failures.map(failureReport).join('\n\n')).toBe('');
      // The runs did real work: proposals were acknowledged, peers crashed, followers'
      // acknowledgements reached leaders whose own saves were still running, logs were
      // compacted, and followers that fell behind were sent snapshots.
      expect(acked).toBeGreaterThan(count * 10);
      expect(crashes).toBeGreaterThan(count);
      expect(overtaken).toBeGreaterThan(count);
      expect(snapshots).toBeGreaterThan(count);
      expect(installs).toBeGreaterThan(count / 4);
    });
  }

  it('a seed replays exactly: the same seed gives the same trace and numbers', () => {
    const a = runSim({ seed: 4242, peers: 5, fullTrace: true });
    const b = runSim({ seed: 4242, peers: 5, fullTrace: true });
    expect(a.trace.length).toBeGreaterThan(100);
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
  });

  it('after the faults heal, a leader is elected and new proposals are applied everywhere within the bound', () => {
    const r = runSim({ seed: 7, peers: 5 });
    expect(r.violation).toBeNull();
    expect(r.stats.healToConvergeMs).toBeGreaterThan(0);
    expect(r.stats.healToConvergeMs).toBeLessThan(10_000);
  });
});

describe('simulation: the checks catch planted bugs', () => {
  const unsafe: ViolationKind[] = ['leader_completeness', 'state_machine_safety', 'log_matching', 'lost_ack', 'read_linearizability'];

  it('counting replicas of previous-term entries for commit (Figure 8) is reported as a violation', () => {
    const r = firstViolation({ peers: 3, plantBug: 'commit_previous_term' }, 3000);
    expect(r, 'no seed up to 3000 exposed the planted commit bug').not.toBeNull();
    expect(unsafe).toContain(r!.violation!.kind);
    const report = failureReport(r!);
    expect(report).toContain(`seed ${r!.seed}`);
    expect(report).toContain(`npm run sim -- --seed ${r!.seed} --peers 3 --plant-bug commit_previous_term`);
    expect(report.split('\n').length).toBeGreaterThan(20); // the last events, readable
    // The same schedule without the planted bug is clean: the bug, not the schedule, broke it.
    expect(runSim({ seed: r!.seed, peers: 3 }).violation).toBeNull();
  });

  it('granting two votes in one term is reported (vote-once check)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'double_vote' }, 500);
    expect(r?.violation?.kind).toBe('vote_once');
  });

  it('forgetting the vote across a restart is reported (vote-once check)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'forget_vote_on_restart' }, 500);
    expect(r?.violation?.kind).toBe('vote_once');
  });

  it('applying entries that are not committed yet is reported (State Machine Safety check)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'apply_uncommitted' }, 50);
    expect(r?.violation?.kind).toBe('state_machine_safety');
    expect(r!.violation!.message).toMatch(/which no commit index covers/);
  });

  it('a follower deleting entries it acknowledged is reported (durable-quorum check), and with that check off by a safety check', () => {
    const r = firstViolation({ peers: 5, plantBug: 'truncate_committed' }, 50);
    expect(r, 'no seed up to 50 exposed the planted truncation').not.toBeNull();
    expect(r!.violation!.kind).toBe<ViolationKind>('durable_quorum');
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
    const unchecked = firstViolation({ peers: 5, plantBug: 'truncate_committed', checkDurableQuorum: false }, 200);
    expect(unchecked, 'no seed up to 200 lost a committed entry to the planted truncation').not.toBeNull();
    expect(unsafe).toContain(unchecked!.violation!.kind);
  });

  it('granting two votes in one term leads to two leaders in a term (Election Safety check)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'double_vote', checkVoteOnce: false }, 1000);
    expect(r?.violation?.kind).toBe('election_safety');
    expect(r!.violation!.message).toMatch(/are both leaders of term/);
  });

  it('a leader counting its own entries before they are on disk is reported (durable-quorum check)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'count_self_before_durable' }, 500);
    expect(r, 'no seed up to 500 exposed the planted durability bug').not.toBeNull();
    expect(r!.violation!.kind).toBe('durable_quorum');
    expect(r!.violation!.message).toMatch(/disks hold it/);
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
  });

  it('a leader counting its own entries before they are on disk loses a committed entry in a crash (safety checks)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'count_self_before_durable', checkDurableQuorum: false }, 500);
    expect(r, 'no seed up to 500 lost a commit to the planted durability bug').not.toBeNull();
    expect(unsafe).toContain(r!.violation!.kind);
    expect(failureReport(r!)).toContain('--plant-bug count_self_before_durable --no-durable-check');
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
  });

  it('cutting the log before the snapshot is durable is reported (durable-snapshot check)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'cut_log_before_snapshot_durable' }, 500);
    expect(r, 'no seed up to 500 exposed the planted log-cut bug').not.toBeNull();
    expect(r!.violation!.kind).toBe<ViolationKind>('durable_snapshot');
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
  });

  it('installing a snapshot at or below the commit index is reported (the state machine moves back)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'install_stale_snapshot' }, 500);
    expect(r, 'no seed up to 500 exposed the planted stale-snapshot bug').not.toBeNull();
    expect(r!.violation!.kind).toBe<ViolationKind>('state_machine_safety');
    expect(r!.violation!.message).toMatch(/commit index moves back|restores a snapshot at \d+ over/);
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
  });

  it('accepting a configuration change while another is uncommitted is reported (one change at a time)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'two_changes_in_flight' }, 500);
    expect(r, 'no seed up to 500 exposed the planted two-changes bug').not.toBeNull();
    expect(r!.violation!.kind).toBe<ViolationKind>('membership');
    expect(r!.violation!.message).toMatch(/is not committed/);
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
  });

  it('counting the votes of removed voters is reported (a leader without a majority of its voters)', () => {
    const r = firstViolation({ peers: 5, plantBug: 'count_old_config_votes' }, 500);
    expect(r, 'no seed up to 500 exposed the planted old-votes bug').not.toBeNull();
    expect(r!.violation!.kind).toBe<ViolationKind>('membership');
    expect(r!.violation!.message).toMatch(/not a majority of its voters/);
    expect(runSim({ seed: r!.seed, peers: 5 }).violation).toBeNull();
  });
});

describe('simulation: membership change under faults', () => {
  for (const membership of ['grow', 'shrink'] as const) {
    it(`100 seeds that ${membership === 'grow' ? 'grow 3 -> 5' : 'shrink 5 -> 3'} voters reach the target with no violation`, () => {
      const failures: SimResult[] = [];
      let changes = 0;
      for (let seed = 1; seed <= 100; seed++) {
        const r = runSim({ seed, peers: 5, membership });
        if (r.violation) failures.push(r);
        expect(r.stats.membershipDone).toBe(true);
        changes += r.stats.confChanges;
      }
      expect(failures.map(failureReport).join('\n\n')).toBe('');
      // grow: two learners added and promoted; shrink: two removals (and retries after leader changes).
      expect(changes).toBeGreaterThanOrEqual(membership === 'grow' ? 400 : 200);
    });
  }
});
