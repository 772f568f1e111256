// What the monitor knows of one peer's log, from that peer's events alone: where the log ends,
// the snapshot it starts after, and the prefix hash of its last entries (a window of at most
// `2 * window` entries, trimmed to `window`). It is only right while the monitor has seen every
// event of the peer since a hello or a resync; the monitor drops it when events go missing.
//
// Built from: hello.recovered (the end and the base), log_truncate, log_append (tiles with `ph`),
// snapshot, resync (the end, the base and the tail). An index can be
//   known    — the window, the snapshot base, or index 0 (the empty prefix) covers it;
//   absent   — it is past the end of the log: the peer does not hold it;
//   unknown  — below the window, or folded into the snapshot: nothing is claimed about it.
import type { LogPoint, LogTile } from '../../../shared/events.ts';
import { EMPTY_PREFIX } from '../../../shared/log-hash.ts';

export type At = { kind: 'known'; term: number; ph: number } | { kind: 'absent'; lastIndex: number } | { kind: 'unknown' };

const UNKNOWN: At = { kind: 'unknown' };

/** Why a change could not be applied; the monitor then stops trusting the known log. */
export type Refused = 'hole' | 'no_ph' | 'unordered';

export class KnownLog {
  /** Index of terms[0] / phs[0]; when the window is not empty it ends at lastIndex. */
  private lo: number;
  private terms: number[] = [];
  private phs: number[] = [];

  private constructor(
    public lastIndex: number,
    public base: LogPoint | null,
    private readonly window: number,
  ) {
    this.lo = lastIndex + 1;
  }

  /** A log known only by its end (and its snapshot base): a peer's recovered state. */
  static fromEnd(last: LogPoint, base: LogPoint | null, window: number): KnownLog {
    const log = new KnownLog(last.index, base, window);
    if (last.index > 0 && (base === null || last.index > base.index)) log.setWindow(last.index, [last.term], [last.ph]);
    return log;
  }

  /** A log known by its end, its base and its last tiles (resync). Tiles that do not end at the end are ignored. */
  static fromTail(last: LogPoint, base: LogPoint | null, tail: readonly LogTile[], window: number): KnownLog {
    const log = KnownLog.fromEnd(last, base, window);
    const n = tail.length;
    if (n === 0 || tail[n - 1]!.index !== last.index) return log;
    const terms: number[] = [];
    const phs: number[] = [];
    const from = tail[0]!.index;
    for (let i = 0; i < n; i++) {
      const tile = tail[i]!;
      if (tile.index !== from + i || tile.ph === undefined) return log;
      if (base !== null && tile.index <= base.index) return log;
      terms.push(tile.term);
      phs.push(tile.ph);
    }
    log.setWindow(from, terms, phs);
    return log;
  }

  /** Entries held in the window (memory accounting). */
  get size(): number {
    return this.terms.length;
  }

  at(index: number): At {
    if (index > this.lastIndex) return { kind: 'absent', lastIndex: this.lastIndex };
    if (index === 0) return { kind: 'known', term: 0, ph: EMPTY_PREFIX };
    const base = this.base;
    if (base !== null && index === base.index) return { kind: 'known', term: base.term, ph: base.ph };
    if (base !== null && index < base.index) return UNKNOWN;
    if (index >= this.lo) {
      const k = index - this.lo;
      return { kind: 'known', term: this.terms[k]!, ph: this.phs[k]! };
    }
    return UNKNOWN;
  }

  /** log_truncate: entries from `from` on are gone. */
  truncateFrom(from: number): void {
    if (from > this.lastIndex) return;
    this.lastIndex = Math.max(0, from - 1);
    if (from <= this.lo) {
      this.setWindow(from, [], []);
    } else {
      this.terms.length = from - this.lo;
      this.phs.length = from - this.lo;
    }
  }

  /**
   * log_append: the log now holds these tiles from their first index and ends at the last one.
   * Refused (and nothing changed) when it would leave a hole after the known end, when a tile
   * has no prefix hash, or when the tiles do not ascend by one.
   */
  append(tiles: readonly LogTile[]): Refused | null {
    const n = tiles.length;
    if (n === 0) return null;
    const first = tiles[0]!.index;
    if (first > this.lastIndex + 1) return 'hole';
    for (let i = 0; i < n; i++) {
      const tile = tiles[i]!;
      if (tile.ph === undefined) return 'no_ph';
      if (tile.index !== first + i) return 'unordered';
    }
    this.truncateFrom(first);
    if (this.terms.length === 0 || this.lo + this.terms.length !== first) this.setWindow(first, [], []);
    for (let i = 0; i < n; i++) {
      this.terms.push(tiles[i]!.term);
      this.phs.push(tiles[i]!.ph!);
    }
    this.lastIndex = tiles[n - 1]!.index;
    this.trim();
    return null;
  }

  /** snapshot: the log starts after `base` and ends at `lastIndex`. */
  snapshot(base: LogPoint, lastIndex: number): void {
    this.base = base;
    if (lastIndex !== this.lastIndex || this.lo + this.terms.length - 1 !== lastIndex) {
      // The entries after the snapshot were not all kept: nothing is known past the base.
      this.lastIndex = lastIndex;
      this.setWindow(lastIndex + 1, [], []);
      return;
    }
    if (base.index >= this.lo) {
      const cut = Math.min(this.terms.length, base.index - this.lo + 1);
      this.setWindow(this.lo + cut, this.terms.slice(cut), this.phs.slice(cut));
    }
  }

  private setWindow(lo: number, terms: number[], phs: number[]): void {
    this.lo = lo;
    this.terms = terms;
    this.phs = phs;
  }

  private trim(): void {
    const extra = this.terms.length - this.window;
    if (extra <= this.window) return;
    this.setWindow(this.lo + extra, this.terms.slice(extra), this.phs.slice(extra));
  }
}
