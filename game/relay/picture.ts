// The relay's picture of the cluster: a plain model that peer events and launcher reports are
// folded into, and that hands out the deltas browsers need. No sockets or timers here, so it
// can be tested by feeding it events.
import type { AppliedEntry, LauncherReport, LogTile, PeerEvent } from '../../shared/events.ts';
import type { ClockView } from '../../shared/village-clock.ts';
import {
  emptyLaws,
  emptyPeerView,
  MAX_LAW_VIOLATIONS,
  type ConsoleLevel,
  type Delta,
  type LawsStatus,
  type LawsView,
  type LawViolation,
  type PeerFields,
  type PeerView,
  type VillagePicture,
} from '../../shared/village.ts';
import { LetterSampler } from './letter-sampler.ts';

/** Log tiles kept per peer: the village shows the tail of each log. */
export const MAX_TILES = 300;
/** Event deltas kept between two flushes; more are dropped and counted. */
export const MAX_EVENTS_PER_BATCH = 4000;
/** Console lines kept for browsers that connect later. */
export const CONSOLE_HISTORY = 60;

export interface PictureOptions {
  /** Peer names in the config file's order: the village lines villagers up in that order. */
  order: readonly string[];
  reviveAfterS: number;
  /** Wall clock, for console lines. */
  now?: () => number;
}

export class Picture {
  private readonly peers = new Map<string, PeerView>();
  private readonly kv = new Map<string, unknown>();
  /** The highest log index applied to the board (from whichever peer got there first). */
  private kvIndex = 0;
  /** Whether the board was filled from a peer's whole store (a relay that starts late needs it). */
  private seeded = false;
  /** Keys the apply events changed (a late seed must not bring back a key they deleted). */
  private readonly touched = new Set<string>();
  private readonly leaderTerms = new Set<number>();
  private counters = { elections: 0, messages: 0, droppedEvents: 0 };
  /** Events the relay itself dropped (batch cap); droppedEvents adds the peers' own drops. */
  private relayDropped = 0;
  /** Per peer: drops reported by earlier runs of that peer (its count restarts at 0 with it). */
  private readonly droppedBefore = new Map<string, number>();
  /** Per peer: the pid of the run its reporter_dropped counts belong to. */
  private readonly droppedPid = new Map<string, number>();
  private countersDirty = false;
  private attacks = false;
  private clock: ClockView | undefined;
  private nextAttackAt: number | null = null;
  private launcher = false;
  private timing: VillagePicture['timing'] = null;
  private profile: string | null = null;
  /** The safety monitor's verdict (law-watch.ts sets it). */
  private laws: LawsView = emptyLaws();
  private readonly reviveAfterS: number;
  private readonly order: readonly string[];
  private readonly now: () => number;

  // What changed since the last takeDeltas().
  private events: Delta[] = [];
  private others: Delta[] = [];
  private readonly dirty = new Set<string>();
  /** Per peer: the lowest log index that changed (appended, cut) since the last takeDeltas(). */
  private readonly logFrom = new Map<string, number>();
  /** A peer left the picture: browsers need a fresh snapshot. */
  private membershipChanged = false;
  /** The members the launcher last named (null: no launcher said yet); a leaver that went down leaves the village. */
  private launcherPeers: readonly string[] | null = null;
  private readonly history: Delta[] = [];
  /** Whether anyone is watching: with no browser, animation events are not kept. */
  watching = false;
  /** Which letters are passed on as events. */
  private readonly letters: LetterSampler;

  constructor(opts: PictureOptions) {
    this.order = opts.order;
    this.reviveAfterS = opts.reviveAfterS;
    this.now = opts.now ?? Date.now;
    this.letters = new LetterSampler(this.now);
  }

  // ---- reads ----

  snapshot(): VillagePicture {
    return {
      peers: this.peerList().map((p) => ({ ...fieldsOf(p), log: p.log.slice() })),
      kv: Object.fromEntries(this.kv),
      attacks: this.attacks,
      nextAttackAt: this.nextAttackAt,
      reviveAfterS: this.reviveAfterS,
      timing: this.timing,
      profile: this.profile,
      counters: { ...this.counters },
      launcher: this.launcher,
      laws: { ...this.laws, violations: this.laws.violations.slice(), blind: this.laws.blind.slice() },
      ...(this.clock ? { clock: this.clock } : {}),
    };
  }

