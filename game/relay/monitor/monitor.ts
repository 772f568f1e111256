// The live safety monitor: a pure fold over the peers' -v events (shared/events.ts) that checks
// the laws of laws.ts as the events arrive. No sockets, no timers, no I/O and no clock: the relay
// runs it live, the chaos tool over its peers' events, tests and replays over recordings.
//
//   const m = createMonitor();
//   for (const e of events) for (const v of m.observe(e, now)) report(v);
//   m.status()  // { eventsChecked, violations, blind: [{ peer, sinceSeq, reason }], ... }
//
// Input contract: each peer's events in the order that peer emitted them (the relay hands them
// over as they arrive on the peer's stream; events of a closed stream never come after the hello
// of a newer one). Peers' streams may interleave in any way.
//
// Two kinds of knowledge, and what missing events do to each (PROTOCOL.md, "Fields the monitor
// reads", says which field feeds which law):
// - Facts: one event states something true about one moment ("peer1 leads term 5", "peer2 granted
//   its vote in term 5 to peer3, durably", "peer3 holds entry 9 of term 4 with prefix hash X",
//   "peer1 applied entry 9 with hash Y", "peer2 reports 12 committed in term 5 with prefix hash Z").
//   Comparing facts needs no other event, so these checks go on when events are missing:
//   Election Safety, Log Matching, State Machine Safety, one vote per term, terms and commit only
//   growing, durable state surviving a restart, and Leader Completeness against entries that exist.
// - The known log of a peer (known-log.ts): where its log ends and the prefix hashes of its last
//   entries. It is only right if every event since a hello or a resync was seen. A hole in `seq`,
//   an event out of order, or `reporter_dropped` makes the monitor blind for that peer ("blind for
//   peer2 since event 812"): it drops the known log and skips the checks that need it (a new
//   leader holds the committed entries; a leader's log only grows) until the peer's next `resync`.
//
// Memory is bounded whatever the length of the run (see MonitorOptions): facts are kept per term
// or per index only within a window below the highest one seen, and what falls out of the window
// is neither checked nor counted as checked.
import type { AppliedEntry, DurableLog, LogPoint, LogTile, PeerEvent, PeerRole, Recovered } from '../../../shared/events.ts';
import { formatEntryHash, formatPrefixHash } from '../../../shared/log-hash.ts';
import { CommittedFacts, type CommittedFact } from './committed.ts';
import { KeyWindow } from './key-window.ts';
import { KnownLog } from './known-log.ts';
import { LAWS, type Evidence, type LawId, type Violation } from './laws.ts';

export interface MonitorOptions {
  /** Leaders are remembered for this many terms below the highest (default 1000). */
  termWindow?: number;
  /** Entry and apply facts are remembered for this many indexes below the highest (default 10,000). */
  indexWindow?: number;
  /** Entries of each peer's known log kept (default 2000; up to twice as many between trims). */
  logWindow?: number;
  /** Votes remembered per peer, in terms below its highest (default 100). */
  voteWindow?: number;
  /** Committed facts kept (default 64). */
  committedLimit?: number;
  /** Violations kept for status() (default 100; all are counted and all are returned by observe). */
  maxViolations?: number;
  /**
   * Called during observe() when a peer goes blind (with why and since which event) or sees again
   * (null, at its resync), so a reader can tell blind periods without polling status().
   */
  onBlindChange?: (peer: string, blind: BlindPeer | null) => void;
}

export interface BlindPeer {
  peer: string;
  /** The first event of the peer the monitor did not see (or cannot vouch for). */
  sinceSeq: number;
  reason: string;
  /** Whether its events carry seq at all: false means the peer sends none of the fields the monitor reads. */
  numbered: boolean;
}

export interface MonitorStatus {
  /** Events observed. */
  eventsSeen: number;
  /** Events that took part in at least one check that could have failed. */
  eventsChecked: number;
  /** The first violations (up to maxViolations). */
  violations: Violation[];
  violationCount: number;
  /** Peers for which the checks that need every event are off, and why. */
  blind: BlindPeer[];
}

export interface Monitor {
  /** Folds one event in; returns the violations it revealed (usually none). */
  observe(event: PeerEvent, now?: number): Violation[];
  status(): MonitorStatus;
  /** How many items each of the monitor's memories holds (for the memory bound). */
  retained(): Record<string, number>;
}

// ---------------------------------------------------------------- internal shapes

/** Where a fact came from: one event of one peer. */
interface Ref {
  peer: string;
  seq: number | null;
  boot: string | null;
  type: string;
  t: number;
}

interface Fact<T> {
  value: T;
  ref: Ref;
}

interface EntryFact {
  term: number;
  ph: number;
  ref: Ref;
}

interface ApplyFact {
  term: number;
  h: number | undefined;
  command: string[] | null;
  ref: Ref;
}

interface VoteFact {
  candidate: string;
  /** The lifetime that gave the vote. */
  boot: string | null;
  ref: Ref;
}

interface Acked {
  w: number;
  lastIndex: number;
  lastTerm: number;
  lastPh: number;
  ref: Ref;
}

