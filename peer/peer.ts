// The peer's shell: everything around the pure Raft core that touches the world.
// It owns the core (RaftNode), the durable log, the key-value store, the network and one timer,
// and keeps the clients' waiters (writes until applied, reads until served). After every input
// (a message, the timer, a proposal, a read, a forced election) it takes the core's Ready batch:
//   0. a leader's AppendEntries (Ready.early) leave at once, before the leader's own fsync;
//   1. persist hard state + entries with ONE fsync (DurableLog.save) and report the save to the
//      core (node.persisted: only then does a leader count its own copy toward commitment);
//   2. send the other messages (votes, acknowledgements: never before the save);
//   3. apply committed entries to the store in order, answer the clients waiting for them, and
//      serve linearizable reads once applied through their read index.
// While a save is in flight, further Readies accumulate and go to disk together in the next
// save (group commit): under load, one fsync covers many commands.
// The timer is a single setTimeout re-armed to node.nextDeadline(). What the peer says about all
// this (log lines, -v events) is the Narrator's job; /client and /admin are their own modules;
// snapshots and log compaction are snapshots.ts (an installed snapshot is persisted in step 1).
import { join } from 'node:path';
import type { Config, PeerAddress, Timing } from '../shared/config.ts';
import { badCommandResult, notLeaderResult, okResult, unknownResult as unknown, type CommandResult, type RequestCommand } from '../shared/client-protocol.ts';
import type { PeerRole } from '../shared/events.ts';
import type { Faults, PeerEnvelope, PeerStatus } from '../shared/peer-protocol.ts';
import { serveAdmin, type AdminHandler } from './admin-server.ts';
import { serveClient, type CommandHandler } from './client-server.ts';
import { MembershipKeeper, membershipDeps, membershipOptions } from './membership.ts';
import { isReadOnly, parseCommand, type KvCommand } from '../shared/kv-commands.ts';
import { endpointUrl } from '../shared/tls.ts';
import { encodeEntry, KvStore } from './kv.ts';
import { PeerLogger } from './logger.ts';
import { RaftNode } from './raft/node.ts';
import { Narrator, narrateRecovery, narrateStart, stateOf } from './narrator.ts';
import type { Entry, HardState, PeerId, PlantedBug, Ready } from './raft/types.ts';
import { plantRecovered } from './planted.ts';
import type { DurableLog } from './storage.ts';
import { mergeForSave } from './group-commit.ts';
import { openDurableState, Snapshots, type OpenedState } from './snapshots.ts';
import { fileTap, Transport } from './transport.ts';
import { PeerClock } from './village-clock.ts';

export interface PeerShellOptions {
  config: Config;
  self: PeerAddress;
  cluster: PeerAddress[]; // the initial voters (the first N); configuration entries in the log override them
  join?: boolean; // start as a newcomer: a learner until the leader promotes it (--join)
  profile: string;
  timing: Timing;
  verbose: boolean;
  /** Short lines for important events on stdout (default true). */
  echo?: boolean;
  /** Directory where every /raft frame this peer sends is appended to <name>.jsonl (RAFT_WIRE_TAP). */
  wireTap?: string;
  reporterQueue?: number; // size of the -v reporter's queue (default 10,000)
  plantBug?: PlantedBug | undefined; // for testing the safety monitor (RAFT_PLANT_BUG, peer/planted.ts); off by default
  /** Called when the peer cannot go on (a failed fsync): it has logged why; the caller exits. */
  onFatal?(error: Error): void;
  onRemoved?(why: string): void; // a committed change removed the peer: it has stopped; the caller exits
}

interface WriteWaiter {
  id: string;
  index: number;
  term: number;
  deadline: number;
  reply(r: CommandResult): void;
}

interface ReadWaiter {
  id: string;
  ctx: string;
  command: KvCommand;
  deadline: number;
  index: number | null;
  reply(r: CommandResult): void;
}

export class PeerShell implements CommandHandler, AdminHandler {
  readonly name: PeerId;
  private readonly node: RaftNode;
  private readonly kv = new KvStore();
  private readonly log: DurableLog;
  private readonly transport: Transport;
  /** The core's clock: real time, or the village's when the relay offers a clock (village-clock.ts). */
  private readonly clock: PeerClock;
  private readonly logger: PeerLogger;
  private readonly narrator: Narrator;
  readonly membership: MembershipKeeper;
  private readonly snapshots: Snapshots;
  private readonly cluster: PeerId[];
  private readonly commandTimeoutMs: number;
  private readonly maxEntryBytes: number;

