/**
 * The layer order of src/ (issue 15; docs/ARCHITECTURE.md): a layer imports only from itself and
 * the layers below it, and no import cycle exists anywhere — type-only imports included, since a
 * type that must come from above is a boundary in the wrong place. Imports are read with the
 * TypeScript compiler's own pre-processor (import, import type, export … from, dynamic import).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * Lowest first. `root` is src/api.ts and src/index.ts (the library surface). A folder not listed
 * here fails the first test: give it a place.
 */
export const LAYERS: readonly string[] = [
  'sim', // engine, clock, streams, sync primitives, errno, assertions
  'layout', // descriptor tables and the generic coder
  'io', // bounded input files, line reader, ftrace parser
  'scenario', // scenario schema and loader, bug catalogue
  'trace', // event schema, tracer, writers and readers
  'check', // rules, shared state, monitor, offline checker: sees trace events only
  'report', // metrics, summary, run document, HTML report
  'env', // the environment every model layer is built with
  'mm', // address spaces
  'pcie', // the PCIe function, the link messages
  'iopf', // io-pgfault core: fault/response types, driver-ops interface
  'iommu', // hardware queues, codecs, driver glue
  'handlers', // SVA, iommufd
  'workload', // traffic
  'model', // the world: builds and connects the layers; a checked run
  'fit', // fitting a scenario's latencies to a measured trace
  'uapi', // user-space actors on the iommufd uAPI
  'root', // api.ts, index.ts
  'explore', // scenario generation, shrinking, counterexamples: runs through the library façade
  'parallel', // worker pool, sweeps, shards, progress: runs jobs through the library façade
  'cli', // commander wiring
];

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function layerOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? 'root' : parts[0]!;
}

/** Relative imports of a file, resolved to .ts files under src/. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const ref of info.importedFiles) {
    const spec = ref.fileName;
    if (!spec.startsWith('.')) continue;
    const base = resolve(dirname(file), spec).replace(/\.js$/, '');
    const target = [`${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p));
    if (target === undefined) throw new Error(`${relative(SRC, file)}: cannot resolve ${spec}`);
    out.push(target);
  }
  return out;
}

export interface Edge {
  from: string;
  to: string;
}

/** Imports that run from a lower layer to a higher one (or touch a layer not in the order). */
export function upward(edges: readonly Edge[], layers: readonly string[], layer: (f: string) => string): string[] {
  const rank = new Map(layers.map((l, i) => [l, i]));
  const bad: string[] = [];
  for (const e of edges) {
    const a = rank.get(layer(e.from));
    const b = rank.get(layer(e.to));
    if (a === undefined || b === undefined || b > a) bad.push(`${e.from} (${layer(e.from)}) imports ${e.to} (${layer(e.to)})`);
  }
  return bad;
}

/** Strongly connected components with more than one file (or a file importing itself): the cycles. */
export function cycles(nodes: readonly string[], edges: readonly Edge[]): string[][] {
  const adj = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const e of edges) adj.get(e.from)?.push(e.to);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  // Tarjan, iterative (no recursion limit on deep import chains).
  for (const start of nodes) {
    if (idx.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const [v, i] = top;
      if (i === 0) {
        idx.set(v, index);
        low.set(v, index);
        index++;
        stack.push(v);
        on.add(v);
      }
      const next = adj.get(v) ?? [];
      if (i < next.length) {
        top[1] = i + 1;
        const w = next[i]!;
        if (!idx.has(w)) work.push([w, 0]);
        else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const u = work[work.length - 1]![0];
        low.set(u, Math.min(low.get(u)!, low.get(v)!));
      }
      if (low.get(v) === idx.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || next.includes(v)) out.push(scc.sort());
      }
    }
  }
  return out;
}

const files = tsFiles(SRC);
const edges: Edge[] = files.flatMap((f) => importsOf(f).map((to) => ({ from: f, to })));
const rel = (f: string): string => relative(SRC, f);

describe('layers of src/', () => {
  it('ARCH.LAYERS_KNOWN: every folder of src/ has a place in the layer order', () => {
    const unknown = [...new Set(files.map(layerOf))].filter((l) => !LAYERS.includes(l));
    expect(unknown).toEqual([]);
  });

  it('ARCH.NO_UPWARD_IMPORT: the list of imports from a lower layer to a higher one is empty', () => {
    const relEdges = edges.map((e) => ({ from: rel(e.from), to: rel(e.to) }));
    expect(upward(relEdges, LAYERS, (f) => layerOf(join(SRC, f)))).toEqual([]);
  });

  it('ARCH.NO_CYCLE: the list of import cycles (type-only imports included) is empty', () => {
    expect(cycles(files.map(rel), edges.map((e) => ({ from: rel(e.from), to: rel(e.to) })))).toEqual([]);
  });

  it('ARCH.CHECKER_CATCHES: an upward import and a cycle planted in a small graph are reported', () => {
    const layer = (f: string): string => f.split('/')[0]!;
    const planted = [
      { from: 'a/x.ts', to: 'b/y.ts' },
      { from: 'b/y.ts', to: 'b/z.ts' },
      { from: 'b/z.ts', to: 'b/y.ts' },
    ];
    expect(upward(planted, ['a', 'b'], layer)).toEqual(['a/x.ts (a) imports b/y.ts (b)']);
    expect(upward(planted, ['b', 'a'], layer)).toEqual([]);
    expect(cycles(['a/x.ts', 'b/y.ts', 'b/z.ts'], planted)).toEqual([['b/y.ts', 'b/z.ts']]);
    expect(cycles(['a/x.ts'], [{ from: 'a/x.ts', to: 'a/x.ts' }])).toEqual([['a/x.ts']]);
  });
});
