// Small statistics for the bench: percentiles of latency samples, and "median [min-max]"
// summaries of a figure repeated over several runs.

/** Nearest-rank percentile of an ascending array (p in 0..100). NaN for an empty array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(values: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    n: sorted.length,
    min: sorted.length ? sorted[0]! : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

/** The median of a figure's repetitions (for an even count, the mean of the middle two). */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** A number with a precision that suits its size: 6,012 / 412 / 41.2 / 4.12 / 0.412. */
export function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toFixed(3);
}

/** "median [min-max]", or just the value when there was one repetition. */
export function fmtSpread(s: Spread): string {
  if (s.n === 0) return '-';
  if (s.n === 1 || s.min === s.max) return fmtNumber(s.median);
  return `${fmtNumber(s.median)} [${fmtNumber(s.min)}-${fmtNumber(s.max)}]`;
}

/** ours / etcd of the medians, e.g. "1.84x"; "-" when either side is missing. */
export function fmtRatio(ours: Spread, etcd: Spread): string {
  const r = ratio(ours, etcd);
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '-';
}

export function ratio(ours: Spread, etcd: Spread): number {
  if (!ours.n || !etcd.n || etcd.median === 0) return NaN;
  return ours.median / etcd.median;
}
