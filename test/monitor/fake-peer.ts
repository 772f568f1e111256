// A peer's -v event stream written by hand, for the monitor's tests: the builder keeps a log (with
// its prefix hashes), a term, a vote and a "disk", numbers the events (seq) and fills in the
// fields the monitor reads, so that a test reads like the story it tells:
//
//   const p1 = new FakePeer('peer1');
//   feed(m, p1.hello(), p1.campaign(2), p1.lead(), p1.propose(['x', 'add', '1']), p1.commitTo(2));
//
// Every method returns the events the real peer would emit for that step, in its order.
import type { AppliedEntry, LogTile, PeerEvent, PeerRole, Recovered, RpcKind } from '../../shared/events.ts';
import { EMPTY_PREFIX, entryHash, prefixHash } from '../../shared/log-hash.ts';
import type { Monitor } from '../../game/relay/monitor/monitor.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Body = DistributiveOmit<PeerEvent, 'peer' | 't' | 'seq'>;

export interface FakeEntry {
  term: number;
  data: string | null;
}

interface Disk {
  term: number;
  vote: string | null;
  commit: number;
  log: FakeEntry[];
  w: number;
}

const TIMING = { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 };

export function command(words: string[]): string {
  return JSON.stringify({ cmd: words });
}

export class FakePeer {
  readonly cluster: string[];
  dataId: string;
  boot = '';
  private boots = 0;
  seq = 0;
  t = 1_000_000;
  term = 0;
  vote: string | null = null;
  role: PeerRole = 'follower';
  commit = 0;
  log: FakeEntry[] = [];
  w = 0;
  disk: Disk = { term: 0, vote: null, commit: 0, log: [], w: 0 };
  private rids = 0;
  private recovered: Recovered | null = null;

  constructor(
    readonly name: string,
    opts: { cluster?: string[]; dataId?: string } = {},
  ) {
    this.cluster = opts.cluster ?? ['peer1', 'peer2', 'peer3'];
    this.dataId = opts.dataId ?? `${name}-dir-1`;
  }

  // ---- the log

  /** ph(index) of the current log. */
  ph(index: number, log: FakeEntry[] = this.log): number {
    let ph = EMPTY_PREFIX;
    for (let i = 0; i < index; i++) ph = prefixHash(ph, log[i]!.term, entryHash(log[i]!.data));
    return ph;
  }

  get lastIndex(): number {
    return this.log.length;
  }

  get lastTerm(): number {
    return this.log.length === 0 ? 0 : this.log[this.log.length - 1]!.term;
  }

  tile(index: number): LogTile {
    const e = this.log[index - 1]!;
    return { index, term: e.term, label: e.data === null ? 'noop' : 'cmd', ph: this.ph(index) };
  }

  // ---- events

  /** Stamps an event: counted events take the next seq; hello, state and resync carry it. */
  event(body: Body): PeerEvent {
    this.t += 1;
    const counted = body.type !== 'hello' && body.type !== 'state' && body.type !== 'resync';
    const seq = counted ? this.seq++ : this.seq;
    return { ...body, peer: this.name, t: this.t, seq } as PeerEvent;
  }

  /** Events the peer emitted that never reached the monitor (a hole in seq). */
  lose(n = 1): void {
    this.seq += n;
  }

  /** A new process lifetime: the state comes back from the disk. */
  hello(): PeerEvent {
    this.boots++;
    this.boot = `${this.name}-boot-${this.boots}`;
    this.seq = 0;
    const d = this.disk;
    this.term = d.term;
    this.vote = d.vote;
    this.commit = Math.min(d.commit, d.log.length);
    this.log = d.log.slice();
    this.w = d.w;
    this.role = 'follower';
    const recovered: Recovered = {
      w: d.w,
      term: d.term,
      vote: d.vote,
      commit: this.commit,
      commitPh: this.ph(this.commit),
      lastIndex: this.lastIndex,
      lastTerm: this.lastTerm,
      lastPh: this.ph(this.lastIndex),
      base: null,
    };
    this.recovered = recovered;
    return this.event({ type: 'hello', pid: 1000 + this.boots, cluster: this.cluster, profile: 'fast', timing: TIMING, boot: this.boot, dataId: this.dataId, recovered });
  }

  /** The same process reconnects to the relay: the same hello, with the seq it has reached. */
  reconnect(): PeerEvent {
    return this.event({ type: 'hello', pid: 1000 + this.boots, cluster: this.cluster, profile: 'fast', timing: TIMING, boot: this.boot, dataId: this.dataId, recovered: this.recovered! });
  }

  state(over: Partial<Extract<PeerEvent, { type: 'state' }>> = {}): PeerEvent {
    return this.event({
      type: 'state',
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.role === 'leader' ? this.name : null,
      commitIndex: this.commit,
      appliedIndex: this.commit,
      lastIndex: this.lastIndex,
      lastTerm: this.lastTerm,
      electionDeadline: null,
      ...over,
    } as Body);
  }

  resync(): PeerEvent {
    const tail: LogTile[] = [];
    for (let i = Math.max(1, this.lastIndex - 49); i <= this.lastIndex; i++) tail.push(this.tile(i));
    return this.event({
      type: 'resync',
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.role === 'leader' ? this.name : null,
      commit: this.commit,
      commitPh: this.ph(this.commit),
      lastIndex: this.lastIndex,
      lastTerm: this.lastTerm,
      lastPh: this.ph(this.lastIndex),
      base: null,
      durable: { w: this.disk.w, term: this.disk.term, vote: this.disk.vote },
      tail,
    });
  }

