/**
 * The rule catalogue: every property the checker watches. Each rule is one `defineRule({...})` in
 * the file of its family — ID, side, source (spec section or kernel function), one-line statement,
 * mode, and its check — and this file lists the families in catalogue order. IDs follow the
 * hardware reference (pcie-iommu-hardware.md §1.3, §1.6, §2.3, §2.4) and, for the kernel's
 * contract, our own CORE.* / SVA.* / IOMMUFD.* / LIVENESS.* names (linux-iopf.md §3-§9).
 *
 * How to add a rule (one file):
 *  1. In its family's file (pcie, conservation, liveness, vtd, core, sva, iommufd; a new family is
 *     a new file added to FAMILIES below), append a `defineRule({...})` to the family's array.
 *  2. `on` lists the trace kinds (trace/events.ts) its check wants; `check(st, v)` is called once
 *     per monitor and returns `{ onEvent, deferred?, finish? }`. onEvent sees each event of those
 *     kinds before the shared state (../state.ts) takes it in: read `st` (never write it), keep
 *     what only this rule needs in the closure (typed arrays or maps made in `check`), call
 *     `v.mark()` when the event tests the rule and `v.violate(detail)` when it breaks it. Checks of
 *     what an operation leaves behind go through `v.defer(...)` (run when the virtual instant is
 *     over); end-of-run checks go in `finish`. No strings or objects on the no-violation path.
 *  3. `mode: 'full'` if it needs groups/partials/(device, PASID) state, `deviceOnly` if it needs
 *     device-side events (then Linux ftrace input does not run it), `ftrace` if it can be checked
 *     from the intel_iommu tracepoints alone.
 *  4. Add its holding and breaking sequences to test/check/cases.ts (the catalogue tests fail until
 *     then); test/check/offline.test.ts writes the JSONL fixture test/fixtures/jsonl/<ID>.jsonl
 *     from the breaking one when it is missing (UPDATE_FIXTURES=1 rewrites them all). A shipped
 *     scenario must exercise it (test/e2e/rules-coverage.test.ts).
 */
import { CONSERVATION_RULES } from './conservation.js';
import { CORE_RULES } from './core.js';
import { IOMMUFD_RULES } from './iommufd.js';
import { LIVENESS_RULES } from './liveness.js';
import { PCIE_RULES } from './pcie.js';
import type { Rule, RuleDef } from './rule.js';
import { SVA_RULES } from './sva.js';
import { VTD_RULES } from './vtd.js';

export { defineRule, type Rule, type RuleCheck, type RuleDef, type RuleMode, type RuleSide, type Verdict } from './rule.js';

const FAMILIES: readonly (readonly RuleDef[])[] = [PCIE_RULES, CONSERVATION_RULES, LIVENESS_RULES, VTD_RULES, CORE_RULES, SVA_RULES, IOMMUFD_RULES];

/** Every rule with its check, in catalogue order (the order of RULES). */
export const RULE_DEFS: readonly RuleDef[] = FAMILIES.flat();

/** The catalogue as `iopf list rules` shows it (the definitions without their checks). */
export const RULES: readonly Rule[] = RULE_DEFS.map(({ id, side, source, statement, mode, ftrace }) => ({ id, side, source, statement, mode, ftrace }));

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

const BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));

export function ruleById(id: string): Rule | undefined {
  return BY_ID.get(id);
}

/** Index of a rule in RULES; throws for an unknown ID (a typo in the checker is a programmer error). */
export function ruleIndex(id: string): number {
  const i = RULE_IDS.indexOf(id);
  if (i < 0) throw new Error(`unknown rule ${id}`);
  return i;
}