  private queue: Ready[] = [];
  private flushing = false;
  /** afterInput() is due at the end of this poll (see afterInputsOfThisTurn). */
  private inputsPending = false;
  private inFlight: Promise<number> | null = null;
  /** The last hard state given to the durable log. */
  private saved: HardState | null;
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private readonly sweeper: NodeJS.Timeout;
  private stopped = false;

  private readonly writes = new Map<number, WriteWaiter>();
  private readonly reads = new Map<string, ReadWaiter>();
  private servable: ReadWaiter[] = [];
  private readSeq = 0;

  private role: PeerRole = 'follower';
  private term = 0;

  private constructor(
    private readonly opts: PeerShellOptions,
    opened: OpenedState,
    logger: PeerLogger,
  ) {
    const { config, self, cluster, timing } = opts;
    this.name = self.name;
    this.cluster = cluster.map((p) => p.name);
    this.logger = logger;
    this.log = opened.log;
    this.commandTimeoutMs = Math.max(3000, 4 * (timing.electionMaxMs + 2 * timing.latencyMs));
    this.maxEntryBytes = Math.floor(config.limits.maxFrameBytes / 2) - 1024;
    const persisted = opened.state;
    this.saved = persisted.hardState;
    const clock = (this.clock = new PeerClock({ name: self.name, maxPauseMs: config.relay.maxPauseS * 1000, deliver: (envs) => this.receive(envs), dropped: (env) => this.narrator.dropped(env, 'dropped', true), fire: () => this.onTimer(),
      nextDeadline: () => this.node.nextDeadline(), rearm: () => this.arm(true), report: (b) => this.narrator.clockReport(b), log: (l) => this.logger.important(l) }));
    this.node = new RaftNode(
      {
        id: self.name,
        ...membershipOptions(self.name, cluster, config.peers, opts.join === true),
        heartbeatMs: timing.heartbeatMs,
        electionMinMs: timing.electionMinMs,
        electionMaxMs: timing.electionMaxMs,
        random: Math.random,
        maxEntriesPerAppend: config.limits.maxEntriesPerAppend,
        // An AppendEntries must fit in one frame, JSON escaping included.
        maxBytesPerAppend: Math.min(config.limits.maxBytesPerAppend, Math.floor(config.limits.maxFrameBytes / 4)),
        maxInflightAppends: config.limits.maxInflightAppends,
        preVote: true,
        checkQuorum: true,
        snapshotTrailingEntries: config.limits.snapshotTrailingEntries,
        plantBug: opts.plantBug,
      },
      persisted,
      clock.now(),
    );
    ({ role: this.role, term: this.term } = this.node.status());
    this.narrator = new Narrator({ ...opts, logger, name: this.name, cluster: this.cluster, core: this.node, store: this.kv, recovered: { ...opened, base: opened.snapshot?.base }, now: () => clock.now(), clock });
    const [guard, kick, fatal] = [(fn: () => void) => this.guard(fn), () => this.afterInputsOfThisTurn(), (e: Error) => this.fatal(e)];
    const so = { dir: this.log.dir, limits: config.limits, log: this.log, node: this.node, kv: this.kv, narrator: this.narrator, guard, kick, fatal };
    this.snapshots = new Snapshots(so, opened.snapshot, persisted.snapshot?.index ?? 0);
    this.membership = new MembershipKeeper(membershipDeps(opts, persisted.hardState.commit, this.node, logger, {
      now: () => clock.now(), kick: () => this.afterInput(), report: (c) => this.narrator.configuration(c), removed: (why) => void this.stop().then(() => opts.onRemoved?.(why)),
    }));
    this.transport = new Transport({
      self,
      cluster: config.peers,
      dial: cluster.map((p) => p.name),
      secret: config.secret,
      maxFrameBytes: config.limits.maxFrameBytes,
      latencyMs: timing.latencyMs,
      deliver: (envs) => this.receive(envs),
      onClient: (ws) => serveClient(ws, this, config.limits.maxFrameBytes, (m) => this.logger.line(`client: bad frame (${m})`)),
      onAdmin: (ws) => serveAdmin(ws, this, config.peers.map((p) => p.name), (m) => this.logger.line(`admin: bad frame (${m})`), this.node),
      tap: opts.wireTap ? fileTap(opts.wireTap, self.name) : undefined,
      observer: this.narrator,
      hold: (envs, latencyMs) => clock.hold(envs, latencyMs),
    });
    this.sweeper = setInterval(() => this.sweep(), 100);
    this.sweeper.unref();
  }

