// The relay <-> browser protocol on ws://RELAY/village. One JSON object per text frame.
// A browser first gets a `snapshot` (the whole picture, every peer's log tail included), then
// `batch` frames of deltas. A `peer` delta carries the peer's fields and only what changed in
// its log since the previous delta (a LogChange), so a log of hundreds of tiles is sent once,
// not on every batch.
import type { LogStart, LogTile, PeerEvent, PeerRole } from './events.ts';
import type { Membership } from './membership.ts';
import type { Timing } from './config.ts';
import type { ClockView } from './village-clock.ts';
import type { FollowerStatus, LogWindow, PeerStatus, StatusLog } from './peer-protocol.ts';

/** The relay's latest picture of one peer. */
export interface PeerView {
  name: string;
  /** Process state as the launcher (or the peer's own connection) tells it. */
  process: 'up' | 'down' | 'unknown';
  pid: number | null;
  /** Whether the peer's -v event stream is connected to the relay. */
  reporting: boolean;
  role: PeerRole;
  term: number;
  vote: string | null;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  lastTerm: number;
  electionDeadline: number | null;
  /** The peer's log, as the village draws it (the relay keeps the last few hundred tiles). */
  log: LogTile[];
  blocked: string[];
  dropRate: number;
  latencyMs: number;
  reporterDropped: number;
  /** The configuration in force on this peer (its last `config` or `resync`); absent until it tells one. */
  config?: Membership;
  /** Where its log begins once it has a snapshot (entries through snapshotIndex are compacted); absent before. */
  logStart?: LogStart;
}

/** A peer the relay has not heard from yet: every field at its starting value. */
export function emptyPeerView(name: string): PeerView {
  return {
    name,
    process: 'unknown',
    pid: null,
    reporting: false,
    role: 'follower',
    term: 0,
    vote: null,
    leader: null,
    commitIndex: 0,
    appliedIndex: 0,
    lastIndex: 0,
    lastTerm: 0,
    electionDeadline: null,
    log: [],
    blocked: [],
    dropRate: 0,
    latencyMs: 0,
    reporterDropped: 0,
  };
}

/** A peer's view without its log: what every `peer` delta carries in full. */
export type PeerFields = Omit<PeerView, 'log'>;

/**
 * How a peer's log changed since the previous `peer` delta (or the snapshot). Applied to the
 * tiles the browser holds, in this order:
 *   1. drop every tile with index >= `from` (a truncation, an overwrite, or the first appended index);
 *   2. append `tiles` (ascending index, all >= `from`);
 *   3. drop every tile with index < `start`: the relay's log now begins at `start` (it keeps
 *      only the tail); null when the relay's log is empty.
 * The result is exactly the relay's log. Applying the same change twice gives the same log, so
 * a delta that follows a snapshot already holding it does no harm.
 */
export interface LogChange {
  from: number;
  tiles: LogTile[];
  start: number | null;
}

/**
 * What the relay's safety monitor (game/relay/monitor/) says about the laws of Raft, from the
 * peers' events: the `laws` part of the picture. Every law has held so far while
 * `violationCount` is 0; a check that could not be made is never counted.
 */
export interface LawsView {
  /** Events the monitor took in. */
  eventsSeen: number;
  /** Events that took part in at least one check that could have failed. */
  eventsChecked: number;
  /** Every violation seen; `violations` lists the first MAX_LAW_VIOLATIONS of them. */
  violationCount: number;
  violations: LawViolation[];
  /** Peers for which the checks that need every one of their events are off, and why. */
  blind: LawBlind[];
}

/** The laws part without the violations: what a `laws` delta carries in full. */
export type LawsStatus = Omit<LawsView, 'violations'>;

/** The violations the picture lists (more are counted in violationCount). */
export const MAX_LAW_VIOLATIONS = 20;

export interface LawBlind {
  peer: string;
  /** The first event of the peer's current process the monitor did not see (or cannot vouch for). */
  sinceSeq: number;
  reason: string;
  /** False when the peer's events carry no seq at all: it sends none of the fields the monitor reads. */
  numbered: boolean;
}

/** One event a violation rests on. */
export interface LawEvidence {
  peer: string;
  /** Its place in the peer's stream (null when the peer's events carry no seq). */
  seq: number | null;
  /** The peer process (hello.boot) it came from, when known. */
  boot: string | null;
  type: string;
  /** When it happened on the peer (wall ms). */
  t: number;
  /** What the event said that matters here. */
  said: string;
}

export interface LawViolation {
  /** 1 for the first violation the relay saw, then 2, ...: a delta adds only numbers above those held. */
  n: number;
  /** The law's id (game/relay/monitor/laws.ts), e.g. `election_safety`. */
  law: string;
  /** Its name: "Election Safety". */
  name: string;
  /** The law in plain words. */
  statement: string;
  /** What was seen, in one sentence. */
  message: string;
  /** The peers involved, and the log indexes and terms the evidence is about. */
  peers: string[];
  indexes: number[];
  terms: number[];
  evidence: LawEvidence[];
  /** When the relay saw it (wall ms). */
  at: number;
  /** The file the relay wrote the evidence to, or null if it could not. */
  file: string | null;
}

/** The laws part of a relay that has not seen an event yet. */
export function emptyLaws(): LawsView {
  return { eventsSeen: 0, eventsChecked: 0, violationCount: 0, violations: [], blind: [] };
}