  lawsView(): LawsView {
    return this.laws;
  }

  peerList(): PeerView[] {
    const rank = (n: string) => {
      const i = this.order.indexOf(n);
      return i < 0 ? this.order.length : i;
    };
    return [...this.peers.values()].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  }

  peer(name: string): PeerView | undefined {
    return this.peers.get(name);
  }

  names(): string[] {
    return this.peerList().map((p) => p.name);
  }

  /** The leader of the highest term among peers that are not known to be down. */
  leader(): { name: string; term: number } | null {
    let best: { name: string; term: number } | null = null;
    for (const p of this.peers.values()) {
      if (p.role === 'leader' && p.process !== 'down' && (!best || p.term > best.term)) best = { name: p.name, term: p.term };
    }
    return best;
  }

  launcherConnected(): boolean {
    return this.launcher;
  }

  attacksOn(): boolean {
    return this.attacks;
  }

  consoleHistory(): Delta[] {
    return [...this.history];
  }

  counterValues(): VillagePicture['counters'] {
    return { ...this.counters };
  }

  // ---- writes ----

  /** Folds one validated peer event into the picture. */
  applyEvent(e: PeerEvent): void {
    const p = this.ensure(e.peer);
    switch (e.type) {
      // For the safety monitor: what they change reaches browsers in `peer` deltas, and the page
      // animates none of them, so they are not passed on as events.
      case 'persisted':
      case 'clock': // the relay's clock unit reads these (clock.ts)
        return;
      case 'resync':
      case 'snapshot':
        break;
      case 'apply':
        // The page shows a villager's last applied command (its bubble); the board comes in `kv`
        // deltas. So a batch carries one apply per peer, its last command, not every entry.
        this.pushLastApply(e);
        break;
      case 'rpc_send':
      case 'rpc_recv':
      case 'rpc_drop': {
        // Under load only a sample of the letters travels (letter-sampler.ts); `more` counts the rest.
        if (!this.watching) break;
        const d: Delta = { type: 'event', event: e };
        if (this.letters.take(e, d)) this.pushEvent(d);
        break;
      }
      default:
        this.pushEvent({ type: 'event', event: e });
    }
    switch (e.type) {
      case 'hello': {
        // A new run of the peer counts its drops from 0 again: keep what the old run lost.
        if (this.droppedPid.has(e.peer) && this.droppedPid.get(e.peer) !== e.pid) this.droppedBefore.set(e.peer, p.reporterDropped);
        this.droppedPid.set(e.peer, e.pid);
        if (!this.launcher && !p.reporting && p.process !== 'up') this.say(`${e.peer} is reporting (pid ${e.pid})`, 'event');
        p.reporting = true;
        p.pid = e.pid;
        p.process = 'up';
        this.timing = e.timing;
        this.profile = e.profile;
        // Its cluster joins the village (only names the ini knows: the relay shares the ini). A
        // hello names the initial voters; once a launcher named the members (a restart after a
        // join or a leave), a peer that left is not brought back by it.
        for (const n of e.cluster) {
          if ((this.order.length === 0 || this.order.includes(n)) && (this.launcherPeers === null || this.launcherPeers.includes(n))) this.ensure(n);
        }
        break;
      }
      case 'state': {
        p.role = e.role;
        p.term = e.term;
        p.vote = e.vote;
        p.leader = e.leader;
        p.commitIndex = e.commitIndex;
        p.appliedIndex = e.appliedIndex;
        p.lastIndex = e.lastIndex;
        p.lastTerm = e.lastTerm;
        if (e.log) p.logStart = { ...e.log };
        // A duration from the peer (its clock may differ from ours) becomes a deadline on the relay's clock.
        p.electionDeadline = e.electionInMs === undefined ? e.electionDeadline : e.electionInMs === null ? null : this.now() + e.electionInMs;
        if (e.role === 'leader') this.leaderSeen(e.peer, e.term);
        this.checkBoardEpoch();
        break;
      }
      case 'resync': {
        // A full state: the peer's fields, and its log tail in place of what the relay held.
        p.role = e.role;
        p.term = e.term;
        p.vote = e.vote;
        p.leader = e.leader;
        p.commitIndex = e.commit;
        p.lastIndex = e.lastIndex;
        p.lastTerm = e.lastTerm;
        if (e.role === 'leader') p.electionDeadline = null;
        const tail = e.tail.length > MAX_TILES ? e.tail.slice(e.tail.length - MAX_TILES) : e.tail;
        p.log.length = 0;
        for (const t of tail) p.log.push(t);
        if (e.base) p.logStart = { firstIndex: e.base.index + 1, snapshotIndex: e.base.index, snapshotTerm: e.base.term };
        else delete p.logStart;
        if (e.config) p.config = { voters: e.config.voters.slice(), learners: e.config.learners.slice() };
        this.logChanged(p.name, 0);
        if (e.role === 'leader') this.leaderSeen(e.peer, e.term);
        this.checkBoardEpoch();
        break;
      }
      case 'snapshot':
        // The log now starts after the snapshot's index (and, for one installed from the leader,
        // ends at lastIndex).
        cutFrom(p.log, e.lastIndex + 1);
        cutThrough(p.log, e.index);
        p.lastIndex = e.lastIndex;
        p.logStart = { firstIndex: e.index + 1, snapshotIndex: e.index, snapshotTerm: e.term };
        this.logChanged(p.name, e.lastIndex + 1);
        break;
      case 'rpc_send':
        this.counters.messages++;
        this.countersDirty = true;
        return; // the view of the peer did not change
      case 'rpc_recv':
      case 'rpc_drop':
        return;
      case 'log_append': {
        // Tiles are never changed once in a log (validated events are fresh objects), so a
        // delta may hand the same objects on. Entries ascend (validate.ts checks).
        const first = e.entries[0];
        if (!first) return;
        cutFrom(p.log, first.index);
        const add = e.entries.length > MAX_TILES ? e.entries.slice(e.entries.length - MAX_TILES) : e.entries;
        for (const t of add) p.log.push(t);
        if (p.log.length > MAX_TILES) p.log.splice(0, p.log.length - MAX_TILES);
        // The log's end moves up with its tiles (a peer's `state`, at most 50 ms later, says
        // the core's, which may be ahead of what is saved).
        const end = e.entries[e.entries.length - 1]!;
        if (end.index > p.lastIndex) {
          p.lastIndex = end.index;
          p.lastTerm = end.term;
        }
        this.logChanged(p.name, first.index);
        break;
      }
      case 'log_truncate':
        cutFrom(p.log, e.from);
        this.logChanged(p.name, e.from);
        break;
      case 'commit':
        p.commitIndex = e.index;
        break;
      case 'apply':
        for (const a of e.entries) {
          p.appliedIndex = a.index;
          this.applyToBoard(a);
        }
        break;
      case 'config':
        // Passed on as an event too (the console says it); the picture keeps what each peer holds.
        p.config = { voters: e.voters.slice(), learners: e.learners.slice() };
        break;
      case 'faults':
        p.blocked = [...e.blocked];
        p.dropRate = e.dropRate;
        p.latencyMs = e.latencyMs;
        break;
      case 'reporter_dropped':
        // The count is the peer's total since it started (not an increment).
        p.reporterDropped = (this.droppedBefore.get(p.name) ?? 0) + e.count;
        this.recountDropped();
        break;
    }
    this.dirty.add(p.name);
  }

