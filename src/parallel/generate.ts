/**
 * `explore --generate` on the worker pool. Generator seed i is one job (draw scenario i, run it,
 * compare with the run without the bugs); results are taken in seed order, so the first finding,
 * the number of tries reported and everything derived from them (the scenario file, the shrunk
 * scenario, the counterexample) are those of the one-thread search: tries of later seeds still
 * running on other threads when an earlier one fails are thrown away.
 */
import { generateScenario, type GenerateOptions } from '../explore/generate.js';
import { generatorOptions, type Finding } from '../explore/explore.js';
import { mapOrdered, type Executor } from './pool.js';
import type { GenerateJob } from './jobs.js';

export interface ParallelExploreOptions {
  /** First generator seed. */
  seed: number;
  /** Most tries. */
  runs: number;
  bugs: readonly string[];
  gen?: GenerateOptions;
  /** Asked after each try, in seed order (a wall-clock budget lives in the caller). */
  shouldStop?: () => boolean;
  /** Tries done so far, in seed order (for a progress bar). */
  onTry?: (done: number) => void;
}

function* generateJobs(o: ParallelExploreOptions, gen: GenerateOptions): Generator<GenerateJob> {
  for (let i = 0; i < o.runs; i++) yield { kind: 'generate', seed: o.seed + i, bugs: o.bugs, gen };
}

/** The parallel form of exploreGenerated(): the same tries, the same finding. */
export async function exploreGeneratedOn(exec: Executor, o: ParallelExploreOptions): Promise<{ runs: number; finding: Finding | undefined }> {
  const gen = generatorOptions(o.bugs, o.gen ?? {});
  let runs = 0;
  let hit: { seed: number; rule: string; rules: string[]; violations: number } | undefined;
  await mapOrdered(generateJobs(o, gen), exec.runGenerate, {
    concurrency: exec.threads,
    onResult: (r) => {
      runs++;
      o.onTry?.(runs);
      if (r.finding !== null) {
        hit = { seed: r.seed, ...r.finding };
        return false;
      }
      return o.shouldStop?.() !== true;
    },
  });
  if (hit === undefined) return { runs, finding: undefined };
  // The worker sent the verdict only: draw the scenario again here (same seed, same document).
  const { doc, scenario } = generateScenario(hit.seed, gen);
  return { runs, finding: { seed: hit.seed, doc, scenario, rule: hit.rule, rules: hit.rules, violations: hit.violations } };
}
