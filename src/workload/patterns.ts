/**
 * Address patterns of the access generators: which page an access starts at. Each pattern is a
 * small object with `next(i, rng)` returning a page offset inside the region; the zipf pattern
 * precomputes its CDF once and samples by binary search (no allocation per access).
 */
import { assert } from '../sim/assert.js';
import type { Rng } from '../sim/random.js';

export interface AddressPattern {
  /** Page offset (from the region's first page) of access number `i`. */
  next(i: number, rng: Rng): number;
}

/** Most ranks in a zipf table; larger regions map ranks onto evenly spaced slots. */
export const ZIPF_MAX_RANKS = 1 << 16;

/** Consecutive slots of `span` pages, wrapping at the end of the region. */
export class SequentialPattern implements AddressPattern {
  constructor(
    private readonly slots: number,
    private readonly span: number,
  ) {}
  next(i: number): number {
    return (i % this.slots) * this.span;
  }
}

/** Uniformly random slot. */
export class RandomPattern implements AddressPattern {
  constructor(
    private readonly slots: number,
    private readonly span: number,
  ) {}
  next(_i: number, rng: Rng): number {
    return rng.below(this.slots) * this.span;
  }
}

/** Every `stride` pages, wrapping over the positions where an access fits. */
export class StridedPattern implements AddressPattern {
  constructor(
    private readonly positions: number,
    private readonly stride: number,
  ) {}
  next(i: number): number {
    return (i * this.stride) % this.positions;
  }
}

/** Zipf over slots: rank r (0 = hottest) has weight 1 / (r + 1)^s. */
export class ZipfPattern implements AddressPattern {
  readonly cdf: Float64Array;
  private readonly slotStep: number;
  constructor(
    slots: number,
    private readonly span: number,
    s: number,
  ) {
    assert(s > 0, 'ZipfPattern: exponent must be positive');
    const ranks = Math.min(slots, ZIPF_MAX_RANKS);
    this.slotStep = Math.max(1, Math.floor(slots / ranks));
    this.cdf = new Float64Array(ranks);
    let sum = 0;
    for (let r = 0; r < ranks; r++) {
      sum += 1 / Math.pow(r + 1, s);
      this.cdf[r] = sum;
    }
    for (let r = 0; r < ranks; r++) this.cdf[r] = this.cdf[r]! / sum;
  }
  /** The rank for a uniform draw u in [0, 1): the first rank whose CDF exceeds u. */
  rankOf(u: number): number {
    const c = this.cdf;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  next(_i: number, rng: Rng): number {
    return this.rankOf(rng.float()) * this.slotStep * this.span;
  }
}
