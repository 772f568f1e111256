// What a workload needs from a cluster under test, so that the same workload code drives
// our peers and etcd.

export interface MemberStatus {
  /** The leader this member knows, by member name; null when it knows none. */
  leader: string | null;
  term: number;
  /** Commit (ours) or raft index (etcd): to see a restarted member catch up. */
  index: number;
}

/** One closed-loop client: one connection, one request at a time. */
export interface BenchClient {
  /** One durable write. Resolves when acknowledged, rejects on any error. */
  put(key: string, value: string): Promise<void>;
  close(): void;
}

/**
 * The W2 client: may talk to any member, follows the leader, gives up on a request after
 * `timeoutMs` (and then tries another member next time).
 */
export interface FailoverClient {
  /** True when the write was acknowledged within the timeout. */
  write(key: string, value: string, timeoutMs: number): Promise<boolean>;
  close(): void;
}

export interface BenchSystem {
  readonly name: 'ours' | 'etcd';
  readonly members: readonly string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Pids of the live members (for CPU accounting and RSS). */
  pids(): number[];
  pidOf(member: string): number | null;
  status(member: string, timeoutMs?: number): Promise<MemberStatus | null>;
  /** Waits until one leader is known to every live member; returns its name. */
  waitForLeader(timeoutMs?: number): Promise<string>;
  /** A closed-loop client whose writes go to the current leader. */
  client(): Promise<BenchClient>;
  failoverClient(): Promise<FailoverClient>;
  /** SIGKILL one member. */
  kill(member: string): void;
  /** Starts a killed member again from its data directory. */
  restart(member: string): Promise<void>;
}

export async function leaderOf(sys: BenchSystem, timeoutMs = 10_000): Promise<string> {
  return sys.waitForLeader(timeoutMs);
}

/** Asks every live member for its status in parallel; waits until all agree on one leader. */
export async function waitForAgreedLeader(
  sys: Pick<BenchSystem, 'members' | 'status' | 'pidOf'>,
  timeoutMs: number,
  what: string,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const live = sys.members.filter((m) => sys.pidOf(m) !== null);
    const st = await Promise.all(live.map((m) => sys.status(m, 500)));
    const leaders = new Set(st.map((s) => s?.leader ?? null));
    last = live.map((m, i) => `${m}:${st[i] ? (st[i]!.leader ?? 'none') : 'no answer'}`).join(' ');
    if (leaders.size === 1) {
      const l = [...leaders][0];
      if (l && live.includes(l)) return l;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what}: no agreed leader within ${timeoutMs} ms (${last})`);
}
