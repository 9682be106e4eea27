/**
 * The static HTML report: every text it shows is escaped, the summary's sections are all there,
 * the plots are inline SVG, nothing can be fetched, and the output depends only on its inputs.
 * Also the saved document it reads back: validation, and the compact histograms it carries.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeHtml, renderHtmlReport } from '../../src/report/html.js';
import { renumberIds } from '../../src/report/plot.js';
import { encodeDocumentHistograms, parseRunReport } from '../../src/report/run-document.js';
import { Metrics } from '../../src/report/metrics.js';
import type { RunReport } from '../../src/report/run-report.js';

const HOSTILE = '<script>alert("x")</script>&\'"><img src=x onerror=alert(1)>';

function report(over: Partial<RunReport> = {}): RunReport {
  const p = (count: number, p50: number, p99: number, max: number): RunReport['latency_ns'] => ({ count, p50, p99, max, mean: p50 });
  return {
    seed: 42,
    scenario: 'unit',
    kernel: 'mainline',
    iommu: 'vtd',
    bugs: [],
    events: 1234,
    virtual_time_ns: 5_000_000,
    stop_reason: 'idle',
    trace_sha256: 'ab'.repeat(32),
    page_requests: 100,
    stop_markers: 2,
    groups: 40,
    responses: { success: 30, invalid: 5, failure: 1, other: 0 },
    auto_responses: 7,
    dropped: 3,
    violations: [],
    violations_total: 0,
    rules_exercised: ['HOST.CONSERVATION', 'PCIE.PRI.RESPONSE_ONCE'],
    latency_ns: p(40, 15_000, 200_000, 900_000),
    latency_by_handler_ns: { sva: p(30, 12_000, 150_000, 800_000), iommufd: p(0, 0, 0, 0) },
    credit_stalls: 4,
    credit_stall_ns: p(4, 800, 1900, 2000),
    dma: { accesses: 500, completed: 480, failed: 20 },
    pasids: { binds: 2, unbinds: 1, freed: 1, reused: 1 },
    queue: { prq_high_water: 31 },
    conservation: { sent: 100, answered: 60, auto_answered: 7, dropped: 3, outstanding: 30, unaccounted: 0 },
    counters: { actions_failed: 0 },
    replay: 'iopf run --seed 42',
    ...over,
  };
}

/** Every start tag in the document (the page must hold no script, no fetchable element). */
const tagNames = (html: string): Set<string> => new Set([...html.matchAll(/<([a-zA-Z][\w-]*)/g)].map((m) => m[1]!.toLowerCase()));

