// The peer's durable log as its -v events describe it (PROTOCOL.md, "Fields the monitor reads"):
// the prefix hash of every entry, the last tiles, and the last durable write. The narrator keeps
// one, with -v only, and reads from it the `ph` of log tiles and commits, `persisted`, the
// `recovered` state of `hello` and the whole of `resync`.
//
// Prefix hashes (shared/log-hash.ts): ph(i) = prefixHash(ph(i-1), term_i, entryHash(data_i)),
// ph(0) = EMPTY_PREFIX, one float per entry (8 bytes: 0.8 MB for 100k entries), computed once
// when the entry is saved (or recovered at start). A write that replaces entries from index k on
// recomputes from ph(k-1), which is still held.
//
// After log compaction the log starts after a base (a LogPoint: index, term and ph): the
// snapshot's index at start (its ph travels in the snapshot, peer/snapshot-state.ts), the cut
// of Ready.compact, or a leader's installed snapshot. Prefix hashes are kept from the base on
// only; below it nothing is known (nor claimed).
import type { DurableLog as DurableWrite, LogPoint, LogTile, Recovered } from '../shared/events.ts';
import { EMPTY_PREFIX, entryHash, prefixHash } from '../shared/log-hash.ts';
import type { Entry, HardState } from './raft/types.ts';

/** Log tiles kept for a reader that (re)connects (resync.tail). */
export const MAX_TILES = 500;

export class ReportedLog {
  /** phs[i - off] = ph(i), for base <= i <= lastIndex. */
  private phs = new Float64Array(1024);
  private off = 0;
  private last = 0;
  /** The point the log starts after (null: the log starts at index 1). */
  private basePoint: LogPoint | null = null;
  private lastTerm = 0;
  private tiles: LogTile[] = [];
  private durable: DurableWrite;
  /** What the peer started from (the same in every hello of this process). */
  readonly recovered: Recovered;

  constructor(
    entries: readonly Entry[],
    hardState: HardState,
    lastWrite: number,
    private readonly labelOf: (data: string | null) => string,
    /** The snapshot the recovered log continues; `entries` at or below its index are skipped. */
    snapshot: LogPoint | null = null,
  ) {
    this.phs[0] = EMPTY_PREFIX;
    let from = entries;
    if (snapshot !== null) {
      this.basePoint = { ...snapshot };
      this.off = this.last = snapshot.index;
      this.lastTerm = snapshot.term;
      this.phs[0] = snapshot.ph;
      from = entries.filter((e) => e.index > snapshot.index);
    }
    this.append(from, Math.max(0, from.length - MAX_TILES));
    const commit = Math.max(this.off, Math.min(hardState.commit, this.last));
    this.durable = { w: lastWrite, term: hardState.term, vote: hardState.vote, lastIndex: this.last, lastTerm: this.lastTerm, lastPh: this.phs[this.last - this.off]! };
    this.recovered = { ...this.durable, commit, commitPh: this.phs[commit - this.off]!, base: this.basePoint };
  }

  /** The point the log starts after, or null. */
  get base(): LogPoint | null {
    return this.basePoint;
  }

  /**
   * Log compaction: the log now starts after `index` (of `term`). Returns the new base, or null
   * when it is not above the current one or past the end (nothing changes then).
   */
  compact(index: number, term: number): LogPoint | null {
    if (index <= this.off || index > this.last) return null;
    this.basePoint = { index, term, ph: this.phs[index - this.off]! };
    // Give back the memory of what is gone once it is most of the array.
    if (index - this.off > this.phs.length / 2) {
      this.phs = this.phs.slice(index - this.off);
      this.off = index;
    }
    this.tiles = this.tiles.filter((t) => t.index > index);
    return this.basePoint;
  }

  /**
   * A leader's snapshot was installed: the log starts after `point`. With `kept` the log held its
   * last entry, and the entries after it stay (their hashes continue the same prefix); otherwise
   * the log is empty after it.
   */
  install(point: LogPoint, kept: boolean): void {
    if (kept && point.index > this.off && point.index <= this.last) {
      this.compact(point.index, point.term);
      return;
    }
    this.basePoint = { ...point };
    this.off = this.last = point.index;
    this.lastTerm = point.term;
    this.phs = new Float64Array(1024);
    this.phs[0] = point.ph;
    this.tiles = [];
  }

  get lastIndex(): number {
    return this.last;
  }

  /** ph(index), or undefined past the end of the log or below its base. */
  ph(index: number): number | undefined {
    return index >= this.off && index <= this.last ? this.phs[index - this.off] : undefined;
  }

  /** The last durable write: its number, hard state and log end. */
  lastWrite(): DurableWrite {
    return this.durable;
  }

  /** The last tiles (at most MAX_TILES, or fewer so that their labels stay within `maxChars`), in index order. */
  tail(maxChars = Infinity): LogTile[] {
    const lowest = Math.max(0, this.tiles.length - MAX_TILES);
    let from = this.tiles.length;
    let chars = 0;
    while (from > lowest) {
      chars += this.tiles[from - 1]!.label.length + 64;
      if (chars > maxChars) break;
      from--;
    }
    return this.tiles.slice(from);
  }

  /**
   * A durable write is done: `entries` (consecutive, from at most lastIndex + 1) replace the log
   * from their first index on. Returns where the log was cut (null if nothing was removed) and
   * the tiles of the new entries; `persisted` is the write, or null when its number was reported
   * already (a save that added nothing).
   */
  write(entries: readonly Entry[], w: number, hs: HardState): { cutFrom: number | null; tiles: LogTile[]; persisted: DurableWrite | null } {
    let cutFrom: number | null = null;
    let tiles: LogTile[] = [];
    if (entries.length > 0) {
      const first = entries[0]!.index;
      if (first <= this.last) {
        cutFrom = first;
        this.last = first - 1;
        this.lastTerm = 0; // set again by the entries that follow
        let keep = this.tiles.length;
        while (keep > 0 && this.tiles[keep - 1]!.index >= first) keep--;
        this.tiles.length = keep;
      }
      const before = this.tiles.length;
      this.append(entries, 0);
      tiles = this.tiles.slice(before);
      if (this.tiles.length > 2 * MAX_TILES) this.tiles = this.tiles.slice(-MAX_TILES);
    }
    if (w <= this.durable.w && cutFrom === null && tiles.length === 0) return { cutFrom, tiles, persisted: null };
    this.durable = { w, term: hs.term, vote: hs.vote, lastIndex: this.last, lastTerm: this.lastTerm, lastPh: this.phs[this.last - this.off]! };
    return { cutFrom, tiles, persisted: this.durable };
  }

  /** Appends entries right after the last one, keeping tiles of those from `tilesFrom` (a position in `entries`) on. */
  private append(entries: readonly Entry[], tilesFrom: number): void {
    const n = entries.length;
    if (n === 0) return;
    const end = this.last + n - this.off;
    if (end >= this.phs.length) {
      let size = this.phs.length * 2;
      while (size <= end) size *= 2;
      const grown = new Float64Array(size);
      grown.set(this.phs.subarray(0, this.last - this.off + 1));
      this.phs = grown;
    }
    let ph = this.phs[this.last - this.off]!;
    for (let k = 0; k < n; k++) {
      const e = entries[k]!;
      ph = prefixHash(ph, e.term, entryHash(e.data));
      this.phs[e.index - this.off] = ph;
      if (k >= tilesFrom) this.tiles.push({ index: e.index, term: e.term, label: this.labelOf(e.data), ph });
    }
    const tail = entries[n - 1]!;
    this.last = tail.index;
    this.lastTerm = tail.term;
  }
}
