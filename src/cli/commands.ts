/**
 * The CLI's command actions: parse options, call the library façade, print, set the exit code.
 * No model logic here.
 */
import { closeSync, openSync, readFileSync, writeSync, writeFileSync } from 'node:fs';
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
} from '../api.js';
import { BUGS as BUG_TABLE } from '../scenario/bugs.js';
import { FORMS, PROFILES, PROFILE_NAMES, SWITCH_NAMES, profilesWith, type ProfileName } from '../scenario/profiles.js';
import { jsonlFileWriter } from '../trace/jsonl.js';
import { FtraceWriter } from '../trace/ftrace-writer.js';
import { PerfettoWriter } from '../trace/perfetto.js';
import type { TraceSink } from '../trace/tracer.js';
import { PrefixChooser, ReplayChooser } from '../sim/random.js';
import { Metrics } from '../report/metrics.js';
import { EXIT, UsageError, printJson } from './output.js';
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

function fileSink(path: string, make: (write: (s: string) => void, close: () => void) => TraceSink): TraceSink {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
  let closed = false;
  return make(
    (s) => writeSync(fd, s),
    () => {
      if (!closed) closeSync(fd);
      closed = true;
    },
  );
}

function finishRun(report: RunReport, json: boolean): void {
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
  const html = await renderHtmlReport(report);
  try {
    writeFileSync(path, html);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export async function runCommand(ref: string | undefined, o: RunOpts): Promise<void> {
  await wrapAsync(async () => {
    checkBugs(o.bug);
    const kernel = checkKernel(o.kernel);
    const loaded = load(ref, o.set);
    const { scenario } = loaded;
    const shown = refWithSets(loaded);
    const sinks: TraceSink[] = [];
    if (o.trace !== undefined) sinks.push(jsonlFileWriter(o.trace));
    if (o.ftrace !== undefined) {
      const devs = scenario.devices.map((d) => ({ rid: d.rid, name: d.name }));
      sinks.push(fileSink(o.ftrace, (w, c) => new FtraceWriter(scenario.iommu.name, devs, w, c)));
    }
    if (o.perfetto !== undefined) sinks.push(fileSink(o.perfetto, (w, c) => new PerfettoWriter(scenario, w, c)));
    const opts: SimulateOptions = { bugs: o.bug, sinks, scenarioRef: shown };
    if (kernel !== undefined) opts.kernel = kernel;
    if (o.seed !== undefined) opts.seed = o.seed;
    if (o.untilNs !== undefined) opts.untilNs = o.untilNs;
    if (o.check !== undefined) opts.check = o.check;
    if (o.maxEvents !== undefined) opts.maxEvents = o.maxEvents;
    if (o.recordChoices !== undefined) opts.recordChoices = true;
    const r = simulate(scenario, opts);
    if (r.report.violations_total > 0 && opts.check !== 'off') {
      const { sinks: _s, ...again } = opts;
      const ce = runCounterexample(scenario, again);
      if (ce !== undefined) r.report.counterexample = ce;
    }
    if (o.recordChoices !== undefined) {
      writeFileSync(o.recordChoices, JSON.stringify({ scenario: loaded.ref, ...(loaded.sets.length > 0 ? { set: loaded.sets } : {}), seed: r.report.seed, bugs: o.bug, until_ns: o.untilNs ?? null, choices: r.choices ?? [], ...(kernel !== undefined ? { kernel } : {}) }));
    }
    if (o.html !== undefined) await writeHtml(o.html, r.report);
    finishRun(r.report, o.json === true);
  });
}

export async function reportCommand(path: string, o: { output?: string }): Promise<void> {
  await wrapAsync(async () => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${path}: not JSON (${(e as Error).message}); expected the output of \`iopf run --json\``);
    }
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
    let fd: number;
    try {
      fd = openSync(path, 'r');
      closeSync(fd);
    } catch (e) {
      throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
    }
    const res: OfflineResult = await check(path, { format: o.format, devices, ...(scenario !== undefined ? { scenario } : {}) });
    if (o.json === true) printJson({ file: path, ...res });
    else {
      const lines = [`iopf check ${path} (${res.format}): ${res.records.toLocaleString('en-US')} records`];
      for (const d of res.diagnostics.slice(0, 20)) lines.push(`${path}:${d.lineNo}${d.column !== undefined ? `:${d.column}` : ''}: ${d.severity}: ${d.message}`);
      if (res.diagnosticCount > 20) lines.push(`… ${res.diagnosticCount - 20} more diagnostics`);
      lines.push(`rules exercised: ${res.rulesExercised.length} (${res.rulesExercised.join(', ')})`);
      if (res.latency.count > 0) lines.push(`latency (L=1 arrival → response): p50 ${res.latency.p50} ns, p99 ${res.latency.p99} ns, max ${res.latency.max} ns (n=${res.latency.count})`);
      if (res.violationCount === 0) lines.push('violations: none');
      else {
        lines.push(`violations: ${res.violationCount}`);
        for (const v of res.violations.slice(0, 20)) lines.push(`  ${path}${v.line !== undefined ? `:${v.line}` : ''}: ${v.rule}: ${v.detail}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    process.exitCode = res.errorCount > 0 ? EXIT.BAD_INPUT : res.violationCount > 0 ? EXIT.VIOLATION : EXIT.CLEAN;
  });
}

export function schemaCommand(): void {
  printJson(z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }));
}

export function listCommand(what: string, o: { json?: boolean }): void {
  wrap(() => {
    switch (what) {
      case 'rules':
        if (o.json === true) printJson(RULES);
        else for (const r of RULES) process.stdout.write(`${r.id.padEnd(30)} ${r.side.padEnd(7)} ${r.statement}  [${r.source}]\n`);
        break;
      case 'bugs':
        if (o.json === true) printJson(BUGS.map((b) => ({ name: b.name, scenario: b.scenario, summary: b.summary, source: b.source, rule: b.rule })));
        else for (const b of BUGS) process.stdout.write(`${b.name.padEnd(28)} ${b.summary}\n${''.padEnd(28)} scenario ${b.scenario}; breaks ${b.rule}; source: ${b.source}\n`);
        break;
      case 'profiles':
        if (o.json === true) printJson(profilesDocument());
        else printProfilesMatrix();
        break;
      case 'scenarios':
        if (o.json === true) printJson(shippedScenarios());
        else for (const s of shippedScenarios()) process.stdout.write(`${s}\n`);
        break;
      default:
        throw new UsageError(`list: expected rules, bugs, profiles or scenarios, got "${what}"`);
    }
  });
}

export function exploreCommand(
  ref: string | undefined,
  o: { runs?: number; seed: number; mode: 'random' | 'exhaustive'; bug: string[]; json?: boolean; set: string[]; generate?: boolean; time?: string; kernel?: string; shrink?: boolean; out?: string },
): void {
  wrap(() => {
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
      exploreGenerateCommand(g);
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
    const found: { seed: number; violations: number; rules: string[]; replay: string; choices?: number[] }[] = [];
    let runs = 0;
    if (o.mode === 'random') {
      for (let s = o.seed; s < o.seed + o.runs; s++) {
        const r = simulate(scenario, { seed: s, bugs: o.bug, scenarioRef: shown, ...k });
        runs++;
        if (r.report.violations_total > 0) {
          found.push({ seed: s, violations: r.report.violations_total, rules: [...new Set(r.report.violations.map((v) => v.rule))], replay: r.report.replay });
          break;
        }
      }
    } else {
      // Depth-first over same-time orderings and fault-site outcomes, with the seed fixed.
      let prefix: number[] = [];
      for (;;) {
        const chooser = new PrefixChooser(prefix);
        const r = simulate(scenario, { seed: o.seed, bugs: o.bug, chooser, scenarioRef: shown, ...k });
        runs++;
        if (r.report.violations_total > 0) {
          found.push({ seed: o.seed, violations: r.report.violations_total, rules: [...new Set(r.report.violations.map((v) => v.rule))], replay: r.report.replay, choices: chooser.taken });
          break;
        }
        // Next prefix: the deepest choice with an untried alternative.
        let i = chooser.taken.length - 1;
        while (i >= 0 && chooser.taken[i]! + 1 >= chooser.arity[i]!) i--;
        if (i < 0 || runs >= o.runs) break;
        prefix = [...chooser.taken.slice(0, i), chooser.taken[i]! + 1];
      }
    }
    const out = { scenario: shown, mode: o.mode, runs, found: found.length > 0 ? found[0] : null };
    if (o.json === true) printJson(out);
    else if (found.length === 0) process.stdout.write(`explore: ${runs} schedules of "${shown}", no violation\n`);
    else {
      const f = found[0]!;
      process.stdout.write(`explore: schedule ${runs} of "${shown}" breaks ${f.rules.join(', ')} (${f.violations} violations)\n`);
      if (f.choices !== undefined) {
        const file = `iopf-explore-${Date.now()}.json`;
        writeFileSync(file, JSON.stringify({ scenario: loaded.ref, ...(loaded.sets.length > 0 ? { set: loaded.sets } : {}), seed: f.seed, bugs: o.bug, until_ns: null, choices: f.choices, mode: 'prefix', ...k }));
        process.stdout.write(`replay: iopf replay ${file}\n`);
      } else process.stdout.write(`replay: ${f.replay}\n`);
    }
    if (found.length > 0) process.exitCode = EXIT.VIOLATION;
  });
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
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UsageError(`${path}: not a readable JSON choice file (${(e as Error).message})`);
    }
    const p = choicesFile.safeParse(data);
    if (!p.success) throw new UsageError(`${path}: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const c = p.data;
    checkBugs(c.bugs);
    const loaded = load(c.scenario, c.set ?? []);
    const { scenario } = loaded;
    const ref = refWithSets(loaded);
    const sinks: TraceSink[] = o.trace !== undefined ? [jsonlFileWriter(o.trace)] : [];
    const chooser = c.mode === 'prefix' ? new PrefixChooser(c.choices) : new ReplayChooser(c.choices);
    const opts: SimulateOptions = { seed: c.seed, bugs: c.bugs, chooser, sinks, scenarioRef: ref };
    if (c.kernel !== undefined) opts.kernel = c.kernel;
    if (c.until_ns !== null) opts.untilNs = c.until_ns;
    const r = simulate(scenario, opts);
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

const shardFile = z.strictObject({
  scenario: z.string(),
  kernel: z.enum(PROFILE_NAMES).optional(),
  seeds: z.array(z.number().int()),
  runs: z.array(z.strictObject({ seed: z.number().int(), trace_sha256: z.string(), violations_total: z.number().int(), page_requests: z.number().int(), events: z.number().int() })),
  histograms: z.record(z.string(), z.string()),
});
type ShardResult = z.infer<typeof shardFile>;

function summarizeShard(s: ShardResult): Record<string, unknown> {
  const m = new Metrics();
  m.merge(s.histograms);
  return {
    scenario: s.scenario,
    ...(s.kernel !== undefined ? { kernel: s.kernel } : {}),
    runs: s.runs.length,
    failing_seeds: s.runs.filter((r) => r.violations_total > 0).map((r) => r.seed),
    page_requests: s.runs.reduce((a, r) => a + r.page_requests, 0),
    latency_ns: m.summary('group_latency_ns'),
    sva_ns: m.summary('sva_ns'),
    iommufd_ns: m.summary('iommufd_ns'),
  };
}

export function sweepCommand(ref: string | undefined, o: { seeds: string; shard?: string; out?: string; json?: boolean; set: string[]; kernel?: string; bug: string[] }): void {
  wrap(() => {
    checkBugs(o.bug);
    const kernel = checkKernel(o.kernel);
    const m = /^(\d+)\.\.(\d+)$/.exec(o.seeds);
    if (m === null || Number(m[2]) < Number(m[1])) throw new UsageError(`--seeds: expected a..b with a <= b, got "${o.seeds}"`);
    let shard = 0;
    let shards = 1;
    if (o.shard !== undefined) {
      const s = /^(\d+)\/(\d+)$/.exec(o.shard);
      if (s === null || Number(s[2]) < 1 || Number(s[1]) >= Number(s[2])) throw new UsageError(`--shard: expected i/N with 0 <= i < N, got "${o.shard}"`);
      shard = Number(s[1]);
      shards = Number(s[2]);
    }
    const loaded = load(ref, o.set);
    const { scenario } = loaded;
    const shown = refWithSets(loaded);
    const metrics = new Metrics();
    const result: ShardResult = { scenario: shown, kernel: kernel ?? scenario.kernel, seeds: [], runs: [], histograms: {} };
    for (let seed = Number(m[1]); seed <= Number(m[2]); seed++) {
      if ((seed - Number(m[1])) % shards !== shard) continue;
      const r = simulate(scenario, { seed, scenarioRef: shown, bugs: o.bug, ...(kernel !== undefined ? { kernel } : {}) });
      result.seeds.push(seed);
      result.runs.push({ seed, trace_sha256: r.report.trace_sha256, violations_total: r.report.violations_total, page_requests: r.report.page_requests, events: r.report.events });
      metrics.merge(r.metrics.encode());
    }
    result.histograms = metrics.encode();
    if (o.out !== undefined) writeFileSync(o.out, JSON.stringify(result));
    const summary = summarizeShard(result);
    if (o.json === true) printJson(summary);
    else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (result.runs.some((r) => r.violations_total > 0)) process.exitCode = EXIT.VIOLATION;
  });
}

export function mergeCommand(files: string[], o: { json?: boolean }): void {
  wrap(() => {
    const merged: ShardResult = { scenario: '', seeds: [], runs: [], histograms: {} };
    const metrics = new Metrics();
    for (const f of files) {
      let data: unknown;
      try {
        data = JSON.parse(readFileSync(f, 'utf8'));
      } catch (e) {
        throw new UsageError(`${f}: not a readable shard result (${(e as Error).message})`);
      }
      const p = shardFile.safeParse(data);
      if (!p.success) throw new UsageError(`${f}: not a shard result: ${p.error.issues[0]?.path.join('.') ?? ''} ${p.error.issues[0]?.message ?? ''}`);
      if (merged.scenario !== '' && merged.scenario !== p.data.scenario) throw new UsageError(`${f}: shard of scenario "${p.data.scenario}", others are "${merged.scenario}"`);
      if (merged.scenario !== '' && merged.kernel !== p.data.kernel) throw new UsageError(`${f}: shard of kernel "${p.data.kernel ?? '?'}", others are "${merged.kernel ?? '?'}"`);
      merged.scenario = p.data.scenario;
      if (p.data.kernel !== undefined) merged.kernel = p.data.kernel;
      merged.seeds.push(...p.data.seeds);
      merged.runs.push(...p.data.runs);
      metrics.merge(p.data.histograms);
    }
    merged.histograms = metrics.encode();
    const summary = summarizeShard(merged);
    if (o.json === true) printJson(summary);
    else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
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

