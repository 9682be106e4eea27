/**
 * The library façade: `simulate` a scenario, `check` a trace, load scenarios, list rules and bugs.
 * Operating errors (bad scenario, bad trace) come back as values with a location; only programmer
 * errors throw (InvariantError, carrying seed and virtual time).
 */
import type { Chooser } from './sim/random.js';
import { InvariantError } from './sim/assert.js';
import type { Scenario } from './scenario/schema.js';
import { SinkWriteError, type TraceSink } from './trace/tracer.js';
export { SinkWriteError } from './trace/tracer.js';
import { TraceKind, PciRespCode, HandlerType, RespSource } from './trace/events.js';
import { World, type WorldOptions } from './model/world.js';
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
import { Monitor, type MonitorMode } from './check/monitor.js';
import { hintsFromScenario, ftraceDevicesFromScenario } from './check/hints.js';
import type { RunReport, Violation } from './report/run-report.js';
import type { Metrics, Percentiles } from './report/metrics.js';
import { encodeDocumentHistograms } from './report/run-document.js';
import type { HtmlReportExtras } from './report/html.js';

export { loadScenario, shippedScenarios, type LoadedScenario } from './scenario/files.js';
export { parseScenario } from './scenario/loader.js';
export { formatDiagnostic, type Diagnostic, type Result } from './scenario/diagnostics.js';
export { scenarioSchema, type Scenario } from './scenario/schema.js';
export { BUGS, BUG_NAMES, type BugVariant } from './scenario/bugs.js';
export { RULES, RULE_IDS, type Rule } from './check/rules/index.js';
export { PROFILES, PROFILE_NAMES, FORMS, SWITCHES, SWITCH_NAMES, behavioursOf, profilesWith, type Profile, type ProfileName } from './scenario/profiles.js';
import type { ProfileName } from './scenario/profiles.js';
import { checkJsonlFile, checkFtraceFile, type OfflineResult } from './check/offline.js';
export { checkJsonlFile, checkFtraceFile, type OfflineResult };
export { hintsFromScenario, ftraceDevicesFromScenario } from './check/hints.js';
export { formatSummary } from './report/summary.js';
export type { RunReport, Violation } from './report/run-report.js';
export { parseRunReport } from './report/run-document.js';
export type { HtmlReportExtras } from './report/html.js';
export { InvariantError } from './sim/assert.js';

export interface SimulateOptions {
  /** Seed of every stream (default: the scenario's, else 1). */
  seed?: number;
  /** Stop at this virtual time (default: the scenario's `until_ns`, else run to completion). */
  untilNs?: number;
  maxEvents?: number;
  /** Online checking (default: the scenario's `check`). */
  check?: MonitorMode;
  /** Kernel profile instead of the scenario's `kernel:` (`--kernel`). */
  kernel?: ProfileName;
  /** Behaviour switches (known bugs, forms) on in addition to the profile's and the scenario's. */
  bugs?: readonly string[];
  /** Trace writers and other sinks. */
  sinks?: readonly TraceSink[];
  /** Scheduling choices (replay, exploration); default: random from the seed. */
  chooser?: Chooser;
  recordChoices?: boolean;
  /** How to name the scenario in the replay command (a path or shipped name). */
  scenarioRef?: string;
  /** Called with the built world before the run (benchmarks add their own engine events here). */
  setup?: (world: World) => void;
}

export interface SimulateResult {
  report: RunReport;
  /** Recorded scheduling choices, when asked for. */
  choices: number[] | undefined;
  /** Set when an invariant broke: the run stopped there. */
  invariant: InvariantError | undefined;
  /** The run's histograms (mergeable across shards). */
  metrics: Metrics;
}