  /** The safety monitor's counts changed, and these violations were found since the last call. */
  setLaws(status: LawsStatus, added: readonly LawViolation[]): void {
    const violations = this.laws.violations;
    const shown: LawViolation[] = [];
    for (const v of added) {
      if (violations.length >= MAX_LAW_VIOLATIONS) break;
      violations.push(v);
      shown.push(v);
    }
    this.laws = { ...status, violations };
    this.others.push({ type: 'laws', laws: { ...status, blind: status.blind.slice() }, violations: shown });
  }

  /**
   * Whether the configuration in force (the one the leader reports, else the one of the highest
   * term) lists the peer neither as a voter nor as a learner. False while no peer reported one.
   */
  private leftConfig(name: string): boolean {
    let best: PeerView | null = null;
    const rank = (v: PeerView) => (v.role === 'leader' ? 1e12 : 0) + v.term;
    for (const p of this.peers.values()) {
      if (p.name === name || !p.config || p.process === 'down' || !p.reporting) continue;
      if (!best || rank(p) > rank(best)) best = p;
    }
    return !!best?.config && !best.config.voters.includes(name) && !best.config.learners.includes(name);
  }

  private leaderSeen(peer: string, term: number): void {
    if (this.leaderTerms.has(term)) return;
    this.leaderTerms.add(term);
    this.counters.elections = this.leaderTerms.size;
    this.countersDirty = true;
    this.say(`${peer} is the leader of term ${term}`, 'event');
  }

