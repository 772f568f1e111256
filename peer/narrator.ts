// What the peer tells people about itself: lines in its log file (the important ones also on
// stdout) and, with -v, the events it streams to the relay (PROTOCOL.md lists them).
//
// The shell calls the narrator after it acts: a Ready's core events, a message received, the
// transport's observations (sent, dropped, links, refusals), entries saved, entries applied, a
// batch handled, faults changed. The narrator reads the core's status and the store (to describe
// them) but changes nothing and never calls back into the shell, so what a peer does never
// depends on what it says. Without -v there is no Reporter and no event object is built.
// With -v it also keeps the durable log as its events described it (reported-log.ts: a prefix
// hash per entry, the last tiles, the last durable write), for the fields the safety monitor
// reads: `ph` on tiles and commits, `h` on applies, the write's term on log_truncate,
// `persisted` after each durable save, `boot`, `dataId` and `recovered` in hello, and `resync`.
import { randomBytes } from 'node:crypto';
import type { Config, PeerAddress, Timing } from '../shared/config.ts';
import type { AppliedEntry, LogPoint, LogStart, PeerRole, RpcSummary } from '../shared/events.ts';
import { entryHash } from '../shared/log-hash.ts';
import type { Faults, PeerEnvelope } from '../shared/peer-protocol.ts';
import type { ClockReport } from '../shared/village-clock.ts';
import { commandWords, formatCommand } from '../shared/kv-commands.ts';
import { clientTls, endpointUrl } from '../shared/tls.ts';
import { decodeEntry, entryLabel, type ApplyOutcome, type KvStore } from './kv.ts';
import type { PeerLogger } from './logger.ts';
import type { Config as Membership, CoreEvent, Entry, HardState, NodeStatus, PeerId, PersistedState, RaftMessage } from './raft/types.ts';
import { ReportedLog } from './reported-log.ts';
import { Reporter, type PeerEventBody } from './reporter.ts';
import type { RecoveryReport } from './storage.ts';
import type { DropReason, TransportObserver } from './transport.ts';

/** The parts of the log file the narrator writes with. */
export type NarratorLog = Pick<PeerLogger, 'line' | 'important' | 'heartbeat' | 'setContext'>;

export interface NarratorOptions {
  logger: NarratorLog;
  name: PeerId;
  cluster: PeerId[];
  config: Config;
  profile: string;
  timing: Timing;
  /** Stream events to the relay ([relay] in the ini). */
  verbose: boolean;
  /** Size of the -v reporter's queue (default 10,000). */
  reporterQueue?: number;
  /** The core, read for the log prefix and the `state` event (and where its log begins). */
  core: { status(): NodeStatus; firstIndex?(): number; snapshotMeta?(): { index: number; term: number } };
  /** The store, read for the `state` and `apply` events. */
  store: Pick<KvStore, 'appliedIndex' | 'valueOf'>;
  /**
   * What the peer recovered from its data directory (hello.recovered; the relay is shown the
   * log's tail), and the snapshot the log continues (with its prefix hash), if any.
   */
  recovered: { state: PersistedState; report: RecoveryReport; base?: LogPoint | null };
  /** The core's clock (the shell's `now`): election deadlines are on it. */
  now: () => number;
  /** The village clock: the relay's messages on the -v stream, and the stream going up and down. */
  clock?: { fromRelay(msg: unknown): void; relayLink(up: boolean): void };
}

/**
 * Least time between two `state` events that only move the log's end, the commit or apply index
 * or the election deadline (ms): a heartbeat interval of the fast profile.
 */
export const STATE_SPACING_MS = 50;

