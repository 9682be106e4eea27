/**
 * The saved run document (`iopf run --json`) as the HTML report reads it back: the compact
 * histograms it carries, and its validation (every field the report shows must be present with
 * the right type; unknown fields are ignored so newer documents still render).
 */
import * as hdr from 'hdr-histogram-js';
import { z } from 'zod';
import { decodeHistogram, HIST_NAMES, type HistName, type Metrics } from './metrics.js';
import type { RunReport } from './run-report.js';
import { LANES } from './counterexample.js';

/** The histograms the report plots. */
const DOCUMENT_HISTS: readonly HistName[] = ['group_latency_ns', 'sva_ns', 'iommufd_ns', 'credit_stall_ns'];

/**
 * The run's non-empty plotted histograms, re-binned to 2 significant digits (values within 1%)
 * and compressed: about a third of the size of the full-precision form, which is plenty for a
 * percentile plot and keeps `--json` small. Still decodable by Metrics.merge.
 */
export function encodeDocumentHistograms(m: Metrics): Partial<Record<HistName, string>> {
  const out: Partial<Record<HistName, string>> = {};
  for (const name of DOCUMENT_HISTS) {
    const src = m.hist[name];
    if (src.totalCount === 0) continue;
    const coarse = hdr.build({
      bitBucketSize: 32,
      autoResize: true,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000_000,
      numberOfSignificantValueDigits: 2,
      useWebAssembly: false,
    });
    coarse.add(src);
    out[name] = hdr.encodeIntoCompressedBase64(coarse);
  }
  return out;
}

const int = z.number().int();
const count = int.nonnegative();
const percentiles = z.object({ count, p50: z.number(), p99: z.number(), max: z.number(), mean: z.number() });

const histNames = z.enum(HIST_NAMES);

export const runReportSchema = z.object({
  seed: count,
  scenario: z.string(),
  kernel: z.string(),
  iommu: z.string(),
  bugs: z.array(z.string()),
  events: count,
  virtual_time_ns: count,
  stop_reason: z.string(),
  trace_sha256: z.string(),
  page_requests: count,
  stop_markers: count,
  groups: count,
  responses: z.object({ success: count, invalid: count, failure: count, other: count }),
  auto_responses: count,
  dropped: count,
  violations: z.array(z.object({ rule: z.string(), time_ns: z.number(), detail: z.string() })),
  violations_total: count,
  rules_exercised: z.array(z.string()),
  latency_ns: percentiles,
  latency_by_handler_ns: z.object({ sva: percentiles, iommufd: percentiles }),
  credit_stalls: count,
  credit_stall_ns: percentiles,
  dma: z.object({ accesses: count, completed: count, failed: count }),
  pasids: z.object({ binds: count, unbinds: count, freed: count, reused: count }),
  queue: z.record(z.string(), z.number()),
  conservation: z.object({ sent: count, answered: count, auto_answered: count, dropped: count, outstanding: count, unaccounted: int }),
  counters: z.record(z.string(), z.number()),
  replay: z.string(),
  counterexample: z
    .object({
      rule: z.string(),
      statement: z.string(),
      source: z.string(),
      time_ns: z.number(),
      where: z.string(),
      detail: z.string(),
      count: count,
      steps: z.array(
        z.object({ n: count, time_ns: z.number(), kind: z.string(), lane: z.enum(LANES), to: z.enum(LANES).optional(), text: z.string() }),
      ),
      omitted: count,
      by_rule: z.array(z.object({ rule: z.string(), count })),
    })
    .optional(),
  violations_by_rule: z
    .array(z.object({ rule: z.string(), count, first: z.object({ rule: z.string(), time_ns: z.number(), detail: z.string() }) }))
    .optional(),
  histograms: z.partialRecord(histNames, z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64')).optional(),
});

export type ParsedRunReport = { ok: true; value: RunReport } | { ok: false; error: string };

/** Validate a parsed JSON value as a run document; the error names the first bad fields. */
export function parseRunReport(data: unknown): ParsedRunReport {
  const p = runReportSchema.safeParse(data);
  if (!p.success) {
    const issues = p.error.issues.slice(0, 5).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(document)'}: ${i.message}`);
    const more = p.error.issues.length > 5 ? `; … ${p.error.issues.length - 5} more` : '';
    return { ok: false, error: `not an \`iopf run --json\` document: ${issues.join('; ')}${more}` };
  }
  const { histograms, counterexample, violations_by_rule: byRule, ...rest } = p.data;
  const value: RunReport = rest;
  if (byRule !== undefined) value.violations_by_rule = byRule;
  if (counterexample !== undefined) {
    const { steps, ...ce } = counterexample;
    value.counterexample = {
      ...ce,
      steps: steps.map(({ to, ...st }) => (to === undefined ? st : { ...st, to })),
    };
  }
  if (histograms !== undefined) {
    const h: Partial<Record<HistName, string>> = {};
    for (const n of HIST_NAMES) {
      const e = histograms[n];
      if (e === undefined) continue;
      const d = decodeHistogram(e);
      if (!d.ok) return { ok: false, error: `not an \`iopf run --json\` document: histograms.${n}: ${d.error}` };
      h[n] = e;
    }
    value.histograms = h;
  }
  return { ok: true, value };
}
