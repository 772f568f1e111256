// A deterministic simulation of a Raft cluster: N in-memory RaftNodes, virtual time, a seeded
// network that drops, duplicates, delays, reorders and partitions, a disk whose saves take time
// (the shell's pipeline: a leader's early AppendEntries leave at once, everything else after the
// save, Readies taken meanwhile wait and go to disk together), crashes that lose all volatile
// state and every save not yet complete, clients proposing commands and issuing ReadIndex reads.
// Each peer's state machine snapshots itself every few entries (a threshold each seed picks); the
// disk keeps the snapshot and the log after it under the same durability rules as the rest, a
// restart loads the snapshot and replays the log, and a follower that fell behind the leader's
// compacted log is sent the snapshot (InstallSnapshot, chunked like appends).
//
// After every step the simulator checks the safety properties of the paper (Figure 3):
// Election Safety, Log Matching, Leader Completeness, State Machine Safety; plus "a peer votes
// at most once per term" (across restarts), "a committed entry is on the disks of a majority",
// "no acknowledged proposal is lost", ReadIndex linearizability and the storage contract, and for
// snapshots: "a disk never cuts its log past its durable snapshot", "a snapshot is the state of
// the committed entries it covers", "a state machine never moves back". With compacted logs the
// checks compare what is still present, and a snapshot stands for the committed prefix it covers.
// Once the faults heal it checks liveness: a leader is
// elected and new proposals commit everywhere within a bounded (simulated) time.
//
// Everything random follows from the seed, so a failing seed replays exactly.
import { plantRecovered } from '../../peer/planted.ts';
import { RaftNode } from '../../peer/raft/node.ts';
import type { ConfChange, Config, Entry, HardState, NodeStatus, PlantedBug, RaftMessage, RaftOptions, Ready, Snapshot } from '../../peer/raft/types.ts';
import { Heap } from './heap.ts';
import { between, mix, mulberry32, pick, type Rng } from '../../shared/random.ts';

export type ViolationKind =
  | 'election_safety'
  | 'vote_once'
  | 'log_matching'
  | 'leader_completeness'
  | 'state_machine_safety'
  | 'lost_ack'
  | 'read_linearizability'
  | 'storage_contract'
  | 'durable_quorum'
  | 'durable_snapshot'
  | 'membership'
  | 'liveness'
  | 'exception';

export interface Violation {
  kind: ViolationKind;
  message: string;
  time: number;
}

export type Membership = 'none' | 'grow' | 'shrink';

export interface SimOptions {
  seed: number;
  peers: number;
  /**
   * Membership changes in the schedule (5 peers or more): 'grow' starts with two peers fewer as
   * voters and adds them (learner, then voter) one change at a time; 'shrink' removes two.
   * Default: each seed picks one of the three.
   */
  membership?: Membership;
  /** Simulated ms of faults before everything heals. */
  chaosMs?: number;
  /** After healing, a leader must be elected and new proposals applied everywhere within this many simulated ms. */
  livenessMs?: number;
  plantBug?: PlantedBug;
  /** Keep every trace line (for replays); otherwise only the last `traceTail`. */
  fullTrace?: boolean;
  traceTail?: number;
  /** Disable the direct vote-once check, to see that Election Safety alone catches a double vote. */
  checkVoteOnce?: boolean;
  /**
   * Disable the direct durable-quorum check, to see that the safety checks alone catch a leader
   * that counts its own copy before it is on disk.
   */
  checkDurableQuorum?: boolean;
}

export interface SimStats {
  simMs: number;
  steps: number;
  messages: number;
  dropped: number;
  proposals: number;
  acked: number;
  reads: number;
  readsServed: number;
  crashes: number;
  /** Acknowledgements that reached a leader while its own save of those entries was still running. */
  overtaken: number;
  terms: number;
  /** Simulated ms from healing to convergence. */
  healToConvergeMs: number;
  /** Snapshots taken by state machines, and snapshots installed from a leader. */
  snapshots: number;
  installs: number;
  /** Configuration changes accepted by a leader, and whether the target configuration was reached. */
  confChanges: number;
  membershipDone: boolean;
}

export interface SimResult {
  seed: number;
  peers: number;
  violation: Violation | null;
  /** Trace lines, oldest first (the tail unless fullTrace). */
  trace: string[];
  stats: SimStats;
  /** The core options this seed chose (batching, pipelining, PreVote, CheckQuorum). */
  setup: string;
  /** Arguments that replay this run: `npm run sim -- ${replayArgs}`. */
  replayArgs: string;
}

export const DEFAULT_CHAOS_MS = 3000;
export const DEFAULT_LIVENESS_MS = 10_000;
const HEARTBEAT = 50;
const ELECTION_MIN = 150;
const ELECTION_MAX = 300;
/** Proposals that must be acknowledged after healing before the run counts as converged. */
const FINAL_PROPOSALS = 3;

// ---------------------------------------------------------------- trace

type TraceKind = 'send' | 'drop' | 'recv' | 'tick' | 'event' | 'fault' | 'client' | 'check';

interface TraceRec {
  t: number;
  k: TraceKind;
  p: string;
  m?: RaftMessage;
  s?: string;
}

class Trace {
  private readonly ring: (TraceRec | undefined)[];
  private next = 0;
  private readonly all: TraceRec[] | null;

  constructor(tail: number, full: boolean) {
    this.ring = new Array(tail);
    this.all = full ? [] : null;
  }

  add(r: TraceRec): void {
    if (this.all) this.all.push(r);
    else {
      this.ring[this.next] = r;
      this.next = (this.next + 1) % this.ring.length;
    }
  }

  lines(): string[] {
    let recs: TraceRec[];
    if (this.all) recs = this.all;
    else {
      recs = [];
      for (let i = 0; i < this.ring.length; i++) {
        const r = this.ring[(this.next + i) % this.ring.length];
        if (r) recs.push(r);
      }
    }
    return recs.map(formatRec);
  }
}

function formatRec(r: TraceRec): string {
  const t = r.t.toFixed(1).padStart(8);
  switch (r.k) {
    case 'send':
      return `${t}  ${r.m!.from} -> ${r.m!.to}  ${formatMessage(r.m!)}${r.s ? `  (${r.s})` : ''}`;
    case 'recv':
      return `${t}  ${r.m!.to} <- ${r.m!.from}  ${formatMessage(r.m!)}`;
    case 'drop':
      return `${t}  ${r.m!.from} -x ${r.m!.to}  ${formatMessage(r.m!)}  (lost: ${r.s})`;
    case 'tick':
      return `${t}  ${r.p} ${r.s}`;
    case 'event':
      return `${t}  ${r.p} ${r.s}`;
    case 'fault':
      return `${t}  ** ${r.s}`;
    case 'client':
      return `${t}  client ${r.s}`;
    case 'check':
      return `${t}  !! ${r.s}`;
  }
}

export function formatEntries(entries: readonly Entry[]): string {
  const shown = entries.slice(0, 4).map((e) => `${e.index}/${e.term} ${e.data === null ? 'noop' : JSON.stringify(e.data)}`);
  if (entries.length > 4) shown.push(`... ${entries.length - 4} more`);
  return `[${shown.join(', ')}]`;
}

