// Helpers for the rule tests: build nodes in a chosen state, step messages in, look at what comes out.
import { RaftNode } from '../../peer/raft/node.ts';
import type { Entry, HardState, Message, PeerId, RaftMessage, RaftOptions, Ready, RequestVote } from '../../peer/raft/types.ts';

export const HB = 50;
export const EMIN = 150;
export const EMAX = 300;

export function options(id: PeerId, peers: PeerId[], extra: Partial<RaftOptions> = {}): RaftOptions {
  return {
    id,
    peers,
    heartbeatMs: HB,
    electionMinMs: EMIN,
    electionMaxMs: EMAX,
    random: () => 0.5,
    maxEntriesPerAppend: 64,
    maxBytesPerAppend: 1 << 20,
    maxInflightAppends: 4,
    preVote: false,
    checkQuorum: false,
    ...extra,
  };
}

/** Entries from a list of terms: terms[i] is the term of index i + 1. */
export function logOf(terms: number[], data = (i: number) => `e${i}`): Entry[] {
  return terms.map((term, i) => ({ index: i + 1, term, data: data(i + 1) }));
}

export interface NodeSetup {
  peers?: PeerId[];
  term?: number;
  vote?: PeerId | null;
  commit?: number;
  log?: number[];
  now?: number;
  opts?: Partial<RaftOptions>;
}

export function node(id: PeerId, s: NodeSetup = {}): RaftNode {
  const peers = s.peers ?? ['n1', 'n2', 'n3'];
  const hardState: HardState = { term: s.term ?? 0, vote: s.vote ?? null, commit: s.commit ?? 0 };
  return new RaftNode(options(id, peers, s.opts), { hardState, entries: logOf(s.log ?? []) }, s.now ?? 0);
}

/**
 * Take the Ready as a shell whose save completes at once would: report it persisted. `sent` is
 * every message it sends, the early ones (a leader's AppendEntries) first.
 */
export function take(n: RaftNode): Ready & { sent: Message[] } {
  const rd = n.ready();
  n.persisted(rd);
  return { ...rd, sent: [...rd.early, ...rd.messages] };
}

/** Take the Ready (saved at once) and return the messages it sends (optionally only those of one type). */
export function sent<T extends Message['type']>(n: RaftNode, type?: T): Extract<Message, { type: T }>[] {
  return take(n).sent.filter((m) => type === undefined || m.type === type) as Extract<Message, { type: T }>[];
}

/** Make `id` the leader of `peers` at term `term` by stepping granted votes in. Drains its Ready. */
export function leaderOf(id: PeerId, s: NodeSetup = {}): RaftNode {
  const n = node(id, s);
  n.campaign(s.now ?? 0);
  const term = n.status().term;
  for (const p of s.peers ?? ['n1', 'n2', 'n3']) {
    if (p === id) continue;
    n.step({ type: 'request_vote_reply', from: p, to: id, term, granted: true, preVote: false }, s.now ?? 0);
  }
  if (n.status().role !== 'leader') throw new Error('setup: did not become leader');
  take(n);
  return n;
}

/** A tiny synchronous cluster: deliver every message until quiet. */
export class Cluster {
  readonly nodes = new Map<PeerId, RaftNode>();
  readonly applied = new Map<PeerId, Entry[]>();
  readonly readies: { id: PeerId; rd: Ready }[] = [];
  now = 0;
  /** Messages matching this are dropped. */
  drop: (m: RaftMessage) => boolean = () => false;

  constructor(ids: PeerId[], extra: Partial<RaftOptions> = {}, random?: (id: PeerId) => () => number) {
    for (const id of ids) {
      const o = options(id, ids, extra);
      if (random) o.random = random(id);
      this.nodes.set(id, new RaftNode(o, { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, 0));
      this.applied.set(id, []);
    }
  }

  get(id: PeerId): RaftNode {
    return this.nodes.get(id)!;
  }

  stabilize(limit = 10_000): void {
    let queue: RaftMessage[] = [];
    for (let round = 0; round < limit; round++) {
      for (const [id, n] of this.nodes) {
        while (n.hasReady()) {
          const rd = take(n);
          this.readies.push({ id, rd });
          this.applied.get(id)!.push(...rd.committed);
          queue.push(...rd.sent, ...rd.snapshotMessages);
        }
      }
      if (queue.length === 0) return;
      const batch = queue;
      queue = [];
      for (const m of batch) if (!this.drop(m)) this.nodes.get(m.to)?.step(m, this.now);
    }
    throw new Error('cluster did not stabilize');
  }

  leader(): RaftNode | undefined {
    for (const n of this.nodes.values()) if (n.status().role === 'leader') return n;
    return undefined;
  }

  /** Advance time to `t`, ticking every node whose deadline has come. */
  advance(t: number): void {
    this.now = t;
    for (const n of this.nodes.values()) n.tick(t);
  }
}

export function ae(from: PeerId, to: PeerId, term: number, prevLogIndex: number, prevLogTerm: number, entryTerms: number[], leaderCommit: number, readSeq?: number): Message {
  const entries = entryTerms.map((t, i) => ({ index: prevLogIndex + 1 + i, term: t, data: `e${prevLogIndex + 1 + i}` }));
  const m: Message = { type: 'append_entries', from, to, term, prevLogIndex, prevLogTerm, entries, leaderCommit };
  if (readSeq !== undefined) m.readSeq = readSeq;
  return m;
}

export function aeOk(from: PeerId, to: PeerId, term: number, matchIndex: number, readSeq?: number): Message {
  const m: Message = { type: 'append_entries_reply', from, to, term, success: true, matchIndex };
  if (readSeq !== undefined) m.readSeq = readSeq;
  return m;
}

export function vote(from: PeerId, to: PeerId, term: number, lastLogIndex: number, lastLogTerm: number, preVote = false): RequestVote {
  return { type: 'request_vote', from, to, term, lastLogIndex, lastLogTerm, preVote };
}

export function voteReply(from: PeerId, to: PeerId, term: number, granted: boolean, preVote = false): Message {
  return { type: 'request_vote_reply', from, to, term, granted, preVote };
}

/** A leader whose followers have all acknowledged its log (replicate state). Drains its Ready. */
export function stableLeader(id: PeerId, s: NodeSetup = {}): RaftNode {
  const l = leaderOf(id, s);
  const { term, lastIndex } = l.status();
  for (const p of s.peers ?? ['n1', 'n2', 'n3']) {
    if (p !== id) l.step(aeOk(p, id, term, lastIndex), s.now ?? 0);
  }
  take(l);
  return l;
}
