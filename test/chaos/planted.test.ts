// Proof that the safety monitor catches: `npm run chaos -- --plant-bug NAME` runs real peers with
// RAFT_PLANT_BUG=NAME under a fault schedule that exposes the bug, and must exit 1 naming the law
// the monitor saw broken. An unknown name is refused by the peer at startup.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_USAGE } from '../../peer/args.ts';
import { plantedBugFromEnv, plantRecovered } from '../../peer/planted.ts';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { runPlanted } from './planted.ts';

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 150_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('planted bugs in the real peer, caught by the safety monitor', () => {
  it('double_vote: two peers lead one term, and the chaos run exits 1 naming Election Safety', () => {
    const r = run('test/chaos/cli.ts', ['--plant-bug', 'double_vote', '--peers', '5']);
    expect(r.out).toMatch(/CAUGHT: the safety monitor saw .*Election Safety/);
    expect(r.out).toMatch(/The law it targets: Election Safety: peer\d and peer\d were both leaders in term \d+/);
    expect(r.code, r.out).toBe(1);
  }, 160_000);

  it('forget_vote_on_restart: a restarted peer recovers no vote in a term it voted in, and the run exits 1 naming One vote per term', () => {
    const r = run('test/chaos/cli.ts', ['--plant-bug', 'forget_vote_on_restart', '--peers', '3']);
    expect(r.out).toMatch(/CAUGHT: the safety monitor saw One vote per term broken/);
    expect(r.out).toMatch(/recovered no vote in that term: the vote was forgotten/);
    expect(r.code, r.out).toBe(1);
  }, 160_000);

  it('apply_uncommitted: a cut-off leader applies a write the others replace, and the run exits 1 naming State Machine Safety', () => {
    const r = run('test/chaos/cli.ts', ['--plant-bug', 'apply_uncommitted', '--peers', '3']);
    expect(r.out).toMatch(/CAUGHT: the safety monitor saw State Machine Safety broken/);
    expect(r.out).toMatch(/State Machine Safety: peer\d applied .* at index \d+, peer\d applied /);
    expect(r.code, r.out).toBe(1);
  }, 160_000);

  it('commit_previous_term: Figure 8 with real peers, a leader commits an old-term entry by counting replicas, and the run exits 1 naming Leader Completeness', () => {
    const r = run('test/chaos/cli.ts', ['--plant-bug', 'commit_previous_term', '--peers', '5']);
    expect(r.out).toMatch(/CAUGHT: the safety monitor saw .*Leader Completeness/);
    expect(r.out).toMatch(/The law it targets: Leader Completeness: peer\d leads term \d+, but its log (holds entry \d+ of term \d+ with prefix hash|ends at index \d+, without entry)/);
    expect(r.code, r.out).toBe(1);
  }, 160_000);

  it('truncate_committed: a follower cuts entries it acknowledged and is elected without them, and the run exits 1 naming Leader Completeness', () => {
    const r = run('test/chaos/cli.ts', ['--plant-bug', 'truncate_committed', '--peers', '5']);
    expect(r.out).toMatch(/CAUGHT: the safety monitor saw .*Leader Completeness/);
    expect(r.out).toMatch(/The law it targets: Leader Completeness: peer\d (leads term \d+, but its log ends at index \d+, without entry|holds entry \d+ of term \d+, but entries through)/);
    expect(r.code, r.out).toBe(1);
  }, 160_000);

  it('the Figure 8 and truncation schedules break no law when the peers are honest', async () => {
    for (const bug of ['commit_previous_term', 'truncate_committed'] as const) {
      const lines: string[] = [];
      const r = await runPlanted({ bug, peers: 5, rounds: 3, honest: true, log: (l) => lines.push(l) });
      expect(r.rounds, lines.join('\n')).toBe(3);
      expect(r.monitor.violations, lines.join('\n')).toEqual([]);
      // Figure 8 was played up to the election of a peer without the old entries; an honest
      // follower's log never ended below a commit index it helped make.
      expect(lines.join('\n'), lines.join('\n')).toMatch(bug === 'commit_previous_term' ? /\(c\): peer\d cut off holding entries/ : /log never ended below peer\d's commit index/);
    }
  }, 300_000);

  it('refuses to start a peer with an unknown planted bug, naming the known ones', () => {
    const r = run('peer/main.ts', ['peer1', '3'], { RAFT_PLANT_BUG: 'no_such_bug' });
    expect(r.code, r.out).toBe(EXIT_USAGE);
    expect(r.out).toContain('RAFT_PLANT_BUG=no_such_bug is not a planted bug');
    expect(r.out).toContain('forget_vote_on_restart');
  }, 60_000);

  it('is off without the variable, and forgets nothing then', () => {
    expect(plantedBugFromEnv({})).toBeUndefined();
    expect(plantedBugFromEnv({ RAFT_PLANT_BUG: 'double_vote' })).toBe('double_vote');
    const state = { hardState: { term: 4, vote: 'peer2', commit: 3 }, entries: [] };
    expect(plantRecovered(state, undefined)).toBe(state);
    expect(plantRecovered(state, 'forget_vote_on_restart').hardState).toEqual({ term: 4, vote: null, commit: 3 });
  });

  it('chaos refuses a bug it has no fault schedule for', () => {
    const r = run('test/chaos/cli.ts', ['--plant-bug', 'install_stale_snapshot']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('--plant-bug must be one of double_vote, forget_vote_on_restart, apply_uncommitted, commit_previous_term, truncate_committed');
  }, 60_000);
});
