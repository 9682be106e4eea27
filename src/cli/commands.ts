/**
 * The CLI's command actions: parse options, call the library façade, print, set the exit code.
 * No model logic here.
 */
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  BUGS,
  RULES,
  check,
  formatDiagnostic,
  formatSummary,
  loadScenario,
  parseRunReport,
  renderHtmlReport,
  scenarioSchema,
  shippedScenarios,
  simulate,
  type LoadedScenario,
  type OfflineResult,
  type RunReport,
  type SimulateOptions,
  type SimulateResult,
} from '../api.js';
import { BUGS as BUG_TABLE } from '../scenario/bugs.js';
import { FORMS, PROFILES, PROFILE_NAMES, SWITCH_NAMES, profilesWith, type ProfileName } from '../scenario/profiles.js';
import { LAYOUTS, layoutByName } from '../iommu/layouts.js';
import { formatLayout, layoutDoc } from '../layout/table.js';
import { JsonlWriter } from '../trace/jsonl.js';
import { MiB } from '../io/input-file.js';
import { escapeText } from '../scenario/diagnostics.js';
import { SinkWriteError } from '../trace/tracer.js';
import { FtraceWriter } from '../trace/ftrace-writer.js';
import { PerfettoWriter } from '../trace/perfetto.js';
import { violationsByRuleJson } from '../report/violations.js';
import type { TraceSink } from '../trace/tracer.js';
import { PrefixChooser, ReplayChooser } from '../sim/random.js';
import type { Percentiles } from '../report/metrics.js';
import type { SimJob } from '../parallel/jobs.js';
import { createExecutor, defaultJobs, mapOrdered } from '../parallel/pool.js';
import { exploreDepthFirst } from '../parallel/depth-first.js';
import { startProgress } from './progress.js';
import { parseShard, shardSeeds } from '../parallel/shard.js';
import { SweepBuilder, mergeSweeps, serializeSweep, summarizeSweep, sweepFileSchema, type SweepFile, type SweepSummary } from '../parallel/sweep.js';
import { EXIT, UsageError, checkTraceInput, inputReadError, printJson, readJsonInput } from './output.js';
import { parseOverrides, shellWord } from '../scenario/overrides.js';
import { exploreGenerateCommand, runCounterexample, shrinkCommand, type ExploreGenerateOpts } from './generate.js';

/** Load a scenario with its `--set` overrides (validated together); bad input prints and exits 2. */
export function load(ref: string | undefined, sets: readonly string[] = []): LoadedScenario {
  const ov = parseOverrides(sets);
  if (!ov.ok) {
    for (const d of ov.errors) process.stderr.write(`${formatDiagnostic(d)}\n`);
    throw new BadInput();
  }
  const r = loadScenario(ref, ov.value);
  if (!r.ok) {
    for (const d of r.errors.slice(0, 20)) process.stderr.write(`${formatDiagnostic(d)}\n`);
    if (r.errors.length > 20) process.stderr.write(`… ${r.errors.length - 20} more errors\n`);
    throw new BadInput();
  }
  return r.value;
}

/** The scenario as a command line names it, with its `--set` overrides (for replay lines). */
function refWithSets(l: LoadedScenario): string {
  return [l.ref, ...l.sets.flatMap((t) => ['--set', shellWord(t)])].join(' ');
}

/** Diagnostics were printed; exit 2. */
export class BadInput extends UsageError {
  constructor() {
    super('');
  }
}

function checkBugs(bugs: readonly string[]): void {
  for (const b of bugs) if (!SWITCH_NAMES.includes(b)) throw new UsageError(`--bug: unknown behaviour switch "${b}" (known: ${SWITCH_NAMES.join(', ')})`);
}

function checkKernel(k: string | undefined): ProfileName | undefined {
  if (k === undefined) return undefined;
  if (!(PROFILE_NAMES as readonly string[]).includes(k)) throw new UsageError(`--kernel: unknown profile "${k}" (known: ${PROFILE_NAMES.join(', ')})`);
  return k as ProfileName;
}

/** `iopf list profiles --json`: the profiles and, per behaviour switch, its source and the
 * profiles that have it on (the matrix). */