export class Narrator implements TransportObserver {
  private readonly logger: NarratorLog;
  private readonly core: NarratorOptions['core'];
  private readonly store: NarratorOptions['store'];
  private reporter: Reporter | null = null;
  /** With -v: the entries applied in the batch being handled, reported as one `apply` event. */
  private appliedNow: AppliedEntry[] = [];
  private ctxRole: PeerRole = 'follower';
  private lastStateKey = '';
  /** The role, term, vote, leader and log start of the last `state` sent: a change of these is sent at once. */
  private lastStateShown = '';
  /** When the last `state` was emitted (performance.now()), and the timer of one held back. */
  private lastStateAt = -Infinity;
  private stateTimer: NodeJS.Timeout | null = null;
  /**
   * The durable log as the events describe it (with -v; without, only its prefix hashes matter:
   * a snapshot carries the one at its index, so that a peer installing it can go on from there).
   */
  private readonly described: ReportedLog;
  /** Random per process start: a reader tells a reconnection from a restart by it. */
  private readonly boot = randomBytes(6).toString('hex');
  private faults: Faults = { blocked: [], dropRate: 0, latencyMs: 0 };
  private readonly echoed = new Map<string, number>();
  /** Last matchIndex per peer in successful append replies, to tell heartbeat replies apart. */
  private readonly sentMatch = new Map<PeerId, number>();
  private readonly recvMatch = new Map<PeerId, number>();
  /** The configuration in force, as last reported (peer/membership.ts tells it). */
  private membership: Membership | null = null;

  constructor(private readonly opts: NarratorOptions) {
    this.logger = opts.logger;
    this.core = opts.core;
    this.store = opts.store;
    this.updateContext();
    const { state, report } = opts.recovered;
    this.described = new ReportedLog(state.entries, state.hardState, report.lastWrite, opts.verbose ? entryLabel : () => '', opts.recovered.base ?? null);
  }

  /** With -v: starts streaming to the relay (it redials on its own while the relay is away). */
  startReporting(): void {
    if (!this.opts.verbose || this.reporter) return;
    const { config, name, cluster, profile, timing } = this.opts;
    this.reporter = new Reporter({
      url: endpointUrl(config.relay, '/peer'),
      tls: clientTls(config.relay.tls),
      peer: name,
      secret: config.secret,
      hello: () => ({
        type: 'hello', pid: process.pid, cluster, profile, timing,
        boot: this.boot, dataId: this.opts.recovered.report.dataId, recovered: this.described.recovered,
      }),
      resync: () => this.resyncEvent(),
      catchUp: () => {
        // The catch-up's state counts as the last one sent.
        const k = this.stateKeys();
        this.lastStateKey = k.key;
        this.lastStateShown = k.shown;
        this.lastStateAt = performance.now();
        const f = this.faults;
        const m = this.membership;
        return [this.stateEvent(), { type: 'faults', blocked: [...f.blocked], dropRate: f.dropRate, latencyMs: f.latencyMs }, ...(m ? [{ type: 'config' as const, voters: m.voters.slice(), learners: m.learners.slice() }] : [])];
      },
      log: (text) => this.logger.important(text),
      ...(this.opts.clock ? { fromRelay: (m: unknown) => this.opts.clock!.fromRelay(m), link: (up: boolean) => this.opts.clock!.relayLink(up) } : {}),
      maxQueue: this.opts.reporterQueue,
      maxFrameBytes: config.limits.maxFrameBytes,
    });
  }

  close(): void {
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = null;
    this.reporter?.close();
  }

  /** With -v on the village clock: what it holds and when its timer is due. */
  clockReport(body: ClockReport): void {
    this.reporter?.emit({ type: 'clock', ...body });
  }

  // ---- what the core did ----

