/**
 * The static HTML report of a run: one self-contained file (inline CSS, inline SVG, no script, a
 * Content-Security-Policy that forbids every fetch) showing what the terminal summary prints plus
 * plots — the latency distribution of page request groups, SVA vs iommufd handler latency, and
 * the response-code breakdown. Plots are rendered to SVG at report time (src/report/plot.ts).
 * The output depends only on its inputs: the same run gives the same file.
 */
import { groupViolations } from './violations.js';
import { renderMsc } from './msc.js';
import type { Histogram } from 'hdr-histogram-js';
import { HIST_NAMES, Metrics, type HistName, type Percentiles } from './metrics.js';
import type { RunReport } from './run-report.js';
import { renderSvg, type TopLevelSpec } from './plot.js';

export interface HtmlReportExtras {
  /**
   * The run's HDR histograms (SimulateResult.metrics.hist). When absent, the document's own
   * `histograms` field is decoded; without either, curves fall back to p50/p99/max.
   */
  latencyHistograms?: Partial<Record<HistName, Histogram>>;
}

export { escapeHtml } from './escape.js';
import { escapeHtml } from './escape.js';

const e = escapeHtml;

/** The first violation's causal slice as a message-sequence chart (failing runs only). */
function counterexampleSection(r: RunReport): string {
  const c = r.counterexample;
  if (c === undefined) return '';
  const where = c.where !== '' ? ` at ${e(c.where)}` : '';
  const count = c.count > 1 ? ` <span class="muted small">(${e(c.count.toLocaleString('en-US'))} violations of this rule; the first one)</span>` : '';
  const omitted = c.omitted > 0 ? `<p class="muted">${e(String(c.omitted))} earlier steps of the slice are not shown.</p>` : '';
  return `<section id="counterexample"><h2>Counterexample <span class="muted small">${e(c.rule)}</span></h2>
<p><code>${e(c.rule)}</code>${where}${count}: ${e(c.statement)} <span class="muted small">[${e(c.source)}]</span></p>
${omitted}<div class="msc-wrap">${renderMsc(c)}</div>
</section>`;
}
const n = (v: number): string => v.toLocaleString('en-US');

