/**
 * Run metrics: counters and HDR histograms (mergeable across shards). Latencies are integer ns.
 * Recording is O(1) and allocation-free; summaries are built once at the end.
 */
import * as hdr from 'hdr-histogram-js';

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Histogram names the model records. */
export const HIST_NAMES = [
  /** Page request group: first request sent by the device → response received by the device. */
  'group_latency_ns',
  /** Group formed in the core → handler finished. */
  'handler_ns',
  /** Device wanted to send but had no credit → it could send. */
  'credit_stall_ns',
  /** iommufd: group queued for user space → response written. */
  'iommufd_ns',
  /** In-kernel SVA handler only: group formed → response sent. */
  'sva_ns',
] as const;
export type HistName = (typeof HIST_NAMES)[number];

export class Metrics {
  readonly hist: Record<HistName, hdr.Histogram>;
  /** Free-form counters (queue high-water marks, stalls, …). */
  readonly counters = new Map<string, number>();

  constructor() {
    const h: Partial<Record<HistName, hdr.Histogram>> = {};
    for (const n of HIST_NAMES) h[n] = newHistogram();
    this.hist = h as Record<HistName, hdr.Histogram>;
  }

  record(name: HistName, ns: number): void {
    this.hist[name].recordValue(ns < 0 ? 0 : ns);
  }

  add(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  /** Keep the maximum seen (for high-water marks). */
  max(name: string, value: number): void {
    const cur = this.counters.get(name);
    if (cur === undefined || value > cur) this.counters.set(name, value);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  summary(name: HistName): Percentiles {
    const h = this.hist[name];
    if (h.totalCount === 0) return { count: 0, p50: 0, p99: 0, max: 0, mean: 0 };
    return {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
      mean: Math.round(h.mean),
    };
  }

  /** Compressed, mergeable form of every histogram (for sharded sweeps). */
  encode(): Record<HistName, string> {
    const out: Partial<Record<HistName, string>> = {};
    for (const n of HIST_NAMES) out[n] = hdr.encodeIntoCompressedBase64(this.hist[n]);
    return out as Record<HistName, string>;
  }

  merge(encoded: Partial<Record<HistName, string>>): void {
    for (const n of HIST_NAMES) {
      const e = encoded[n];
      if (e !== undefined) this.hist[n].add(hdr.decodeFromCompressedBase64(e, 32, false));
    }
  }
}
