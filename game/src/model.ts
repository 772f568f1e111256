// The village as plain data: built only from what the relay says (snapshot, then batches of
// deltas), with no canvas and no timers, so it can be unit-tested and every scene can draw it.
//
// State comes from the relay's picture: the snapshot, then `peer` deltas that carry a peer's
// current fields and how its log changed (a LogChange: the new tiles, where the log was cut,
// where it now begins), which gives exactly the relay's view. Raw peer events only drive
// animation: letters in the air (paired by rid), the bubble of the last applied command.
//
// Time: the model never reads a clock. Every method that needs "now" takes the local wall
// clock (Date.now() in the browser). Times that come from the cluster (election deadlines,
// the next attack) are converted to local time with an offset learned from the relay's `now`
// on every frame, so a ring drawn from them drains in real time even if the browser's clock
// is a little off the relay's.
import type { LogStart, LogTile, PeerEvent, RpcKind } from '../../shared/events.ts';
import type { Membership } from '../../shared/membership.ts';
import type { Timing } from '../../shared/config.ts';
import { letterSays, type LetterSays } from '../../shared/letter-says.ts';
import {
  emptyPeerView,
  MAX_LAW_VIOLATIONS,
  type ConsoleLevel,
  type Delta,
  type LawBlind,
  type LawEvidence,
  type LawsView,
  type LawViolation,
  type LogChange,
  type PeerFields,
  type PeerView,
  type RelayToBrowser,
  type VillagePicture,
} from '../../shared/village.ts';

/** One villager: the relay's view of a peer plus what the browser derives from events. */
export interface Villager extends PeerView {
  /** Local ms at which this peer's election timer runs out (null: leader, dead, or unknown). */
  deadlineLocal: number | null;
  /** The last command this peer applied, for a short speech bubble. */
  lastApply: { index: number; label: string; result: string; ok: boolean; at: number } | null;
}

/** A letter in the air: one RPC between two peers. */
export interface Flight {
  rid: string;
  from: string;
  to: string;
  rpc: RpcKind;
  term: number;
  heartbeat: boolean;
  entries: number;
  preVote: boolean;
  ok: boolean | null;
  /** Local ms when the send (or, if the send was never heard, the receive) was heard of. */
  sentAt: number;
  /** Local ms of the receive event; null while in the air. */
  landedAt: number | null;
  /** Local ms when it was dropped (or given up on); null otherwise. */
  vanishedAt: number | null;
  vanishReason: 'blocked' | 'dropped' | 'disconnected' | 'lost' | null;
  /** What the letter says: its RPC's small numbers, as far as the events carry them (shared/letter-says.ts). */
  said: LetterSays;
  /**
   * How many other RPCs like it (same kind, sender and receiver) this letter stands for: under
   * load the relay sends only a sample of the letters (the event delta's `more`). 0 or absent: only itself.
   */
  more?: number;
}

/** A reader of the model's input (VillageModel.watchers). */
export interface ModelWatcher {
  event?(ev: PeerEvent, localNow: number): void;
  changed?(localNow: number): void;
}

export type MonsterAction = 'wander' | 'hunt' | 'strike';

export interface MonsterState {
  action: MonsterAction;
  victim: string | null;
  /** Local ms when the action was announced. */
  at: number;
  /** On a hunt: local ms when the strike is due, if the relay said. */
  strikeAt: number | null;
}