/** What the monitor knows of a peer's data directory: it outlives process lifetimes. */
interface Disk {
  dataId: string;
  /** The highest term known to be on its disk. */
  maxTerm: Fact<number> | null;
  /** Votes known to be on its disk. */
  votes: KeyWindow<VoteFact>;
  /** The last durable write the peer reported. */
  acked: Acked | null;
  /** The highest entry the peer reported committed after it was on its disk. */
  committed: { index: number; ph: number; ref: Ref } | null;
}

interface Leading {
  term: number;
  /** The first event that showed it leading this term. */
  ref: Ref;
  said: string;
  /** The end of its log when last seen while leading; null while the known log is missing. */
  anchor: { index: number; ph: number; ref: Ref } | null;
}

interface PeerState {
  name: string;
  // ---- the process lifetime (reset by a hello with a new boot)
  boot: string | null;
  /** Its events carry seq. */
  numbered: boolean;
  /** The seq the next counted event should carry. */
  expected: number;
  blind: { sinceSeq: number; reason: string } | null;
  /** Null while blind. */
  log: KnownLog | null;
  /** Term and commit index as reported by state/resync snapshots, and commit events. */
  term: Fact<number> | null;
  commitSnap: Fact<number> | null;
  commitEvent: Fact<number> | null;
  /** Votes of this lifetime, from any event. */
  votes: KeyWindow<VoteFact>;
  leading: Leading | null;
  /** Recent truncations with their write's term (a later leader claim is checked against them). */
  truncations: { term: number; from: number; ref: Ref }[];
  /** A committed entry the recovered log must hold, to be checked once its prefix hash is known. */
  pending: { index: number; ph: number; ref: Ref } | null;
  /** The highest durable term of earlier lifetimes of the same directory. */
  floor: Fact<number> | null;
  // ---- the data directory (kept across lifetimes with the same hello.dataId)
  disk: Disk | null;
}

const SNAPSHOT_TYPES: ReadonlySet<PeerEvent['type']> = new Set(['hello', 'state', 'resync']);
const MAX_TRUNCATIONS = 16;
const MAX_DEDUP_KEYS = 10_000;

// ---------------------------------------------------------------- the fold

