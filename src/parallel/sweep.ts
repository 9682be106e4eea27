/**
 * Sweep results: one file per shard (or per whole sweep), merged exactly. A file lists its runs in
 * seed order and carries its histograms as HDR counts, so merging shards gives, byte for byte, the
 * file one process would have written for the same seeds: runs sorted by seed, histogram counts
 * added (addition commutes; the encoding depends on the counts only).
 */
import { z } from 'zod';
import { Metrics, HIST_NAMES, type HistName, type Percentiles } from '../report/metrics.js';
import { shardSeeds } from './shard.js';
import type { SimJobResult } from './jobs.js';

export const SWEEP_FORMAT = 'iopf-sweep/1';

const run = z.strictObject({
  seed: z.number().int(),
  trace_sha256: z.string(),
  violations_total: z.number().int(),
  rules: z.array(z.string()),
  page_requests: z.number().int(),
  events: z.number().int(),
});

export const sweepFileSchema = z.strictObject({
  format: z.literal(SWEEP_FORMAT),
  scenario: z.string(),
  /** The kernel profile the runs used (the scenario's, or `--kernel`). */
  kernel: z.string(),
  bugs: z.array(z.string()),
  seed_range: z.strictObject({ first: z.number().int(), last: z.number().int() }),
  /** Which shards of `count` the file holds; a complete sweep is { count: 1, indices: [0] }. */
  shards: z.strictObject({ count: z.number().int().min(1), indices: z.array(z.number().int().nonnegative()) }),
  runs: z.array(run),
  histograms: z.record(z.string(), z.string()),
});
export type SweepFile = z.infer<typeof sweepFileSchema>;
export type SweepRun = z.infer<typeof run>;

/** Accumulates per-seed results, in seed order, into a sweep file. */
export class SweepBuilder {
  private readonly metrics = new Metrics();
  private readonly runs: SweepRun[] = [];
  /** Runs with a violation, and violations in all runs, so far. */
  failing = 0;
  violations = 0;
  constructor(
    private readonly head: Pick<SweepFile, 'scenario' | 'kernel' | 'bugs' | 'seed_range' | 'shards'>,
  ) {}
  add(r: SimJobResult): void {
    this.runs.push({ seed: r.seed, trace_sha256: r.trace_sha256, violations_total: r.violations_total, rules: r.rules, page_requests: r.page_requests, events: r.events });
    if (r.violations_total > 0) this.failing++;
    this.violations += r.violations_total;
    if (r.histograms !== undefined) this.metrics.merge(r.histograms);
  }
  get count(): number {
    return this.runs.length;
  }
  build(): SweepFile {
    return { format: SWEEP_FORMAT, ...this.head, runs: this.runs, histograms: this.metrics.encode() };
  }
}

/** The file's text: fixed key order, one trailing newline. */
export function serializeSweep(f: SweepFile): string {
  const ordered: SweepFile = {
    format: f.format,
    scenario: f.scenario,
    kernel: f.kernel,
    bugs: f.bugs,
    seed_range: { first: f.seed_range.first, last: f.seed_range.last },
    shards: { count: f.shards.count, indices: f.shards.indices },
    runs: f.runs.map((r) => ({ seed: r.seed, trace_sha256: r.trace_sha256, violations_total: r.violations_total, rules: r.rules, page_requests: r.page_requests, events: r.events })),
    histograms: Object.fromEntries(HIST_NAMES.filter((n) => f.histograms[n] !== undefined).map((n) => [n, f.histograms[n]!])),
  };
  return `${JSON.stringify(ordered)}\n`;
}

export type MergeOutcome = { ok: true; file: SweepFile; missing: number[] } | { ok: false; error: string };

/**
 * Merge shard files of one sweep. Refused (with the file named): different scenario, bugs, seed
 * range or shard count; a shard present twice; a file whose runs are not exactly its shards' seeds
 * (a truncated or edited shard). `missing` lists absent shard indices; when none, the result is
 * the whole sweep's file.
 */