export interface ConsoleLine {
  seq: number;
  /** When it happened, on the local wall clock (ms). */
  at: number;
  level: ConsoleLevel;
  text: string;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface ConnectionInfo {
  state: ConnectionState;
  /** Local ms of the last change. */
  since: number;
  /** Failed attempts since the last open connection. */
  failures: number;
  /** Local ms of the next attempt while closed. */
  retryAt: number | null;
  error: string | null;
}

/** What a broken law points at: the villagers and the log tiles ("peer2:7") to highlight. */
export interface LawHighlight {
  villagers: ReadonlySet<string>;
  tiles: ReadonlySet<string>;
}

const NO_HIGHLIGHT: LawHighlight = { villagers: new Set(), tiles: new Set() };

/** What a villager looks like; the test hook reports it, the scene draws it. */
export type Look = 'leader' | 'candidate' | 'precandidate' | 'follower' | 'newcomer' | 'grave' | 'unreachable';

export const MAX_FLIGHTS = 400;
export const MAX_CONSOLE_LINES = 500;
/** How long a landed or vanished letter stays in the model (the scene animates the end). */
export const FLIGHT_LINGER_MS = 1000;
/** A letter not heard landing within this (at least) is given up as lost. */
export const FLIGHT_TIMEOUT_MS = 5000;

export class VillageModel {
  /** Peers by name, in the cluster's order. */
  readonly peers = new Map<string, Villager>();
  kv: Record<string, unknown> = {};
  /** Bumped whenever the board's contents change. */
  kvVersion = 0;
  attacks = false;
  /** Local ms of the monster's next strike; null when attacks are off or unknown. */
  nextAttackLocal: number | null = null;
  reviveAfterS = 0;
  timing: Timing | null = null;
  profile: string | null = null;
  counters: VillagePicture['counters'] = { elections: 0, messages: 0, droppedEvents: 0 };
  launcher = false;
  readonly flights = new Map<string, Flight>();
  monster: MonsterState = { action: 'wander', victim: null, at: 0, strikeAt: null };
  readonly console: ConsoleLine[] = [];
  connection: ConnectionInfo = { state: 'connecting', since: 0, failures: 0, retryAt: null, error: null };
  /** True once a snapshot arrived on the current connection. */
  hasPicture = false;
  /** Estimated local clock (village time, the one the model runs on) minus relay clock, ms. */
  clockOffset: number | null = null;
  /** Estimated wall clock minus relay clock, ms: for times of day shown (village time stands still in a pause). */
  wallOffset: number | null = null;
  /** Frames or deltas the model could not use (malformed), for diagnosis. */
  ignored = 0;
  /** Bumped on every change, so a view can skip work when nothing changed. */
  version = 0;
  /** The relay's safety monitor verdict; null when the relay sent none (it runs no monitor). */
  laws: LawsView | null = null;
  /**
   * Readers of the same stream beside the drawing (the lessons): each gets every peer event the
   * relay passes on, and a call after every message folded in. They must not change the model.
   */
  readonly watchers = new Set<ModelWatcher>();
  /** Violations the user dismissed (by number and time, so a restarted relay's new ones show). */
  private readonly dismissed = new Set<string>();
  private consoleSeq = 0;
  /** The wall clock when the frame being applied was heard. */
  private heardAt = 0;

  // ---- input ----

  /**
   * Applies one message from the relay. `localNow` is the time the model runs on (village time:
   * the local wall clock, but standing still while the village is paused); `wall` is the local
   * wall clock itself, for the times of day shown (the console's).
   */
  receive(msg: RelayToBrowser, localNow: number, wall = localNow): void {
    this.heardAt = wall;
    switch (msg.type) {
      case 'snapshot':
        this.learnClock(msg.now, localNow, wall);
        this.applySnapshot(msg.picture, localNow);
        break;
      case 'batch':
        this.learnClock(msg.now, localNow, wall);
        for (const d of msg.deltas) this.applyDelta(d, localNow);
        break;
      case 'reply':
        // Replies are routed to whoever sent the command (see connection.ts).
        break;
      default:
        this.ignored++;
    }
    this.version++;
    for (const w of this.watchers) w.changed?.(localNow);
  }

  setConnection(state: ConnectionState, localNow: number, opts: { error?: string | null; retryAt?: number | null } = {}): void {
    const prev = this.connection;
    const failures = state === 'open' ? 0 : state === 'closed' ? prev.failures + 1 : prev.failures;
    this.connection = { state, since: localNow, failures, retryAt: opts.retryAt ?? null, error: opts.error ?? null };
    if (state !== 'open') this.hasPicture = false;
    if (state === 'closed' && prev.state === 'open') this.addConsoleLine('event', 'lost the connection to the relay; reconnecting…', localNow);
    if (state === 'open' && prev.failures > 0) this.addConsoleLine('event', 'connected to the relay again', localNow);
    this.version++;
  }