  coreEvent(ev: CoreEvent): void {
    const L = this.logger;
    switch (ev.kind) {
      case 'role':
        this.updateContext(ev.role, ev.term);
        if (ev.role === 'leader') L.important(`became LEADER for term ${ev.term}`);
        else if (ev.role === 'candidate') L.important(`became candidate for term ${ev.term}: asking for votes`);
        else if (ev.role === 'precandidate') L.important(`election timeout: pre-vote (could I win term ${ev.term + 1}?)`);
        else L.important(`became follower in term ${ev.term}${ev.leader ? `; leader ${ev.leader}` : ''}`);
        break;
      case 'term':
        this.updateContext(this.ctxRole, ev.term);
        L.line(`term is now ${ev.term}`);
        break;
      case 'vote':
        L.important(`voted for ${ev.vote} in term ${ev.term}`);
        break;
      case 'vote_granted':
        L.line(`${ev.preVote ? 'pre-vote' : 'vote'} granted by ${ev.from} for term ${ev.term} (${ev.votes} of ${ev.needed} needed)`);
        break;
      case 'append':
        L.line(`appended entries ${ev.from}..${ev.to} (term ${ev.term})`);
        break;
      case 'truncate':
        L.important(`log conflict: removed entries from index ${ev.from} on`);
        break;
      case 'commit': {
        L.line(`committed through index ${ev.index}`);
        if (!this.reporter) break;
        // The entries are on disk (saved before the Ready's events are told), so their ph is known.
        const ph = this.described.ph(ev.index);
        this.reporter.emit(ph === undefined ? { type: 'commit', index: ev.index } : { type: 'commit', index: ev.index, term: this.core.status().term, ph });
        break;
      }
      case 'election_deadline':
        break;
      case 'leader_change':
        L.important(ev.leader ? `leader is ${ev.leader} (term ${ev.term})` : `no known leader (term ${ev.term})`);
        break;
      case 'step_down':
        L.important(`stepped down in term ${ev.term}: ${ev.reason}`);
        break;
      default: {
        const never: never = ev;
        void never;
      }
    }
  }

  /**
   * A durable save is done (write number `w`, hard state `hs` on disk): the entries it removed
   * (with the write's term), the ones it added (tiles with their prefix hash), then `persisted`.
   */
  saved(entries: readonly Entry[], w: number, hs: HardState): void {
    const { cutFrom, tiles, persisted } = this.described.write(entries, w, hs);
    if (!this.reporter) return;
    if (cutFrom !== null) this.reporter.emit({ type: 'log_truncate', from: cutFrom, term: hs.term });
    // The tiles carry the write's acknowledgement (`durable`) instead of a `persisted` after them.
    if (tiles.length > 0 && persisted) this.reporter.emit({ type: 'log_append', entries: tiles, durable: { w: persisted.w, term: persisted.term, vote: persisted.vote } });
    else if (tiles.length > 0) this.reporter.emit({ type: 'log_append', entries: tiles });
    else if (persisted) this.reporter.emit({ type: 'persisted', ...persisted });
  }

  /** An entry was applied to the store (called after the store changed). */
  applied(e: Entry, outcome: ApplyOutcome): void {
    if (e.data === null && !this.reporter) return;
    const decoded = e.data === null ? null : decodeEntry(e.data);
    const label = decoded === null ? 'noop' : decoded.ok ? formatCommand(decoded.entry.command) : '?';
    if (e.data !== null) {
      this.logger.line(`applied ${e.index} (term ${e.term}): ${label} -> ${outcome.ok ? JSON.stringify(outcome.value) : `error: ${outcome.message}`}`);
    }
    if (this.reporter) {
      const key = outcome.ok ? outcome.key : null;
      this.appliedNow.push({
        index: e.index,
        term: e.term,
        h: entryHash(e.data),
        command: decoded && decoded.ok ? commandWords(decoded.entry.command) : null,
        ok: outcome.ok,
        result: outcome.ok ? outcome.value : outcome.message,
        key,
        value: key === null ? null : this.store.valueOf(key),
      });
    }
  }

  /** The committed entries of one Ready are applied: one `apply` event for them (a turn applies dozens under load). */
  appliedReady(): void {
    if (this.appliedNow.length === 0) return;
    this.reporter?.emit({ type: 'apply', entries: this.appliedNow });
    this.appliedNow = [];
  }

