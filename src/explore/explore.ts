/**
 * Swarm exploration over generated scenarios: generator seed i draws scenario i, which runs with
 * seed i. Without known-bug variants any violation is a finding; with them, a finding is a run
 * that breaks one of the variants' rules *and* does not break it without them (differential: the
 * failure is the variant's, not the profile's own behaviour or another rule's noise). Each try is a
 * pure function of (seed, kernel, bugs), so a worker pool may run them in any order; the budget
 * (runs, or a wall-clock limit the CLI checks between tries) only decides how many are tried.
 */
import { simulate } from '../api.js';
import { BUGS } from '../scenario/bugs.js';
import { profilesWith } from '../scenario/profiles.js';
import type { Scenario, ScenarioInput } from '../scenario/schema.js';
import { generateScenario, type GenerateOptions } from './generate.js';

export interface Finding {
  /** Generator seed, which is also the run's seed. */
  seed: number;
  doc: ScenarioInput;
  scenario: Scenario;
  /** The rule the finding breaks (the one shrinking keeps). */
  rule: string;
  /** Every rule the run broke. */
  rules: string[];
  violations: number;
}

/** The rules named by the known-bug variants switched on. */
export function bugRules(bugs: readonly string[]): Set<string> {
  return new Set(BUGS.filter((b) => bugs.includes(b.name)).map((b) => b.rule));
}

/**
 * The generator's options for a search: a bug is looked for under the profiles that do not
 * already contain it (there the run without it would break the same rule) and in which its code
 * runs at all (none of its `inertWith` forms).
 */
export function generatorOptions(bugs: readonly string[], gen: GenerateOptions = {}): GenerateOptions {
  const variants = BUGS.filter((b) => bugs.includes(b.name));
  const avoid =
    gen.kernel === undefined && bugs.length > 0
      ? [...new Set([...bugs.flatMap((b) => profilesWith(b)), ...variants.flatMap((b) => (b.inertWith ?? []).flatMap((f) => profilesWith(f)))])]
      : [];
  // A driver's bug is looked for behind that driver's IOMMU (when every variant names one).
  const families = [...new Set(variants.map((b) => b.family))];
  const family = gen.family ?? (families.length === 1 && families[0] !== undefined ? families[0] : undefined);
  const out: GenerateOptions = { ...gen };
  if (avoid.length > 0) out.avoidKernels = avoid;
  if (family !== undefined) out.family = family;
  return out;
}

/** One try: generate scenario `seed`, run it, and say whether it is a finding. */
export function tryGenerated(seed: number, bugs: readonly string[], gen: GenerateOptions = {}): Finding | undefined {
  const { doc, scenario } = generateScenario(seed, generatorOptions(bugs, gen));
  const r = simulate(scenario, { seed, bugs, noHistograms: true });
  if (r.report.violations_total === 0) return undefined;
  const rules = [...new Set(r.report.violations.map((v) => v.rule))];
  let rule = rules[0]!;
  if (bugs.length > 0) {
    const wanted = bugRules(bugs);
    const clean = new Set(simulate(scenario, { seed, noHistograms: true }).report.violations.map((v) => v.rule));
    const found = rules.find((x) => wanted.has(x) && !clean.has(x));
    if (found === undefined) return undefined;
    rule = found;
  }
  return { seed, doc, scenario, rule, rules, violations: r.report.violations_total };
}

export interface ExploreOptions {
  /** First generator seed. */
  seed: number;
  /** Most tries. */
  runs: number;
  bugs: readonly string[];
  gen?: GenerateOptions;
  /** Asked before each try after the first (a wall-clock budget lives in the caller). */
  shouldStop?: () => boolean;
}

/** Try seeds seed, seed+1, … until a finding, `runs` tries, or `shouldStop`. */
export function exploreGenerated(o: ExploreOptions): { runs: number; finding: Finding | undefined } {
  let runs = 0;
  for (let s = o.seed; runs < o.runs; s++) {
    if (runs > 0 && o.shouldStop?.() === true) break;
    runs++;
    const f = tryGenerated(s, o.bugs, o.gen ?? {});
    if (f !== undefined) return { runs, finding: f };
  }
  return { runs, finding: undefined };
}