  addConsoleLine(level: ConsoleLevel, text: string, localNow: number): void {
    this.console.push({ seq: ++this.consoleSeq, at: localNow, level, text });
    if (this.console.length > MAX_CONSOLE_LINES) this.console.splice(0, this.console.length - MAX_CONSOLE_LINES);
    this.version++;
  }

  /** Forgets letters that finished a while ago and gives up on those that never landed. */
  prune(localNow: number): void {
    const timeout = this.flightTimeoutMs();
    const linger = Math.max(FLIGHT_LINGER_MS, 2 * (this.timing?.latencyMs ?? 0));
    for (const [rid, f] of this.flights) {
      const end = f.landedAt ?? f.vanishedAt;
      if (end !== null) {
        if (localNow - end > linger) this.flights.delete(rid);
      } else if (localNow - f.sentAt > timeout) {
        // Given up when its timeout ran out, not when this was called: the picture of a moment
        // is then the same whatever the frame rate, and a rewound village can rebuild it exactly.
        f.vanishedAt = f.sentAt + timeout;
        f.vanishReason = 'lost';
      }
    }
  }

  // ---- derived views ----

  /** Names in the cluster's order. */
  names(): string[] {
    return [...this.peers.keys()];
  }

  lookOf(p: PeerView): Look {
    if (p.process === 'down') return 'grave';
    if (!p.reporting || !this.hasPicture) return 'unreachable';
    // A learner (joined, catching up, not voting yet) is a newcomer whatever its role says.
    if (this.isLearner(p.name)) return 'newcomer';
    switch (p.role) {
      case 'leader':
        return 'leader';
      case 'candidate':
        return 'candidate';
      case 'precandidate':
        return 'precandidate';
      default:
        return 'follower';
    }
  }

  /**
   * The configuration the village is in: the one the leader holds (the latest in its log), else
   * the one held by the reporting peer of the highest term; null before any peer told one.
   */
  membership(): Membership | null {
    let best: Villager | null = null;
    const rank = (v: Villager) => (v.role === 'leader' ? 1e12 : 0) + v.term;
    for (const p of this.peers.values()) {
      if (!p.config || !Array.isArray(p.config.learners) || p.process === 'down' || !p.reporting) continue;
      if (!best || rank(p) > rank(best)) best = p;
    }
    return best?.config ?? null;
  }

  /** Whether a villager is a learner of the village's configuration (drawn as a newcomer). */
  isLearner(name: string): boolean {
    return this.membership()?.learners.includes(name) ?? false;
  }

  /** Where a villager's log begins: the snapshot that holds its first entries, or null without one. */
  logStartOf(p: PeerView): LogStart | null {
    const s = p.logStart;
    return s && typeof s.snapshotIndex === 'number' && typeof s.snapshotTerm === 'number' && s.snapshotIndex > 0 ? s : null;
  }

  /** The leader everyone should follow: a living, reporting leader with the highest term. */
  leader(): Villager | null {
    let best: Villager | null = null;
    for (const p of this.peers.values()) {
      if (this.lookOf(p) !== 'leader') continue;
      if (!best || p.term > best.term) best = p;
    }
    return best;
  }

