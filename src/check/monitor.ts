/**
 * The online monitor: a TraceSink that checks the rule catalogue (rules.ts) against the event
 * stream, during a run or over a trace file (offline.ts feeds it the same way). It sees only trace
 * events, never model internals.
 *
 * State is kept where it is cheap: per device and per (device, PRG index) slot in typed arrays
 * (slot = dev * 512 + prgi). 'full' mode adds maps of live groups, partial faults and per-(device,
 * PASID) flush/drain/stop state. Checks on what an operation left behind (flush, discard, remove)
 * run at the end of the virtual instant, so the order of events inside one instant does not matter.
 *
 * Trace conventions this monitor relies on (the model's emitters must follow them):
 *  - every page_request / stop_marker is followed by exactly one queue_write or queue_drop of the
 *    same `req` (a request refused by the hardware's own checks is a queue_drop, then an
 *    auto_response if L=1); queue_write.depth = entries pending after the write;
 *  - response_send / auto_response / response_recv codes are PCIe wire codes (0, 1, 0xF);
 *    response_send.group is the core's group id (never reused) or -1 when no group exists
 *    (report-path error response, driver check, offline ftrace);
 *  - a response attempt the core does not send because the group is no longer pending is traced as
 *    response_send with a negative code: LATE_IGNORED (-4096, below every errno) when it is ignored,
 *    -errno when the caller gets an error (CORE.RESP.LATE_IS_NOT_ERROR);
 *  - iommufd_write is emitted when write() returns, after the response_send events of the records
 *    it took; bytes = length asked, result = return value;
 *  - handler_start/handler_end bracket a handler's hold on a group; flush_end, discard_partial and
 *    device_remove are emitted when the operation returns.
 */
import * as hdr from 'hdr-histogram-js';
import {
  HandlerType,
  PciRespCode,
  PrFlag,
  RecvOutcome,
  RespSource,
  TraceKind,
} from '../trace/events.js';
import type { TraceSink } from '../trace/tracer.js';
import { formatJsonlEvent } from '../trace/jsonl.js';
import { RULES, ruleIndex } from './rules.js';

/** Marker code of response_send for a late response attempt that the core ignored (no error). */
export const LATE_IGNORED = -4096;

export type MonitorMode = 'off' | 'cheap' | 'full';

export interface MonitorOptions {
  readonly mode: MonitorMode;
  /** Entries N of each IOMMU's page request queue (by iommu id); VTD.PRQ.FULL_N_MINUS_1 checks depth <= N-1. */
  readonly queueCapacity?: ReadonlyMap<number, number>;
  /** Whether each IOMMU answers an L=1 request dropped on overflow (VT-d, SMMUv3: true; AMD: scenario switch). */
  readonly overflowAutoResponse?: ReadonlyMap<number, boolean>;
  /** PRG Response PASID Required of a device; undefined = unknown (PASID-form rules skip it). */
  readonly deviceRequiresPasid?: (dev: number) => boolean | undefined;
  /** Outstanding Page Request Allocation of a device, if known (also learned from credit_stall). */
  readonly creditAllocation?: (dev: number) => number | undefined;
  /**
   * 'host' for inputs with host-side events only (Linux ftrace): page_request/queue_write are the
   * same arrival and response_send implies its receipt; device-only rules are not exercised.
   */
  readonly inputs?: 'model' | 'host';
  /**
   * What iopf_queue_flush_dev(dev, pasid) promises (CORE.FLUSH.NOTHING_PENDING): 'seed' (default)
   * — nothing of the PASID partial or pending after it; 'workqueue' — mainline and v6.7, where the
   * flush only waits for the workqueue: no in-kernel (SVA) handler of the PASID still runs.
   */
  readonly flushContract?: 'seed' | 'workqueue';
  /** Violations stored (all are counted). Default 1000. */
  readonly maxViolations?: number;
  /** Device ids must be below this. Default 256. */
  readonly maxDevices?: number;
}

export interface Violation {
  readonly rule: string;
  readonly time_ns: number;
  readonly detail: string;
  /** The triggering event as canonical JSONL, when there is one. */
  readonly events?: string;
  /** Line of the triggering event in an offline trace. */
  readonly line?: number;
}

/** HOST.CONSERVATION bookkeeping, in page requests (stop markers counted apart). */
export interface Balance {
  sent: number;
  /** Reached the IOMMU (queued or dropped there). */
  arrived: number;
  /** Requests of groups answered by software. */
  answered: number;
  /** Requests of groups answered by the hardware (overflow / failed checks). */
  autoAnswered: number;
  /** Requests of groups whose L=1 was dropped without a response (accounted loss). */
  dropped: number;
  /** Requests of groups abandoned by a PRI reset or disable. */
  lostByReset: number;
  /** Requests of groups still unanswered (end of run: a liveness problem unless in flight). */
  outstanding: number;
  /** Sent but not (yet) seen at the IOMMU. */
  inTransit: number;
  stopMarkers: number;
}

