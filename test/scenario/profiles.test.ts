/**
 * Kernel profiles as data (issue 11): the tables are consistent, `--kernel` and `--bug` compose,
 * and each form that changes a driver or the world (not only the core, see test/iopf) does what
 * its kernel code does, end to end.
 */
import { describe, expect, it } from 'vitest';
import { BUGS } from '../../src/scenario/bugs.js';
import {
  FORMS,
  Forms,
  PROFILES,
  PROFILE_NAMES,
  SWITCH_NAMES,
  behavioursOf,
  profileByName,
  profilesWith,
} from '../../src/scenario/profiles.js';
import { loadScenario, simulate } from '../../src/api.js';
import { RespSource, TraceKind } from '../../src/trace/events.js';
import type { TraceSink } from '../../src/trace/tracer.js';
import type { Scenario } from '../../src/scenario/schema.js';
import { parseScenario } from '../../src/scenario/loader.js';
import { formatSummary } from '../../src/report/summary.js';

function shipped(name: string): Scenario {
  const l = loadScenario(name);
  if (!l.ok) throw new Error(l.errors.map((e) => e.message).join('; '));
  return l.value.scenario;
}

/** Counts trace events by kind, and responses by source. */
class Count implements TraceSink {
  readonly kinds = new Map<number, number>();
  readonly sources = new Map<number, number>();
  onEvent(
    _t: number,
    kind: number,
    _f0: number,
    _f1: number,
    _f2: number,
    _f3: number,
    f4: number,
    f5: number,
  ): void {
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    if (kind === TraceKind.RESPONSE_SEND && f4 >= 0) this.sources.set(f5, (this.sources.get(f5) ?? 0) + 1);
  }
}

function run(sc: Scenario, kernel: (typeof PROFILE_NAMES)[number], bugs: string[] = []) {
  const c = new Count();
  const r = simulate(sc, { seed: 1, kernel, bugs, sinks: [c] }).report;
  return { r, c };
}

describe('PROFILE.DATA: profiles are named sets of switches', () => {
  it('five profiles; reference has no switch; every switch a profile names exists, once', () => {
    expect(PROFILES.map((p) => p.name)).toEqual([...PROFILE_NAMES]);
    expect(profileByName('reference').switches).toEqual([]);
    expect(new Set(SWITCH_NAMES).size).toBe(SWITCH_NAMES.length);
    for (const p of PROFILES) {
      expect(new Set(p.switches).size, p.name).toBe(p.switches.length);
      for (const s of p.switches) expect(SWITCH_NAMES, `${p.name}: ${s}`).toContain(s);
    }
    for (const f of FORMS) expect(f.source, f.name).toMatch(/drivers\/iommu|seed (thread|patch)/);
    expect(Object.values(Forms).sort()).toEqual(FORMS.map((f) => f.name).sort());
  });

  it('--bug adds a switch to any profile; the scenario keeps its own kernel unless --kernel says otherwise', () => {
    expect([...behavioursOf('reference', ['vtd-resp-code-raw'])]).toEqual(['vtd-resp-code-raw']);
    expect(behavioursOf('v6.7', ['error-response-per-request']).has(Forms.LOOKUP_IN_WORK)).toBe(true);
    const sc = shipped('vtd-abort');
    expect(simulate(sc, { seed: 1 }).report.kernel).toBe('reference');
    const withBug = simulate(sc, { seed: 1, bugs: ['vtd-resp-code-raw'] }).report;
    expect(withBug.kernel).toBe('reference');
    expect(withBug.violations.map((v) => v.rule)).toContain('HOST.RESP.CODE_DEFINED');
    expect(withBug.replay).toBe('iopf run vtd-abort --seed 1 --bug vtd-resp-code-raw');
    const ml = simulate(sc, { seed: 1, kernel: 'mainline', scenarioRef: 'vtd-abort' }).report;
    expect(ml.replay).toBe('iopf run vtd-abort --seed 1 --kernel mainline');
    expect(formatSummary(ml)).toContain('known defects of kernel mainline reached');
  });

  it('a scenario names a profile with kernel:, the default is reference; an unknown one is a located error', () => {
    const ok = parseScenario('kernel: v6.9\ndevices: [{ name: d, rid: 1 }]\n', 'k.yaml');
    expect(ok.ok && ok.value.kernel).toBe('v6.9');
    const def = parseScenario('devices: [{ name: d, rid: 1 }]\n', 'k.yaml');
    expect(def.ok && def.value.kernel).toBe('reference');
    const bad = parseScenario('kernel: v4.2\ndevices: [{ name: d, rid: 1 }]\n', 'k.yaml');
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors[0]!.path).toBe('kernel');
      expect(bad.errors[0]!.line).toBe(1);
      expect(bad.errors[0]!.message).toBe(
        'expected one of "reference", "mainline", "seed", "v6.9", "v6.7", got "v4.2"',
      );
    }
    const badSwitch = parseScenario('bugs: [no-such]\ndevices: [{ name: d, rid: 1 }]\n', 'k.yaml');
    expect(badSwitch.ok).toBe(false);
    if (!badSwitch.ok) expect(badSwitch.errors[0]!.message).toContain('unknown behaviour switch "no-such"');
  });

  it('every known bug is in a kernel profile, or is a historic variant only --bug reaches', () => {
    const historic = BUGS.filter((b) => profilesWith(b.name).length === 0).map((b) => b.name);
    expect(historic.sort()).toEqual([
      'flush-ignores-pasid',
      'iommufd-accepts-failure',
      'iommufd-write-count',
    ]);
  });
});

