/**
 * Fixed-size sample summaries for fitting: an HDR histogram per measured quantity (3 significant
 * digits, so any value is kept within 0.1 %, and memory does not grow with the number of samples),
 * its conversion to an `empirical` latency table of the scenario format, and Kolmogorov–Smirnov
 * distances to tell how well a table or a parametric law describes what was measured.
 */
import * as hdr from 'hdr-histogram-js';
import { assert } from '../sim/assert.js';

/** The parts of hdr-histogram-js's pure-JS histogram used to walk its buckets in order. */
interface BucketWalk {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  highestEquivalentValue(value: number): number;
  medianEquivalentValue(value: number): number;
}

export interface EmpiricalRow {
  ns: number;
  weight: number;
}

export interface DistributionSummary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Coefficient of variation (stddev / mean): 1 for exponential gaps, above 1 for bursty ones. */
  cv: number;
}

/** Rows of an empirical table built by `toTable` unless asked otherwise. */
export const DEFAULT_TABLE_ROWS = 1000;

/** One measured quantity: integer ns samples in an HDR histogram of fixed precision. */
export class Distribution {
  readonly hist: hdr.Histogram;
  private minSeen = Infinity;

  constructor() {
    this.hist = hdr.build({
      bitBucketSize: 64,
      autoResize: true,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 2 ** 40,
      numberOfSignificantValueDigits: 3,
      useWebAssembly: false,
    });
  }

  record(ns: number): void {
    const v = ns < 0 ? 0 : ns;
    if (v < this.minSeen) this.minSeen = v;
    this.hist.recordValue(v);
  }

  get count(): number {
    return this.hist.totalCount;
  }

  summary(): DistributionSummary {
    const h = this.hist;
    if (h.totalCount === 0) return { n: 0, min: 0, p50: 0, p99: 0, max: 0, mean: 0, cv: 0 };
    const mean = h.mean;
    return {
      n: h.totalCount,
      min: this.minSeen,
      p50: h.getValueAtPercentile(50),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
      mean: Math.round(mean),
      cv: mean > 0 ? Math.round((h.stdDeviation / mean) * 1000) / 1000 : 0,
    };
  }

  /** Non-empty buckets in increasing order: [representative value, highest value of the bucket, count]. */
  buckets(): [number, number, number][] {
    const w = this.hist as unknown as BucketWalk;
    const out: [number, number, number][] = [];
    for (let i = 0; i < w.countsArrayLength; i++) {
      const c = w.getCountAtIndex(i);
      if (c === 0) continue;
      const lo = w.valueFromIndex(i);
      out.push([w.medianEquivalentValue(lo), w.highestEquivalentValue(lo), c]);
    }
    // Bucket values are within 0.1 %; where a bucket holds only the extreme, use it exactly.
    if (out.length > 0) {
      const first = out[0]!;
      const last = out[out.length - 1]!;
      if (this.minSeen === this.hist.maxValue) first[0] = this.minSeen;
      else {
        if (first[2] === 1) first[0] = this.minSeen;
        if (last[2] === 1) last[0] = this.hist.maxValue;
      }
    }
    return out;
  }

  /**
   * The measured distribution as an empirical table of at most `rows` rows: the value at each of
   * `rows` evenly spaced quantiles (equal weights, equal values merged). Every bucket that holds
   * more than 1/rows of the samples keeps its weight, so a fixed latency stays one row.
   */
  toTable(rows: number = DEFAULT_TABLE_ROWS): EmpiricalRow[] {
    assert(rows >= 1, 'Distribution.toTable: rows must be positive');
    const total = this.count;
    if (total === 0) return [];
    const b = this.buckets();
    const out: EmpiricalRow[] = [];
    let k = 0;
    let cum = 0;
    for (const [v, , c] of b) {
      cum += c;
      // Quantile targets (k + 0.5) / rows that fall in this bucket.
      let here = 0;
      while (k < rows && ((k + 0.5) / rows) * total <= cum) {
        here++;
        k++;
      }
      if (here === 0) continue;
      const last = out[out.length - 1];
      if (last !== undefined && last.ns === v) last.weight += here;
      else out.push({ ns: Math.round(v), weight: here });
    }
    return out;
  }

  /** KS distance between this sample and an empirical table (the loss of the table's compression). */
  ksAgainstTable(table: readonly EmpiricalRow[]): number {
    const total = this.count;
    if (total === 0 || table.length === 0) return 0;
    const wsum = table.reduce((a, r) => a + r.weight, 0);
    const sorted = [...table].sort((a, b) => a.ns - b.ns);
    let j = 0;
    let tcum = 0;
    let cum = 0;
    let d = 0;
    for (const [, hi, c] of this.buckets()) {
      // Both CDFs just before this bucket, then at its end.
      d = Math.max(d, Math.abs(cum / total - tcum / wsum));
      cum += c;
      while (j < sorted.length && sorted[j]!.ns <= hi) tcum += sorted[j++]!.weight;
      d = Math.max(d, Math.abs(cum / total - tcum / wsum));
    }
    return d;
  }

  /** KS distance between this sample and an exponential law of the sample's mean (Poisson arrivals). */
  ksAgainstExponential(): number {
    const total = this.count;
    if (total === 0) return 0;
    const mean = this.hist.mean;
    if (!(mean > 0)) return 1;
    let cum = 0;
    let d = 0;
    let prevHi = -1;
    for (const [, hi, c] of this.buckets()) {
      const lo = prevHi + 1;
      d = Math.max(d, Math.abs(cum / total - (1 - Math.exp(-lo / mean))));
      cum += c;
      d = Math.max(d, Math.abs(cum / total - (1 - Math.exp(-(hi + 1) / mean))));
      prevHi = hi;
    }
    return d;
  }
}

/**
 * Two-sample Kolmogorov–Smirnov statistic: the largest distance between the empirical CDFs of
 * `a` and `b`. Sorts copies; ties are stepped over together, as the statistic requires.
 */
export function ksTwoSample(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : 1;
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** The value at quantile q (0..1) of a sample: the smallest value with at least q·n values at or below it. */
export function quantile(sample: readonly number[], q: number): number {
  assert(sample.length > 0, 'quantile: empty sample');
  const s = Float64Array.from(sample).sort();
  const k = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[k]!;
}