export function formatMessage(m: RaftMessage): string {
  switch (m.type) {
    case 'request_vote':
      return `${m.preVote ? 'PreVote' : 'RequestVote'} term=${m.term} last=${m.lastLogIndex}/${m.lastLogTerm}${m.force ? ' force' : ''}`;
    case 'request_vote_reply':
      return `${m.preVote ? 'PreVoteReply' : 'RequestVoteReply'} term=${m.term} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append_entries':
      return `AppendEntries term=${m.term} prev=${m.prevLogIndex}/${m.prevLogTerm} commit=${m.leaderCommit}${m.entries.length ? ` entries=${formatEntries(m.entries)}` : ''}${m.readSeq ? ` readSeq=${m.readSeq}` : ''}`;
    case 'append_entries_reply':
      return m.success
        ? `AppendEntriesReply term=${m.term} ok match=${m.matchIndex}${m.readSeq ? ` readSeq=${m.readSeq}` : ''}`
        : `AppendEntriesReply term=${m.term} reject prev=${m.matchIndex} hint=${m.conflictIndex ?? '-'}/${m.conflictTerm ?? '-'}${m.readSeq ? ` readSeq=${m.readSeq}` : ''}`;
    case 'timeout_now':
      return `TimeoutNow term=${m.term}`;
    case 'install_snapshot':
      return `InstallSnapshot term=${m.term} snapshot=${m.snapshotIndex}/${m.snapshotTerm} bytes ${m.offset}..${m.offset + m.data.length} of ${m.size}`;
    case 'install_snapshot_reply':
      return `InstallSnapshotReply term=${m.term} snapshot=${m.snapshotIndex} offset=${m.offset}${m.matchIndex ? ` match=${m.matchIndex}` : ''}`;
  }
}

// ---------------------------------------------------------------- the simulated world

/** A peer's disk: hard state, the newest durable snapshot, and the log after `base` (entries[i] has index base + 1 + i). */
interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  base: number;
  baseTerm: number;
  entries: Entry[];
}

function diskLast(d: Disk): number {
  return d.base + d.entries.length;
}

/** Term of the disk's entry at `index`: the base's term at the base, -1 if absent. */
function diskTerm(d: Disk, index: number): number {
  if (index === d.base) return d.baseTerm;
  return d.entries[index - d.base - 1]?.term ?? -1;
}

/** The snapshot encoding of the simulated state machine: its keys, sorted. */
function encodeKv(kv: Map<string, string>): string {
  return JSON.stringify([...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

function decodeKv(data: string): Map<string, string> {
  return new Map(JSON.parse(data) as [string, string][]);
}

interface SimPeer {
  id: string;
  idx: number;
  node: RaftNode | null;
  incarnation: number;
  disk: Disk;
  /** The shell's queue: Readies taken, waiting for the save in progress to finish. */
  queue: Ready[];
  /** The Readies of the save in progress (its completion is on the agenda), or null. */
  saving: Ready[] | null;
  /** The nemesis chose to crash this peer just before its save in progress completes. */
  crashBeforeSave: boolean;
  /** Volatile: the state machine and what the shell remembers about its proposals. */
  applied: number;
  kv: Map<string, string>;
  /** The index of the last snapshot this state machine took or restored. */
  snapIndex: number;
  proposals: Map<number, { term: number; data: string }>;
  /** Commit index of this incarnation already recorded by the checker. */
  recordedCommit: number;
  wasLeaderInTerm: number;
}

type AgendaItem =
  | { time: number; seq: number; kind: 'deliver'; msg: RaftMessage }
  | { time: number; seq: number; kind: 'fault' }
  | { time: number; seq: number; kind: 'depose'; peer: number; term: number }
  | { time: number; seq: number; kind: 'propose' }
  | { time: number; seq: number; kind: 'read' }
  | { time: number; seq: number; kind: 'restart'; peer: number }
  | { time: number; seq: number; kind: 'saved'; peer: number; incarnation: number }
  | { time: number; seq: number; kind: 'member' }
  | { time: number; seq: number; kind: 'heal' };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

class Stop extends Error {}

interface CommitRec {
  term: number;
  data: string | null;
  /** A term at or after the one in which the entry was committed (the observer's term). */
  commitTerm: number;
}

class Simulation {
  private readonly o: Required<Omit<SimOptions, 'plantBug' | 'membership'>> & { plantBug?: PlantedBug };
  private readonly rng: Rng;
  private readonly agenda = new Heap<AgendaItem>();
  private seq = 0;
  private now = 0;
  private readonly peers: SimPeer[] = [];
  private readonly byId = new Map<string, SimPeer>();
  private readonly ids: string[];
  private readonly core: Omit<RaftOptions, 'id' | 'peers' | 'random'>;
  readonly trace: Trace;
  readonly stats: SimStats = { simMs: 0, steps: 0, messages: 0, dropped: 0, proposals: 0, acked: 0, reads: 0, readsServed: 0, crashes: 0, overtaken: 0, terms: 0, healToConvergeMs: 0, snapshots: 0, installs: 0, confChanges: 0, membershipDone: true };
  violation: Violation | null = null;

  // Network
  private group: number[];
  private dropRate = 0;
  private dupRate = 0;
  private delayLo = 1;
  private delayHi = 10;
  private longRate = 0;
  private healed = false;
  private healTime = Infinity;
  /** Chance, per save, that the peer crashes just before it completes, after the fsync, or after sending. */
  private crashAtSaveRate = 0.004;
  /**
   * Chance, when a follower acknowledges entries that its leader is still saving (its
   * AppendEntries left early), that the leader crashes just before that save completes, and
   * restarts soon: the moment where a leader counting its own volatile copy loses a commit.
   */
  private readonly overtakeCrashRate: number;
  /** How long an fsync takes: uniform in [0.05, diskMs] ms, and now and then a stall of 10-60 ms. */
  private readonly diskMs: number;
  private readonly diskStallRate: number;
  /** Chance that a newly elected leader is crashed or cut off within its first 30 ms. */
  private deposeRate: number;
  /** Chance, per commit advance of a leader, that it is crashed or cut off within 5 ms. */
  private deposeAfterCommitRate: number;
  /** Longest pause between random faults. */
  private faultGapMs: number;
  private readonly nemesis: 'random' | 'targeted';
  /** The membership schedule, the initial voters and the voters it ends with. */
  private readonly membership: Membership;
  private readonly initialVoters: string[];
  private readonly targetVoters: string[];
  /** A state machine snapshots itself once this many entries were applied since its last snapshot (0: never). */
  private readonly snapshotEvery: number;
  /** Chance, per save that carries a snapshot, that the peer crashes just before it completes. */
  private readonly snapshotCrashRate: number;

  // Clients
  private nextData = 1;
  private nextRead = 1;
  private readonly reads = new Map<string, { peer: string; issued: number; minIndex: number }>();
  private readonly acked: { index: number; term: number; data: string; t: number }[] = [];
  private maxAckedIndex = 0;
  private ackedAfterHeal = 0;

  // Checker state
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly votes = new Map<string, string>();
  /** Every vote ever persisted, as peer:term:candidate (a second vote in a term too, when the vote-once check is off). */
  private readonly votesCast = new Set<string>();
  /** (index, term) of every entry any log ever held -> its data and the term before it. */
  private readonly seen = new Map<string, { data: string | null; parentTerm: number }>();
  /** Entries known committed, by index - 1. */
  private readonly committed: CommitRec[] = [];
  /** Highest committed index first observed in each term. */
  private readonly committedByTerm = new Map<number, number>();
  private maxTerm = 0;

  constructor(opts: SimOptions) {
    this.o = {
      seed: opts.seed,
      peers: opts.peers,
      chaosMs: opts.chaosMs ?? DEFAULT_CHAOS_MS,
      livenessMs: opts.livenessMs ?? DEFAULT_LIVENESS_MS,
      fullTrace: opts.fullTrace ?? false,
      traceTail: opts.traceTail ?? 80,
      checkVoteOnce: opts.checkVoteOnce ?? true,
      checkDurableQuorum: opts.checkDurableQuorum ?? true,
      ...(opts.plantBug ? { plantBug: opts.plantBug } : {}),
    };
    this.rng = mulberry32(mix(opts.seed, 1));
    this.trace = new Trace(this.o.traceTail, this.o.fullTrace);
    this.ids = Array.from({ length: opts.peers }, (_, i) => `n${i + 1}`);
    this.group = this.ids.map(() => 0);
    // Each seed also picks the core's tuning, so batching, pipelining, PreVote and CheckQuorum
    // are all exercised in every combination across seeds.
    const r = mulberry32(mix(opts.seed, 2));
    this.core = {
      heartbeatMs: HEARTBEAT,
      electionMinMs: ELECTION_MIN,
      electionMaxMs: ELECTION_MAX,
      maxEntriesPerAppend: pick(r, [1, 1, 2, 3, 8, 64]),
      maxBytesPerAppend: pick(r, [8, 40, 1 << 20]),
      maxInflightAppends: pick(r, [1, 2, 4, 8]),
      preVote: r() < 0.75,
      checkQuorum: r() < 0.75,
      ...(opts.plantBug ? { plantBug: opts.plantBug } : {}),
    };
    // Snapshots: often, so that logs are compacted and followers fall behind the leader's first
    // index; a few seeds never snapshot. Drawn from their own stream, so that the choices above
    // stay what they were for each seed.
    const rs = mulberry32(mix(opts.seed, 3));
    this.snapshotEvery = pick(rs, [0, 4, 8, 16, 40]);
    this.core.snapshotTrailingEntries = pick(rs, [0, 0, 1, 3, 10]);
    this.snapshotCrashRate = pick(rs, [0.02, 0.1]);
    const rm = mulberry32(mix(opts.seed, 4));
    this.membership = opts.peers < 5 ? 'none' : (opts.membership ?? pick(rm, ['none', 'grow', 'shrink'] as const));
    this.core.allPeers = this.ids;
    if (this.membership === 'grow') {
      this.initialVoters = this.ids.slice(0, opts.peers - 2);
      this.targetVoters = this.ids.slice();
    } else if (this.membership === 'shrink') {
      // Two voters leave, chosen by the seed: sometimes the leader of the moment is one of them.
      const leaving = new Set<string>();
      while (leaving.size < 2) leaving.add(pick(rm, this.ids));
      this.initialVoters = this.ids.slice();
      this.targetVoters = this.ids.filter((id) => !leaving.has(id));
    } else {
      this.initialVoters = this.ids.slice();
      this.targetVoters = this.ids.slice();
    }
    this.stats.membershipDone = this.membership === 'none';
    this.diskMs = pick(r, [0.2, 1, 5, 20]);
    this.diskStallRate = pick(r, [0, 0.01, 0.05]);
    // Two nemesis styles: 'random' strikes often and blindly; 'targeted' strikes rarely at random
    // but almost always cuts off or crashes a new leader while it is bringing followers up to date.
    this.nemesis = r() < 0.5 ? 'random' : 'targeted';
    this.faultGapMs = this.nemesis === 'random' ? 500 : 2000;
    this.deposeRate = this.nemesis === 'random' ? 0.3 : 0.9;
    this.deposeAfterCommitRate = this.nemesis === 'random' ? 0.03 : 0.05;
    this.overtakeCrashRate = this.nemesis === 'random' ? 0.05 : 0.2;
    for (let i = 0; i < opts.peers; i++) {
      const p: SimPeer = {
        id: this.ids[i]!,
        idx: i,
        node: null,
        incarnation: 0,
        disk: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, base: 0, baseTerm: 0, entries: [] },
        queue: [],
        saving: null,
        crashBeforeSave: false,
        applied: 0,
        kv: new Map(),
        snapIndex: 0,
        proposals: new Map(),
        recordedCommit: 0,
        wasLeaderInTerm: 0,
      };
      this.peers.push(p);
      this.byId.set(p.id, p);
    }
  }

  setup(): string {
    const c = this.core;
    return `peers=${this.o.peers} maxEntries=${c.maxEntriesPerAppend} maxBytes=${c.maxBytesPerAppend} inflight=${c.maxInflightAppends} nemesis=${this.nemesis} preVote=${c.preVote} checkQuorum=${c.checkQuorum} disk=${this.diskMs}ms stalls=${this.diskStallRate} snapshotEvery=${this.snapshotEvery} trailing=${c.snapshotTrailingEntries} membership=${this.membership}${this.membership !== 'none' ? ` (${this.initialVoters.join(',')} -> ${this.targetVoters.join(',')})` : ''}${c.plantBug ? ` plantBug=${c.plantBug}` : ''}`;
  }

  run(): void {
    try {
      for (const p of this.peers) this.start(p);
      this.schedule(between(this.rng, 50, 400), { kind: 'fault' });
      this.schedule(between(this.rng, 5, 40), { kind: 'propose' });
      this.schedule(between(this.rng, 20, 80), { kind: 'read' });
      this.schedule(this.o.chaosMs, { kind: 'heal' });
      if (this.membership !== 'none') this.schedule(between(this.rng, 100, 600), { kind: 'member' });
      const deadline = this.o.chaosMs + this.o.livenessMs;
      for (;;) {
        let nodeT = Infinity;
        let nodeP: SimPeer | null = null;
        for (const p of this.peers) {
          if (p.node === null) continue;
          const d = p.node.nextDeadline();
          if (d < nodeT) {
            nodeT = d;
            nodeP = p;
          }
        }
        const item = this.agenda.peek();
        const itemT = item === undefined ? Infinity : item.time;
        const t = Math.min(nodeT, itemT);
        if (t > deadline) {
          this.fail('liveness', `no convergence within ${this.o.livenessMs} ms after healing at ${this.healTime}: ${this.describePeers()}`);
        }
        if (t > this.now) this.now = t;
        this.stats.steps++;
        if (nodeP !== null && nodeT <= itemT) {
          const before = nodeP.node!.status().role;
          nodeP.node!.tick(this.now);
          const after = nodeP.node!.status().role;
          if (before !== after || after === 'leader') this.trace.add({ t: this.now, k: 'tick', p: nodeP.id, s: `tick (${before}${before !== after ? ` -> ${after}` : ''})` });
          this.afterInput(nodeP);
        } else {
          this.agenda.pop();
          this.handle(item!);
        }
        if (this.healed && this.converged()) {
          this.stats.healToConvergeMs = this.now - this.healTime;
          this.finalChecks();
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof Stop)) {
        const err = e as Error;
        this.violation = { kind: 'exception', message: `${err.message}\n${err.stack ?? ''}`, time: this.now };
      }
    }
    this.stats.simMs = this.now;
    this.stats.terms = this.maxTerm;
  }

  // ------------------------------------------------------------ agenda

  private schedule(delay: number, item: DistributiveOmit<AgendaItem, 'time' | 'seq'>): void {
    this.agenda.push({ ...item, time: this.now + delay, seq: this.seq++ } as AgendaItem);
  }

  private handle(item: AgendaItem): void {
    switch (item.kind) {
      case 'deliver': {
        const m = item.msg;
        const to = this.byId.get(m.to)!;
        if (to.node === null) {
          this.stats.dropped++;
          this.trace.add({ t: this.now, k: 'drop', p: m.to, m, s: `${m.to} is down` });
          return;
        }
        if (this.group[to.idx] !== this.group[this.byId.get(m.from)!.idx]) {
          this.stats.dropped++;
          this.trace.add({ t: this.now, k: 'drop', p: m.to, m, s: 'partitioned' });
          return;
        }
        this.trace.add({ t: this.now, k: 'recv', p: m.to, m });
        to.node.step(m, this.now);
        if (m.type === 'append_entries_reply' && m.success && to.saving !== null && m.matchIndex > diskLast(to.disk) && to.node.status().role === 'leader') {
          // An acknowledgement overtook the leader's own save: strike the leader there, sometimes.
          this.stats.overtaken++;
          if (!this.healed && !to.crashBeforeSave && this.rng() < this.overtakeCrashRate) to.crashBeforeSave = true;
        }
        this.afterInput(to);
        return;
      }
      case 'fault':
        if (this.healed) return;
        this.fault();
        this.schedule(between(this.rng, 50, this.faultGapMs), { kind: 'fault' });
        return;
      case 'depose': {
        // The nemesis strikes a new leader while it is still bringing followers up to date: the
        // window where entries of earlier terms are in flight (Figure 8).
        const p = this.peers[item.peer]!;
        if (this.healed || p.node === null) return;
        const st = p.node.status();
        if (st.role !== 'leader' || st.term !== item.term) return;
        if (this.rng() < 0.5) this.crash(p, 'crash');
        else {
          this.group = this.ids.map((_, i) => (i === p.idx ? 1 : 0));
          this.trace.add({ t: this.now, k: 'fault', p: '', s: `isolate ${p.id} (new leader of term ${st.term})` });
        }
        return;
      }
      case 'propose':
        this.propose();
        if (!this.healed) this.schedule(between(this.rng, 5, 40), { kind: 'propose' });
        else if (this.ackedAfterHeal < FINAL_PROPOSALS) this.schedule(50, { kind: 'propose' });
        return;
      case 'read':
        this.read();
        this.schedule(between(this.rng, 20, 80), { kind: 'read' });
        return;
      case 'restart': {
        const p = this.peers[item.peer]!;
        if (p.node === null) this.start(p);
        return;
      }
      case 'heal':
        this.heal();
        return;
      case 'member':
        if (this.memberStep()) this.schedule(between(this.rng, 20, 300), { kind: 'member' });
        return;
      case 'saved': {
        const p = this.peers[item.peer]!;
        // A crash lost the save: a new incarnation has nothing to finish.
        if (p.node !== null && p.incarnation === item.incarnation) this.saved(p);
        return;
      }
    }
  }

  // ------------------------------------------------------------ faults

  private fault(): void {
    const r = this.rng();
    const live = this.peers.filter((p) => p.node !== null);
    if (r < 0.25) {
      // A random partition: each peer lands in one of two or three groups.
      const groups = this.rng() < 0.7 ? 2 : 3;
      this.group = this.ids.map(() => Math.floor(this.rng() * groups));
      this.trace.add({ t: this.now, k: 'fault', p: '', s: `partition ${this.describeGroups()}` });
    } else if (r < 0.33) {
      // Isolate one peer (the leader, if there is one, half of the time).
      const leaders = live.filter((p) => p.node!.status().role === 'leader');
      const victim = leaders.length > 0 && this.rng() < 0.5 ? pick(this.rng, leaders) : pick(this.rng, this.peers);
      this.group = this.ids.map((_, i) => (i === victim.idx ? 1 : 0));
      this.trace.add({ t: this.now, k: 'fault', p: '', s: `isolate ${victim.id}` });
    } else if (r < 0.55) {
      this.group = this.ids.map(() => 0);
      this.trace.add({ t: this.now, k: 'fault', p: '', s: 'partition healed' });
    } else if (r < 0.75) {
      if (live.length > 0) {
        const leaders = live.filter((p) => p.node!.status().role === 'leader');
        const victim = leaders.length > 0 && this.rng() < 0.4 ? pick(this.rng, leaders) : pick(this.rng, live);
        this.crash(victim, 'crash');
      }
    } else if (r < 0.9) {
      this.dropRate = pick(this.rng, [0, 0, 0.05, 0.1, 0.3]);
      this.dupRate = pick(this.rng, [0, 0.02, 0.1]);
      this.delayLo = between(this.rng, 0.5, 5);
      this.delayHi = this.delayLo + pick(this.rng, [2, 10, 40]);
      this.longRate = pick(this.rng, [0, 0.01, 0.05]);
      this.trace.add({ t: this.now, k: 'fault', p: '', s: `network drop=${this.dropRate} dup=${this.dupRate} delay=${this.delayLo.toFixed(1)}..${this.delayHi.toFixed(1)}ms long=${this.longRate}` });
    } else if (live.length > 0) {
      const p = pick(this.rng, live);
      this.trace.add({ t: this.now, k: 'fault', p: '', s: `force election at ${p.id}` });
      p.node!.campaign(this.now);
      this.afterInput(p);
    }
  }

  private heal(): void {
    this.healed = true;
    this.healTime = this.now;
    this.group = this.ids.map(() => 0);
    this.dropRate = 0;
    this.dupRate = 0;
    this.delayLo = 0.5;
    this.delayHi = 5;
    this.longRate = 0;
    this.trace.add({ t: this.now, k: 'fault', p: '', s: 'heal: network reliable, partitions gone, every peer restarted' });
    for (const p of this.peers) if (p.node === null) this.start(p);
    this.schedule(1, { kind: 'propose' });
  }

  private crash(p: SimPeer, how: string, restartAfter?: number): void {
    if (p.node === null) return;
    // At rest, the disk must hold exactly the node's state; a save in progress is lost with it.
    if (how === 'crash' && p.saving === null && p.queue.length === 0) this.checkStorage(p);
    p.node = null;
    p.saving = null;
    p.queue = [];
    p.crashBeforeSave = false;
    this.stats.crashes++;
    this.trace.add({ t: this.now, k: 'fault', p: p.id, s: `${how} ${p.id}: volatile state lost` });
    if (!this.healed) this.schedule(restartAfter ?? between(this.rng, 30, 1500), { kind: 'restart', peer: p.idx });
  }

  private start(p: SimPeer): void {
    p.incarnation++;
    const random = mulberry32(mix(this.o.seed, 1000 + p.idx * 7919 + p.incarnation));
    const joiner = !this.initialVoters.includes(p.id);
    const opts: RaftOptions = { ...this.core, id: p.id, peers: this.initialVoters, ...(joiner ? { learners: [p.id] } : {}), random };
    const d = p.disk;
    const snapIndex = d.snapshot?.index ?? 0;
    if (d.entries.length > 0 && d.base > snapIndex) this.fail('durable_snapshot', `${p.id} restarts with a log starting at ${d.base + 1} after its snapshot at ${snapIndex}: entries ${snapIndex + 1}..${d.base} are nowhere on its disk`);
    // The same recovery as the peer's shell, planted bug included (forget_vote_on_restart).
    const recovered = plantRecovered({ hardState: { ...d.hardState }, ...(d.snapshot ? { snapshot: { ...d.snapshot } } : {}), entries: d.entries.slice() }, this.o.plantBug);
    p.node = new RaftNode(opts, recovered, this.now);
    // The state machine restarts from the snapshot; the log after it is replayed.
    p.applied = snapIndex;
    p.kv = d.snapshot ? decodeKv(d.snapshot.data) : new Map();
    p.snapIndex = snapIndex;
    p.proposals = new Map();
    p.recordedCommit = 0;
    p.wasLeaderInTerm = 0;
    if (p.incarnation > 1) {
      const hs = d.hardState;
      this.trace.add({ t: this.now, k: 'fault', p: p.id, s: `restart ${p.id} from disk: term=${hs.term} vote=${hs.vote ?? '-'} commit=${hs.commit} snapshot=${snapIndex} log=${d.base + 1}..${diskLast(d)}` });
    }
    this.afterInput(p);
  }

  // ------------------------------------------------------------ membership

  /**
   * The next single-server change toward the target configuration, proposed at a leader: grow
   * adds a learner, then promotes it once the leader says it caught up; shrink removes a voter.
   * Returns false once the target is reached (no more steps).
   */
  private memberStep(): boolean {
    const leaders = this.leaders();
    if (leaders.length === 0) return true;
    const p = pick(this.rng, leaders);
    const conf = p.node!.configuration();
    if (sameVoters(conf, this.targetVoters) && conf.learners.length === 0) {
      // Reached at this leader; stop once it is committed there.
      if (p.node!.status().commitIndex >= this.lastConfIndex(p)) {
        this.stats.membershipDone = true;
        return false;
      }
      return true;
    }
    let change: ConfChange | null = null;
    const extra = conf.voters.find((id) => !this.targetVoters.includes(id)) ?? conf.learners.find((id) => !this.targetVoters.includes(id));
    const learner = conf.learners.find((id) => this.targetVoters.includes(id));
    const missing = this.targetVoters.find((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
    if (extra !== undefined) change = { op: 'remove', peer: extra };
    else if (missing !== undefined && (learner === undefined || this.rng() < 0.5)) change = { op: 'add_learner', peer: missing };
    else if (learner !== undefined) change = { op: 'promote', peer: learner };
    if (change === null) return true;
    const r = p.node!.proposeConfChange(change, this.now);
    if (r.ok) {
      this.stats.confChanges++;
      this.trace.add({ t: this.now, k: 'client', p: p.id, s: `${change.op} ${change.peer} at ${p.id}: index ${r.index} term ${r.term}` });
      // One change at a time (§4.1): no other configuration entry may be uncommitted before it.
      const node = p.node!;
      for (let i = Math.max(node.status().commitIndex + 1, node.firstIndex()); i < r.index; i++) {
        if (node.entryAt(i)?.conf !== undefined) this.fail('membership', `${p.id} accepted ${change.op} ${change.peer} at ${r.index} while the configuration change at ${i} is not committed`);
      }
    } else if ('reason' in r) {
      this.trace.add({ t: this.now, k: 'client', p: p.id, s: `${change.op} ${change.peer} refused at ${p.id}: ${r.reason}` });
    }
    this.afterInput(p);
    return true;
  }

  /** Index of the latest configuration entry in the peer's log (0 if none is left in it). */
  private lastConfIndex(p: SimPeer): number {
    const node = p.node!;
    for (let i = node.status().lastIndex; i >= node.firstIndex(); i--) if (node.entryAt(i)?.conf !== undefined) return i;
    return 0;
  }

  // ------------------------------------------------------------ clients

  private leaders(): SimPeer[] {
    return this.peers.filter((p) => p.node !== null && p.node.status().role === 'leader');
  }

  private propose(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const p = pick(this.rng, leaders);
    const data = `k${Math.floor(this.rng() * 4)}=${this.nextData++}`;
    const r = p.node!.propose(data, this.now);
    this.stats.proposals++;
    if (r.ok) {
      p.proposals.set(r.index, { term: r.term, data });
      this.trace.add({ t: this.now, k: 'client', p: p.id, s: `proposes ${JSON.stringify(data)} at ${p.id}: index ${r.index} term ${r.term}` });
    }
    this.afterInput(p);
  }

  private read(): void {
    const live = this.peers.filter((p) => p.node !== null);
    if (live.length === 0) return;
    const leaders = this.leaders();
    const p = leaders.length > 0 && this.rng() < 0.8 ? pick(this.rng, leaders) : pick(this.rng, live);
    const ctx = `r${this.nextRead++}`;
    this.reads.set(ctx, { peer: p.id, issued: this.now, minIndex: this.maxAckedIndex });
    this.stats.reads++;
    this.trace.add({ t: this.now, k: 'client', p: p.id, s: `read ${ctx} at ${p.id} (writes acknowledged so far reach index ${this.maxAckedIndex})` });
    p.node!.readIndex(ctx, this.now);
    this.afterInput(p);
  }

  // ------------------------------------------------------------ the shell: early send -> persist -> send -> apply

  /**
   * The peer shell's pipeline (peer/peer.ts), with a disk whose saves take time: take every
   * Ready, send its early messages (a leader's AppendEntries) at once and queue it; one save at a
   * time carries everything queued (group commit). A Ready with nothing to persist, or only a
   * new commit index, is handled at once when no save is in progress, as the shell does.
   */
  private afterInput(p: SimPeer): void {
    const node = p.node!;
    while (p.node === node) {
      while (node.hasReady()) {
        const rd = node.ready();
        this.recordCommits(p);
        this.traceEvents(p, rd);
        for (const m of rd.early) this.send(m);
        // Cutting the durable log needs no fsync: the shell may do it as soon as it is told to.
        if (rd.compact > 0) this.cutLog(p, rd.compact);
        p.queue.push(rd);
      }
      if (p.saving !== null || p.queue.length === 0) break;
      const batch = p.queue;
      p.queue = [];
      const hs = batch.reduce<HardState | null>((h, rd) => rd.hardState ?? h, null);
      const d = p.disk.hardState;
      const commitOnly = batch.every((rd) => rd.entries.length === 0 && rd.snapshot === null) && (hs === null || (hs.term === d.term && hs.vote === d.vote));
      if (!commitOnly) {
        p.saving = batch;
        let delay = between(this.rng, 0.05, this.diskMs);
        if (this.diskStallRate > 0 && this.rng() < this.diskStallRate) delay += between(this.rng, 10, 60);
        this.schedule(delay, { kind: 'saved', peer: p.idx, incarnation: p.incarnation });
        break;
      }
      // Only the commit index moved (it may be lost in a crash, and is learned again): no fsync.
      for (const rd of batch) this.persist(p, rd);
      this.finish(p, batch);
    }
    if (p.node === node) this.checkPeer(p);
  }

  /** The save in progress completes; a crash may strike just before, or between the steps after it. */
  private saved(p: SimPeer): void {
    const node = p.node!;
    const batch = p.saving!;
    p.saving = null;
    let crashAt = -1;
    if (!this.healed && this.rng() < this.crashAtSaveRate) crashAt = Math.floor(this.rng() * 3);
    const strike = p.crashBeforeSave && !this.healed;
    p.crashBeforeSave = false;
    if (strike) {
      this.crash(p, 'crash before the save completed, while followers had acknowledged entries it was saving:', between(this.rng, 5, 100));
      return;
    }
    if (crashAt === 0) {
      this.crash(p, 'crash before the save completed (its entries and hard state are lost, and the messages waiting for it):');
      return;
    }
    if (!this.healed && batch.some((rd) => rd.snapshot !== null) && this.rng() < this.snapshotCrashRate) {
      this.crash(p, 'crash before the snapshot was durable (the disk keeps the old snapshot and log):');
      return;
    }
    for (const rd of batch) {
      this.persist(p, rd);
      node.persisted(rd);
    }
    if (crashAt === 1) {
      this.crash(p, 'crash after the fsync, before sending:');
      return;
    }
    for (const rd of batch) for (const m of [...rd.messages, ...rd.snapshotMessages]) this.send(m);
    if (crashAt === 2) {
      this.crash(p, 'crash after sending, before applying:');
      return;
    }
    for (const rd of batch) this.apply(p, rd);
    // The save may let a leader count its own copy (a commit), and the queue waits for its turn.
    this.afterInput(p);
  }

  /** Steps 2 and 3 for Readies whose state is on disk: send, then apply. */
  private finish(p: SimPeer, batch: Ready[]): void {
    for (const rd of batch) for (const m of [...rd.messages, ...rd.snapshotMessages]) this.send(m);
    for (const rd of batch) this.apply(p, rd);
  }

  private persist(p: SimPeer, rd: Ready): void {
    const d = p.disk;
    if (rd.hardState) {
      const hs = rd.hardState;
      if (hs.term < d.hardState.term) this.fail('storage_contract', `${p.id} persisted term ${hs.term} after term ${d.hardState.term}`);
      if (hs.vote !== null) {
        const key = `${p.id}:${hs.term}`;
        this.votesCast.add(`${key}:${hs.vote}`);
        const prev = this.votes.get(key);
        if (prev === undefined) this.votes.set(key, hs.vote);
        else if (prev !== hs.vote && this.o.checkVoteOnce) this.fail('vote_once', `${p.id} voted for ${prev} and then for ${hs.vote} in term ${hs.term}`);
      }
      d.hardState = { ...hs };
    }
    if (rd.snapshot !== null) {
      // The snapshot first (written aside, made durable, put in place), then what follows it.
      const sn = rd.snapshot;
      if (sn.index > (d.snapshot?.index ?? 0)) d.snapshot = { ...sn };
      if (rd.restore && diskTerm(d, sn.index) !== sn.term) {
        // An installed snapshot the disk log does not hold: the log is discarded (§7).
        d.base = sn.index;
        d.baseTerm = sn.term;
        d.entries = [];
      }
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!;
      if (first.index > diskLast(d) + 1) this.fail('storage_contract', `${p.id} persisted entries from ${first.index} but its disk log ends at ${diskLast(d)}`);
      if (first.index <= d.base) this.fail('storage_contract', `${p.id} persisted entry ${first.index}, but its disk log is compacted through ${d.base}`);
      let parentTerm = diskTerm(d, first.index - 1);
      for (const e of rd.entries) {
        // Log Matching (Figure 3), checked incrementally: the entry with a given index and term
        // always carries the same command and always follows the same term. By induction, two
        // logs holding the same (index, term) are identical up to there.
        const key = `${e.index}:${e.term}`;
        const s = this.seen.get(key);
        if (s === undefined) this.seen.set(key, { data: e.data, parentTerm });
        else if (s.data !== e.data || s.parentTerm !== parentTerm) {
          this.fail('log_matching', `${p.id} holds entry ${e.index}/${e.term} = ${JSON.stringify(e.data)} after term ${parentTerm}; another log has ${JSON.stringify(s.data)} after term ${s.parentTerm}`);
        }
        if (e.term < parentTerm) this.fail('log_matching', `${p.id}: term goes backwards at index ${e.index}`);
        parentTerm = e.term;
      }
      d.entries.length = first.index - 1 - d.base;
      for (const e of rd.entries) d.entries.push(e);
    }
  }

  /**
   * Log compaction on disk: drop the entries through `index`. The core asks for it only once
   * the snapshot covering them is durable: a cut past the disk's snapshot would leave committed
   * entries nowhere on this disk after a crash.
   */
  private cutLog(p: SimPeer, index: number): void {
    const d = p.disk;
    const snap = d.snapshot?.index ?? 0;
    if (index > snap) this.fail('durable_snapshot', `${p.id} cuts its durable log through ${index}, but its durable snapshot ends at ${snap}`);
    if (index <= d.base) return;
    const t = diskTerm(d, index);
    if (t < 0) this.fail('storage_contract', `${p.id} cuts its durable log through ${index}, but it ends at ${diskLast(d)}`);
    d.entries = d.entries.slice(index - d.base);
    d.base = index;
    d.baseTerm = t;
  }

  private send(m: RaftMessage): void {
    this.stats.messages++;
    const from = this.byId.get(m.from)!;
    const to = this.byId.get(m.to)!;
    if (this.group[from.idx] !== this.group[to.idx]) {
      this.stats.dropped++;
      this.trace.add({ t: this.now, k: 'drop', p: m.from, m, s: 'partitioned' });
      return;
    }
    if (this.dropRate > 0 && this.rng() < this.dropRate) {
      this.stats.dropped++;
      this.trace.add({ t: this.now, k: 'drop', p: m.from, m, s: 'dropped' });
      return;
    }
    const copies = this.dupRate > 0 && this.rng() < this.dupRate ? 2 : 1;
    // A snapshot chunk sometimes arrives once more, late: after the follower installed it and
    // moved on, where a stale snapshot must be ignored.
    const lateCopy = m.type === 'install_snapshot' && !this.healed && this.rng() < 0.1;
    for (let i = 0; i < copies + (lateCopy ? 1 : 0); i++) {
      let delay = between(this.rng, this.delayLo, this.delayHi);
      if (i === copies || (this.longRate > 0 && this.rng() < this.longRate)) delay += between(this.rng, 50, 400);
      this.schedule(delay, { kind: 'deliver', msg: m });
      if (this.o.fullTrace || i === 0) this.trace.add({ t: this.now, k: 'send', p: m.from, m, s: copies > 1 || lateCopy ? `duplicated, copy ${i + 1} in ${delay.toFixed(1)}ms` : '' });
    }
  }

  private apply(p: SimPeer, rd: Ready): void {
    if (rd.snapshot !== null && rd.restore) this.restore(p, rd.snapshot);
    for (const e of rd.committed) {
      if (e.index !== p.applied + 1) this.fail('state_machine_safety', `${p.id} was handed entry ${e.index} to apply after ${p.applied}`);
      const rec = this.committed[e.index - 1];
      // State Machine Safety (Figure 3): every peer applies the same entry at each index.
      if (rec === undefined) this.fail('state_machine_safety', `${p.id} applies ${e.index} which no commit index covers`);
      if (rec.term !== e.term || rec.data !== e.data) {
        this.fail('state_machine_safety', `${p.id} applies ${e.index}/${e.term} ${JSON.stringify(e.data)} but ${e.index}/${rec.term} ${JSON.stringify(rec.data)} was committed`);
      }
      p.applied = e.index;
      if (e.data !== null) {
        const eq = e.data.indexOf('=');
        p.kv.set(e.data.slice(0, eq), e.data.slice(eq + 1));
      }
      const prop = p.proposals.get(e.index);
      if (prop !== undefined) {
        p.proposals.delete(e.index);
        if (prop.term === e.term && prop.data === e.data) {
          // The leader applied its own proposal: the client hears "ok".
          this.acked.push({ index: e.index, term: e.term, data: e.data, t: this.now });
          this.stats.acked++;
          if (e.index > this.maxAckedIndex) this.maxAckedIndex = e.index;
          if (this.healed) this.ackedAfterHeal++;
          this.trace.add({ t: this.now, k: 'client', p: p.id, s: `ok ${JSON.stringify(e.data)} (index ${e.index})` });
        }
      }
    }
    // The state machine snapshots itself every snapshotEvery entries.
    if (this.snapshotEvery > 0 && p.applied - p.snapIndex >= this.snapshotEvery && p.node !== null) {
      p.snapIndex = p.applied;
      this.stats.snapshots++;
      p.node.snapshotTaken(p.applied, encodeKv(p.kv));
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.ctx);
      if (r === undefined) continue;
      this.reads.delete(rs.ctx);
      if (p.applied < rs.index) this.fail('read_linearizability', `${p.id} serves read ${rs.ctx} at index ${rs.index} but applied only ${p.applied}`);
      // ReadIndex (dissertation §6.4): a read must reflect every write acknowledged before it was issued.
      if (rs.index < r.minIndex) {
        this.fail('read_linearizability', `read ${rs.ctx} issued at ${r.issued.toFixed(1)} was served by ${p.id} at index ${rs.index}, missing the write acknowledged at index ${r.minIndex}`);
      }
      this.stats.readsServed++;
      this.trace.add({ t: this.now, k: 'client', p: p.id, s: `read ${rs.ctx} served at index ${rs.index}` });
    }
    for (const rf of rd.readFailures) {
      if (this.reads.delete(rf.ctx)) this.trace.add({ t: this.now, k: 'client', p: p.id, s: `read ${rf.ctx} refused (leader hint ${rf.leader ?? 'none'})` });
    }
  }

  /**
   * The state machine is replaced by a snapshot from the leader. It must never move back, and the
   * snapshot must be exactly the state of the committed entries it covers.
   */
  private restore(p: SimPeer, sn: Snapshot): void {
    if (sn.index < p.applied) this.fail('state_machine_safety', `${p.id} restores a snapshot at ${sn.index} over a state machine that applied through ${p.applied}`);
    if (sn.index > this.committed.length) this.fail('state_machine_safety', `${p.id} restores a snapshot at ${sn.index}, but only ${this.committed.length} entries are known committed`);
    if (this.committed[sn.index - 1]!.term !== sn.term) this.fail('state_machine_safety', `${p.id} restores a snapshot ending at ${sn.index}/${sn.term}, but ${sn.index}/${this.committed[sn.index - 1]!.term} was committed`);
    const want = new Map<string, string>();
    for (let i = 0; i < sn.index; i++) {
      const data = this.committed[i]!.data;
      if (data !== null) {
        const eq = data.indexOf('=');
        want.set(data.slice(0, eq), data.slice(eq + 1));
      }
    }
    if (encodeKv(want) !== sn.data) this.fail('state_machine_safety', `${p.id} restores a snapshot at ${sn.index} that is not the state of the committed entries through it`);
    p.kv = decodeKv(sn.data);
    p.applied = sn.index;
    p.snapIndex = sn.index;
    this.stats.installs++;
    this.trace.add({ t: this.now, k: 'event', p: p.id, s: `restores the snapshot at ${sn.index}/${sn.term}` });
  }

  private traceEvents(p: SimPeer, rd: Ready): void {
    for (const ev of rd.events) {
      switch (ev.kind) {
        case 'role':
          this.trace.add({ t: this.now, k: 'event', p: p.id, s: `becomes ${ev.role} in term ${ev.term}` });
          break;
        case 'truncate':
          this.trace.add({ t: this.now, k: 'event', p: p.id, s: `truncates its log from ${ev.from}` });
          break;
        case 'commit':
          if (this.o.fullTrace) this.trace.add({ t: this.now, k: 'event', p: p.id, s: `commit ${ev.index}` });
          break;
        case 'step_down':
          this.trace.add({ t: this.now, k: 'event', p: p.id, s: `steps down: ${ev.reason}` });
          break;
        default:
          break;
      }
    }
  }

  // ------------------------------------------------------------ checks

  private recordCommits(p: SimPeer): void {
    const node = p.node!;
    const st = node.status();
    // Figure 2: commitIndex "increases monotonically" (within a process lifetime).
    if (st.commitIndex < p.recordedCommit) this.fail('state_machine_safety', `${p.id}'s commit index moves back from ${p.recordedCommit} to ${st.commitIndex}`);
    if (st.commitIndex <= p.recordedCommit) return;
    // Entries through the log's base are in a snapshot: they must be known committed already.
    const base = node.firstIndex() - 1;
    if (base > p.recordedCommit) {
      if (base > this.committed.length) this.fail('state_machine_safety', `${p.id} commits through a snapshot covering ${base}, but only ${this.committed.length} entries are known committed`);
      const bt = node.termAt(base);
      if (this.committed[base - 1]!.term !== bt) this.fail('state_machine_safety', `${p.id}'s log starts after ${base}/${bt}, but ${base}/${this.committed[base - 1]!.term} was committed`);
    }
    for (let i = Math.max(p.recordedCommit, base) + 1; i <= st.commitIndex; i++) {
      const e = node.entryAt(i);
      if (e === undefined) this.fail('state_machine_safety', `${p.id} has commit index ${st.commitIndex} past its last entry`);
      const rec = this.committed[i - 1];
      if (rec === undefined) {
        if (i !== this.committed.length + 1) this.fail('state_machine_safety', `${p.id} commits ${i} before ${this.committed.length + 1} is known committed`);
        this.committed.push({ term: e.term, data: e.data, commitTerm: st.term });
        if (this.o.checkDurableQuorum) this.checkDurableQuorum(p, e);
      } else if (rec.term !== e.term || rec.data !== e.data) {
        this.fail('state_machine_safety', `${p.id} commits ${i}/${e.term} ${JSON.stringify(e.data)} but ${i}/${rec.term} ${JSON.stringify(rec.data)} is already committed`);
      }
    }
    p.recordedCommit = st.commitIndex;
    // The nemesis also likes to strike a leader right after it commits: are commits durable
    // when the leader is lost at once (§5.4.2, Figure 8)?
    if (st.role === 'leader' && !this.healed && this.rng() < this.deposeAfterCommitRate) {
      this.schedule(between(this.rng, 0.1, 5), { kind: 'depose', peer: p.idx, term: st.term });
    }
    const prev = this.committedByTerm.get(st.term) ?? 0;
    if (st.commitIndex > prev) {
      this.committedByTerm.set(st.term, st.commitIndex);
      // Leader Completeness, for leaders that already hold a later term than this commit.
      for (const q of this.peers) {
        if (q.node === null || q === p) continue;
        const qs = q.node.status();
        if (qs.role === 'leader' && qs.term > st.term) this.checkHolds(q, st.commitIndex, qs.term);
      }
    }
  }

  private checkPeer(p: SimPeer): void {
    const st = p.node!.status();
    if (st.term > this.maxTerm) this.maxTerm = st.term;
    this.recordCommits(p);
    if (st.role === 'leader' && p.wasLeaderInTerm !== st.term) {
      p.wasLeaderInTerm = st.term;
      // Election Safety (Figure 3): at most one leader can be elected in a given term.
      const other = this.leaderOfTerm.get(st.term);
      if (other === undefined) this.leaderOfTerm.set(st.term, p.id);
      else if (other !== p.id) this.fail('election_safety', `${p.id} and ${other} are both leaders of term ${st.term}`);
      // A leader is elected by a majority of the voters of its configuration (§4.1), each of
      // which persisted its vote for it.
      const voters = p.node!.configuration().voters;
      const granted = voters.filter((v) => v === p.id || this.votesCast.has(`${v}:${st.term}:${p.id}`));
      if (granted.length < Math.floor(voters.length / 2) + 1) {
        this.fail('membership', `${p.id} leads term ${st.term} with the votes of ${granted.join(', ')} only, not a majority of its voters ${voters.join(', ')}`);
      }
      this.trace.add({ t: this.now, k: 'check', p: p.id, s: `${p.id} leads term ${st.term} (log ${st.lastIndex}, commit ${st.commitIndex})` });
      if (!this.healed && this.rng() < this.deposeRate) this.schedule(between(this.rng, 0.5, 30), { kind: 'depose', peer: p.idx, term: st.term });
      // Leader Completeness (Figure 3): a new leader holds every entry committed in earlier terms.
      let need = 0;
      for (const [term, index] of this.committedByTerm) if (term < st.term && index > need) need = index;
      this.checkHolds(p, need, st.term);
    }
  }

  /**
   * §5.3/§5.4: an entry is committed once it is *stored* on a majority; stored means on disk, since
   * a crash loses the rest. A leader's AppendEntries leave before its own save, so the disks are
   * counted here: a committed entry is on the disks of a majority (and stays there).
   */
  private checkDurableQuorum(p: SimPeer, e: Entry): void {
    // A majority of the voters of the committing peer's configuration (any majority of the
    // configurations one change apart overlaps it, §4.1).
    const voters = p.node!.configuration().voters;
    const holders = this.peers.filter((q) => voters.includes(q.id) && (diskTerm(q.disk, e.index) === e.term || (q.disk.snapshot?.index ?? 0) >= e.index)).map((q) => q.id);
    const need = Math.floor(voters.length / 2) + 1;
    if (holders.length < need) {
      this.fail('durable_quorum', `${p.id} commits ${e.index}/${e.term}, but only ${holders.length} disks hold it (${holders.join(', ') || 'none'}); a majority of its voters ${voters.join(', ')} is ${need}`);
    }
  }

  private checkHolds(p: SimPeer, index: number, term: number): void {
    if (index === 0) return;
    // Compacted entries are in the leader's snapshot, which holds committed state only (checked when taken or restored).
    if (index < p.node!.firstIndex() - 1) return;
    const rec = this.committed[index - 1]!;
    const have = p.node!.termAt(index);
    if (have !== rec.term) {
      this.fail('leader_completeness', `${p.id}, leader of term ${term}, lacks committed entry ${index}/${rec.term} (it has ${have < 0 ? 'nothing' : `term ${have}`} there)`);
    }
  }

  /** The Ready contract: once everything handed out is persisted, the disk equals the node's state. */
  private checkStorage(p: SimPeer): void {
    const node = p.node!;
    const st: NodeStatus = node.status();
    const d = p.disk;
    if (d.hardState.term !== st.term || d.hardState.vote !== st.vote || d.hardState.commit !== st.commitIndex) {
      this.fail('storage_contract', `${p.id} disk hardState ${JSON.stringify(d.hardState)} differs from the node (term ${st.term}, vote ${st.vote}, commit ${st.commitIndex})`);
    }
    if (diskLast(d) !== st.lastIndex) this.fail('storage_contract', `${p.id} disk log ends at ${diskLast(d)}, the node's at ${st.lastIndex}`);
    if ((d.snapshot?.index ?? 0) !== node.snapshotMeta().index) this.fail('storage_contract', `${p.id} disk snapshot ends at ${d.snapshot?.index ?? 0}, the node's at ${node.snapshotMeta().index}`);
    for (let i = Math.max(d.base, node.firstIndex() - 1) + 1; i <= diskLast(d); i++) {
      if (diskTerm(d, i) !== node.termAt(i)) this.fail('storage_contract', `${p.id} disk entry ${i} differs from the node's`);
    }
  }

  private converged(): boolean {
    if (this.ackedAfterHeal < FINAL_PROPOSALS) return false;
    if (!this.stats.membershipDone) return false;
    for (const p of this.peers) if (p.node === null) return false;
    // One leader among the members of the final configuration; removed peers are left alone
    // (they keep what they had, and nobody listens to their elections).
    const leaders = this.leaders().filter((p) => this.targetVoters.includes(p.id));
    if (leaders.length !== 1) return false;
    const lp = leaders[0]!;
    const leader = lp.node!;
    if (!sameVoters(leader.configuration(), this.targetVoters)) return false;
    const ls = leader.status();
    if (ls.commitIndex !== ls.lastIndex) return false;
    for (const p of this.finalMembers()) {
      const s = p.node!.status();
      if (p.applied !== ls.commitIndex || s.lastIndex !== ls.lastIndex || s.term !== ls.term) return false;
      if (p.saving !== null || p.queue.length > 0) return false; // at rest, so the disk can be compared
    }
    return true;
  }

  /** The peers of the target configuration (every peer when membership does not change). */
  private finalMembers(): SimPeer[] {
    return this.peers.filter((p) => this.targetVoters.includes(p.id));
  }

  private finalChecks(): void {
    const leader = this.leaders().find((p) => this.targetVoters.includes(p.id))!;
    for (const p of this.finalMembers()) {
      this.checkStorage(p);
      // Log Matching, in full: after convergence every log is the leader's.
      for (let i = Math.max(p.node!.firstIndex(), leader.node!.firstIndex()); i <= diskLast(p.disk); i++) {
        const a = p.node!.entryAt(i)!;
        const b = leader.node!.entryAt(i)!;
        if (a.term !== b.term || a.data !== b.data) this.fail('log_matching', `after convergence ${p.id} and ${leader.id} differ at index ${i}`);
      }
    }
    // No acknowledged proposal lost: each is in the final log, where it was acknowledged.
    for (const a of this.acked) {
      // A compacted entry is in the leader's snapshot: it must be the committed one.
      const e = a.index < leader.node!.firstIndex() ? this.committed[a.index - 1] : leader.node!.entryAt(a.index);
      if (e === undefined || e.term !== a.term || e.data !== a.data) {
        this.fail('lost_ack', `${JSON.stringify(a.data)}, acknowledged at index ${a.index} (t=${a.t.toFixed(1)}), is not in the final log`);
      }
    }
  }

  private fail(kind: ViolationKind, message: string): never {
    this.violation = { kind, message, time: this.now };
    this.trace.add({ t: this.now, k: 'check', p: '', s: `VIOLATION ${kind}: ${message}` });
    throw new Stop(message);
  }

  private describeGroups(): string {
    const groups = new Map<number, string[]>();
    this.ids.forEach((id, i) => {
      const g = this.group[i]!;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g)!.push(id);
    });
    return [...groups.values()].map((g) => `{${g.join(',')}}`).join(' | ');
  }

  describePeers(): string {
    return this.peers
      .map((p) => {
        if (p.node === null) return `${p.id}: down`;
        const s = p.node.status();
        return `${p.id}: ${s.role} term=${s.term} vote=${s.vote ?? '-'} leader=${s.leader ?? '-'} log=${s.lastIndex}/${s.lastTerm} commit=${s.commitIndex} applied=${p.applied}`;
      })
      .join('; ');
  }
}

