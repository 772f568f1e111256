// What flows between peers (-v), the cluster launcher, the relay and browsers.
// One JSON object per WebSocket text frame. The relay listens on [relay] host:port with paths:
//   /peer      peers started with -v send PeerEvent frames (the first is `hello`)
//   /launcher  the cluster launcher: LauncherReport up, LauncherCommand down
//   /village   browsers: RelayToBrowser down, BrowserToRelay up
import type { Timing } from './config.ts';

export type RpcKind = 'request_vote' | 'request_vote_reply' | 'append_entries' | 'append_entries_reply' | 'timeout_now';
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
  /** request_vote_reply.granted / append_entries_reply.success */
  ok?: boolean;
}

interface Base {
  peer: string;
  /** Wall clock, ms since the epoch, when it happened on the peer. */
  t: number;
}

export interface LogTile {
  index: number;
  term: number;
  /** 'noop', or the command as the user would type it: 'x add 100'. */
  label: string;
}

export type PeerEvent = Base &
  (
    | { type: 'hello'; pid: number; cluster: string[]; profile: string; timing: Timing }
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
      }
    | ({ type: 'rpc_send'; to: string } & RpcSummary)
    | ({ type: 'rpc_recv'; from: string } & RpcSummary)
    | ({ type: 'rpc_drop'; to: string; reason: 'blocked' | 'dropped' | 'disconnected' } & RpcSummary)
    | { type: 'log_append'; entries: LogTile[] }
    | { type: 'log_truncate'; from: number }
    | { type: 'commit'; index: number }
    /** The entries one turn applied, in index order (one event per batch, not per entry). */
    | { type: 'apply'; entries: AppliedEntry[] }
    | { type: 'faults'; blocked: string[]; dropRate: number; latencyMs: number }
    /** The reporter's bounded queue overflowed: this many events were not sent. */
    | { type: 'reporter_dropped'; count: number }
  );

export type PeerEventType = PeerEvent['type'];

/** One applied log entry: its command (null for a no-op), the outcome, and the key's value after. */
export interface AppliedEntry {
  index: number;
  term: number;
  command: string[] | null;
  ok: boolean;
  result: unknown;
  key: string | null;
  value: unknown;
}

// ---- launcher <-> relay ----

export type LauncherReport =
  | { type: 'launcher_hello'; peers: string[]; profile: string }
  | { type: 'process'; peer: string; pid: number | null; alive: boolean; exitCode: number | null; signal: string | null };

export type LauncherCommand = { type: 'kill'; peer: string } | { type: 'revive'; peer: string };
