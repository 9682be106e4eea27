/**
 * `iopf compare`: two run documents side by side in the terminal and in one HTML page with both
 * latency curves on one plot; every string from the documents is escaped.
 */
import { describe, expect, it } from 'vitest';
import { formatCompare, renderCompareHtml } from '../../src/report/compare.js';
import { parseScenario, simulate } from '../../src/api.js';
import { parseRunReport } from '../../src/report/run-document.js';
import type { RunReport } from '../../src/report/run-report.js';

const HOSTILE = '<script>alert("x")</script>&\'"><img src=x onerror=alert(1)>';

function runOf(workers: number): RunReport {
  const p = parseScenario(
    `
name: cmp
iopf: { workers: ${workers} }
devices: [{ name: gpu0, rid: "00:02.0" }]
processes: [{ name: p0, vmas: [{ start: 0x10000000, size: 16MiB, perms: rw }] }]
binds: [{ device: gpu0, process: p0 }]
workloads: [{ device: gpu0, process: p0, pattern: sequential, rate_per_us: 0.2, accesses: 400 }]
latency: { minor_fault_ns: { dist: fixed, ns: 15000 } }
`,
    'cmp.yaml',
  );
  if (!p.ok) throw new Error('scenario');
  // Through JSON, as `iopf compare` reads `run --json` files.
  const doc = parseRunReport(JSON.parse(JSON.stringify(simulate(p.value, { seed: 1 }).report)));
  if (!doc.ok) throw new Error(doc.error);
  return doc.value;
}

describe('iopf compare', () => {
  const a = runOf(4);
  const b = runOf(1);

  it('COMPARE.TERMINAL: latency percentiles and drop / auto-response counts side by side with B − A', () => {
    const out = formatCompare({ label: 'a.json', report: a }, { label: 'b.json', report: b });
    const line = (what: string): string => out.split('\n').find((l) => l.startsWith(what))!;
    for (const w of ['group latency p50', 'group latency p99', 'group latency max', 'dropped', 'auto-responses', 'responses success']) expect(line(w)).toBeDefined();
    // One worker for the same traffic: groups wait, the p99 grows.
    expect(b.latency_ns.p99).toBeGreaterThan(a.latency_ns.p99);
    expect(line('group latency p99')).toMatch(/\+[\d.]+ (µs|ms) \(\+[\d.]+ %\)$/);
    expect(line('dropped')).toMatch(/\s0\s+0\s+=$/);
    // Handlers no run used are left out.
    expect(out).not.toContain('iommufd + VMM');
  });

  it('COMPARE.HTML: one plot with both runs’ group latency curves, drawn from their histograms', async () => {
    const html = await renderCompareHtml({ label: 'workers-4.json', report: a }, { label: 'workers-1.json', report: b });
    const fig = /<figure class="plot" id="plot-group-latency">([\s\S]*?)<\/figure>/.exec(html)![1]!;
    expect(fig).toContain('<svg');
    expect(fig).toContain('A: workers-4.json');
    expect(fig).toContain('B: workers-1.json');
    expect(fig).toContain('from the runs’ HDR histograms');
    expect(html).toContain('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'');
  });

  it('COMPARE.ESCAPE: hostile labels and document strings are shown as text', async () => {
    const evil: RunReport = { ...a, scenario: HOSTILE, kernel: HOSTILE, bugs: [HOSTILE], replay: `iopf run ${HOSTILE}` };
    const html = await renderCompareHtml({ label: HOSTILE, report: evil }, { label: `b${HOSTILE}`, report: b });
    const tags = new Set([...html.matchAll(/<([a-zA-Z][\w-]*)/g)].map((m) => m[1]!.toLowerCase()));
    for (const t of ['script', 'img', 'iframe', 'link', 'object', 'embed', 'base']) expect(tags.has(t)).toBe(false);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const term = formatCompare({ label: 'x\u001b[2Jy', report: a }, { label: 'b', report: b });
    expect(term).not.toContain('\u001b');
  });
});