describe('forms outside the core, end to end', () => {
  it('SMMUV3_PRI_DENY: mainline SMMUv3 reports no PRI request and denies every group; the reference reports them; a scenario policy overrides the profile', () => {
    const sc = shipped('smmuv3-pri');
    const ml = run(sc, 'mainline');
    expect(ml.r.responses.success).toBe(0);
    expect(ml.r.responses.failure).toBeGreaterThan(0);
    expect(ml.c.kinds.get(TraceKind.FAULT_REPORT) ?? 0).toBe(0);
    const ref = run(sc, 'reference');
    expect(ref.r.responses.success).toBeGreaterThan(0);
    expect(ref.c.kinds.get(TraceKind.FAULT_REPORT)).toBeGreaterThan(0);
    const handle: Scenario = {
      ...sc,
      iommu: { ...sc.iommu, smmuv3: { ...sc.iommu.smmuv3, pri_policy: 'handle' } },
    };
    expect(run(handle, 'mainline').c.kinds.get(TraceKind.FAULT_REPORT)).toBeGreaterThan(0);
  });

  it('DRIVER_ANSWERS_REPORT_ERRORS: on SMMUv3 a failed report of a last request is answered by the driver (v6.9), by the core otherwise; LOOKUP_IN_WORK: v6.7 reports no failure, its work answers INVALID', () => {
    const sc = shipped('no-handler-pasid');
    const v69 = run(sc, 'v6.9');
    expect(v69.r.violations).toEqual([]);
    expect(v69.r.queue.report_errors_answered).toBeGreaterThan(0);
    expect(v69.c.sources.get(RespSource.REPORT_ERROR)).toBe(v69.r.queue.report_errors_answered);
    const v67 = run(sc, 'v6.7');
    expect(v67.r.violations).toEqual([]);
    expect(v67.r.queue.report_errors_answered).toBe(0);
    expect(v67.r.counters['iopf.work_no_domain']).toBeGreaterThan(0);
    const ref = run(sc, 'reference');
    expect(ref.r.queue.report_errors_answered).toBe(0);
    expect(ref.c.sources.get(RespSource.REPORT_ERROR)).toBeGreaterThan(0);
  });

  it('SMMUV3_REMOVE_PASID_NO_FLUSH: SMMUv3 drains a PASID without flushing the fault queue in every kernel profile; the reference flushes', () => {
    const stall = shipped('smmuv3-stall');
    const sc: Scenario = {
      ...stall,
      actions: [{ op: 'unbind', at_ns: 1_000_000, device: 'dma0', process: 'app0' }],
    };
    const ref = run(sc, 'reference');
    expect(ref.c.kinds.get(TraceKind.DRAIN_BEGIN)).toBe(1);
    expect(ref.c.kinds.get(TraceKind.FLUSH_BEGIN)).toBe(1);
    for (const k of ['mainline', 'seed', 'v6.9', 'v6.7'] as const) {
      const r = run(sc, k);
      expect(r.c.kinds.get(TraceKind.DRAIN_BEGIN), k).toBe(1);
      expect(r.c.kinds.get(TraceKind.FLUSH_BEGIN) ?? 0, k).toBe(0);
    }
  });

  it('AMD_REMOVE_PASID_NO_FLUSH: mainline AMD drains a PASID without flushing the fault queue; the reference flushes', () => {
    const amd = shipped('amd');
    // gpu0/p0 is unbound in the middle of its traffic: the driver drains the PASID.
    const sc: Scenario = {
      ...amd,
      actions: [{ op: 'unbind', at_ns: 2_000_000, device: 'gpu0', process: 'p0' }],
    };
    const ml = run(sc, 'mainline');
    const ref = run(sc, 'reference');
    expect(ref.c.kinds.get(TraceKind.DRAIN_BEGIN)).toBeGreaterThan(0);
    expect(ml.c.kinds.get(TraceKind.DRAIN_BEGIN)).toBe(ref.c.kinds.get(TraceKind.DRAIN_BEGIN));
    expect(ref.c.kinds.get(TraceKind.FLUSH_BEGIN)).toBe(ref.c.kinds.get(TraceKind.DRAIN_BEGIN));
    expect(ml.c.kinds.get(TraceKind.FLUSH_BEGIN) ?? 0).toBe(0);
  });

  it("NO_IOMMUFD_AUTO_RESPONSE: the seed answers what user space holds only through the drain's flush; mainline through iommufd's auto-response", () => {
    const sc = shipped('iommufd-after-flush');
    const seed = run(sc, 'seed');
    expect(seed.c.sources.get(RespSource.IOMMUFD_AUTO) ?? 0).toBe(0);
    expect(seed.c.sources.get(RespSource.FLUSH)).toBeGreaterThan(0);
    const ml = run(sc, 'mainline');
    expect(ml.c.sources.get(RespSource.FLUSH) ?? 0).toBe(0);
    expect(ml.c.sources.get(RespSource.IOMMUFD_AUTO)).toBeGreaterThan(0);
  });

  it('FLUSH_WORKQUEUE_ONLY: the checker holds such a flush to its own contract — mainline leaves iommufd groups to the auto-response without a CORE.FLUSH violation', () => {
    const { r } = run(shipped('flush-pasid-reuse'), 'mainline');
    expect(r.violations.map((v) => v.rule)).not.toContain('CORE.FLUSH.NOTHING_PENDING');
  });
});