  /**
   * Opens the durable state (throws StorageCorruptError on damage that is not a torn tail),
   * starts listening (throws if the port is taken) and starts the core's clock.
   */
  static async start(opts: PeerShellOptions): Promise<PeerShell> {
    const { config, self, cluster, profile, timing } = opts;
    const rotation = { maxBytes: config.limits.logFileBytes, keep: config.limits.logFilesKept };
    const logger = new PeerLogger(join(config.logDir, `${self.name}.log`), self.name, opts.echo ?? true, rotation);
    const dataDir = join(config.dataDir, self.name);
    narrateStart(logger, self.name, cluster, profile, timing);
    let opened: OpenedState;
    try {
      opened = openDurableState(dataDir, { onEvent: (m) => logger.line(`storage: ${m}`) });
    } catch (e) {
      logger.important(`cannot open the durable state in ${dataDir}: ${(e as Error).message}`);
      await logger.close();
      throw e;
    }
    if (opts.plantBug) opened = { ...opened, state: plantRecovered(opened.state, opts.plantBug) };
    narrateRecovery(logger, dataDir, opened.report, opened.state);
    const shell = new PeerShell(opts, opened, logger);
    try {
      await shell.transport.listen();
    } catch (e) {
      shell.logger.important((e as Error).message);
      await shell.stop();
      throw e;
    }
    logger.important(`listening on ${endpointUrl(self, '')} (/raft, /client, /admin); log ${join(config.logDir, `${self.name}.log`)}`);
    shell.narrator.startReporting();
    shell.afterInput();
    return shell;
  }

  // ---- inputs ----

  private receive(envs: PeerEnvelope[]): void {
    if (this.stopped) return;
    const t = this.clock.now();
    for (const env of envs) {
      this.narrator.received(env);
      this.guard(() => this.node.step(env, t));
    }
    this.afterInputsOfThisTurn();
  }

  private onTimer(): void {
    this.timer = null;
    this.armedFor = Infinity;
    if (this.stopped) return;
    this.guard(() => this.node.tick(this.clock.now()));
    this.afterInput();
  }

  /** The client contract: called by client-server.ts for every valid request_command. */
  command(req: RequestCommand, reply: (r: CommandResult) => void): void {
    if (this.stopped) return reply({ type: 'command_result', id: req.id, ok: false, error: 'unknown' });
    const parsed = parseCommand(req.command);
    if (!parsed.ok) return reply(badCommandResult(req.id, parsed.message));
    const st = this.node.status();
    if (st.role !== 'leader') return reply(notLeaderResult(req.id, st.leader));
    const t = this.clock.now();
    const deadline = t + this.commandTimeoutMs;
    if (isReadOnly(parsed.command)) {
      const ctx = `${this.name}:${++this.readSeq}`;
      this.reads.set(ctx, { id: req.id, ctx, command: parsed.command, deadline, index: null, reply });
      this.guard(() => this.node.readIndex(ctx, t));
    } else {
      const data = encodeEntry(parsed.command, req.client, req.seq);
      // The entry travels inside AppendEntries frames: keep it well under the frame limit.
      const wire = Buffer.byteLength(JSON.stringify(data));
      if (wire > this.maxEntryBytes) {
        return reply(badCommandResult(req.id, `the command is too large (${wire} bytes in the log; at most ${this.maxEntryBytes})`));
      }
      const res = this.node.propose(data, t);
      if (!res.ok) return reply(notLeaderResult(req.id, res.leader));
      const stale = this.writes.get(res.index);
      if (stale) stale.reply(unknown(stale.id, 'another leader replaced the entry'));
      this.writes.set(res.index, { id: req.id, index: res.index, term: res.term, deadline, reply });
    }
    this.afterInputsOfThisTurn();
  }

