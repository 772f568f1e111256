// A linearizability checker for histories of the key-value store (client contract commands
// set, add, get, del, cas).
//
// The store is P-compositional (Herlihy & Wing: a history is linearizable iff each key's
// sub-history is), so each key is checked on its own. A key is checked with two searches
// over the same space of configurations, (set of linearized operations, model state):
//
// 1. Wing & Gong's depth-first search with Lowe's memoization ("Testing for
//    linearizability", 2017), as in Porcupine. The key's history is a list of call and return
//    events sorted by time. Walking it from the head, any call met before the first return
//    may be linearized next: apply it to the model; if the model accepts the recorded result,
//    take the call and its return out of the list and start again from the head. Meeting a
//    return means its operation had to take effect by then: undo the last choice and try the
//    next. A cache of configurations already explored prunes the search. Greedy and depth-first,
//    it finds a linearization of a correct history quickly; proving that none exists means
//    exhausting every configuration before the violation, which can blow up when many
//    operations have unknown outcomes. So it runs with a step budget, and:
// 2. Lowe's just-in-time linearization, breadth-first in time (the configuration-set search
//    Knossos calls "linear"): walk the events in time order keeping the set of every
//    configuration consistent with the history so far; an operation is linearized only when
//    its return forces it (possibly after other open operations). The set is empty exactly at
//    the first return no order can explain: a definite verdict, and a precise counterexample.
//
// Operations whose outcome is unknown may or may not have taken effect: their return time is
// +Infinity and any result is accepted; leaving one out for ever is the same as it taking
// effect after everything else. Unknown reads constrain nothing and are dropped; failed
// operations (not_leader, bad_command) did nothing and are dropped. Three reductions keep the
// unknown operations from multiplying the search, each sound:
//  - Cover: a configuration is covered by one with the same completed operations linearized,
//    the same state and a subset of its unknown operations (anything the larger one can still
//    do, the smaller can too: an unknown operation left out may take effect later or never).
//  - Symmetry: unknown operations with the same input are interchangeable once both are
//    invoked, so they are linearized in invocation order only (k unknown `add 1`s would
//    otherwise be tried in 2^k subsets).
//  - Runs (depth-first search): an unknown operation in a run of unknown ones whose removal
//    leaves the same state (a set overwritten by the next set) is skipped; the configuration
//    without it covers this one.
import { describeInput, describeOutcome, show, type Operation, type Value } from './history.ts';

export type Verdict = 'linearizable' | 'not_linearizable' | 'inconclusive';

export interface CheckOptions {
  /** Steps of the depth-first search per key before the breadth-first one takes over. */
  dfsSteps?: number;
  /** Steps of the breadth-first search per key before giving up with 'inconclusive'. */
  maxSteps?: number;
  /** Completed operations shown before the stuck one in a counterexample. */
  windowBefore?: number;
  /** 'auto': depth-first within its budget, then breadth-first. The others run one search alone. */
  search?: 'auto' | 'depth-first' | 'breadth-first';
}

/** The first operation that no order of the history can explain, with its context. */
export interface Counterexample {
  key: string;
  /** Completed operations that returned before the stuck one, of how many. */
  linearized: number;
  completed: number;
  /** The last operations that returned before the stuck one. */
  before: Operation[];
  /** Every value the key can hold just before the stuck one takes effect (before the open operations). */
  possible: Value[];
  /** The completed operation that cannot take effect anywhere in its interval. */
  stuck: Operation;
  /**
   * Operations open when it returned (invoked, not returned), which could have come before it:
   * the completed ones first, then those with unknown outcomes, latest first; at most 12.
   */
  concurrent: Operation[];
  /** Open operations left out of `concurrent`. */
  moreConcurrent: number;
}

export interface KeyResult {
  key: string;
  verdict: Verdict;
  /** Operations checked for this key (failed ones and unknown reads excluded). */
  operations: number;
  /** Search steps taken (model applications), both searches together. */
  steps: number;
  /** Which search decided. */
  decidedBy: 'empty' | 'depth-first' | 'breadth-first';
  counterexample?: Counterexample;
}