export function mergeSweeps(files: readonly { name: string; file: SweepFile }[]): MergeOutcome {
  if (files.length === 0) return { ok: false, error: 'merge: no files' };
  const first = files[0]!.file;
  const key = (f: SweepFile): string => JSON.stringify([f.scenario, f.kernel, f.bugs, f.seed_range, f.shards.count]);
  const owner = new Map<number, string>();
  const metrics = new Metrics();
  const runs: SweepRun[] = [];
  for (const { name, file } of files) {
    if (key(file) !== key(first))
      return {
        ok: false,
        error: `${name}: a shard of ${file.scenario} seeds ${file.seed_range.first}..${file.seed_range.last} (kernel ${file.kernel}) in ${file.shards.count} shards, bugs [${file.bugs.join(', ')}]; ${files[0]!.name} is of ${first.scenario} seeds ${first.seed_range.first}..${first.seed_range.last} (kernel ${first.kernel}) in ${first.shards.count} shards, bugs [${first.bugs.join(', ')}]`,
      };
    const expected: number[] = [];
    for (const i of file.shards.indices) {
      if (i >= file.shards.count) return { ok: false, error: `${name}: shards.indices: ${i} is not below the count ${file.shards.count}` };
      const prev = owner.get(i);
      if (prev !== undefined) return { ok: false, error: `${name}: shard ${i}/${file.shards.count} is also in ${prev}` };
      owner.set(i, name);
      // One at a time: spreading 10^5 seeds into push() overflows the call stack.
      for (const seed of shardSeeds(file.seed_range.first, file.seed_range.last, { index: i, count: file.shards.count })) expected.push(seed);
    }
    expected.sort((a, b) => a - b);
    const got = file.runs.map((r) => r.seed);
    if (got.length !== expected.length || got.some((s, k) => s !== expected[k]))
      return { ok: false, error: `${name}: runs: expected the ${expected.length} seeds of shards [${file.shards.indices.join(', ')}] in order, found ${got.length} runs` };
    for (const run of file.runs) runs.push(run);
    const h: Partial<Record<HistName, string>> = {};
    for (const n of HIST_NAMES) if (file.histograms[n] !== undefined) h[n] = file.histograms[n];
    // Histograms come from a file: a bad encoding is the input's error, not ours.
    const bad = metrics.mergeChecked(h);
    if (bad !== undefined) return { ok: false, error: `${name}: histograms.${bad}` };
  }
  runs.sort((a, b) => a.seed - b.seed);
  const missing: number[] = [];
  for (let i = 0; i < first.shards.count; i++) if (!owner.has(i)) missing.push(i);
  const shards = missing.length === 0 ? { count: 1, indices: [0] } : { count: first.shards.count, indices: [...owner.keys()].sort((a, b) => a - b) };
  return { ok: true, missing, file: { format: SWEEP_FORMAT, scenario: first.scenario, kernel: first.kernel, bugs: first.bugs, seed_range: first.seed_range, shards, runs, histograms: metrics.encode() } };
}

export interface SweepSummary {
  scenario: string;
  kernel: string;
  bugs: string[];
  seeds: string;
  shards: string;
  runs: number;
  failing_seeds: number[];
  /** Per failing seed, in seed order: the rules it broke (at most 100 listed). */
  failing: { seed: number; rules: string[] }[];
  page_requests: number;
  events: number;
  latency_ns: Percentiles;
  sva_ns: Percentiles;
  iommufd_ns: Percentiles;
}

export function summarizeSweep(f: SweepFile): SweepSummary {
  const m = new Metrics();
  const h: Partial<Record<HistName, string>> = {};
  for (const n of HIST_NAMES) if (f.histograms[n] !== undefined) h[n] = f.histograms[n];
  m.merge(h);
  const failing = f.runs.filter((r) => r.violations_total > 0);
  return {
    scenario: f.scenario,
    kernel: f.kernel,
    bugs: f.bugs,
    seeds: `${f.seed_range.first}..${f.seed_range.last}`,
    shards: f.shards.count === 1 ? 'all' : `${f.shards.indices.join(',')} of ${f.shards.count}`,
    runs: f.runs.length,
    failing_seeds: failing.map((r) => r.seed),
    failing: failing.slice(0, 100).map((r) => ({ seed: r.seed, rules: r.rules })),
    page_requests: f.runs.reduce((a, r) => a + r.page_requests, 0),
    events: f.runs.reduce((a, r) => a + r.events, 0),
    latency_ns: m.summary('group_latency_ns'),
    sva_ns: m.summary('sva_ns'),
    iommufd_ns: m.summary('iommufd_ns'),
  };
}