  /**
   * Links cut by a fault: every pair of living villagers where one refuses the other's letters,
   * each pair once, in the cluster's order ("peer1", "peer3"). An isolated villager is cut from
   * every other; a partition cuts the links across it.
   */
  cutLinks(): Array<[string, string]> {
    const names = this.names();
    const cut: Array<[string, string]> = [];
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        if (this.linkCut(names[i]!, names[j]!)) cut.push([names[i]!, names[j]!]);
      }
    }
    return cut;
  }

  /** Whether the link between two villagers is cut (either refuses the other); never for a grave. */
  linkCut(a: string, b: string): boolean {
    const pa = this.peers.get(a);
    const pb = this.peers.get(b);
    if (!pa || !pb || pa.process === 'down' || pb.process === 'down') return false;
    return pa.blocked.includes(b) || pb.blocked.includes(a);
  }

  /** The villagers a villager cannot reach (its cut links), in the cluster's order. */
  cutFrom(name: string): string[] {
    return this.names().filter((o) => o !== name && this.linkCut(name, o));
  }

  /** Whether a villager is cut off from every other villager (it stands behind a fence). */
  isolated(name: string): boolean {
    const p = this.peers.get(name);
    if (!p || p.process === 'down') return false;
    const others = this.names().filter((o) => o !== name && this.peers.get(o)!.process !== 'down');
    return others.length > 0 && others.every((o) => this.linkCut(name, o));
  }

  /** The highest term any reporting peer is in. */
  term(): number {
    let t = 0;
    for (const p of this.peers.values()) if (p.term > t) t = p.term;
    return t;
  }

  /** The leader's commit index, else the highest commit index known. */
  commitIndex(): number {
    const l = this.leader();
    if (l) return l.commitIndex;
    let c = 0;
    for (const p of this.peers.values()) if (p.commitIndex > c) c = p.commitIndex;
    return c;
  }

  liveCount(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.process !== 'down' && p.reporting) n++;
    return n;
  }

  /** The highest log index held by any peer (0 for empty logs). */
  maxIndex(): number {
    let m = 0;
    for (const p of this.peers.values()) {
      const last = p.log.length ? p.log[p.log.length - 1]!.index : 0;
      m = Math.max(m, last, p.lastIndex);
    }
    return m;
  }

  /** The tile at `index` in a peer's log, if the model holds it. */
  tileAt(p: Villager, index: number): LogTile | null {
    // Logs are sorted by index and usually contiguous: try the direct position first.
    const log = p.log;
    if (log.length === 0) return null;
    const guess = index - log[0]!.index;
    if (guess >= 0 && guess < log.length && log[guess]!.index === index) return log[guess]!;
    let lo = 0;
    let hi = log.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = log[mid]!.index;
      if (v === index) return log[mid]!;
      if (v < index) lo = mid + 1;
      else hi = mid - 1;
    }
    return null;
  }

  isCommitted(p: PeerView, index: number): boolean {
    return index <= p.commitIndex;
  }

  /** Fraction (0..1) of the election timer left; null when the peer has no running timer. */
  timerLeft(p: Villager, localNow: number): number | null {
    if (p.deadlineLocal === null || p.process === 'down' || !p.reporting) return null;
    const span = this.timing ? this.timing.electionMaxMs : null;
    const left = p.deadlineLocal - localNow;
    if (span === null || span <= 0) return left > 0 ? 1 : 0;
    return Math.max(0, Math.min(1, left / span));
  }

  /** The broken law to show: the first violation the user has not dismissed, or null. */
  shownViolation(): LawViolation | null {
    if (!this.laws) return null;
    for (const v of this.laws.violations) if (!this.dismissed.has(violationKey(v))) return v;
    return null;
  }

  /** Hides a violation's panel and highlights (the next one not dismissed shows, if any). */
  dismissViolation(v: LawViolation): void {
    this.dismissed.add(violationKey(v));
    this.version++;
  }

  /** The villagers and log tiles the shown violation involves (nothing when none is shown). */
  lawHighlight(): LawHighlight {
    const v = this.shownViolation();
    if (!v) return NO_HIGHLIGHT;
    const villagers = new Set(v.peers.filter((p) => this.peers.has(p)));
    const tiles = new Set<string>();
    for (const p of villagers) for (const i of v.indexes) tiles.add(`${p}:${i}`);
    return { villagers, tiles };
  }

  /** Converts a relay/peer wall-clock time to local ms (the model's time). */
  toLocal(remote: number): number {
    return remote + (this.clockOffset ?? 0);
  }

  /** Converts a relay/peer wall-clock time to the local wall clock: a time of day to show. */
  toWall(remote: number): number {
    return remote + (this.wallOffset ?? this.clockOffset ?? 0);
  }

  // ---- internals ----

  private flightTimeoutMs(): number {
    const latency = this.timing?.latencyMs ?? 0;
    return Math.max(FLIGHT_TIMEOUT_MS, latency * 8);
  }

  /**
   * The offset is the smallest (local - relay) seen: network delay only ever adds to it. It
   * creeps up slowly so that a clock step on either side is followed within a minute or so.
   */
  private learnClock(relayNow: number, localNow: number, wall: number): void {
    if (!Number.isFinite(relayNow)) return;
    this.clockOffset = followOffset(this.clockOffset, localNow - relayNow);
    this.wallOffset = followOffset(this.wallOffset, wall - relayNow);
  }

  private applySnapshot(picture: VillagePicture, localNow: number): void {
    this.hasPicture = true;
    this.timing = picture.timing ?? null;
    this.profile = picture.profile ?? null;
    this.peers.clear();
    for (const pv of picture.peers ?? []) this.putPeer(pv);
    this.kv = { ...(picture.kv ?? {}) };
    this.kvVersion++;
    this.attacks = !!picture.attacks;
    this.nextAttackLocal = typeof picture.nextAttackAt === 'number' ? this.toLocal(picture.nextAttackAt) : null;
    this.reviveAfterS = num(picture.reviveAfterS, 0);
    this.counters = normCounters(picture.counters);
    this.launcher = !!picture.launcher;
    this.laws = picture.laws && typeof picture.laws === 'object' ? { ...lawsStatus(picture.laws), violations: violationsOf(picture.laws.violations, []) } : null;
    // Letters in the air before the reconnect can no longer be paired: start clean.
    this.flights.clear();
    this.monster = { action: 'wander', victim: null, at: localNow, strikeAt: null };
  }

  applyDelta(d: Delta, localNow: number): void {
    if (!d || typeof d !== 'object') {
      this.ignored++;
      return;
    }
    switch (d.type) {
      case 'event':
        this.applyEvent(d.event, localNow, typeof d.more === 'number' && d.more > 0 ? Math.floor(d.more) : 0);
        break;
      case 'peer':
        this.updatePeer(d.peer, d.log);
        break;
      case 'kv':
        if (typeof d.key !== 'string') break;
        if (d.deleted) delete this.kv[d.key];
        else this.kv[d.key] = d.value;
        this.kvVersion++;
        break;
      case 'attacks':
        this.attacks = !!d.on;
        this.nextAttackLocal = typeof d.nextAttackAt === 'number' ? this.toLocal(d.nextAttackAt) : null;
        if (!this.attacks && this.monster.action !== 'wander') this.monster = { action: 'wander', victim: null, at: localNow, strikeAt: null };
        break;
      case 'monster':
        if (d.action !== 'hunt' && d.action !== 'strike') break;
        this.monster = {
          action: d.action,
          victim: typeof d.victim === 'string' ? d.victim : null,
          at: localNow,
          strikeAt: typeof d.at === 'number' ? this.toLocal(d.at) : null,
        };
        break;
      case 'counters':
        this.counters = normCounters(d.counters);
        break;
      case 'launcher':
        this.launcher = !!d.connected;
        break;
      case 'laws': {
        if (!d.laws || typeof d.laws !== 'object') {
          this.ignored++;
          break;
        }
        // Violations come once each, numbered; one the model holds already (after a snapshot) is skipped.
        this.laws = { ...lawsStatus(d.laws), violations: violationsOf(d.violations, this.laws?.violations ?? []) };
        break;
      }
      case 'console': {
        const level: ConsoleLevel = ['info', 'input', 'result', 'error', 'event'].includes(d.level) ? d.level : 'info';
        // The relay stamps lines with when they happened (`at`, relay ms); else: when heard.
        const t: unknown = d.at;
        // A typed line comes as typed; it reads `> line`, as the page's own echo does.
        const text = level === 'input' ? `> ${d.line}` : d.line;
        if (typeof d.line === 'string') this.addConsoleLine(level, text, typeof t === 'number' && Number.isFinite(t) ? this.toWall(t) : this.heardAt);
        break;
      }
      case 'clock': // read by the page's village time (villageTime.ts), before the model
        break;
      default:
        this.ignored++;
    }
  }

  /** One peer event; `more`: the other RPCs a letter stands for (see Flight.more). */
  applyEvent(ev: PeerEvent, localNow: number, more = 0): void {
    if (!ev || typeof ev !== 'object' || typeof ev.peer !== 'string') {
      this.ignored++;
      return;
    }
    for (const w of this.watchers) w.event?.(ev, localNow);
    // Letters need no villager entry (a peer outside the picture can still be a sender).
    switch (ev.type) {
      case 'rpc_send':
        this.flightSent(ev.rid, ev.peer, ev.to, ev, more, localNow);
        return;
      case 'rpc_recv':
        this.flightLanded(ev.rid, ev.from, ev.peer, ev, more, localNow);
        return;
      case 'rpc_drop':
        // A receiver that refuses a letter (blocked) reports the drop with to = itself; the
        // sender is then the rid's prefix (`${from}:${n}`).
        this.flightVanished(ev.rid, ev.peer === ev.to ? senderOf(ev.rid, ev.peer) : ev.peer, ev.to, ev, ev.reason, more, localNow);
        return;
      default:
        break;
    }
    // Everything else about a peer's state arrives exact in the relay's `peer` deltas; events
    // only add what a picture of the state cannot show: what just happened.
    const p = this.peers.get(ev.peer);
    if (!p) return;
    if (ev.type === 'apply' && Array.isArray(ev.entries)) {
      // The last command of the batch (no-ops have none) is what the villager shows.
      for (let i = ev.entries.length - 1; i >= 0; i--) {
        const a = ev.entries[i];
        if (!a || !Array.isArray(a.command)) continue;
        p.lastApply = {
          index: num(a.index, p.appliedIndex),
          label: a.command.map(String).join(' '),
          result: a.ok ? short(a.result) : 'error',
          ok: !!a.ok,
          at: localNow,
        };
        break;
      }
    }
  }

  private putPeer(pv: PeerView): void {
    if (!pv || typeof pv.name !== 'string') {
      this.ignored++;
      return;
    }
    const old = this.peers.get(pv.name);
    const v: Villager = {
      ...emptyPeerView(pv.name),
      ...pv,
      log: Array.isArray(pv.log) ? [...pv.log].sort((a, b) => a.index - b.index) : [],
      blocked: Array.isArray(pv.blocked) ? [...pv.blocked] : [],
      deadlineLocal: typeof pv.electionDeadline === 'number' ? this.toLocal(pv.electionDeadline) : null,
      lastApply: old?.lastApply ?? null,
    };
    this.peers.set(v.name, v);
  }

  /** A `peer` delta: the fields replace ours; the log changes as the relay's did. */
  private updatePeer(pv: PeerFields & { log?: LogTile[] }, change: LogChange | undefined): void {
    if (!pv || typeof pv !== 'object' || typeof pv.name !== 'string') {
      this.ignored++;
      return;
    }
    const old = this.peers.get(pv.name);
    let log: LogTile[] = old?.log ?? [];
    if (Array.isArray(pv.log)) log = [...pv.log].sort((a, b) => a.index - b.index);
    else if (change !== undefined) {
      const next = applyLogChange(log, change);
      if (next) log = next;
      else this.ignored++;
    }
    const v: Villager = {
      ...emptyPeerView(pv.name),
      ...old,
      ...pv,
      // Carried in full by every delta: absent means the peer has none (any more).
      config: pv.config,
      logStart: pv.logStart,
      log,
      blocked: Array.isArray(pv.blocked) ? [...pv.blocked] : (old?.blocked ?? []),
      deadlineLocal: typeof pv.electionDeadline === 'number' ? this.toLocal(pv.electionDeadline) : null,
      lastApply: old?.lastApply ?? null,
    };
    this.peers.set(v.name, v);
  }

  private flightSent(rid: string, from: string, to: string, s: RpcFields, more: number, localNow: number): void {
    if (typeof rid !== 'string') return;
    if (this.flights.has(rid)) return; // the receive was heard first: it already landed
    this.addFlight({ ...flightFields(rid, from, to, s, more), sentAt: localNow, landedAt: null, vanishedAt: null, vanishReason: null });
  }

  private flightLanded(rid: string, from: string, to: string, s: RpcFields, more: number, localNow: number): void {
    if (typeof rid !== 'string') return;
    const f = this.flights.get(rid);
    if (f) {
      if (f.landedAt === null) {
        f.landedAt = localNow;
        // A letter given up as lost that lands after all did land.
        if (f.vanishReason === 'lost') {
          f.vanishedAt = null;
          f.vanishReason = null;
        }
      }
      return;
    }
    // The receiver's event came before the sender's (two streams): it flew and landed.
    this.addFlight({ ...flightFields(rid, from, to, s, more), sentAt: localNow, landedAt: localNow, vanishedAt: null, vanishReason: null });
  }

  private flightVanished(rid: string, from: string, to: string, s: RpcFields, reason: Flight['vanishReason'], more: number, localNow: number): void {
    if (typeof rid !== 'string') return;
    const why = reason === 'blocked' || reason === 'dropped' || reason === 'disconnected' ? reason : 'dropped';
    const f = this.flights.get(rid);
    if (f) {
      if (f.landedAt === null && f.vanishedAt === null) {
        f.vanishedAt = localNow;
        f.vanishReason = why;
      }
      return;
    }
    this.addFlight({ ...flightFields(rid, from, to, s, more), sentAt: localNow, landedAt: null, vanishedAt: localNow, vanishReason: why });
  }

  private addFlight(f: Flight): void {
    this.flights.set(f.rid, f);
    if (this.flights.size <= MAX_FLIGHTS) return;
    // Too many letters: forget finished ones first, then the oldest, down to 90 %, so that the
    // next letters go in without another pass (a pass over the letters still in the air for
    // every new one cost a page under load more than everything else it did with the data).
    const target = MAX_FLIGHTS - Math.ceil(MAX_FLIGHTS / 10);
    for (const [rid, g] of this.flights) {
      if (this.flights.size <= target) return;
      if (g.landedAt !== null || g.vanishedAt !== null) this.flights.delete(rid);
    }
    for (const rid of this.flights.keys()) {
      if (this.flights.size <= target) return;
      this.flights.delete(rid);
    }
  }
}

