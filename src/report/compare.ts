/**
 * `iopf compare A.json B.json`: two runs (their `iopf run --json` documents) side by side — the
 * latency percentiles and the drop / auto-response / response counts — as terminal text, and as one
 * static HTML page with both runs' latency curves on the same plot (the run report's renderer and
 * its escaping; every string from the documents is escaped).
 */
import type { Histogram } from 'hdr-histogram-js';
import type { Percentiles } from './metrics.js';
import type { RunReport } from './run-report.js';
import { CSS, curve, escapeHtml as e, figure, histogramsOf, ns, percentileSpec, table } from './html.js';
import { renderSvg } from './plot.js';

export interface CompareInput {
  /** How the run is named (usually its file name). */
  readonly label: string;
  readonly report: RunReport;
}

interface Row {
  readonly what: string;
  readonly a: number;
  readonly b: number;
  /** ns values print with units. */
  readonly time: boolean;
}

function latencyRows(what: string, a: Percentiles, b: Percentiles): Row[] {
  return [
    { what: `${what} n`, a: a.count, b: b.count, time: false },
    { what: `${what} p50`, a: a.p50, b: b.p50, time: true },
    { what: `${what} p99`, a: a.p99, b: b.p99, time: true },
    { what: `${what} max`, a: a.max, b: b.max, time: true },
    { what: `${what} mean`, a: a.mean, b: b.mean, time: true },
  ];
}

function rows(a: RunReport, b: RunReport): Row[] {
  const out: Row[] = [
    ...latencyRows('group latency', a.latency_ns, b.latency_ns),
    ...latencyRows('SVA handler', a.latency_by_handler_ns.sva, b.latency_by_handler_ns.sva),
    ...latencyRows('iommufd + VMM', a.latency_by_handler_ns.iommufd, b.latency_by_handler_ns.iommufd),
    { what: 'page requests', a: a.page_requests, b: b.page_requests, time: false },
    { what: 'groups', a: a.groups, b: b.groups, time: false },
    { what: 'responses success', a: a.responses.success, b: b.responses.success, time: false },
    { what: 'responses invalid', a: a.responses.invalid, b: b.responses.invalid, time: false },
    { what: 'responses failure', a: a.responses.failure, b: b.responses.failure, time: false },
    { what: 'auto-responses', a: a.auto_responses, b: b.auto_responses, time: false },
    { what: 'dropped', a: a.dropped, b: b.dropped, time: false },
    { what: 'credit stalls', a: a.credit_stalls, b: b.credit_stalls, time: false },
    { what: 'violations', a: a.violations_total, b: b.violations_total, time: false },
    { what: 'virtual time', a: a.virtual_time_ns, b: b.virtual_time_ns, time: true },
  ];
  // Handler rows of a handler neither run used say nothing.
  return out.filter((r) => !((r.what.startsWith('SVA') || r.what.startsWith('iommufd')) && rowsEmpty(out, r.what.split(' ').slice(0, -1).join(' '))));
}

function rowsEmpty(all: Row[], prefix: string): boolean {
  const n = all.find((r) => r.what === `${prefix} n`);
  return n !== undefined && n.a === 0 && n.b === 0;
}

function cell(v: number, time: boolean): string {
  return time ? ns(v) : v.toLocaleString('en-US');
}

function delta(r: Row): string {
  if (r.a === r.b) return '=';
  const d = r.b - r.a;
  const sign = d > 0 ? '+' : '−';
  const mag = cell(Math.abs(d), r.time);
  return r.a === 0 ? `${sign}${mag}` : `${sign}${mag} (${sign}${((Math.abs(d) / r.a) * 100).toFixed(1)} %)`;
}

/** Strip control characters from a label before it reaches a terminal. */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** The comparison as terminal lines. */
export function formatCompare(a: CompareInput, b: CompareInput): string {
  const rs = rows(a.report, b.report);
  const la = `A: ${plain(a.label)}`;
  const lb = `B: ${plain(b.label)}`;
  const w0 = Math.max(...rs.map((r) => r.what.length));
  const wa = Math.max(14, ...rs.map((r) => cell(r.a, r.time).length));
  const wb = Math.max(14, ...rs.map((r) => cell(r.b, r.time).length));
  const lines = [
    la,
    `   scenario ${plain(a.report.scenario)}, kernel ${plain(a.report.kernel)}, ${plain(a.report.iommu)}, seed ${a.report.seed}`,
    lb,
    `   scenario ${plain(b.report.scenario)}, kernel ${plain(b.report.kernel)}, ${plain(b.report.iommu)}, seed ${b.report.seed}`,
    '',
    `${''.padEnd(w0)}  ${'A'.padStart(wa)}  ${'B'.padStart(wb)}  B − A`,
  ];
  for (const r of rs) lines.push(`${r.what.padEnd(w0)}  ${cell(r.a, r.time).padStart(wa)}  ${cell(r.b, r.time).padStart(wb)}  ${delta(r)}`);
  return lines.join('\n');
}