  /** A peer's -v stream closed. */
  streamClosed(peer: string): void {
    const p = this.peers.get(peer);
    if (!p) return;
    p.reporting = false;
    if (!this.launcher) {
      // Without a launcher this is all the village learns of a peer going down.
      p.process = 'unknown';
      this.say(`${peer} stopped reporting (down, or it lost the relay)`, 'event');
    }
    this.dirty.add(peer);
  }

  applyLauncherReport(r: LauncherReport): void {
    switch (r.type) {
      case 'launcher_hello': {
        this.setLauncher(true);
        if (!this.profile) this.profile = r.profile;
        this.launcherPeers = r.peers.slice();
        // The launcher's cluster is the village: forget peers outside it that are not reporting.
        for (const [n, p] of this.peers) {
          if (!r.peers.includes(n) && !p.reporting) {
            this.peers.delete(n);
            this.membershipChanged = true;
          }
        }
        for (const n of r.peers) this.ensure(n);
        return;
      }
      case 'process': {
        if (!r.alive && ((this.launcherPeers && !this.launcherPeers.includes(r.peer)) || this.leftConfig(r.peer))) {
          // Not a member any more (it left the cluster), and now down: it leaves the village. The
          // peer exits as soon as its removal commits, often before the launcher names the new
          // members: the configuration the leader reports already says it left.
          if (this.peers.delete(r.peer)) {
            this.membershipChanged = true;
            this.say(`${r.peer} left the village`, 'event');
          }
          return;
        }
        const p = this.ensure(r.peer);
        const before = p.process;
        p.process = r.alive ? 'up' : 'down';
        p.pid = r.alive ? r.pid : null;
        if (!r.alive) p.electionDeadline = null;
        if (before !== p.process) {
          if (r.alive) this.say(`${r.peer} is up${r.pid !== null ? ` (pid ${r.pid})` : ''}`, 'event');
          else this.say(`${r.peer} went down${r.signal ? ` (${r.signal})` : r.exitCode !== null ? ` (exit code ${r.exitCode})` : ''}`, 'event');
        }
        this.dirty.add(p.name);
        return;
      }
    }
  }

  setLauncher(connected: boolean): void {
    if (this.launcher === connected) return;
    this.launcher = connected;
    this.others.push({ type: 'launcher', connected });
    if (!connected) {
      // Without a launcher, only the peers' own streams tell whether they are up.
      for (const p of this.peers.values()) {
        if (!p.reporting && p.process !== 'unknown') {
          p.process = 'unknown';
          this.dirty.add(p.name);
        }
      }
    }
  }

  /** The village clock's view for browsers (clock.ts). */
  setClock(view: ClockView): void {
    this.clock = view;
    this.others.push({ type: 'clock', clock: view });
  }