type RpcFields = { rpc: RpcKind; term: number; heartbeat: boolean; entries: number; preVote?: boolean; ok?: boolean };

function flightFields(rid: string, from: string, to: string, s: RpcFields, more: number) {
  return {
    rid,
    from: String(from),
    to: String(to),
    rpc: s.rpc,
    term: num(s.term, 0),
    heartbeat: !!s.heartbeat,
    entries: num(s.entries, 0),
    preVote: !!s.preVote,
    ok: typeof s.ok === 'boolean' ? s.ok : null,
    said: letterSays(s),
    more,
  };
}

/**
 * A log after a LogChange (see shared/village.ts): tiles below `from` that the relay still
 * holds (index >= start), then the new tiles. A new array; null when the change is malformed.
 */
export function applyLogChange(log: readonly LogTile[], change: unknown): LogTile[] | null {
  if (!change || typeof change !== 'object') return null;
  const { from, tiles, start } = change as Record<string, unknown>;
  if (typeof from !== 'number' || !Array.isArray(tiles) || (start !== null && typeof start !== 'number')) return null;
  if (start === null) return [];
  const out: LogTile[] = [];
  for (const t of log) if (t.index >= start && t.index < from) out.push(t);
  for (const t of tiles as unknown[]) {
    if (!t || typeof t !== 'object') continue;
    const tile = t as LogTile;
    if (typeof tile.index !== 'number' || tile.index < start || tile.index < from) continue;
    if (out.length && out[out.length - 1]!.index >= tile.index) continue; // keep the log ascending
    out.push(tile);
  }
  return out;
}

