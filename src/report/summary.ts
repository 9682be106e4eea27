/**
 * The terminal summary of a run: what a driver developer or an architect wants at a glance —
 * traffic, responses by code, hardware auto-responses and drops, latency percentiles, credit
 * stalls, queue high-water marks, the conservation balance, and any rule violated.
 */
import { groupViolations } from './violations.js';
import { formatCounterexample } from './counterexample.js';
import type { RunReport } from './run-report.js';
import type { Percentiles } from './metrics.js';
import { BUGS } from '../scenario/bugs.js';
import { PROFILE_NAMES, profileByName, type ProfileName } from '../scenario/profiles.js';

/** The known bugs on in this run (the profile's and the extra switches) whose rule it broke. */
export function defectsReached(r: RunReport): { bug: string; rule: string }[] {
  const on = new Set(r.bugs);
  if ((PROFILE_NAMES as readonly string[]).includes(r.kernel))
    for (const s of profileByName(r.kernel as ProfileName).switches) on.add(s);
  const broken = new Set(r.violations.map((v) => v.rule));
  return BUGS.filter(
    (b) => on.has(b.name) && broken.has(b.rule) && (b.family === undefined || b.family === r.iommu),
  ).map((b) => ({ bug: b.name, rule: b.rule }));
}

function ns(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(3)} s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(3)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)} µs`;
  return `${v} ns`;
}

function pct(p: Percentiles): string {
  return p.count === 0 ? '—' : `p50 ${ns(p.p50)}  p99 ${ns(p.p99)}  max ${ns(p.max)}  (n=${p.count})`;
}

const n = (v: number): string => v.toLocaleString('en-US');

export function formatSummary(r: RunReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`  ${k.padEnd(24)} ${v}`);
  };
  lines.push(`iopf run — scenario "${r.scenario}" (kernel ${r.kernel}, ${r.iommu}), seed ${r.seed}${r.bugs.length ? `, bugs: ${r.bugs.join(', ')}` : ''}`);
  row('virtual time', `${ns(r.virtual_time_ns)} (${r.stop_reason})`);
  row('events', n(r.events));
  row('trace sha256', r.trace_sha256);
  lines.push('traffic');
  row('DMA accesses', `${n(r.dma.accesses)} issued, ${n(r.dma.completed)} completed (${n(r.dma.failed)} of them failed)`);
  row('PASIDs', `${n(r.pasids.binds)} binds, ${n(r.pasids.unbinds)} unbinds, ${n(r.pasids.freed)} freed, ${n(r.pasids.reused)} reused by a later bind`);
  row('page requests', `${n(r.page_requests)} in ${n(r.groups)} groups reaching the core, ${n(r.stop_markers)} stop markers`);
  row('responses', `success ${n(r.responses.success)}, invalid ${n(r.responses.invalid)}, failure ${n(r.responses.failure)}${r.responses.other ? `, other ${n(r.responses.other)}` : ''}`);
  row('auto-responses', n(r.auto_responses));
  row('dropped at the queue', n(r.dropped));
  row('credit stalls', `${n(r.credit_stalls)}  ${pct(r.credit_stall_ns)}`);
  lines.push('latency');
  row('group (device)', `${pct(r.latency_ns)}  — first request sent → response received`);
  row('SVA handler', `${pct(r.latency_by_handler_ns.sva)}  — group formed → answered`);
  row('iommufd + VMM', `${pct(r.latency_by_handler_ns.iommufd)}  — group formed → VMM's response`);
  if (Object.keys(r.queue).length > 0) {
    lines.push('queues');
    for (const [k, v] of Object.entries(r.queue)) row(k, n(v));
  }
  const c = r.conservation;
  lines.push('conservation (HOST.CONSERVATION)');
  row(
    'balance',
    `sent ${n(c.sent)} = answered ${n(c.answered)} + auto ${n(c.auto_answered)} + dropped ${n(c.dropped)} + outstanding ${n(c.outstanding)}` +
      (c.unaccounted === 0 ? '  ✓' : `  ✗ unaccounted ${n(c.unaccounted)}`),
  );
  lines.push(`rules exercised: ${r.rules_exercised.length}`);
  // finishRun: liveness is judged only on a run that drained.
  if (r.stop_reason !== 'drained') lines.push(`liveness not judged: the run stopped (${r.stop_reason}) before it drained`);
  if (r.violations_total === 0) lines.push('violations: none');
  else {
    lines.push(`violations: ${n(r.violations_total)}`);
    // One line per rule with its count: the first violation of each rule stands for the rest.
    const groups = groupViolations(r);
    for (const { rule, first, count } of groups) {
      lines.push(`  ${rule}${count > 1 ? ` ×${n(count)}` : ''}: first at ${ns(first.time_ns)}: ${first.detail}`);
    }
    const listed = groups.reduce((a, b) => a + b.count, 0);
    if (r.violations_total > listed) lines.push(`  … ${n(r.violations_total - listed)} more not stored`);
    if (r.counterexample !== undefined) lines.push(formatCounterexample(r.counterexample));
    const known = defectsReached(r);
    if (known.length > 0) {
      lines.push(`known defects of kernel ${r.kernel} reached (iopf list profiles):`);
      for (const d of known) lines.push(`  ${d.bug.padEnd(28)} ${d.rule}`);
    }
    lines.push(`replay: ${r.replay}`);
  }
  return lines.join('\n');
}
