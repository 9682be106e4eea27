/**
 * A checked run of one scenario: the world with its online checker and response counters
 * (prepareRun), and the report at its end (finishRun). simulate() in the library façade and the
 * uAPI sessions both build their runs here.
 */
import type { Chooser } from '../sim/random.js';
import { InvariantError } from '../sim/assert.js';
import type { Scenario } from '../scenario/schema.js';
import type { ProfileName } from '../scenario/profiles.js';
import { SinkWriteError, type TraceSink } from '../trace/tracer.js';
import { TraceKind, PciRespCode, HandlerType, RespSource } from '../trace/events.js';
import { Monitor, type MonitorMode, type Violation as MonitorViolation } from '../check/monitor.js';
import { hintsFromScenario } from '../check/hints.js';
import type { RunReport, Violation } from '../report/run-report.js';
import type { Metrics, Percentiles } from '../report/metrics.js';
import { encodeDocumentHistograms } from '../report/run-document.js';
import { World, type WorldOptions } from './world.js';

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
  /** Leave the report's encoded histograms out (explorers and shrinkers make thousands of small
   * runs and read only the violations; encoding is most of a small run's cost). */
  noHistograms?: boolean;
  /** Called with the built world before the run (benchmarks add their own engine events here). */
  setup?: (world: World) => void;
  /** Called every PROGRESS_EVENTS events during the run (the CLI's progress bar). The run is the
   * same with or without it: the engine loop is only resumed where it paused. */
  progress?: (p: RunProgress) => void;
}

export interface RunProgress {
  events: number;
  virtual_time_ns: number;
  /** DMA accesses finished, of the accesses the scenario's workloads plan (actions may stop some early). */
  accesses_done: number;
  accesses_total: number;
  violations: number;
}

/** Engine events between two progress calls (~0.1–0.5 s of a pipeline run). */
export const PROGRESS_EVENTS = 1 << 18;

export interface SimulateResult {
  report: RunReport;
  /** Recorded scheduling choices, when asked for. */
  choices: number[] | undefined;
  /** Set when an invariant broke: the run stopped there. */
  invariant: InvariantError | undefined;
  /** The run's histograms (mergeable across shards). */
  metrics: Metrics;
  /** The checker's violations as found, with the event ordinal and subject of each (the
   * counterexample's starting point); empty when checking was off. */
  checkerViolations: readonly MonitorViolation[];
  /** Violations per rule, all of them counted (stored ones are capped). */
  violationsByRule: Record<string, number>;
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
  // Per-device state sized to the scenario (the monitor's default, 256 devices, costs ~6 MB a run).
  const monitor = new Monitor({ mode, maxDevices: Math.max(1, scenario.devices.length), ...hintsFromScenario(scenario) });
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
  // A run stopped before it drained is not judged on liveness (what had not happened yet might
  // still have), nor one an invariant stopped.
  if (stopReason !== 'drained') monitor.stoppedEarly();
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
    ...(opts.noHistograms === true ? {} : { histograms: encodeDocumentHistograms(m) }),
  };
  return { report, choices: world.choices(), invariant, metrics: world.metrics, checkerViolations: mode === 'off' ? [] : monitor.violations(), violationsByRule: mode === 'off' ? {} : monitor.violationsByRule() };
}