/** The sender named in a rid (`peer1:42` -> peer1). */
export function senderOf(rid: unknown, fallback: string): string {
  if (typeof rid !== 'string') return fallback;
  const i = rid.lastIndexOf(':');
  return i > 0 ? rid.slice(0, i) : fallback;
}

function violationKey(v: LawViolation): string {
  return `${v.n}@${v.at}`;
}

function lawsStatus(l: unknown): Omit<LawsView, 'violations'> {
  const o = l as Record<string, unknown>;
  const blind: LawBlind[] = [];
  if (Array.isArray(o.blind)) {
    for (const b of o.blind as Record<string, unknown>[]) {
      if (!b || typeof b.peer !== 'string') continue;
      blind.push({ peer: b.peer, sinceSeq: num(b.sinceSeq, 0), reason: typeof b.reason === 'string' ? b.reason : '', numbered: b.numbered !== false });
    }
  }
  return { eventsSeen: num(o.eventsSeen, 0), eventsChecked: num(o.eventsChecked, 0), violationCount: num(o.violationCount, 0), blind };
}

/** `held` plus the well-formed violations of `added` it does not hold yet (by number), up to the list's length. */
function violationsOf(added: unknown, held: readonly LawViolation[]): LawViolation[] {
  const out = held.slice();
  if (!Array.isArray(added)) return out;
  let top = out.reduce((m, v) => Math.max(m, v.n), 0);
  for (const x of added as Record<string, unknown>[]) {
    if (out.length >= MAX_LAW_VIOLATIONS) break;
    const v = violation(x);
    if (!v || v.n <= top) continue;
    out.push(v);
    top = v.n;
  }
  return out;
}

