import { describe, it, expect } from 'vitest';
import { formatDiagnostic, parseScenario } from '../../src/api.js';
import { applyOverrides, parseOverride, parseOverrides, shellWord, type Override } from '../../src/scenario/overrides.js';

const BASE = `
name: base
iommu: { family: vtd, vtd: { prq_order: 4 } }
devices:
  - { name: gpu0, rid: "00:02.0" }
`;

function ov(...texts: string[]): Override[] {
  const r = parseOverrides(texts);
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  return r.value;
}

describe('--set path=value', () => {
  it('SCENARIO.SET.APPLIED: values are parsed as YAML scalars and land on the dotted path before validation', () => {
    const r = parseScenario(BASE, 'base.yaml', ov('iommu.vtd.prq_order=2', 'iopf.workers=1', 'devices.0.pri.allocation=8', 'latency.irq_ns={ dist: fixed, ns: 7 }', 'devices[0].name=gpu9', 'check=cheap'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.iommu.vtd.prq_order).toBe(2);
    expect(r.value.iopf.workers).toBe(1);
    expect(r.value.devices[0]!.pri.allocation).toBe(8);
    expect(r.value.devices[0]!.name).toBe('gpu9');
    expect(r.value.latency.irq_ns).toEqual({ dist: 'fixed', ns: 7 });
    expect(r.value.check).toBe('cheap');
  });

  it('SCENARIO.SET.SCHEMA_ERROR: the same schema rejects a bad value, and the error names the --set and what was expected', () => {
    const r = parseScenario(BASE, 'base.yaml', ov('iommu.vtd.prq_order=9'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatDiagnostic)).toEqual(['--set iommu.vtd.prq_order=9: iommu.vtd.prq_order: Too big: expected number to be <=7']);
    const t = parseScenario(BASE, 'base.yaml', ov('iopf.workers=many'));
    expect(!t.ok && formatDiagnostic(t.errors[0]!)).toBe('--set iopf.workers=many: iopf.workers: expected a positive integer, got "many"');
    const k = parseScenario(BASE, 'base.yaml', ov('iopf.wrkers=1'));
    expect(!k.ok && formatDiagnostic(k.errors[0]!)).toBe('--set iopf.wrkers=1: iopf.wrkers: unknown key "wrkers"');
    // A semantic check (Allocation > Capacity) on an overridden field names the --set too.
    const a = parseScenario(BASE, 'base.yaml', ov('devices.0.pri.allocation=1024'));
    expect(!a.ok && a.errors[0]!.file).toBe('--set devices.0.pri.allocation=1024');
  });

  it('SCENARIO.SET.FILE_ERRORS_STAY_LOCATED: an error in the file itself keeps its file:line:col', () => {
    const r = parseScenario(BASE.replace('prq_order: 4', 'prq_order: 99'), 'base.yaml', ov('iopf.workers=2'));
    expect(!r.ok && formatDiagnostic(r.errors[0]!)).toMatch(/^base\.yaml:3:\d+: iommu\.vtd\.prq_order: /);
  });

  it('SCENARIO.SET.SYNTAX: a malformed override is bad input with what was expected', () => {
    for (const [text, msg] of [
      ['iopf.workers', /expected path=value/],
      ['=3', /expected path=value/],
      ['iopf..workers=1', /expected a dotted path/],
      ['0.name=x', /must start with a field name/],
      ['iopf.workers=[', /expected a YAML or JSON value/],
    ] as const) {
      const r = parseOverride(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0]!.message).toMatch(msg);
    }
    const miss = applyOverrides({ devices: [] }, ov('devices.3.name=x'));
    expect(miss[0]!.message).toMatch(/no list item 3/);
  });

  it('SCENARIO.SET.REPLAY_WORD: replay lines quote values a shell would split', () => {
    expect(shellWord('iopf.workers=1')).toBe('iopf.workers=1');
    expect(shellWord("latency.irq_ns={ dist: fixed, ns: 7 }")).toBe("'latency.irq_ns={ dist: fixed, ns: 7 }'");
    expect(shellWord("a=it's")).toBe("'a=it'\\''s'");
  });
});