  /** A batch of Readies is handled: the log prefix and the relay's `state` follow the core. */
  batchHandled(): void {
    this.updateContext();
    if (this.reporter) this.reportState();
  }

  /** The configuration in force changed (or is known for the first time): a `config` event. */
  configuration(m: Membership): void {
    this.membership = m;
    this.reporter?.emit({ type: 'config', voters: m.voters.slice(), learners: m.learners.slice() });
  }

  // ---- snapshots (peer/snapshots.ts) ----

  /** The prefix hash of the durable log through `index` (for a snapshot taken there), or null. */
  phAt(index: number): number | null {
    return this.described.ph(index) ?? null;
  }

  /** A snapshot this peer took is durable (`file`, `bytes`); `ms`: how long encoding and writing took. */
  snapshotWritten(index: number, term: number, keys: number, file: string, bytes: number, ms: { image: number; encode: number; write: number }): void {
    this.logger.important(
      `snapshot at index ${index} (term ${term}): ${keys} keys, ${bytes} bytes in ${file} ` +
        `(copied in ${ms.image.toFixed(1)} ms, encoded in ${ms.encode.toFixed(0)} ms, written in ${ms.write.toFixed(0)} ms)`,
    );
  }

  /** The durable log now starts after `index` (Ready.compact). */
  compacted(index: number, term: number): void {
    const base = this.described.compact(index, term);
    this.logger.line(`log compacted: the durable log now starts after entry ${index} (term ${term}), which a durable snapshot covers`);
    if (base && this.reporter) this.reporter.emit({ type: 'snapshot', reason: 'compacted', ...base, lastIndex: this.described.lastIndex });
  }

  /** A leader's snapshot is durable here and replaces the store; `kept`: the log held its last entry, and the entries after it stay. */
  installed(from: PeerId | null, point: LogPoint, kept: boolean, keys: number): void {
    this.described.install(point, kept);
    this.logger.important(
      `installed a snapshot${from ? ` from ${from}` : ''} at index ${point.index} (term ${point.term}): ${keys} keys; ` +
        (kept ? 'the log after it is kept' : 'the log before it is discarded'),
    );
    this.reporter?.emit({ type: 'snapshot', reason: 'installed', ...point, lastIndex: this.described.lastIndex });
  }

  faultsChanged(f: Faults): void {
    this.faults = { ...f, blocked: [...f.blocked] };
    this.logger.important(
      `faults: ${f.blocked.length ? `blocking ${f.blocked.join(', ')}` : 'no peers blocked'}, drop rate ${f.dropRate}, added latency ${f.latencyMs} ms`,
    );
    this.reporter?.emit({ type: 'faults', blocked: [...f.blocked], dropRate: f.dropRate, latencyMs: f.latencyMs });
  }

  // ---- messages ----

  received(env: PeerEnvelope): void {
    const hb = this.heartbeat(env, false);
    if (hb) this.logger.heartbeat(`${env.type === 'append_entries' ? 'heartbeat' : 'heartbeat reply'} from ${env.from}`);
    else this.logger.line(`<- ${env.from} ${describeRpc(env)}`);
    if (this.reporter) this.reporter.emit(rpcEvent({ type: 'rpc_recv', from: env.from }, env, hb));
  }

  sent(env: PeerEnvelope): void {
    const hb = this.heartbeat(env, true);
    if (hb) this.logger.heartbeat(`${env.type === 'append_entries' ? 'heartbeat' : 'heartbeat reply'} to ${env.to}`);
    else this.logger.line(`-> ${env.to} ${describeRpc(env)}`);
    if (this.reporter) this.reporter.emit(rpcEvent({ type: 'rpc_send', to: env.to }, env, hb));
  }

