// What flows between peers (-v), the cluster launcher, the relay and browsers.
// One JSON object per WebSocket text frame. The relay listens on [relay] host:port with paths:
//   /peer      peers started with -v send PeerEvent frames (the first is `hello`)
//   /launcher  the cluster launcher: LauncherReport up, LauncherCommand down
//   /village   browsers: RelayToBrowser down, BrowserToRelay up
import type { Timing } from './config.ts';
import type { Membership, MembershipResult } from './membership.ts';
import type { ClockReport } from './village-clock.ts';

export type RpcKind =
  | 'request_vote'
  | 'request_vote_reply'
  | 'append_entries'
  | 'append_entries_reply'
  | 'timeout_now'
  | 'install_snapshot'
  | 'install_snapshot_reply';
export type PeerRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** A short description of an RPC for drawing a letter and writing a log line. */
export interface RpcSummary {
  /** Unique per sender: `${from}:${n}`. The sender's rpc_send and the receiver's rpc_recv carry the same rid. */
  rid: string;
  rpc: RpcKind;
  term: number;
  /** AppendEntries with no entries (and its reply). Drawn lighter. */
  heartbeat: boolean;
  /** Number of entries carried (AppendEntries). */
  entries: number;
  preVote?: boolean;
  /** request_vote_reply.granted / append_entries_reply.success / install_snapshot_reply: the snapshot is installed (matchIndex > 0) */
  ok?: boolean;
  // What the letter says, in small numbers (the entries themselves are fetched on demand over
  // /admin: they are prevLogIndex + 1 .. prevLogIndex + entries of the sender's log).
  /** RequestVote: the candidate's last log entry (§5.4.1). */
  lastLogIndex?: number;
  lastLogTerm?: number;
  /** AppendEntries: the entry just before the new ones, and the leader's commitIndex. */
  prevLogIndex?: number;
  prevLogTerm?: number;
  leaderCommit?: number;
  /** AppendEntries reply: the follower's match (on success) or its hint (on refusal). */
  matchIndex?: number;
  /** AppendEntries refusal: where the logs first differ (fast backtracking), when known. */
  conflictIndex?: number;
  conflictTerm?: number;
  /**
   * install_snapshot and its reply: which snapshot (its last index), where the chunk starts (for
   * a reply: how much the follower holds), how many characters it carries (0 in a reply) and the
   * snapshot's whole size. Never the data itself.
   */
  chunk?: SnapshotChunk;
}

/** Where a peer's log begins: entries before `firstIndex` are in its snapshot (last index and term). */
export interface LogStart {
  firstIndex: number;
  snapshotIndex: number;
  snapshotTerm: number;
}

export interface SnapshotChunk {
  index: number;
  offset: number;
  bytes: number;
  size: number;
}

interface Base {
  peer: string;
  /** Wall clock, ms since the epoch, when it happened on the peer. */
  t: number;
  /**
   * Per process lifetime, for readers that must know nothing is missing (the safety monitor).
   * Counted events (all but `hello`, `state` and `resync`) carry 0, 1, 2, ... in the order the
   * peer emitted them, numbered when emitted, before the reporter's queue: an event the reporter
   * had to drop (full queue, relay down) leaves a hole. `hello`, `state` and `resync` are
   * snapshots (a newer `state` may replace an unsent one): they are not counted and carry the
   * seq the next counted event will have. Optional until every peer sends it.
   */
  seq?: number;
}

export interface LogTile {
  index: number;
  term: number;
  /** 'noop', or the command as the user would type it: 'x add 100'. */
  label: string;
  /** Prefix hash through this entry (shared/log-hash.ts): ph(index) of the peer's log. */
  ph?: number;
}

/** One entry of a log named by its position and its prefix hash (shared/log-hash.ts). */
export interface LogPoint {
  index: number;
  term: number;
  /** Prefix hash through this entry; ph(0) = EMPTY_PREFIX. */
  ph: number;
}

/**
 * What a peer holds on stable storage after a durable write (or what it recovered at start).
 * `w` numbers the peer's durable writes: it grows with every write, survives restarts and the
 * log file's rewrites, and only a write nobody was told about (a torn tail) can lose its number.
 */
export interface DurableLog {
  w: number;
  term: number;
  vote: string | null;
  /** The last entry on disk (0, 0, EMPTY_PREFIX for an empty log). */
  lastIndex: number;
  lastTerm: number;
  lastPh: number;
}

/** What a starting peer recovered from its data directory (sent in every `hello`). */
export interface Recovered extends DurableLog {
  /** The commit index the peer starts with (it may lag: commit is not always fsynced). */
  commit: number;
  /** Prefix hash through `commit`. */
  commitPh: number;
  /** The snapshot the log starts after; null without one. */
  base: LogPoint | null;
}

