/**
 * MAPPING.RESOLVES: every row of src/iopf/README.md (kernel function → model symbol) names a file
 * that exists and a symbol defined in it — a class, a method of that class, or a function — and
 * every switch it names is a behaviour switch of src/scenario/profiles.ts.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { SWITCH_NAMES } from '../../src/scenario/profiles.js';

interface Row {
  kernel: string;
  file: string;
  symbol: string;
  switches: string[];
}

function rows(): Row[] {
  const out: Row[] = [];
  for (const line of readFileSync('src/iopf/README.md', 'utf8').split('\n')) {
    const m = /^\| (.+?) \| `([^`:]+):([^`]+)` \|(.*)\|$/.exec(line);
    if (m === null) continue;
    const switches = m[4]!
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
    out.push({ kernel: m[1]!, file: m[2]!, symbol: m[3]!, switches });
  }
  return out;
}

/** Whether `src` defines `symbol`: `Class`, `Class.method` or `function`. */
function defines(src: string, symbol: string): boolean {
  const [head, member] = symbol.split('.') as [string, string | undefined];
  const cls = new RegExp(`\\b(class|interface)\\s+${head}\\b`);
  if (member === undefined) return cls.test(src) || new RegExp(`\\bfunction\\s+${head}\\s*[(<]`).test(src);
  const start = src.search(cls);
  if (start < 0) return false;
  // The class body runs to the next top-level declaration.
  const rest = src.slice(start + 1);
  const end = rest.search(/\n(export )?(class|interface|function|const) /);
  const body = end < 0 ? rest : rest.slice(0, end);
  return new RegExp(`\\n  (private |readonly |static )*${member}\\s*[(<]`).test(body);
}

describe('MAPPING.RESOLVES: the kernel function → model symbol table', () => {
  const table = rows();
  it('has rows for the core, SVA, the three drivers and iommufd', () => {
    expect(table.length).toBeGreaterThan(40);
    for (const k of [
      'iommu_report_device_fault',
      'iopf_queue_flush_dev',
      'iommu_sva_handle_iopf',
      'prq_event_thread',
      'arm_smmu_handle_ppr',
      'iommu_call_iopf_notifier',
      'iommufd_auto_response_faults',
    ])
      expect(
        table.some((r) => r.kernel.includes(k)),
        k,
      ).toBe(true);
  });
  for (const r of table) {
    it(`${r.kernel} → ${r.file}:${r.symbol}`, () => {
      expect(existsSync(r.file), r.file).toBe(true);
      expect(defines(readFileSync(r.file, 'utf8'), r.symbol), `${r.symbol} in ${r.file}`).toBe(true);
      for (const s of r.switches) expect(SWITCH_NAMES, s).toContain(s);
    });
  }
  it("the flush reads as the kernel's steps, with the kernel's lock names", () => {
    const src = readFileSync('src/iopf/core.ts', 'utf8');
    for (const step of [
      'flushDev',
      'flushDevIommuLocked',
      'flushWorkqueueReturned',
      'flushIopfParamLocked',
      'flushDevReturn',
    ])
      expect(defines(src, `IopfCore.${step}`), step).toBe(true);
    expect(src).toContain('`dev->iommu->lock/${dev}`');
    expect(readFileSync('src/iopf/group.ts', 'utf8')).toContain('`iopf_param->lock/${dev}`');
  });
});