  setAttacks(on: boolean, nextAttackAt: number | null): void {
    if (this.attacks === on && this.nextAttackAt === nextAttackAt) return;
    this.attacks = on;
    this.nextAttackAt = nextAttackAt;
    this.others.push({ type: 'attacks', on, nextAttackAt });
  }

  monster(action: 'hunt' | 'strike', victim: string, at?: number): void {
    this.others.push(at === undefined ? { type: 'monster', action, victim } : { type: 'monster', action, victim, at });
  }

  /** A line for every console panel (and for browsers that connect later). */
  say(line: string, level: ConsoleLevel): void {
    const d: Delta = { type: 'console', line, level, at: this.now() };
    this.others.push(d);
    this.history.push(d);
    if (this.history.length > CONSOLE_HISTORY) this.history.shift();
  }

  /** Counts events the relay could not pass on. */
  countDropped(n: number): void {
    if (n <= 0) return;
    this.relayDropped += n;
    this.recountDropped();
  }

  private recountDropped(): void {
    let total = this.relayDropped;
    for (const p of this.peers.values()) total += p.reporterDropped;
    if (total === this.counters.droppedEvents) return;
    this.counters.droppedEvents = total;
    this.countersDirty = true;
  }

  /**
   * Everything that changed since the last call, in one batch. `resync` is set when a peer left
   * the picture: browsers then need a fresh snapshot (before the deltas). A new peer simply
   * arrives as a `peer` delta.
   */
  takeDeltas(): { resync: boolean; deltas: Delta[] } {
    const resync = this.membershipChanged;
    this.membershipChanged = false;
    const out = this.events.concat(this.others);
    for (const n of this.dirty) {
      const p = this.peers.get(n);
      if (!p) continue;
      const from = this.logFrom.get(n);
      // Only the tiles at or after the lowest changed index travel, not the whole tail.
      if (from === undefined) out.push({ type: 'peer', peer: fieldsOf(p) });
      else out.push({ type: 'peer', peer: fieldsOf(p), log: { from, tiles: tilesFrom(p.log, from), start: p.log.length ? p.log[0]!.index : null } });
    }
    if (this.countersDirty) out.push({ type: 'counters', counters: { ...this.counters } });
    this.clearPending();
    return { resync, deltas: out };
  }

  hasPending(): boolean {
    return this.membershipChanged || this.events.length > 0 || this.others.length > 0 || this.dirty.size > 0 || this.countersDirty;
  }

  private clearPending(): void {
    this.letters.endBatch();
    this.lastApply.clear();
    this.events = [];
    this.others = [];
    this.dirty.clear();
    this.logFrom.clear();
    this.countersDirty = false;
  }

  private logChanged(peer: string, from: number): void {
    const before = this.logFrom.get(peer);
    if (before === undefined || from < before) this.logFrom.set(peer, from);
  }

  /** Per peer, the batch's apply delta (pushLastApply). */
  private readonly lastApply = new Map<string, Extract<Delta, { type: 'event' }>>();

  /** An apply: the last entry with a command replaces what the batch carries for the peer (no-ops alone carry nothing). */
  private pushLastApply(e: Extract<PeerEvent, { type: 'apply' }>): void {
    if (!this.watching) return;
    let last: AppliedEntry | undefined;
    for (let i = e.entries.length - 1; i >= 0 && !last; i--) if (e.entries[i]!.command) last = e.entries[i];
    if (!last) return;
    const event: PeerEvent = { ...e, entries: [last] };
    const held = this.lastApply.get(e.peer);
    if (held) {
      held.event = event;
      return;
    }
    const d: Extract<Delta, { type: 'event' }> = { type: 'event', event };
    this.lastApply.set(e.peer, d);
    this.pushEvent(d);
  }

  private pushEvent(d: Delta): void {
    if (!this.watching) return;
    if (this.events.length >= MAX_EVENTS_PER_BATCH) {
      this.countDropped(1);
      return;
    }
    this.events.push(d);
  }

  private ensure(name: string): PeerView {
    let p = this.peers.get(name);
    if (!p) {
      p = emptyPeerView(name);
      this.peers.set(name, p);
      this.dirty.add(name);
    }
    return p;
  }

