/**
 * The counterexample as a message-sequence chart (inline SVG, no script): one vertical lane per
 * actor along a fault's path — the PCIe function, the IOMMU hardware, the driver thread, the iopf
 * core, the workqueue/handler, the VMM — and one row per step of the causal slice: an arrow when
 * the step is a message from one lane to another, a dot when it happens on one lane, its number
 * and text beside. The last row marks the violation. Every string is escaped.
 */
import { escapeHtml as e } from './escape.js';
import { LANES, type Counterexample } from './counterexample.js';

const LANE_W = 128;
const LEFT = 44;
const TOP = 46;
const ROW = 24;
const CHAR_W = 6.6;

function laneX(lane: string): number {
  const i = (LANES as readonly string[]).indexOf(lane);
  return LEFT + LANE_W * (i < 0 ? 0 : i) + LANE_W / 2;
}

function ns(t: number): string {
  return `${t.toLocaleString('en-US')} ns`;
}

/** The chart of a counterexample: `<svg class="msc">` with lanes and steps as data attributes. */
export function renderMsc(c: Counterexample): string {
  const textX = LEFT + LANE_W * LANES.length + 16;
  const lines = c.steps.map((s) => `${s.n}. ${ns(s.time_ns)}  ${s.text}`);
  const last = `✗ ${ns(c.time_ns)}  ${c.rule}: ${c.detail}`;
  const widest = Math.max(...lines.map((l) => l.length), last.length);
  const width = Math.ceil(textX + widest * CHAR_W + 16);
  const rows = c.steps.length + 1;
  const height = TOP + rows * ROW + 16;
  const bottom = TOP + rows * ROW;
  const out: string[] = [];
  out.push(
    `<svg class="msc" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${e(`message-sequence chart of ${c.rule}`)}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="11">`,
  );
  out.push(
    '<defs><marker id="msc-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#1f4e79"/></marker></defs>',
  );
  LANES.forEach((lane, i) => {
    const x = LEFT + LANE_W * i + LANE_W / 2;
    out.push(
      `<g class="lane" data-lane="${e(lane)}"><text x="${x}" y="${TOP - 22}" text-anchor="middle" font-weight="bold" fill="#222">${e(lane)}</text><line x1="${x}" y1="${TOP - 12}" x2="${x}" y2="${bottom}" stroke="#9aa5b1" stroke-dasharray="4 3"/></g>`,
    );
  });
  c.steps.forEach((s, i) => {
    const y = TOP + i * ROW + ROW / 2;
    const x1 = laneX(s.lane);
    const mark =
      s.to !== undefined
        ? `<line x1="${x1}" y1="${y}" x2="${laneX(s.to)}" y2="${y}" stroke="#1f4e79" stroke-width="1.6" marker-end="url(#msc-arrow)"/>`
        : `<circle cx="${x1}" cy="${y}" r="4.5" fill="#1f4e79"/>`;
    out.push(
      `<g class="step" data-n="${s.n}" data-lane="${e(s.lane)}"${s.to !== undefined ? ` data-to="${e(s.to)}"` : ''} data-kind="${e(s.kind)}"><title>${e(lines[i]!)}</title><text x="${LEFT - 8}" y="${y + 4}" text-anchor="end" fill="#555">${s.n}</text>${mark}<text x="${textX}" y="${y + 4}" fill="#222">${e(lines[i]!)}</text></g>`,
    );
  });
  const yv = TOP + c.steps.length * ROW + ROW / 2;
  const xv = c.steps.length > 0 ? laneX(c.steps[c.steps.length - 1]!.to ?? c.steps[c.steps.length - 1]!.lane) : LEFT + LANE_W / 2;
  out.push(
    `<g class="violation" data-rule="${e(c.rule)}"><text x="${xv}" y="${yv + 5}" text-anchor="middle" font-size="16" font-weight="bold" fill="#b00020">✗</text><text x="${textX}" y="${yv + 4}" fill="#b00020" font-weight="bold">${e(last)}</text></g>`,
  );
  out.push('</svg>');
  return out.join('\n');
}
