/**
 * Violations grouped by rule: one entry per rule, in order of its first violation, with how many
 * times it broke and the first one spelled out — the terminal summary, the JSON document
 * (`violations_by_rule`) and the HTML report show a run's violations this way, so 64 rows of the
 * same rule read as one line with ×64.
 */
import type { RunReport, Violation } from './run-report.js';

export interface RuleViolations {
  rule: string;
  /** Violations of the rule in the whole run (the stored list may be capped; the checker's count is
   * used when the run document has it). */
  count: number;
  /** The first violation of the rule. */
  first: Violation;
  /** Further stored violations of the rule, in order (at most `keep`). */
  more: Violation[];
}

/** Group the run's violations by rule; `keep` bounds the stored further violations per rule. */
export function groupViolations(r: Pick<RunReport, 'violations' | 'counterexample'>, keep = 0): RuleViolations[] {
  const byRule = new Map<string, RuleViolations>();
  for (const v of r.violations) {
    const g = byRule.get(v.rule);
    if (g === undefined) byRule.set(v.rule, { rule: v.rule, count: 1, first: v, more: [] });
    else {
      g.count++;
      if (g.more.length < keep) g.more.push(v);
    }
  }
  // The stored list may be capped: the checker's own count per rule is the true one.
  for (const b of r.counterexample?.by_rule ?? []) {
    const g = byRule.get(b.rule);
    if (g !== undefined) g.count = Math.max(g.count, b.count);
  }
  return [...byRule.values()];
}

/** The JSON form (`violations_by_rule`): rule, count, first. */
export function violationsByRuleJson(r: Pick<RunReport, 'violations' | 'counterexample'>): { rule: string; count: number; first: Violation }[] {
  return groupViolations(r).map((g) => ({ rule: g.rule, count: g.count, first: g.first }));
}
