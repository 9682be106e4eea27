// Where the time goes, by layer: self time of a V8 CPU profile (node --cpu-prof) summed per
// source folder of dist/ (sim, pcie, iommu/vtd, iopf, handlers/sva, check, trace, …), with the
// libraries and V8 itself as their own rows, so the rows add up to 100 % of the samples.
//   node --cpu-prof --cpu-prof-dir=prof bench/pipeline.mjs pc 1e6 cheap none sva
//   node bench/profile-layers.mjs prof/<file>.cpuprofile [top functions per layer = 3]
import { readFileSync } from 'node:fs';

const [file, topArg = '3'] = process.argv.slice(2);
const top = Number(topArg);
const p = JSON.parse(readFileSync(file, 'utf8'));
const selfUs = new Map();
for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));

function layer(cf) {
  const url = cf.url;
  const m = /\/dist\/(.+)\/[^/]+\.js$/.exec(url);
  if (m && !url.includes('node_modules')) return m[1];
  if (/\/dist\/[^/]+\.js$/.test(url) && !url.includes('node_modules')) return '(api)';
  if (url.includes('hdr-histogram-js')) return 'lib: hdr-histogram-js';
  if (url.includes('node_modules')) return `lib: ${url.split('node_modules/')[1]?.split('/')[0] ?? '?'}`;
  if (cf.functionName === 'update' || url.includes('crypto')) return 'node: crypto (trace SHA-256)';
  if (cf.functionName === '(garbage collector)') return 'V8: garbage collector';
  if (url.startsWith('node:') || url === '' || url.startsWith('internal')) return cf.functionName.startsWith('(') ? `V8: ${cf.functionName}` : 'node: start-up and I/O';
  if (url.includes('/bench/')) return 'bench harness';
  return 'other';
}

const layers = new Map();
let total = 0;
for (const n of p.nodes) {
  const t = selfUs.get(n.id) ?? 0;
  if (t === 0) continue;
  total += t;
  const l = layer(n.callFrame);
  const e = layers.get(l) ?? { t: 0, fns: new Map() };
  e.t += t;
  const fn = `${n.callFrame.functionName || '(anon)'}:${n.callFrame.lineNumber + 1}`;
  e.fns.set(fn, (e.fns.get(fn) ?? 0) + t);
  layers.set(l, e);
}
const pct = (t) => `${((100 * t) / total).toFixed(1)}%`;
console.log(`total ${(total / 1e6).toFixed(2)} s of samples`);
console.log('| layer | self time | top functions |');
console.log('|---|---:|---|');
for (const [l, e] of [...layers].sort((a, b) => b[1].t - a[1].t)) {
  const fns = [...e.fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([f, t]) => `${f} ${pct(t)}`).join(', ');
  console.log(`| ${l} | ${pct(e.t)} | ${fns} |`);
}