export function ns(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(3)} s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(3)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)} µs`;
  return `${v} ns`;
}

// ---------------------------------------------------------------------------------------------
// Percentile curves

interface CurvePoint {
  series: string;
  /** 1 / (1 − q): the classic HDR percentile axis, where 10 is p90, 100 is p99, 1000 is p99.9. */
  x: number;
  /** Latency in ns (clamped to ≥ 1 for the log scale). */
  ns: number;
  percentile: number;
}

/** Points per decade of the percentile axis. */
const STEPS_PER_DECADE = 10;

function curveFromHistogram(series: string, h: Histogram, p: Percentiles): CurvePoint[] {
  const total = h.totalCount;
  if (total === 0) return [];
  // Walk the percentile axis up to 1/(1-q) = total: beyond it every quantile is the maximum.
  const last = Math.max(STEPS_PER_DECADE, Math.ceil(STEPS_PER_DECADE * Math.log10(Math.max(total, 10))));
  const out: CurvePoint[] = [];
  for (let k = 0; k <= last; k++) {
    const x = 10 ** (k / STEPS_PER_DECADE);
    const q = 100 * (1 - 1 / x);
    // The document's histograms are re-binned (values within 1%): end on the exact maximum.
    const v = k === last ? (p.count === total ? p.max : h.maxValue) : Math.min(h.getValueAtPercentile(q), p.count === total ? p.max : h.maxValue);
    out.push({ series, x, ns: Math.max(1, v), percentile: q });
  }
  return out;
}

/** Without a histogram: the three figures the document always carries. */
function curveFromSummary(series: string, p: Percentiles): CurvePoint[] {
  if (p.count === 0) return [];
  const top = Math.max(1000, 10 ** Math.ceil(Math.log10(Math.max(p.count, 10))));
  return [
    { series, x: 2, ns: Math.max(1, p.p50), percentile: 50 },
    { series, x: 100, ns: Math.max(1, p.p99), percentile: 99 },
    { series, x: top, ns: Math.max(1, p.max), percentile: 100 },
  ];
}

const WIDTH = 560;
const HEIGHT = 240;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const chartConfig = {
  font: FONT,
  view: { stroke: '#d0d7de' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eef1f4' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom' as const, direction: 'vertical' as const },
};

/** Vega expression: a ns value in the largest unit that keeps it ≥ 1 (as the tables do). */
const NS_LABEL =
  "datum.value >= 1e9 ? format(datum.value / 1e9, '~g') + ' s' : datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + ' ms' : datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + ' µs' : format(datum.value, '~g') + ' ns'";
/** Vega expression: 1/(1−q) back to a percentile label. */
const PCT_LABEL = "datum.value <= 1 ? '0%' : format(100 - 100 / datum.value, '.6~f') + '%'";

/** Log-axis ticks: each decade spanned by [lo, hi], with 2× and 5× when few decades are spanned. */
function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const steps = b - a <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let d = a; d <= b; d++) for (const s of steps) out.push(s * 10 ** d);
  return out.filter((t) => t >= lo / 1.5 && t <= hi * 1.5);
}

export function percentileSpec(points: CurvePoint[], colors: Record<string, string>, legend: boolean): TopLevelSpec {
  const maxX = Math.max(10, ...points.map((p) => p.x));
  const xTop = 10 ** Math.ceil(Math.log10(maxX) - 1e-9);
  const xTicks: number[] = [];
  for (let d = 0; 10 ** d <= xTop; d++) xTicks.push(10 ** d);
  const values = points.map((p) => p.ns);
  const yTicks = logTicks(Math.min(...values), Math.max(...values));
  const series = [...new Set(points.map((p) => p.series))];
  return {
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    config: chartConfig,
    data: { values: points },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2, point: { size: 14 } },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: 'percentile',
        scale: { type: 'log', domain: [1, xTop] },
        axis: { values: xTicks, labelExpr: PCT_LABEL },
      },
      y: {
        field: 'ns',
        type: 'quantitative',
        title: 'latency',
        scale: { type: 'log' },
        axis: { values: yTicks, labelExpr: NS_LABEL },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: series, range: series.map((s) => colors[s] ?? '#57606a') },
        legend: legend ? { labelLimit: 600 } : null,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Response-code breakdown

interface CodeBar {
  what: string;
  kind: string;
  count: number;
}

function codeBars(r: RunReport): CodeBar[] {
  const sw = 'page response (group handled)';
  const bars: CodeBar[] = [
    { what: 'Success', kind: sw, count: r.responses.success },
    { what: 'Invalid Request', kind: sw, count: r.responses.invalid },
    { what: 'Response Failure', kind: sw, count: r.responses.failure },
  ];
  if (r.responses.other > 0) bars.push({ what: 'other code', kind: sw, count: r.responses.other });
  bars.push({ what: 'hardware auto-response', kind: 'hardware', count: r.auto_responses });
  bars.push({ what: 'dropped at the queue', kind: 'dropped', count: r.dropped });
  return bars;
}

function codeSpec(bars: CodeBar[]): TopLevelSpec {
  const kinds = ['page response (group handled)', 'hardware', 'dropped'];
  return {
    width: WIDTH - 120,
    height: { step: 26 },
    background: 'white',
    config: chartConfig,
    data: { values: bars },
    encoding: {
      y: { field: 'what', type: 'nominal', title: null, sort: null, axis: { labelLimit: 300 } },
      x: { field: 'count', type: 'quantitative', title: 'count', axis: { format: '~s' } },
    },
    layer: [
      {
        mark: { type: 'bar', cornerRadiusEnd: 2 },
        encoding: {
          color: { field: 'kind', type: 'nominal', title: null, scale: { domain: kinds, range: ['#2f81f7', '#bf8700', '#cf222e'] }, legend: { labelLimit: 600 } },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11, color: '#24292f' },
        encoding: { text: { field: 'count', type: 'quantitative', format: ',' } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The page

const SERIES = {
  group: 'page request groups (first request sent → response received)',
  sva: 'SVA handler (group formed → answered)',
  iommufd: 'iommufd + VMM (group formed → VMM response)',
} as const;
const COLORS: Record<string, string> = { [SERIES.group]: '#2f81f7', [SERIES.sva]: '#1a7f37', [SERIES.iommufd]: '#8250df' };

export function histogramsOf(report: RunReport, extras: HtmlReportExtras): Partial<Record<HistName, Histogram>> {
  if (extras.latencyHistograms !== undefined) return extras.latencyHistograms;
  if (report.histograms === undefined) return {};
  const m = new Metrics();
  m.merge(report.histograms);
  const out: Partial<Record<HistName, Histogram>> = {};
  for (const name of HIST_NAMES) if (report.histograms[name] !== undefined) out[name] = m.hist[name];
  return out;
}

export function curve(series: string, h: Histogram | undefined, p: Percentiles): { points: CurvePoint[]; exact: boolean } {
  if (h !== undefined && h.totalCount > 0) return { points: curveFromHistogram(series, h, p), exact: true };
  return { points: curveFromSummary(series, p), exact: false };
}

export function table(rows: readonly (readonly [string, string])[], cls = ''): string {
  const body = rows.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('\n');
  return `<table class="kv${cls !== '' ? ` ${cls}` : ''}">\n${body}\n</table>`;
}

function latencyRow(label: string, what: string, p: Percentiles): string {
  const cells = p.count === 0 ? '<td colspan="5" class="muted">—</td>' : [n(p.count), ns(p.p50), ns(p.p99), ns(p.max), ns(p.mean)].map((c) => `<td class="num">${e(c)}</td>`).join('');
  return `<tr><th scope="row">${e(label)}<div class="muted small">${e(what)}</div></th>${cells}</tr>`;
}

export function figure(id: string, title: string, svg: string, caption: string): string {
  return `<figure class="plot" id="${e(id)}">\n<figcaption><strong>${e(title)}</strong> <span class="muted">${e(caption)}</span></figcaption>\n${svg}\n</figure>`;
}

export const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: ${FONT}; margin: 0; color: #1f2328; background: #f6f8fa; line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.15rem; margin: 0 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
section, figure.plot { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
figure.plot { margin: 16px 0; overflow-x: auto; }
figure.plot svg { display: block; max-width: 100%; height: auto; margin-top: 8px; }
figcaption { font-size: 0.95rem; }
.sub { color: #57606a; margin: 0; }
.status { font-weight: 600; padding: 10px 14px; border-radius: 6px; margin: 16px 0; }
.status.ok { background: #dafbe1; border: 1px solid #4ac26b; color: #116329; }
.status.bad { background: #ffebe9; border: 1px solid #ff8182; color: #a40e26; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
table.kv th { width: 15rem; font-weight: 600; }
thead th { font-weight: 600; border-bottom: 1px solid #d0d7de; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; word-break: break-all; }
pre.replay { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; white-space: pre-wrap; word-break: break-all; margin: 8px 0 0; }
.muted { color: #57606a; }
.small { font-size: 0.8rem; font-weight: normal; }
.ok { color: #1a7f37; }
.bad { color: #cf222e; }
ul.chips { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px; }
ul.chips li { background: #ddf4ff; border: 1px solid #b6e3ff; border-radius: 12px; padding: 1px 9px; font-size: 0.82rem; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 16px; }
@media (max-width: 800px) { .grid { grid-template-columns: 1fr; } }
footer { color: #57606a; font-size: 0.8rem; margin-top: 24px; }
`;

