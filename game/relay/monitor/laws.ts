// The laws the safety monitor watches, in plain words, and the shape of a violation.
// The first five are the Raft paper's Figure 3; the last four are what a single peer owes them
// (terms and votes survive crashes, commit only moves forward, durable means durable).
import type { LawEvidence } from '../../../shared/village.ts';

export type LawId =
  | 'election_safety'
  | 'leader_append_only'
  | 'log_matching'
  | 'leader_completeness'
  | 'state_machine_safety'
  | 'term_never_decreases'
  | 'one_vote_per_term'
  | 'commit_never_decreases'
  | 'durable_log';

export interface Law {
  id: LawId;
  name: string;
  /** The law in plain words, for the panel that reports a violation. */
  statement: string;
  /** Where it comes from. */
  source: string;
}

export const LAWS: Record<LawId, Law> = {
  election_safety: {
    id: 'election_safety',
    name: 'Election Safety',
    statement: 'At most one leader can be elected in a given term.',
    source: 'Raft paper, Figure 3 and §5.2',
  },
  leader_append_only: {
    id: 'leader_append_only',
    name: 'Leader Append-Only',
    statement: 'A leader never overwrites or deletes entries in its log; it only appends new entries.',
    source: 'Raft paper, Figure 3 and §5.3',
  },
  log_matching: {
    id: 'log_matching',
    name: 'Log Matching',
    statement:
      'If two logs contain an entry with the same index and term, the logs are identical in all entries up through that index (the same command there, and the same entries before it).',
    source: 'Raft paper, Figure 3 and §5.3',
  },
  leader_completeness: {
    id: 'leader_completeness',
    name: 'Leader Completeness',
    statement: 'If a log entry is committed in a given term, that entry is present in the logs of the leaders of all higher-numbered terms.',
    source: 'Raft paper, Figure 3 and §5.4',
  },
  state_machine_safety: {
    id: 'state_machine_safety',
    name: 'State Machine Safety',
    statement: 'If a peer has applied a log entry at a given index, no other peer ever applies a different entry at that index.',
    source: 'Raft paper, Figure 3 and §5.4.3',
  },
  term_never_decreases: {
    id: 'term_never_decreases',
    name: 'Terms only grow',
    statement: "A peer's current term never decreases, not even across a crash and restart (it is on stable storage).",
    source: 'Raft paper, Figure 2 (persistent state: currentTerm)',
  },
  one_vote_per_term: {
    id: 'one_vote_per_term',
    name: 'One vote per term',
    statement: 'A peer votes for at most one candidate in a term, also across a crash and restart: a vote it gave is on stable storage before it answers.',
    source: 'Raft paper, Figure 2 (persistent state: votedFor) and §5.2',
  },
  commit_never_decreases: {
    id: 'commit_never_decreases',
    name: 'Commit only moves forward',
    statement: "A peer's commit index never decreases while the process runs.",
    source: 'Raft paper, Figure 2 (volatile state: commitIndex, increases monotonically)',
  },
  durable_log: {
    id: 'durable_log',
    name: 'Durable means durable',
    statement:
      'A restarted peer recovers every write it reported durable before the crash, and every entry it knew committed, unless its data directory was replaced on purpose.',
    source: 'Raft paper, Figure 2 (persistent state: log[]) and §5.4',
  },
};

/** One event that a violation rests on: which peer said it, its place in that peer's stream, and what it said. */
export type Evidence = LawEvidence;

export interface Violation {
  law: LawId;
  /** The law in plain words (LAWS[law].statement). */
  statement: string;
  /** What was seen, in one sentence. */
  message: string;
  peers: string[];
  indexes: number[];
  terms: number[];
  evidence: Evidence[];
  /** When the monitor saw it (the `now` given to observe). */
  at: number;
}
