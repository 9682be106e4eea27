/**
 * The one place that talks to the plotting library: a Vega-Lite spec in, an SVG string out,
 * rendered headless in Node (Vega's SVG string renderer needs no canvas and no DOM). Data is
 * always inline, so the loader never fetches anything.
 */
import { parse, View, Warn } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec } from 'vega-lite';

/**
 * Vega numbers clip paths and gradients from a process-wide counter, so the same chart gets other
 * ids on a second render. Rename every id (and its references) to `<prefix>-<k>` in order of
 * appearance: output depends on the spec only, and ids stay unique among the plots of one page.
 */
export function renumberIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, `${prefix}-${ids.size + 1}`);
  if (ids.size === 0) return svg;
  return svg.replace(/(\sid="|url\(#|href="#)([^")]+)/g, (all, lead: string, id: string) => {
    const to = ids.get(id);
    return to === undefined ? all : `${lead}${to}`;
  });
}

/** Render a Vega-Lite spec to a standalone `<svg>` element whose ids all start with `idPrefix`. */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none', logLevel: Warn });
  try {
    return renumberIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}