export interface VillagePicture {
  peers: PeerView[];
  /** The key-value store as the most advanced peer has applied it. */
  kv: Record<string, unknown>;
  attacks: boolean;
  /** When the monster next strikes (wall ms), null when attacks are off. */
  nextAttackAt: number | null;
  reviveAfterS: number;
  timing: Timing | null;
  profile: string | null;
  counters: { elections: number; messages: number; droppedEvents: number };
  /** Whether the cluster launcher is connected (kill and revive need it). */
  launcher: boolean;
  /** The safety monitor's verdict so far (absent from relays without a monitor). */
  laws?: LawsView;
  /** The village clock (absent from relays without one): paused, speed, who paused. */
  clock?: ClockView;
}

/**
 * How a console line reads: `input` a line someone typed in a console, as typed (the page shows
 * it as `> line`); `result` and `error` its outcome; `event` what happened in the village;
 * `info` anything else.
 */
export type ConsoleLevel = 'info' | 'input' | 'result' | 'error' | 'event';

export type Delta =
  /**
   * A peer event, for animation. AppendEntries letters (rpc_send, rpc_recv, rpc_drop, and those
   * of the replies) are sampled under load: `more`, when present, is how many other RPCs of the
   * batch between the same two peers, of the same kind, heartbeat flag and outcome, sent or
   * dropped alike, this one stands for; their events are not sent (game/relay/letter-sampler.ts).
   */
  | { type: 'event'; event: PeerEvent; more?: number }
  /**
   * A peer's fields (all of them, current) and, when its log changed, how. `peer.log`, when
   * present (older relays, test stand-ins), replaces the whole log instead. A name the browser
   * has not seen adds a villager (its log starts empty before `log` is applied).
   */
  | { type: 'peer'; peer: PeerFields & { log?: LogTile[] }; log?: LogChange }
  /** The board's new value for key; `deleted` when the key was removed (value is then null). */
  | { type: 'kv'; key: string; value: unknown; deleted?: boolean }
  | { type: 'attacks'; on: boolean; nextAttackAt: number | null }
  /** `hunt`: the monster walks to the victim; `at` is when the strike is due (relay wall ms). */
  | { type: 'monster'; action: 'hunt' | 'strike'; victim: string; at?: number }
  | { type: 'counters'; counters: VillagePicture['counters'] }
  | { type: 'launcher'; connected: boolean }
  /**
   * The safety monitor's counts and blind peers, current (at most a few a second, not one per
   * event), and the violations found since the previous `laws` delta (each with its number `n`).
   */
  | { type: 'laws'; laws: LawsStatus; violations: LawViolation[] }
  /** A console line; `at` is when the relay wrote it (wall ms), so replayed history keeps its times. */
  | { type: 'console'; line: string; level: ConsoleLevel; at?: number }
  /** The village clock changed (paused, resumed, speed, a step, who cannot be paused). */
  | { type: 'clock'; clock: ClockView };

export type RelayToBrowser =
  | { type: 'snapshot'; now: number; picture: VillagePicture }
  | { type: 'batch'; now: number; deltas: Delta[] }
  /** The reply to a BrowserToRelay that carried an id. */
  | { type: 'reply'; id: string; ok: boolean; text: string; value?: unknown };

export type BrowserToRelay = { id?: string } & (
  | { type: 'kill'; peer: string }
  | { type: 'revive'; peer: string }
  | { type: 'isolate'; peer: string }
  | { type: 'heal' }
  | { type: 'campaign'; peer: string }
  | { type: 'attacks'; on: boolean }
  /** A line typed in the web console, as typed: `x add 100`, `kill peer2`, `status`. */
  | { type: 'console'; line: string }
  /** What a lesson asks of one villager (game/relay/lessons.ts). */
  | LessonRequest
  /** The village clock: pause, resume, step (while paused), set the speed (0.05..1), or drop the held letter `rid` (while paused). */
  | { type: 'clock'; action: 'pause' | 'resume' | 'step' | 'speed' | 'drop'; speed?: number; rid?: string }
  /**
   * Look inside a peer: the relay asks its /admin for a status with a window of its log (default
   * the last DEFAULT_INSPECT_ENTRIES) and a leader's progress, and replies with it as `value`
   * (an InspectView). Reading only: a watch-only connection may ask too.
   */
  | { type: 'inspect'; peer: string; log?: LogWindow }
);

/** How many of a peer's last log entries an `inspect` without `log` asks for. */
export const DEFAULT_INSPECT_ENTRIES = 50;

/** The value of an `inspect` reply: the peer's /admin status, its log window and progress included. */
export type InspectView = PeerStatus & { log: StatusLog; progress: FollowerStatus[] | null };

/**
 * A lesson's look at one villager: `peek` reads its own key-value store through /admin
 * (status with kv), the store as that villager has applied it, stale or not; `request` sends one
 * command of the client contract to that villager only (no leader search, no retry), with the
 * session fields when given, and replies with the peer's command_result as it came. With
 * `cutOff`, the villager is first made to drop all traffic with those peers (its own faults,
 * as an isolation does), in the same turn, so that the command reaches a leader cut off from
 * them before it can notice (CheckQuorum) and step down.
 */
export type LessonRequest =
  | { type: 'lesson'; op: 'peek'; peer: string }
  | { type: 'lesson'; op: 'request'; peer: string; command: string[]; client?: string; seq?: number; timeoutMs?: number; cutOff?: string[] };

/** The relay injects `<meta name="village-token" content="...">` into the page it serves. */
export const VILLAGE_TOKEN_META = 'village-token';
/** Browsers connect to `/village?token=...`; without the token the connection is read-only. */
export const VILLAGE_TOKEN_PARAM = 'token';