  needsSeed(): boolean {
    return !this.seeded;
  }

  /** Fills the board from a peer's whole key-value store as of `appliedIndex`. */
  seedBoard(kv: Record<string, unknown>, appliedIndex: number): void {
    this.seeded = true;
    if (appliedIndex >= this.kvIndex) {
      for (const key of [...this.kv.keys()]) {
        if (!Object.hasOwn(kv, key)) {
          this.kv.delete(key);
          this.others.push({ type: 'kv', key, value: null, deleted: true });
        }
      }
      for (const [key, value] of Object.entries(kv)) {
        this.kv.set(key, value);
        this.others.push({ type: 'kv', key, value });
      }
      this.kvIndex = appliedIndex;
      return;
    }
    // Apply events already went further than the seed: only fill in keys they never touched.
    for (const [key, value] of Object.entries(kv)) {
      if (this.kv.has(key) || this.touched.has(key)) continue;
      this.kv.set(key, value);
      this.others.push({ type: 'kv', key, value });
    }
  }

  private applyToBoard(e: AppliedEntry): void {
    if (e.index <= this.kvIndex) return; // another peer already told us this index (Raft: same entry)
    this.kvIndex = e.index;
    if (!e.ok || e.key === null || !e.command) return;
    const op = e.command[1];
    if (op === 'get') return;
    this.touched.add(e.key);
    if (op === 'del') {
      if (!this.kv.has(e.key)) return;
      this.kv.delete(e.key);
      this.others.push({ type: 'kv', key: e.key, value: null, deleted: true });
      return;
    }
    this.kv.set(e.key, e.value);
    this.others.push({ type: 'kv', key: e.key, value: e.value });
  }

  /**
   * When every reporting peer's log is shorter than what the board has applied, the board
   * belongs to an earlier cluster (its data was wiped): start the board again.
   */
  private checkBoardEpoch(): void {
    if (this.kvIndex === 0) return;
    let max = -1;
    for (const p of this.peers.values()) if (p.reporting) max = Math.max(max, p.lastIndex);
    if (max >= 0 && max < this.kvIndex) {
      for (const key of this.kv.keys()) this.others.push({ type: 'kv', key, value: null, deleted: true });
      this.kv.clear();
      this.kvIndex = 0;
      this.touched.clear();
      this.seeded = false;
    }
  }
}

/** A copy of a peer's fields (not its log) that later changes to the picture do not touch. */
function fieldsOf(p: PeerView): PeerFields {
  return {
    name: p.name,
    process: p.process,
    pid: p.pid,
    reporting: p.reporting,
    role: p.role,
    term: p.term,
    vote: p.vote,
    leader: p.leader,
    commitIndex: p.commitIndex,
    appliedIndex: p.appliedIndex,
    lastIndex: p.lastIndex,
    lastTerm: p.lastTerm,
    electionDeadline: p.electionDeadline,
    blocked: p.blocked.slice(),
    dropRate: p.dropRate,
    latencyMs: p.latencyMs,
    reporterDropped: p.reporterDropped,
    ...(p.config ? { config: { voters: p.config.voters.slice(), learners: p.config.learners.slice() } } : {}),
    ...(p.logStart ? { logStart: { ...p.logStart } } : {}),
  };
}

/** Removes, in place, every tile with index >= from (logs ascend: only the end is looked at). */
function cutFrom(log: LogTile[], from: number): void {
  let n = log.length;
  while (n > 0 && log[n - 1]!.index >= from) n--;
  if (n < log.length) log.length = n;
}

/** Removes, in place, every tile with index <= through (the head of the log). */
function cutThrough(log: LogTile[], through: number): void {
  let n = 0;
  while (n < log.length && log[n]!.index <= through) n++;
  if (n > 0) log.splice(0, n);
}

/** The tiles with index >= from (a new array; the tiles themselves are shared). */
function tilesFrom(log: LogTile[], from: number): LogTile[] {
  let i = log.length;
  while (i > 0 && log[i - 1]!.index >= from) i--;
  return log.slice(i);
}
