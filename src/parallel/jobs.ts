/**
 * One unit of parallel work: simulate (scenario, seed, options) and keep what the caller needs.
 * The same function runs in a worker thread and, for `--jobs 1`, in the main thread, so a result
 * never depends on where it ran: the model is deterministic and keeps no state across runs.
 */
import { simulate, type ProfileName, type Scenario, type RunReport, type SimulateOptions } from '../api.js';
import { PrefixChooser } from '../sim/random.js';
import type { HistName } from '../report/metrics.js';
import { tryGenerated } from '../explore/explore.js';
import type { GenerateOptions } from '../explore/generate.js';

export interface SimJob {
  /** A validated scenario (plain data: it crosses to the worker by structured clone). */
  scenario: Scenario;
  /** How to name the scenario in replay commands (a path or shipped name). */
  scenarioRef: string;
  seed: number;
  /** Known-bug variants switched on in addition to the scenario's. */
  bugs?: readonly string[];
  /** Kernel profile instead of the scenario's (`--kernel`). */
  kernel?: ProfileName;
  /** Depth-first exploration: the choice prefix; without it, the seed's random schedule. */
  prefix?: readonly number[];
  untilNs?: number;
  check?: 'off' | 'cheap' | 'full';
  /** Extra parts of the result (each costs a copy back from the worker). */
  want?: { histograms?: boolean; choices?: boolean; report?: boolean };
}

export interface SimJobResult {
  seed: number;
  trace_sha256: string;
  violations_total: number;
  /** Distinct rules broken, in the order of their first violation. */
  rules: string[];
  replay: string;
  page_requests: number;
  events: number;
  /** Metrics.encode() of the run, when asked for. */
  histograms?: Record<HistName, string>;
  /** The choices taken and the number of alternatives at each (with `prefix` and want.choices). */
  taken?: number[];
  arity?: number[];
  /** The whole run document, when asked for. */
  report?: RunReport;
}

export function runJob(job: SimJob): SimJobResult {
  const opts: SimulateOptions = { seed: job.seed, scenarioRef: job.scenarioRef, bugs: job.bugs ?? [] };
  if (job.untilNs !== undefined) opts.untilNs = job.untilNs;
  if (job.check !== undefined) opts.check = job.check;
  if (job.kernel !== undefined) opts.kernel = job.kernel;
  const chooser = job.prefix !== undefined ? new PrefixChooser(job.prefix) : undefined;
  if (chooser !== undefined) opts.chooser = chooser;
  const r = simulate(job.scenario, opts);
  const rep = r.report;
  const out: SimJobResult = {
    seed: rep.seed,
    trace_sha256: rep.trace_sha256,
    violations_total: rep.violations_total,
    rules: [...new Set(rep.violations.map((v) => v.rule))],
    replay: rep.replay,
    page_requests: rep.page_requests,
    events: rep.events,
  };
  if (job.want?.histograms === true) out.histograms = r.metrics.encode();
  if (job.want?.choices === true && chooser !== undefined) {
    out.taken = chooser.taken;
    out.arity = chooser.arity;
  }
  if (job.want?.report === true) out.report = rep;
  return out;
}

/**
 * One try of `explore --generate`: draw scenario `seed`, run it with seed `seed`, and say whether
 * it is a finding. Only the verdict crosses back; the caller draws the finding's scenario again
 * (the generator is a pure function of the seed), which costs far less than cloning every try's
 * document back from the worker.
 */
export interface GenerateJob {
  kind: 'generate';
  seed: number;
  bugs: readonly string[];
  gen: GenerateOptions;
}

export interface GenerateJobResult {
  seed: number;
  /** The rule the finding breaks, every rule the run broke, and its violation count; null: no finding. */
  finding: { rule: string; rules: string[]; violations: number } | null;
}

export function runGenerateJob(job: GenerateJob): GenerateJobResult {
  const f = tryGenerated(job.seed, job.bugs, job.gen);
  return { seed: job.seed, finding: f === undefined ? null : { rule: f.rule, rules: f.rules, violations: f.violations } };
}

/** Any job the pool's workers take. */
export type AnyJob = SimJob | GenerateJob;

export function isGenerateJob(job: AnyJob): job is GenerateJob {
  return (job as GenerateJob).kind === 'generate';
}
