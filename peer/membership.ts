// Membership changes in the peer's shell: the core (peer/raft/node.ts) does the Raft part, one
// single-server change at a time through the log (dissertation §4.1); this module does the rest.
//
// - On the leader, `join NAME` proposes add_learner, waits for it to commit, waits until the
//   learner's log reaches the commit index (the core refuses a promotion before that, §4.2.1),
//   then proposes promote and answers when that commits. `leave NAME` proposes remove and
//   answers when it commits. One change at a time: a second one is refused with in_flight; the
//   same `join` asked again (say, after a timeout) joins the one under way or resumes it.
// - A peer removed by a committed change is told so by the leader that committed it (an /admin
//   `removed` notice: the leader no longer replicates to it, so it cannot learn it from its log)
//   and exits, leaving its data on disk. A removed leader learns it itself: its core steps down
//   when the change commits (§4.2.2), and the shell exits then. A removed peer that missed the
//   notice (it was down) is harmless: PreVote and CheckQuorum keep it from disrupting the others.
// - Every change of the configuration in force (the latest in the log, committed or not) is
//   reported: a log line, a -v `config` event, and DIR/members.json, which the launcher reads on
//   start to know whom to run (a hint for starting processes; the log is the truth).
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { adminRequest } from '../shared/admin-client.ts';
import type { Config as IniConfig, PeerAddress } from '../shared/config.ts';
import { formatMembership, sameMembership, type MembershipError, type MembershipOp, type MembershipResult } from '../shared/membership.ts';
import type { ConfChange, ConfChangeResult, Config, CoreEvent, Entry, FollowerProgress, NodeStatus, PeerId } from './raft/types.ts';

/** The file in a peer's data directory that names its latest configuration (for the launcher). */
export const MEMBERS_FILE = 'members.json';

/** What the launcher reads from members.json. */
export interface MembersRecord {
  peer: PeerId;
  voters: PeerId[];
  learners: PeerId[];
  /**
   * The configuration entry's term and index in the peer's log (0, 0: the initial configuration,
   * or one from a snapshot): of two files, the one naming the later entry is the newer.
   */
  term: number;
  index: number;
}

export interface MembershipCore {
  status(): NodeStatus;
  entryAt(index: number): Entry | undefined;
  configuration(): Config;
  followers(): FollowerProgress[];
  proposeConfChange(change: ConfChange, now: number): ConfChangeResult;
}

export interface MembershipDeps {
  name: PeerId;
  /** Every name of raft_peer.ini [peers]: the only names a configuration may hold. */
  iniNames: readonly PeerId[];
  /** The initial configuration (what the log starts from, before any configuration entry). */
  initial: Config;
  /** The commit index recovered at start: entries at or below it were acted upon by an earlier run. */
  startCommit: number;
  dataDir: string;
  core: MembershipCore;
  now(): number;
  /** Takes the core's Ready after a proposal (the shell's afterInput). */
  kick(): void;
  log: { line(text: string): void; important(text: string): void };
  /** Reports the configuration in force (the -v `config` event). */
  report(config: Config): void;
  /** Tells a removed peer that its removal committed (the /admin `removed` notice). */
  notify(peer: PeerId, index: number, term: number): Promise<void>;
  /** This peer was removed: stop and exit (it has been logged). */
  removed(why: string): void;
}

/**
 * The core's membership options: the initial voters are the first N of the ini (a newcomer
 * started with --join leaves itself out of them and starts as a learner), and any name of the
 * ini may send it messages. Configuration entries in its log, once it has them, override both.
 */
export function membershipOptions(self: PeerId, initial: readonly PeerAddress[], ini: readonly PeerAddress[], joining: boolean): { peers: PeerId[]; learners: PeerId[]; allPeers: PeerId[] } {
  const voters = initial.map((p) => p.name);
  return {
    peers: joining ? voters.filter((n) => n !== self) : voters,
    learners: joining ? [self] : [],
    allPeers: ini.map((p) => p.name),
  };
}