export interface LatencyStats {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const NR = RULES.length;
const R = {
  ENABLE: ruleIndex('PRI.ENABLE.REQUIRED'),
  CREDIT: ruleIndex('PRI.CREDIT.LIMIT'),
  NO_REUSE: ruleIndex('PRI.PRGI.NO_REUSE'),
  LAST_CLOSES: ruleIndex('PRI.GROUP.LAST_CLOSES'),
  STOP_NO_CREDIT: ruleIndex('PRI.STOP.NO_CREDIT'),
  STOP_QUIESCE: ruleIndex('PRI.STOP.AFTER_QUIESCE'),
  UPRGI: ruleIndex('PRI.RESP.UPRGI'),
  PASID_FORM: ruleIndex('PRI.RESP.PASID_FORM'),
  FAILURE_DISABLES: ruleIndex('PRI.RESP.FAILURE_DISABLES'),
  ONE_PER_GROUP: ruleIndex('HOST.RESP.ONE_PER_GROUP'),
  AFTER_LAST: ruleIndex('HOST.RESP.AFTER_LAST'),
  NO_PARTIAL: ruleIndex('HOST.RESP.NO_PARTIAL'),
  PASID_IFF: ruleIndex('HOST.RESP.PASID_IFF_REQUIRED'),
  CODE: ruleIndex('HOST.RESP.CODE_DEFINED'),
  STOP_NO_RESP: ruleIndex('HOST.STOP.NO_RESPONSE'),
  CONSERVATION: ruleIndex('HOST.CONSERVATION'),
  LIVENESS: ruleIndex('LIVENESS.ALL_ANSWERED'),
  FULL: ruleIndex('VTD.PRQ.FULL_N_MINUS_1'),
  AUTORESP: ruleIndex('VTD.PRQ.OVERFLOW_AUTORESP'),
  DRAIN: ruleIndex('VTD.DRAIN.COMPLETE'),
  FLUSH_PENDING: ruleIndex('CORE.FLUSH.NOTHING_PENDING'),
  FLUSH_NEW: ruleIndex('CORE.FLUSH.NO_NEW_FAULTS'),
  AT_MOST_ONCE: ruleIndex('CORE.RESP.AT_MOST_ONCE'),
  LATE: ruleIndex('CORE.RESP.LATE_IS_NOT_ERROR'),
  REMOVE_LIVE: ruleIndex('CORE.REMOVE.NO_LIVE_GROUP'),
  REMOVE_LEFT: ruleIndex('CORE.REMOVE.NOTHING_LEFT'),
  PARTIAL_FREED: ruleIndex('CORE.PARTIAL.FREED'),
  GATHERED: ruleIndex('CORE.PARTIAL.GATHERED'),
  ONE_PASID: ruleIndex('CORE.GROUP.ONE_PASID'),
  STALE_MM: ruleIndex('SVA.PASID.NO_STALE_MM'),
  WRITE_RET: ruleIndex('IOMMUFD.WRITE.ERROR_RETURNED'),
  NO_FAILURE: ruleIndex('IOMMUFD.RESP.NO_FAILURE'),
} as const;

/** Rules a 'host' input cannot test (they need device-side events or core internals). */
const DEVICE_ONLY: ReadonlySet<number> = new Set([
  R.ENABLE,
  R.CREDIT,
  R.STOP_NO_CREDIT,
  R.UPRGI,
  R.PASID_FORM,
  R.FAILURE_DISABLES,
  R.AFTER_LAST,
  R.CONSERVATION,
]);

const PRGI_COUNT = 512;
/** Host slot states. */
const H_NONE = 0;
const H_PARTIAL = 1;
const H_COMPLETE = 2;
const H_ANSWERED = 3;
/** Device slot states. */
const D_IDLE = 0;
const D_OPEN = 1;
const D_CLOSED = 2;
/** mm of a group at send time: unknown (no bind seen) or PASID not bound. */
const MM_UNKNOWN = -1;
const MM_UNBOUND = -2;
const FIFO_LIMIT = 1 << 16;

interface GroupRec {
  dev: number;
  pasid: number;
  prgi: number;
  seq: number;
  handler: number;
  live: boolean;
  sendMm: number;
}

interface PartialRec {
  dev: number;
  pasid: number;
  prgi: number;
  /** The core's grpid as traced (AMD mainline: PRG index | last << 9). */
  grpid: number;
  seq: number;
}

/** The PRG index of a core grpid: the 9-bit PCIe index (AMD's PPR tag adds the last bit, bit 9). */
function prgiOfGrpid(grpid: number): number {
  return grpid & 0x1ff;
}

type Deferred = { kind: 'flush'; dev: number; pasid: number; seq: number; t: number }
  | { kind: 'remove'; dev: number; seq: number; t: number }
  | { kind: 'discard'; iommu: number; seq: number; t: number };

function dpKey(dev: number, pasid: number): number {
  return dev * 0x200000 + (pasid + 1);
}

export class Monitor implements TraceSink {
  readonly mode: MonitorMode;
  private readonly full: boolean;
  private readonly hostOnly: boolean;
  private readonly maxDev: number;
  private readonly maxViolations: number;
  private readonly opts: MonitorOptions;

  private readonly stored: Violation[] = [];
  private total = 0;
  private readonly perRule = new Float64Array(NR);
  private readonly exercised = new Uint8Array(NR);
  /** Line of the event being processed (offline). */
  line: number | undefined;
  private seq = 0;
  private now = 0;
  private cur: [number, number, number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0, 0, 0];
  private finished = false;

  // Per device.
  private readonly dOut: Int32Array;
  private readonly alloc: Int32Array;
  private readonly priDisabled: Uint8Array;
  private readonly rf: Uint8Array;
  private readonly devIommu: Int32Array;
  private readonly devRemoved: Uint8Array;
  private readonly sentBy: Float64Array;
  private readonly arrivedBy: Float64Array;

  // Per (device, PRG index) slot: device side.
  private readonly dState: Uint8Array;
  private readonly dCount: Int32Array;
  private readonly dPasid: Int32Array;
  private readonly dLastReq: Float64Array;
  private readonly dMm: Float64Array;
  // Host side.
  private readonly hState: Uint8Array;
  private readonly hCount: Int32Array;
  private readonly hResp: Uint8Array;
  private readonly hPasid: Int32Array;
  private readonly hDroppedLast: Uint8Array;
  private readonly hExcused: Uint8Array;
  private readonly hStop: Uint8Array;
  private readonly hLastT: Float64Array;

  private readonly bal: Balance = {
    sent: 0,
    arrived: 0,
    answered: 0,
    autoAnswered: 0,
    dropped: 0,
    lostByReset: 0,
    outstanding: 0,
    inTransit: 0,
    stopMarkers: 0,
  };
  private readonly hist = hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  // Small sets (stop markers, drops): FIFO-bounded maps keyed by request id.
  private readonly stopReqs = new Map<number, number>();
  private readonly droppedReqs = new Map<number, number>();
  /** Requests already reported under VTD.DRAIN.COMPLETE at queue time (not again when reported). */
  private readonly drainReported = new Map<number, number>();
  /** Dropped L=1 requests still owed a hardware response. */
  private readonly owedAuto = new Map<number, { dev: number; prgi: number; t: number }>();

  // Full mode.
  private readonly groups = new Map<number, GroupRec>();
  private maxGroup = -1;
  private readonly freedLive = new Set<number>();
  private readonly partials = new Map<number, PartialRec>();
  /** Request ids of partial faults per slot (may hold ids already freed; checked against `partials`). */
  private readonly partialsBySlot = new Map<number, number[]>();
  private readonly flushing = new Set<number>();
  private readonly drained = new Set<number>();
  private readonly stopped = new Set<number>();
  private readonly pasidMm = new Map<number, number>();
  private iommufdTaken = 0;
  private readonly deferred: Deferred[] = [];