function violation(x: Record<string, unknown> | null): LawViolation | null {
  if (!x || typeof x !== 'object' || typeof x.n !== 'number' || typeof x.law !== 'string') return null;
  const strs = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const nums = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is number => typeof n === 'number' && Number.isFinite(n)) : []);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const evidence: LawEvidence[] = [];
  if (Array.isArray(x.evidence)) {
    for (const e of x.evidence as Record<string, unknown>[]) {
      if (!e || typeof e.peer !== 'string') continue;
      evidence.push({ peer: e.peer, seq: typeof e.seq === 'number' ? e.seq : null, boot: typeof e.boot === 'string' ? e.boot : null, type: text(e.type), t: num(e.t, 0), said: text(e.said) });
    }
  }
  return {
    n: x.n,
    law: x.law,
    name: text(x.name) || x.law,
    statement: text(x.statement),
    message: text(x.message),
    peers: strs(x.peers),
    indexes: nums(x.indexes),
    terms: nums(x.terms),
    evidence,
    at: num(x.at, 0),
    file: typeof x.file === 'string' ? x.file : null,
  };
}

function normCounters(c: unknown): VillagePicture['counters'] {
  const o = (c && typeof c === 'object' ? c : {}) as Record<string, unknown>;
  return { elections: num(o.elections, 0), messages: num(o.messages, 0), droppedEvents: num(o.droppedEvents, 0) };
}

function num(x: unknown, fallback: number): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : fallback;
}

/** A value as a short string for a bubble or a board cell. */
export function short(v: unknown, max = 24): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v === undefined) s = '';
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/**
 * Follows a clock offset from samples (local minus remote): the lowest sample wins (the one with
 * the least network delay in it), a change of over a minute is taken at once (a clock set, or a
 * long pause for village time), and otherwise the estimate drifts 1% toward each sample, in
 * whole milliseconds (differences under ~50 ms are not worth following).
 */
function followOffset(offset: number | null, sample: number): number {
  if (offset === null || sample < offset || Math.abs(sample - offset) > 60_000) return sample;
  return Math.round(offset + (sample - offset) * 0.01);
}
