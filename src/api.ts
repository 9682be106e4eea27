/**
 * The library façade: `simulate` a scenario, `check` a trace, load scenarios, list rules and bugs.
 * Operating errors (bad scenario, bad trace) come back as values with a location; only programmer
 * errors throw (InvariantError, carrying seed and virtual time).
 */
import type { InvariantError } from './sim/assert.js';
import type { Scenario } from './scenario/schema.js';
export { SinkWriteError } from './trace/tracer.js';
import { asInvariant, finishRun, prepareRun, PROGRESS_EVENTS, type PreparedRun, type RunProgress, type SimulateOptions, type SimulateResult } from './model/run.js';
export {
  ResponseStats,
  asInvariant,
  finishRun,
  prepareRun,
  replayCommandLine,
  PROGRESS_EVENTS,
  type PreparedRun,
  type RunProgress,
  type SimulateOptions,
  type SimulateResult,
} from './model/run.js';
import { installScript } from './uapi/script.js';
import { IommufdSession, type SessionOptions } from './uapi/session.js';
export {
  IommufdSession,
  IommufdOps,
  HwptAllocFlag,
  IOMMU_NO_PASID,
  retValue,
  type SessionOptions,
  type CallResult,
  type IdResult,
  type FaultAllocResult,
  type MockDomainResult,
  type ReadReturn,
  type PollReturn,
  type HwptAllocArgs,
  type TriggerIopfArgs,
  type DriverResponse,
} from './uapi/session.js';
export { SCRIPT_EXPECT, hexBytes } from './uapi/script.js';
export {
  PGFAULT_SIZE,
  PAGE_RESPONSE_SIZE,
  PgfaultFlag,
  PgfaultPerm,
  IommufdRespCode,
  encodePgfault,
  decodePgfault,
  decodePgfaults,
  encodePageResponse,
  encodePageResponses,
  decodePageResponse,
  type HwptPgfault,
  type HwptPageResponse,
} from './handlers/iommufd/abi.js';
export { Errno, errnoName, type ErrnoName } from './sim/errno.js';
export type { ScriptStep, ScriptExpect } from './scenario/schema.js';
import { hintsFromScenario, ftraceDevicesFromScenario } from './check/hints.js';
import type { RunReport } from './report/run-report.js';
import type { HtmlReportExtras } from './report/html.js';

export { loadScenario, shippedScenarios, type LoadedScenario } from './scenario/files.js';
export { parseScenario } from './scenario/loader.js';
export { formatDiagnostic, type Diagnostic, type Result } from './scenario/diagnostics.js';
export { scenarioSchema, type Scenario } from './scenario/schema.js';
export { BUGS, BUG_NAMES, type BugVariant } from './scenario/bugs.js';
export { RULES, RULE_IDS, type Rule } from './check/rules/index.js';
export { PROFILES, PROFILE_NAMES, FORMS, SWITCHES, SWITCH_NAMES, behavioursOf, profilesWith, type Profile, type ProfileName } from './scenario/profiles.js';
import { checkJsonlFile, checkFtraceFile, type OfflineResult } from './check/offline.js';
export { checkJsonlFile, checkFtraceFile, type OfflineResult };
export { hintsFromScenario, ftraceDevicesFromScenario } from './check/hints.js';
export { formatSummary } from './report/summary.js';
export type { RunReport, Violation } from './report/run-report.js';
export { parseRunReport } from './report/run-document.js';
export type { HtmlReportExtras } from './report/html.js';
export { InvariantError } from './sim/assert.js';

/**
 * The static HTML report of a run (one self-contained file). The plotting library is loaded on
 * first use only, so simulating and checking never pay for it.
 */
export async function renderHtmlReport(report: RunReport, extras: HtmlReportExtras = {}): Promise<string> {
  const html = await import('./report/html.js');
  return html.renderHtmlReport(report, extras);
}

