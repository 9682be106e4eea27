/**
 * Scenario generation (issue 14 item 1): generated scenarios are valid by construction (the real
 * loader accepts them), the generator is a pure function of its seed, and the space it draws from
 * covers every family, kernel profile, handler kind and action the schema offers.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateDoc, generateScenario, iommuFamilies, kernelProfiles, loadDoc, toYaml } from '../../src/explore/generate.js';
import { parseScenario } from '../../src/scenario/loader.js';

const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);

describe('explore --generate: the generator', () => {
  it('GEN.VALID: every generated scenario is accepted by the loader (200 seeds), and so is its YAML', () => {
    for (const s of SEEDS) {
      const doc = generateDoc(s);
      const r = loadDoc(doc, `g${s}`);
      expect(r.ok, `seed ${s}: ${r.ok ? '' : JSON.stringify(r.errors[0])}`).toBe(true);
      if (s % 25 === 0) {
        const y = parseScenario(toYaml(doc, 'header'), `g${s}.yaml`);
        expect(y.ok, `seed ${s} YAML`).toBe(true);
        expect(parse(toYaml(doc))).toEqual(JSON.parse(JSON.stringify(doc)));
      }
    }
  });

  it('GEN.DETERMINISTIC: one seed gives one scenario; other seeds give others', () => {
    expect(JSON.stringify(generateDoc(42))).toBe(JSON.stringify(generateDoc(42)));
    expect(generateScenario(42).scenario).toEqual(generateScenario(42).scenario);
    const distinct = new Set(SEEDS.slice(0, 50).map((s) => JSON.stringify({ ...generateDoc(s), name: '', description: '' })));
    expect(distinct.size).toBe(50);
  });

  it('GEN.KERNEL: --kernel fixes the profile of every scenario; without it every profile of the schema is drawn', () => {
    for (const k of kernelProfiles()) for (const s of SEEDS.slice(0, 20)) expect(generateScenario(s, { kernel: k }).scenario.kernel).toBe(k);
    const drawn = new Set(SEEDS.map((s) => generateDoc(s).kernel));
    expect([...drawn].sort()).toEqual([...kernelProfiles()].sort());
  });

  it('GEN.SPACE: families, queue sizes, device counts, handler kinds, VMM policies, actions and fault sites are all drawn', () => {
    const fam = new Set<string>();
    const devCounts = new Set<number>();
    const ops = new Set<string>();
    const policies = new Set<string>();
    const handlers = new Set<string>();
    const faults = new Set<string>();
    let smallQueue = 0;
    const requiredBoth = new Set<boolean>();
    for (const s of SEEDS) {
      const sc = generateScenario(s).scenario;
      fam.add(sc.iommu.family);
      devCounts.add(sc.devices.length);
      for (const a of sc.actions) ops.add(a.op);
      for (const f of sc.iommufd.faults) policies.add(f.policy);
      if (sc.binds.length > 0) handlers.add('sva');
      if (sc.iommufd.attach.some((a) => a.fault !== undefined)) handlers.add('iommufd');
      if (sc.iommufd.attach.some((a) => a.fault === undefined)) handlers.add('paging hwpt');
      for (const d of sc.devices) requiredBoth.add(d.pri.response_pasid_required);
      if (sc.faults.alloc_failure.num > 0) faults.add('alloc_failure');
      if (sc.faults.slow_handler.num > 0) faults.add('slow_handler');
      if (sc.faults.mm_fault_error.num > 0) faults.add('mm_fault_error');
      if ((sc.iommu.family === 'vtd' && sc.iommu.vtd.prq_order === 0) || (sc.iommu.family === 'smmuv3' && sc.iommu.smmuv3.priq_entries_log2 <= 3) || (sc.iommu.family === 'amd' && sc.iommu.amd.ppr_log_entries <= 256)) smallQueue++;
    }
    expect([...fam].sort()).toEqual([...iommuFamilies()].sort());
    expect([...devCounts].sort()).toEqual([1, 2, 3, 4]);
    for (const op of ['bind', 'unbind', 'exit', 'pri_disable', 'pri_enable', 'pri_reset', 'remove_device', 'iommufd_close', 'iommufd_destroy', 'iommufd_detach', 'iommufd_replace', 'flush']) {
      expect(ops.has(op), op).toBe(true);
    }
    expect([...policies].sort()).toEqual(['drop-and-close', 'failure', 'invalid', 'success']);
    expect([...handlers].sort()).toEqual(['iommufd', 'paging hwpt', 'sva']);
    expect([...requiredBoth].sort()).toEqual([false, true]);
    expect([...faults].sort()).toEqual(['alloc_failure', 'mm_fault_error', 'slow_handler']);
    expect(smallQueue).toBeGreaterThan(30);
  });
});
