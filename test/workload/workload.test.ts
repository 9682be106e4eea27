import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { makeHarness } from '../pcie/harness.js';
import { Workload, ZipfPattern } from '../../src/workload/index.js';
import { PrFlag } from '../../src/trace/events.js';
import type { ScenarioInput } from '../../src/scenario/schema.js';

interface Access {
  t: number;
  id: number;
  pasid: number;
  page: number;
  pages: number;
  flags: number;
}

function run(
  w: Partial<ScenarioInput['workloads'] extends (infer T)[] | undefined ? T : never>,
  region = { firstPage: 1000, pages: 64 },
  pasid: number | null = 3,
) {
  const h = makeHarness({
    workloads: [{ device: 'd0', process: 'p', accesses: 100, ...w }],
  });
  const got: Access[] = [];
  const wl = new Workload(
    h.env,
    0,
    h.env.scenario.workloads[0]!,
    {
      dma: (id, p, page, pages, flags) => got.push({ t: h.sim.now, id, pasid: p, page, pages, flags }),
      currentPasid: () => pasid,
    },
    region,
  );
  wl.start();
  h.sim.run();
  return { got, wl, h };
}

describe('Workload', () => {
  it('sequential: consecutive prg_pages-page slots from the region start, wrapping', () => {
    const { got } = run({ pattern: 'sequential', prg_pages: 4, accesses: 20 });
    expect(got.slice(0, 4).map((a) => a.page)).toEqual([1000, 1004, 1008, 1012]);
    expect(got[16]!.page).toBe(1000);
    expect(got.every((a) => a.pages === 4 && a.pasid === 3)).toBe(true);
  });

  it('starts at start_ns and issues exactly `accesses` accesses with exponential gaps at rate_per_us', () => {
    const { got } = run({ pattern: 'random', accesses: 2000, rate_per_us: 2, start_ns: 5000 });
    expect(got).toHaveLength(2000);
    expect(got[0]!.t).toBe(5000);
    const meanGap = (got[got.length - 1]!.t - got[0]!.t) / (got.length - 1);
    expect(meanGap).toBeGreaterThan(400);
    expect(meanGap).toBeLessThan(600);
    expect(new Set(got.map((a) => a.id)).size).toBe(2000);
  });

  it('random / strided / zipf stay inside the region', () => {
    for (const pattern of ['random', 'strided', 'zipf'] as const) {
      const { got } = run({ pattern, prg_pages: 2, stride_pages: 5, accesses: 300 });
      for (const a of got) {
        expect(a.page).toBeGreaterThanOrEqual(1000);
        expect(a.page + a.pages).toBeLessThanOrEqual(1064);
      }
    }
  });

  it('strided: every stride_pages pages', () => {
    const { got } = run({ pattern: 'strided', stride_pages: 16, accesses: 5 });
    expect(got.map((a) => a.page)).toEqual([1000, 1016, 1032, 1048, 1000]);
  });

  it('zipf: the hottest slot is drawn most; the CDF is increasing and ends at 1 (property)', () => {
    const { got } = run({ pattern: 'zipf', zipf_s: 1.2, accesses: 3000 });
    const counts = new Map<number, number>();
    for (const a of got) counts.set(a.page, (counts.get(a.page) ?? 0) + 1);
    expect(counts.get(1000)!).toBe(Math.max(...counts.values()));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0.2, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (n, s, u) => {
          const z = new ZipfPattern(n, 1, s);
          for (let i = 1; i < z.cdf.length; i++) expect(z.cdf[i]!).toBeGreaterThan(z.cdf[i - 1]!);
          expect(z.cdf[z.cdf.length - 1]!).toBeCloseTo(1, 12);
          const r = z.rankOf(u);
          expect(z.cdf[r]!).toBeGreaterThan(u);
          if (r > 0) expect(z.cdf[r - 1]!).toBeLessThanOrEqual(u);
        },
      ),
    );
  });

  it('burst: burst_accesses accesses, then a gap of burst_gap_ns', () => {
    const { got } = run({
      pattern: 'burst',
      burst_accesses: 10,
      burst_gap_ns: 1_000_000,
      rate_per_us: 100,
      accesses: 30,
    });
    const gaps = got.slice(1).map((a, i) => a.t - got[i]!.t);
    expect(gaps[9]!).toBeGreaterThanOrEqual(1_000_000);
    expect(gaps[19]!).toBeGreaterThanOrEqual(1_000_000);
    expect(Math.max(...gaps.filter((_, i) => i !== 9 && i !== 19))).toBeLessThan(1_000_000);
  });

  it('access flags follow the ratios: write gives W only, exec adds R|X, priv adds P', () => {
    const { got } = run({ accesses: 4000, access: { write: '1/4', exec: '1/8', priv: 0 } });
    const writes = got.filter((a) => a.flags & PrFlag.WRITE).length / got.length;
    const execs = got.filter((a) => a.flags & PrFlag.EXEC);
    expect(writes).toBeGreaterThan(0.2);
    expect(writes).toBeLessThan(0.3);
    expect(execs.length / got.length).toBeGreaterThan(0.09);
    expect(execs.every((a) => (a.flags & PrFlag.READ) !== 0)).toBe(true);
    expect(got.some((a) => a.flags & PrFlag.PRIV)).toBe(false);
  });

  it('with_pasid false sends no PASID; an unbound process skips accesses; stop() ends the stream', () => {
    expect(run({ with_pasid: false, accesses: 3 }).got.map((a) => a.pasid)).toEqual([-1, -1, -1]);
    const unbound = run({ accesses: 5 }, undefined, null);
    expect(unbound.got).toHaveLength(0);
    expect(unbound.wl.skipped).toBe(5);
    const h = makeHarness({ workloads: [{ device: 'd0', process: 'p', accesses: 100 }] });
    let n = 0;
    const wl = new Workload(
      h.env,
      0,
      h.env.scenario.workloads[0]!,
      { dma: () => n++, currentPasid: () => 1 },
      { firstPage: 0, pages: 8 },
    );
    wl.start();
    h.sim.run({ maxEvents: 10 });
    wl.stop();
    h.sim.run();
    expect(n).toBe(10);
    expect(wl.done).toBe(true);
  });

  it('is deterministic: the same seed gives the same accesses', () => {
    const a = run({ pattern: 'random', accesses: 50 }).got;
    const b = run({ pattern: 'random', accesses: 50 }).got;
    expect(a).toEqual(b);
  });
});

describe('Workload: fitted arrival process', () => {
  it('WORKLOAD.INTERARRIVAL: gaps come from interarrival_ns when it is set (an empirical table here)', () => {
    const { got } = run({
      pattern: 'sequential',
      accesses: 3000,
      interarrival_ns: { dist: 'empirical', table: [{ ns: 1000, weight: 3 }, { ns: 9000, weight: 1 }] },
    });
    const gaps = got.slice(1).map((a, i) => a.t - got[i]!.t);
    expect(new Set(gaps)).toEqual(new Set([1000, 9000]));
    const long = gaps.filter((g) => g === 9000).length / gaps.length;
    expect(long).toBeGreaterThan(0.22);
    expect(long).toBeLessThan(0.28);
  });

  it('WORKLOAD.INTERARRIVAL.FIXED: a fixed gap makes a periodic stream, bursts still add their gap', () => {
    const { got } = run({ pattern: 'burst', accesses: 10, burst_accesses: 5, burst_gap_ns: 500, interarrival_ns: { dist: 'fixed', ns: 100 } });
    expect(got.map((a) => a.t)).toEqual([0, 100, 200, 300, 400, 1000, 1100, 1200, 1300, 1400]);
  });
});