export interface HistoryResult {
  verdict: Verdict;
  keys: KeyResult[];
}

// ---- The model: one key's value, held as canonical JSON ('null' = missing) ----

/** JSON with object keys sorted, so that equal values have equal text. */
export function canonical(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

/** The number a stored value counts as for `add`: missing is 0; anything else not a number refuses. */
function numberOf(state: string): number | null {
  if (state === 'null') return 0;
  const v: unknown = JSON.parse(state);
  return typeof v === 'number' ? v : null;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** As the contract reads command arguments: a numeric string is the number ("100" -> 100). */
function argument(v: unknown): unknown {
  if (typeof v === 'string' && NUMERIC.test(v) && Number.isFinite(Number(v))) return Number(v);
  return v;
}

interface Prepared {
  op: Operation;
  /** Whether the op definitely returned (ok). False: outcome unknown, return at +Infinity. */
  completed: boolean;
  /** canonical() of the returned value, for completed ops. */
  out: string;
  /** canonical() of set's value, cas's from and to. */
  a: string;
  b: string;
}

/**
 * The state after applying `p` to `state`, or null when the recorded result is impossible
 * from `state`. Unknown outcomes accept any result.
 */
function step(state: string, p: Prepared): string | null {
  const input = p.op.input;
  switch (input.f) {
    case 'set':
      if (p.completed && p.out !== p.a) return null;
      return p.a;
    case 'add': {
      const cur = numberOf(state);
      if (cur === null) return p.completed ? null : state; // the store refuses: no effect
      const next = canonical(cur + Number(argument(input.n)));
      if (p.completed && p.out !== next) return null;
      return next;
    }
    case 'get':
      if (p.completed && p.out !== state) return null;
      return state;
    case 'del':
      if (p.completed && p.out !== state) return null;
      return 'null';
    case 'cas': {
      const swapped = state === p.a;
      if (p.completed && p.out !== (swapped ? 'true' : 'false')) return null;
      return swapped ? p.b : state;
    }
  }
}

/** Why `p` cannot follow any of `states`, in words. */
function explain(states: string[], p: Prepared): string {
  const input = p.op.input;
  const got = p.out;
  const was = states.length === 1 ? `the value was ${states[0]}` : `the value could only be one of ${states.join(', ')}`;
  switch (input.f) {
    case 'set':
      return `set ${p.a} returned ${got}`;
    case 'add':
      return `add ${input.n} returned ${got}, but ${was}`;
    case 'get':
      return `get returned ${got}, but ${was}`;
    case 'del':
      return `del returned ${got}, but ${was}`;
    case 'cas':
      return `cas ${p.a} ${p.b} returned ${got}, but ${was}`;
  }
}

// ---- Preparing a key's history ----

function prepare(ops: readonly Operation[]): Prepared[] {
  const out: Prepared[] = [];
  for (const op of ops) {
    if (op.outcome.type === 'fail') continue;
    const completed = op.outcome.type === 'ok' && Number.isFinite(op.ret);
    if (!completed && op.input.f === 'get') continue;
    const input = op.input;
    out.push({
      op,
      completed,
      out: op.outcome.type === 'ok' ? canonical(op.outcome.value) : '',
      a: input.f === 'set' ? canonical(argument(input.value)) : input.f === 'cas' ? canonical(argument(input.from)) : '',
      b: input.f === 'cas' ? canonical(argument(input.to)) : '',
    });
  }
  return out;
}

/** Event order: by time; at equal times calls first (the two operations count as concurrent). */
interface Event {
  op: number;
  ret: boolean;
  time: number;
}

function eventsOf(ps: readonly Prepared[]): Event[] {
  const ev: Event[] = [];
  ps.forEach((p, i) => {
    ev.push({ op: i, ret: false, time: p.op.invoke });
    ev.push({ op: i, ret: true, time: p.completed ? Math.max(p.op.ret, p.op.invoke) : Infinity });
  });
  ev.sort((x, y) => (x.time === y.time ? 0 : x.time - y.time) || Number(x.ret) - Number(y.ret) || x.op - y.op);
  return ev;
}

/** For each unknown operation, the previous unknown one (by invocation) with the same input, or -1. */
function twinsOf(ps: readonly Prepared[]): Int32Array {
  const twinPrev = new Int32Array(ps.length).fill(-1);
  const lastOf = new Map<string, number>();
  const byInvoke = [...ps.keys()].sort((x, y) => ps[x]!.op.invoke - ps[y]!.op.invoke || x - y);
  for (const i of byInvoke) {
    if (ps[i]!.completed) continue;
    const sig = canonical(ps[i]!.op.input);
    const t = lastOf.get(sig);
    if (t !== undefined) twinPrev[i] = t;
    lastOf.set(sig, i);
  }
  return twinPrev;
}

const has = (bits: Uint32Array, i: number) => (bits[i >>> 5]! & (1 << (i & 31))) !== 0;

// ---- 1. Wing-Gong depth-first search with Lowe's memoization ----

/** A small deterministic generator for the Zobrist hash words. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function depthFirstSearch(ps: readonly Prepared[], maxSteps: number): { verdict: Verdict; steps: number } {
  const n = ps.length;
  // Node 2i is the call of op i, 2i+1 its return, in a doubly linked list in event order.
  const HEAD = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  let last = HEAD;
  for (const e of eventsOf(ps)) {
    const node = 2 * e.op + Number(e.ret);
    next[last] = node;
    prev[node] = last;
    last = node;
  }
  next[last] = -1;
  const remove = (x: number) => {
    const p = prev[x]!;
    const q = next[x]!;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  const restore = (x: number) => {
    const p = prev[x]!;
    const q = next[x]!;
    next[p] = x;
    if (q !== -1) prev[q] = x;
  };

  const twinPrev = twinsOf(ps);
  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const completedMask = new Uint32Array(words);
  ps.forEach((p, i) => {
    if (p.completed) completedMask[i >>> 5] |= 1 << (i & 31);
  });
  // Cache key: Zobrist hash of the completed ops linearized, and the state. The entry holds
  // the linearized sets seen, for the cover test.
  const rand = xorshift(0x5eed ^ n);
  const z1 = new Uint32Array(n).map(() => rand());
  const z2 = new Uint32Array(n).map(() => rand());
  let h1 = 0;
  let h2 = 0;
  const cache = new Map<string, Uint32Array[]>();
  const covers = (b: Uint32Array): boolean => {
    for (let j = 0; j < words; j++) {
      const m = completedMask[j]!;
      if ((b[j]! & m) !== (bits[j]! & m)) return false;
      if ((b[j]! & ~m & ~bits[j]!) !== 0) return false;
    }
    return true;
  };
  const flip = (i: number) => {
    bits[i >>> 5] ^= 1 << (i & 31);
    if (ps[i]!.completed) {
      h1 ^= z1[i]!;
      h2 ^= z2[i]!;
    }
  };

  const stackOp = new Int32Array(n);
  const stackState: string[] = new Array(n);
  let depth = 0;
  let state = 'null';
  let remaining = ps.filter((p) => p.completed).length;
  let steps = 0;

  // Whether unknown op i, appended to the run of unknown ops on top of the stack, makes an
  // earlier op of the run pointless (the run without it ends in the same state).
  const redundantRun = (i: number, ns: string): boolean => {
    for (let d = depth - 1; d >= 0 && !ps[stackOp[d]!]!.completed; d--) {
      let st: string | null = stackState[d]!;
      for (let e = d + 1; e < depth && st !== null; e++) st = step(st, ps[stackOp[e]!]!);
      if (st !== null) st = step(st, ps[i]!);
      if (st === ns) return true;
    }
    return false;
  };

  // Candidates are the calls before the first return: unknown operations first (phase 0),
  // then completed ones (phase 1). Trying the unknown ones first finds the linearization of a
  // correct history sooner, since about half of them did take effect.
  let node = next[HEAD]!;
  let phase = 0;
  while (remaining > 0) {
    if (++steps > maxSteps) return { verdict: 'inconclusive', steps };
    if ((node & 1) === 0) {
      const i = node >> 1;
      const p = ps[i]!;
      const twin = twinPrev[i]!;
      if (p.completed === (phase === 1) && (twin < 0 || has(bits, twin))) {
        const ns = step(state, p);
        if (ns !== null && (p.completed || !redundantRun(i, ns))) {
          flip(i);
          const k = `${h1}:${h2}:${ns}`;
          const seen = cache.get(k);
          if (!seen?.some(covers)) {
            if (seen) seen.push(bits.slice());
            else cache.set(k, [bits.slice()]);
            stackOp[depth] = i;
            stackState[depth] = state;
            depth++;
            state = ns;
            remove(2 * i);
            remove(2 * i + 1);
            if (p.completed) remaining--;
            node = next[HEAD]!;
            phase = 0;
            continue;
          }
          flip(i);
        }
      }
      node = next[node]!;
    } else if (phase === 0) {
      phase = 1;
      node = next[HEAD]!;
    } else {
      // A return: its operation had to be linearized by now. Undo the last choice.
      if (depth === 0) return { verdict: 'not_linearizable', steps };
      depth--;
      const i = stackOp[depth]!;
      state = stackState[depth]!;
      flip(i);
      if (ps[i]!.completed) remaining++;
      restore(2 * i + 1);
      restore(2 * i);
      phase = ps[i]!.completed ? 1 : 0;
      node = next[2 * i]!;
    }
  }
  return { verdict: 'linearizable', steps };
}

// ---- 2. Just-in-time linearization, breadth-first in time ----

/**
 * A configuration between events: the state, which open completed operations are already
 * linearized (`lin`, sorted op indices), and which unknown operations are (`unk`, bits by
 * unknown ordinal). Completed operations that have returned are linearized in every one.
 */
interface Config {
  s: string;
  lin: number[];
  unk: Uint32Array;
}

/** Configurations keyed by (state, lin), each kept only if no other covers it. */
class ConfigSet {
  private readonly byKey = new Map<string, Config[]>();
  size = 0;

  /** Adds c unless covered; drops the ones c covers. Returns whether c was added. */
  add(c: Config): boolean {
    const k = `${c.s}|${c.lin.join(',')}`;
    const list = this.byKey.get(k);
    if (!list) {
      this.byKey.set(k, [c]);
      this.size++;
      return true;
    }
    if (list.some((o) => subset(o.unk, c.unk))) return false;
    const kept = list.filter((o) => !subset(c.unk, o.unk));
    this.size += kept.length - list.length + 1;
    kept.push(c);
    this.byKey.set(k, kept);
    return true;
  }

  all(): Config[] {
    return [...this.byKey.values()].flat();
  }
}

function subset(a: Uint32Array, b: Uint32Array): boolean {
  for (let j = 0; j < a.length; j++) if ((a[j]! & ~b[j]!) !== 0) return false;
  return true;
}

interface Failure {
  stuck: number;
  states: string[];
  open: number[];
  returned: number[];
}

function breadthFirstSearch(ps: readonly Prepared[], maxSteps: number): { verdict: Verdict; steps: number; failure?: Failure } {
  const n = ps.length;
  const unknownOrdinal = new Int32Array(n).fill(-1);
  let u = 0;
  ps.forEach((p, i) => {
    if (!p.completed) unknownOrdinal[i] = u++;
  });
  const uw = (u + 31) >>> 5;
  const twinPrev = twinsOf(ps);
  const open: number[] = []; // invoked, not returned (unknown ones stay for ever), by invocation
  const returned: number[] = [];
  let configs: Config[] = [{ s: 'null', lin: [], unk: new Uint32Array(uw) }];
  let steps = 0;

  for (const e of eventsOf(ps)) {
    if (!e.ret) {
      open.push(e.op);
      continue;
    }
    if (!Number.isFinite(e.time)) break; // only unknown operations are left
    const o = e.op;
    open.splice(open.indexOf(o), 1);
    const out = new ConfigSet();
    const visited = new ConfigSet();
    // Configurations that already placed o pass; the others must place it now, possibly after
    // some of the other open operations, in any order (breadth-first: fewer operations first,
    // so that a configuration is met before the ones it covers).
    // A set accepts any state and leaves its own value: when nothing but unknown operations
    // could come before it, placing them changes nothing but adds them, so the configuration
    // without them covers every such one.
    const blind = ps[o]!.op.input.f === 'set' && open.every((q) => unknownOrdinal[q]! >= 0);
    const candidates = [o, ...open].filter((q) => !(blind && unknownOrdinal[q]! >= 0));
    let layer: Config[] = [];
    for (const c of configs) {
      const at = c.lin.indexOf(o);
      if (at >= 0) out.add({ s: c.s, lin: c.lin.filter((x) => x !== o), unk: c.unk });
      else if (visited.add(c)) layer.push(c);
    }
    while (layer.length > 0) {
      const nextLayer: Config[] = [];
      for (const c of layer) {
        for (const q of candidates) {
          const ord = unknownOrdinal[q]!;
          if (ord >= 0) {
            if (has(c.unk, ord)) continue;
            const t = twinPrev[q]!;
            if (t >= 0 && !has(c.unk, unknownOrdinal[t]!)) continue;
          } else if (c.lin.includes(q)) continue;
          if (++steps > maxSteps) return { verdict: 'inconclusive', steps };
          const ns = step(c.s, ps[q]!);
          if (ns === null) continue;
          if (q === o) {
            out.add({ s: ns, lin: c.lin, unk: c.unk });
            continue;
          }
          let next: Config;
          if (ord >= 0) {
            const unk = c.unk.slice();
            unk[ord >>> 5] |= 1 << (ord & 31);
            next = { s: ns, lin: c.lin, unk };
          } else {
            next = { s: ns, lin: [...c.lin, q].sort((x, y) => x - y), unk: c.unk };
          }
          if (visited.add(next)) nextLayer.push(next);
        }
      }
      layer = nextLayer;
    }
    if (out.size === 0) {
      return { verdict: 'not_linearizable', steps, failure: { stuck: o, states: [...new Set(configs.map((c) => c.s))], open: [...open], returned } };
    }
    configs = out.all();
    returned.push(o);
  }
  return { verdict: 'linearizable', steps };
}

// ---- Both together ----

/** Checks the operations of one key. */
export function checkKey(key: string, ops: readonly Operation[], options: CheckOptions = {}): KeyResult {
  const dfsSteps = options.dfsSteps ?? 3_000_000;
  const maxSteps = options.maxSteps ?? 20_000_000;
  const windowBefore = options.windowBefore ?? 6;
  const ps = prepare(ops);
  const operations = ps.length;
  if (operations === 0) return { key, verdict: 'linearizable', operations, steps: 0, decidedBy: 'empty' };

  const search = options.search ?? 'auto';
  if (search === 'depth-first') {
    const dfs = depthFirstSearch(ps, maxSteps);
    return { key, verdict: dfs.verdict, operations, steps: dfs.steps, decidedBy: 'depth-first' };
  }
  // auto: a short depth-first search settles most correct histories; the breadth-first one
  // gives definite answers (and counterexamples) for the others; a long depth-first search
  // is the last resort when that one runs out of steps.
  let steps = 0;
  let dfsVerdict: Verdict = 'inconclusive';
  if (search === 'auto') {
    const dfs = depthFirstSearch(ps, dfsSteps);
    steps += dfs.steps;
    dfsVerdict = dfs.verdict;
    if (dfs.verdict === 'linearizable') return { key, verdict: 'linearizable', operations, steps, decidedBy: 'depth-first' };
  }
  const bfs = breadthFirstSearch(ps, maxSteps);
  steps += bfs.steps;
  if (dfsVerdict === 'not_linearizable' && bfs.verdict === 'linearizable') {
    throw new Error(`checker defect: on key ${show(key)} the depth-first search found no linearization and the breadth-first one found one`);
  }
  if (bfs.verdict === 'inconclusive' && search === 'auto') {
    const dfs = depthFirstSearch(ps, maxSteps);
    steps += dfs.steps;
    if (dfs.verdict !== 'not_linearizable') return { key, verdict: dfs.verdict, operations, steps, decidedBy: 'depth-first' };
    return { key, verdict: 'not_linearizable', operations, steps, decidedBy: 'depth-first' };
  }
  if (bfs.verdict !== 'not_linearizable') return { key, verdict: bfs.verdict, operations, steps, decidedBy: 'breadth-first' };
  const f = bfs.failure!;
  const byInvoke = (x: Operation, y: Operation) => x.invoke - y.invoke || x.id - y.id;
  const open = f.open.map((i) => ps[i]!);
  const concurrent = [
    ...open.filter((p) => p.completed).map((p) => p.op).sort(byInvoke),
    ...open
      .filter((p) => !p.completed)
      .map((p) => p.op)
      .sort((x, y) => byInvoke(y, x)),
  ];
  return {
    key,
    verdict: 'not_linearizable',
    operations,
    steps,
    decidedBy: 'breadth-first',
    counterexample: {
      key,
      linearized: f.returned.length,
      completed: ps.filter((p) => p.completed).length,
      before: f.returned.slice(-windowBefore).map((i) => ps[i]!.op),
      possible: f.states.map((st) => JSON.parse(st) as Value),
      stuck: ps[f.stuck]!.op,
      concurrent: concurrent.slice(0, 12),
      moreConcurrent: Math.max(0, concurrent.length - 12),
    },
  };
}

/** Checks a whole history, key by key. */
export function checkHistory(ops: readonly Operation[], options: CheckOptions = {}): HistoryResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys = [...byKey.keys()].sort().map((k) => checkKey(k, byKey.get(k)!, options));
  const verdict: Verdict = keys.some((k) => k.verdict === 'not_linearizable')
    ? 'not_linearizable'
    : keys.some((k) => k.verdict === 'inconclusive')
      ? 'inconclusive'
      : 'linearizable';
  return { verdict, keys };
}

// ---- Printing ----

/** One operation on one line: `#12 c3 [1.203s .. 1.250s] add 5 -> 100`. */
export function formatOperation(op: Operation, origin = 0): string {
  const t = (ms: number) => (Number.isFinite(ms) ? `${((ms - origin) / 1000).toFixed(3)}s` : '(never)');
  return `#${op.id} ${op.client} [${t(op.invoke)} .. ${t(op.ret)}] ${describeInput(op.input)} -> ${describeOutcome(op.outcome)}`;
}

/** A counterexample as a person reads it. */
export function formatCounterexample(c: Counterexample, origin = 0): string {
  const lines: string[] = [];
  lines.push(`key ${show(c.key)}: no linearization exists (${c.linearized} of ${c.completed} completed operations fit before it fails).`);
  if (c.before.length > 0) {
    lines.push('  The last operations that returned before it:');
    for (const op of c.before) lines.push(`    ${formatOperation(op, origin)}`);
  } else {
    lines.push('  No operation returned before it; the key starts missing (null).');
  }
  const p = prepare([c.stuck])[0];
  const states = c.possible.map((v) => canonical(v));
  lines.push('  This operation had to take effect before it returned, and cannot:');
  lines.push(`    ${formatOperation(c.stuck, origin)}`);
  lines.push(`    ${p ? explain(states, p) : describeOutcome(c.stuck.outcome)}${c.concurrent.length > 0 ? ' (before the open operations below)' : ''}.`);
  if (c.concurrent.length > 0) {
    lines.push('  No order of the operations open at that time makes it possible:');
    for (const op of c.concurrent) lines.push(`    ${formatOperation(op, origin)}`);
    if (c.moreConcurrent > 0) lines.push(`    ... and ${c.moreConcurrent} earlier operations with unknown outcomes`);
  }
  return lines.join('\n');
}

/** The earliest invocation in a history, to print times relative to it. */
export function originOf(ops: readonly Operation[]): number {
  let o = Infinity;
  for (const op of ops) o = Math.min(o, op.invoke);
  return Number.isFinite(o) ? o : 0;
}
