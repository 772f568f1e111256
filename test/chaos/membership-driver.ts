// Membership changes during a chaos run (npm run chaos -- --membership): the ini has one name
// more than the cluster starts with, and this driver keeps changing who is a member while the
// nemesis kills, partitions and pauses: it joins a non-member (starting its process as a
// newcomer if it is not running), then removes a member, chosen by the seed (the leader among
// them), never going below three voters, and so on. A change that fails (no leader, a timeout
// while the newcomer was killed) is retried later; a timed-out join leaves a learner, which the
// next join resumes. The members are read back from the leader's answers, so the run's end
// knows whom to settle and compare.
import { changeMembership } from '../../shared/membership-client.ts';
import type { MembershipResult } from '../../shared/membership.ts';
import type { TestCluster } from '../support/cluster.ts';

export interface MembershipCounts {
  joins: number;
  leaves: number;
  failed: number;
  /** Why changes failed: { timeout: 2, not_leader: 1 }. */
  byError: Record<string, number>;
}

export class MembershipDriver {
  /** Voters and learners as the last successful change left them. */
  readonly members: Set<string>;
  readonly counts: MembershipCounts = { joins: 0, leaves: 0, failed: 0, byError: {} };
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly c: TestCluster,
    /** The first N: the initial configuration (a peer outside it always starts with --join). */
    private readonly initial: readonly string[],
    private readonly random: () => number,
    private readonly log: (line: string) => void,
    /** Pause between changes. */
    private readonly everyMs = 2500,
  ) {
    this.members = new Set(initial);
  }

  /** Whether `name` starts as a newcomer (it is outside the first N). */
  joins(name: string): boolean {
    return !this.initial.includes(name);
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await sleep(this.everyMs);
        if (this.running) await this.step();
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** One change: join a non-member if there is one (every other time), else remove a member. */
  async step(): Promise<MembershipResult> {
    const outside = this.c.names.filter((n) => !this.members.has(n));
    const joining = outside.length > 0 && (this.members.size <= 3 || this.random() < 0.5);
    let r: MembershipResult;
    if (joining) {
      const name = outside[Math.floor(this.random() * outside.length)]!;
      if (!this.c.alive(name)) this.c.start(name, {}, { join: true });
      r = await changeMembership(this.c.config, 'join', name, { ask: [...this.members], timeoutMs: 20_000 });
    } else {
      const voters = [...this.members];
      const name = voters[Math.floor(this.random() * voters.length)]!;
      r = await changeMembership(this.c.config, 'leave', name, { ask: voters.filter((n) => n !== name), timeoutMs: 20_000 });
    }
    if (r.ok) {
      if (r.config.voters.length > 0) {
        this.members.clear();
        for (const n of [...r.config.voters, ...r.config.learners]) this.members.add(n);
      } else if (r.op === 'join') this.members.add(r.peer);
      else this.members.delete(r.peer);
      this.counts[r.op === 'join' ? 'joins' : 'leaves']++;
      this.log(`membership: ${r.op} ${r.peer} done; members now ${[...this.members].sort().join(', ')}`);
    } else {
      // A learner left behind by a timed-out join is a member (it receives the log).
      if (r.config) {
        this.members.clear();
        for (const n of [...r.config.voters, ...r.config.learners]) this.members.add(n);
      }
      this.counts.failed++;
      this.counts.byError[r.error] = (this.counts.byError[r.error] ?? 0) + 1;
      this.log(`membership: ${r.op} ${r.peer} failed (${r.error}): ${r.message}`);
    }
    return r;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
