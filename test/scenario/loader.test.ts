import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseScenario } from '../../src/scenario/loader.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { z } from 'zod';
import { scenarioSchema } from '../../src/scenario/schema.js';

const fixture = (name: string): [string, string] => {
  const file = `test/fixtures/scenarios/${name}`;
  return [readFileSync(file, 'utf8'), file];
};

function errorsOf(text: string, file = 'x.yaml'): string[] {
  const r = parseScenario(text, file);
  if (r.ok) throw new Error('expected errors');
  return r.errors.map(formatDiagnostic);
}

describe('scenario loader', () => {
  it('wrong type: file:line:col, field path, expected and got', () => {
    const [text, file] = fixture('bad-type.yaml');
    expect(errorsOf(text, file)).toEqual([
      'test/fixtures/scenarios/bad-type.yaml:6:19: devices[0].pri.allocation: expected a positive integer, got "many"',
    ]);
  });

  it('unknown key: points at the key itself', () => {
    const [text, file] = fixture('unknown-key.yaml');
    expect(errorsOf(text, file)).toEqual(['test/fixtures/scenarios/unknown-key.yaml:5:27: devices[0].pri.allocaton: unknown key "allocaton"']);
  });

  it('YAML syntax error: file:line:col', () => {
    const [text, file] = fixture('syntax-error.yaml');
    const errs = errorsOf(text, file);
    expect(errs.length).toBeGreaterThan(0);
    expect(errs[0]).toMatch(/^test\/fixtures\/scenarios\/syntax-error\.yaml:\d+:\d+: syntax error: /);
  });

  it('missing required field names the field', () => {
    expect(errorsOf('devices:\n  - rid: 1\n')).toEqual(['x.yaml:2:5: devices[0].name: required field is missing (expected string)']);
  });

  it('impossible hardware: Allocation > Capacity is rejected at load', () => {
    const errs = errorsOf('devices:\n  - name: d\n    rid: 1\n    pri: { capacity: 8, allocation: 16 }\n');
    expect(errs[0]).toMatch(/^x\.yaml:4:37: devices\[0\]\.pri\.allocation: pri\.allocation must be <= pri\.capacity/);
  });

  it('impossible hardware: PASID wider than 20 bits, AMD log not a power of two, exec without PASID exec', () => {
    expect(errorsOf('devices:\n  - name: d\n    rid: 1\n    pasid: { width: 21 }\n')[0]).toMatch(/devices\[0\]\.pasid\.width: .*20/);
    expect(errorsOf('iommu: { amd: { ppr_log_entries: 500 } }\ndevices: [{ name: d, rid: 1 }]\n')[0]).toMatch(
      /iommu\.amd\.ppr_log_entries: expected a power of two, got 500/,
    );
    const text =
      'devices: [{ name: d, rid: 1, pasid: { exec_enabled: false } }]\nprocesses: [{ name: p, vmas: [{ start: 0, size: 4096, perms: rx }] }]\nworkloads: [{ device: d, process: p, accesses: 1, access: { exec: "1/2" } }]\n';
    expect(errorsOf(text)[0]).toMatch(/^x\.yaml:3:\d+: workloads\[0\]\.access\.exec: .*Execute/);
  });

  it('impossible hardware: a VT-d PRQ size that is not a power of two', () => {
    expect(errorsOf('iommu: { vtd: { prq_entries: 1000 } }\ndevices: [{ name: d, rid: 1 }]\n')[0]).toBe(
      'x.yaml:1:30: iommu.vtd.prq_entries: expected a power of two from 128 to 16384 (PQA holds 2^(X+7) entries), got 1000',
    );
    const ok = parseScenario('iommu: { vtd: { prq_entries: 2048 } }\ndevices: [{ name: d, rid: 1 }]\n', 'x.yaml');
    expect(ok.ok && ok.value.iommu.vtd.prq_order).toBe(4);
  });

  it('impossible hardware: Execute requested without Read', () => {
    const text =
      'devices: [{ name: d, rid: 1 }]\nprocesses: [{ name: p, vmas: [{ start: 0, size: 4096, perms: rwx }] }]\nworkloads: [{ device: d, process: p, accesses: 1, access: { read: false, write: 1, exec: "1/2" } }]\n';
    expect(errorsOf(text)[0]).toMatch(/^x\.yaml:3:\d+: workloads\[0\]\.access\.exec: Execute Requested without Read/);
  });

  it('cross references: unknown device and process are located', () => {
    const text = 'devices: [{ name: d, rid: 1 }]\nworkloads:\n  - { device: e, process: p, accesses: 1 }\n';
    const errs = errorsOf(text);
    expect(errs).toContain('x.yaml:3:15: workloads[0].device: unknown device "e" (devices: d)');
    expect(errs.some((e) => e.includes('workloads[0].process: unknown process "p"'))).toBe(true);
  });

  it('JSON input is accepted and located too', () => {
    const r = parseScenario('{"devices": [{"name": "d", "rid": "00:02.0"}]}', 'x.json');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.devices[0]!.rid).toBe(0x10);
    expect(errorsOf('{"devices": [{"name": "d", "rid": true}]}', 'x.json')[0]).toMatch(/^x\.json:1:35: devices\[0\]\.rid: /);
  });

  it('defaults are the reference values (VT-d PRQ 2048 entries, PRI allocation 256, kernel profile reference)', () => {
    const r = parseScenario('devices: [{ name: d, rid: 1 }]\n', 'x.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.kernel).toBe('reference');
    expect(r.value.iommu.vtd.prq_order).toBe(4);
    expect(r.value.devices[0]!.pri.allocation).toBe(256);
    expect(r.value.latency.ats_ns).toEqual({ dist: 'uniform', min_ns: 300, max_ns: 1000 });
  });

  it('the JSON Schema generates (for `iopf schema`)', () => {
    const js = z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, unknown> };
    expect(Object.keys(js.properties)).toContain('devices');
  });

  it('the shipped default scenario loads', () => {
    const [text, file] = [readFileSync('scenarios/default.yaml', 'utf8'), 'scenarios/default.yaml'];
    const r = parseScenario(text, file);
    expect(r.ok ? 'ok' : r.errors.map(formatDiagnostic).join('\n')).toBe('ok');
  });
});