  constructor(opts: MonitorOptions) {
    this.opts = opts;
    this.mode = opts.mode;
    this.full = opts.mode === 'full';
    this.hostOnly = opts.inputs === 'host';
    this.maxDev = opts.maxDevices ?? 256;
    this.maxViolations = opts.maxViolations ?? 1000;
    const nd = this.maxDev;
    const ns = nd * PRGI_COUNT;
    this.dOut = new Int32Array(nd);
    this.alloc = new Int32Array(nd).fill(-1);
    this.priDisabled = new Uint8Array(nd);
    this.rf = new Uint8Array(nd);
    this.devIommu = new Int32Array(nd).fill(-1);
    this.devRemoved = new Uint8Array(nd);
    this.sentBy = new Float64Array(nd);
    this.arrivedBy = new Float64Array(nd);
    this.dState = new Uint8Array(ns);
    this.dCount = new Int32Array(ns);
    this.dPasid = new Int32Array(ns).fill(-1);
    this.dLastReq = new Float64Array(ns).fill(-1);
    this.dMm = new Float64Array(ns).fill(MM_UNKNOWN);
    this.hState = new Uint8Array(ns);
    this.hCount = new Int32Array(ns);
    this.hResp = new Uint8Array(ns);
    this.hPasid = new Int32Array(ns).fill(-1);
    this.hDroppedLast = new Uint8Array(ns);
    this.hExcused = new Uint8Array(ns);
    this.hStop = new Uint8Array(ns);
    this.hLastT = new Float64Array(ns);
  }

  // -------------------------------------------------------------------------------------------
  // Results

  /** Violations kept (at most maxViolations), in the order found. */
  violations(): readonly Violation[] {
    return this.stored;
  }

  /** All violations found, including those not stored. */
  violationCount(): number {
    return this.total;
  }

  /** Violations per rule ID (only rules with at least one). */
  violationsByRule(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < NR; i++) if (this.perRule[i]! > 0) out[RULES[i]!.id] = this.perRule[i]!;
    return out;
  }

  /** Rules that some event tested (whether or not they held), in catalogue order. */
  rulesExercised(): string[] {
    const out: string[] = [];
    for (let i = 0; i < NR; i++) if (this.exercised[i] === 1) out.push(RULES[i]!.id);
    return out;
  }

  /** HOST.CONSERVATION numbers: sent = answered + autoAnswered + dropped + lostByReset + outstanding + inTransit. */
  balance(): Balance {
    const b = { ...this.bal };
    let outstanding = 0;
    let dropped = 0;
    const ns = this.maxDev * PRGI_COUNT;
    for (let s = 0; s < ns; s++) {
      const c = this.hCount[s]!;
      if (c === 0) continue;
      if (this.hExcused[s] === 1) b.lostByReset += c;
      else if (this.hDroppedLast[s] === 1) dropped += c;
      else outstanding += c;
    }
    b.outstanding = outstanding;
    b.dropped += dropped;
    b.inTransit = this.hostOnly ? 0 : b.sent - b.arrived;
    return b;
  }

