// What the monitor knows is committed: "index c, with prefix hash ph, was committed in term u
// or earlier" (a peer reported commitIndex >= c while its term was u). Committed entries form a
// prefix, so one fact covers every index below c too, and a fact (c, u) makes any fact (c', u')
// with c' <= c and u' >= u redundant. What is kept is therefore a staircase: as u grows, c grows.
// Memory: at most `limit` facts; the ones of the lowest terms go first (they only serve leaders of
// old terms).

export interface CommittedFact<R> {
  index: number;
  /** The term the commit was reported in: the entries through `index` were committed in it or earlier. */
  term: number;
  ph: number;
  ref: R;
}

export class CommittedFacts<R> {
  /** Ascending by term and by index (strictly, both). */
  private facts: CommittedFact<R>[] = [];

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.facts.length;
  }

  /** Adds a fact; false if an existing one already says as much. */
  add(f: CommittedFact<R>): boolean {
    if (f.index <= 0) return false;
    for (const g of this.facts) if (g.index >= f.index && g.term <= f.term) return false;
    this.facts = this.facts.filter((g) => !(g.index <= f.index && g.term >= f.term));
    let i = this.facts.length;
    while (i > 0 && this.facts[i - 1]!.term > f.term) i--;
    this.facts.splice(i, 0, f);
    if (this.facts.length > this.limit) this.facts.shift();
    return true;
  }

  /**
   * The highest committed index known to be committed in a term before `term` (which covers every
   * lower one): what a leader of `term` must hold. Null if none is known.
   */
  before(term: number): CommittedFact<R> | null {
    let best: CommittedFact<R> | null = null;
    for (const f of this.facts) {
      if (f.term >= term) break;
      best = f;
    }
    return best;
  }

  all(): readonly CommittedFact<R>[] {
    return this.facts;
  }
}