describe('escapeHtml', () => {
  it('HTML.ESCAPE: output holds no markup character and decodes back to the input', () => {
    const decode = (s: string): string => s.replace(/&(lt|gt|quot|#39|amp);/g, (_, x: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[x]!);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = escapeHtml(s);
        expect(out).not.toMatch(/[<>"']/);
        expect(out.replace(/&(lt|gt|quot|#39|amp);/g, '')).not.toContain('&');
        expect(decode(out)).toBe(s);
      }),
    );
  });
});

describe('renderHtmlReport', () => {
  it('HTML.ESCAPE: hostile scenario names, bug names, rules, violation details and replay commands are shown as text', async () => {
    const html = await renderHtmlReport(
      report({
        scenario: HOSTILE,
        kernel: `k${HOSTILE}`,
        bugs: [HOSTILE],
        stop_reason: HOSTILE,
        violations: [{ rule: `</td>${HOSTILE}`, time_ns: 10, detail: HOSTILE }],
        violations_total: 1,
        rules_exercised: [HOSTILE],
        queue: { [HOSTILE]: 1 },
        counters: { [HOSTILE]: 2 },
        replay: `iopf run ${HOSTILE} --seed 42`,
      }),
    );
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('</td><script');
    const tags = tagNames(html);
    for (const t of ['script', 'img', 'iframe', 'link', 'object', 'embed', 'base']) expect(tags.has(t)).toBe(false);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    // The title is escaped too (it is raw text in the head).
    expect(html).toMatch(/<title>iopf report — &lt;script&gt;.*\(seed 42\)<\/title>/);
    expect(html).toContain(`<pre class="replay" id="replay">iopf run ${escapeHtml(HOSTILE)} --seed 42</pre>`);
  });

  it('HTML.SECTIONS: the summary figures, every section and three inline SVG plots', async () => {
    const r = report();
    const html = await renderHtmlReport(r);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    for (const id of ['run', 'traffic', 'latency', 'queues', 'conservation', 'rules', 'violations', 'plot-group-latency', 'plot-handler-latency', 'plot-response-codes'])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain(`<span id="seed">42</span>`);
    expect(html).toContain(r.trace_sha256);
    expect(html).toContain('success 30, invalid 5, failure 1');
    expect(html).toContain('prq_high_water');
    expect(html).toContain('✓ sent = answered + auto + dropped + outstanding');
    expect(html).toContain('No rule violated');
    expect(html).toContain('PCIE.PRI.RESPONSE_ONCE');
    expect(html.match(/<svg[^>]*class="marks"/g)?.length).toBe(3);
    // Only p50/p99/max in this document: the caption says the curve is coarse.
    expect(html).toContain('from p50 / p99 / max only');
  });

  it('HTML.OFFLINE: a CSP forbids every fetch, and there is nothing to fetch', async () => {
    const html = await renderHtmlReport(report());
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
    expect(html).not.toMatch(/\b(src|href)="(?!#)/);
    expect(html).not.toMatch(/url\((?!#)/);
    expect(html).not.toContain('@import');
  });

  it('HTML.VIOLATIONS: violations are listed with the replay command; an unbalanced conservation shows ✗', async () => {
    const html = await renderHtmlReport(
      report({
        violations: [{ rule: 'PCIE.PRI.RESPONSE_ONCE', time_ns: 1500, detail: 'second response for group 3' }],
        violations_total: 3,
        conservation: { sent: 100, answered: 60, auto_answered: 7, dropped: 3, outstanding: 28, unaccounted: 2 },
        replay: 'iopf run --seed 42 --bug double-response',
      }),
    );
    expect(html).toContain('class="status bad"');
    expect(html).toContain('3 violations — replay with <code>iopf run --seed 42 --bug double-response</code>');
    // One row per rule: its count, the time and text of its first violation.
    expect(html).toContain('<td><code>PCIE.PRI.RESPONSE_ONCE</code></td><td class="num">1</td><td class="num">1.50 µs</td><td>second response for group 3</td>');
    expect(html).toContain('… 2 more not stored');
    expect(html).toContain('✗ unaccounted 2');
  });

  it('HTML.DETERMINISM: the same report renders to the same bytes, with ids unique on the page', async () => {
    const m = new Metrics();
    for (let i = 1; i <= 2000; i++) {
      m.record('group_latency_ns', 1000 + ((i * 7919) % 300_000));
      m.record('sva_ns', 500 + ((i * 104729) % 100_000));
      m.record('iommufd_ns', 5000 + ((i * 1299709) % 900_000));
    }
    const r = report({ histograms: encodeDocumentHistograms(m) });
    const a = await renderHtmlReport(r);
    const b = await renderHtmlReport(JSON.parse(JSON.stringify(r)) as RunReport);
    expect(b).toBe(a);
    expect(a).toContain('from the run’s HDR histogram');
    expect(a).toContain('Handler latency: SVA vs iommufd');
    const ids = [...a.matchAll(/\sid="([^"]+)"/g)].map((x) => x[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('HTML.EMPTY: a run with no answered group still renders (no latency plot, a note instead)', async () => {
    const none = { count: 0, p50: 0, p99: 0, max: 0, mean: 0 };
    const html = await renderHtmlReport(report({ latency_ns: none, latency_by_handler_ns: { sva: none, iommufd: none }, rules_exercised: [] }));
    expect(html).toContain('No page request group was answered in this run.');
    expect(html).not.toContain('id="plot-handler-latency"');
    expect(html).toContain('id="plot-response-codes"');
    expect(html).toContain('none (checking was off)');
  });
});

describe('renumberIds', () => {
  it('HTML.IDS: ids and their url(#)/href references are renamed consistently, in order of appearance', () => {
    const svg = '<svg><clipPath id="clip7"><rect/></clipPath><g clip-path="url(#clip7)"/><use href="#grad3"/><linearGradient id="grad3"/></svg>';
    expect(renumberIds(svg, 'p')).toBe('<svg><clipPath id="p-1"><rect/></clipPath><g clip-path="url(#p-1)"/><use href="#p-2"/><linearGradient id="p-2"/></svg>');
  });
});

describe('run document', () => {
  it('REPORT.DOC.VALID: a report round-trips through JSON and validates; histograms survive', () => {
    const m = new Metrics();
    for (let i = 1; i <= 500; i++) m.record('group_latency_ns', i * 1000);
    const r = report({ histograms: encodeDocumentHistograms(m) });
    const p = parseRunReport(JSON.parse(JSON.stringify(r)));
    expect(p.ok).toBe(true);
    if (p.ok) expect(p.value).toEqual(r);
  });

  it('REPORT.DOC.INVALID: a document missing fields or with wrong types is refused with the field named', () => {
    const bad = parseRunReport({ ...report(), seed: 'one' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/^not an `iopf run --json` document: seed: /);
    const { trace_sha256: _, ...missing } = report();
    const m = parseRunReport(missing);
    expect(!m.ok && m.error.includes('trace_sha256')).toBe(true);
    expect(parseRunReport([]).ok).toBe(false);
    expect(parseRunReport({ ...report(), histograms: { group_latency_ns: 'not base64!' } }).ok).toBe(false);
  });

  it('REPORT.DOC.HIST: compact histograms keep count and percentiles within 1%, and only non-empty plotted ones', () => {
    const m = new Metrics();
    for (let i = 1; i <= 5000; i++) m.record('group_latency_ns', 100 + ((i * 7919) % 2_000_000));
    const enc = encodeDocumentHistograms(m);
    expect(Object.keys(enc)).toEqual(['group_latency_ns']);
    const back = new Metrics();
    back.merge(enc);
    const a = m.summary('group_latency_ns');
    const b = back.summary('group_latency_ns');
    expect(b.count).toBe(a.count);
    for (const k of ['p50', 'p99', 'max'] as const) expect(Math.abs(b[k] - a[k]) / a[k]).toBeLessThan(0.01);
    expect(enc.group_latency_ns!.length).toBeLessThan(m.encode().group_latency_ns.length);
  });
});
