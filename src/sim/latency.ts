/**
 * Latency distributions in integer nanoseconds. Each pipeline stage takes one from the scenario;
 * sampling draws from that stage's own seeded stream.
 */
import { assert, unreachable } from './assert.js';
import { rejectionLimit, type Rng } from './random.js';

export type LatencySpec =
  | { dist: 'fixed'; ns: number }
  | { dist: 'uniform'; min_ns: number; max_ns: number }
  | { dist: 'exponential'; mean_ns: number; min_ns?: number | undefined }
  | { dist: 'lognormal'; median_ns: number; sigma: number; max_ns?: number | undefined }
  | { dist: 'empirical'; table: readonly { ns: number; weight: number }[] };

/** A compiled distribution: `sample(rng)` returns integer ns ≥ 0. */
export class Latency {
  private readonly kind: number;
  private readonly p0: number;
  private readonly p1: number;
  private readonly p2: number;
  private readonly values: Float64Array;
  private readonly cumulative: Float64Array;
  readonly spec: LatencySpec;

  constructor(spec: LatencySpec) {
    this.spec = spec;
    this.values = new Float64Array(0);
    this.cumulative = new Float64Array(0);
    switch (spec.dist) {
      case 'fixed':
        assert(Number.isSafeInteger(spec.ns) && spec.ns >= 0, 'latency: fixed ns must be a non-negative integer');
        this.kind = 0;
        this.p0 = spec.ns;
        this.p1 = 0;
        this.p2 = 0;
        break;
      case 'uniform':
        assert(spec.min_ns >= 0 && spec.max_ns >= spec.min_ns, 'latency: uniform needs 0 <= min <= max');
        this.kind = 1;
        this.p0 = Math.round(spec.min_ns);
        this.p1 = Math.round(spec.max_ns);
        // Span and rejection limit precomputed: sample() draws exactly as Rng.int(p0, p1) would.
        this.p2 = this.p1 - this.p0 + 1 <= 0x1_0000_0000 ? rejectionLimit(this.p1 - this.p0 + 1) : 0;
        break;
      case 'exponential':
        assert(spec.mean_ns > 0, 'latency: exponential mean must be positive');
        this.kind = 2;
        this.p0 = spec.mean_ns;
        this.p1 = spec.min_ns ?? 0;
        this.p2 = 0;
        break;
      case 'lognormal':
        assert(spec.median_ns > 0 && spec.sigma >= 0, 'latency: lognormal needs median > 0, sigma >= 0');
        this.kind = 3;
        this.p0 = Math.log(spec.median_ns);
        this.p1 = spec.sigma;
        this.p2 = spec.max_ns ?? Number.MAX_SAFE_INTEGER;
        break;
      case 'empirical': {
        assert(spec.table.length > 0, 'latency: empirical table is empty');
        this.kind = 4;
        this.values = new Float64Array(spec.table.length);
        this.cumulative = new Float64Array(spec.table.length);
        let sum = 0;
        spec.table.forEach((row, i) => {
          assert(row.weight >= 0 && row.ns >= 0, 'latency: empirical rows need ns >= 0, weight >= 0');
          sum += row.weight;
          this.values[i] = Math.round(row.ns);
          this.cumulative[i] = sum;
        });
        assert(sum > 0, 'latency: empirical weights sum to zero');
        this.p0 = sum;
        this.p1 = 0;
        this.p2 = 0;
        break;
      }
      default:
        unreachable(spec, 'latency distribution');
    }
  }

  sample(rng: Rng): number {
    switch (this.kind) {
      case 0:
        return this.p0;
      case 1:
        if (this.p0 === this.p1) return this.p0;
        return this.p2 !== 0 ? this.p0 + rng.belowWithLimit(this.p1 - this.p0 + 1, this.p2) : rng.int(this.p0, this.p1);
      case 2: {
        // Inverse CDF; 1 - u is in (0, 1] so the log is finite.
        const u = 1 - rng.float();
        return this.p1 + Math.round(-Math.log(u) * this.p0);
      }
      case 3: {
        // Box–Muller with two uniforms from the stream.
        const u1 = 1 - rng.float();
        const u2 = rng.float();
        const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        const v = Math.round(Math.exp(this.p0 + this.p1 * z));
        return v > this.p2 ? this.p2 : v;
      }
      default: {
        const x = rng.float() * this.p0;
        const c = this.cumulative;
        let lo = 0;
        let hi = c.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (c[mid]! > x) hi = mid;
          else lo = mid + 1;
        }
        return this.values[lo]!;
      }
    }
  }

  /** The distribution's mean in ns (for reports and sizing). */
  mean(): number {
    const s = this.spec;
    switch (s.dist) {
      case 'fixed':
        return s.ns;
      case 'uniform':
        return (s.min_ns + s.max_ns) / 2;
      case 'exponential':
        return (s.min_ns ?? 0) + s.mean_ns;
      case 'lognormal':
        return Math.exp(Math.log(s.median_ns) + (s.sigma * s.sigma) / 2);
      case 'empirical': {
        let sum = 0;
        let w = 0;
        for (const r of s.table) {
          sum += r.ns * r.weight;
          w += r.weight;
        }
        return sum / w;
      }
      default:
        return unreachable(s, 'latency distribution');
    }
  }
}

/** A short human description, e.g. `uniform(300..1000 ns)`. */
export function describeLatency(spec: LatencySpec): string {
  switch (spec.dist) {
    case 'fixed':
      return `fixed(${spec.ns} ns)`;
    case 'uniform':
      return `uniform(${spec.min_ns}..${spec.max_ns} ns)`;
    case 'exponential':
      return `exponential(mean ${spec.mean_ns} ns)`;
    case 'lognormal':
      return `lognormal(median ${spec.median_ns} ns, sigma ${spec.sigma})`;
    case 'empirical':
      return `empirical(${spec.table.length} rows)`;
    default:
      return unreachable(spec, 'latency distribution');
  }
}