  dropped(env: PeerEnvelope, reason: DropReason, incoming: boolean): void {
    const hb = env.type === 'append_entries' ? env.entries.length === 0 : false;
    const other = incoming ? env.from : env.to;
    if (hb || reason === 'disconnected') this.logger.heartbeat(`dropped (${reason}) ${incoming ? 'from' : 'to'} ${other}`);
    else this.logger.line(`dropped (${reason}) ${incoming ? `<- ${other}` : `-> ${other}`} ${describeRpc(env)}`);
    // An incoming drop ends a flight another peer started: reported with to = this peer.
    if (this.reporter) this.reporter.emit(rpcEvent({ type: 'rpc_drop', to: env.to, reason }, env, hb));
  }

  invalid(from: PeerId, message: string): void {
    this.logger.line(`dropped an invalid frame from ${from}: ${message}`);
  }

  link(peer: PeerId, up: boolean): void {
    this.logger.line(up ? `connected to ${peer}` : `lost the connection to ${peer}; redialling`);
  }

  refused(path: string, status: number, reason: string, remote: string): void {
    this.noisy(`refused ${path} from ${remote}: ${status} ${reason}`, `${path} ${status} ${reason}`);
  }

  rejected(peer: PeerId, status: number, reason: string): void {
    this.noisy(`${peer} refused our connection: ${status} ${reason}`, `${peer} ${status} ${reason}`);
  }

  // ---- inside ----

  /** A line for the log file every time, and for stdout at most once a minute per kind. */
  private noisy(text: string, kind: string): void {
    const t = Date.now();
    const last = this.echoed.get(kind);
    if (last !== undefined && t - last < 60_000) return this.logger.line(text);
    if (this.echoed.size > 1000) this.echoed.clear();
    this.echoed.set(kind, t);
    this.logger.important(text);
  }

  /** The "[term 3 leader]" prefix of log lines; without arguments, from the core's status. */
  private updateContext(role?: PeerRole, term?: number): void {
    const st = role === undefined || term === undefined ? this.core.status() : null;
    this.ctxRole = role ?? st!.role;
    this.logger.setContext(`term ${term ?? st!.term} ${this.ctxRole}`);
  }

  private heartbeat(m: RaftMessage, outgoing: boolean): boolean {
    if (m.type === 'append_entries') return m.entries.length === 0;
    if (m.type !== 'append_entries_reply' || !m.success) return false;
    const peer = outgoing ? m.to : m.from;
    const seen = outgoing ? this.sentMatch : this.recvMatch;
    const before = seen.get(peer);
    seen.set(peer, m.matchIndex);
    return before === m.matchIndex;
  }

  /**
   * A `state` event when the state changed: at once when the role, term, vote, leader or log
   * start changed; when only the log's end, the commit and apply indexes or the election deadline
   * moved (every batch under load, every AppendEntries on a follower), at most one every
   * STATE_SPACING_MS, the last of them sent when the spacing is over. The relay and the page
   * take the commit and apply indexes and the log's tiles from their own events as they come.
   */
  private reportState(): void {
    if (!this.reporter) return;
    const { shown, key } = this.stateKeys();
    if (key === this.lastStateKey) return;
    const now = performance.now();
    if (shown === this.lastStateShown && now - this.lastStateAt < STATE_SPACING_MS) {
      if (!this.stateTimer) {
        this.stateTimer = setTimeout(() => {
          this.stateTimer = null;
          this.reportState();
        }, this.lastStateAt + STATE_SPACING_MS - now);
        this.stateTimer.unref();
      }
      return;
    }
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = null;
    this.lastStateKey = key;
    this.lastStateShown = shown;
    this.lastStateAt = now;
    this.reporter.emit(this.stateEvent());
  }

  /** What the `state` event would say: `shown`, the part sent at once when it changes, and all of it. */
  private stateKeys(): { shown: string; key: string } {
    const st = this.core.status();
    const deadline = st.electionDeadline === null ? null : Math.round(st.electionDeadline);
    const shown = `${st.role}|${st.term}|${st.vote}|${st.leader}|${this.core.firstIndex?.()}`;
    return { shown, key: `${shown}|${st.commitIndex}|${this.store.appliedIndex}|${st.lastIndex}|${st.lastTerm}|${deadline}` };
  }