  /** Runs a core call; a throw there is a bug in the core, and going on could be unsafe. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fatal(new Error(`internal error in the Raft core: ${(e as Error).stack ?? e}`));
    }
  }

  // ---- the loop ----

  /**
   * Requests and peer messages that arrive in one poll of the event loop (many sockets can be
   * readable at once) are stepped first and handled together once the poll is done: one Ready,
   * so one AppendEntries per follower carries all of them and one save covers them.
   */
  private afterInputsOfThisTurn(): void {
    if (this.inputsPending) return;
    this.inputsPending = true;
    setImmediate(() => {
      this.inputsPending = false;
      this.afterInput();
    });
  }

  private afterInput(): void {
    if (this.stopped) return;
    if (this.node.hasReady()) {
      const rd = this.node.ready();
      // A leader's AppendEntries leave now, so the followers' fsyncs run in parallel with its
      // own (dissertation §10.2.1); the core counts the leader's copy once persisted() says so.
      if (rd.early.length > 0) this.transport.send(rd.early);
      this.snapshots.readyTaken(rd);
      this.queue.push(rd);
      if (!this.flushing) void this.flush();
    }
    this.arm();
  }

  private arm(force = false): void {
    const at = this.node.nextDeadline();
    if (at === this.armedFor && this.timer && !force) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = at;
    const wait = this.clock.delay(at); // Infinity: no deadline, or the village is paused
    if (Number.isFinite(wait)) this.timer = setTimeout(() => this.onTimer(), wait);
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const batch = this.queue;
        this.queue = [];
        const snapshot = await this.snapshots.beforeSave(batch);
        const saving = { ...mergeForSave(batch), snapshot };
        const { hardState, entries } = saving;
        if (!snapshot && hardState && entries.length === 0 && this.saved && hardState.term === this.saved.term && hardState.vote === this.saved.vote) {
          // Only the commit index moved: Raft may lose it in a crash (it is learned again), so
          // it is written without waiting for an fsync; the next durable save covers it.
          this.saved = hardState;
          this.log.save(hardState, [], false).catch((e: Error) => this.fatal(new Error(`cannot write the durable state: ${e.message}`)));
        } else if (hardState || entries.length > 0 || snapshot) {
          if (hardState) this.saved = hardState;
          this.inFlight = this.log.save(hardState, entries, true, true);
          const w = await this.inFlight;
          this.inFlight = null;
          if (this.stopped) return;
          this.guard(() => this.node.persisted(saving));
          this.narrator.saved(entries, w, this.saved!);
        }
        this.handle(batch);
        this.afterBatch();
        // The leader may now count its own copy: a commit is taken into the queue at once.
        if (this.node.hasReady()) this.afterInput();
      }
    } catch (e) {
      this.fatal(new Error(`cannot write the durable state: ${(e as Error).message}`));
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Steps 2 and 3 for Readies whose state is on disk: their messages go out in one call (one
   * frame per peer where they fit), then their committed entries are applied in order.
   */
  private handle(batch: Ready[]): void {
    for (const rd of batch) for (const ev of rd.events) this.narrator.coreEvent(ev), this.membership.coreEvent(ev);
    const messages = batch.length === 1 ? batch[0]!.messages : batch.flatMap((rd) => rd.messages);
    if (messages.length > 0) this.transport.send(messages);
    for (const rd of batch) if (rd.snapshotMessages.length > 0) this.transport.send(rd.snapshotMessages);
    for (const rd of batch) {
      this.snapshots.restoreIfInstalled(rd);
      for (const e of rd.committed) this.apply(e);
      this.narrator.appliedReady();
      for (const rs of rd.readStates) {
        const w = this.reads.get(rs.ctx);
        if (!w) continue;
        w.index = rs.index;
        this.servable.push(w);
      }
      for (const rf of rd.readFailures) {
        const w = this.reads.get(rf.ctx);
        if (!w) continue;
        this.reads.delete(rf.ctx);
        w.reply(notLeaderResult(w.id, rf.leader));
      }
    }
    this.serveReads();
    this.snapshots.maybeTake();
  }

  private afterBatch(): void {
    const st = this.node.status();
    if (st.role !== this.role || st.term !== this.term) {
      // Leading again in a later term still means the earlier term's waiters lost their leader.
      if (this.role === 'leader') this.lostLeadership(st.leader);
      this.role = st.role;
      this.term = st.term;
    }
    this.narrator.batchHandled();
    this.membership.afterBatch();
  }

  private apply(e: Entry): void {
    if (e.conf !== undefined) this.membership.committed(e);
    const outcome = this.kv.apply(e.data, e.index);
    this.snapshots.applied(e);
    const w = this.writes.get(e.index);
    if (w) {
      this.writes.delete(e.index);
      if (w.term !== e.term) w.reply(unknown(w.id, 'another leader replaced the entry'));
      else if (outcome.ok) w.reply(okResult(w.id, outcome.value, e.index, e.term));
      else w.reply(badCommandResult(w.id, outcome.message));
    }
    this.narrator.applied(e, outcome);
  }

  private serveReads(): void {
    if (this.servable.length === 0) return;
    const applied = this.kv.appliedIndex;
    const term = this.node.status().term;
    const rest: ReadWaiter[] = [];
    for (const w of this.servable) {
      if (!this.reads.has(w.ctx)) continue;
      if (w.index !== null && w.index <= applied) {
        this.reads.delete(w.ctx);
        const outcome = this.kv.read(w.command);
        w.reply(outcome.ok ? okResult(w.id, outcome.value, w.index, term) : badCommandResult(w.id, outcome.message));
      } else {
        rest.push(w);
      }
    }
    this.servable = rest;
  }

  private lostLeadership(leader: PeerId | null): void {
    if (this.writes.size > 0 || this.reads.size > 0) {
      this.logger.line(`lost leadership: ${this.writes.size} writes answered unknown, ${this.reads.size} reads not_leader`);
    }
    for (const w of this.writes.values()) w.reply(unknown(w.id, 'leadership lost'));
    this.writes.clear();
    for (const r of this.reads.values()) r.reply(notLeaderResult(r.id, leader));
    this.reads.clear();
    this.servable = [];
  }

  /** Answers requests that waited too long. */
  private sweep(): void {
    const t = this.clock.now();
    for (const w of this.writes.values()) {
      if (w.deadline > t) continue;
      this.writes.delete(w.index);
      w.reply(unknown(w.id, `not applied within ${this.commandTimeoutMs} ms`));
    }
    for (const r of this.reads.values()) {
      if (r.deadline > t) continue;
      this.reads.delete(r.ctx);
      r.reply(unknown(r.id, `read not served within ${this.commandTimeoutMs} ms`));
    }
  }

  // ---- the admin channel: called by admin-server.ts ----

  setFaults(change: Partial<Faults>): Faults {
    const f = this.transport.setFaults(change);
    if (Object.keys(change).length > 0) this.narrator.faultsChanged(f);
    return f;
  }

  campaign(): void {
    this.logger.important('forced election requested (admin)');
    this.guard(() => this.node.campaign(this.clock.now()));
    this.afterInput();
  }

  kvEntries(): Record<string, unknown> {
    return this.kv.entries();
  }

  status(): PeerStatus {
    const f = this.transport.faults;
    return {
      peer: this.name,
      pid: process.pid,
      cluster: this.cluster,
      ...stateOf(this.node.status(), this.kv.appliedIndex),
      faults: { blocked: [...f.blocked], dropRate: f.dropRate, latencyMs: f.latencyMs },
      connected: this.transport.connected(),
      profile: this.opts.profile,
    };
  }

  // ---- stopping ----

  private fatal(error: Error): void {
    if (this.stopped) return;
    this.logger.important(`FATAL: ${error.message}`);
    void this.stop().then(() => this.opts.onFatal?.(error));
  }

  /** Stops everything; waiting clients get `unknown`. Waits for a save in flight. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.sweeper);
    this.membership.stop();
    this.clock.close();
    for (const w of this.writes.values()) w.reply(unknown(w.id, 'the peer is stopping'));
    this.writes.clear();
    for (const r of this.reads.values()) r.reply(unknown(r.id, 'the peer is stopping'));
    this.reads.clear();
    this.narrator.close();
    await this.transport.close();
    if (this.inFlight) await this.inFlight.catch(() => {});
    await this.snapshots.close();
    await this.log.close().catch((e: Error) => this.logger.line(`closing the durable log: ${e.message}`));
    this.logger.important('stopped');
    await this.logger.close();
  }
}
