// The in-memory Raft log. After log compaction (dissertation ch. 5) it starts after a base: the
// index and term of the last entry dropped, which a snapshot covers. Entry i lives at
// entries[i - base - 1]; the base's term still answers the log-matching check at the base, and
// is lastIndex/lastTerm when no entry follows it. The log also remembers which suffix changed
// since the shell last took a Ready, so that only that suffix is handed out for persisting, and
// how far the shell has reported the log saved (the durable prefix, which a leader counts as its
// own acknowledgement).
import type { Entry } from './types.ts';

export class RaftLog {
  private entries: Entry[];
  /** Index and term of the entry just before entries[0] (0/0 for a log that starts at 1). */
  private baseIndex: number;
  private baseTerm: number;
  /** Lowest index appended or rewritten since the last takeUnstable(); Infinity when none. */
  private unstableFrom = Infinity;
  /** Entries through durable are on the shell's disk as they are here (reported with persistedTo). */
  private durable: number;

  /**
   * The log a peer recovers: `persisted` entries continuing a snapshot ending at (index, term),
   * if there is one. Entries the snapshot covers are kept only if the log holds the snapshot's
   * last entry (§7: they are then consistent with it); otherwise the log starts at the snapshot.
   */
  constructor(persisted: readonly Entry[], snapshot: { index: number; term: number } | null = null) {
    for (let i = 1; i < persisted.length; i++) {
      const e = persisted[i]!;
      if (e.index !== persisted[i - 1]!.index + 1) throw new Error(`persisted log is not contiguous: index ${e.index} follows ${persisted[i - 1]!.index}`);
      if (e.term < persisted[i - 1]!.term) throw new Error(`persisted log terms go backwards at index ${e.index}`);
    }
    const first = persisted[0]?.index ?? 1;
    const snapIndex = snapshot?.index ?? 0;
    const snapTerm = snapshot?.term ?? 0;
    if (first > snapIndex + 1 && persisted.length > 0) {
      throw new Error(`persisted log is not contiguous: it starts at ${first}, but ${snapIndex === 0 ? 'there is no snapshot' : `the snapshot ends at ${snapIndex}`}`);
    }
    this.baseIndex = snapIndex;
    this.baseTerm = snapTerm;
    this.entries = [];
    if (snapIndex === 0) {
      this.entries = persisted.slice();
    } else if (first === snapIndex + 1) {
      this.entries = persisted.slice();
    } else {
      const at = persisted[snapIndex - first];
      if (at !== undefined && at.term === snapTerm) {
        // The log holds the snapshot's last entry: keep what the snapshot covers too (trailing
        // entries), except the first one, whose predecessor's term is unknown: it becomes the base.
        if (first < snapIndex) {
          this.baseIndex = first;
          this.baseTerm = persisted[0]!.term;
          this.entries = persisted.slice(1);
        } else {
          this.entries = persisted.slice(snapIndex - first + 1);
        }
      }
    }
    this.durable = this.lastIndex;
  }

  /** Index and term of the last compacted entry (0/0 when nothing was compacted). */
  get base(): number {
    return this.baseIndex;
  }

  get firstIndex(): number {
    return this.baseIndex + 1;
  }

  /** The last index of the prefix known to be on disk. */
  get durableIndex(): number {
    return this.durable;
  }

  /**
   * The shell saved the log through the entry (index, term) (etcd: unstable.stableTo). Saves are
   * reported in the order the entries were handed out, so the prefix up to there is on disk too,
   * unless the entry was replaced meanwhile (a different term there now): then the report says
   * nothing about the current log and is ignored. Returns true if the durable prefix grew.
   */
  persistedTo(index: number, term: number): boolean {
    if (index <= this.durable || this.term(index) !== term) return false;
    this.durable = index;
    return true;
  }

