// Majority arithmetic, kept apart from the leader code (as etcd keeps raft/quorum).
// Raft decides everything by majorities of the whole membership: votes (§5.2), commitment
// (§5.3, §5.4.2) and leadership confirmation for reads (dissertation §6.4) and CheckQuorum (§6.2).

/** The smallest number of members that is a majority of `n`. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest value `v` such that a majority of `values` are >= v.
 * With match indexes (the leader's own last index included) this is the highest index stored
 * on a majority (§5.3); with acknowledged read sequence numbers it is the newest read round a
 * majority has confirmed (§6.4).
 */
export function quorumValue(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return 0;
  if (n === 1) return values[0]!;
  const sorted = values.slice().sort((a, b) => b - a);
  return sorted[majority(n) - 1]!;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The outcome of an election (§5.2: "A candidate wins an election if it receives votes from a
 * majority of the servers in the full cluster for the same term"). `lost` once a majority has
 * rejected, so that a candidate can give up early instead of waiting for its timeout.
 */
export function voteResult(votes: ReadonlyMap<string, boolean>, members: number): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of votes.values()) {
    if (v) granted++;
    else rejected++;
  }
  const need = majority(members);
  if (granted >= need) return 'won';
  if (rejected >= need) return 'lost';
  return 'pending';
}

/** Votes granted so far (for events). */
export function grantedCount(votes: ReadonlyMap<string, boolean>): number {
  let granted = 0;
  for (const v of votes.values()) if (v) granted++;
  return granted;
}
