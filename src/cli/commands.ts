/**
 * The CLI's command actions: parse options, call the library façade, print, set the exit code.
 * No model logic here.
 */
import { closeSync, openSync, statSync, writeSync, writeFileSync } from 'node:fs';
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
import { JsonlWriter } from '../trace/jsonl.js';
import { MiB, readTextFile } from '../io/input-file.js';
import { escapeText } from '../scenario/diagnostics.js';
import { SinkWriteError } from '../trace/tracer.js';
import { FtraceWriter } from '../trace/ftrace-writer.js';
import { PerfettoWriter } from '../trace/perfetto.js';
import type { TraceSink } from '../trace/tracer.js';
import { PrefixChooser, ReplayChooser } from '../sim/random.js';
import { Metrics } from '../report/metrics.js';
import { EXIT, UsageError, printJson } from './output.js';
import { parseOverrides, shellWord } from '../scenario/overrides.js';

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
function fileSink(path: string, make: (write: (s: string) => void, close: () => void) => TraceSink): TraceSink {
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

/** Read a whole JSON input file (regular file, bounded, UTF-8), or exit 2 naming what is wrong. */
function readJsonInput(path: string, maxBytes: number, what: string): unknown {
  const f = readTextFile(path, maxBytes, what);
  if (!f.ok) throw new UsageError(`${path}${f.line > 0 ? `:${f.line}:${f.col}` : ''}: ${f.message}`);
  try {
    return JSON.parse(f.text);
  } catch (e) {
    throw new UsageError(`${path}: not JSON (${(e as Error).message}); expected ${what}`);
  }
}

/** Bounds of whole-file JSON inputs (a sweep of 10^6 seeds writes a shard of ~150 MiB). */
const MAX_RUN_DOCUMENT_BYTES = 64 * MiB;
const MAX_CHOICES_BYTES = 256 * MiB;
const MAX_SHARD_BYTES = 256 * MiB;

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
    if (o.perfetto !== undefined) sinks.push(fileSink(o.perfetto, (w, c) => new PerfettoWriter(scenario, w, c)));
    const opts: SimulateOptions = { bugs: o.bug, sinks, scenarioRef: shown };
    if (kernel !== undefined) opts.kernel = kernel;
    if (o.seed !== undefined) opts.seed = o.seed;
    if (o.untilNs !== undefined) opts.untilNs = o.untilNs;
    if (o.check !== undefined) opts.check = o.check;
    if (o.maxEvents !== undefined) opts.maxEvents = o.maxEvents;
    if (o.recordChoices !== undefined) opts.recordChoices = true;
    const r = simulate(scenario, opts);
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
    // A trace streams, so a FIFO (trace-cmd piping) is fine; a directory is not a trace.
    try {
      if (statSync(path).isDirectory()) throw new UsageError(`cannot read ${path}: a directory, expected a trace file`);
      closeSync(openSync(path, 'r'));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
    }
    let res: OfflineResult;
    try {
      res = await check(path, { format: o.format, devices, ...(scenario !== undefined ? { scenario } : {}) });
    } catch (e) {
      // A read error while streaming (EIO, EISDIR on an odd file system) is about the input.
      if (typeof (e as NodeJS.ErrnoException).code === 'string') throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
      throw e;
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

export function exploreCommand(ref: string | undefined, o: { runs: number; seed: number; mode: 'random' | 'exhaustive'; bug: string[]; kernel?: string; json?: boolean; set: string[] }): void {
  wrap(() => {
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
        writeOutput(file, JSON.stringify({ scenario: loaded.ref, ...(loaded.sets.length > 0 ? { set: loaded.sets } : {}), seed: f.seed, bugs: o.bug, until_ns: null, choices: f.choices, mode: 'prefix', ...k }));
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
    finishRun(r.report, o.json === true);
  });
}

const shardFile = z.strictObject({
  scenario: z.string(),
  kernel: z.enum(PROFILE_NAMES).optional(),
  seeds: z.array(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)),
  runs: z.array(
    z.strictObject({
      seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
      trace_sha256: z.string().max(64),
      violations_total: z.number().int().nonnegative(),
      page_requests: z.number().int().nonnegative(),
      events: z.number().int().nonnegative(),
    }),
  ),
  histograms: z.record(z.string(), z.string()),
});
type ShardResult = z.infer<typeof shardFile>;

function summarizeShard(s: ShardResult, m: Metrics): Record<string, unknown> {
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
    // Seeds are safe integers (every random stream is keyed by one: src/sim/random.ts).
    if (!Number.isSafeInteger(Number(m[2]))) throw new UsageError(`--seeds: seeds are at most ${Number.MAX_SAFE_INTEGER} (2^53 − 1), got "${o.seeds}"`);
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
    if (o.out !== undefined) writeOutput(o.out, JSON.stringify(result));
    const summary = summarizeShard(result, metrics);
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
      const data = readJsonInput(f, MAX_SHARD_BYTES, 'a shard result of `iopf sweep --out`');
      const p = shardFile.safeParse(data);
      if (!p.success) throw new UsageError(`${f}: not a shard result: ${p.error.issues[0]?.path.join('.') ?? ''} ${p.error.issues[0]?.message ?? ''}`);
      if (merged.scenario !== '' && merged.scenario !== p.data.scenario) throw new UsageError(`${f}: shard of scenario "${p.data.scenario}", others are "${merged.scenario}"`);
      if (merged.scenario !== '' && merged.kernel !== p.data.kernel) throw new UsageError(`${f}: shard of kernel "${p.data.kernel ?? '?'}", others are "${merged.kernel ?? '?'}"`);
      merged.scenario = p.data.scenario;
      if (p.data.kernel !== undefined) merged.kernel = p.data.kernel;
      // One at a time: spreading 10^5 elements into push() overflows the call stack.
      for (const seed of p.data.seeds) merged.seeds.push(seed);
      for (const run of p.data.runs) merged.runs.push(run);
      const bad = metrics.mergeChecked(p.data.histograms);
      if (bad !== undefined) throw new UsageError(`${f}: not a shard result: histograms.${bad}`);
    }
    merged.histograms = metrics.encode();
    const summary = summarizeShard(merged, metrics);
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