  get lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  get lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.baseTerm : this.entries[n - 1]!.term;
  }

  /** Term of the entry at `index`; 0 for index 0; -1 if there is no such entry (or it was compacted). */
  term(index: number): number {
    if (index === this.baseIndex) return this.baseTerm;
    if (index === 0) return 0;
    const e = this.entries[index - this.baseIndex - 1];
    return e === undefined ? -1 : e.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.baseIndex) return undefined;
    return this.entries[index - this.baseIndex - 1];
  }

  /** Entries lo..hi inclusive (clamped to the log). */
  slice(lo: number, hi: number): Entry[] {
    const b = this.baseIndex;
    return this.entries.slice(Math.max(lo - b, 1) - 1, Math.max(0, Math.min(hi - b, this.entries.length)));
  }

  /** Entries from `lo` (> base) on, at most `maxEntries` of them and at most `maxBytes` of data (at least one). */
  batch(lo: number, maxEntries: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.lastIndex && out.length < maxEntries; i++) {
      const e = this.entries[i - this.baseIndex - 1]!;
      const size = e.data === null ? 0 : e.data.length;
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return out;
  }

  append(entry: Entry): void {
    if (entry.index !== this.lastIndex + 1) throw new Error(`append at ${entry.index} but the log ends at ${this.lastIndex}`);
    this.entries.push(entry);
    if (entry.index < this.unstableFrom) this.unstableFrom = entry.index;
  }

  /** Drop the entry at `index` and everything after it (§5.3: a conflicting entry and all that follow it). */
  truncateFrom(index: number): void {
    if (index > this.lastIndex) return;
    if (index <= this.baseIndex) throw new Error(`cannot truncate at ${index}: the log is compacted through ${this.baseIndex}`);
    this.entries.length = index - this.baseIndex - 1;
    if (index < this.unstableFrom) this.unstableFrom = index;
    if (this.durable >= index) this.durable = index - 1;
  }

  /** Log compaction: drop the entries through `index` (which must be in the log), a snapshot covers them. */
  compactTo(index: number): void {
    if (index <= this.baseIndex) return;
    const t = this.term(index);
    if (t < 0) throw new Error(`cannot compact to ${index}: the log ends at ${this.lastIndex}`);
    this.entries = this.entries.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = t;
    if (this.durable < index) this.durable = index;
  }

  /**
   * §7, a follower installing a snapshot ending at (index, term): "If existing log entry has same
   * index and term as snapshot's last included entry, retain log entries following it";
   * otherwise discard the entire log. Either way the log now starts after the snapshot.
   */
  restore(index: number, term: number): void {
    if (this.term(index) === term) {
      this.compactTo(index);
      return;
    }
    this.entries = [];
    this.baseIndex = index;
    this.baseTerm = term;
    this.unstableFrom = Infinity;
    this.durable = index;
  }

  /**
   * §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as this one?
   * "If the logs have last entries with different terms, then the log with the later term is more
   * up-to-date. If the logs end with the same term, then whichever log is longer is more up-to-date."
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm;
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex);
  }

  /** First index (after the base) of the run of entries with the same term as the entry at `index` (binary search: terms never decrease). */
  firstIndexOfTermAt(index: number): number {
    const t = this.term(index);
    let lo = this.baseIndex + 1;
    let hi = Math.max(index, lo);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.term(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Last index (at or after the base) at or before `maxIndex` whose entry has term `term`; 0 if none. */
  lastIndexOfTerm(term: number, maxIndex: number): number {
    let lo = this.baseIndex;
    let hi = Math.min(maxIndex, this.lastIndex);
    if (hi < lo) return 0;
    // Largest i in [base, hi] with term(i) <= term.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.term(mid) <= term) lo = mid;
      else hi = mid - 1;
    }
    return lo > 0 && this.term(lo) === term ? lo : 0;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex;
  }

  /** The changed suffix, to persist; from now on it counts as persisted (the shell took it). */
  takeUnstable(): Entry[] {
    if (this.unstableFrom > this.lastIndex) {
      this.unstableFrom = Infinity;
      return [];
    }
    const out = this.entries.slice(Math.max(this.unstableFrom - this.baseIndex, 1) - 1);
    this.unstableFrom = Infinity;
    return out;
  }
}