export function createMonitor(options: MonitorOptions = {}): Monitor {
  const termWindow = options.termWindow ?? 1000;
  const indexWindow = options.indexWindow ?? 10_000;
  const logWindow = options.logWindow ?? 2000;
  const voteWindow = options.voteWindow ?? 100;
  const maxViolations = options.maxViolations ?? 100;
  const onBlindChange = options.onBlindChange;

  const peers = new Map<string, PeerState>();
  /** term -> the first peer seen leading it. */
  const leaders = new KeyWindow<Fact<string>>(termWindow);
  /** index -> the entries (by term) seen there, with their prefix hash. */
  const entries = new KeyWindow<EntryFact[]>(indexWindow);
  /** index -> the first entry seen applied there. */
  const applied = new KeyWindow<ApplyFact>(indexWindow);
  const committed = new CommittedFacts<Ref>(options.committedLimit ?? 64);

  const kept: Violation[] = [];
  const reported = new Set<string>();
  let violationCount = 0;
  let eventsSeen = 0;
  let eventsChecked = 0;

  // Per observe() call.
  let fresh: Violation[] = [];
  let checked = false;
  let at = 0;

  function peerState(name: string): PeerState {
    let ps = peers.get(name);
    if (!ps) {
      ps = {
        name,
        boot: null,
        numbered: false,
        expected: 0,
        // Until its hello, nothing is known of where this peer's stream began.
        blind: { sinceSeq: 0, reason: 'no hello seen for this process' },
        log: null,
        term: null,
        commitSnap: null,
        commitEvent: null,
        votes: new KeyWindow(voteWindow),
        leading: null,
        truncations: [],
        pending: null,
        floor: null,
        disk: null,
      };
      peers.set(name, ps);
    }
    return ps;
  }

  function violate(law: LawId, key: string, message: string, who: string[], indexes: number[], terms: number[], evidence: Evidence[]): void {
    const k = `${law}|${key}`;
    if (reported.has(k)) return;
    if (reported.size < MAX_DEDUP_KEYS) reported.add(k);
    const v: Violation = {
      law,
      statement: LAWS[law].statement,
      message,
      peers: [...new Set(who)],
      indexes,
      terms,
      evidence,
      at,
    };
    violationCount++;
    if (kept.length < maxViolations) kept.push(v);
    fresh.push(v);
  }

  function goBlind(ps: PeerState, sinceSeq: number, reason: string): void {
    ps.log = null;
    if (ps.leading) ps.leading.anchor = null;
    if (ps.blind === null) ps.blind = { sinceSeq, reason };
  }

  /**
   * Follows the peer's seq. Returns false when the event must be ignored (it came out of order:
   * it may belong to another lifetime or repeat one already seen).
   */
  function track(ps: PeerState, e: PeerEvent): boolean {
    const counted = !SNAPSHOT_TYPES.has(e.type);
    if (e.seq === undefined) {
      if (ps.numbered) goBlind(ps, ps.expected, `${e.type} came without a seq`);
      return true;
    }
    if (!ps.numbered) {
      // The first numbered event without a numbered hello before it (the peer is blind already).
      ps.numbered = true;
      ps.expected = e.seq;
    }
    if (e.seq < ps.expected) {
      goBlind(ps, ps.expected, `event ${e.seq} (${e.type}) came after event ${ps.expected - 1}`);
      return false;
    }
    if (e.seq > ps.expected) {
      const missing = e.seq - ps.expected === 1 ? `event ${ps.expected} is missing` : `events ${ps.expected}..${e.seq - 1} are missing`;
      goBlind(ps, ps.expected, missing);
    }
    ps.expected = counted ? e.seq + 1 : e.seq;
    return true;
  }

  // ---------------------------------------------------------------- facts and their checks

  /** Election Safety: `peer` led `term`. */
  function leaderFact(peer: string, term: number, ref: Ref, said: string): void {
    if (!leaders.covers(term)) return;
    const first = leaders.get(term);
    if (!first) {
      leaders.set(term, { value: peer, ref });
      return;
    }
    checked = true;
    if (first.value === peer) return;
    violate(
      'election_safety',
      `${term}`,
      `${first.value} and ${peer} were both leaders in term ${term}.`,
      [first.value, peer],
      [],
      [term],
      [evidence(first.ref, `${first.value} leads term ${term}`), evidence(ref, said)],
    );
  }

  /** A peer claims leadership of `term` in its own events: Election Safety, then what a leader owes. */
  function claim(ps: PeerState, term: number, ref: Ref, said: string): void {
    leaderFact(ps.name, term, ref, said);
    if (ps.leading !== null && term <= ps.leading.term) return;
    ps.leading = { term, ref, said, anchor: ps.log ? endOf(ps.log, ref) : null };
    for (const tr of ps.truncations) if (tr.term === term) truncatedWhileLeading(ps, tr.term, tr.from, tr.ref, ref);
    completeness(ps);
  }

  function endOf(log: KnownLog, ref: Ref): Leading['anchor'] {
    const a = log.at(log.lastIndex);
    return a.kind === 'known' ? { index: log.lastIndex, ph: a.ph, ref } : null;
  }

  function truncatedWhileLeading(ps: PeerState, term: number, from: number, truncRef: Ref, leadRef: Ref): void {
    violate(
      'leader_append_only',
      `${ps.name}|${term}`,
      `${ps.name} led term ${term} and deleted its entries from index ${from} on in a write of the same term.`,
      [ps.name],
      [from],
      [term],
      [evidence(leadRef, `${ps.name} leads term ${term}`), evidence(truncRef, `removed entries from index ${from} (write of term ${term})`)],
    );
  }

  /** Leader Completeness, from the leader's known log: it must hold the highest entry committed before its term. */
  function completeness(ps: PeerState): void {
    const log = ps.log;
    const lead = ps.leading;
    if (!log || !lead) return;
    const f = committed.before(lead.term);
    if (!f) return;
    const a = log.at(f.index);
    if (a.kind === 'unknown') return;
    checked = true;
    if (a.kind === 'known' && a.ph === f.ph) return;
    const what =
      a.kind === 'absent'
        ? `its log ends at index ${a.lastIndex}, without entry ${f.index}`
        : `its log holds entry ${f.index} of term ${a.term} with prefix hash ${formatPrefixHash(a.ph)}, not ${formatPrefixHash(f.ph)}`;
    violate(
      'leader_completeness',
      `${ps.name}|${lead.term}|${f.index}`,
      `${ps.name} leads term ${lead.term}, but ${what}; entries through ${f.index} were committed by term ${f.term}.`,
      [ps.name, f.ref.peer],
      [f.index],
      [lead.term, f.term],
      [
        evidence(f.ref, `entries through ${f.index} committed (term ${f.term}; prefix hash ${formatPrefixHash(f.ph)})`),
        evidence(lead.ref, lead.said),
      ],
    );
  }

  /** Entries through `index` (prefix hash `ph`) were committed in term `term` or earlier. */
  function committedFact(index: number, ph: number, term: number, ref: Ref): void {
    if (index <= 0) return;
    const f: CommittedFact<Ref> = { index, term, ph, ref };
    if (!committed.add(f)) return;
    for (const ps of peers.values()) if (ps.leading !== null && ps.leading.term > term) completeness(ps);
  }

  /**
   * An entry exists: (index, term). No entry at or below a committed index can have a term after
   * the one the commit was reported in: its leader would have lacked committed entries.
   */
  function entryVsCommitted(peer: string, index: number, term: number, ref: Ref): void {
    const f = committed.before(term);
    if (!f) return;
    checked = true;
    if (f.index < index) return;
    violate(
      'leader_completeness',
      `entry|${index}|${term}`,
      `${peer} holds entry ${index} of term ${term}, but entries through ${f.index} were committed by term ${f.term}: ` +
        `the leader of term ${term} lacked committed entries when it wrote at index ${index}.`,
      [peer, f.ref.peer],
      [index, f.index],
      [term, f.term],
      [evidence(f.ref, `entries through ${f.index} committed (term ${f.term})`), evidence(ref, `entry ${index} of term ${term}`)],
    );
  }

  /** Log Matching: an entry (index, term) with the prefix hash through it. */
  function entryFact(peer: string, p: LogPoint, ref: Ref): void {
    entryVsCommitted(peer, p.index, p.term, ref);
    if (p.index <= 0 || !entries.covers(p.index)) return;
    const list = entries.get(p.index);
    if (!list) {
      entries.set(p.index, [{ term: p.term, ph: p.ph, ref }]);
      return;
    }
    for (const f of list) {
      if (f.term !== p.term) continue;
      checked = true;
      if (f.ph === p.ph) return;
      violate(
        'log_matching',
        `${p.index}|${p.term}`,
        `${f.ref.peer} and ${peer} both hold an entry at index ${p.index} of term ${p.term}, but their logs through it differ ` +
          `(prefix hash ${formatPrefixHash(f.ph)} against ${formatPrefixHash(p.ph)}): another command there, or other entries before it.`,
        [f.ref.peer, peer],
        [p.index],
        [p.term],
        [
          evidence(f.ref, `entry ${p.index} of term ${p.term}, prefix hash ${formatPrefixHash(f.ph)}`),
          evidence(ref, `entry ${p.index} of term ${p.term}, prefix hash ${formatPrefixHash(p.ph)}`),
        ],
      );
      return;
    }
    if (list.length < 4) list.push({ term: p.term, ph: p.ph, ref });
  }

  /** State Machine Safety: `peer` applied this entry. */
  function appliedFact(peer: string, e: AppliedEntry, ref: Ref): void {
    entryVsCommitted(peer, e.index, e.term, ref);
    if (!applied.covers(e.index)) return;
    const f = applied.get(e.index);
    if (!f) {
      applied.set(e.index, { term: e.term, h: e.h, command: e.command, ref });
      return;
    }
    checked = true;
    const same = f.term === e.term && (f.h !== undefined && e.h !== undefined ? f.h === e.h : sameWords(f.command, e.command));
    if (same) return;
    violate(
      'state_machine_safety',
      `${e.index}`,
      `${f.ref.peer} applied ${describeApplied(f.term, f.h, f.command)} at index ${e.index}, ${peer} applied ${describeApplied(e.term, e.h, e.command)}.`,
      [f.ref.peer, peer],
      [e.index],
      f.term === e.term ? [e.term] : [f.term, e.term],
      [
        evidence(f.ref, `applied ${e.index}: ${describeApplied(f.term, f.h, f.command)}`),
        evidence(ref, `applied ${e.index}: ${describeApplied(e.term, e.h, e.command)}`),
      ],
    );
  }

  /** One vote per term: `ps` voted for `candidate` in `term`; `durable` if the event proves it was on disk. */
  function voteFact(ps: PeerState, term: number, candidate: string, durable: boolean, ref: Ref, said: string): void {
    const mine = ps.votes.get(term);
    if (mine) {
      checked = true;
      if (mine.candidate !== candidate) {
        violate(
          'one_vote_per_term',
          `${ps.name}|${term}`,
          `${ps.name} voted for ${mine.candidate} and then for ${candidate} in term ${term}.`,
          [ps.name, mine.candidate, candidate],
          [],
          [term],
          [evidence(mine.ref, `voted for ${mine.candidate} in term ${term}`), evidence(ref, said)],
        );
      }
    } else if (ps.votes.covers(term)) {
      ps.votes.set(term, { candidate, boot: ps.boot, ref });
    }
    const disk = ps.disk;
    if (!disk) return;
    const kept = disk.votes.get(term);
    if (kept) {
      if (kept.boot === ps.boot) return;
      checked = true;
      if (kept.candidate === candidate) return;
      violate(
        'one_vote_per_term',
        `${ps.name}|${term}`,
        `${ps.name} voted for ${kept.candidate} in term ${term} (on disk), restarted, and voted for ${candidate} in the same term: the vote was forgotten.`,
        [ps.name, kept.candidate, candidate],
        [],
        [term],
        [evidence(kept.ref, `voted for ${kept.candidate} in term ${term}, durably`), evidence(ref, said)],
      );
    } else if (durable && disk.votes.covers(term)) {
      disk.votes.set(term, { candidate, boot: ps.boot, ref });
    }
  }

  /** The peer's term was on disk at `term` (or more). */
  function durableTerm(ps: PeerState, term: number, ref: Ref): void {
    floorCheck(ps, term, ref);
    const disk = ps.disk;
    if (disk && (disk.maxTerm === null || term > disk.maxTerm.value)) disk.maxTerm = { value: term, ref };
  }

  /** Terms only grow across restarts: nothing in this lifetime is below a term an earlier one had on disk. */
  function floorCheck(ps: PeerState, term: number, ref: Ref): void {
    const floor = ps.floor;
    if (!floor) return;
    checked = true;
    if (term >= floor.value) return;
    violate(
      'term_never_decreases',
      `${ps.name}|restart|${ps.boot}`,
      `${ps.name} had term ${floor.value} on disk before it restarted, and is in term ${term} after.`,
      [ps.name],
      [],
      [floor.value, term],
      [evidence(floor.ref, `term ${floor.value}, on disk`), evidence(ref, `term ${term}`)],
    );
  }

  /** Terms only grow within a lifetime (state/resync snapshots, in the order taken). */
  function termSnapshot(ps: PeerState, term: number, ref: Ref): void {
    floorCheck(ps, term, ref);
    const prev = ps.term;
    if (prev) {
      checked = true;
      if (term < prev.value) {
        violate(
          'term_never_decreases',
          `${ps.name}|${ps.boot}|${prev.value}|${term}`,
          `${ps.name}'s term went from ${prev.value} down to ${term} while it ran.`,
          [ps.name],
          [],
          [prev.value, term],
          [evidence(prev.ref, `term ${prev.value}`), evidence(ref, `term ${term}`)],
        );
        return;
      }
    }
    if (!prev || term > prev.value) ps.term = { value: term, ref };
  }

  /** Commit only moves forward within a lifetime; `which` keeps snapshots and commit events apart. */
  function commitSeen(ps: PeerState, which: 'commitSnap' | 'commitEvent', index: number, ref: Ref): void {
    const prev = ps[which];
    if (prev) {
      checked = true;
      if (index < prev.value) {
        violate(
          'commit_never_decreases',
          `${ps.name}|${ps.boot}|${prev.value}|${index}`,
          `${ps.name}'s commit index went from ${prev.value} down to ${index} while it ran.`,
          [ps.name],
          [prev.value, index],
          [],
          [evidence(prev.ref, `commit index ${prev.value}`), evidence(ref, `commit index ${index}`)],
        );
        return;
      }
    }
    if (!prev || index > prev.value) ps[which] = { value: index, ref };
  }

  // ---------------------------------------------------------------- restarts

  function newLifetime(ps: PeerState, e: Extract<PeerEvent, { type: 'hello' }>, ref: Ref): void {
    ps.boot = e.boot ?? null;
    ps.numbered = e.seq !== undefined;
    ps.expected = e.seq ?? 0;
    ps.blind = null;
    ps.log = null;
    ps.term = null;
    ps.commitSnap = null;
    ps.commitEvent = null;
    ps.votes = new KeyWindow(voteWindow);
    ps.leading = null;
    ps.truncations = [];
    ps.pending = null;
    ref.boot = ps.boot;

    // The data directory: the same id as before carries what was on disk over; a new one (reset
    // on purpose) or none starts from nothing.
    let sameDir = false;
    if (e.dataId === undefined) ps.disk = null;
    else if (ps.disk !== null && ps.disk.dataId === e.dataId) sameDir = true;
    else ps.disk = { dataId: e.dataId, maxTerm: null, votes: new KeyWindow(voteWindow), acked: null, committed: null };
    ps.floor = sameDir ? ps.disk!.maxTerm : null;

    const rec = e.recovered;
    if (rec && sameDir) recoveredVsBefore(ps, rec, ref);
    if (rec) recordRecovered(ps, rec, ref);

    if (!ps.numbered) goBlind(ps, 0, 'its events carry no seq, so missing events cannot be told');
    else if (!rec) goBlind(ps, e.seq!, 'its hello carries no recovered state');
    else if (e.seq !== 0) goBlind(ps, 0, `the monitor joined at event ${e.seq} of this process`);
    else ps.log = KnownLog.fromEnd({ index: rec.lastIndex, term: rec.lastTerm, ph: rec.lastPh }, rec.base, logWindow);
  }

  /** A restart with the same data directory: what it recovered against what it had reported durable. */
  function recoveredVsBefore(ps: PeerState, rec: Recovered, ref: Ref): void {
    const disk = ps.disk!;
    const name = ps.name;
    if (disk.maxTerm) floorCheck(ps, rec.term, ref);
    const vote = disk.votes.get(rec.term);
    if (vote) {
      checked = true;
      if (vote.candidate !== rec.vote) {
        violate(
          'one_vote_per_term',
          `${name}|${rec.term}`,
          `${name} voted for ${vote.candidate} in term ${rec.term} before it restarted, and recovered ${rec.vote === null ? 'no vote' : `a vote for ${rec.vote}`} in that term: the vote was forgotten.`,
          [name, vote.candidate],
          [],
          [rec.term],
          [evidence(vote.ref, `voted for ${vote.candidate} in term ${rec.term}, durably`), evidence(ref, `recovered term ${rec.term}, vote ${rec.vote ?? 'none'}`)],
        );
      }
    }
    const acked = disk.acked;
    if (acked) {
      checked = true;
      if (rec.w < acked.w) {
        violate(
          'durable_log',
          `${name}|${ps.boot}|durable`,
          `${name} reported write #${acked.w} durable before it restarted, but recovered only through write #${rec.w}.`,
          [name],
          [acked.lastIndex, rec.lastIndex],
          [],
          [evidence(acked.ref, `write #${acked.w} durable: log ends at ${acked.lastIndex} (term ${acked.lastTerm})`), evidence(ref, `recovered through write #${rec.w}`)],
        );
      } else if (rec.w === acked.w && (rec.lastIndex !== acked.lastIndex || rec.lastTerm !== acked.lastTerm || rec.lastPh !== acked.lastPh)) {
        violate(
          'durable_log',
          `${name}|${ps.boot}|durable`,
          `${name} recovered write #${rec.w}, but its log ends at ${rec.lastIndex} (term ${rec.lastTerm}, prefix hash ${formatPrefixHash(rec.lastPh)}) ` +
            `where that write left it at ${acked.lastIndex} (term ${acked.lastTerm}, prefix hash ${formatPrefixHash(acked.lastPh)}).`,
          [name],
          [acked.lastIndex, rec.lastIndex],
          [],
          [evidence(acked.ref, `write #${acked.w} durable: log ends at ${acked.lastIndex}`), evidence(ref, `recovered write #${rec.w}: log ends at ${rec.lastIndex}`)],
        );
      }
    }
    const c = disk.committed;
    if (c) {
      const recovered = KnownLog.fromEnd({ index: rec.lastIndex, term: rec.lastTerm, ph: rec.lastPh }, rec.base, 1);
      const a = c.index === rec.commit ? ({ kind: 'known', term: 0, ph: rec.commitPh } as const) : recovered.at(c.index);
      if (a.kind === 'unknown') ps.pending = c;
      else lostCommitted(ps, c, a.kind === 'absent' ? null : a.ph, ref, a.kind === 'absent' ? `recovered log ends at ${rec.lastIndex}` : `recovered entry ${c.index}`);
    }
  }

  /** A committed entry that was on the peer's disk must be in its recovered log (ph null: absent). */
  function lostCommitted(ps: PeerState, c: { index: number; ph: number; ref: Ref }, ph: number | null, ref: Ref, said: string): void {
    checked = true;
    if (ph === c.ph) return;
    violate(
      'durable_log',
      `${ps.name}|${ps.boot}|durable`,
      ph === null
        ? `${ps.name} had committed entries through ${c.index} on disk before it restarted, and recovered a log without entry ${c.index}.`
        : `${ps.name} had committed entries through ${c.index} on disk before it restarted, and recovered other entries there (prefix hash ${formatPrefixHash(ph)}, not ${formatPrefixHash(c.ph)}).`,
      [ps.name],
      [c.index],
      [],
      [evidence(c.ref, `entries through ${c.index} committed, prefix hash ${formatPrefixHash(c.ph)}`), evidence(ref, said)],
    );
  }

  function recordRecovered(ps: PeerState, rec: Recovered, ref: Ref): void {
    const name = ps.name;
    durableTerm(ps, rec.term, ref);
    if (rec.vote !== null) voteFact(ps, rec.term, rec.vote, true, ref, `recovered a vote for ${rec.vote} in term ${rec.term}`);
    ps.term = { value: rec.term, ref };
    ps.commitSnap = { value: rec.commit, ref };
    ps.commitEvent = { value: rec.commit, ref };
    const disk = ps.disk;
    if (disk) {
      if (disk.acked === null || rec.w >= disk.acked.w) disk.acked = { w: rec.w, lastIndex: rec.lastIndex, lastTerm: rec.lastTerm, lastPh: rec.lastPh, ref };
      if (rec.commit > 0 && (disk.committed === null || rec.commit > disk.committed.index)) disk.committed = { index: rec.commit, ph: rec.commitPh, ref };
    }
    if (rec.lastIndex > 0) entryFact(name, { index: rec.lastIndex, term: rec.lastTerm, ph: rec.lastPh }, ref);
    if (rec.base) entryFact(name, rec.base, ref);
    committedFact(rec.commit, rec.commitPh, rec.term, ref);
  }

  // ---------------------------------------------------------------- event by event

  function onHello(ps: PeerState, e: Extract<PeerEvent, { type: 'hello' }>, ref: Ref): void {
    if (e.boot !== undefined && e.boot === ps.boot) {
      // The same process reconnected to the relay: a hole shows as a jump in seq.
      track(ps, e);
      return;
    }
    newLifetime(ps, e, ref);
  }

  function onSnapshotState(ps: PeerState, term: number, vote: string | null, role: PeerRole, commit: number, ref: Ref, said: string): void {
    termSnapshot(ps, term, ref);
    commitSeen(ps, 'commitSnap', commit, ref);
    if (vote !== null) voteFact(ps, term, vote, false, ref, `vote for ${vote} in term ${term}`);
    if (role === 'leader') claim(ps, term, ref, said);
  }

  function onResync(ps: PeerState, e: Extract<PeerEvent, { type: 'resync' }>, ref: Ref): void {
    const name = ps.name;
    const last: LogPoint = { index: e.lastIndex, term: e.lastTerm, ph: e.lastPh };
    ps.blind = null;
    ps.log = KnownLog.fromTail(last, e.base, e.tail, logWindow);
    if (ps.leading) ps.leading.anchor = e.role === 'leader' && ps.leading.term === e.term ? endOf(ps.log, ref) : null;
    const d = e.durable;
    durableTerm(ps, d.term, ref);
    if (d.vote !== null) voteFact(ps, d.term, d.vote, true, ref, `vote for ${d.vote} in term ${d.term}, on disk`);
    const disk = ps.disk;
    if (disk && (disk.acked === null || d.w >= disk.acked.w)) disk.acked = { w: d.w, lastIndex: e.lastIndex, lastTerm: e.lastTerm, lastPh: e.lastPh, ref };
    if (e.lastIndex > 0) entryFact(name, last, ref);
    if (e.base) entryFact(name, e.base, ref);
    for (const tile of e.tail) if (tile.ph !== undefined) entryFact(name, { index: tile.index, term: tile.term, ph: tile.ph }, ref);
    if (ps.pending) {
      const p = ps.pending;
      ps.pending = null;
      const a = ps.log.at(p.index);
      if (a.kind !== 'unknown') lostCommitted(ps, p, a.kind === 'absent' ? null : a.ph, ref, a.kind === 'absent' ? `log ends at ${e.lastIndex}` : `entry ${p.index}`);
    }
    committedFact(e.commit, e.commitPh, e.term, ref);
    onSnapshotState(ps, e.term, e.vote, e.role, e.commit, ref, `resync: leader of term ${e.term}`);
  }

  function onTiles(ps: PeerState, tiles: readonly LogTile[], ref: Ref): void {
    const name = ps.name;
    for (const tile of tiles) {
      if (tile.ph !== undefined) entryFact(name, { index: tile.index, term: tile.term, ph: tile.ph }, ref);
      else entryVsCommitted(name, tile.index, tile.term, ref);
    }
    if (ps.log) {
      const refused = ps.log.append(tiles);
      if (refused === 'hole') goBlind(ps, ref.seq ?? 0, `log_append from ${tiles[0]!.index} leaves a hole after the known end ${ps.log.lastIndex}`);
      else if (refused === 'no_ph') goBlind(ps, ref.seq ?? 0, 'log tiles carry no prefix hash');
      else if (refused === 'unordered') goBlind(ps, ref.seq ?? 0, 'log tiles do not ascend by one');
    }
  }

  function onPersisted(ps: PeerState, e: DurableLog, ref: Ref): void {
    const name = ps.name;
    durableTerm(ps, e.term, ref);
    if (e.vote !== null) voteFact(ps, e.term, e.vote, true, ref, `vote for ${e.vote} in term ${e.term}, on disk`);
    const disk = ps.disk;
    if (disk && (disk.acked === null || e.w >= disk.acked.w)) disk.acked = { w: e.w, lastIndex: e.lastIndex, lastTerm: e.lastTerm, lastPh: e.lastPh, ref };
    if (e.lastIndex > 0) entryFact(name, { index: e.lastIndex, term: e.lastTerm, ph: e.lastPh }, ref);
    const log = ps.log;
    if (!log) return;
    const end = log.at(e.lastIndex);
    if (log.lastIndex !== e.lastIndex || (end.kind === 'known' && end.ph !== e.lastPh)) {
      goBlind(ps, ref.seq ?? 0, `persisted says the log ends at ${e.lastIndex}, the log events said ${log.lastIndex}`);
      return;
    }
    // Leader Append-Only: while it leads, each durable write keeps the end it had before.
    const lead = ps.leading;
    if (!lead || lead.term !== e.term) return;
    const anchor = lead.anchor;
    if (anchor) {
      const a = log.at(anchor.index);
      if (a.kind !== 'unknown') {
        checked = true;
        if (a.kind === 'absent' || a.ph !== anchor.ph) {
          violate(
            'leader_append_only',
            `${name}|${lead.term}`,
            a.kind === 'absent'
              ? `${name} leads term ${lead.term}; its log reached index ${anchor.index} and now ends at ${e.lastIndex}: entries were deleted.`
              : `${name} leads term ${lead.term}; entry ${anchor.index} of its log changed (prefix hash ${formatPrefixHash(anchor.ph)} to ${formatPrefixHash(a.ph)}).`,
            [name],
            [anchor.index, e.lastIndex],
            [lead.term],
            [evidence(anchor.ref, `log ends at ${anchor.index}, prefix hash ${formatPrefixHash(anchor.ph)}`), evidence(ref, `write #${e.w}: log ends at ${e.lastIndex}`)],
          );
        }
      }
    }
    lead.anchor = { index: e.lastIndex, ph: e.lastPh, ref };
  }

  function onEvent(ps: PeerState, e: PeerEvent, ref: Ref): void {
    const name = ps.name;
    switch (e.type) {
      case 'hello':
        onHello(ps, e, ref);
        return;
      case 'state':
        onSnapshotState(ps, e.term, e.vote, e.role, e.commitIndex, ref, `state: leader of term ${e.term}`);
        return;
      case 'resync':
        onResync(ps, e, ref);
        return;
      case 'rpc_send':
      case 'rpc_drop': {
        // A drop reported by the receiver (to = itself) is another peer's message.
        if (e.type === 'rpc_drop' && e.to === name) return;
        // A pre-vote carries the term the sender would campaign in, not its own.
        if (e.preVote) return;
        durableTerm(ps, e.term, ref);
        const sent = `${e.type === 'rpc_send' ? 'sent' : 'dropped'} ${e.rpc} ${e.rid} of term ${e.term} to ${e.to}`;
        if (e.rpc === 'append_entries' || e.rpc === 'timeout_now' || e.rpc === 'install_snapshot') claim(ps, e.term, ref, sent);
        else if (e.rpc === 'request_vote') voteFact(ps, e.term, name, true, ref, `${sent} (it votes for itself)`);
        else if (e.rpc === 'request_vote_reply' && e.ok === true) voteFact(ps, e.term, e.to, true, ref, `${sent}, granting its vote`);
        return;
      }
      case 'rpc_recv':
        // What the sender did, seen from the receiver: only leadership, which needs no lifetime.
        if (!e.preVote && (e.rpc === 'append_entries' || e.rpc === 'timeout_now' || e.rpc === 'install_snapshot')) {
          leaderFact(e.from, e.term, ref, `received ${e.rpc} ${e.rid} of term ${e.term} from ${e.from}`);
        }
        return;
      case 'log_truncate':
        if (e.term !== undefined) {
          durableTerm(ps, e.term, ref);
          if (ps.truncations.length >= MAX_TRUNCATIONS) ps.truncations.shift();
          ps.truncations.push({ term: e.term, from: e.from, ref });
          const led = leaders.get(e.term);
          if (led) {
            checked = true;
            if (led.value === name) truncatedWhileLeading(ps, e.term, e.from, ref, led.ref);
          }
        }
        ps.log?.truncateFrom(e.from);
        return;
      case 'log_append': {
        onTiles(ps, e.entries, ref);
        // A save's tiles and its persisted in one event: the log ends at the last tile.
        const last = e.entries[e.entries.length - 1];
        if (e.durable && last && last.ph !== undefined) {
          onPersisted(ps, { w: e.durable.w, term: e.durable.term, vote: e.durable.vote, lastIndex: last.index, lastTerm: last.term, lastPh: last.ph }, ref);
        }
        return;
      }
      case 'commit':
        commitSeen(ps, 'commitEvent', e.index, ref);
        if (e.term !== undefined && e.ph !== undefined) {
          const disk = ps.disk;
          if (disk && (disk.committed === null || e.index > disk.committed.index)) disk.committed = { index: e.index, ph: e.ph, ref };
          committedFact(e.index, e.ph, e.term, ref);
        }
        return;
      case 'apply':
        for (const entry of e.entries) appliedFact(name, entry, ref);
        return;
      case 'persisted':
        onPersisted(ps, e, ref);
        return;
      case 'snapshot': {
        const base: LogPoint = { index: e.index, term: e.term, ph: e.ph };
        entryFact(name, base, ref);
        ps.log?.snapshot(base, e.lastIndex);
        return;
      }
      case 'reporter_dropped':
        goBlind(ps, e.seq ?? ps.expected, `the reporter dropped ${e.count} events`);
        return;
      case 'faults':
      // The laws need no configuration: none of them counts a majority (each is checked on what
      // single peers said), so peers joining and leaving change nothing here.
      case 'config':
      case 'clock':
        return;
      default: {
        const never: never = e;
        void never;
      }
    }
  }

  return {
    observe(e: PeerEvent, now?: number): Violation[] {
      eventsSeen++;
      fresh = [];
      checked = false;
      at = now ?? e.t;
      // A peer seen for the first time was not blind before (it was not known at all).
      const blindBefore = peers.get(e.peer)?.blind ?? null;
      const ps = peerState(e.peer);
      const ref: Ref = { peer: e.peer, seq: e.seq ?? null, boot: ps.boot, type: e.type, t: e.t };
      if (e.type === 'hello' || track(ps, e)) onEvent(ps, e, ref);
      if (checked) eventsChecked++;
      if (ps.blind !== blindBefore && onBlindChange) onBlindChange(ps.name, blindOf(ps));
      return fresh;
    },

    status(): MonitorStatus {
      const blind: BlindPeer[] = [];
      for (const ps of peers.values()) {
        const b = blindOf(ps);
        if (b) blind.push(b);
      }
      return { eventsSeen, eventsChecked, violations: [...kept], violationCount, blind };
    },

    retained(): Record<string, number> {
      let entryFacts = 0;
      for (const list of entries.values()) entryFacts += list.length;
      let knownLogEntries = 0;
      let votes = 0;
      let diskVotes = 0;
      let truncations = 0;
      for (const ps of peers.values()) {
        knownLogEntries += ps.log?.size ?? 0;
        votes += ps.votes.size;
        diskVotes += ps.disk?.votes.size ?? 0;
        truncations += ps.truncations.length;
      }
      return {
        peers: peers.size,
        leaderTerms: leaders.size,
        entryIndexes: entries.size,
        entryFacts,
        appliedIndexes: applied.size,
        committedFacts: committed.size,
        knownLogEntries,
        votes,
        diskVotes,
        truncations,
        violationsKept: kept.length,
        dedupKeys: reported.size,
      };
    },
  };
}

// ---------------------------------------------------------------- wording

function blindOf(ps: PeerState): BlindPeer | null {
  return ps.blind ? { peer: ps.name, sinceSeq: ps.blind.sinceSeq, reason: ps.blind.reason, numbered: ps.numbered } : null;
}

function evidence(ref: Ref, said: string): Evidence {
  return { peer: ref.peer, seq: ref.seq, boot: ref.boot, type: ref.type, t: ref.t, said };
}

function describeApplied(term: number, h: number | undefined, command: string[] | null): string {
  const words = command === null ? 'no-op' : command.join(' ');
  return `entry of term ${term} (${words}${h === undefined ? '' : `, hash ${formatEntryHash(h)}`})`;
}

function sameWords(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
