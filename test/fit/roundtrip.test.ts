import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { parseScenario, simulate } from '../../src/api.js';
import { FtraceWriter } from '../../src/trace/ftrace-writer.js';
import { parseFtraceText } from '../../src/io/ftrace.js';
import { fitTrace, fittedScenario, ksTwoSample, quantile } from '../../src/fit/index.js';
import type { Scenario } from '../../src/scenario/schema.js';

/** Run a scenario and return its ftrace text (as `iopf run --ftrace`). */
function ftraceOf(s: Scenario, seed: number): string {
  const chunks: string[] = [];
  const w = new FtraceWriter(s.iommu.name, s.devices.map((d) => ({ rid: d.rid, name: d.name })), (c) => chunks.push(c));
  const r = simulate(s, { seed, sinks: [w], check: 'off' });
  expect(r.invariant).toBeUndefined();
  return chunks.join('');
}

/** Raw samples straight from the text: request inter-arrival per device, group latency (L=1 report → response). */
function samples(text: string): { gaps: number[]; latency: number[] } {
  const gaps: number[] = [];
  const latency: number[] = [];
  const lastReq = new Map<number, number>();
  const pending = new Map<number, number>();
  for (const item of parseFtraceText(text, { inferPasidPresent: true })) {
    if (item.type !== 'record') continue;
    const r = item.record;
    if (r.kind === 'page_request') {
      const prev = lastReq.get(r.rid);
      if (prev !== undefined) gaps.push(r.tsNs - prev);
      lastReq.set(r.rid, r.tsNs);
      if (r.last) pending.set(r.rid * 512 + r.prgi, r.tsNs);
    } else if (r.kind === 'page_response') {
      const k = r.rid * 512 + r.prgi;
      const t = pending.get(k);
      if (t !== undefined) {
        latency.push(r.tsNs - t);
        pending.delete(k);
      }
    }
  }
  return { gaps, latency };
}

function scenario(minorFault: string, rate = 0.02): Scenario {
  const text = `
name: roundtrip
iommu: { family: vtd }
devices:
  - { name: gpu0, rid: "00:02.0" }
processes:
  - { name: p0, vmas: [{ start: 0x10000000, size: 256MiB, perms: rw }] }
binds: [{ device: gpu0, process: p0 }]
workloads:
  - { device: gpu0, process: p0, pattern: sequential, rate_per_us: ${rate}, accesses: 12000, prg_pages: 1 }
latency:
  minor_fault_ns: ${minorFault}
`;
  const p = parseScenario(text, 'roundtrip.yaml');
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
}

/**
 * `run S --ftrace T` → `fit T` → `run FITTED --ftrace T2`: group latency (L=1 report → response)
 * and request inter-arrival times of T2 match T's (two-sample KS ≤ 0.05 on ≥ 10 000 groups, p99
 * within 10 %), for VT-d scenarios whose handler latency is fixed, lognormal and bimodal, at light
 * load, and once at a load where groups wait for the 4 workers (the fit must take the waiting out
 * of the service time it writes, or the fitted run queues twice).
 */
describe('fit round trip', () => {
  for (const [shape, lat, rate] of [
    ['fixed', '{ dist: fixed, ns: 20000 }', 0.02],
    ['lognormal', '{ dist: lognormal, median_ns: 20000, sigma: 0.5 }', 0.02],
    ['bimodal empirical', '{ dist: empirical, table: [{ ns: 5000, weight: 7 }, { ns: 60000, weight: 3 }] }', 0.02],
    ['lognormal with worker queueing (utilisation ≈ 0.65)', '{ dist: lognormal, median_ns: 30000, sigma: 0.5 }', 0.07],
  ] as const) {
    it(`FIT.ROUNDTRIP: ${shape}`, async () => {
      const orig = ftraceOf(scenario(lat, rate), 7);
      const fit = await fitTrace(Readable.from([orig]), { format: 'ftrace' });
      expect(fit.errorCount).toBe(0);
      const fs = fittedScenario(fit, { source: 'orig.trace' });
      const parsed = parseScenario(fs.yaml, 'fitted.yaml');
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      const again = ftraceOf(parsed.value, 8);
      const a = samples(orig);
      const b = samples(again);
      const ksL = ksTwoSample(a.latency, b.latency);
      const ksG = ksTwoSample(a.gaps, b.gaps);
      const p99a = quantile(a.latency, 0.99);
      const p99b = quantile(b.latency, 0.99);
      const g99a = quantile(a.gaps, 0.99);
      const g99b = quantile(b.gaps, 0.99);
      expect(a.latency.length).toBeGreaterThanOrEqual(10000);
      expect(b.latency.length).toBeGreaterThanOrEqual(10000);
      expect(ksL).toBeLessThanOrEqual(0.05);
      expect(ksG).toBeLessThanOrEqual(0.05);
      expect(Math.abs(p99b - p99a) / p99a).toBeLessThanOrEqual(0.1);
      expect(Math.abs(g99b - g99a) / g99a).toBeLessThanOrEqual(0.1);
    }, 30_000);
  }
});