function sameVoters(c: Config, voters: readonly string[]): boolean {
  return c.voters.length === voters.length && voters.every((v) => c.voters.includes(v));
}

/** Run one seed. */
export function runSim(opts: SimOptions): SimResult {
  const sim = new Simulation(opts);
  sim.run();
  const args = [`--seed ${opts.seed}`, `--peers ${opts.peers}`];
  if (opts.chaosMs !== undefined && opts.chaosMs !== DEFAULT_CHAOS_MS) args.push(`--chaos-ms ${opts.chaosMs}`);
  if (opts.livenessMs !== undefined && opts.livenessMs !== DEFAULT_LIVENESS_MS) args.push(`--liveness-ms ${opts.livenessMs}`);
  if (opts.membership !== undefined) args.push(`--membership ${opts.membership}`);
  if (opts.plantBug) args.push(`--plant-bug ${opts.plantBug}`);
  if (opts.checkVoteOnce === false) args.push('--no-vote-check');
  if (opts.checkDurableQuorum === false) args.push('--no-durable-check');
  return {
    seed: opts.seed,
    peers: opts.peers,
    violation: sim.violation,
    trace: sim.trace.lines(),
    stats: sim.stats,
    setup: sim.setup(),
    replayArgs: args.join(' '),
  };
}

/** The one command that replays a run. */
export function replayCommand(r: SimResult): string {
  return `npm run sim -- ${r.replayArgs}`;
}

/** A readable failure report: what broke, how to replay it, and the last events before it. */
export function failureReport(r: SimResult): string {
  const v = r.violation!;
  return [
    `VIOLATION (${v.kind}) at t=${v.time.toFixed(1)}ms, seed ${r.seed}: ${v.message}`,
    `replay: ${replayCommand(r)}`,
    `setup: ${r.setup}`,
    `last ${r.trace.length} events:`,
    ...r.trace.map((l) => `  ${l}`),
  ].join('\n');
}
