/**
 * The counterexample of a failing run as it appears in every output: the JSON shape (`counterexample`
 * in `run --json`), and the numbered terminal story. The slice itself is built in
 * src/explore/counterexample.ts; the HTML report draws it as a message-sequence chart.
 */

/** Swim lanes of the message-sequence chart, left to right along a fault's path. */
export const LANES = ['function', 'IOMMU hardware', 'driver thread', 'iopf core', 'workqueue/handler', 'VMM'] as const;
export type Lane = (typeof LANES)[number];

export interface CounterexampleStep {
  /** 1-based step number. */
  n: number;
  time_ns: number;
  /** Trace event kind (events.ts name). */
  kind: string;
  /** Where the step happens (or the message leaves from). */
  lane: Lane;
  /** Receiving lane when the step is a message between two lanes. */
  to?: Lane;
  text: string;
}

export interface Counterexample {
  rule: string;
  statement: string;
  source: string;
  time_ns: number;
  /** What the violation is about, in the field's words. */
  where: string;
  /** The checker's finding, internal numbers replaced by field names. */
  detail: string;
  /** Violations of this rule in the run (the first one is the one expanded). */
  count: number;
  steps: CounterexampleStep[];
  /** Slice events left out (the slice is capped at MAX_STEPS, keeping the latest). */
  omitted: number;
  /** Violations of the run grouped by rule, in order of first occurrence. */
  by_rule: { rule: string; count: number }[];
}

function fmtNs(t: number): string {
  return `${t.toLocaleString('en-US')} ns`;
}

/** The counterexample as numbered terminal lines. */
export function formatCounterexample(c: Counterexample): string {
  const lines: string[] = [];
  lines.push(`counterexample: ${c.rule}${c.count > 1 ? ` (${c.count} violations of this rule; the first one)` : ''}${c.where !== '' ? ` at ${c.where}` : ''}`);
  if (c.omitted > 0) lines.push(`  (${c.omitted} earlier steps of the slice not shown)`);
  const w = String(c.steps.length + 1).length;
  const tw = Math.max(...c.steps.map((s) => fmtNs(s.time_ns).length), fmtNs(c.time_ns).length);
  for (const s of c.steps) {
    lines.push(`  ${String(s.n).padStart(w)}. ${fmtNs(s.time_ns).padStart(tw)}  [${s.lane}${s.to !== undefined ? ` → ${s.to}` : ''}] ${s.text}`);
  }
  lines.push(`  ${'✗'.padStart(w + 1)} ${fmtNs(c.time_ns).padStart(tw)}  ${c.rule}: ${c.statement}`);
  lines.push(`  ${''.padStart(w + 1)} ${''.padStart(tw)}  ${c.detail}  [${c.source}]`);
  const others = c.by_rule.filter((b) => b.rule !== c.rule);
  if (others.length > 0) lines.push(`  also broken: ${others.map((b) => `${b.rule} ×${b.count}`).join(', ')}`);
  return lines.join('\n');
}
