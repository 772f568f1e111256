// What the lessons know of the cluster beyond the picture: the peer events themselves, kept in
// the order the page heard them, and pure questions over them (who asked for votes in a term,
// who granted them, what a restarted peer read from its disk). The picture (VillageModel) says
// how things are; the journal says what happened. Nothing here reads a clock or a socket.
import type { PeerEvent, Recovered } from '../../../../shared/events.ts';

export interface Heard {
  /** Position in the journal: 1, 2, 3, ... */
  n: number;
  /** Local ms when the page heard it. */
  at: number;
  ev: PeerEvent;
}

/** Events kept; a lesson looks back a few seconds, never further than this. */
export const JOURNAL_LIMIT = 50_000;

export class Journal {
  private readonly events: Heard[] = [];
  private count = 0;

  add(ev: PeerEvent, at: number): void {
    this.events.push({ n: ++this.count, at, ev });
    if (this.events.length > JOURNAL_LIMIT) this.events.splice(0, this.events.length - JOURNAL_LIMIT);
  }

  /** A mark: events heard after it are `since(mark)`. */
  mark(): number {
    return this.count;
  }

  since(mark: number): Heard[] {
    const first = this.events.length ? this.events[0]!.n : this.count + 1;
    return this.events.slice(Math.max(0, mark + 1 - first));
  }
}

/** Terms in which a peer said it was leader (state events), with the first time it said so. */
export function leadersSince(events: readonly Heard[]): { peer: string; term: number }[] {
  const out: { peer: string; term: number }[] = [];
  for (const { ev } of events) {
    if (ev.type === 'state' && ev.role === 'leader' && !out.some((l) => l.peer === ev.peer && l.term === ev.term)) out.push({ peer: ev.peer, term: ev.term });
  }
  return out;
}

/**
 * The votes a candidate got in a term: itself, and every peer whose granted RequestVote reply
 * (not a pre-vote) it received in that term. In the order they arrived.
 */
export function votesFor(events: readonly Heard[], candidate: string, term: number): string[] {
  const voters = [candidate];
  for (const { ev } of events) {
    if (ev.type !== 'rpc_recv' || ev.peer !== candidate || ev.rpc !== 'request_vote_reply') continue;
    if (ev.preVote || ev.ok !== true || ev.term !== term || voters.includes(ev.from)) continue;
    voters.push(ev.from);
  }
  return voters;
}

/** The peers that asked for votes (real RequestVotes, not pre-votes) in a term. */
export function candidatesIn(events: readonly Heard[], term: number): string[] {
  const out: string[] = [];
  for (const { ev } of events) {
    const asked = (ev.type === 'rpc_send' || ev.type === 'rpc_drop') && ev.rpc === 'request_vote' && !ev.preVote && ev.term === term && ev.peer === senderOf(ev.rid, ev.peer);
    const became = ev.type === 'state' && ev.role === 'candidate' && ev.term === term;
    if ((asked || became) && !out.includes(ev.peer)) out.push(ev.peer);
  }
  return out;
}

/** Pre-vote requests a peer sent (or tried to send: a blocked one is dropped before it leaves). */
export function preVoteRequests(events: readonly Heard[], peer: string): number {
  let n = 0;
  for (const { ev } of events) {
    if ((ev.type === 'rpc_send' || ev.type === 'rpc_drop') && ev.peer === peer && ev.rpc === 'request_vote' && ev.preVote && senderOf(ev.rid, peer) === peer) n++;
  }
  return n;
}

/** The commit indexes a peer reported, in order. */
export function commitsOf(events: readonly Heard[], peer: string): number[] {
  const out: number[] = [];
  for (const { ev } of events) if (ev.type === 'commit' && ev.peer === peer) out.push(ev.index);
  return out;
}

/** The index at which a peer appended an entry with this label (the last such append), or null. */
export function appendedAt(events: readonly Heard[], peer: string, label: string): { index: number; term: number } | null {
  let found: { index: number; term: number } | null = null;
  for (const { ev } of events) {
    if (ev.type !== 'log_append' || ev.peer !== peer) continue;
    for (const t of ev.entries) if (t.label === label) found = { index: t.index, term: t.term };
  }
  return found;
}

/** AppendEntries acknowledgements (not heartbeats) a leader received, by sender, in order. */
export function appendAcks(events: readonly Heard[], leader: string): string[] {
  const out: string[] = [];
  for (const { ev } of events) {
    if (ev.type === 'rpc_recv' && ev.peer === leader && ev.rpc === 'append_entries_reply' && ev.ok === true && !ev.heartbeat && !out.includes(ev.from)) out.push(ev.from);
  }
  return out;
}

/** The first hello of a peer (a new process) and what it recovered from disk, when it says. */
export function helloOf(events: readonly Heard[], peer: string): { pid: number; recovered: Recovered | null } | null {
  for (const { ev } of events) if (ev.type === 'hello' && ev.peer === peer) return { pid: ev.pid, recovered: ev.recovered ?? null };
  return null;
}

function senderOf(rid: unknown, fallback: string): string {
  if (typeof rid !== 'string') return fallback;
  const i = rid.lastIndexOf(':');
  return i > 0 ? rid.slice(0, i) : fallback;
}