/** The keeper's dependencies in a peer shell (peer.ts passes what only it has). */
export function membershipDeps(
  opts: { config: IniConfig; self: PeerAddress; cluster: PeerAddress[]; join?: boolean },
  startCommit: number,
  core: MembershipCore,
  log: MembershipDeps['log'],
  shell: Pick<MembershipDeps, 'kick' | 'report' | 'removed'> & { now(): number },
): MembershipDeps {
  const { config, self } = opts;
  const o = membershipOptions(self.name, opts.cluster, config.peers, opts.join === true);
  return {
    ...shell,
    name: self.name,
    iniNames: o.allPeers,
    initial: { voters: o.peers, learners: o.learners },
    startCommit,
    dataDir: join(config.dataDir, self.name),
    core,
    log,
    notify: (peer, index, term) => notifyRemoved(config, peer, { by: self.name, index, term }),
  };
}

/** Sends `peer` the leader's notice that its removal committed. Rejects when it cannot be told. */
export async function notifyRemoved(config: IniConfig, peer: PeerId, notice: { by: PeerId; index: number; term: number }): Promise<void> {
  const addr = config.peers.find((p) => p.name === peer);
  if (!addr) throw new Error(`${peer} is not in the ini`);
  const r = await adminRequest(addr, config.secret, { type: 'removed', ...notice }, 1000);
  if (r.type !== 'removed') throw new Error(`${peer} answered ${r.type === 'error' ? r.message : r.type}`);
}

type Reply = (r: MembershipResult) => void;

interface Pending {
  op: MembershipOp;
  peer: PeerId;
  /** propose: waiting to propose; commit: waiting for `index` to commit; catch_up: the learner is catching up. */
  stage: 'propose' | 'commit' | 'catch_up';
  change: ConfChange;
  /** The proposed entry's index and term (stage commit). */
  index: number;
  term: number;
  deadline: number;
  replies: Reply[];
}

const DEFAULT_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

export class MembershipKeeper {
  private pending: Pending | null = null;
  private poll: NodeJS.Timeout | null = null;
  private shown: Config;
  /** The configuration as of the last applied configuration entry (or the initial one). */
  private appliedConfig: Config;
  private gone = false;

  constructor(private readonly d: MembershipDeps) {
    this.shown = d.core.configuration();
    this.appliedConfig = d.initial;
    d.log.important(`configuration: ${formatMembership(this.shown)}${this.isMember(this.shown) ? '' : ` (${d.name} is not a member: it waits to be added)`}`);
    this.record();
  }

  /** The configuration in force now. */
  config(): Config {
    return this.d.core.configuration();
  }

  // ---- the leader's side of a change ----