/** Violations listed in full up to this many (the document holds the rest). */
const MAX_VIOLATIONS = 200;

/**
 * Render the report of a run as one self-contained HTML document. Asynchronous because the
 * plotting library renders asynchronously; nothing is fetched.
 */
export async function renderHtmlReport(r: RunReport, extras: HtmlReportExtras = {}): Promise<string> {
  const hist = histogramsOf(r, extras);

  const group = curve(SERIES.group, hist.group_latency_ns, r.latency_ns);
  const sva = curve(SERIES.sva, hist.sva_ns, r.latency_by_handler_ns.sva);
  const iommufd = curve(SERIES.iommufd, hist.iommufd_ns, r.latency_by_handler_ns.iommufd);
  const handlerPoints = [...sva.points, ...iommufd.points];
  const how = (exact: boolean): string => (exact ? 'from the run’s HDR histogram' : 'from p50 / p99 / max only (no histogram in the document)');

  const plots: string[] = [];
  if (group.points.length > 0) {
    plots.push(figure('plot-group-latency', 'Page request group latency', await renderSvg(percentileSpec(group.points, COLORS, false), 'group'), `first request sent → response received at the device; percentile distribution, ${how(group.exact)}`));
  } else plots.push(`<section id="plot-group-latency"><h2>Page request group latency</h2><p class="muted">No page request group was answered in this run.</p></section>`);
  if (handlerPoints.length > 0) {
    const both = sva.points.length > 0 && iommufd.points.length > 0;
    plots.push(
      figure(
        'plot-handler-latency',
        both ? 'Handler latency: SVA vs iommufd' : sva.points.length > 0 ? 'Handler latency: SVA' : 'Handler latency: iommufd',
        await renderSvg(percentileSpec(handlerPoints, COLORS, true), 'handler'),
        `percentile distribution, ${how((sva.points.length === 0 || sva.exact) && (iommufd.points.length === 0 || iommufd.exact))}`,
      ),
    );
  }
  plots.push(figure('plot-response-codes', 'Responses by code', await renderSvg(codeSpec(codeBars(r)), 'codes'), 'page responses sent by software, answers the hardware gave itself, and requests it dropped'));

  const bugs = r.bugs.length > 0 ? r.bugs.map((b) => `<code>${e(b)}</code>`).join(', ') : '<span class="muted">none</span>';
  const c = r.conservation;
  const balanced = c.unaccounted === 0;

  const runRows: [string, string][] = [
    ['scenario', e(r.scenario)],
    ['seed', `<span id="seed">${e(String(r.seed))}</span>`],
    ['kernel', e(r.kernel)],
    ['IOMMU', e(r.iommu)],
    ['bug variants', bugs],
    ['virtual time', `${e(ns(r.virtual_time_ns))} <span class="muted">(${e(r.stop_reason)})</span>`],
    ['events', e(n(r.events))],
    ['trace sha256', `<code id="trace-sha256">${e(r.trace_sha256)}</code>`],
  ];
  const rs = r.responses;
  const trafficRows: [string, string][] = [
    ['DMA accesses', e(`${n(r.dma.accesses)} issued, ${n(r.dma.completed)} completed (${n(r.dma.failed)} of them failed)`)],
    ['PASIDs', e(`${n(r.pasids.binds)} binds, ${n(r.pasids.unbinds)} unbinds, ${n(r.pasids.freed)} freed, ${n(r.pasids.reused)} reused by a later bind`)],
    ['page requests', e(`${n(r.page_requests)} in ${n(r.groups)} groups reaching the core, ${n(r.stop_markers)} stop markers`)],
    ['responses', e(`success ${n(rs.success)}, invalid ${n(rs.invalid)}, failure ${n(rs.failure)}${rs.other > 0 ? `, other ${n(rs.other)}` : ''}`)],
    ['auto-responses', e(n(r.auto_responses))],
    ['dropped at the queue', e(n(r.dropped))],
    ['credit stalls', e(n(r.credit_stalls))],
  ];
  const queueRows = Object.entries(r.queue).map(([k, v]): [string, string] => [k, `<span class="mono">${e(n(v))}</span>`]);
  const counterRows = Object.entries(r.counters).map(([k, v]): [string, string] => [k, `<span class="mono">${e(n(v))}</span>`]);

  const status =
    r.violations_total === 0
      ? `<div class="status ok" id="status">No rule violated${r.rules_exercised.length > 0 ? ` (${r.rules_exercised.length} rules exercised)` : ''}.</div>`
      : `<div class="status bad" id="status">${e(n(r.violations_total))} violation${r.violations_total === 1 ? '' : 's'} — replay with <code>${e(r.replay)}</code></div>`;

  let violations: string;
  if (r.violations_total === 0) violations = '<p>none</p>';
  else {
    // One row per rule: its count and first violation; the further stored ones fold away.
    let budget = MAX_VIOLATIONS;
    const groups = groupViolations(r, MAX_VIOLATIONS);
    const rows = groups
      .map((g) => {
        const more = g.more.slice(0, Math.max(0, budget));
        budget -= more.length;
        const rest =
          g.count > 1
            ? `<details><summary class="muted small">${e(n(g.count - 1))} more of this rule</summary><table class="small">${more.map((v) => `<tr><td class="num">${e(ns(v.time_ns))}</td><td>${e(v.detail)}</td></tr>`).join('')}</table>${g.count - 1 > more.length ? `<p class="muted small">… ${e(n(g.count - 1 - more.length))} not listed (see the JSON document)</p>` : ''}</details>`
            : '';
        return `<tr class="rule-group" data-rule="${e(g.rule)}" data-count="${g.count}"><td><code>${e(g.rule)}</code></td><td class="num">${e(n(g.count))}</td><td class="num">${e(ns(g.first.time_ns))}</td><td>${e(g.first.detail)}${rest}</td></tr>`;
      })
      .join('\n');
    const listed = groups.reduce((a, g) => a + g.count, 0);
    const more = r.violations_total > listed ? `<p class="muted">… ${e(n(r.violations_total - listed))} more not stored (see the JSON document)</p>` : '';
    violations = `<table><thead><tr><th>rule</th><th>count</th><th>first at</th><th>first violation</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>\n${more}`;
  }

  const title = `iopf report — ${r.scenario} (seed ${r.seed})`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${e(title)}</title>
<style>${CSS}.msc-wrap{overflow-x:auto}</style>
</head>
<body>
<main>
<header>
<h1>iopf report</h1>
<p class="sub">scenario <strong id="scenario">${e(r.scenario)}</strong> — kernel ${e(r.kernel)}, ${e(r.iommu)}, seed ${e(String(r.seed))}</p>
</header>
${status}
<div class="grid">
<section id="run"><h2>Run</h2>
${table(runRows)}
</section>
<section id="traffic"><h2>Traffic</h2>
${table(trafficRows)}
</section>
</div>
<section id="latency"><h2>Latency</h2>
<table>
<thead><tr><th></th><th class="num">count</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th><th class="num">mean</th></tr></thead>
<tbody>
${latencyRow('group (device)', 'first request sent → response received', r.latency_ns)}
${latencyRow('SVA handler', 'group formed → answered', r.latency_by_handler_ns.sva)}
${latencyRow('iommufd + VMM', 'group formed → VMM’s response', r.latency_by_handler_ns.iommufd)}
${latencyRow('credit stall', 'device wanted to send → it had a credit', r.credit_stall_ns)}
</tbody>
</table>
</section>
${plots.join('\n')}
<div class="grid">
<section id="queues"><h2>Queue high-water marks</h2>
${queueRows.length > 0 ? table(queueRows) : '<p class="muted">none recorded</p>'}
</section>
<section id="conservation"><h2>Conservation <span class="muted small">HOST.CONSERVATION</span></h2>
${table([
  ['sent', e(n(c.sent))],
  ['answered (group response)', e(n(c.answered))],
  ['auto-answered (hardware)', e(n(c.auto_answered))],
  ['dropped', e(n(c.dropped))],
  ['outstanding at the end', e(n(c.outstanding))],
  ['balance', balanced ? '<span class="ok">✓ sent = answered + auto + dropped + outstanding</span>' : `<span class="bad">✗ unaccounted ${e(n(c.unaccounted))}</span>`],
])}
</section>
</div>
<section id="rules"><h2>Rules exercised <span class="muted small">${e(String(r.rules_exercised.length))}</span></h2>
${r.rules_exercised.length > 0 ? `<ul class="chips">${r.rules_exercised.map((x) => `<li>${e(x)}</li>`).join('')}</ul>` : '<p class="muted">none (checking was off)</p>'}
</section>
<section id="violations"><h2>Violations <span class="muted small">${e(n(r.violations_total))}</span></h2>
${violations}
<p>replay this run:</p>
<pre class="replay" id="replay">${e(r.replay)}</pre>
</section>
${counterexampleSection(r)}
${counterRows.length > 0 ? `<section id="counters"><h2>Counters</h2>\n${table(counterRows)}\n</section>` : ''}
<footer>Generated by iopf from a deterministic run: the same scenario, seed and bug variants give the same trace hash and the same report.</footer>
</main>
</body>
</html>
`;
}
