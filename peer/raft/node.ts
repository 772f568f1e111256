// The Raft consensus algorithm as a deterministic state machine with no I/O.
//
// Inputs: step() a message, tick() the passing of time, propose() a command, readIndex() a
// linearizable read, campaign() a forced election, persisted() the shell's report that a save is
// on disk, snapshotTaken() the shell's report that it snapshotted its state machine. Outputs accumulate in a Ready batch that the shell takes with ready() and handles in
// this order: send the early messages (a leader's AppendEntries), persist hardState + entries
// (one fsync) and report it with persisted(), send the other messages, apply committed entries,
// serve read states. The clock (`now`, ms) and the random source (opts.random) come from the
// caller, so a seeded simulator can replay any run exactly.
//
// References: "In Search of an Understandable Consensus Algorithm" (Ongaro & Ousterhout, the
// paper: §5.x, Figure 2) and "Consensus: Bridging Theory and Practice" (Ongaro's dissertation:
// §3.x, §4.x, §6.x, §9.x). Structure after etcd's raft: one step function per role, term checks
// done once before dispatch, small become* transitions.
import { RaftLog } from './log.ts';
import { Progress } from './progress.ts';
import { grantedCount, majority, quorumValue, voteResult } from './quorum.ts';
import type {
  AppendEntries,
  AppendEntriesReply,
  ConfChange,
  ConfChangeResult,
  Config,
  CoreEvent,
  Entry,
  FollowerProgress,
  HardState,
  InstallSnapshot,
  InstallSnapshotReply,
  Message,
  NodeStatus,
  PeerId,
  PersistedState,
  ProposeResult,
  RaftOptions,
  ReadFailure,
  ReadState,
  Ready,
  RequestVote,
  RequestVoteReply,
  Role,
  RaftMessage,
  Snapshot,
  SnapshotMessage,
} from './types.ts';

interface PendingRead {
  ctx: string;
  /** The commit index when the read arrived (§6.4 step 2). */
  index: number;
  /** The heartbeat round that must be acknowledged by a majority (§6.4 step 3). */
  seq: number;
}

export class RaftNode {
  readonly id: PeerId;
  private readonly opts: RaftOptions;
  /** The configuration in force (dissertation §4.1: the latest in the log, committed or not). */
  private config: Config;
  /** Index of the entry that set it (0: the initial configuration; a snapshot's index: the snapshot's). */
  private configIndex = 0;
  private readonly initialConfig: Config;
  private readonly allPeers: ReadonlySet<PeerId>;
  /** Every member (voter or learner) but this one. */
  private others: PeerId[] = [];
  private readonly log: RaftLog;

  // Figure 2, persistent state (with commit, which we persist too).
  private term: number;
  private vote: PeerId | null;
  private commitIndex: number;

  // Volatile state.
  private role: Role = 'follower';
  private leader: PeerId | null = null;
  /** Committed entries up to here were handed out in a Ready already (this process lifetime). */
  private handedOut = 0;
  private electionDeadline = 0;
  /** Last time we heard from the current leader (leader stickiness, dissertation §4.2.3). */
  private leaderContact = -Infinity;
  private votes = new Map<PeerId, boolean>();
  private now: number;

  // Leader state.
  private readonly progress = new Map<PeerId, Progress>();
  private heartbeatDeadline = Infinity;
  private checkQuorumDeadline = Infinity;
  private broadcastPending = false;
  private readSeq = 0;
  private readRoundPending = false;
  private pendingReads: PendingRead[] = [];
  private readsAwaitingCommit: string[] = [];

  // The Ready being accumulated.
  /** The hard state last handed out in a Ready (or recovered). */
  private handedOutState: HardState;
  /** Term and vote the shell has reported on disk: a leader's AppendEntries may leave early only in that term. */
  private durableTerm: number;
  private durableVote: PeerId | null;
  private msgs: RaftMessage[] = [];