function profilesDocument(): Record<string, unknown> {
  return {
    profiles: PROFILES.map((p) => ({ name: p.name, code: p.code, summary: p.summary, switches: p.switches })),
    behaviours: [
      ...BUG_TABLE.map((b) => ({ name: b.name, kind: 'bug', summary: b.summary, source: b.source, rule: b.rule, scenario: b.scenario, profiles: profilesWith(b.name) })),
      ...FORMS.map((f) => ({ name: f.name, kind: 'form', summary: f.summary, source: f.source, profiles: profilesWith(f.name) })),
    ],
  };
}

/** `iopf list profiles`: the profiles, then one row per behaviour with an x under each profile that has it. */
function printProfilesMatrix(): void {
  const names = PROFILES.map((p) => p.name);
  const w = Math.max(...[...BUG_TABLE.map((b) => b.name), ...FORMS.map((f) => f.name)].map((n) => n.length)) + 2;
  const col = (s: string): string => s.padEnd(11);
  const out: string[] = [];
  for (const p of PROFILES) out.push(`${p.name.padEnd(10)} ${p.code}\n${''.padEnd(10)} ${p.summary}`);
  out.push('');
  out.push(`${'behaviour'.padEnd(w)}${'kind'.padEnd(6)}${names.map(col).join('')}source`);
  const row = (name: string, kind: string, source: string): void => {
    const on = new Set(profilesWith(name));
    out.push(`${name.padEnd(w)}${kind.padEnd(6)}${names.map((n) => col(on.has(n) ? 'x' : '.')).join('')}${source}`);
  };
  for (const b of BUG_TABLE) row(b.name, 'bug', b.source);
  for (const f of FORMS) row(f.name, 'form', f.source);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** An output file's sink: opening it is checked now (exit 2 "cannot write"); a write that fails
 *  during the run (a full disk, /dev/full) stops it with a SinkWriteError, also exit 2. */
function fileSink<S extends TraceSink>(path: string, make: (write: (s: string) => void, close: () => void) => S): S {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
  let closed = false;
  return make(
    (s) => {
      try {
        writeSync(fd, s);
      } catch (e) {
        throw new SinkWriteError(path, (e as Error).message);
      }
    },
    () => {
      if (closed) return;
      closed = true;
      try {
        closeSync(fd);
      } catch (e) {
        throw new SinkWriteError(path, (e as Error).message);
      }
    },
  );
}

/** Write a whole output file; any failure is the user's operating error (exit 2). */
function writeOutput(path: string, data: string): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Bounds of whole-file JSON inputs (a sweep of 10^6 seeds writes a shard of ~150 MiB). */
const MAX_RUN_DOCUMENT_BYTES = 64 * MiB;
const MAX_CHOICES_BYTES = 256 * MiB;
const MAX_SHARD_BYTES = 256 * MiB;

function finishRun(report: RunReport, json: boolean): void {
  // Violations of one rule grouped with their count, the first one spelled out.
  if (report.violations_total > 0) report.violations_by_rule = violationsByRuleJson(report);
  if (json) printJson(report);
  else process.stdout.write(`${formatSummary(report)}\n`);
  if (report.violations_total > 0) {
    if (json) process.stderr.write(`replay: ${report.replay}\n`);
    process.exitCode = EXIT.VIOLATION;
  }
}

interface RunOpts {
  seed?: number;
  json?: boolean;
  html?: string;
  trace?: string;
  ftrace?: string;
  perfetto?: string;
  untilNs?: number;
  check?: 'off' | 'cheap' | 'full';
  bug: string[];
  kernel?: string;
  recordChoices?: string;
  maxEvents?: number;
  set: string[];
}

/** Write the HTML report of a run (the same file `iopf report` makes from its `--json` document). */
async function writeHtml(path: string, report: RunReport): Promise<void> {
  writeOutput(path, await renderHtmlReport(report));
}

export async function runCommand(ref: string | undefined, o: RunOpts): Promise<void> {
  await wrapAsync(async () => {
    checkBugs(o.bug);
    const kernel = checkKernel(o.kernel);
    const loaded = load(ref, o.set);
    const { scenario } = loaded;
    const shown = refWithSets(loaded);
    const sinks: TraceSink[] = [];
    if (o.trace !== undefined) sinks.push(fileSink(o.trace, (w, c) => new JsonlWriter(w, { close: c })));
    if (o.ftrace !== undefined) {
      const devs = scenario.devices.map((d) => ({ rid: d.rid, name: d.name }));
      sinks.push(fileSink(o.ftrace, (w, c) => new FtraceWriter(scenario.iommu.name, devs, w, c)));
    }
    // The Perfetto file stays open after the run: a failing run's counterexample (explained once
    // the run is over) goes in as flow arrows before it is closed.
    let perfetto: PerfettoWriter | undefined;
    if (o.perfetto !== undefined) {
      perfetto = fileSink(o.perfetto, (w, c) => new PerfettoWriter(scenario, w, c, { holdOpen: true }));
      sinks.push(perfetto);
    }
    const opts: SimulateOptions = { bugs: o.bug, sinks, scenarioRef: shown };
    if (kernel !== undefined) opts.kernel = kernel;
    if (o.seed !== undefined) opts.seed = o.seed;
    if (o.untilNs !== undefined) opts.untilNs = o.untilNs;
    if (o.check !== undefined) opts.check = o.check;
    if (o.maxEvents !== undefined) opts.maxEvents = o.maxEvents;
    if (o.recordChoices !== undefined) opts.recordChoices = true;
    // Long runs show a bar (after 2 s; never with --json or off a terminal): DMA accesses finished.
    const progress = startProgress({ label: 'run', unit: 'accesses', total: 1, enabled: o.json !== true, delayMs: 2000 });
    opts.progress = (p) => {
      progress.setTotal(Math.max(1, p.accesses_total));
      progress.update(p.accesses_done, p.violations);
    };
    let r: SimulateResult;
    try {
      r = simulate(scenario, opts);
    } finally {
      progress.stop();
    }
    try {
      if (r.report.violations_total > 0 && opts.check !== 'off') {
        const { sinks: _s, progress: _p, ...again } = opts;
        const ce = runCounterexample(scenario, again);
        if (ce !== undefined) r.report.counterexample = ce;
      }
    } finally {
      perfetto?.closeWith(r.report.counterexample);
    }
    if (o.recordChoices !== undefined) {
      writeOutput(o.recordChoices, JSON.stringify({ scenario: loaded.ref, ...(loaded.sets.length > 0 ? { set: loaded.sets } : {}), seed: r.report.seed, bugs: o.bug, until_ns: o.untilNs ?? null, choices: r.choices ?? [], ...(kernel !== undefined ? { kernel } : {}) }));
    }
    if (o.html !== undefined) await writeHtml(o.html, r.report);
    finishRun(r.report, o.json === true);
  });
}

export async function reportCommand(path: string, o: { output?: string }): Promise<void> {
  await wrapAsync(async () => {
    const data = readJsonInput(path, MAX_RUN_DOCUMENT_BYTES, 'the output of `iopf run --json`');
    const p = parseRunReport(data);
    if (!p.ok) throw new UsageError(`${path}: ${p.error}`);
    if (o.output !== undefined) await writeHtml(o.output, p.value);
    else process.stdout.write(await renderHtmlReport(p.value));
  });
}

function parseDeviceHints(hints: readonly string[]): Map<number, { pasidRequired: boolean }> {
  const out = new Map<number, { pasidRequired: boolean }>();
  for (const h of hints) {
    const m = /^(?:([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])|(0x[0-9a-fA-F]+|\d+)):([01]|true|false)$/.exec(h);
    if (m === null) throw new UsageError(`--device: expected RID:PASID_REQUIRED like 00:02.0:1 or 0x10:0, got "${h}"`);
    const rid = m[4] !== undefined ? Number(m[4]) : (parseInt(m[1]!, 16) << 8) | (parseInt(m[2]!, 16) << 3) | Number(m[3]);
    out.set(rid, { pasidRequired: m[5] === '1' || m[5] === 'true' });
  }
  return out;
}

export async function checkCommand(
  path: string,
  o: { format: 'auto' | 'jsonl' | 'ftrace'; device: string[]; scenario?: string; json?: boolean; set: string[] },
): Promise<void> {
  await wrapAsync(async () => {
    if (o.scenario === undefined && o.set.length > 0) throw new UsageError('--set changes the scenario given with --scenario; none was given');
    const scenario = o.scenario !== undefined ? load(o.scenario, o.set).scenario : undefined;
    const devices = parseDeviceHints(o.device);
    checkTraceInput(path);
    let res: OfflineResult;
    try {
      res = await check(path, { format: o.format, devices, ...(scenario !== undefined ? { scenario } : {}) });
    } catch (e) {
      throw inputReadError(path, e);
    }
    if (o.json === true) printJson({ file: path, ...res });
    else {
      const lines = [`iopf check ${path} (${res.format}): ${res.records.toLocaleString('en-US')} records`];
      for (const d of res.diagnostics.slice(0, 20)) lines.push(`${path}:${d.lineNo}${d.column !== undefined ? `:${d.column}` : ''}: ${d.severity}: ${escapeText(d.message)}`);
      if (res.diagnosticCount > 20) lines.push(`… ${res.diagnosticCount - 20} more diagnostics`);
      lines.push(`rules exercised: ${res.rulesExercised.length} (${res.rulesExercised.join(', ')})`);
      if (res.latency.count > 0) lines.push(`latency (L=1 arrival → response): p50 ${res.latency.p50} ns, p99 ${res.latency.p99} ns, max ${res.latency.max} ns (n=${res.latency.count})`);
      if (res.violationCount === 0) lines.push('violations: none');
      else {
        lines.push(`violations: ${res.violationCount}`);
        for (const v of res.violations.slice(0, 20)) lines.push(`  ${path}${v.line !== undefined ? `:${v.line}` : ''}: ${v.rule}: ${escapeText(v.detail)}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    process.exitCode = res.errorCount > 0 ? EXIT.BAD_INPUT : res.violationCount > 0 ? EXIT.VIOLATION : EXIT.CLEAN;
  });
}

export function schemaCommand(): void {
  printJson(z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }));
}

export function listCommand(what: string, name: string | undefined, o: { json?: boolean }): void {
  wrap(() => {
    if (name !== undefined && what !== 'layouts') throw new UsageError(`list ${what}: takes no NAME (got "${name}")`);
    switch (what) {
      case 'rules':
        if (o.json === true) printJson(RULES);
        else for (const r of RULES) process.stdout.write(`${r.id.padEnd(30)} ${r.side.padEnd(7)} ${r.statement}  [${r.source}]\n`);
        break;
      case 'bugs':
        if (o.json === true) printJson(BUGS.map((b) => ({ name: b.name, scenario: b.scenario, ...(b.profileScenarios !== undefined ? { profile_scenarios: b.profileScenarios } : {}), summary: b.summary, source: b.source, rule: b.rule })));
        else
          for (const b of BUGS) {
            const other = Object.entries(b.profileScenarios ?? {}).map(([p, f]) => `${p}: ${f}`);
            process.stdout.write(`${b.name.padEnd(28)} ${b.summary}\n${''.padEnd(28)} scenario ${b.scenario}${other.length > 0 ? ` (${other.join(', ')})` : ''}; breaks ${b.rule}; source: ${b.source}\n`);
          }
        break;
      case 'profiles':
        if (o.json === true) printJson(profilesDocument());
        else printProfilesMatrix();
        break;
      case 'scenarios':
        if (o.json === true) printJson(shippedScenarios());
        else for (const s of shippedScenarios()) process.stdout.write(`${s}\n`);
        break;
      case 'layouts': {
        const chosen = name === undefined ? LAYOUTS : [layoutByName(name)];
        if (chosen[0] === undefined) throw new UsageError(`list layouts: no layout "${name}" (one of: ${LAYOUTS.map((l) => l.id).join(', ')})`);
        const ls = chosen as typeof LAYOUTS;
        if (o.json === true) printJson(name === undefined ? ls.map(layoutDoc) : layoutDoc(ls[0]!));
        else if (name === undefined) for (const l of ls) process.stdout.write(`${l.id.padEnd(28)} ${String(l.size).padStart(2)} bytes  ${l.name}\n`);
        else process.stdout.write(formatLayout(ls[0]!));
        break;
      }
      default:
        throw new UsageError(`list: expected rules, bugs, profiles, scenarios or layouts, got "${what}"`);
    }
  });
}

export async function exploreCommand(
  ref: string | undefined,
  o: { runs?: number; seed: number; mode: 'random' | 'exhaustive'; bug: string[]; kernel?: string; json?: boolean; jobs?: number; set: string[]; generate?: boolean; time?: string; shrink?: boolean; out?: string },
): Promise<void> {
  await wrapAsync(async () => {
    if (o.generate === true) {
      if (ref !== undefined) throw new UsageError('explore --generate draws its own scenarios: give no scenario file');
      if (o.mode !== 'random') throw new UsageError('explore --generate: --mode exhaustive needs a scenario');
      if (o.set.length > 0) throw new UsageError('explore --generate: --set needs a scenario (generated scenarios are drawn whole)');
      const g: ExploreGenerateOpts = { seed: o.seed, bug: o.bug };
      if (o.runs !== undefined) g.runs = o.runs;
      if (o.time !== undefined) g.time = o.time;
      if (o.kernel !== undefined) g.kernel = o.kernel;
      if (o.json !== undefined) g.json = o.json;
      if (o.shrink !== undefined) g.shrink = o.shrink;
      if (o.out !== undefined) g.out = o.out;
      if (o.jobs !== undefined) g.jobs = o.jobs;
      await exploreGenerateCommand(g);
      return;
    }
    if (o.time !== undefined || o.out !== undefined) throw new UsageError('--time and --out go with --generate');
    o.runs ??= 100;
    checkBugs(o.bug);
    const kernel = checkKernel(o.kernel);
    const k = kernel !== undefined ? { kernel } : {};
    const loaded = load(ref, o.set);
    const { scenario } = loaded;
    const shown = refWithSets(loaded);
    if (o.runs < 1 || o.runs > 1_000_000) throw new UsageError('--runs: expected 1..1000000');
    const threads = Math.min(o.jobs ?? defaultJobs(), o.runs);
    const progress = startProgress({ label: 'explore', unit: 'schedules', total: o.runs, enabled: o.json !== true });
    const exec = createExecutor(threads);
    let found: { seed: number; violations: number; rules: string[]; replay: string; choices?: number[] } | undefined;
    let runs = 0;
    try {
      if (o.mode === 'random') {
        // Seeds in order; the first failing one stops the search (later seeds already running on
        // other threads are dropped), so the report is the one-thread report.
        await mapOrdered(seedJobs({ scenario, scenarioRef: shown, bugs: o.bug, ...k }, o.seed, o.seed + o.runs - 1), exec.run, {
          concurrency: threads,
          onResult: (r) => {
            runs++;
            progress.update(runs, r.violations_total);
            if (r.violations_total === 0) return true;
            found = { seed: r.seed, violations: r.violations_total, rules: r.rules, replay: r.replay };
            return false;
          },
        });
      } else {
        // Depth-first over same-time orderings and fault-site outcomes, with the seed fixed.
        const res = await exploreDepthFirst({ scenario, scenarioRef: shown, seed: o.seed, bugs: o.bug, ...k }, exec.run, {
          maxRuns: o.runs,
          concurrency: threads,
          onRun: (r, _prefix, n) => {
            progress.update(n, r.violations_total);
            return true;
          },
        });
        runs = res.runs;
        if (res.found !== undefined) {
          const r = res.found.result;
          found = { seed: o.seed, violations: r.violations_total, rules: r.rules, replay: r.replay, choices: res.found.choices };
        }
      }
    } finally {
      progress.stop();
      await exec.close();
    }
    const out = { scenario: shown, mode: o.mode, runs, found: found ?? null };
    if (o.json === true) printJson(out);
    else if (found === undefined) process.stdout.write(`explore: ${runs} schedules of "${shown}", no violation\n`);
    else {
      const f = found;
      process.stdout.write(`explore: schedule ${runs} of "${shown}" breaks ${f.rules.join(', ')} (${f.violations} violations)\n`);
      if (f.choices !== undefined) {
        const file = `iopf-explore-${Date.now()}.json`;
        writeOutput(file, JSON.stringify({ scenario: loaded.ref, ...(loaded.sets.length > 0 ? { set: loaded.sets } : {}), seed: f.seed, bugs: o.bug, until_ns: null, choices: f.choices, mode: 'prefix', ...k }));
        process.stdout.write(`replay: iopf replay ${file}\n`);
      } else process.stdout.write(`replay: ${f.replay}\n`);
    }
    if (found !== undefined) process.exitCode = EXIT.VIOLATION;
  });
}

/** Jobs for seeds first..last of one scenario, produced lazily. */
function* seedJobs(base: Omit<SimJob, 'seed'>, first: number, last: number): Generator<SimJob> {
  for (let seed = first; seed <= last; seed++) yield { ...base, seed };
}

const choicesFile = z.strictObject({
  scenario: z.string(),
  seed: z.number().int().nonnegative(),
  bugs: z.array(z.string()),
  until_ns: z.number().int().positive().nullable(),
  choices: z.array(z.number().int().nonnegative()),
  mode: z.enum(['random', 'prefix']).optional(),
  /** `--set` overrides the run was made with. */
  set: z.array(z.string()).optional(),
  kernel: z.enum(PROFILE_NAMES).optional(),
});

export function replayCommand(path: string, o: { json?: boolean; trace?: string }): void {
  wrap(() => {
    const data = readJsonInput(path, MAX_CHOICES_BYTES, 'a choice file from `iopf run --record-choices` or `iopf explore`');
    const p = choicesFile.safeParse(data);
    if (!p.success)
      throw new UsageError(`${path}: not a choice file: ${p.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ')}`);
    const c = p.data;
    checkBugs(c.bugs);
    const loaded = load(c.scenario, c.set ?? []);
    const { scenario } = loaded;
    const ref = refWithSets(loaded);
    const sinks: TraceSink[] = o.trace !== undefined ? [fileSink(o.trace, (w, c) => new JsonlWriter(w, { close: c }))] : [];
    const chooser = c.mode === 'prefix' ? new PrefixChooser(c.choices) : new ReplayChooser(c.choices);
    const opts: SimulateOptions = { seed: c.seed, bugs: c.bugs, chooser, sinks, scenarioRef: ref };
    if (c.kernel !== undefined) opts.kernel = c.kernel;
    if (c.until_ns !== null) opts.untilNs = c.until_ns;
    const r = simulate(scenario, opts);
    // A recorded choice that does not fit this run: the file belongs to another scenario, seed or
    // version of iopf. Bad input, not a broken invariant.
    const m = chooser.mismatch;
    if (m !== undefined)
      throw new UsageError(
        `${path}: choices[${m.at}] is ${m.choice}, but the run has ${m.n} alternatives there: the file was recorded from another scenario, seed or iopf version`,
      );
    if (r.report.violations_total > 0) {
      const again: SimulateOptions = { seed: c.seed, bugs: c.bugs, chooser: c.mode === 'prefix' ? new PrefixChooser(c.choices) : new ReplayChooser(c.choices), scenarioRef: ref };
      if (c.until_ns !== null) again.untilNs = c.until_ns;
      const ce = runCounterexample(scenario, again);
      if (ce !== undefined) r.report.counterexample = ce;
    }
    finishRun(r.report, o.json === true);
  });
}

export function shrinkCmd(ref: string, o: { seed?: number; bug: string[]; kernel?: string; json?: boolean; out?: string; maxRuns?: number }): void {
  wrap(() => {
    shrinkCommand(ref, o);
  });
}

interface SweepOpts {
  seeds: string;
  shard?: string;
  out?: string;
  json?: boolean;
  jobs?: number;
  bug: string[];
  set: string[];
  kernel?: string;
}

/** `--out` with {index} and {count} replaced (one file name per cluster task). */
function shardOutPath(pattern: string, index: number, count: number): string {
  return pattern.replaceAll('{index}', String(index)).replaceAll('{count}', String(count));
}

function writeText(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

function printSweep(summary: SweepSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  const p = (x: Percentiles): string => (x.count === 0 ? 'none' : `p50 ${x.p50} ns, p99 ${x.p99} ns, max ${x.max} ns (n=${x.count})`);
  const lines = [
    `sweep of "${summary.scenario}" (kernel ${summary.kernel})${summary.bugs.length > 0 ? ` with ${summary.bugs.join(', ')}` : ''}: seeds ${summary.seeds}, shards ${summary.shards}: ${summary.runs} runs, ${summary.page_requests.toLocaleString('en-US')} page requests`,
    `group latency: ${p(summary.latency_ns)}`,
    `sva handler: ${p(summary.sva_ns)}`,
    `iommufd handler: ${p(summary.iommufd_ns)}`,
  ];
  if (summary.failing_seeds.length === 0) lines.push('failing seeds: none');
  else {
    lines.push(`failing seeds: ${summary.failing_seeds.length}`);
    for (const f of summary.failing.slice(0, 20)) lines.push(`  seed ${f.seed}: ${f.rules.join(', ')}`);
    if (summary.failing_seeds.length > 20) lines.push(`  … ${summary.failing_seeds.length - 20} more (--json lists them)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function sweepCommand(ref: string | undefined, o: SweepOpts): Promise<void> {
  await wrapAsync(async () => {
    checkBugs(o.bug);
    const kernel = checkKernel(o.kernel);
    const m = /^(\d+)\.\.(\d+)$/.exec(o.seeds);
    if (m === null || Number(m[2]) < Number(m[1])) throw new UsageError(`--seeds: expected a..b with a <= b, got "${o.seeds}"`);
    // Seeds are safe integers (every random stream is keyed by one: src/sim/random.ts).
    if (!Number.isSafeInteger(Number(m[2]))) throw new UsageError(`--seeds: seeds are at most ${Number.MAX_SAFE_INTEGER} (2^53 − 1), got "${o.seeds}"`);
    const first = Number(m[1]);
    const last = Number(m[2]);
    let shard = { index: 0, count: 1 };
    if (o.shard !== undefined) {
      const p = parseShard(o.shard, process.env);
      if (!p.ok) throw new UsageError(p.error);
      shard = p.shard;
      if (o.shard === 'auto' && o.json !== true) process.stderr.write(`iopf sweep: ${p.source}\n`);
    }
    if (o.shard === 'auto' && o.out === undefined) throw new UsageError('--shard auto: give --out, e.g. --out shard-{index}-of-{count}.json');
    const loaded = load(ref, o.set);
    const { scenario } = loaded;
    // The scenario with its --set overrides names the sweep: shards of differently set sweeps do not merge.
    const shown = refWithSets(loaded);
    const seeds = shardSeeds(first, last, shard);
    const builder = new SweepBuilder({ scenario: shown, kernel: kernel ?? scenario.kernel, bugs: o.bug, seed_range: { first, last }, shards: { count: shard.count, indices: [shard.index] } });
    const threads = Math.max(1, Math.min(o.jobs ?? defaultJobs(), seeds.length));
    const progress = startProgress({ label: 'sweep', unit: 'seeds', total: seeds.length, enabled: o.json !== true });
    const exec = createExecutor(threads);
    const jobs = seeds.map((seed): SimJob => ({ scenario, scenarioRef: shown, seed, bugs: o.bug, ...(kernel !== undefined ? { kernel } : {}), want: { histograms: true } }));
    try {
      // Results come back in seed order, whatever thread ran them: the histograms are merged in
      // that order and the runs listed in it.
      await mapOrdered(jobs, exec.run, {
        concurrency: threads,
        onResult: (r) => {
          builder.add(r);
          progress.update(builder.count, builder.violations);
          return true;
        },
      });
    } finally {
      progress.stop();
      await exec.close();
    }
    const file = builder.build();
    if (o.out !== undefined) writeText(shardOutPath(o.out, shard.index, shard.count), serializeSweep(file));
    printSweep(summarizeSweep(file), o.json === true);
    if (builder.failing > 0) process.exitCode = EXIT.VIOLATION;
  });
}

export function mergeCommand(files: string[], o: { json?: boolean; out?: string; allowPartial?: boolean }): void {
  wrap(() => {
    const inputs: { name: string; file: SweepFile }[] = [];
    for (const f of files) {
      const data = readJsonInput(f, MAX_SHARD_BYTES, 'a sweep result of `iopf sweep --out`');
      const p = sweepFileSchema.safeParse(data);
      if (!p.success) {
        const i = p.error.issues[0];
        throw new UsageError(`${f}: not a sweep result (\`iopf sweep --out\`): ${i?.path.join('.') ?? ''}: ${i?.message ?? ''}`);
      }
      inputs.push({ name: f, file: p.data });
    }
    const r = mergeSweeps(inputs);
    if (!r.ok) throw new UsageError(r.error);
    if (r.missing.length > 0) {
      const msg = `shards ${r.missing.join(', ')} of ${r.file.shards.count} are missing`;
      if (o.allowPartial !== true) throw new UsageError(`merge: ${msg} (--allow-partial merges what is there)`);
      process.stderr.write(`iopf merge: warning: ${msg}\n`);
    }
    if (o.out !== undefined) writeText(o.out, serializeSweep(r.file));
    const summary = summarizeSweep(r.file);
    printSweep(summary, o.json === true);
    if (summary.failing_seeds.length > 0) process.exitCode = EXIT.VIOLATION;
  });
}

function wrap(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (e instanceof BadInput) {
      process.exitCode = EXIT.BAD_INPUT;
      return;
    }
    throw e;
  }
}

async function wrapAsync(f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof BadInput) {
      process.exitCode = EXIT.BAD_INPUT;
      return;
    }
    throw e;
  }
}

