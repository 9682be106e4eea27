/**
 * The calibration commands: `iopf fit TRACE` (a scenario from a kernel trace) and `iopf compare A B`
 * (two runs side by side). Option parsing and printing only; the work is in src/fit and src/report.
 */
import { basename } from 'node:path';
import { writeFileSync } from 'node:fs';
import { formatDiagnostic, parseRunReport, parseScenario, type RunReport } from '../api.js';
import { fitTrace, fittedScenario, traceFormat } from '../fit/index.js';
import { formatCompare, renderCompareHtml } from '../report/compare.js';
import { parseOverrides } from '../scenario/overrides.js';
import { EXIT, UsageError, checkTraceInput, inputReadError, printJson, readJsonInput } from './output.js';
import { MiB } from '../io/input-file.js';

export interface FitOpts {
  format: 'auto' | 'jsonl' | 'ftrace';
  output?: string;
  name?: string;
  json?: boolean;
  set: string[];
  batchGapNs?: number;
  workers?: number;
}

/** A scenario name from a trace file name: `run.txt` → `fitted-run`. */
function nameFor(path: string): string {
  const base = basename(path).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_');
  return `fitted-${base === '' ? 'trace' : base}`;
}

export async function fitCommand(path: string, o: FitOpts): Promise<void> {
  checkTraceInput(path);
  const ov = parseOverrides(o.set);
  if (!ov.ok) {
    for (const d of ov.errors) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.exitCode = EXIT.BAD_INPUT;
    return;
  }
  if (o.workers !== undefined && (o.workers < 1 || o.workers > 65536)) throw new UsageError(`--workers: expected 1..65536, got ${o.workers}`);
  let res: Awaited<ReturnType<typeof fitTrace>>;
  try {
    res = await fitTrace(path, {
      format: o.format,
      ...(o.batchGapNs !== undefined ? { batchGapNs: o.batchGapNs } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
    });
  } catch (e) {
    throw inputReadError(path, e);
  }
  // Bad lines are reported as `iopf check` reports them, and nothing is written.
  if (res.errorCount > 0) {
    for (const d of res.diagnostics.slice(0, 20)) process.stderr.write(`${path}:${d.lineNo}${d.column !== undefined ? `:${d.column}` : ''}: ${d.severity}: ${d.message}\n`);
    if (res.diagnosticCount > 20) process.stderr.write(`… ${res.diagnosticCount - 20} more diagnostics\n`);
    process.stderr.write(`iopf fit: ${path} (${traceFormat(path, o.format)}) has ${res.errorCount} bad line(s); no scenario written\n`);
    process.exitCode = EXIT.BAD_INPUT;
    return;
  }
  const out = o.output;
  const fs = fittedScenario(res, { name: o.name ?? nameFor(path), source: basename(path) });
  // The fitted scenario, with any --set applied, must load: the same validation as `iopf run`.
  const file = out ?? '(fitted scenario)';
  const check = parseScenario(fs.yaml, file, ov.value);
  if (!check.ok) {
    for (const d of check.errors.slice(0, 20)) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.exitCode = EXIT.BAD_INPUT;
    return;
  }
  const final = ov.value.length > 0 ? fittedScenario(res, { name: o.name ?? nameFor(path), source: basename(path), overrides: ov.value }) : fs;
  const warnings = res.diagnostics.filter((d) => d.severity === 'warning');
  if (out !== undefined) {
    try {
      writeFileSync(out, final.yaml);
    } catch (e) {
      throw new UsageError(`cannot write ${out}: ${(e as Error).message}`);
    }
  }
  if (o.json === true) {
    printJson({ file: path, format: res.format, records: res.records, stages: final.stages.map((s) => ({ stage: s.stage, fitted_as: s.what, ...s.summary, ks_table: s.ksTable, ks_exponential: s.ksExponential })), diagnostics: res.diagnostics, ...(out === undefined ? { scenario: final.scenario } : { output: out }) });
    return;
  }
  if (out === undefined) process.stdout.write(final.yaml);
  const w = out === undefined ? process.stderr : process.stdout;
  for (const d of warnings.slice(0, 20)) w.write(`${path}:${d.lineNo}${d.column !== undefined ? `:${d.column}` : ''}: ${d.severity}: ${d.message}\n`);
  w.write(`${final.report.join('\n')}\n`);
  if (out !== undefined) w.write(`wrote ${out}: try \`iopf run ${out}\`, then a what-if with --set (e.g. --set iopf.workers=1)\n`);
}

/** A run document is a few MiB at most (histograms, violations capped): the same bound as `iopf report`. */
const MAX_RUN_DOCUMENT_BYTES = 64 * MiB;

function readRun(path: string): RunReport {
  const data = readJsonInput(path, MAX_RUN_DOCUMENT_BYTES, 'the output of `iopf run --json`');
  const p = parseRunReport(data);
  if (!p.ok) throw new UsageError(`${path}: ${p.error}`);
  return p.value;
}

export async function compareCommand(a: string, b: string, o: { output?: string }): Promise<void> {
  const ra = { label: basename(a), report: readRun(a) };
  const rb = { label: basename(b), report: readRun(b) };
  process.stdout.write(`${formatCompare(ra, rb)}\n`);
  if (o.output !== undefined) {
    const html = await renderCompareHtml(ra, rb);
    try {
      writeFileSync(o.output, html);
    } catch (e) {
      throw new UsageError(`cannot write ${o.output}: ${(e as Error).message}`);
    }
    process.stdout.write(`wrote ${o.output}\n`);
  }
}