const COLOR_A = '#2f81f7';
const COLOR_B = '#cf222e';

/** One self-contained HTML page: both runs' latency curves on one plot, and the table. */
export async function renderCompareHtml(a: CompareInput, b: CompareInput): Promise<string> {
  const sa = `A: ${a.label}`;
  const sb = `B: ${b.label}`;
  const colors = { [sa]: COLOR_A, [sb]: COLOR_B };
  const ha = histogramsOf(a.report, {});
  const hb = histogramsOf(b.report, {});
  const plots: string[] = [];
  const both = async (id: string, title: string, caption: string, pick: (h: Partial<Record<string, Histogram>>) => Histogram | undefined, pa: Percentiles, pb: Percentiles): Promise<void> => {
    const ca = curve(sa, pick(ha), pa);
    const cb = curve(sb, pick(hb), pb);
    const points = [...ca.points, ...cb.points];
    if (points.length === 0) return;
    const how = ca.exact && cb.exact ? 'from the runs’ HDR histograms' : 'from p50 / p99 / max where a document has no histogram';
    plots.push(figure(id, title, await renderSvg(percentileSpec(points, colors, true), id), `${caption}; ${how}`));
  };
  await both('plot-group-latency', 'Page request group latency', 'first request sent → response received at the device', (h) => h.group_latency_ns, a.report.latency_ns, b.report.latency_ns);
  await both('plot-sva-latency', 'SVA handler latency', 'group formed → answered', (h) => h.sva_ns, a.report.latency_by_handler_ns.sva, b.report.latency_by_handler_ns.sva);
  await both('plot-iommufd-latency', 'iommufd + VMM latency', 'group formed → VMM response', (h) => h.iommufd_ns, a.report.latency_by_handler_ns.iommufd, b.report.latency_by_handler_ns.iommufd);
  if (plots.length === 0) plots.push('<section id="plot-group-latency"><h2>Latency</h2><p class="muted">Neither run answered a page request group.</p></section>');

  const body = rows(a.report, b.report)
    .map((r) => `<tr><th scope="row">${e(r.what)}</th><td class="num">${e(cell(r.a, r.time))}</td><td class="num">${e(cell(r.b, r.time))}</td><td class="num">${e(delta(r))}</td></tr>`)
    .join('\n');
  const runTable = (x: CompareInput, tag: string): string =>
    table([
      ['run', `<span class="mono" id="label-${tag}">${e(x.label)}</span>`],
      ['scenario', e(x.report.scenario)],
      ['kernel', e(x.report.kernel)],
      ['IOMMU', e(x.report.iommu)],
      ['seed', e(String(x.report.seed))],
      ['bug variants', x.report.bugs.length > 0 ? x.report.bugs.map((bug) => `<code>${e(bug)}</code>`).join(', ') : '<span class="muted">none</span>'],
      ['replay', `<code>${e(x.report.replay)}</code>`],
    ]);
  const title = `iopf compare — ${a.label} vs ${b.label}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${e(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>iopf compare</h1>
<p class="sub"><strong style="color:${COLOR_A}">A</strong> ${e(a.label)} vs <strong style="color:${COLOR_B}">B</strong> ${e(b.label)}</p>
</header>
<div class="grid">
<section id="run-a"><h2>A</h2>
${runTable(a, 'a')}
</section>
<section id="run-b"><h2>B</h2>
${runTable(b, 'b')}
</section>
</div>
${plots.join('\n')}
<section id="figures"><h2>Side by side</h2>
<table>
<thead><tr><th></th><th class="num">A</th><th class="num">B</th><th class="num">B − A</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
</section>
<footer>Generated by iopf from two saved run documents; the same documents give the same page.</footer>
</main>
</body>
</html>
`;
}