/** Counts responses by code and per-handler latency from the trace (a cheap sink). */
export class ResponseStats implements TraceSink {
  success = 0;
  invalid = 0;
  failure = 0;
  other = 0;
  auto = 0;
  groups = 0;
  creditStalls = 0;
  dmaDone = 0;
  dmaFailed = 0;
  binds = 0;
  unbinds = 0;
  pasidsFreed = 0;
  pasidsReused = 0;
  /** PASIDs given back to the allocator (a later bind of one is a reuse). */
  private readonly freed = new Set<number>();
  /** iommufd group id → time its handler took it (the core calls iommufd's handler in the
   * reporting step, so that is when the group formed). SVA groups are not tracked here. */
  private readonly live = new Map<number, number>();
  /** Set once the world exists (before the run; setup events are counted without it). */
  metrics: Metrics | undefined;
  onEvent(t: number, kind: number, _f0: number, f1: number, _f2: number, f3: number, f4: number, f5: number): void {
    switch (kind) {
      case TraceKind.RESPONSE_SEND: {
        // A negative code is a late attempt the core did not send (no response on the wire).
        if (f4 < 0) break;
        if (f4 === PciRespCode.SUCCESS) this.success++;
        else if (f4 === PciRespCode.INVALID) this.invalid++;
        else if (f4 === PciRespCode.FAILURE) this.failure++;
        else this.other++;
        if (this.live.size === 0) break;
        const since = this.live.get(f3);
        if (since !== undefined) {
          // SVA records its own 'sva_ns' (group formed → answered); iommufd's is measured here,
          // on user space's answers only (detach/replace/destroy auto-responses are teardown,
          // not handling, as SVA's flush answers are not in sva_ns).
          this.live.delete(f3);
          if (f5 === RespSource.GROUP) this.metrics?.record('iommufd_ns', t - since);
        }
        break;
      }
      case TraceKind.AUTO_RESPONSE:
        this.auto++;
        break;
      case TraceKind.GROUP_FORM:
        this.groups++;
        break;
      case TraceKind.HANDLER_START:
        if (f4 === HandlerType.IOMMUFD) this.live.set(f3, t);
        break;
      case TraceKind.CREDIT_STALL:
        this.creditStalls++;
        break;
      case TraceKind.BIND:
        if (f4 !== 0) break; // a failed bind
        this.binds++;
        if (this.freed.delete(f1)) this.pasidsReused++;
        break;
      case TraceKind.UNBIND:
        this.unbinds++;
        break;
      case TraceKind.PASID_FREE:
        this.pasidsFreed++;
        this.freed.add(f1);
        break;
      case TraceKind.DMA_DONE:
        this.dmaDone++;
        if (f4 !== 0) this.dmaFailed++;
        break;
      default:
        break;
    }
  }
}

function pct(s: { count: number; p50: number; p99: number; max: number; mean: number }): Percentiles {
  return { count: s.count, p50: s.p50, p99: s.p99, max: s.max, mean: Math.round(s.mean) };
}

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

/** The command that replays a run. */
export function replayCommandLine(ref: string, seed: number, bugs: readonly string[], untilNs?: number, kernel?: ProfileName): string {
  const parts = ['iopf', 'run', ref === 'default' ? '' : ref, '--seed', String(seed)];
  if (kernel !== undefined) parts.push('--kernel', kernel);
  for (const b of bugs) parts.push('--bug', b);
  if (untilNs !== undefined) parts.push('--until-ns', String(untilNs));
  return parts.filter((p) => p !== '').join(' ');
}

/** A built run not yet run: the world with its checker and counters (see openSession()). */
export interface PreparedRun {
  readonly scenario: Scenario;
  readonly opts: SimulateOptions;
  readonly seed: number;
  readonly mode: MonitorMode;
  readonly world: World;
  readonly monitor: Monitor;
  readonly stats: ResponseStats;
  /** Violations found outside the trace monitor (a script step's SCRIPT.EXPECT). */
  readonly extraViolations: Violation[];
}

