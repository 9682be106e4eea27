/**
 * Seeded randomness. One seed rules every stream: each component forks its own stream by name
 * (xoroshiro128+ seeded from the run seed mixed with a hash of the name, then jumped), so adding a
 * component does not perturb the draws of the others. Probabilities are integer ratios.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { assert } from './assert.js';

/** FNV-1a over a string, 32-bit: stable stream names → seeds. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TWO_32 = 0x1_0000_0000;

/** The rejection limit of below(n) for n ≤ 2^32: draws at or above it are redrawn. */
export function rejectionLimit(n: number): number {
  return TWO_32 - (TWO_32 % n);
}

/** A seeded stream of numbers. */
export class Rng {
  private readonly gen: JumpableRandomGenerator;
  constructor(seed: number, name: string) {
    assert(Number.isSafeInteger(seed), 'Rng: seed must be a safe integer');
    // Mix the high and low parts of the seed and the name so (seed, name) pairs differ.
    const mixed = (hash32(name) ^ (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_32) | 0, 0x9e3779b1)) | 0;
    this.gen = xoroshiro128plus(mixed);
    this.gen.jump();
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    return this.gen.next() >>> 0;
  }
  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
  /** Uniform integer in [0, n), n ≤ 2^32, unbiased (rejection). */
  below(n: number): number {
    if (n <= 0x8000_0000 && (n & (n - 1)) === 0) {
      if (n <= 0) assert(false, 'Rng.below: n out of range');
      return (this.gen.next() >>> 0) & (n - 1);
    }
    assert(Number.isInteger(n) && n > 0 && n <= TWO_32, 'Rng.below: n out of range');
    const limit = TWO_32 - (TWO_32 % n);
    for (let i = 0; i < 64; i++) {
      const x = this.u32();
      if (x < limit) return x % n;
    }
    return this.u32() % n; // 64 rejections in a row: probability < 2^-64
  }
  /**
   * below(n) with its rejection limit precomputed (2^32 − 2^32 mod n, from `rejectionLimit(n)`):
   * the same draws and results as below(n), for callers that sample one range many times.
   */
  belowWithLimit(n: number, limit: number): number {
    for (let i = 0; i < 64; i++) {
      const x = this.gen.next() >>> 0;
      if (x < limit) return x % n;
    }
    return this.u32() % n;
  }

  /** Uniform integer in [lo, hi] (both inclusive, safe integers). */
  int(lo: number, hi: number): number {
    assert(hi >= lo, 'Rng.int: empty range');
    const span = hi - lo + 1;
    if (span <= TWO_32) return lo + this.below(span);
    return lo + Math.floor(this.float() * span);
  }
  /** True with probability num/den (integers). */
  chance(num: number, den: number): boolean {
    assert(num >= 0 && den > 0 && num <= den, 'Rng.chance: bad ratio');
    if (num === 0) return false;
    if (num === den) return true;
    return this.below(den) < num;
  }
}

/**
 * The scheduler's source of choices: which of several ready steps runs first, whether a fault site
 * fires. `random` in `run`, `replay` from a recorded list, and the recording of either.
 */
export interface Chooser {
  /** An index in [0, n). n ≥ 1. */
  choose(n: number): number;
  /** True with probability num/den. */
  chance(num: number, den: number): boolean;
}

/** Random choices from a seeded stream; optionally records them so a run can be replayed. */
export class RandomChooser implements Chooser {
  readonly recorded: number[] | undefined;
  constructor(
    private readonly rng: Rng,
    record = false,
  ) {
    this.recorded = record ? [] : undefined;
  }
  choose(n: number): number {
    const c = n === 1 ? 0 : this.rng.below(n);
    if (this.recorded !== undefined) this.recorded.push(c);
    return c;
  }
  chance(num: number, den: number): boolean {
    const c = this.rng.chance(num, den);
    this.recorded?.push(c ? 1 : 0);
    return c;
  }
}

/** A recorded choice that does not fit the run replaying it: input that belongs to another run. */
export interface ChoiceMismatch {
  /** Index in the recorded list. */
  readonly at: number;
  readonly choice: number;
  /** Alternatives at that point (2 for a fault site). */
  readonly n: number;
}

/**
 * Replays a recorded choice list; past its end it answers 0 (first ready step, no fault). A
 * recorded choice out of range (a list from another scenario, seed or version) is input, not a
 * broken invariant: the first one is kept in `mismatch`, 0 is taken, and the caller reports it.
 */
export class ReplayChooser implements Chooser {
  private pos = 0;
  mismatch: ChoiceMismatch | undefined;
  constructor(private readonly choices: readonly number[]) {}
  choose(n: number): number {
    const at = this.pos++;
    const c = this.choices[at] ?? 0;
    if (c >= 0 && c < n) return c;
    this.mismatch ??= { at, choice: c, n };
    return 0;
  }
  chance(_num: number, _den: number): boolean {
    const at = this.pos++;
    const c = this.choices[at] ?? 0;
    if (c !== 0 && c !== 1) this.mismatch ??= { at, choice: c, n: 2 };
    return c === 1;
  }
  get consumed(): number {
    return this.pos;
  }
}

/**
 * Enumerates choices: follows a prefix, then takes 0 everywhere, recording the branching factor of
 * each choice so an explorer can walk the tree depth-first.
 */
export class PrefixChooser implements Chooser {
  private pos = 0;
  readonly arity: number[] = [];
  readonly taken: number[] = [];
  /** The first prefix choice out of range (a prefix from another run, see ReplayChooser). */
  mismatch: ChoiceMismatch | undefined;
  constructor(private readonly prefix: readonly number[]) {}
  choose(n: number): number {
    let c = this.pos < this.prefix.length ? this.prefix[this.pos]! : 0;
    if (!(c >= 0 && c < n)) {
      this.mismatch ??= { at: this.pos, choice: c, n };
      c = 0;
    }
    this.pos++;
    this.arity.push(n);
    this.taken.push(c);
    return c;
  }
  chance(num: number, den: number): boolean {
    if (num === 0) return false;
    if (num === den) return true;
    return this.choose(2) === 1;
  }
}
