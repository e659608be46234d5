/**
 * Small statistics helpers for benchmarks: percentiles over latency samples, a summary record,
 * ratios and a plain-text table printer. No dependencies.
 */

export interface Summary {
  count: number;
  min: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** Sorted copy (ascending) of the samples, as a Float64Array (numeric sort, no string compare). */
export function sortedSamples(samples: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(samples);
  out.sort();
  return out;
}

/**
 * The p-th percentile (0..100) of already sorted samples, linearly interpolated between the two
 * nearest ranks (the same definition as numpy's default). NaN for an empty sample.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in 0..100, got ${p}`);
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function summarize(samples: ArrayLike<number>): Summary {
  const s = sortedSamples(samples);
  const n = s.length;
  if (n === 0) {
    return { count: 0, min: NaN, mean: NaN, stddev: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, max: NaN };
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i] as number;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = (s[i] as number) - mean;
    sq += d * d;
  }
  return {
    count: n,
    min: s[0] as number,
    mean,
    stddev: n > 1 ? Math.sqrt(sq / (n - 1)) : 0,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s[n - 1] as number,
  };
}

/** a / b, or NaN when b is not a positive finite number. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(b) && b > 0 ? a / b : Number.NaN;
}

/** Fixed-point formatting that prints "-" for NaN / non-finite values. */
export function fmt(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export function fmtRatio(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}x` : '-';
}

/**
 * A plain-text table in Markdown pipe syntax (readable in a terminal and pasteable into a .md
 * file). Columns whose `align` is 'right' are padded on the left.
 */
export function formatTable(columns: { title: string; align?: 'left' | 'right' }[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (text: string, i: number) => {
    const w = widths[i] as number;
    return columns[i]?.align === 'right' ? text.padStart(w) : text.padEnd(w);
  };
  const line = (cells: string[]) => `| ${cells.map((c, i) => pad(c, i)).join(' | ')} |`;
  const rule = `|${columns
    .map((c, i) => {
      const dashes = '-'.repeat((widths[i] as number) + 2);
      return c.align === 'right' ? `${dashes.slice(1)}:` : dashes;
    })
    .join('|')}|`;
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join('\n');
}