export interface CheckOptions {
  /** 'auto' (default): `.jsonl` is iopf JSONL, anything else Linux ftrace text. */
  format?: 'auto' | 'jsonl' | 'ftrace';
  /** Hardware and kernel hints from a scenario (PASID-required bits, queue size, flush contract). */
  scenario?: Scenario;
  /** ftrace: per requester ID, whether the function requires a PASID in responses (overrides the scenario). */
  devices?: ReadonlyMap<number, { pasidRequired: boolean }>;
  mode?: 'cheap' | 'full';
}

/**
 * Check a trace file against the rules, streaming (constant memory). Bad lines come back as
 * diagnostics with line numbers, broken rules as violations; nothing is thrown for bad input.
 */
export async function check(path: string, opts: CheckOptions = {}): Promise<OfflineResult> {
  const format = opts.format === undefined || opts.format === 'auto' ? (path.endsWith('.jsonl') ? 'jsonl' : 'ftrace') : opts.format;
  const mode = opts.mode ?? 'full';
  if (format === 'jsonl') return checkJsonlFile(path, { mode, ...(opts.scenario !== undefined ? hintsFromScenario(opts.scenario) : {}) });
  const devices = opts.scenario !== undefined ? ftraceDevicesFromScenario(opts.scenario) : new Map<number, { pasidRequired: boolean }>();
  for (const [rid, d] of opts.devices ?? []) devices.set(rid, d);
  return checkFtraceFile(path, { mode, devices });
}

/** Run in slices of PROGRESS_EVENTS events, reporting between them; same run as one `world.run`. */
function runWithProgress(p: PreparedRun, untilNs: number | undefined, report: (p: RunProgress) => void): string {
  const { world, stats, monitor, mode, scenario } = p;
  const limit = world.sim.limits.maxEvents;
  const total = scenario.workloads.reduce((n, w) => n + w.accesses, 0);
  for (;;) {
    const slice = world.sim.run({ maxEvents: Math.min(limit, world.sim.events + PROGRESS_EVENTS), ...(untilNs !== undefined ? { maxTimeNs: untilNs } : {}) });
    if (slice.reason !== 'max-events' || world.sim.events >= limit) return slice.reason;
    report({ events: world.sim.events, virtual_time_ns: world.sim.now, accesses_done: stats.dmaDone, accesses_total: total, violations: mode === 'off' ? 0 : monitor.violationCount() });
  }
}

/** Simulate a validated scenario. Deterministic: the same scenario and options give the same report. */
export function simulate(scenario: Scenario, opts: SimulateOptions = {}): SimulateResult {
  const p = prepareRun(scenario, opts);
  if (scenario.script.length > 0) installScript(p);
  const untilNs = opts.untilNs ?? scenario.until_ns;
  let invariant: InvariantError | undefined;
  let stopReason: string;
  try {
    stopReason = opts.progress === undefined ? p.world.run(untilNs).reason : runWithProgress(p, untilNs, opts.progress);
  } catch (e) {
    // A broken invariant — or any programmer error thrown inside a step — stops the run there; it
    // is reported with seed, virtual time and event count, and the run's replay command.
    invariant = asInvariant(e, p);
    stopReason = 'invariant';
  }
  return finishRun(p, stopReason, invariant);
}

/**
 * Open an interactive session on a scenario's machine: drive it through the iommufd uAPI (and the
 * selftest's trigger, and raw descriptor injection), one call at a time in virtual time; `finish()`
 * runs it to the end and returns the report.
 *
 * ```ts
 * const s = openSession(scenario);            // iommu.family: mock
 * const ioas = s.ioasAlloc().id;              // 1
 * const { idevId } = s.mockDomain('dev0', ioas);
 * const { faultId, fd } = s.faultQueueAlloc();
 * ```
 */
export function openSession(scenario: Scenario, opts: SessionOptions = {}): IommufdSession {
  const p = prepareRun(scenario, opts, { recordResponses: true });
  return new IommufdSession(p, asInvariant, finishRun);
}

