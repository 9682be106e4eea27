/**
 * Run metrics: counters and HDR histograms (mergeable across shards). Latencies are integer ns.
 * Recording is O(1) and allocation-free; summaries are built once at the end.
 */
import * as hdr from 'hdr-histogram-js';
import { inflateSync } from 'node:zlib';

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
  /** Device wanted to send but had no credit → it could send. */
  'credit_stall_ns',
  /** iommufd: group queued for user space → response written. */
  'iommufd_ns',
  /** In-kernel SVA handler only: group formed → response sent. */
  'sva_ns',
] as const;
export type HistName = (typeof HIST_NAMES)[number];

/** Largest inflated histogram accepted from a file (a full-precision histogram of this model's
 *  range is well under 1 MiB; the bound stops a zlib bomb). */
const MAX_INFLATED_BYTES = 16 << 20;
/** HdrHistogram V2 encoding cookies (the word-size nibble, bits 4..7, masked off). */
const COMPRESSED_COOKIE = 0x1c849304;
const V2_COOKIE = 0x1c849303;

/**
 * Decode a compressed base64 HDR histogram from a file, or say why it is not one. Checked before
 * the library sees it: base64 alphabet, the compressed cookie, a payload that inflates within a
 * bound; the library's own errors ("Encoding not supported", …) come back as values too.
 */
export function decodeHistogram(encoded: string): { ok: true; value: hdr.Histogram } | { ok: false; error: string } {
  if (encoded.length === 0 || encoded.length > 64 << 20 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    return { ok: false, error: 'not base64 text' };
  }
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length < 8 || (bytes.readInt32BE(0) & ~0xf0) !== COMPRESSED_COOKIE) return { ok: false, error: 'not a compressed HDR histogram (bad cookie)' };
  const len = bytes.readInt32BE(4);
  if (len <= 0 || 8 + len > bytes.length) return { ok: false, error: 'truncated compressed HDR histogram' };
  let inner: Buffer;
  try {
    inner = inflateSync(bytes.subarray(8, 8 + len), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (e) {
    return { ok: false, error: `corrupt compressed HDR histogram (${(e as Error).message})` };
  }
  // The header sizes the counts array the decoder allocates: keep it to what this model records.
  if (inner.length < 40 || (inner.readInt32BE(0) & ~0xf0) !== V2_COOKIE) return { ok: false, error: 'not an HDR histogram (bad inner cookie)' };
  const digits = inner.readInt32BE(12);
  const lowest = inner.readBigInt64BE(16);
  const highest = inner.readBigInt64BE(24);
  if (digits < 0 || digits > 5 || lowest < 1n || highest < 2n * lowest || highest > 2n ** 53n) {
    return { ok: false, error: 'HDR histogram with out-of-range parameters' };
  }
  try {
    const h = hdr.decodeFromCompressedBase64(encoded, 32, false);
    if (!Number.isSafeInteger(h.totalCount) || h.totalCount < 0) return { ok: false, error: 'HDR histogram with an impossible count' };
    return { ok: true, value: h };
  } catch (e) {
    return { ok: false, error: `not an HDR histogram (${(e as Error).message})` };
  }
}

/** An HDR-rounded percentile never above the recorded maximum (a bucket's highest equivalent
 *  value can exceed every value recorded in it: "p99 130047 ns, max 130000 ns"). */
export function percentileAtMost(h: hdr.Histogram, q: number): number {
  return Math.min(h.getValueAtPercentile(q), h.maxValue);
}

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
      p50: percentileAtMost(h, 50),
      p99: percentileAtMost(h, 99),
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
    const err = this.mergeChecked(encoded);
    if (err !== undefined) throw new RangeError(`Metrics.merge: ${err}`);
  }

  /** merge() of histograms from a file: undefined, or which histogram is bad and why (nothing
   *  is merged then). */
  mergeChecked(encoded: Partial<Record<HistName, string>>): string | undefined {
    const decoded: [HistName, hdr.Histogram][] = [];
    for (const n of HIST_NAMES) {
      const e = encoded[n];
      if (e === undefined) continue;
      const d = decodeHistogram(e);
      if (!d.ok) return `${n}: ${d.error}`;
      decoded.push([n, d.value]);
    }
    for (const [n, h] of decoded) this.hist[n].add(h);
    return undefined;
  }
}
