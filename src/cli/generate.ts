/**
 * CLI actions of scenario generation and shrinking: `iopf explore --generate` and `iopf shrink`.
 * The wall-clock budget of `--time` is read here only (model code never reads the clock): it only
 * decides how many generator seeds are tried, never what one of them does.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadScenario, formatDiagnostic, type Scenario } from '../api.js';
import type { ScenarioInput } from '../scenario/schema.js';
import { BUG_NAMES } from '../scenario/bugs.js';
import { ReplayChooser } from '../sim/random.js';
import { exploreGeneratedOn } from '../parallel/generate.js';
import { createExecutor, defaultJobs } from '../parallel/pool.js';
import { startProgress } from './progress.js';
import { kernelProfiles, toYaml } from '../explore/generate.js';
import { shrink, ShrinkError, type ShrinkResult } from '../explore/shrink.js';
import { counterexample, formatCounterexample, type Counterexample } from '../explore/counterexample.js';
import { EXIT, UsageError, printJson, readJsonInput } from './output.js';
import { MiB } from '../io/input-file.js';

function checkBugs(bugs: readonly string[]): void {
  for (const b of bugs) if (!BUG_NAMES.includes(b)) throw new UsageError(`--bug: unknown variant "${b}" (known: ${BUG_NAMES.join(', ')})`);
}

function checkKernel(k: string | undefined): void {
  if (k !== undefined && !kernelProfiles().includes(k)) throw new UsageError(`--kernel: unknown profile "${k}" (known: ${kernelProfiles().join(', ')})`);
}

/** "60s", "90", "2m", "500ms" → milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(v.trim());
  if (m === null) throw new UsageError(`--time: expected a duration like 60s, 2m or 500ms, got "${v}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function replayLine(file: string, seed: number, bugs: readonly string[]): string {
  return ['iopf', 'run', file, '--seed', String(seed), ...bugs.flatMap((b) => ['--bug', b])].join(' ');
}

function write(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

interface Written {
  scenario_file: string;
  replay: string;
  choices_file?: string;
}

/** Write a shrunk scenario (and its choice list when the run needs one); say how to replay it. */
function writeShrunk(file: string, r: ShrinkResult, header: string): Written {
  write(file, toYaml(r.doc, header));
  if (r.choices === undefined) return { scenario_file: file, replay: replayLine(file, r.seed, r.bugs) };
  const cf = `${file.replace(/\.yaml$/, '')}.choices.json`;
  write(cf, `${JSON.stringify({ scenario: file, seed: r.seed, bugs: r.bugs, until_ns: null, choices: r.choices, mode: 'random' })}\n`);
  return { scenario_file: file, replay: `iopf replay ${cf}`, choices_file: cf };
}

function explainShrunk(r: ShrinkResult): Counterexample | undefined {
  return counterexample(r.scenario, { seed: r.seed, bugs: r.bugs, rule: r.rule, ...(r.choices !== undefined ? { chooser: new ReplayChooser(r.choices) } : {}) });
}

function shrinkLines(r: ShrinkResult, w: Written): string[] {
  return [
    `shrunk in ${r.runs} runs (${r.steps} steps, size ${r.size.before} → ${r.size.after}): ${w.scenario_file}${w.choices_file !== undefined ? ` + ${w.choices_file}` : ''}`,
    `replay: ${w.replay}`,
  ];
}

export interface ExploreGenerateOpts {
  runs?: number;
  time?: string;
  seed: number;
  kernel?: string;
  bug: string[];
  json?: boolean;
  shrink?: boolean;
  out?: string;
  /** Worker threads (default: every core). */
  jobs?: number;
}