  /** Report a write with tiles as one log_append carrying `durable` (as the peer does), not log_append + persisted. */
  foldWrites = false;

  /**
   * One durable write: the hard state, and entries from index `from` on (replacing what was
   * there). Emits what the shell emits after the fsync: log_truncate, log_append, persisted.
   */
  write(entries: FakeEntry[] = [], from = this.lastIndex + 1): PeerEvent[] {
    const out: PeerEvent[] = [];
    if (from <= this.lastIndex && entries.length > 0) out.push(this.event({ type: 'log_truncate', from, term: this.term }));
    this.w++;
    if (entries.length > 0) {
      this.log = [...this.log.slice(0, from - 1), ...entries];
      const tiles = entries.map((_, i) => this.tile(from + i));
      // As the peer reports it: the tiles carry the write (`durable`) instead of a persisted after them.
      if (this.foldWrites) out.push(this.event({ type: 'log_append', entries: tiles, durable: { w: this.w, term: this.term, vote: this.vote } }));
      else out.push(this.event({ type: 'log_append', entries: tiles }));
    }
    this.disk = { term: this.term, vote: this.vote, commit: this.commit, log: this.log.slice(), w: this.w };
    if (!this.foldWrites || entries.length === 0) out.push(this.persisted());
    return out;
  }

  persisted(): PeerEvent {
    return this.event({ type: 'persisted', w: this.w, term: this.term, vote: this.vote, lastIndex: this.lastIndex, lastTerm: this.lastTerm, lastPh: this.ph(this.lastIndex) });
  }

  rpc(type: 'rpc_send' | 'rpc_recv', rpc: RpcKind, other: string, opts: { term?: number; ok?: boolean; preVote?: boolean; entries?: number } = {}): PeerEvent {
    const summary = {
      rid: `${type === 'rpc_send' ? this.name : other}:${++this.rids}`,
      rpc,
      term: opts.term ?? this.term,
      heartbeat: rpc === 'append_entries' && (opts.entries ?? 0) === 0,
      entries: opts.entries ?? 0,
      ...(opts.preVote === undefined ? {} : { preVote: opts.preVote }),
      ...(opts.ok === undefined ? {} : { ok: opts.ok }),
    };
    return type === 'rpc_send' ? this.event({ type, to: other, ...summary }) : this.event({ type, from: other, ...summary });
  }

  /** Grants its vote in `term` to `candidate`: durable first, then the reply. */
  grantVote(term: number, candidate: string): PeerEvent[] {
    this.term = term;
    this.vote = candidate;
    this.role = 'follower';
    return [...this.write(), this.rpc('rpc_send', 'request_vote_reply', candidate, { ok: true }), this.state()];
  }

  /** Starts an election for `term` (votes for itself, durably) and asks everyone. */
  campaign(term: number): PeerEvent[] {
    this.term = term;
    this.vote = this.name;
    this.role = 'candidate';
    const out = this.write();
    for (const p of this.cluster) if (p !== this.name) out.push(this.rpc('rpc_send', 'request_vote', p));
    out.push(this.state());
    return out;
  }

  /** Wins: leader of its term, appends its no-op and sends it. */
  lead(): PeerEvent[] {
    this.role = 'leader';
    const out = [this.state()];
    for (const p of this.cluster) if (p !== this.name) out.push(this.rpc('rpc_send', 'append_entries', p, { entries: 1 }));
    out.push(...this.write([{ term: this.term, data: null }]));
    return out;
  }

  /** A leader appends client commands. */
  propose(...commands: string[][]): PeerEvent[] {
    return this.write(commands.map((c) => ({ term: this.term, data: command(c) })));
  }

  /** A follower takes entries from the leader (its term becomes the leader's). */
  follow(leader: FakePeer, upTo = leader.lastIndex): PeerEvent[] {
    this.term = Math.max(this.term, leader.term);
    this.role = 'follower';
    let from = 1;
    while (from <= Math.min(this.lastIndex, upTo) && this.ph(from) === leader.ph(from)) from++;
    const entries = leader.log.slice(from - 1, upTo);
    const out = [this.rpc('rpc_recv', 'append_entries', leader.name, { term: leader.term, entries: entries.length })];
    out.push(...this.write(entries, from));
    out.push(this.rpc('rpc_send', 'append_entries_reply', leader.name, { ok: true }));
    return out;
  }

  /** The commit index moves to `index` (reported with the term and the prefix hash). */
  commitTo(index: number): PeerEvent[] {
    this.commit = index;
    return [this.event({ type: 'commit', index, term: this.term, ph: this.ph(index) })];
  }

  /** Applies entries from..to as one apply event. */
  apply(from: number, to: number): PeerEvent {
    const entries: AppliedEntry[] = [];
    for (let i = from; i <= to; i++) {
      const e = this.log[i - 1]!;
      const words = e.data === null ? null : (JSON.parse(e.data) as { cmd: string[] }).cmd;
      entries.push({ index: i, term: e.term, h: entryHash(e.data), command: words, ok: true, result: null, key: null, value: null });
    }
    return this.event({ type: 'apply', entries });
  }
}

/** Feeds events to the monitor; returns every violation they revealed, in order. */
export function feed(m: Monitor, ...events: (PeerEvent | PeerEvent[])[]): Violation[] {
  const out: Violation[] = [];
  for (const e of events.flat()) out.push(...m.observe(e));
  return out;
}

/** The laws named by the violations. */
export function laws(vs: Violation[]): string[] {
  return vs.map((v) => v.law);
}
