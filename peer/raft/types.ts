// The Raft core's inputs and outputs. The core imports nothing from Node: no fs, net or timers.
// Everything it needs from the world (time, randomness) is passed in; everything it wants done
// (persist, send, apply, report) comes back in a Ready batch.

export type PeerId = string;

/**
 * A log entry. `data` is opaque to the core: the state machine's JSON-encoded command, or
 * null for the no-op a new leader appends at the start of its term (dissertation §6.4).
 */
export interface Entry {
  index: number;
  term: number;
  data: string | null;
  /**
   * A configuration entry (dissertation §4.1): the whole new configuration, in force on every
   * peer from the moment the entry is in its log, committed or not. `data` is null then.
   */
  conf?: Config;
}

/** Who votes and who only receives the log (a learner, catching up before it votes, §4.2.1). */
export interface Config {
  voters: PeerId[];
  learners: PeerId[];
}

/** One single-server change (dissertation §4.1), proposed with RaftNode.proposeConfChange(). */
export interface ConfChange {
  op: 'add_learner' | 'promote' | 'remove';
  peer: PeerId;
}

/** State that must be on stable storage before the peer answers an RPC (Figure 2, "Persistent state"). */
export interface HardState {
  term: number;
  vote: PeerId | null;
  /** Persisting commit is optional (it can be recomputed) but lets a restarted peer apply sooner. */
  commit: number;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

// ---- Messages between peers (Figure 2 RPCs, plus PreVote and TimeoutNow) ----

export interface RequestVote {
  type: 'request_vote';
  from: PeerId;
  to: PeerId;
  term: number; // for a pre-vote: the term the candidate would campaign in
  lastLogIndex: number;
  lastLogTerm: number;
  preVote: boolean;
  /**
   * An explicit election (campaign(), TimeoutNow): receivers grant it even while they still hear
   * from a leader (the leader-stickiness rule of dissertation §4.2.3 does not apply).
   * Optional: absent means false.
   */
  force?: boolean;
}

export interface RequestVoteReply {
  type: 'request_vote_reply';
  from: PeerId;
  to: PeerId;
  term: number;
  granted: boolean;
  preVote: boolean;
}

export interface AppendEntries {
  type: 'append_entries';
  from: PeerId;
  to: PeerId;
  term: number;
  prevLogIndex: number;
  prevLogTerm: number;
  entries: Entry[];
  leaderCommit: number;
  /** ReadIndex round: echoed in the reply so the leader can confirm it still leads (§6.4). */
  readSeq?: number;
}

export interface AppendEntriesReply {
  type: 'append_entries_reply';
  from: PeerId;
  to: PeerId;
  term: number;
  success: boolean;
  /**
   * On success: the index of the last entry known to match the leader's log.
   * On failure: the prevLogIndex that was rejected (lets the leader ignore stale rejections).
   */
  matchIndex: number;
  /** On failure: fast backtracking hints (§5.3, "optimization"). */
  conflictIndex?: number;
  conflictTerm?: number;
  readSeq?: number;
}

/** Sent by a leader to make a follower campaign at once (dissertation §3.10, leadership transfer). */
export interface TimeoutNow {
  type: 'timeout_now';
  from: PeerId;
  to: PeerId;
  term: number;
}

export type Message = RequestVote | RequestVoteReply | AppendEntries | AppendEntriesReply | TimeoutNow;
export type MessageType = Message['type'];

// ---- Snapshots (dissertation ch. 5) ----

/**
 * The state machine as of a log index: `data` is opaque to the core (the shell's encoding of its
 * store and sessions); `index` and `term` are those of the last entry it includes.
 */
export interface Snapshot {
  index: number;
  term: number;
  data: string;
  /** The configuration as of `index` (the log before it is gone). */
  config: Config;
}

/**
 * Paper §7, InstallSnapshot: a leader sends its snapshot to a follower that needs entries the
 * leader has compacted away, in chunks of at most maxBytesPerAppend characters of `data`.
 */
export interface InstallSnapshot {
  type: 'install_snapshot';
  from: PeerId;
  to: PeerId;
  term: number;
  /** The snapshot's last included index and term. */
  snapshotIndex: number;
  snapshotTerm: number;
  /** The configuration as of the snapshot's last index (dissertation §4.1, §5.1). */
  snapshotConfig: Config;
  /** Where this chunk starts in the snapshot's data, and the data's total length. */
  offset: number;
  size: number;
  data: string;
}

export interface InstallSnapshotReply {
  type: 'install_snapshot_reply';
  from: PeerId;
  to: PeerId;
  term: number;
  snapshotIndex: number;
  /** How much of that snapshot's data the follower holds: the leader continues from there. */
  offset: number;
  /**
   * Non-zero once the follower's log matches the leader's through this index: the snapshot is
   * installed, or the follower had committed past it already (a stale or duplicate snapshot).
   */
  matchIndex: number;
}

export type SnapshotMessage = InstallSnapshot | InstallSnapshotReply;
/** Every message the core takes in step(). */
export type RaftMessage = Message | SnapshotMessage;

// ---- Outputs ----

/** A linearizable read that may now be served: apply up to `index`, then read. */
export interface ReadState {
  ctx: string;
  index: number;
}

/** A read that cannot be served by this peer (it is not the leader, or lost leadership). */
export interface ReadFailure {
  ctx: string;
  leader: PeerId | null;
}

/** What the core did, for logs and the village. */
export type CoreEvent =
  | { kind: 'role'; role: Role; term: number; leader: PeerId | null }
  | { kind: 'term'; term: number }
  | { kind: 'vote'; term: number; vote: PeerId }
  | { kind: 'vote_granted'; from: PeerId; term: number; preVote: boolean; votes: number; needed: number }
  | { kind: 'append'; from: number; to: number; term: number }
  | { kind: 'truncate'; from: number }
  | { kind: 'commit'; index: number }
  | { kind: 'election_deadline'; at: number }
  | { kind: 'leader_change'; leader: PeerId | null; term: number }
  | { kind: 'step_down'; reason: string; term: number };

/**
 * One batch of work for the shell, in the order it must be done:
 * 0. `early` may be sent at once, before the save (and should be: the followers' fsyncs then run
 *    in parallel with the leader's own, dissertation §10.2.1);
 * 1. persist `hardState` (if set) and `entries` (if any) with one fsync,
 *    where an entry whose index is at or below the stored last index replaces that entry
 *    and everything after it; then report the save with RaftNode.persisted() (Readies in the
 *    order taken; several may be saved and reported together);
 * 2. send `messages`, never before the save of this Ready and of every Ready before it: a vote
 *    or an acknowledgement must not claim more than the disk holds;
 * 3. apply `committed` in order, and serve `readStates` once applied through their index.
 *
 * Snapshots (dissertation ch. 5): `snapshot`, when set, is persisted in step 1 before the hard
 * state and entries (written aside, made durable, then put in place). With `restore` it is one
 * the leader installed here: the disk log is kept only if it holds the snapshot's last entry
 * (index and term), otherwise it is discarded (§7), and the state machine is replaced by the
 * snapshot before `committed` is applied. The core counts the snapshot durable once persisted()
 * reports this Ready. `compact`, when non-zero, lets the shell drop its durable log through that
 * index, at any time after taking the Ready: the core hands it out only after the snapshot
 * covering it was reported durable, so a crash never leaves a gap between snapshot and log.
 */
export interface Ready {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
  restore: boolean;
  compact: number;
  /** A leader's AppendEntries, in a term whose term and vote are on disk already. */
  early: Message[];
  messages: Message[];
  /** InstallSnapshot and its replies: sent like `messages`, after the save. */
  snapshotMessages: SnapshotMessage[];
  committed: Entry[];
  readStates: ReadState[];
  readFailures: ReadFailure[];
  events: CoreEvent[];
}

export interface RaftOptions {
  id: PeerId;
  /**
   * The initial voters (this peer among them, unless it joins as a learner or is outside the
   * configuration). Configuration entries in the log, and a snapshot's configuration, override it.
   */
  peers: PeerId[];
  /** The initial learners; default none. A peer joining a running cluster lists itself here. */
  learners?: PeerId[];
  /**
   * Every peer that may ever be a member (the names of raft_peer.ini); messages from anyone else
   * are ignored. Default: peers and learners.
   */
  allPeers?: PeerId[];
  heartbeatMs: number;
  electionMinMs: number;
  electionMaxMs: number;
  /** Uniform in [0, 1). Injected so that a seeded simulator can replay a run exactly. */
  random: () => number;
  maxEntriesPerAppend: number;
  maxBytesPerAppend: number;
  maxInflightAppends: number;
  preVote: boolean;
  checkQuorum: boolean;
  /**
   * Log compaction: how many entries at and before a snapshot's index stay in the log once the
   * snapshot is durable, so that a follower slightly behind still gets AppendEntries rather
   * than the whole snapshot. Default 0.
   */
  snapshotTrailingEntries?: number;
  /**
   * Test only: plant a known bug so that tests can prove the simulator and the safety monitor
   * catch it. One registry (PLANTED_BUGS) for the simulator and the real peer, which takes the
   * name from RAFT_PLANT_BUG (peer/planted.ts).
   * 'commit_previous_term': count replicas of entries from earlier terms for commit (breaks §5.4.2).
   * 'double_vote': grant a second vote in the same term (breaks §5.2, Election Safety).
   * 'count_self_before_durable': the leader counts its own entries toward commitment as soon as
   * they are appended, not once persisted() reports them on disk (an entry can then be committed
   * with fewer than a majority of durable copies).
   * 'cut_log_before_snapshot_durable': compact the log (and ask the shell to cut its durable log)
   * as soon as a snapshot is taken, in the same Ready that carries the snapshot to disk.
   * 'install_stale_snapshot': a follower installs a snapshot at or below its commit index,
   * moving its state machine back.
   * 'two_changes_in_flight': a leader accepts a configuration change while another is uncommitted.
   * 'count_old_config_votes': a candidate also asks, and counts, the voters of the initial
   * configuration after they were removed.
   * 'forget_vote_on_restart': the vote is not kept across a restart: it is dropped from the
   * recovered hard state (plantRecovered in peer/planted.ts, used by the shell and the
   * simulator), so a restarted peer may vote again in a term it already voted in. The core
   * itself ignores it.
   * 'apply_uncommitted': Ready.committed carries every entry in the log, committed or not, so
   * the state machine applies entries that may later be replaced (State Machine Safety).
   * 'truncate_committed': a follower takes every AppendEntries as the end of its log: it deletes
   * the entries after the append's last one even when they match, committed ones included (a
   * stale append, such as a heartbeat at a match index the leader has not updated yet, then cuts
   * off entries it acknowledged), and it overwrites conflicting entries at or below its commit
   * index. Such a follower can then win an election without committed entries (§5.4).
   * Off unless a test or RAFT_PLANT_BUG (for testing the monitor) asks for it.
   */
  plantBug?: PlantedBug | undefined;
}

export const PLANTED_BUGS = [
  'commit_previous_term',
  'double_vote',
  'count_self_before_durable',
  'cut_log_before_snapshot_durable',
  'install_stale_snapshot',
  'two_changes_in_flight',
  'count_old_config_votes',
  'forget_vote_on_restart',
  'apply_uncommitted',
  'truncate_committed',
] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

/** A cheap snapshot of a node's state (RaftNode.status()). */
export interface NodeStatus {
  id: PeerId;
  role: Role;
  term: number;
  vote: PeerId | null;
  leader: PeerId | null;
  commitIndex: number;
  lastIndex: number;
  lastTerm: number;
  /** When (in the caller's clock, ms) this node starts an election if it hears nothing; null for a leader. */
  electionDeadline: number | null;
}

/** The leader's view of one follower's replication (RaftNode.progress()). */
export interface FollowerProgress {
  peer: PeerId;
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  inflight: number;
  /** Heard from within the current CheckQuorum interval. */
  recentActive: boolean;
}

/** What a peer had on stable storage when it started. */
export interface PersistedState {
  hardState: HardState;
  /**
   * The newest durable snapshot, if any. `entries` then continue it: they may start at or before
   * its index + 1 (trailing entries kept), and are discarded if they do not hold its last entry.
   */
  snapshot?: Snapshot;
  entries: Entry[];
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; leader: PeerId | null };

export type ConfChangeResult = ProposeResult | { ok: false; leader: PeerId | null; reason: string };