  /** Host latency: arrival of a group's L=1 request at the IOMMU → its response (software or hardware). */
  latency(): LatencyStats {
    const h = this.hist;
    const count = h.totalCount;
    if (count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    return {
      count,
      min: h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue,
      mean: h.mean,
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Recording

  private mark(rule: number): void {
    if (this.hostOnly && DEVICE_ONLY.has(rule)) return;
    this.exercised[rule] = 1;
  }

  private violate(rule: number, detail: string, withEvent = true): void {
    if (this.hostOnly && DEVICE_ONLY.has(rule)) return;
    this.exercised[rule] = 1;
    this.total++;
    this.perRule[rule]!++;
    if (this.stored.length >= this.maxViolations) return;
    const c = this.cur;
    const v: { rule: string; time_ns: number; detail: string; events?: string; line?: number } = {
      rule: RULES[rule]!.id,
      time_ns: this.now,
      detail,
    };
    if (withEvent) v.events = formatJsonlEvent(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    if (withEvent && this.line !== undefined) v.line = this.line;
    this.stored.push(v);
  }

  private devOk(dev: number): boolean {
    if (Number.isInteger(dev) && dev >= 0 && dev < this.maxDev) return true;
    throw new RangeError(`monitor: device id ${dev} outside 0..${this.maxDev - 1}`);
  }

  private slotOf(dev: number, prgi: number): number {
    this.devOk(dev);
    if (!(Number.isInteger(prgi) && prgi >= 0 && prgi < PRGI_COUNT)) {
      throw new RangeError(`monitor: PRG index ${prgi} outside 0..511`);
    }
    return dev * PRGI_COUNT + prgi;
  }

  private required(dev: number): boolean | undefined {
    return this.opts.deviceRequiresPasid?.(dev);
  }

  private static fifoSet<V>(m: Map<number, V>, k: number, v: V): void {
    m.set(k, v);
    if (m.size > FIFO_LIMIT) {
      const first = m.keys().next();
      if (first.done !== true) m.delete(first.value);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The event stream

  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    if (this.mode === 'off') return;
    if (this.deferred.length > 0 && t > this.deferred[0]!.t) this.runDeferred();
    this.now = t;
    this.seq++;
    const c = this.cur;
    c[0] = t;
    c[1] = kind;
    c[2] = f0;
    c[3] = f1;
    c[4] = f2;
    c[5] = f3;
    c[6] = f4;
    c[7] = f5;
    switch (kind) {
      case TraceKind.PAGE_REQUEST:
        this.pageRequest(f0, f1, f2, f3, f4);
        if (this.hostOnly) this.arrival(f0, f1, f2, f3, -1);
        break;
      case TraceKind.STOP_MARKER:
        this.stopMarker(f0, f1, f3);
        break;
      case TraceKind.CREDIT_STALL:
        this.creditStall(f0, f4, f5);
        break;
      case TraceKind.QUEUE_WRITE:
        this.queueWrite(f0, f1, f2, f3, f4, f5);
        break;
      case TraceKind.QUEUE_DROP:
        this.queueDrop(f0, f1, f2, f3, f4, f5);
        break;
      case TraceKind.AUTO_RESPONSE:
        this.autoResponse(f0, f2, f3, f4);
        break;
      case TraceKind.FAULT_REPORT:
        this.faultReport(f0, f1, f3);
        break;
      case TraceKind.PARTIAL_ADD:
        if (this.full) this.partialAdd(f0, f1, f2, f3);
        break;
      case TraceKind.PARTIAL_FREE:
        if (this.full) this.partials.delete(f3);
        break;
      case TraceKind.GROUP_FORM:
        if (this.full) this.groupForm(f0, f1, f2, f3);
        break;
      case TraceKind.HANDLER_START:
        if (this.full) this.handlerStart(f3, f4, f5);
        break;
      case TraceKind.HANDLER_END:
        if (this.full) this.handlerEnd(f3);
        break;
      case TraceKind.RESPONSE_SEND:
        this.responseSend(f0, f1, f2, f3, f4, f5);
        break;
      case TraceKind.RESPONSE_RECV:
        if (!this.hostOnly) this.responseRecv(f0, f1, f2, f4, f5);
        break;
      case TraceKind.FLUSH_BEGIN:
        if (this.full) {
          this.mark(R.FLUSH_NEW);
          this.flushing.add(dpKey(f0, f1));
        }
        break;
      case TraceKind.FLUSH_END:
        if (this.full) this.flushEnd(f0, f1, f4);
        break;
      case TraceKind.DISCARD_PARTIAL:
        if (this.full) this.deferred.push({ kind: 'discard', iommu: f4, seq: this.seq, t });
        break;
      case TraceKind.DEVICE_ADD:
        if (this.devOk(f0) && f4 === 0) this.devRemoved[f0] = 0;
        break;
      case TraceKind.DEVICE_REMOVE:
        if (this.full) this.deviceRemove(f0);
        break;
      case TraceKind.BIND:
        if (f4 === 0) this.bind(f0, f1, f3);
        break;
      case TraceKind.PASID_FREE:
        if (this.full) this.pasidMm.set(f1, MM_UNBOUND);
        break;
      case TraceKind.DRAIN_END:
        if (this.full) {
          this.mark(R.DRAIN);
          this.drained.add(dpKey(f0, f1));
        }
        break;
      case TraceKind.PRI_CONTROL:
        this.priControl(f0, f4);
        break;
      case TraceKind.IOMMUFD_WRITE:
        if (this.full) this.iommufdWrite(f4, f5);
        break;
      default:
        // ats, dma_done, unbind, drain_begin, iommufd_read, queue_overflow, mm_exit,
        // iommufd_lifecycle: no rule needs them.
        break;
    }
  }

  // --- device side ---

  private pageRequest(dev: number, pasid: number, prgi: number, req: number, flags: number): void {
    const s = this.slotOf(dev, prgi);
    this.bal.sent++;
    this.sentBy[dev]!++;
    if (!this.hostOnly) {
      this.mark(R.ENABLE);
      if (this.priDisabled[dev] === 1) this.violate(R.ENABLE, `device ${dev} sent a page request with PRI Enable clear`);
      this.mark(R.FAILURE_DISABLES);
      if (this.rf[dev] === 1) {
        this.violate(R.FAILURE_DISABLES, `device ${dev} sent a page request after a Response Failure without a PRI reset`);
      }
      const a = this.alloc[dev]! >= 0 ? this.alloc[dev]! : (this.opts.creditAllocation?.(dev) ?? -1);
      if (a >= 0) {
        this.mark(R.CREDIT);
        if (this.dOut[dev]! + 1 > a) {
          this.violate(R.CREDIT, `device ${dev} has ${this.dOut[dev]! + 1} page requests outstanding, allocation ${a}`);
        }
      }
    }
    this.dOut[dev]!++;
    const st = this.dState[s]!;
    this.mark(R.LAST_CLOSES);
    this.mark(R.NO_REUSE);
    if (st === D_CLOSED) {
      this.violate(
        R.LAST_CLOSES,
        `device ${dev} sent req ${req} under PRG index ${prgi} after the group's L=1 request, before its response`,
      );
    } else if (st === D_OPEN && this.dPasid[s] !== pasid) {
      this.violate(
        R.NO_REUSE,
        `device ${dev} started a group of PASID ${pasid} under PRG index ${prgi} while one of PASID ${this.dPasid[s]!} is outstanding`,
      );
    }
    if (st === D_IDLE) {
      this.dCount[s] = 0;
      this.dPasid[s] = pasid;
    }
    this.dCount[s]!++;
    this.dState[s] = (flags & PrFlag.LAST) !== 0 ? D_CLOSED : D_OPEN;
    if ((flags & PrFlag.LAST) !== 0) this.dLastReq[s] = req;
    if (this.full) {
      if (this.stopped.size > 0) {
        this.mark(R.STOP_QUIESCE);
        if (this.stopped.has(dpKey(dev, pasid))) {
          this.violate(R.STOP_QUIESCE, `device ${dev} sent a page request of PASID ${pasid} after its Stop Marker`);
        }
      }
      const mm = this.pasidMm.get(pasid);
      this.dMm[s] = mm ?? MM_UNKNOWN;
    }
  }

  private stopMarker(dev: number, pasid: number, req: number): void {
    this.devOk(dev);
    this.bal.stopMarkers++;
    this.sentBy[dev]!++;
    Monitor.fifoSet(this.stopReqs, req, dev);
    if (this.full) {
      // Armed: the requests that follow are tested against it.
      if (!this.hostOnly) this.mark(R.STOP_QUIESCE);
      // Host-only traces (ftrace) have no bind events, so a PASID reused after its Stop Marker
      // cannot be told from a function that broke the rule: not checked there.
      if (!this.hostOnly) this.stopped.add(dpKey(dev, pasid));
    }
  }

  private creditStall(dev: number, outstanding: number, allocation: number): void {
    this.devOk(dev);
    if (this.hostOnly) return;
    if (allocation >= 0) this.alloc[dev] = allocation;
    this.mark(R.CREDIT);
    if (outstanding > allocation) {
      this.violate(R.CREDIT, `device ${dev} reports ${outstanding} outstanding with allocation ${allocation}`);
    }
    this.mark(R.STOP_NO_CREDIT);
    if (outstanding > this.dOut[dev]!) {
      this.violate(
        R.STOP_NO_CREDIT,
        `device ${dev} counts ${outstanding} outstanding but only ${this.dOut[dev]!} page requests are unanswered (Stop Markers charged?)`,
      );
    }
  }

  private responseRecv(dev: number, pasid: number, prgi: number, code: number, outcome: number): void {
    const s = this.slotOf(dev, prgi);
    const st = this.dState[s]!;
    if (outcome === RecvOutcome.IGNORED_RF) return;
    this.mark(R.UPRGI);
    if (st === D_IDLE && outcome !== RecvOutcome.UPRGI && outcome !== RecvOutcome.PASID_FORM_ERROR) {
      this.violate(R.UPRGI, `device ${dev} accepted a response for PRG index ${prgi} with no group outstanding`);
    } else if (st !== D_IDLE && outcome === RecvOutcome.UPRGI) {
      this.violate(R.UPRGI, `device ${dev} flagged UPRGI for PRG index ${prgi} although a group is outstanding`);
    }
    if (st !== D_IDLE) {
      const req = this.required(dev);
      if (req !== undefined) {
        this.mark(R.PASID_FORM);
        const expect = this.dPasid[s]! >= 0 && req;
        if (expect !== pasid >= 0) {
          this.violate(
            R.PASID_FORM,
            `device ${dev} (PASID required: ${req}) got a response ${pasid >= 0 ? 'with' : 'without'} PASID for a request ${this.dPasid[s]! >= 0 ? 'with' : 'without'} PASID`,
          );
        }
      }
    }
    // A response of the wrong PASID form still ends the group at the function (it matched the PRG
    // index; the form error is latched, pcie/function.ts onResponse): the index is free again.
    if ((outcome === RecvOutcome.MATCHED || outcome === RecvOutcome.PASID_FORM_ERROR) && st !== D_IDLE) {
      this.deviceGroupDone(dev, s, code);
    }
  }

  private deviceGroupDone(dev: number, s: number, code: number): void {
    this.dOut[dev] = Math.max(0, this.dOut[dev]! - this.dCount[s]!);
    this.dCount[s] = 0;
    this.dState[s] = D_IDLE;
    this.dPasid[s] = -1;
    if (code !== PciRespCode.SUCCESS && code !== PciRespCode.INVALID) this.rf[dev] = 1;
  }

  private priControl(dev: number, op: number): void {
    this.devOk(dev);
    if (op === 0) {
      this.priDisabled[dev] = 0;
      return;
    }
    if (op === 1) this.priDisabled[dev] = 1;
    // Reset (PRI.RESET.CLEARS) drops every outstanding request; both excuse unanswered groups.
    const base = dev * PRGI_COUNT;
    for (let p = 0; p < PRGI_COUNT; p++) {
      const s = base + p;
      if (op === 2) {
        this.dState[s] = D_IDLE;
        this.dCount[s] = 0;
        this.dPasid[s] = -1;
      }
      if (this.hState[s] === H_PARTIAL || this.hState[s] === H_COMPLETE) this.hExcused[s] = 1;
    }
    if (op === 2) {
      this.dOut[dev] = 0;
      this.rf[dev] = 0;
    }
  }

  // --- host side ---

  private queueWrite(dev: number, pasid: number, prgi: number, req: number, iommu: number, depth: number): void {
    this.devOk(dev);
    if (this.stopReqs.has(req)) {
      this.stopReqs.delete(req);
      if (!this.hostOnly) this.arrivedBy[dev]!++;
      this.hStop[this.slotOf(dev, prgi)] = 1;
      this.mark(R.STOP_NO_RESP);
      // -1 marks a Stop Marker seen at the host (an auto-response to it is a violation).
      Monitor.fifoSet(this.droppedReqs, req, -1);
      return;
    }
    // Host inputs: the page_request already was the arrival.
    if (this.hostOnly) return;
    this.devIommu[dev] = iommu;
    const cap = this.opts.queueCapacity?.get(iommu);
    if (cap !== undefined && depth >= 0) {
      this.mark(R.FULL);
      if (depth > cap - 1) this.violate(R.FULL, `IOMMU ${iommu} queue holds ${depth} entries, capacity ${cap} allows ${cap - 1}`);
    }
    if (this.full && this.drained.size > 0) {
      this.mark(R.DRAIN);
      if (this.drained.has(dpKey(dev, pasid))) {
        this.violate(R.DRAIN, `page request ${req} of device ${dev} PASID ${pasid} queued after its drain returned`);
        Monitor.fifoSet(this.drainReported, req, 1);
      }
    }
    const s = this.slotOf(dev, prgi);
    this.arrival(dev, pasid, prgi, req, this.dLastReq[s] === req ? PrFlag.LAST : 0);
  }

  /** A page request reached the host. flags: LAST known (model) or -1 = take it from the device slot. */
  private arrival(dev: number, pasid: number, prgi: number, req: number, flags: number): void {
    const s = this.slotOf(dev, prgi);
    this.bal.arrived++;
    if (!this.hostOnly) this.arrivedBy[dev]!++;
    const last = flags === -1 ? this.dState[s] === D_CLOSED : (flags & PrFlag.LAST) !== 0;
    let st = this.hState[s]!;
    if (st === H_NONE || st === H_ANSWERED) {
      this.hCount[s] = 0;
      this.hResp[s] = 0;
      this.hDroppedLast[s] = 0;
      this.hExcused[s] = 0;
      this.hStop[s] = 0;
      st = H_PARTIAL;
    }
    this.hCount[s]!++;
    if (last) {
      this.hPasid[s] = pasid;
      this.hLastT[s] = this.now;
      st = H_COMPLETE;
    } else if (st === H_PARTIAL) {
      this.hPasid[s] = pasid;
    }
    this.hState[s] = st;
  }

  private queueDrop(dev: number, pasid: number, prgi: number, req: number, iommu: number, flags: number): void {
    const s = this.slotOf(dev, prgi);
    this.devIommu[dev] = iommu;
    if (this.stopReqs.has(req)) {
      this.stopReqs.delete(req);
      this.arrivedBy[dev]!++;
      Monitor.fifoSet(this.droppedReqs, req, -1);
      return;
    }
    Monitor.fifoSet(this.droppedReqs, req, flags);
    const isLast = (flags & PrFlag.LAST) !== 0;
    this.arrival(dev, pasid, prgi, req, isLast ? PrFlag.LAST : 0);
    if (isLast) {
      this.hDroppedLast[s] = 1;
      const auto = this.opts.overflowAutoResponse?.get(iommu);
      if (this.full && auto === true && (flags & (PrFlag.READ | PrFlag.WRITE)) !== 0) {
        this.mark(R.AUTORESP);
        Monitor.fifoSet(this.owedAuto, req, { dev, prgi, t: this.now });
      }
    }
  }

  private autoResponse(dev: number, prgi: number, req: number, code: number): void {
    const s = this.slotOf(dev, prgi);
    this.mark(R.CODE);
    if (code !== PciRespCode.SUCCESS && code !== PciRespCode.INVALID && code !== PciRespCode.FAILURE) {
      this.violate(R.CODE, `hardware auto-response with undefined code ${code}`);
    }
    this.mark(R.STOP_NO_RESP);
    const droppedFlags = this.droppedReqs.get(req);
    if (droppedFlags === -1 || this.stopReqs.has(req)) {
      this.violate(R.STOP_NO_RESP, `hardware answered Stop Marker req ${req} of device ${dev}`);
      return;
    }
    if (this.full) {
      if (this.owedAuto.delete(req)) {
        this.mark(R.AUTORESP);
      } else if (droppedFlags !== undefined && (droppedFlags & PrFlag.LAST) === 0) {
        this.violate(R.AUTORESP, `hardware answered dropped L=0 request ${req} of device ${dev}`);
      }
    }
    this.hostResponse(dev, s, prgi, true);
    if (this.hostOnly) this.deviceGroupDone(dev, s, code);
  }

  private responseSend(dev: number, pasid: number, prgi: number, group: number, code: number, source: number): void {
    const s = this.slotOf(dev, prgi);
    if (code < 0) {
      // Late attempt for a group that is no longer pending: not a response on the wire.
      this.mark(R.LATE);
      if (code !== LATE_IGNORED) {
        this.violate(R.LATE, `a late response for group ${group} of device ${dev} returned error ${code} to its caller`);
      } else if (this.full && source === RespSource.GROUP) {
        this.iommufdTaken++;
      }
      return;
    }
    this.mark(R.CODE);
    if (code !== PciRespCode.SUCCESS && code !== PciRespCode.INVALID && code !== PciRespCode.FAILURE) {
      this.violate(R.CODE, `response with undefined code ${code} for device ${dev} PRG index ${prgi}`);
    }
    // PASID form, judged against the request the group's L=1 (or first) request carried.
    const hs = this.hState[s]!;
    const reqPasid = hs === H_PARTIAL || hs === H_COMPLETE ? this.hPasid[s]! : this.dState[s] !== D_IDLE ? this.dPasid[s]! : -2;
    const required = this.required(dev);
    if (reqPasid !== -2 && required !== undefined) {
      this.mark(R.PASID_IFF);
      const expect = reqPasid >= 0 && required;
      if (expect !== pasid >= 0) {
        this.violate(
          R.PASID_IFF,
          `response to device ${dev} (PASID required: ${required}) ${pasid >= 0 ? 'carries' : 'lacks'} a PASID; the request ${reqPasid >= 0 ? `had PASID ${reqPasid}` : 'had none'}`,
        );
      } else if (pasid >= 0 && pasid !== reqPasid) {
        this.violate(R.PASID_IFF, `response to device ${dev} carries PASID ${pasid}, the request had ${reqPasid}`);
      }
    }
    if (this.full) this.groupAnswered(dev, group, code, source);
    this.hostResponse(dev, s, prgi, false);
    if (this.hostOnly) this.deviceGroupDone(dev, s, code);
  }

  /** A response (software or hardware) for slot s leaves the host. */
  private hostResponse(dev: number, s: number, prgi: number, auto: boolean): void {
    const hs = this.hState[s]!;
    const who = auto ? 'hardware' : 'software';
    this.mark(R.ONE_PER_GROUP);
    this.mark(R.NO_PARTIAL);
    this.mark(R.AFTER_LAST);
    if (hs === H_COMPLETE) {
      if (this.hResp[s]! > 0 && this.hExcused[s] === 0) {
        this.violate(R.ONE_PER_GROUP, `${who} response #${this.hResp[s]! + 1} for the group of device ${dev} PRG index ${prgi}`);
      }
      this.hist.recordValue(Math.max(0, this.now - this.hLastT[s]!));
      this.settle(s, auto);
      this.hState[s] = H_ANSWERED;
    } else if (hs === H_PARTIAL) {
      if (auto) {
        // The hardware answers the L=1 request it processed without queueing (failed checks).
        this.settle(s, auto);
        this.hState[s] = H_ANSWERED;
      } else if (this.hResp[s]! > 0 && this.hExcused[s] === 0) {
        this.violate(R.ONE_PER_GROUP, `${who} response #${this.hResp[s]! + 1} for the group of device ${dev} PRG index ${prgi}`);
        this.settle(s, auto);
      } else if (!this.hostOnly && this.dState[s] === D_CLOSED) {
        this.violate(R.AFTER_LAST, `response for device ${dev} PRG index ${prgi} before the group's L=1 request reached the host`);
        this.settle(s, auto);
      } else if (this.hExcused[s] === 0) {
        this.violate(R.NO_PARTIAL, `response for device ${dev} PRG index ${prgi} whose group has no L=1 request`);
        this.settle(s, auto);
      }
    } else if (!auto && this.hStop[s] === 1) {
      this.hStop[s] = 0;
      this.mark(R.STOP_NO_RESP);
      this.violate(R.STOP_NO_RESP, `software answered the Stop Marker of device ${dev} (PRG index ${prgi})`);
    } else if (hs === H_ANSWERED) {
      if (this.hExcused[s] === 0) {
        this.violate(R.ONE_PER_GROUP, `${who} response #${this.hResp[s]! + 1} for the group of device ${dev} PRG index ${prgi}`);
      }
      if (this.hResp[s]! < 255) this.hResp[s]!++;
    } else if (auto) {
      // An L=1 request the hardware refused without queueing: a one-request group.
      this.hResp[s] = 1;
      this.hState[s] = H_ANSWERED;
      this.bal.autoAnswered++;
    } else if (!this.hostOnly && this.dState[s] === D_CLOSED) {
      this.violate(R.AFTER_LAST, `response for device ${dev} PRG index ${prgi} before any request of the group reached the host`);
    } else if (!this.hostOnly && this.dState[s] === D_OPEN) {
      this.violate(R.NO_PARTIAL, `response for device ${dev} PRG index ${prgi} whose group has no L=1 request`);
    } else {
      this.violate(R.ONE_PER_GROUP, `response for device ${dev} PRG index ${prgi} names no group at the host`);
    }
  }

  /** Account the requests of slot s as answered and count the response. */
  private settle(s: number, auto: boolean): void {
    const n = this.hCount[s]!;
    if (this.hExcused[s] === 1) this.bal.lostByReset += n;
    else if (auto) this.bal.autoAnswered += n;
    else this.bal.answered += n;
    this.hCount[s] = 0;
    if (this.hResp[s]! < 255) this.hResp[s]!++;
    this.hDroppedLast[s] = 0;
  }

  // --- kernel side (full mode) ---

  private faultReport(dev: number, pasid: number, req: number): void {
    this.devOk(dev);
    if (!this.full) return;
    if (this.flushing.size > 0) {
      this.mark(R.FLUSH_NEW);
      if (this.flushing.has(dpKey(dev, pasid)) || this.flushing.has(dpKey(dev, -1))) {
        this.violate(R.FLUSH_NEW, `fault of device ${dev} PASID ${pasid} reported during its flush`);
      }
    }
    if (this.drained.size > 0) {
      this.mark(R.DRAIN);
      // A request still in the queue when the drain returned is reported afterwards.
      if (this.drained.has(dpKey(dev, pasid)) && !this.drainReported.delete(req)) {
        this.violate(R.DRAIN, `fault ${req} of device ${dev} PASID ${pasid} reported after its drain returned`);
      }
    }
  }

  private partialAdd(dev: number, pasid: number, grpid: number, req: number): void {
    this.devOk(dev);
    if (this.devRemoved[dev] === 1) this.violate(R.REMOVE_LEFT, `partial fault added for removed device ${dev}`);
    const prgi = prgiOfGrpid(grpid);
    this.partials.set(req, { dev, pasid, prgi, grpid, seq: this.seq });
    const s = this.slotOf(dev, prgi);
    const list = this.partialsBySlot.get(s);
    if (list === undefined) {
      this.partialsBySlot.set(s, [req]);
    } else {
      list.push(req);
      // Partials freed without a group (discard, flush) leave ids behind: compact now and then.
      if (list.length > 64) this.partialsBySlot.set(s, list.filter((r) => this.partials.has(r)));
    }
  }

  private groupForm(dev: number, pasid: number, grpid: number, group: number): void {
    const prgi = prgiOfGrpid(grpid);
    const s = this.slotOf(dev, prgi);
    if (this.devRemoved[dev] === 1) this.violate(R.REMOVE_LEFT, `group ${group} formed for removed device ${dev}`);
    // The core moves every partial of the same grpid (PASID not compared) into the group.
    this.mark(R.ONE_PASID);
    this.mark(R.GATHERED);
    const list = this.partialsBySlot.get(s);
    if (list !== undefined) {
      for (const req of list) {
        const p = this.partials.get(req);
        if (p !== undefined && p.dev === dev && p.prgi === prgi) {
          if (p.grpid !== grpid) {
            // Same PRG index, another grpid: the core does not gather it, and once this group is
            // answered the index is reused, so nothing ever will (AMD's PPR tag as grpid). It
            // stays on the core's list (a flush or discard may still free it), reported once.
            this.violate(
              R.GATHERED,
              `group ${group} of device ${dev} (PRG index ${prgi}, grpid ${grpid}) leaves partial fault ${req} (grpid ${p.grpid}) on the partial list`,
            );
            continue;
          }
          this.partials.delete(req);
          // linux-iopf §3 step 5, observation (b): a partial of another PASID joins the group.
          if (p.pasid !== pasid) {
            this.violate(R.ONE_PASID, `group ${group} of device ${dev} PASID ${pasid} (PRG index ${prgi}) gathers partial fault ${req} of PASID ${p.pasid}`);
          }
        }
      }
      this.partialsBySlot.delete(s);
    }
    this.groups.set(group, { dev, pasid, prgi, seq: this.seq, handler: 0, live: false, sendMm: this.dMm[s]! });
    if (group > this.maxGroup) this.maxGroup = group;
  }

  private handlerStart(group: number, handler: number, mm: number): void {
    const g = this.groups.get(group);
    if (g === undefined) return;
    g.live = true;
    g.handler = handler;
    if (handler === HandlerType.SVA && mm >= 0 && g.sendMm !== MM_UNKNOWN) {
      this.mark(R.STALE_MM);
      if (g.sendMm !== mm) {
        this.violate(
          R.STALE_MM,
          g.sendMm === MM_UNBOUND
            ? `group ${group} (PASID ${g.pasid}) was sent while its PASID was unbound and is handled against mm ${mm}`
            : `group ${group} (PASID ${g.pasid}) was sent for mm ${g.sendMm} and is handled against mm ${mm}`,
        );
      }
    }
  }

  private handlerEnd(group: number): void {
    const g = this.groups.get(group);
    if (g !== undefined) g.live = false;
    this.freedLive.delete(group);
  }

  private groupAnswered(dev: number, group: number, code: number, source: number): void {
    // Report-path error responses, driver checks and hardware answers name no core group (the
    // drivers put the request id in `group` there).
    if (group < 0 || source === RespSource.REPORT_ERROR || source === RespSource.DRIVER_CHECK || source === RespSource.HARDWARE) return;
    const g = this.groups.get(group);
    this.mark(R.AT_MOST_ONCE);
    if (g === undefined) {
      this.violate(
        R.AT_MOST_ONCE,
        group <= this.maxGroup
          ? `group ${group} of device ${dev} answered again (source ${source})`
          : `response for group ${group} the core never formed`,
      );
      return;
    }
    if (g.handler === HandlerType.IOMMUFD && source === RespSource.GROUP) {
      this.mark(R.NO_FAILURE);
      if (code === PciRespCode.FAILURE) {
        this.violate(R.NO_FAILURE, `iommufd group ${group} of device ${dev} answered Response Failure from user space`);
      }
      this.iommufdTaken++;
    }
    if (source === RespSource.REMOVE) {
      this.mark(R.REMOVE_LIVE);
      if (g.live) {
        this.violate(R.REMOVE_LIVE, `remove_device freed group ${group} of device ${dev} while its handler runs`);
        this.freedLive.add(group);
      }
    }
    this.groups.delete(group);
  }

  private flushEnd(dev: number, pasid: number, result: number): void {
    this.flushing.delete(dpKey(dev, pasid));
    if (result !== 0) return;
    this.mark(R.FLUSH_PENDING);
    const wqOnly = pasid < 0 || this.opts.flushContract === 'workqueue';
    for (const [id, g] of this.groups) {
      // iommufd's handler only queues the group for user space: user space holding it is not a
      // handler still running (the 'seed' contract's pending check below covers it).
      if (g.dev === dev && g.live && (pasid < 0 || g.pasid === pasid) && g.handler !== HandlerType.IOMMUFD && (!wqOnly || g.handler === HandlerType.SVA)) {
        this.violate(R.FLUSH_PENDING, `handler of group ${id} (device ${dev} PASID ${g.pasid}) still runs after the flush`);
      }
    }
    if (!wqOnly) this.deferred.push({ kind: 'flush', dev, pasid, seq: this.seq, t: this.now });
  }

  private deviceRemove(dev: number): void {
    this.devOk(dev);
    this.mark(R.REMOVE_LIVE);
    for (const [id, g] of this.groups) {
      if (g.dev === dev && g.live) {
        this.violate(R.REMOVE_LIVE, `device ${dev} removed while a handler holds its group ${id}`);
        g.live = false;
      }
    }
    this.devRemoved[dev] = 1;
    this.deferred.push({ kind: 'remove', dev, seq: this.seq, t: this.now });
  }

  private bind(dev: number, pasid: number, mm: number): void {
    this.devOk(dev);
    if (!this.full) return;
    const k = dpKey(dev, pasid);
    this.drained.delete(k);
    this.stopped.delete(k);
    this.pasidMm.set(pasid, mm);
  }

  private iommufdWrite(bytes: number, result: number): void {
    const taken = this.iommufdTaken;
    this.iommufdTaken = 0;
    this.mark(R.WRITE_RET);
    if (result > bytes) {
      this.violate(R.WRITE_RET, `iommufd write() of ${bytes} bytes returned ${result}`);
    } else if (result > 0 && result !== 8 * taken) {
      this.violate(R.WRITE_RET, `iommufd write() returned ${result} bytes but took ${taken} responses`);
    } else if (result <= 0 && taken > 0) {
      this.violate(R.WRITE_RET, `iommufd write() took ${taken} responses but returned ${result}`);
    }
  }

  private runDeferred(): void {
    const list = this.deferred.splice(0);
    for (const d of list) {
      const saved = this.now;
      this.now = d.t;
      switch (d.kind) {
        case 'flush':
          for (const [id, g] of this.groups) {
            if (g.dev === d.dev && g.pasid === d.pasid && g.seq < d.seq) {
              this.violate(R.FLUSH_PENDING, `group ${id} of device ${d.dev} PASID ${d.pasid} still pending after the flush`, false);
            }
          }
          for (const [req, p] of this.partials) {
            if (p.dev === d.dev && p.pasid === d.pasid && p.seq < d.seq) {
              this.violate(R.FLUSH_PENDING, `partial fault ${req} of device ${d.dev} PASID ${d.pasid} survived the flush`, false);
            }
          }
          break;
        case 'remove':
          this.mark(R.REMOVE_LEFT);
          this.mark(R.PARTIAL_FREED);
          for (const [id, g] of this.groups) {
            if (g.dev === d.dev && g.seq < d.seq) {
              this.violate(R.REMOVE_LEFT, `group ${id} of device ${d.dev} still pending after remove_device`, false);
              this.groups.delete(id);
            }
          }
          for (const [req, p] of this.partials) {
            if (p.dev === d.dev && p.seq < d.seq) {
              this.violate(R.PARTIAL_FREED, `partial fault ${req} of device ${d.dev} survived remove_device`, false);
              this.partials.delete(req);
            }
          }
          break;
        case 'discard':
          this.mark(R.PARTIAL_FREED);
          for (const [req, p] of this.partials) {
            if (this.devIommu[p.dev] === d.iommu && p.seq < d.seq) {
              this.violate(R.PARTIAL_FREED, `partial fault ${req} of device ${p.dev} survived discard_partial of IOMMU ${d.iommu}`, false);
            }
          }
          break;
      }
      this.now = saved;
    }
  }

  /** End of run: deferred checks, liveness, conservation, owed hardware responses. */
  finish(t: number): void {
    if (this.mode === 'off' || this.finished) return;
    this.finished = true;
    this.runDeferred();
    this.now = Math.max(this.now, t);
    const ns = this.maxDev * PRGI_COUNT;
    this.mark(R.LIVENESS);
    for (let s = 0; s < ns; s++) {
      if (this.hState[s] === H_COMPLETE && this.hExcused[s] === 0 && this.hDroppedLast[s] === 0 && this.hResp[s] === 0) {
        const dev = Math.floor(s / PRGI_COUNT);
        this.violate(
          R.LIVENESS,
          `group of device ${dev} PRG index ${s % PRGI_COUNT} (L=1 at the host since ${this.hLastT[s]!} ns) never answered`,
          false,
        );
      }
    }
    if (!this.hostOnly) {
      this.mark(R.CONSERVATION);
      for (let dev = 0; dev < this.maxDev; dev++) {
        const lost = this.sentBy[dev]! - this.arrivedBy[dev]!;
        if (lost !== 0) {
          this.violate(
            R.CONSERVATION,
            lost > 0
              ? `${lost} page request(s) or Stop Marker(s) of device ${dev} never reached the IOMMU nor were dropped there`
              : `${-lost} more arrivals than requests sent for device ${dev}`,
            false,
          );
        }
      }
    }
    if (this.full) {
      for (const [req, o] of this.owedAuto) {
        this.violate(R.AUTORESP, `dropped L=1 request ${req} of device ${o.dev} (PRG index ${o.prgi}) never got a hardware response`, false);
      }
    }
  }
}
