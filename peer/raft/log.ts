// The in-memory Raft log: entry i lives at entries[i - 1] (no snapshots yet, so the log always
// starts at index 1). It also remembers which suffix changed since the shell last took a Ready,
// so that only that suffix is handed out for persisting, and how far the shell has reported the
// log saved (the durable prefix, which a leader counts as its own acknowledgement).
import type { Entry } from './types.ts';

export class RaftLog {
  private readonly entries: Entry[];
  /** Lowest index appended or rewritten since the last takeUnstable(); Infinity when none. */
  private unstableFrom = Infinity;
  /** Entries 1..durable are on the shell's disk as they are here (reported with persistedTo). */
  private durable: number;

  constructor(persisted: readonly Entry[]) {
    for (let i = 0; i < persisted.length; i++) {
      const e = persisted[i]!;
      if (e.index !== i + 1) throw new Error(`persisted log is not contiguous: entry ${i + 1} has index ${e.index}`);
      if (i > 0 && e.term < persisted[i - 1]!.term) throw new Error(`persisted log terms go backwards at index ${e.index}`);
    }
    this.entries = persisted.slice();
    this.durable = this.entries.length;
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
    return this.entries.length;
  }

  get lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? 0 : this.entries[n - 1]!.term;
  }

  /** Term of the entry at `index`; 0 for index 0; -1 if there is no such entry. */
  term(index: number): number {
    if (index === 0) return 0;
    const e = this.entries[index - 1];
    return e === undefined ? -1 : e.term;
  }

  entry(index: number): Entry | undefined {
    return this.entries[index - 1];
  }

  /** Entries lo..hi inclusive (clamped to the log). */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(Math.max(lo, 1) - 1, Math.min(hi, this.entries.length));
  }

  /** Entries from `lo` on, at most `maxEntries` of them and at most `maxBytes` of data (at least one). */
  batch(lo: number, maxEntries: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.entries.length && out.length < maxEntries; i++) {
      const e = this.entries[i - 1]!;
      const size = e.data === null ? 0 : e.data.length;
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return out;
  }

  append(entry: Entry): void {
    if (entry.index !== this.entries.length + 1) throw new Error(`append at ${entry.index} but the log ends at ${this.entries.length}`);
    this.entries.push(entry);
    if (entry.index < this.unstableFrom) this.unstableFrom = entry.index;
  }

  /** Drop the entry at `index` and everything after it (§5.3: a conflicting entry and all that follow it). */
  truncateFrom(index: number): void {
    if (index > this.entries.length) return;
    this.entries.length = index - 1;
    if (index < this.unstableFrom) this.unstableFrom = index;
    if (this.durable >= index) this.durable = index - 1;
  }

  /**
   * §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as this one?
   * "If the logs have last entries with different terms, then the log with the later term is more
   * up-to-date. If the logs end with the same term, then whichever log is longer is more up-to-date."
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm;
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.entries.length);
  }

  /** First index of the run of entries with the same term as the entry at `index` (binary search: terms never decrease). */
  firstIndexOfTermAt(index: number): number {
    const t = this.term(index);
    let lo = 1;
    let hi = index;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid - 1]!.term < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Last index at or before `maxIndex` whose entry has term `term`; 0 if none. */
  lastIndexOfTerm(term: number, maxIndex: number): number {
    let lo = 0;
    let hi = Math.min(maxIndex, this.entries.length);
    // Largest i in [0, hi] with term(i) <= term.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.entries[mid - 1]!.term <= term) lo = mid;
      else hi = mid - 1;
    }
    return lo > 0 && this.entries[lo - 1]!.term === term ? lo : 0;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.entries.length;
  }

  /** The changed suffix, to persist; from now on it counts as persisted (the shell took it). */
  takeUnstable(): Entry[] {
    if (this.unstableFrom > this.entries.length) {
      this.unstableFrom = Infinity;
      return [];
    }
    const out = this.entries.slice(this.unstableFrom - 1);
    this.unstableFrom = Infinity;
    return out;
  }
}