/** Simulate a validated scenario. Deterministic: the same scenario and options give the same report. */
export function simulate(scenario: Scenario, opts: SimulateOptions = {}): SimulateResult {
  const p = prepareRun(scenario, opts);
  if (scenario.script.length > 0) installScript(p);
  const untilNs = opts.untilNs ?? scenario.until_ns;
  let invariant: InvariantError | undefined;
  let stopReason: string;
  try {
    stopReason = p.world.run(untilNs).reason;
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

/** A programmer error thrown inside a step, as an InvariantError with seed and virtual time. */
export function asInvariant(e: unknown, p: PreparedRun): InvariantError {
  // An output that cannot be written is the caller's operating error, not the model's: rethrown.
  if (e instanceof SinkWriteError) throw e;
  if (e instanceof InvariantError) return e;
  if (e instanceof Error) return new InvariantError(`${e.name}: ${e.message} (seed ${p.seed}, t=${p.world.sim.now} ns, event ${p.world.sim.events})`);
  throw e;
}

/** Build the world, its checker and counters for a run (simulate() and sessions). */
export function prepareRun(shipped: Scenario, opts: SimulateOptions = {}, worldExtra: Partial<WorldOptions> = {}): PreparedRun {
  // --kernel: the same scenario on another profile (everything downstream reads scenario.kernel).
  const kernelOverride = opts.kernel !== undefined && opts.kernel !== shipped.kernel ? opts.kernel : undefined;
  const scenario: Scenario = kernelOverride === undefined ? shipped : { ...shipped, kernel: kernelOverride };
  const seed = opts.seed ?? scenario.seed ?? 1;
  const mode: MonitorMode = opts.check ?? scenario.check;
  const monitor = new Monitor({ mode, ...hintsFromScenario(scenario) });
  const sinks: TraceSink[] = [];
  if (mode !== 'off') sinks.push(monitor);
  sinks.push(...(opts.sinks ?? []));
  // Registered before the world is built, so the setup's binds are counted too.
  const stats = new ResponseStats();
  sinks.push(stats);
  const world = new World(scenario, {
    ...(scenario.script.length > 0 ? { recordResponses: true } : {}),
    ...worldExtra,
    seed,
    bugs: opts.bugs ?? [],
    sinks,
    ...(opts.chooser !== undefined ? { chooser: opts.chooser } : {}),
    ...(opts.recordChoices !== undefined ? { recordChoices: opts.recordChoices } : {}),
    ...(opts.maxEvents !== undefined ? { maxEvents: opts.maxEvents } : {}),
  });
  stats.metrics = world.metrics;
  opts.setup?.(world);
  return { scenario, opts, seed, mode, world, monitor, stats, extraViolations: [] };
}

/** End a prepared run: the trace hash, the checker's verdict and the report. */
export function finishRun(p: PreparedRun, stopReason: string, invariant: InvariantError | undefined): SimulateResult {
  const { scenario, opts, seed, mode, world, monitor, stats } = p;
  const fam = scenario.iommu.family;
  const untilNs = opts.untilNs ?? scenario.until_ns;
  const sha = world.tracer.finish();
  const bugs = [...world.bugs];
  const violations: Violation[] = mode === 'off' ? [] : monitor.violations().map((v) => ({ rule: v.rule, time_ns: v.time_ns, detail: v.detail }));
  violations.push(...p.extraViolations);
  if (invariant !== undefined) violations.unshift({ rule: 'INVARIANT', time_ns: invariant.timeNs ?? world.sim.now, detail: invariant.message });
  const bal = monitor.balance();
  const counts = world.tracer.counts;
  const m = world.metrics;
  const queue: Record<string, number> = {};
  for (const [k, v] of Object.entries(world.iommu.stats())) queue[k] = v;
  queue.wq_busy_max = world.queue.wq.busyHighWater;
  queue.wq_pending_max = world.queue.wq.pendingHighWater;
  const sent = counts[TraceKind.PAGE_REQUEST]!;
  const dropped = bal.dropped + bal.lostByReset;
  const outstanding = bal.outstanding + bal.inTransit;
  const counters: Record<string, number> = {};
  for (const [k, v] of m.counters) counters[k] = v;
  counters.actions_failed = world.actionsFailed.length;
  const lat = m.summary('group_latency_ns');
  const report: RunReport = {
    seed,
    scenario: scenario.name,
    kernel: scenario.kernel,
    iommu: fam,
    bugs,
    events: world.sim.events,
    virtual_time_ns: world.sim.now,
    stop_reason: stopReason,
    trace_sha256: sha,
    page_requests: sent,
    stop_markers: counts[TraceKind.STOP_MARKER]!,
    groups: stats.groups,
    responses: { success: stats.success, invalid: stats.invalid, failure: stats.failure, other: stats.other },
    auto_responses: stats.auto,
    dropped: counts[TraceKind.QUEUE_DROP]!,
    violations,
    violations_total: (mode === 'off' ? 0 : monitor.violationCount()) + p.extraViolations.length + (invariant ? 1 : 0),
    rules_exercised: mode === 'off' ? [] : monitor.rulesExercised(),
    latency_ns: { p50: lat.p50, p99: lat.p99, max: lat.max, count: lat.count, mean: lat.mean },
    latency_by_handler_ns: { sva: pct(m.summary('sva_ns')), iommufd: pct(m.summary('iommufd_ns')) },
    credit_stalls: stats.creditStalls,
    credit_stall_ns: pct(m.summary('credit_stall_ns')),
    dma: { accesses: world.workloads.reduce((s, w) => s + w.count, 0), completed: stats.dmaDone, failed: stats.dmaFailed },
    pasids: { binds: stats.binds, unbinds: stats.unbinds, freed: stats.pasidsFreed, reused: stats.pasidsReused },
    queue,
    conservation: {
      sent,
      answered: bal.answered,
      auto_answered: bal.autoAnswered,
      dropped,
      outstanding,
      unaccounted: mode === 'off' ? 0 : sent - (bal.answered + bal.autoAnswered + dropped + outstanding),
    },
    counters,
    replay: replayCommandLine(opts.scenarioRef ?? scenario.name, seed, bugs.filter((b) => !scenario.bugs.includes(b)), untilNs, opts.kernel),
    histograms: encodeDocumentHistograms(m),
  };
  return { report, choices: world.choices(), invariant, metrics: world.metrics };
}
