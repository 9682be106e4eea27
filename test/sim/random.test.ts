import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng, PrefixChooser } from '../../src/sim/random.js';
import { Latency } from '../../src/sim/latency.js';

describe('Rng', () => {
  it('same (seed, name) gives the same stream; another name or seed another', () => {
    const a = new Rng(1, 'x');
    const b = new Rng(1, 'x');
    const c = new Rng(1, 'y');
    const d = new Rng(2, 'x');
    const sa = [a.u32(), a.u32(), a.u32()];
    expect([b.u32(), b.u32(), b.u32()]).toEqual(sa);
    expect([c.u32(), c.u32(), c.u32()]).not.toEqual(sa);
    expect([d.u32(), d.u32(), d.u32()]).not.toEqual(sa);
  });

  it('below(n) stays in range and int(lo, hi) is inclusive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 }), fc.nat(), (n, seed) => {
        const r = new Rng(seed, 's');
        for (let i = 0; i < 20; i++) {
          const x = r.below(n);
          expect(x >= 0 && x < n && Number.isInteger(x)).toBe(true);
        }
      }),
    );
    const r = new Rng(3, 'i');
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(r.int(1, 3));
    expect([...seen].sort()).toEqual([1, 2, 3]);
  });

  it('chance(num, den) honours the integer ratio (edges exact, middle close)', () => {
    const r = new Rng(4, 'c');
    let hits = 0;
    for (let i = 0; i < 20000; i++) if (r.chance(1, 4)) hits++;
    expect(hits / 20000).toBeGreaterThan(0.23);
    expect(hits / 20000).toBeLessThan(0.27);
    expect(r.chance(0, 5)).toBe(false);
    expect(r.chance(5, 5)).toBe(true);
  });

  it('PrefixChooser follows a prefix then takes 0, recording arity', () => {
    const c = new PrefixChooser([2, 1]);
    expect([c.choose(3), c.choose(2), c.choose(4)]).toEqual([2, 1, 0]);
    expect(c.arity).toEqual([3, 2, 4]);
  });
});

describe('Latency', () => {
  const rng = new Rng(1, 'lat');
  it('fixed returns its value; uniform stays in its range; results are integers', () => {
    expect(new Latency({ dist: 'fixed', ns: 42 }).sample(rng)).toBe(42);
    const u = new Latency({ dist: 'uniform', min_ns: 300, max_ns: 1000 });
    for (let i = 0; i < 1000; i++) {
      const v = u.sample(rng);
      expect(Number.isInteger(v) && v >= 300 && v <= 1000).toBe(true);
    }
  });
  it('exponential has about its mean; lognormal about its median and is capped', () => {
    const e = new Latency({ dist: 'exponential', mean_ns: 1000 });
    let sum = 0;
    for (let i = 0; i < 20000; i++) sum += e.sample(rng);
    expect(sum / 20000).toBeGreaterThan(950);
    expect(sum / 20000).toBeLessThan(1050);
    const l = new Latency({ dist: 'lognormal', median_ns: 1000, sigma: 0.5, max_ns: 3000 });
    const xs = Array.from({ length: 5001 }, () => l.sample(rng)).sort((a, b) => a - b);
    expect(xs[2500]).toBeGreaterThan(900);
    expect(xs[2500]).toBeLessThan(1100);
    expect(xs[5000]).toBeLessThanOrEqual(3000);
  });
  it('empirical draws only table values, by weight', () => {
    const t = new Latency({ dist: 'empirical', table: [{ ns: 5, weight: 1 }, { ns: 7, weight: 3 }, { ns: 9, weight: 0 }] });
    let sevens = 0;
    for (let i = 0; i < 8000; i++) {
      const v = t.sample(rng);
      expect([5, 7]).toContain(v);
      if (v === 7) sevens++;
    }
    expect(sevens / 8000).toBeGreaterThan(0.7);
    expect(t.mean()).toBe(6.5);
  });
});