  // Snapshots (dissertation ch. 5).
  /** The newest snapshot this peer has (taken here or installed by a leader): what it sends (§7). */
  private snap: Snapshot | null;
  /** The newest snapshot the shell has reported durable (its index; 0 for none). */
  private durableSnapIndex: number;
  /** A snapshot to hand out in the next Ready for persisting, and whether the shell must restore it. */
  private snapOut: Snapshot | null = null;
  private snapRestore = false;
  /** Log compaction the shell may now do on disk: drop entries through this index (0: nothing). */
  private compactOut = 0;
  /** A snapshot arriving in chunks (§7): its last index and term, configuration, size, and the data so far. */
  private incoming: { index: number; term: number; config: Config; size: number; data: string } | null = null;
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];
  private events: CoreEvent[] = [];

  constructor(opts: RaftOptions, persisted: PersistedState, now: number) {
    const learners = opts.learners ?? [];
    if (!opts.peers.includes(opts.id) && !learners.includes(opts.id)) throw new Error(`${opts.id} is not one of the peers (${opts.peers.join(', ')}) nor a learner`);
    if (new Set([...opts.peers, ...learners]).size !== opts.peers.length + learners.length) throw new Error(`duplicate peer in ${[...opts.peers, ...learners].join(', ')}`);
    if (!(opts.heartbeatMs > 0 && opts.electionMinMs > opts.heartbeatMs && opts.electionMaxMs > opts.electionMinMs)) {
      throw new Error(`need 0 < heartbeatMs < electionMinMs < electionMaxMs, got ${opts.heartbeatMs}, ${opts.electionMinMs}, ${opts.electionMaxMs}`);
    }
    if (!(opts.maxEntriesPerAppend >= 1 && opts.maxBytesPerAppend >= 1 && opts.maxInflightAppends >= 1)) {
      throw new Error('maxEntriesPerAppend, maxBytesPerAppend and maxInflightAppends must be >= 1');
    }
    this.opts = opts;
    this.id = opts.id;
    this.initialConfig = { voters: opts.peers.slice(), learners: learners.slice() };
    this.allPeers = new Set([...opts.peers, ...learners, ...(opts.allPeers ?? [])]);
    this.config = this.initialConfig;
    if (opts.snapshotTrailingEntries !== undefined && !(opts.snapshotTrailingEntries >= 0)) throw new Error('snapshotTrailingEntries must be >= 0');
    const snap = persisted.snapshot ?? null;
    this.log = new RaftLog(persisted.entries, snap);
    this.snap = snap;
    this.durableSnapIndex = snap?.index ?? 0;
    this.recomputeConfig();
    const hs = persisted.hardState;
    this.term = hs.term;
    this.vote = hs.vote;
    // A torn last write could have kept the commit but not all entries; never point past the log.
    // A snapshot holds committed state only: the commit index is at least its last index.
    this.commitIndex = Math.max(Math.min(hs.commit, this.log.lastIndex), snap?.index ?? 0);
    // The shell restores its state machine from the snapshot; entries after it are handed out.
    this.handedOut = snap?.index ?? 0;
    this.handedOutState = { term: hs.term, vote: hs.vote, commit: hs.commit };
    this.durableTerm = hs.term;
    this.durableVote = hs.vote;
    this.now = now;
    this.becomeFollower(this.term, null, now);
  }

  // ---------------------------------------------------------------- inputs

  /** Time passes. Call at nextDeadline() or later; calling earlier does nothing. */
  tick(now: number): void {
    this.now = now;
    if (this.role === 'leader') {
      if (now >= this.heartbeatDeadline) {
        // Figure 2, Leaders: "send ... heartbeat to each server; repeat during idle periods to
        // prevent election timeouts (§5.2)".
        this.heartbeatDeadline = now + this.opts.heartbeatMs;
        this.heartbeat();
      }
      if (now >= this.checkQuorumDeadline) {
        this.checkQuorumDeadline = now + this.opts.electionMinMs;
        this.checkQuorum();
      }
      return;
    }
    if (now >= this.electionDeadline) {
      // A learner, or a peer outside the configuration, never campaigns (§4.2.1, §4.2.2).
      if (!this.isVoter(this.id)) {
        this.resetElectionDeadline(now);
        return;
      }
      // Figure 2, Followers: "If election timeout elapses without receiving AppendEntries RPC from
      // current leader or granting vote to candidate: convert to candidate". With PreVote
      // (dissertation §9.6) first ask whether an election could be won at all.
      if (this.opts.preVote) this.becomePreCandidate(now);
      else this.becomeCandidate(now, false);
    }
  }

  /**
   * A message from the network. Anything not addressed to this node, or from a stranger (not in
   * opts.allPeers), is ignored. Messages are taken from any peer of allPeers, members or not: a
   * follower whose log is behind may not know yet that its new leader, or a new voter asking
   * for its vote, is a member. A removed peer that knows it is removed never campaigns; one
   * that does not know has a log without its removal, and PreVote and CheckQuorum's leader
   * stickiness keep it from disrupting the cluster (dissertation §4.2.3).
   */
  step(msg: RaftMessage, now: number): void {
    this.now = now;
    if (msg.to !== this.id || msg.from === this.id || !this.allPeers.has(msg.from)) return;

    // §5.1: "If a server receives a request with a stale term number, it rejects the request";
    // "if one server's current term is smaller than the other's, then it updates its current term
    // to the larger value. If a candidate or leader discovers that its term is out of date, it
    // immediately reverts to follower state." Done once here, before the role dispatch.
    if (msg.term > this.term) {
      if (msg.type === 'request_vote') {
        if (!msg.force && this.leaderAlive(now) && (msg.preVote || this.opts.checkQuorum)) {
          // Dissertation §9.6: a pre-vote is refused while we believe a leader is alive. §4.2.3
          // (disruptive servers, with CheckQuorum): a server that heard from a current leader within
          // the minimum election timeout neither updates its term nor grants its vote.
          // The refusal carries our own term: a pre-candidate must not take a term from it.
          this.send({ type: 'request_vote_reply', from: this.id, to: msg.from, term: this.term, granted: false, preVote: msg.preVote });
          return;
        }
        // A pre-vote request never changes our term (§9.6): the sender has not incremented its own.
        if (!msg.preVote) this.becomeFollower(msg.term, null, now);
      } else if (msg.type === 'request_vote_reply' && msg.preVote && msg.granted && msg.term === this.term + 1) {
        // A pre-vote granted carries the term we would campaign in; not newer news. A refusal
        // carries the refuser's own term (etcd does the same): one above ours is newer news,
        // and taking it lets a pre-candidate whose term fell behind ask again in a term the
        // others have not voted in yet.
      } else {
        const leader = msg.type === 'append_entries' || msg.type === 'timeout_now' || msg.type === 'install_snapshot' ? msg.from : null;
        this.becomeFollower(msg.term, leader, now);
      }
    } else if (msg.term < this.term) {
      if (msg.type === 'append_entries') {
        // Reject so that a stale leader learns the newer term and steps down (§5.1). This also
        // frees a cluster from a peer whose term ran ahead while it was cut off.
        this.send({ type: 'append_entries_reply', from: this.id, to: msg.from, term: this.term, success: false, matchIndex: msg.prevLogIndex, ...readSeqOf(msg) });
      } else if (msg.type === 'request_vote') {
        this.send({ type: 'request_vote_reply', from: this.id, to: msg.from, term: this.term, granted: false, preVote: msg.preVote });
      } else if (msg.type === 'install_snapshot') {
        this.send({ type: 'install_snapshot_reply', from: this.id, to: msg.from, term: this.term, snapshotIndex: msg.snapshotIndex, offset: 0, matchIndex: 0 });
      }
      return;
    }

    switch (this.role) {
      case 'leader':
        this.stepLeader(msg, now);
        break;
      case 'candidate':
      case 'precandidate':
        this.stepCandidate(msg, now);
        break;
      case 'follower':
        this.stepFollower(msg, now);
        break;
    }
  }

  /**
   * A client command (opaque data). Only a leader accepts it (§5.1: "The leader handles all client
   * requests"); it is appended to the leader's log now and sent with the next Ready.
   */
  propose(data: string, now: number): ProposeResult {
    this.now = now;
    if (this.role !== 'leader') return { ok: false, leader: this.leader };
    const entry: Entry = { index: this.log.lastIndex + 1, term: this.term, data };
    this.appendLocal(entry);
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * A single-server membership change (dissertation §4.1), through the log like a command. Only
   * a leader accepts it, one change at a time: not while another configuration entry is
   * uncommitted, and not before an entry of the leader's term is committed (the correction to
   * §4.1 in Ongaro's raft-dev post of 2015: otherwise two leaders of successive terms could
   * each append one change and commit with disjoint majorities). A new peer joins as a learner
   * (`add_learner`), receives the log without voting (§4.2.1), and is promoted to voter only once
   * its log reaches the leader's commit index; `remove` takes a voter or learner out.
   */
  proposeConfChange(change: ConfChange, now: number): ConfChangeResult {
    this.now = now;
    if (this.role !== 'leader') return { ok: false, leader: this.leader };
    const refuse = (reason: string): ConfChangeResult => ({ ok: false, leader: this.id, reason });
    if (this.configIndex > this.commitIndex && this.opts.plantBug !== 'two_changes_in_flight') return refuse('another configuration change is not committed yet');
    if (this.log.term(this.commitIndex) !== this.term) return refuse('no entry of this term is committed yet');
    const { voters, learners } = this.config;
    const p = change.peer;
    let next: Config;
    switch (change.op) {
      case 'add_learner':
        if (voters.includes(p) || learners.includes(p)) return refuse(`${p} is a member already`);
        next = { voters: voters.slice(), learners: [...learners, p] };
        break;
      case 'promote': {
        if (!learners.includes(p)) return refuse(`${p} is not a learner`);
        const pr = this.progress.get(p);
        if (pr === undefined || pr.match < this.commitIndex) return refuse(`${p} has not caught up yet (match ${pr?.match ?? 0}, commit ${this.commitIndex})`);
        next = { voters: [...voters, p], learners: learners.filter((x) => x !== p) };
        break;
      }
      case 'remove':
        if (!voters.includes(p) && !learners.includes(p)) return refuse(`${p} is not a member`);
        if (voters.length === 1 && voters[0] === p) return refuse('the last voter cannot be removed');
        next = { voters: voters.filter((x) => x !== p), learners: learners.filter((x) => x !== p) };
        break;
    }
    const entry: Entry = { index: this.log.lastIndex + 1, term: this.term, data: null, conf: next };
    this.appendLocal(entry);
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * A linearizable read (dissertation §6.4, ReadIndex). The answer comes later in a Ready: a
   * ReadState (apply through its index, then read) or a ReadFailure (with a leader hint).
   */
  readIndex(ctx: string, now: number): void {
    this.now = now;
    if (this.role !== 'leader') {
      this.readFailures.push({ ctx, leader: this.leader });
      return;
    }
    // §6.4 step 1: "If the leader has not yet marked an entry from its current term committed, it
    // waits until it has done so." (Its no-op commits soon after it takes office.)
    if (this.log.term(this.commitIndex) !== this.term) {
      this.readsAwaitingCommit.push(ctx);
      return;
    }
    this.registerRead(ctx);
  }

  /** Start an election now, skipping PreVote: an explicit request (the game's "force election"). */
  campaign(now: number): void {
    this.now = now;
    if (!this.isVoter(this.id)) return;
    this.becomeCandidate(now, true);
  }

  /**
   * The shell's report that a save is on stable storage (etcd raft's Advance step): the hard
   * state and entries of Readies it took, reported in the order it took them (a merged save of
   * several Readies may be reported as one). Only from here on does a leader count its own copy
   * of those entries toward commitment: its AppendEntries leave before its own fsync
   * (dissertation §10.2.1), so followers may acknowledge an entry the leader could still lose in
   * a crash, and a majority must hold an entry durably before it is committed (§5.4).
   */
  persisted(saved: { hardState: HardState | null; entries: readonly Entry[]; snapshot?: Snapshot | null }): void {
    if (saved.hardState !== null) {
      this.durableTerm = saved.hardState.term;
      this.durableVote = saved.hardState.vote;
    }
    if (saved.snapshot && saved.snapshot.index > this.durableSnapIndex) {
      this.durableSnapIndex = saved.snapshot.index;
      // Log compaction (dissertation §5.1): only now that the snapshot is durable may the log
      // before it go, keeping a few trailing entries for followers slightly behind.
      this.compactLog();
    }
    const last = saved.entries[saved.entries.length - 1];
    if (last !== undefined && this.log.persistedTo(last.index, last.term) && this.role === 'leader') this.maybeCommit();
  }

  /**
   * The shell snapshotted its state machine as of applied index `index` (dissertation ch. 5;
   * `data` is opaque here). The snapshot goes to disk with the next Ready; once persisted()
   * reports it durable, the log before it is compacted and the shell is told to cut its
   * durable log too. A snapshot not newer than the last one is ignored.
   */
  snapshotTaken(index: number, data: string): void {
    if (index > this.handedOut) throw new Error(`snapshot at ${index}, but entries were handed out to apply only through ${this.handedOut}`);
    if (index <= (this.snap?.index ?? 0) || index <= this.log.base) return;
    const snap: Snapshot = { index, term: this.log.term(index), data, config: this.configAt(index) };
    this.snap = snap;
    this.snapOut = snap;
    this.snapRestore = false;
    if (this.opts.plantBug === 'cut_log_before_snapshot_durable') {
      this.durableSnapIndex = index; // planted: counted durable before the shell says so
      this.compactLog();
    }
  }

  private compactLog(): void {
    const to = this.durableSnapIndex - (this.opts.snapshotTrailingEntries ?? 0);
    if (to <= this.log.base) return;
    this.log.compactTo(to);
    this.compactOut = Math.max(this.compactOut, to);
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.events.length > 0 ||
      this.broadcastPending ||
      this.readRoundPending ||
      this.readStates.length > 0 ||
      this.readFailures.length > 0 ||
      this.commitIndex > this.handedOut ||
      this.snapOut !== null ||
      this.compactOut > 0 ||
      this.log.hasUnstable() ||
      this.hardStateChanged()
    );
  }

  /** Take (and clear) the pending batch: persist, then send, then apply (see Ready in types.ts). */
  ready(): Ready {
    this.flush();
    let hardState: HardState | null = null;
    if (this.hardStateChanged()) {
      hardState = { term: this.term, vote: this.vote, commit: this.commitIndex };
      this.handedOutState = hardState;
    }
    const entries = this.log.takeUnstable();
    let committed: Entry[] = [];
    // Planted apply_uncommitted: hand out every entry in the log for applying, committed or not.
    const upTo = this.opts.plantBug === 'apply_uncommitted' ? Math.max(this.commitIndex, this.log.lastIndex) : this.commitIndex;
    if (upTo > this.handedOut) {
      committed = this.log.slice(this.handedOut + 1, upTo);
      this.handedOut = upTo;
    }
    // A leader's AppendEntries may leave before the save (§10.2.1): they claim nothing about this
    // peer's disk, since its own acknowledgement waits for persisted(). Only in a term whose
    // term and vote are on disk already, so that no message carries a term the leader could
    // forget in a crash. Everything else (votes, replies) speaks for this peer's disk: after it.
    const early: Message[] = [];
    const messages: Message[] = [];
    const snapshotMessages: SnapshotMessage[] = [];
    const leaveEarly = this.role === 'leader' && this.term === this.durableTerm && this.vote === this.durableVote;
    for (const m of this.msgs) {
      if (m.type === 'install_snapshot' || m.type === 'install_snapshot_reply') snapshotMessages.push(m);
      else if (leaveEarly && m.type === 'append_entries') early.push(m);
      else messages.push(m);
    }
    const rd: Ready = {
      hardState: hardState === null ? null : { ...hardState },
      entries,
      snapshot: this.snapOut,
      restore: this.snapRestore,
      compact: this.compactOut,
      early,
      messages,
      snapshotMessages,
      committed,
      readStates: this.readStates,
      readFailures: this.readFailures,
      events: this.events,
    };
    this.msgs = [];
    this.snapOut = null;
    this.snapRestore = false;
    this.compactOut = 0;
    this.readStates = [];
    this.readFailures = [];
    this.events = [];
    return rd;
  }

  /** The earliest `now` at which tick() has work to do. */
  nextDeadline(): number {
    if (this.role === 'leader') return Math.min(this.heartbeatDeadline, this.checkQuorumDeadline);
    return this.electionDeadline;
  }

  status(): NodeStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commitIndex: this.commitIndex,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      electionDeadline: this.role === 'leader' ? null : this.electionDeadline,
    };
  }

  // ---------------------------------------------------------------- inspection (tests, simulator, village)

  /** The configuration in force (the latest in the log). Do not modify it. */
  configuration(): Config {
    return this.config;
  }

  /** The last index and term of the newest snapshot (taken or installed), or 0/0. */
  snapshotMeta(): { index: number; term: number } {
    return { index: this.snap?.index ?? 0, term: this.snap?.term ?? 0 };
  }

  /** The first index still in the log (entries before it were compacted into a snapshot). */
  firstIndex(): number {
    return this.log.firstIndex;
  }

  /** Term of the entry at `index` (0 for index 0, -1 if absent or compacted, except the last compacted one). */
  termAt(index: number): number {
    return this.log.term(index);
  }

  /** The entry at `index`, if present. Do not modify it. */
  entryAt(index: number): Entry | undefined {
    return this.log.entry(index);
  }

  /** Entries lo..hi inclusive (copies of the references; do not modify the entries). */
  entries(lo = this.log.firstIndex, hi = this.log.lastIndex): Entry[] {
    return this.log.slice(lo, hi);
  }

  /** The leader's view of each follower; empty unless leader. */
  followers(): FollowerProgress[] {
    const out: FollowerProgress[] = [];
    for (const [peer, pr] of this.progress) {
      out.push({ peer, match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.length, recentActive: pr.recentActive });
    }
    return out;
  }

  // ---------------------------------------------------------------- role behaviour

  private stepFollower(msg: RaftMessage, now: number): void {
    switch (msg.type) {
      case 'append_entries':
        // Figure 2, Followers: reset the election timer on AppendEntries from the current leader.
        this.setLeader(msg.from);
        this.leaderContact = now;
        this.resetElectionDeadline(now);
        this.handleAppendEntries(msg);
        break;
      case 'install_snapshot':
        this.setLeader(msg.from);
        this.leaderContact = now;
        this.resetElectionDeadline(now);
        this.handleInstallSnapshot(msg);
        break;
      case 'request_vote':
        this.handleRequestVote(msg, now);
        break;
      case 'timeout_now':
        // Dissertation §3.10: the leader asks us to take over; campaign at once, skipping PreVote.
        if (msg.from === this.leader) this.becomeCandidate(now, true);
        break;
      case 'request_vote_reply':
      case 'append_entries_reply':
      case 'install_snapshot_reply':
        break; // stale answers to an earlier role
    }
  }

  private stepCandidate(msg: RaftMessage, now: number): void {
    switch (msg.type) {
      case 'append_entries':
        // §5.2: "If the leader's term ... is at least as large as the candidate's current term, then
        // the candidate recognizes the leader as legitimate and returns to follower state."
        this.becomeFollower(this.term, msg.from, now);
        this.leaderContact = now;
        this.handleAppendEntries(msg);
        break;
      case 'install_snapshot':
        this.becomeFollower(this.term, msg.from, now);
        this.leaderContact = now;
        this.handleInstallSnapshot(msg);
        break;
      case 'request_vote':
        this.handleRequestVote(msg, now);
        break;
      case 'request_vote_reply':
        this.handleVoteReply(msg, now);
        break;
      case 'append_entries_reply':
      case 'install_snapshot_reply':
      case 'timeout_now':
        break;
    }
  }

  private stepLeader(msg: RaftMessage, now: number): void {
    switch (msg.type) {
      case 'append_entries_reply':
        this.handleAppendReply(msg);
        break;
      case 'install_snapshot_reply':
        this.handleSnapshotReply(msg);
        break;
      case 'request_vote':
        this.handleRequestVote(msg, now); // same term: we voted for ourselves, so this rejects
        break;
      case 'append_entries': // another leader in our term cannot exist (§5.2, Election Safety)
      case 'install_snapshot':
      case 'request_vote_reply':
      case 'timeout_now':
        break;
    }
  }

  // ---------------------------------------------------------------- transitions

  private becomeFollower(term: number, leader: PeerId | null, now: number): void {
    const wasLeader = this.role === 'leader';
    if (term > this.term) {
      this.term = term;
      this.vote = null; // a new term: no vote cast in it yet (Figure 2, votedFor)
      this.events.push({ kind: 'term', term });
    }
    if (wasLeader) this.events.push({ kind: 'step_down', reason: leader ? `${leader} leads term ${term}` : `term ${term}`, term });
    this.setRole('follower');
    this.setLeader(leader);
    if (wasLeader) this.leaveLeadership();
    this.votes.clear();
    this.resetElectionDeadline(now);
  }

  /** Dissertation §9.6: ask for pre-votes for term+1 without changing our own term. */
  private becomePreCandidate(now: number): void {
    if (this.role === 'leader') return;
    this.setRole('precandidate');
    this.setLeader(null);
    this.votes.clear();
    this.resetElectionDeadline(now);
    this.votes.set(this.id, true);
    if (this.tally(true, now)) return;
    for (const to of this.electorate()) if (to !== this.id) this.send(this.voteRequest(to, this.term + 1, true, false));
  }

  /** §5.2: "To begin an election, a follower increments its current term and transitions to candidate state. It then votes for itself and issues RequestVote RPCs in parallel." */
  private becomeCandidate(now: number, force: boolean): void {
    const wasLeader = this.role === 'leader';
    this.term += 1;
    this.vote = this.id;
    this.events.push({ kind: 'term', term: this.term });
    this.events.push({ kind: 'vote', term: this.term, vote: this.id });
    if (wasLeader) this.events.push({ kind: 'step_down', reason: 'forced election', term: this.term });
    this.setRole('candidate');
    this.setLeader(null);
    if (wasLeader) this.leaveLeadership();
    this.votes.clear();
    // §5.2: each candidate restarts its randomized election timeout at the start of an election.
    this.resetElectionDeadline(now);
    this.votes.set(this.id, true);
    if (this.tally(false, now)) return;
    for (const to of this.electorate()) if (to !== this.id) this.send(this.voteRequest(to, this.term, false, force));
  }

  private becomeLeader(now: number): void {
    this.setRole('leader');
    this.setLeader(this.id);
    this.votes.clear();
    this.progress.clear();
    // Figure 2, Leaders: "nextIndex initialized to leader last log index + 1, matchIndex to 0".
    for (const p of this.others) this.progress.set(p, new Progress(this.log.lastIndex + 1));
    this.heartbeatDeadline = now + this.opts.heartbeatMs;
    this.checkQuorumDeadline = this.opts.checkQuorum ? now + this.opts.electionMinMs : Infinity;
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    // Dissertation §6.4 / §8 of the paper: "each leader commit a blank no-op entry into the log at
    // the start of its term" — it lets the leader learn the commit index (and commit the previous
    // terms' entries through it, §5.4.2) without waiting for a client.
    this.appendLocal({ index: this.log.lastIndex + 1, term: this.term, data: null });
  }

  /** Clean up leader-only state when leadership is lost: pending reads fail (§6.4). */
  private leaveLeadership(): void {
    for (const r of this.pendingReads) this.readFailures.push({ ctx: r.ctx, leader: this.leader });
    for (const ctx of this.readsAwaitingCommit) this.readFailures.push({ ctx, leader: this.leader });
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.readRoundPending = false;
    this.broadcastPending = false;
    this.progress.clear();
    this.heartbeatDeadline = Infinity;
    this.checkQuorumDeadline = Infinity;
  }

  private setRole(role: Role): void {
    if (this.role === role) return;
    this.role = role;
    this.events.push({ kind: 'role', role, term: this.term, leader: role === 'leader' ? this.id : this.leader });
  }

  private setLeader(leader: PeerId | null): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.events.push({ kind: 'leader_change', leader, term: this.term });
  }

  // ---------------------------------------------------------------- elections

  private voteRequest(to: PeerId, term: number, preVote: boolean, force: boolean): RequestVote {
    const m: RequestVote = { type: 'request_vote', from: this.id, to, term, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm, preVote };
    if (force) m.force = true;
    return m;
  }

  /**
   * Figure 2, RequestVote receiver: "If votedFor is null or candidateId, and candidate's log is at
   * least as up-to-date as receiver's log, grant vote (§5.2, §5.4)." A pre-vote (§9.6) is granted
   * on the same log test for a term above ours, and changes nothing here.
   */
  private handleRequestVote(m: RequestVote, now: number): void {
    let canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.preVote && m.term > this.term);
    if (this.opts.plantBug === 'double_vote' && !m.preVote) canVote = true; // planted: a second vote in one term
    const upToDate = this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    const granted = canVote && upToDate;
    if (granted && !m.preVote) {
      // §5.2: "Each server will vote for at most one candidate in a given term, on a first-come-
      // first-served basis." The vote is in the hardState persisted before this reply is sent.
      if (this.vote !== m.from) {
        this.vote = m.from;
        this.events.push({ kind: 'vote', term: this.term, vote: m.from });
      }
      // Figure 2, Followers: granting a vote resets the election timer.
      this.resetElectionDeadline(now);
    }
    // A pre-vote granted carries the term asked about, so the pre-candidate can match it to its
    // round; a refusal carries our own term, so that a pre-candidate behind us catches up.
    const term = m.preVote && granted ? m.term : this.term;
    this.send({ type: 'request_vote_reply', from: this.id, to: m.from, term, granted, preVote: m.preVote });
  }

  private handleVoteReply(m: RequestVoteReply, now: number): void {
    const pre = this.role === 'precandidate';
    if (m.preVote !== pre) return;
    // An answer to another round is ignored. A pre-vote refusal carries the refuser's term,
    // our own when it counts here (a higher one made us a follower in step()).
    if (m.term !== (pre && m.granted ? this.term + 1 : this.term)) return;
    if (this.votes.has(m.from)) return; // duplicate
    if (!this.electorate().includes(m.from)) return; // only voters' votes count (§4.1)
    this.votes.set(m.from, m.granted);
    if (m.granted) {
      this.events.push({ kind: 'vote_granted', from: m.from, term: m.term, preVote: pre, votes: grantedCount(this.votes), needed: majority(this.config.voters.length) });
    }
    this.tally(pre, now);
  }

  /** Count the votes; act on a decided election. Returns true if the role changed. */
  private tally(pre: boolean, now: number): boolean {
    const result = voteResult(this.votes, this.config.voters.length);
    if (result === 'won') {
      if (pre) this.becomeCandidate(now, false);
      else this.becomeLeader(now); // §5.2: a majority of votes makes a leader
      return true;
    }
    if (result === 'lost') {
      // A majority said no: wait for a leader or our next timeout as a follower.
      this.becomeFollower(this.term, null, now);
      return true;
    }
    return false;
  }

  /**
   * Is a leader alive as far as we know? A leader believes in itself (with CheckQuorum it steps
   * down when a majority goes quiet, §6.2); a follower for the minimum election timeout after
   * hearing from its leader (§4.2.3, §9.6).
   */
  private leaderAlive(now: number): boolean {
    if (this.role === 'leader') return true;
    return this.leader !== null && now - this.leaderContact < this.opts.electionMinMs;
  }

  private resetElectionDeadline(now: number): void {
    // §5.2: "election timeouts are chosen randomly from a fixed interval (e.g., 150-300ms)".
    const { electionMinMs: lo, electionMaxMs: hi } = this.opts;
    this.electionDeadline = now + lo + this.opts.random() * (hi - lo);
    this.events.push({ kind: 'election_deadline', at: this.electionDeadline });
  }

  // ---------------------------------------------------------------- replication: follower side

  /** Figure 2, AppendEntries receiver, steps 2-5 (step 1, the term, was checked in step()). */
  private handleAppendEntries(m: AppendEntries): void {
    const reply = (success: boolean, matchIndex: number, conflictIndex?: number, conflictTerm?: number): void => {
      const r: AppendEntriesReply = { type: 'append_entries_reply', from: this.id, to: m.from, term: this.term, success, matchIndex };
      if (conflictIndex !== undefined) r.conflictIndex = conflictIndex;
      if (conflictTerm !== undefined) r.conflictTerm = conflictTerm;
      if (m.readSeq !== undefined) r.readSeq = m.readSeq;
      this.send(r);
    };
    const prev = m.prevLogIndex;
    const last = this.log.lastIndex;
    if (prev < this.log.base) {
      // Our log is compacted past prev: what we compacted is in a snapshot of committed entries,
      // the same in every log (§5.4). Say where we are known to match: our commit index.
      reply(true, this.commitIndex);
      return;
    }
    // 2. "Reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm."
    // With the §5.3 optimization hints: where our log ends, or the first index of the
    // conflicting term, so the leader can skip a whole term per round trip.
    if (prev > last) {
      reply(false, prev, last + 1);
      return;
    }
    const prevTerm = this.log.term(prev);
    if (prevTerm !== m.prevLogTerm) {
      reply(false, prev, this.log.firstIndexOfTermAt(prev), prevTerm);
      return;
    }
    // 3. "If an existing entry conflicts with a new one (same index but different terms), delete
    // the existing entry and all that follow it." 4. "Append any new entries not already in the log."
    // Entries we already hold are kept: a stale, reordered append must not cut off newer entries.
    const entries = m.entries;
    let i = 0;
    for (; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== prev + 1 + i) return; // malformed; the wire validator refuses these anyway
      if (e.index > this.log.lastIndex) break;
      if (this.log.term(e.index) !== e.term) {
        // Committed entries are never overwritten (§5.4, Leader Completeness). A message asking for
        // that comes from a broken peer: ignore it rather than lose committed state.
        if (e.index <= this.commitIndex && this.opts.plantBug !== 'truncate_committed') return;
        this.log.truncateFrom(e.index);
        // A configuration entry removed with the suffix is no longer in force (§4.1).
        if (this.configIndex >= e.index) this.recomputeConfig();
        this.events.push({ kind: 'truncate', from: e.index });
        break;
      }
    }
    if (i < entries.length) {
      const from = entries[i]!.index;
      for (; i < entries.length; i++) {
        const e = entries[i]!;
        if (e.index !== prev + 1 + i) return;
        this.log.append(e);
        if (e.conf !== undefined) this.setConfig(e.conf, e.index);
      }
      this.events.push({ kind: 'append', from, to: this.log.lastIndex, term: this.log.lastTerm });
    }
    // 5. "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)."
    const lastNew = prev + entries.length;
    if (this.opts.plantBug === 'truncate_committed') this.plantedCutAfter(lastNew);
    if (m.leaderCommit > this.commitIndex) {
      const c = Math.min(m.leaderCommit, lastNew);
      if (c > this.commitIndex) this.commitTo(c);
    }
    reply(true, lastNew);
  }

  /**
   * Planted truncate_committed: the append is taken as the end of the log, so whatever follows its
   * last entry is deleted, committed or not (a stale append, e.g. a heartbeat at a match index the
   * leader has not updated yet, cuts off entries this follower acknowledged). The last kept entry
   * is written again, so that the shell's durable log is cut there too.
   */
  private plantedCutAfter(lastNew: number): void {
    if (lastNew >= this.log.lastIndex || lastNew <= this.log.base) return;
    const keep = this.log.entry(lastNew)!;
    this.log.truncateFrom(lastNew);
    this.log.append(keep);
    if (this.configIndex > lastNew) this.recomputeConfig();
    this.events.push({ kind: 'truncate', from: lastNew + 1 });
  }

  /**
   * Paper §7, InstallSnapshot receiver (steps 1, the term, were checked in step()). Chunks are
   * accepted in order only; the reply says how much is held, so a lost chunk is sent again from
   * there. A snapshot at or below our commit index adds nothing: it is answered and dropped.
   */
  private handleInstallSnapshot(m: InstallSnapshot): void {
    const reply = (offset: number, matchIndex: number): void => {
      this.send({ type: 'install_snapshot_reply', from: this.id, to: m.from, term: this.term, snapshotIndex: m.snapshotIndex, offset, matchIndex });
    };
    if (m.snapshotIndex <= this.commitIndex && this.opts.plantBug !== 'install_stale_snapshot') {
      reply(m.size, this.commitIndex);
      return;
    }
    let inc = this.incoming;
    const same = inc !== null && inc.index === m.snapshotIndex && inc.term === m.snapshotTerm && inc.size === m.size;
    if (!same) {
      // §7 step 2: "Create new snapshot file if first chunk (offset is 0)"; any other chunk of an
      // unknown snapshot is refused, and the reply asks for it from the start.
      if (m.offset !== 0) {
        reply(0, 0);
        return;
      }
      inc = this.incoming = { index: m.snapshotIndex, term: m.snapshotTerm, config: m.snapshotConfig, size: m.size, data: '' };
    }
    // §7 steps 3-4: write the data at its offset; wait for more if not done. A chunk at any other
    // offset (a duplicate, or one after a lost chunk) is not taken.
    if (m.offset === inc!.data.length && m.offset + m.data.length <= inc!.size) inc!.data += m.data;
    if (inc!.data.length < inc!.size) {
      reply(inc!.data.length, 0);
      return;
    }
    this.incoming = null;
    this.installSnapshot({ index: inc!.index, term: inc!.term, data: inc!.data, config: inc!.config });
    reply(inc!.size, inc!.index);
  }

  /** §7 steps 5-8: keep the log after the snapshot if it holds its last entry, else discard it; restore the state machine. */
  private installSnapshot(snap: Snapshot): void {
    this.log.restore(snap.index, snap.term);
    this.snap = snap;
    this.recomputeConfig();
    this.snapOut = snap;
    this.snapRestore = true;
    this.handedOut = snap.index;
    if (snap.index > this.commitIndex) this.commitTo(snap.index);
    else {
      this.commitIndex = snap.index; // planted install_stale_snapshot only: the commit index goes back
      this.events.push({ kind: 'commit', index: snap.index });
    }
  }

  // ---------------------------------------------------------------- replication: leader side

  private appendLocal(entry: Entry): void {
    this.log.append(entry);
    if (entry.conf !== undefined) this.setConfig(entry.conf, entry.index);
    const prevEv = this.events[this.events.length - 1];
    if (prevEv !== undefined && prevEv.kind === 'append' && prevEv.to === entry.index - 1 && prevEv.term === entry.term) prevEv.to = entry.index;
    else this.events.push({ kind: 'append', from: entry.index, to: entry.index, term: entry.term });
    // Sent when the shell takes the Ready, so that all proposals of one turn share AppendEntries.
    this.broadcastPending = true;
    // Not counted toward commitment yet: the leader's own copy counts once persisted() reports it
    // (a cluster of one commits then).
  }

  private handleAppendReply(m: AppendEntriesReply): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true; // CheckQuorum (§6.2)
    if (m.readSeq !== undefined && m.readSeq > pr.readAck) {
      pr.readAck = m.readSeq;
      this.releaseReads();
    }
    if (m.success) {
      if (m.matchIndex > this.log.lastIndex) return; // cannot match what we never sent
      // Figure 2, Leaders: "If successful: update nextIndex and matchIndex for follower (§5.3)".
      const probeAnswered = pr.state === 'probe' && m.matchIndex >= pr.next - 1;
      const advanced = pr.maybeUpdate(m.matchIndex);
      // The probe found where the follower's log matches ours: stream from there on.
      if (probeAnswered) pr.becomeReplicate();
      // The follower caught up past the snapshot being sent some other way: stop sending it.
      if (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex) pr.becomeProbe();
      if (advanced) this.maybeCommit();
      if (this.role !== 'leader') return; // the commit removed this leader (§4.2.2)
      this.sendAppend(m.from, pr);
    } else {
      // Figure 2, Leaders: "If AppendEntries fails because of log inconsistency: decrement
      // nextIndex and retry (§5.3)" — using the follower's hints to skip a term at a time.
      // A stale rejection (of an append sent before the current position) changes nothing.
      // A rejection with only a conflictIndex says where the follower's log ends (prev > last).
      if (pr.state === 'snapshot') return; // an answer to an append sent before the snapshot
      const followerLast = m.conflictTerm === undefined && m.conflictIndex !== undefined ? m.conflictIndex - 1 : undefined;
      if (pr.maybeDecrTo(m.matchIndex, this.nextFromHint(m), followerLast)) this.sendAppend(m.from, pr);
    }
  }

  /**
   * An answer to an InstallSnapshot chunk: the follower holds the snapshot through `matchIndex`
   * (installed, or it was committed past it), or needs the data from `offset` on. Only progress
   * sends the next chunk at once; otherwise the next heartbeat resends from the offset, so that
   * duplicated or reordered replies never multiply the chunks in flight.
   */
  private handleSnapshotReply(m: InstallSnapshotReply): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true; // CheckQuorum (§6.2)
    if (m.matchIndex > 0) {
      if (m.matchIndex > this.log.lastIndex) return;
      const advanced = pr.maybeUpdate(m.matchIndex);
      if (pr.state === 'snapshot') pr.becomeProbe();
      if (advanced) this.maybeCommit();
      if (this.role !== 'leader') return;
      this.sendAppend(m.from, pr);
      return;
    }
    if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.snapshotIndex) return;
    const progressed = m.offset > pr.snapshotOffset;
    pr.snapshotOffset = m.offset;
    if (progressed) {
      pr.paused = false;
      this.sendSnapshotChunk(m.from, pr);
    }
  }

  /** The chunk of the snapshot that starts where the follower said its copy ends. */
  private sendSnapshotChunk(to: PeerId, pr: Progress): void {
    const snap = this.snap;
    if (snap === null) throw new Error(`${to} needs compacted entries but there is no snapshot`);
    if (pr.snapshotIndex !== snap.index) pr.becomeSnapshot(snap.index); // a newer snapshot replaced it
    const offset = Math.min(pr.snapshotOffset, snap.data.length);
    const m: InstallSnapshot = {
      type: 'install_snapshot',
      from: this.id,
      to,
      term: this.term,
      snapshotIndex: snap.index,
      snapshotTerm: snap.term,
      snapshotConfig: snap.config,
      offset,
      size: snap.data.length,
      data: snap.data.slice(offset, offset + this.opts.maxBytesPerAppend),
    };
    this.send(m);
    pr.paused = true;
  }

  /** §5.3 optimization: skip past the follower's whole conflicting term in one round trip. */
  private nextFromHint(m: AppendEntriesReply): number {
    if (m.conflictTerm !== undefined) {
      const last = this.log.lastIndexOfTerm(m.conflictTerm, m.matchIndex);
      if (last > 0) return last + 1;
    }
    return m.conflictIndex ?? m.matchIndex;
  }

  /**
   * §5.3/§5.4.2, Figure 2, Leaders: "If there exists an N such that N > commitIndex, a majority of
   * matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N." Only entries of the
   * current term are committed by counting replicas; earlier ones commit with them (Figure 8).
   */
  private maybeCommit(): void {
    // The leader's own match index is the durable part of its log (see persisted()).
    const own = this.opts.plantBug === 'count_self_before_durable' ? this.log.lastIndex : this.log.durableIndex;
    // Only voters count (a leader being removed manages the cluster without counting itself, §4.2.2).
    const matches: number[] = this.isVoter(this.id) ? [own] : [];
    for (const [peer, pr] of this.progress) if (this.isVoter(peer)) matches.push(pr.match);
    const n = quorumValue(matches);
    if (n <= this.commitIndex) return;
    if (this.log.term(n) !== this.term && this.opts.plantBug !== 'commit_previous_term') return;
    this.commitTo(n);
    if (this.role === 'leader') this.broadcastPending = true; // tell followers the new commit index
  }

  private commitTo(index: number): void {
    const wasCurrent = this.log.term(this.commitIndex) === this.term;
    this.commitIndex = index;
    this.events.push({ kind: 'commit', index });
    if (this.role === 'leader' && !this.isVoter(this.id) && this.configIndex <= index) {
      // Dissertation §4.2.2: a leader removed from the configuration steps down once the change
      // is committed. It tells the followers the commit first, so that they use it at once.
      for (const [to, pr] of this.progress) this.sendHeartbeat(to, pr);
      this.events.push({ kind: 'step_down', reason: 'removed from the configuration', term: this.term });
      this.becomeFollower(this.term, null, this.now);
      return;
    }
    if (this.role === 'leader' && !wasCurrent && this.log.term(index) === this.term && this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const ctx of waiting) this.registerRead(ctx);
    }
  }

  /**
   * Send what the follower needs: in replicate state, batches until the in-flight window is full
   * (pipelining); in probe state, one append and wait. With nothing to send, a commit-only
   * append if the follower has not been told a commit index it could use.
   */
  private sendAppend(to: PeerId, pr: Progress): void {
    const last = this.log.lastIndex;
    if (pr.state === 'snapshot') {
      if (!pr.paused) this.sendSnapshotChunk(to, pr);
      return;
    }
    if (pr.state === 'probe') {
      if (pr.paused) return;
      if (pr.next <= last || pr.next - 1 > pr.match) {
        this.sendEntries(to, pr);
        return;
      }
    } else {
      let sent = false;
      while (pr.state === 'replicate' && pr.next <= last && !pr.inflightFull(this.opts.maxInflightAppends)) {
        this.sendEntries(to, pr);
        sent = true;
      }
      if (sent) return;
    }
    if (Math.min(this.commitIndex, pr.match) > pr.sentCommit) this.sendHeartbeat(to, pr);
  }

  private sendEntries(to: PeerId, pr: Progress): void {
    const prev = pr.next - 1;
    if (prev < this.log.base) {
      // §7: the entries the follower needs are compacted away; send the snapshot instead.
      pr.becomeSnapshot(this.snap?.index ?? 0);
      this.sendSnapshotChunk(to, pr);
      return;
    }
    const entries = this.log.batch(pr.next, this.opts.maxEntriesPerAppend, this.opts.maxBytesPerAppend);
    const m: AppendEntries = {
      type: 'append_entries',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex: prev,
      prevLogTerm: this.log.term(prev),
      entries,
      leaderCommit: this.commitIndex,
      readSeq: this.readSeq,
    };
    this.send(m);
    pr.sentCommit = Math.max(pr.sentCommit, Math.min(this.commitIndex, prev + entries.length));
    pr.sent(prev + entries.length);
  }

  /**
   * An empty AppendEntries at the follower's known match index: it always passes the consistency
   * check, keeps the follower's timer from firing, carries the commit index, and counts as a
   * leadership confirmation for ReadIndex rounds (readSeq).
   */
  private sendHeartbeat(to: PeerId, pr: Progress): void {
    // Below the log's base no term is known: check at the base instead (a follower without it
    // rejects, and is then sent the snapshot).
    const prev = Math.max(pr.match, this.log.base);
    this.send({
      type: 'append_entries',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex: prev,
      prevLogTerm: this.log.term(prev),
      entries: [],
      leaderCommit: this.commitIndex,
      readSeq: this.readSeq,
    });
    pr.sentCommit = Math.max(pr.sentCommit, Math.min(this.commitIndex, pr.match));
  }

  private heartbeat(): void {
    for (const [to, pr] of this.progress) {
      if (pr.state === 'snapshot') {
        // The chunk in flight (or its answer) may be lost: send again from the follower's offset.
        pr.paused = false;
        this.sendSnapshotChunk(to, pr);
        continue;
      }
      if (pr.state === 'probe') {
        // The outstanding probe (or its answer) may be lost: try again once per heartbeat.
        pr.paused = false;
        if (pr.next <= this.log.lastIndex || pr.next - 1 > pr.match) {
          this.sendEntries(to, pr); // doubles as the heartbeat
          continue;
        }
      } else if (pr.inflights.length > 0 && pr.match === pr.matchAtBeat) {
        // Appends in flight but nothing acknowledged for two heartbeats: one was probably lost.
        // Go back to probing from the last known match.
        if (++pr.stalledBeats >= 2) pr.becomeProbe();
      } else {
        pr.stalledBeats = 0;
      }
      pr.matchAtBeat = pr.match;
      this.sendHeartbeat(to, pr);
      if (pr.state === 'probe') this.sendAppend(to, pr);
    }
  }

  /** Dissertation §6.2: a leader that has not heard from a majority for an election timeout steps down. */
  private checkQuorum(): void {
    let active = this.isVoter(this.id) ? 1 : 0;
    for (const [peer, pr] of this.progress) {
      if (pr.recentActive && this.isVoter(peer)) active++;
      pr.recentActive = false;
    }
    if (active < majority(this.config.voters.length)) {
      this.events.push({ kind: 'step_down', reason: 'lost contact with a majority (CheckQuorum)', term: this.term });
      this.becomeFollower(this.term, null, this.now);
    }
  }

  // ---------------------------------------------------------------- ReadIndex (dissertation §6.4)

  private registerRead(ctx: string): void {
    // §6.4 step 2: "the leader saves its current commit index in a local variable readIndex".
    const index = this.commitIndex;
    if (this.config.voters.length === 1 && this.isVoter(this.id)) {
      this.readStates.push({ ctx, index });
      return;
    }
    // §6.4 step 3: confirm leadership with a fresh round of heartbeats acknowledged by a majority.
    // Reads arriving before the round goes out share it.
    if (!this.readRoundPending) {
      this.readSeq += 1;
      this.readRoundPending = true;
    }
    this.pendingReads.push({ ctx, index, seq: this.readSeq });
  }

  private releaseReads(): void {
    if (this.pendingReads.length === 0) return;
    const acks: number[] = this.isVoter(this.id) ? [this.readSeq] : [];
    for (const [peer, pr] of this.progress) if (this.isVoter(peer)) acks.push(pr.readAck);
    const confirmed = quorumValue(acks);
    let n = 0;
    // §6.4 step 4: once confirmed, the read may be served after applying through readIndex.
    while (n < this.pendingReads.length && this.pendingReads[n]!.seq <= confirmed) {
      const r = this.pendingReads[n]!;
      this.readStates.push({ ctx: r.ctx, index: r.index });
      n++;
    }
    if (n > 0) this.pendingReads.splice(0, n);
  }

  // ---------------------------------------------------------------- plumbing

  /** Work deferred to the moment the shell takes a Ready: batched appends and read rounds. */
  private flush(): void {
    if (this.role !== 'leader') {
      this.broadcastPending = false;
      this.readRoundPending = false;
      return;
    }
    if (this.readRoundPending) {
      this.readRoundPending = false;
      for (const [to, pr] of this.progress) this.sendHeartbeat(to, pr);
    }
    if (this.broadcastPending) {
      this.broadcastPending = false;
      for (const [to, pr] of this.progress) this.sendAppend(to, pr);
    }
  }

  // ---------------------------------------------------------------- configuration (dissertation ch. 4)

  private isVoter(id: PeerId): boolean {
    return this.config.voters.includes(id);
  }

  /** Whom a candidate asks and whose votes it counts: the voters (planted bug: and the initial ones). */
  private electorate(): PeerId[] {
    if (this.opts.plantBug !== 'count_old_config_votes') return this.config.voters;
    return [...new Set([...this.config.voters, ...this.initialConfig.voters])];
  }

  /** A configuration entry is in the log: it is in force at once (§4.1). */
  private setConfig(config: Config, index: number): void {
    this.config = config;
    this.configIndex = index;
    this.others = [...config.voters, ...config.learners].filter((p) => p !== this.id);
    if (this.role !== 'leader') return;
    for (const p of this.others) if (!this.progress.has(p)) this.progress.set(p, new Progress(this.log.lastIndex + 1));
    for (const p of [...this.progress.keys()]) if (!this.others.includes(p)) this.progress.delete(p);
  }

  /** The configuration of the log as it is now: its latest configuration entry, else the snapshot's, else the initial one. */
  private recomputeConfig(): void {
    for (let i = this.log.lastIndex; i > this.log.base; i--) {
      const e = this.log.entry(i)!;
      if (e.conf !== undefined) {
        this.setConfig(e.conf, i);
        return;
      }
    }
    if (this.snap !== null) this.setConfig(this.snap.config, this.snap.index);
    else this.setConfig(this.initialConfig, 0);
  }

  /** The configuration as of `index` (for a snapshot taken there). */
  private configAt(index: number): Config {
    for (let i = index; i > this.log.base; i--) {
      const e = this.log.entry(i)!;
      if (e.conf !== undefined) return e.conf;
    }
    return this.snap?.config ?? this.initialConfig;
  }

  private hardStateChanged(): boolean {
    const p = this.handedOutState;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.commitIndex;
  }

  private send(m: RaftMessage): void {
    this.msgs.push(m);
  }
}

function readSeqOf(m: AppendEntries): { readSeq?: number } {
  return m.readSeq === undefined ? {} : { readSeq: m.readSeq };
}