export async function exploreGenerateCommand(o: ExploreGenerateOpts): Promise<void> {
  checkBugs(o.bug);
  checkKernel(o.kernel);
  const budgetMs = o.time !== undefined ? parseDuration(o.time) : undefined;
  const runs = o.runs ?? (budgetMs !== undefined ? 1_000_000 : 100);
  if (runs < 1 || runs > 1_000_000) throw new UsageError('--runs: expected 1..1000000');
  const out = o.out ?? '.';
  if (!existsSync(out)) mkdirSync(out, { recursive: true });
  const started = Date.now();
  // Tries run on the pool in seed order; the first finding is the one-thread search's.
  const exec = createExecutor(Math.max(1, Math.min(o.jobs ?? defaultJobs(), runs)));
  // Under --time the total is unknown: no bar (a bar needs a total).
  const progress = startProgress({ label: 'explore --generate', unit: 'scenarios', total: runs, enabled: o.json !== true && budgetMs === undefined });
  let res: Awaited<ReturnType<typeof exploreGeneratedOn>>;
  try {
    res = await exploreGeneratedOn(exec, {
      seed: o.seed,
      runs,
      bugs: o.bug,
      gen: o.kernel !== undefined ? { kernel: o.kernel } : {},
      ...(budgetMs !== undefined ? { shouldStop: () => Date.now() - started >= budgetMs } : {}),
      onTry: (n) => {
        progress.update(n, 0);
      },
    });
  } finally {
    progress.stop();
    await exec.close();
  }
  const elapsedMs = Date.now() - started;
  const what = `${o.kernel !== undefined ? ` --kernel ${o.kernel}` : ''}${o.bug.map((b) => ` --bug ${b}`).join('')}`;
  const f = res.finding;
  if (f === undefined) {
    if (o.json === true) printJson({ mode: 'generate', first_seed: o.seed, runs: res.runs, elapsed_ms: elapsedMs, kernel: o.kernel ?? null, bugs: o.bug, found: null });
    else process.stdout.write(`explore --generate${what}: ${res.runs} generated scenarios (seeds ${o.seed}..${o.seed + res.runs - 1}), no violation\n`);
    return;
  }
  const base = join(out, `generated-${f.seed}`);
  const file = `${base}.yaml`;
  write(file, toYaml(f.doc, `iopf explore --generate --seed ${f.seed}${what}\nbreaks ${f.rule} at seed ${f.seed}: ${replayLine(file, f.seed, o.bug)}`));
  const lines = [
    `explore --generate${what}: generated scenario ${res.runs} (seed ${f.seed}, ${f.scenario.kernel}, ${f.scenario.iommu.family}) breaks ${f.rules.join(', ')} (${f.violations} violation${f.violations === 1 ? '' : 's'}) after ${(elapsedMs / 1000).toFixed(1)} s`,
    `scenario: ${file}`,
    `replay: ${replayLine(file, f.seed, o.bug)}`,
  ];
  let shrunk: (Written & { runs: number; steps: number; size: { before: number; after: number } }) | undefined;
  let ce: Counterexample | undefined;
  if (o.shrink !== false) {
    const r = shrink({ doc: f.doc, seed: f.seed, bugs: o.bug, rule: f.rule });
    const w = writeShrunk(`${base}-min.yaml`, r, `shrunk by iopf explore --generate --seed ${f.seed}${what}\nbreaks ${r.rule}: ${replayLine(`${base}-min.yaml`, r.seed, r.bugs)}`);
    shrunk = { ...w, runs: r.runs, steps: r.steps, size: r.size };
    lines.push(...shrinkLines(r, w));
    ce = explainShrunk(r);
  } else {
    ce = counterexample(f.scenario, { seed: f.seed, bugs: o.bug, rule: f.rule });
  }
  if (o.json === true) {
    printJson({
      mode: 'generate',
      first_seed: o.seed,
      runs: res.runs,
      elapsed_ms: elapsedMs,
      kernel: o.kernel ?? null,
      bugs: o.bug,
      found: { seed: f.seed, rule: f.rule, rules: f.rules, violations: f.violations, scenario_file: file, replay: replayLine(file, f.seed, o.bug), shrunk: shrunk ?? null },
      counterexample: ce ?? null,
    });
  } else {
    if (ce !== undefined) lines.push(formatCounterexample(ce));
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  process.exitCode = EXIT.VIOLATION;
}

/** Read what `iopf shrink` was given: a scenario, a choice file, or a `run --json` document. */
function shrinkInput(ref: string, o: { seed?: number; bug: string[] }): { doc: ScenarioInput; seed: number; bugs: string[]; choices?: number[]; name: string } {
  let seed = o.seed;
  let bugs = [...o.bug];
  let choices: number[] | undefined;
  let scenarioRef = ref;
  if (ref.endsWith('.json') && existsSync(ref)) {
    // Bounded, regular file, UTF-8: the same rule as every whole-file input.
    const data = readJsonInput(ref, 256 * MiB, 'a choice file or the output of `iopf run --json`');
    const d = data as Record<string, unknown>;
    if (d !== null && typeof d === 'object' && Array.isArray(d.choices) && typeof d.scenario === 'string') {
      // A choice file (`run --record-choices`, or the shrinker's own).
      scenarioRef = d.scenario;
      seed ??= Number(d.seed);
      if (Array.isArray(d.bugs)) bugs = [...new Set([...bugs, ...(d.bugs as string[])])];
      choices = (d.choices as unknown[]).map(Number);
      if (choices.some((c) => !Number.isInteger(c) || c < 0)) throw new UsageError(`${ref}: choices: expected non-negative integers`);
    } else if (d !== null && typeof d === 'object' && typeof d.replay === 'string' && typeof d.seed === 'number') {
      // A `run --json` document: its replay command names the scenario and the bugs.
      const words = d.replay.split(/\s+/);
      const i = words.indexOf('run');
      scenarioRef = words[i + 1] !== undefined && !words[i + 1]!.startsWith('--') ? words[i + 1]! : 'default';
      seed ??= d.seed;
      for (let j = 0; j < words.length - 1; j++) if (words[j] === '--bug') bugs.push(words[j + 1]!);
      bugs = [...new Set(bugs)];
    } else if (!(d !== null && typeof d === 'object' && 'devices' in d)) {
      throw new UsageError(`${ref}: expected a scenario, a choice file (run --record-choices) or a \`run --json\` document`);
    }
  }
  const l = loadScenario(scenarioRef);
  if (!l.ok) {
    for (const e of l.errors.slice(0, 20)) process.stderr.write(`${formatDiagnostic(e)}\n`);
    throw new UsageError(`${scenarioRef}: the scenario does not load`);
  }
  const doc = parseYaml(l.value.text) as ScenarioInput;
  if (seed === undefined) seed = l.value.scenario.seed ?? 1;
  const out: { doc: ScenarioInput; seed: number; bugs: string[]; choices?: number[]; name: string } = { doc, seed, bugs, name: basename(scenarioRef).replace(/\.(yaml|json)$/, '') };
  if (choices !== undefined) out.choices = choices;
  return out;
}

export function shrinkCommand(ref: string, o: { seed?: number; bug: string[]; kernel?: string; json?: boolean; out?: string; maxRuns?: number }): void {
  checkBugs(o.bug);
  checkKernel(o.kernel);
  const inp = shrinkInput(ref, o);
  checkBugs(inp.bugs);
  if (o.kernel !== undefined) (inp.doc as Record<string, unknown>).kernel = o.kernel;
  let r: ShrinkResult;
  try {
    r = shrink({ doc: inp.doc, seed: inp.seed, bugs: inp.bugs, ...(inp.choices !== undefined ? { choices: inp.choices } : {}), ...(o.maxRuns !== undefined ? { maxRuns: o.maxRuns } : {}) });
  } catch (e) {
    if (e instanceof ShrinkError) throw new UsageError(`shrink ${ref}: ${e.message}`);
    throw e;
  }
  const file = o.out ?? `${inp.name}-min.yaml`;
  const w = writeShrunk(file, r, `shrunk by iopf shrink ${ref} --seed ${inp.seed}${inp.bugs.map((b) => ` --bug ${b}`).join('')}\nbreaks ${r.rule}`);
  const ce = explainShrunk(r);
  if (o.json === true) printJson({ rule: r.rule, seed: r.seed, bugs: r.bugs, runs: r.runs, steps: r.steps, size: r.size, ...w, counterexample: ce ?? null });
  else process.stdout.write(`${[...shrinkLines(r, w), ...(ce !== undefined ? [formatCounterexample(ce)] : [])].join('\n')}\n`);
  process.exitCode = EXIT.VIOLATION;
}

/** The counterexample of a failing run made by `run` or `replay` (re-run with a collecting sink). */
export function runCounterexample(scenario: Scenario, opts: Parameters<typeof counterexample>[1]): Counterexample | undefined {
  return counterexample(scenario, opts);
}