  /**
   * The full state for a reader that missed events: the core's role, term, vote, leader and
   * commit, and the durable log as described so far. Null while the core's commit index is past
   * the described log (entries stepped but not yet saved: a moment later it is not).
   */
  private resyncEvent(): PeerEventBody | null {
    const st = this.core.status();
    const log = this.described;
    const commitPh = log.ph(st.commitIndex);
    if (commitPh === undefined) return null;
    const d = log.lastWrite();
    return {
      type: 'resync', role: st.role, term: st.term, vote: st.vote, leader: st.leader, commit: st.commitIndex, commitPh,
      lastIndex: d.lastIndex, lastTerm: d.lastTerm, lastPh: d.lastPh, base: log.base,
      durable: { w: d.w, term: d.term, vote: d.vote },
      // Within a quarter of a frame, whatever the commands' size.
      tail: log.tail(this.opts.config.limits.maxFrameBytes / 4),
      ...(this.membership ? { config: { voters: this.membership.voters.slice(), learners: this.membership.learners.slice() } } : {}),
    };
  }

  private stateEvent(): PeerEventBody {
    const st = this.core.status();
    return {
      type: 'state',
      ...stateOf(st, this.store.appliedIndex),
      // A duration as well: the relay's machine may keep another time.
      electionInMs: st.electionDeadline === null ? null : Math.max(0, Math.round(st.electionDeadline - this.opts.now())),
      ...this.logStart(),
    };
  }

  /** `state.log`: where the log begins, once there is a snapshot (kept small: three numbers). */
  private logStart(): { log?: LogStart } {
    const snap = this.core.snapshotMeta?.();
    if (!snap || snap.index === 0) return {};
    return { log: { firstIndex: this.core.firstIndex!(), snapshotIndex: snap.index, snapshotTerm: snap.term } };
  }
}

/** The peer's state as the relay's `state` event and the admin `status` show it. */
export function stateOf(st: NodeStatus, appliedIndex: number) {
  return {
    role: st.role,
    term: st.term,
    vote: st.vote,
    leader: st.leader,
    commitIndex: st.commitIndex,
    appliedIndex,
    lastIndex: st.lastIndex,
    lastTerm: st.lastTerm,
    electionDeadline: st.electionDeadline === null ? null : Math.round(st.electionDeadline),
  };
}

/** The first lines of a peer's log: who it is, its cluster and its timing. */
export function narrateStart(logger: NarratorLog, name: PeerId, cluster: readonly PeerAddress[], profile: string, timing: Timing): void {
  logger.setContext('starting');
  logger.important(
    `${name} (pid ${process.pid}) starting in a cluster of ${cluster.length}: ${cluster.map((p) => p.name).join(', ')}; ` +
      `profile ${profile} (heartbeat ${timing.heartbeatMs} ms, election ${timing.electionMinMs}-${timing.electionMaxMs} ms, latency ${timing.latencyMs} ms)`,
  );
}

/** What the peer found in its durable state, and any damaged tail it cut. */
export function narrateRecovery(logger: NarratorLog, dataDir: string, report: RecoveryReport, state: PersistedState): void {
  const hs = state.hardState;
  if (report.dataIdNote) logger.important(`storage: ${report.dataIdNote}`);
  logger.important(
    `recovered from ${dataDir}: ${report.records} records, term ${hs.term}, vote ${hs.vote ?? 'none'}, commit ${hs.commit}, ` +
      `${state.entries.length} entries, through write ${report.lastWrite}; data id ${report.dataId}` +
      (report.cutBytes > 0 ? `; CUT ${report.cutBytes} bytes of damaged tail (${report.cutReason ?? 'torn write'})` : ''),
  );
}