  request(op: MembershipOp, peer: PeerId, timeoutMs: number | undefined, reply: Reply): void {
    const fail = (error: MembershipError, message: string, leader: PeerId | null = this.d.name) =>
      reply({ ok: false, op, peer, error, message, leader, ...(leader === this.d.name ? { config: this.config() } : {}) });
    if (this.gone) return fail('not_leader', `${this.d.name} is leaving the cluster`, null);
    if (!this.d.iniNames.includes(peer)) return fail('unknown_peer', `${peer} is not in raft_peer.ini [peers]; names there: ${this.d.iniNames.join(', ')}`);
    const st = this.d.core.status();
    if (st.role !== 'leader') return fail('not_leader', `${this.d.name} is not the leader${st.leader ? `; the leader is ${st.leader}` : '; no leader is known'}`, st.leader);
    const p = this.pending;
    if (p) {
      if (p.op === op && p.peer === peer) {
        p.replies.push(reply);
        return;
      }
      return fail('in_flight', `another change is under way (${p.op} ${p.peer}); try again when it is done`);
    }
    const { voters, learners } = this.config();
    let change: ConfChange;
    if (op === 'join') {
      if (voters.includes(peer)) return fail('already_member', `${peer} is a member (a voter) already`);
      // A learner left by an earlier join that timed out: resume with its promotion.
      change = learners.includes(peer) ? { op: 'promote', peer } : { op: 'add_learner', peer };
    } else {
      if (!voters.includes(peer) && !learners.includes(peer)) return fail('not_member', `${peer} is not a member (${formatMembership({ voters, learners })})`);
      change = { op: 'remove', peer };
    }
    const deadline = this.d.now() + (timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.pending = { op, peer, stage: change.op === 'promote' ? 'catch_up' : 'propose', change, index: 0, term: 0, deadline, replies: [reply] };
    this.d.log.important(`membership: ${op} ${peer} asked (${change.op === 'promote' ? `${peer} is a learner already: promote it once caught up` : change.op})`);
    this.drive();
  }

  /** Moves the change under way along; called after every batch and by its own poll. */
  drive(): void {
    const p = this.pending;
    if (!p) return;
    const st = this.d.core.status();
    // Committed is committed, leader or not (a leader that removed itself has just stepped down).
    const committed = p.stage === 'commit' && st.commitIndex >= p.index && this.d.core.entryAt(p.index)?.term === p.term;
    if (committed && p.change.op !== 'add_learner') {
      return this.finish({ ok: true, op: p.op, peer: p.peer, config: this.config(), index: p.index });
    }
    if (st.role !== 'leader') {
      return this.finish({
        ok: false, op: p.op, peer: p.peer, error: 'not_leader', leader: st.leader,
        message: `${this.d.name} lost the leadership during ${p.op} ${p.peer}${p.stage === 'propose' ? '' : ': the change may still take effect; ask the leader again'}`,
      });
    }
    if (this.d.now() > p.deadline) {
      const where = p.stage === 'catch_up' ? `${p.peer} is a learner that has not caught up yet (join again to go on)` : 'the change was not committed in time (it may still take effect)';
      return this.finish({ ok: false, op: p.op, peer: p.peer, error: 'timeout', leader: this.d.name, message: `${p.op} ${p.peer} did not finish: ${where}` });
    }
    if (committed) {
      p.change = { op: 'promote', peer: p.peer };
      p.stage = 'catch_up';
    } else if (p.stage === 'commit' && st.commitIndex >= p.index) {
      // Another leader's entry took its place (this one lost and won the leadership meanwhile).
      return this.finish({ ok: false, op: p.op, peer: p.peer, error: 'not_leader', leader: this.d.name, message: `the entry of ${p.op} ${p.peer} was replaced; ask again` });
    }
    if (p.stage === 'catch_up') {
      const f = this.d.core.followers().find((x) => x.peer === p.peer);
      if (f && f.match >= st.commitIndex) p.stage = 'propose';
    }
    if (p.stage === 'propose') {
      const r = this.d.core.proposeConfChange(p.change, this.d.now());
      if (r.ok) {
        p.stage = 'commit';
        p.index = r.index;
        p.term = r.term;
        this.d.log.important(`membership: proposed ${p.change.op} ${p.peer} at index ${r.index}`);
        this.d.kick();
      } else if ('reason' in r) {
        // Not before an entry of this term commits, nor while another change is uncommitted: soon.
        const transient = /not committed yet|no entry of this term|not caught up/.test(r.reason);
        if (!transient) return this.finish({ ok: false, op: p.op, peer: p.peer, error: 'refused', leader: this.d.name, message: r.reason });
      } else {
        return this.finish({ ok: false, op: p.op, peer: p.peer, error: 'not_leader', leader: r.leader, message: `${this.d.name} is not the leader` });
      }
    }
    if (!this.poll) {
      this.poll = setTimeout(() => {
        this.poll = null;
        this.drive();
      }, POLL_MS);
      this.poll.unref();
    }
  }

  private finish(r: MembershipResult): void {
    const p = this.pending!;
    this.pending = null;
    if (this.poll) clearTimeout(this.poll);
    this.poll = null;
    this.d.log.important(`membership: ${p.op} ${p.peer}: ${r.ok ? `done at index ${r.index} (${formatMembership(r.config)})` : `${r.error}: ${r.message}`}`);
    for (const reply of p.replies) reply(r);
  }

  // ---- what the log and the core say ----

  /** A committed configuration entry was applied. */
  committed(e: Entry): void {
    const before = this.appliedConfig;
    this.appliedConfig = e.conf!;
    if (e.index <= this.d.startCommit || this.d.core.status().role !== 'leader') return;
    const now = this.config();
    const all = (c: Config) => [...c.voters, ...c.learners];
    for (const peer of all(before)) {
      if (all(e.conf!).includes(peer) || all(now).includes(peer) || peer === this.d.name) continue;
      // The leader no longer sends it anything: tell it, a few times in case it is slow to answer.
      void this.tell(peer, e.index, e.term, 5);
    }
  }

  private async tell(peer: PeerId, index: number, term: number, tries: number): Promise<void> {
    for (let i = 0; i < tries; i++) {
      try {
        await this.d.notify(peer, index, term);
        this.d.log.line(`membership: told ${peer} that its removal committed at index ${index}`);
        return;
      } catch (e) {
        if (i === tries - 1) this.d.log.line(`membership: could not tell ${peer} that it was removed (${(e as Error).message}); it stays out of the cluster anyway`);
        await new Promise((r) => setTimeout(r, 300).unref());
      }
    }
  }

  coreEvent(ev: CoreEvent): void {
    if (ev.kind === 'step_down' && ev.reason === 'removed from the configuration') {
      this.leave(`removed from the configuration in term ${ev.term} (its removal committed while it led)`);
    }
  }

  /**
   * The /admin `removed` notice from the leader that committed this peer's removal. The leader
   * is trusted (it proved the cluster secret): this peer never receives the entry itself.
   */
  removedNotice(by: PeerId, index: number, term: number): void {
    this.leave(`removed from the configuration by the change committed at index ${index} (term ${term}), told by ${by}`);
  }

  private leave(why: string): void {
    if (this.gone) return;
    this.gone = true;
    this.d.log.important(`${why}; exiting (the data stays in ${this.d.dataDir})`);
    // A moment for the replies already written (the notice's, a leaving leader's) to leave.
    setTimeout(() => this.d.removed(why), 200);
  }

  /** After every batch: report a new configuration, and drive the change under way. */
  afterBatch(): void {
    const c = this.config();
    if (c !== this.shown && !sameMembership(c, this.shown)) {
      this.shown = c;
      this.d.log.important(`configuration: ${formatMembership(c)}${this.isMember(c) ? '' : ` (${this.d.name} is not a member)`}`);
      this.record();
    }
    this.shown = c;
    if (this.pending) this.drive();
  }

  stop(): void {
    if (this.poll) clearTimeout(this.poll);
    this.poll = null;
    if (this.pending) {
      this.finish({ ok: false, op: this.pending.op, peer: this.pending.peer, error: 'not_leader', leader: null, message: `${this.d.name} is stopping` });
    }
  }

  private isMember(c: Config): boolean {
    return c.voters.includes(this.d.name) || c.learners.includes(this.d.name);
  }

  /** The -v event and members.json (written aside, fsynced, renamed into place). */
  private record(): void {
    const c = this.shown;
    this.d.report(c);
    // The entry that set it: the latest configuration entry of the log (the core's `c` is its conf).
    let at: Entry | undefined;
    for (let i = this.d.core.status().lastIndex; i > 0; i--) {
      const e = this.d.core.entryAt(i);
      if (e === undefined || e.conf === c) {
        at = e;
        break;
      }
    }
    const rec: MembersRecord = { peer: this.d.name, voters: c.voters, learners: c.learners, term: at?.term ?? 0, index: at?.index ?? 0 };
    const file = join(this.d.dataDir, MEMBERS_FILE);
    try {
      const fd = openSync(`${file}.tmp`, 'w');
      try {
        writeSync(fd, `${JSON.stringify(rec)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.d.log.line(`could not write ${file} (${(e as Error).message}); the launcher falls back to the first N peers`);
    }
  }
}