export type PeerEvent = Base &
  (
    | {
        type: 'hello';
        pid: number;
        cluster: string[];
        profile: string;
        timing: Timing;
        /** Random, new for every process start: a new boot is a new lifetime (seq starts over). */
        boot?: string;
        /** Random, created with the data directory and kept in it: a new one means a new, empty directory, on purpose. */
        dataId?: string;
        /** The durable state this process started from (the same in every hello of one boot). */
        recovered?: Recovered;
      }
    | {
        type: 'state';
        role: PeerRole;
        term: number;
        vote: string | null;
        leader: string | null;
        commitIndex: number;
        appliedIndex: number;
        lastIndex: number;
        lastTerm: number;
        /** Wall clock ms at which this peer starts an election if it hears nothing; null for a leader. */
        electionDeadline: number | null;
        /**
         * The same deadline as a duration: ms from this event until the election (null for a leader).
         * Machines' clocks differ, so the relay draws timers from this, on its own clock.
         */
        electionInMs?: number | null;
        /** Where the log begins: present once the peer has a snapshot. */
        log?: LogStart;
      }
    | ({ type: 'rpc_send'; to: string } & RpcSummary)
    | ({ type: 'rpc_recv'; from: string } & RpcSummary)
    | ({ type: 'rpc_drop'; to: string; reason: 'blocked' | 'dropped' | 'disconnected' } & RpcSummary)
    | {
        type: 'log_append';
        entries: LogTile[];
        /**
         * The durable write that added the tiles, when they are its whole news: its number and the
         * hard state it wrote. It stands for the `persisted` that would follow (the log ends at the
         * last tile), one event instead of two per save.
         */
        durable?: { w: number; term: number; vote: string | null };
      }
    | {
        type: 'log_truncate';
        from: number;
        /** The peer's term in the durable write that removed the entries. */
        term?: number;
      }
    | {
        type: 'commit';
        index: number;
        /** The peer's current term when it reports the commit: the entries were committed in this term or earlier. */
        term?: number;
        /** Prefix hash through `index`. */
        ph?: number;
      }
    /** The entries one turn applied, in index order (one event per batch, not per entry). */
    | { type: 'apply'; entries: AppliedEntry[] }
    | { type: 'faults'; blocked: string[]; dropRate: number; latencyMs: number }
    /**
     * The configuration in force on this peer (dissertation §4.1: the latest in its log, committed
     * or not) changed, or is told for the first time after `hello`: its voters and learners. A
     * peer of the ini in neither list is not a member (a newcomer not added yet, or a leaver).
     */
    | ({ type: 'config' } & Membership)
    /** The reporter's bounded queue overflowed: this many events were not sent. */
    | { type: 'reporter_dropped'; count: number }
    /** A durable write completed (after its log_truncate / log_append): what is on disk now. */
    | ({ type: 'persisted' } & DurableLog)
    /**
     * The log now starts after a snapshot: `compacted` (the peer's own entries through `index`
     * were folded into a snapshot) or `installed` (a leader's snapshot replaced the log; entries
     * after it are kept only if they match). The log's last index is `lastIndex` afterwards.
     */
    | ({ type: 'snapshot'; reason: 'compacted' | 'installed'; lastIndex: number } & LogPoint)
    /**
     * A full state, sent after `hello` on every connection and after events were lost: a reader
     * that missed events starts over from it. Role, term, vote, leader and commit are the core's
     * now (like `state`); the log (`last*`, `base`, `tail`) is what log_truncate / log_append have
     * described so far, i.e. the durable log; `durable` is the last durable write.
     */
    | {
        type: 'resync';
        role: PeerRole;
        term: number;
        vote: string | null;
        leader: string | null;
        commit: number;
        commitPh: number;
        lastIndex: number;
        lastTerm: number;
        lastPh: number;
        base: LogPoint | null;
        /** The last durable write: its number and the term and vote it holds (its log is `last*`). */
        durable: { w: number; term: number; vote: string | null };
        /** The last entries of the log (the reporter's tail of tiles, each with `ph`), in index order. */
        tail: LogTile[];
        /** The configuration in force (as in `config`); absent from peers that do not send it. */
        config?: Membership;
      }
    /** A peer on the village clock: its clock, the letters it holds and its timer (shared/village-clock.ts). */
    | ({ type: 'clock' } & ClockReport)
  );

export type PeerEventType = PeerEvent['type'];

/** One applied log entry: its command (null for a no-op), the outcome, and the key's value after. */
export interface AppliedEntry {
  index: number;
  term: number;
  /** entryHash(Entry.data) (shared/log-hash.ts): tells apart two entries with the same words. */
  h?: number;
  command: string[] | null;
  ok: boolean;
  result: unknown;
  key: string | null;
  value: unknown;
}

// ---- launcher <-> relay ----

export type LauncherReport =
  /**
   * peers: the cluster's members (the latest configuration the launcher knows; sent again after a
   * join or leave); runs: the peers this launcher runs or may start for a join (one launcher per
   * machine), all of `peers` when absent.
   */
  | { type: 'launcher_hello'; peers: string[]; profile: string; runs?: string[] }
  | { type: 'process'; peer: string; pid: number | null; alive: boolean; exitCode: number | null; signal: string | null }
  /** The outcome of a join or leave the relay asked for (shared/membership.ts). */
  | { type: 'membership'; result: MembershipResult };

/** join: start the peer's process (as a newcomer) and ask the leader to add it; leave: ask the leader to remove it. */
export type LauncherCommand = { type: 'kill'; peer: string } | { type: 'revive'; peer: string } | { type: 'join'; peer: string } | { type: 'leave'; peer: string };
