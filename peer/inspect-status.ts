// What a status request may add to the peer's state for someone looking inside it (the
// village's inspector): a window of the log and, on a leader, Figure 2's nextIndex[] and
// matchIndex[]. Read from the core on demand, never streamed: the -v events carry only what
// the village draws.
import { MAX_STATUS_COMMAND_CHARS, MAX_STATUS_ENTRIES, type FollowerStatus, type LogWindow, type StatusEntry, type StatusLog } from '../shared/peer-protocol.ts';
import { entryLabel } from './kv.ts';
import type { Entry, FollowerProgress, Role } from './raft/types.ts';

/** The parts of the core (RaftNode) a status needs; read only. */
export interface InspectableCore {
  status(): { role: Role; lastIndex: number };
  firstIndex(): number;
  entries(lo: number, hi: number): Entry[];
  followers(): FollowerProgress[];
}

/** The entries of `window`, clipped to what the log holds (at most MAX_STATUS_ENTRIES). */
export function logWindowOf(core: InspectableCore, window: LogWindow): StatusLog {
  const last = core.status().lastIndex;
  // An empty log has firstIndex lastIndex + 1 (1 for a new log, or just after a snapshot).
  const first = core.firstIndex();
  const wantFrom = 'last' in window ? last - window.last + 1 : window.from;
  const wantTo = 'last' in window ? last : window.to;
  const from = Math.max(first, wantFrom, 1);
  const to = Math.min(last, wantTo, from + MAX_STATUS_ENTRIES - 1);
  const entries = from <= to ? core.entries(from, to).map(statusEntry) : [];
  return { first, last, from, to, entries };
}

/** nextIndex and matchIndex per follower on a leader; null on any other role (it keeps none). */
export function progressOf(core: InspectableCore): FollowerStatus[] | null {
  if (core.status().role !== 'leader') return null;
  return core
    .followers()
    .map((f) => ({ peer: f.peer, nextIndex: f.next, matchIndex: f.match }))
    .sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
}

function statusEntry(e: Entry): StatusEntry {
  return { index: e.index, term: e.term, command: cut(e.conf ? `config voters=${e.conf.voters.join(',')}${e.conf.learners.length ? ` learners=${e.conf.learners.join(',')}` : ''}` : entryLabel(e.data)) };
}

function cut(text: string): string {
  return text.length > MAX_STATUS_COMMAND_CHARS ? `${text.slice(0, MAX_STATUS_COMMAND_CHARS - 1)}…` : text;
}
