/**
 * End to end per IOMMU family: each shipped family scenario runs clean (no violation, balance zero)
 * and its canonical trace hash is pinned per seed. The golden hashes change only when the model's
 * behaviour changes: update them deliberately (`npm run build && node scripts/update-golden.mjs`
 * rewrites these and the determinism/iommufd ones; `UPDATE_GOLDEN=1` here prints them) and say why
 * in the commit.
 */
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/files.js';
import { simulate } from '../../src/api.js';

const GOLDEN: Record<string, Record<number, string>> = {
  default: {
    1: '4fe19f4bb33d2e5bec2c21260379c1b70cd4c083ed800b1101fc556d07b69f16',
    2: '0518771dd5eb28ca82c967e0a6627b43cd889945ce4afe32222b5a0aa6fd53cc',
  },
  'smmuv3-pri': {
    1: '53de5cb32f83b4481108b57f97cb2a0e22ef7ac5c1f3b1c9fc7bd43a25ac920f',
    2: '20dafd4f58b93ceed5acf4379f7d890527335b233243b01a03c9f0ac4047ea0d',
  },
  'smmuv3-stall': {
    1: 'd8b76e4b6a2272de1e81207c3c3200fd354730e4cc7ad20ea098685cdd39bbb1',
    2: '808a13983a8ad4d1d422ca84504346335b9dbe08f114195e9916f98f581bd075',
  },
  amd: {
    1: '6b27a927b0d5928924d76d3685bc201d4e336f93149621226ed0347f4b695232',
    2: 'd203d104bf7d34e614fdf5f13ec3fd276103fb0e4b88de76082b4b8ad7d7c518',
  },
};

function run(name: string, seed: number) {
  const l = loadScenario(name);
  if (!l.ok) throw new Error(JSON.stringify(l.errors));
  return simulate(l.value.scenario, { seed, scenarioRef: name }).report;
}

describe.each(Object.keys(GOLDEN))('family scenario %s', (name) => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: clean, conserved, golden trace hash`, () => {
      const r = run(name, seed);
      expect(r.violations).toEqual([]);
      expect(r.stop_reason).toBe('drained');
      expect(r.conservation.unaccounted).toBe(0);
      expect(r.conservation.outstanding).toBe(0);
      expect(r.page_requests).toBeGreaterThan(0);
      expect(r.responses.success).toBeGreaterThan(0);
      if (process.env.UPDATE_GOLDEN) console.log(`${name} ${seed}: '${r.trace_sha256}'`);
      else expect(r.trace_sha256).toBe(GOLDEN[name]![seed]);
    });
  }
});

describe('family-specific behaviour end to end', () => {
  it('VT-d default: the PRQ overflows (N−1 entries), the hardware auto-responds, partials are discarded', () => {
    const r = run('default', 1);
    expect(r.queue.prq_entries_max).toBe(127);
    expect(r.auto_responses).toBeGreaterThan(0);
    expect(r.rules_exercised).toEqual(expect.arrayContaining(['VTD.PRQ.FULL_N_MINUS_1', 'VTD.PRQ.OVERFLOW_AUTORESP', 'VTD.DRAIN.COMPLETE']));
  });
  it('SMMUv3 PRI: all 2^n PRIQ entries are usable (wrap bit) and overflow auto-responds', () => {
    const r = run('smmuv3-pri', 1);
    expect(r.queue.priq_high_water ?? r.counters['smmu.priq.high_water']).toBe(64);
    expect(r.auto_responses).toBeGreaterThan(0);
  });
  it('v6.7: a flush holds the device lock across flush_workqueue, so the PRQ thread blocks in its report and resumes', () => {
    for (const seed of [1, 2, 3]) {
      const r = run('v67-flush-vs-report', seed);
      expect(r.violations).toEqual([]);
      expect(r.stop_reason).toBe('drained');
      expect(r.counters['iopf.report_blocked']).toBeGreaterThan(0);
      expect(r.conservation.unaccounted).toBe(0);
    }
  });

  it('SMMUv3 stall: every stalled transaction is resumed exactly once', () => {
    const r = run('smmuv3-stall', 1);
    expect(r.queue.stall_stalls).toBe(r.queue.stall_resumed_retry! + r.queue.stall_resumed_abort! + r.queue.stall_terminated!);
    expect(r.queue.stall_resume_unmatched).toBe(0);
    expect(r.responses.invalid).toBeGreaterThan(0); // writes to the read-only VMA are aborted
  });
});
