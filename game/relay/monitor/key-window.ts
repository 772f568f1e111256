// A map from an integer key (a term, a log index) to what the monitor learned about it, keeping
// only keys within `span` of the highest key seen. A key below that floor is forgotten and refused:
// the monitor knows nothing about it any more, so it makes no check that would need it.
// Memory: at most 2 * span + 2 keys between two prunings, span + 1 after one.

export class KeyWindow<V> {
  private readonly map = new Map<number, V>();
  private max = -Infinity;

  constructor(readonly span: number) {}

  /** The lowest key still remembered. */
  get floor(): number {
    return this.max - this.span;
  }

  get size(): number {
    return this.map.size;
  }

  /** Whether a fact about `key` can still be checked and kept (keys above the highest seen count too). */
  covers(key: number): boolean {
    return key >= this.floor;
  }

  get(key: number): V | undefined {
    return this.covers(key) ? this.map.get(key) : undefined;
  }

  /** Keeps `value` for `key` unless the key is below the floor; raises the floor past older keys. */
  set(key: number, value: V): void {
    if (key > this.max) this.max = key;
    if (!this.covers(key)) return;
    this.map.set(key, value);
    if (this.map.size > 2 * this.span + 2) this.prune();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  private prune(): void {
    const floor = this.floor;
    for (const k of this.map.keys()) if (k < floor) this.map.delete(k);
  }
}
