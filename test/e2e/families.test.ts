/**
 * End to end per IOMMU family: each shipped family scenario runs clean (no violation, balance zero)
 * and its canonical trace hash is pinned per seed. The golden hashes change only when the model's
 * behaviour changes: update them deliberately (`UPDATE_GOLDEN=1 npx vitest run test/e2e/families`
 * prints the new values) and say why in the commit.
 */
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/files.js';
import { simulate } from '../../src/api.js';

const GOLDEN: Record<string, Record<number, string>> = {
  default: {
    1: '',
    2: '',
  },
  'smmuv3-pri': {
    1: '',
    2: '',
  },
  'smmuv3-stall': {
    1: '',
    2: '',
  },
  amd: {
    1: '',
    2: '',
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
  it('SMMUv3 stall: every stalled transaction is resumed exactly once', () => {
    const r = run('smmuv3-stall', 1);
    expect(r.queue.stall_stalls).toBe(r.queue.stall_resumed_retry! + r.queue.stall_resumed_abort! + r.queue.stall_terminated!);
    expect(r.queue.stall_resume_unmatched).toBe(0);
    expect(r.responses.invalid).toBeGreaterThan(0); // writes to the read-only VMA are aborted
  });
});
