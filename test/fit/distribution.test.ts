import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Distribution, ksTwoSample, quantile } from '../../src/fit/index.js';
import { Latency } from '../../src/sim/latency.js';
import { Rng } from '../../src/sim/random.js';

describe('fit distributions', () => {
  it('FIT.TABLE.FIXED: a constant sample becomes one row with the exact value', () => {
    const d = new Distribution();
    for (let i = 0; i < 5000; i++) d.record(123_457);
    expect(d.toTable()).toEqual([{ ns: 123_457, weight: 1000 }]);
    expect(d.ksAgainstTable(d.toTable())).toBe(0);
  });

  it('FIT.TABLE.QUANTILES: the table is the sample at evenly spaced quantiles (values within 0.1 %, quantiles 1/500 apart), KS(table) ≤ 1/rows', () => {
    const d = new Distribution();
    const lat = new Latency({ dist: 'lognormal', median_ns: 20_000, sigma: 0.8 });
    const rng = new Rng(5, 'fit-test');
    const xs: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const v = lat.sample(rng);
      xs.push(v);
      d.record(v);
    }
    const t = d.toTable(500);
    expect(t.reduce((a, r) => a + r.weight, 0)).toBe(500);
    const median = t.find((_, i) => t.slice(0, i + 1).reduce((a, r) => a + r.weight, 0) >= 250)!.ns;
    expect(Math.abs(median - quantile(xs, 0.5)) / quantile(xs, 0.5)).toBeLessThan(0.005);
    expect(d.ksAgainstTable(t)).toBeLessThanOrEqual(1 / 500 + 1e-9);
    // Drawing from the table gives back the sample's distribution.
    const back = new Latency({ dist: 'empirical', table: t });
    const ys = Array.from({ length: 20_000 }, () => back.sample(rng));
    expect(ksTwoSample(xs, ys)).toBeLessThan(0.03);
  });

  it('FIT.KS.EXPONENTIAL: exponential gaps are near 0, fixed gaps far from Poisson', () => {
    const e = new Distribution();
    const f = new Distribution();
    const lat = new Latency({ dist: 'exponential', mean_ns: 5000 });
    const rng = new Rng(9, 'fit-test');
    for (let i = 0; i < 20_000; i++) {
      e.record(lat.sample(rng));
      f.record(5000);
    }
    expect(e.ksAgainstExponential()).toBeLessThan(0.02);
    expect(e.summary().cv).toBeGreaterThan(0.95);
    expect(f.ksAgainstExponential()).toBeGreaterThan(0.3);
    expect(f.summary().cv).toBe(0);
  });

  it('FIT.KS.TWO_SAMPLE: 0 for equal samples, 1 for disjoint ones, symmetric, in [0, 1]', () => {
    expect(ksTwoSample([1, 2, 3], [3, 2, 1])).toBe(0);
    expect(ksTwoSample([1, 2], [5, 6, 7])).toBe(1);
    expect(ksTwoSample([1, 1, 2, 2], [1, 2])).toBe(0);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 40 }), (a, b) => {
        const d = ksTwoSample(a, b);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
        expect(ksTwoSample(b, a)).toBeCloseTo(d, 12);
      }),
    );
  });
});