type RpcHead = { type: 'rpc_send'; to: PeerId } | { type: 'rpc_recv'; from: PeerId } | { type: 'rpc_drop'; to: PeerId; reason: DropReason };

/** A letter's event: `head` (its type and the other peer) with the letter's summary set on it. */
function rpcEvent(head: RpcHead, m: PeerEnvelope, heartbeat: boolean): PeerEventBody {
  const s = head as RpcHead & RpcSummary;
  s.rid = m.rid;
  s.rpc = m.type;
  s.term = m.term;
  s.heartbeat = heartbeat;
  s.entries = m.type === 'append_entries' ? m.entries.length : 0;
  switch (m.type) {
    case 'request_vote':
      s.preVote = m.preVote;
      s.lastLogIndex = m.lastLogIndex;
      s.lastLogTerm = m.lastLogTerm;
      break;
    case 'request_vote_reply':
      s.preVote = m.preVote;
      s.ok = m.granted;
      break;
    case 'append_entries':
      s.prevLogIndex = m.prevLogIndex;
      s.prevLogTerm = m.prevLogTerm;
      s.leaderCommit = m.leaderCommit;
      break;
    case 'append_entries_reply':
      s.ok = m.success;
      s.matchIndex = m.matchIndex;
      if (m.conflictIndex !== undefined) s.conflictIndex = m.conflictIndex;
      if (m.conflictTerm !== undefined) s.conflictTerm = m.conflictTerm;
      break;
    case 'install_snapshot':
      s.chunk = { index: m.snapshotIndex, offset: m.offset, bytes: m.data.length, size: m.size };
      break;
    case 'install_snapshot_reply':
      s.ok = m.matchIndex > 0;
      s.chunk = { index: m.snapshotIndex, offset: m.offset, bytes: 0, size: 0 };
      break;
    case 'timeout_now':
      break;
  }
  return s;
}

/** One RPC as a log line: "RequestVote term 4 last 7/3", "AppendEntries term 3 prev 4/3 entries 5..7 commit 4". */
export function describeRpc(m: RaftMessage): string {
  switch (m.type) {
    case 'request_vote':
      return `${m.preVote ? 'PreVote' : 'RequestVote'} term ${m.term} last log ${m.lastLogIndex}/${m.lastLogTerm}${m.force ? ' (forced)' : ''}`;
    case 'request_vote_reply':
      return `${m.preVote ? 'PreVote' : 'RequestVote'} reply term ${m.term}: ${m.granted ? 'granted' : 'refused'}`;
    case 'append_entries':
      return (
        `AppendEntries term ${m.term} prev ${m.prevLogIndex}/${m.prevLogTerm} ` +
        (m.entries.length === 0 ? 'heartbeat' : `entries ${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}`) +
        ` commit ${m.leaderCommit}`
      );
    case 'append_entries_reply':
      return m.success
        ? `AppendEntries reply term ${m.term}: ok, match ${m.matchIndex}`
        : `AppendEntries reply term ${m.term}: rejected prev ${m.matchIndex}${m.conflictIndex !== undefined ? `, conflict at ${m.conflictIndex}${m.conflictTerm !== undefined ? ` term ${m.conflictTerm}` : ''}` : ''}`;
    case 'timeout_now':
      return `TimeoutNow term ${m.term} (leadership transfer)`;
    case 'install_snapshot':
      return `InstallSnapshot term ${m.term} snapshot ${m.snapshotIndex}/${m.snapshotTerm} bytes ${m.offset}..${m.offset + m.data.length} of ${m.size}`;
    case 'install_snapshot_reply':
      return `InstallSnapshot reply term ${m.term} snapshot ${m.snapshotIndex}: holds ${m.offset}${m.matchIndex > 0 ? `, installed (match ${m.matchIndex})` : ''}`;
  }
}
