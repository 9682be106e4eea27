/**
 * What the checker knows of the system so far, rebuilt from the event stream alone: per device and
 * per (device, PRG index) slot in typed arrays (slot = dev * 512 + prgi), and in 'full' mode the
 * core's live groups, partial faults and the mm each PASID is bound to. The rules (rules/*.ts)
 * read it; only this file writes it.
 *
 * Each event goes through three steps (monitor.ts): `pre` validates its ids and works out the
 * facts several rules share (which slot, what a response answers); the rules subscribed to its
 * kind check it against the state as it was before the event; `apply` then takes the event in.
 * Rule-private bookkeeping (a PASID being flushed, drained, stopped…) lives in the rule itself.
 *
 * Trace conventions the state relies on (the model's emitters must follow them):
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
import { DeviceIndexed, FifoMap } from './fifo-map.js';
import * as hdr from 'hdr-histogram-js';
import { PciRespCode, PrFlag, RecvOutcome, RespSource, TraceKind } from '../trace/events.js';
import type { MonitorOptions } from './options.js';

/** Marker code of response_send for a late response attempt that the core ignored (no error). */
export const LATE_IGNORED = -4096;

export const PRGI_COUNT = 512;
/** Host slot states. */
export const H_NONE = 0;
export const H_PARTIAL = 1;
export const H_COMPLETE = 2;
export const H_ANSWERED = 3;
/** Device slot states. */
export const D_IDLE = 0;
export const D_OPEN = 1;
export const D_CLOSED = 2;
/** mm of a group at send time: unknown (no bind seen) or PASID not bound. */
export const MM_UNKNOWN = -1;
export const MM_UNBOUND = -2;
const FIFO_LIMIT = 1 << 16;
/** Partial faults tracked at once (the oldest is forgotten beyond this). */
const MAX_PARTIALS = 1 << 16;
/** Core groups tracked per device: a function has at most 512 outstanding (one per PRG index);
 *  the rest is slack for groups a trace never answers. */
const MAX_GROUPS_PER_DEVICE = 2048;
const MAX_PARTIALS_PER_DEVICE = 4096;
/** Deferred checks waiting for the end of one instant. */
const MAX_DEFERRED = 4096;
/** `droppedFlags` when the request was not dropped at the host. */
export const NOT_DROPPED = -2;

/**
 * What a response (software or hardware) finds at the host for its slot, decided once per response
 * in `pre` so that the rules judging it and the state update agree (hardware ref §1.6).
 */
export const Resp = {
  /** Not a response on the wire (late attempt, or a hardware answer to a Stop Marker). */
  NONE: 0,
  /** The group's L=1 arrived: the expected answer. */
  COMPLETE_FIRST: 1,
  /** Another answer to a complete group (HOST.RESP.ONE_PER_GROUP). */
  COMPLETE_AGAIN: 2,
  /** The hardware answers an L=1 it processed without queueing (failed checks). */
  PARTIAL_AUTO: 3,
  /** Another answer to a group whose later requests keep arriving (HOST.RESP.ONE_PER_GROUP). */
  PARTIAL_AGAIN: 4,
  /** L=1 sent by the function but not yet at the host (HOST.RESP.AFTER_LAST). */
  PARTIAL_BEFORE_LAST: 5,
  /** No L=1 sent yet (HOST.RESP.NO_PARTIAL). */
  PARTIAL_NO_LAST: 6,
  /** Answer to a group abandoned by a PRI reset/disable: excused. */
  PARTIAL_EXCUSED: 7,
  /** Software answered a Stop Marker (HOST.STOP.NO_RESPONSE). */
  STOP: 8,
  /** The group was answered already (HOST.RESP.ONE_PER_GROUP unless excused). */
  ANSWERED_AGAIN: 9,
  ANSWERED_EXCUSED: 10,
  /** An L=1 request the hardware refused without queueing: a one-request group. */
  AUTO_REFUSED: 11,
  /** Nothing at the host, the function sent L=1 (HOST.RESP.AFTER_LAST). */
  NONE_BEFORE_LAST: 12,
  /** Nothing at the host, the function has an open group without L=1 (HOST.RESP.NO_PARTIAL). */
  NONE_NO_LAST: 13,
  /** Names no group (HOST.RESP.ONE_PER_GROUP). */
  NONE_NO_GROUP: 14,
} as const;

export interface GroupRec {
  dev: number;
  pasid: number;
  prgi: number;
  seq: number;
  handler: number;
  live: boolean;
  sendMm: number;
  /** Already reported as left behind by a flush (reported once, not at every later flush). */
  flushReported?: boolean;
}

export interface PartialRec {
  dev: number;
  pasid: number;
  prgi: number;
  /** The core's grpid as traced (AMD mainline: PRG index | last << 9). */
  grpid: number;
  seq: number;
  /** Already reported as surviving a flush (reported once). */
  flushReported?: boolean;
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

/** The PRG index of a core grpid: the 9-bit PCIe index (AMD's PPR tag adds the last bit, bit 9). */
export function prgiOfGrpid(grpid: number): number {
  return grpid & 0x1ff;
}

/** Key of a (device, PASID) pair; PASID -1 (the whole device) has its own key. */
export function dpKey(dev: number, pasid: number): number {
  return dev * 0x200000 + (pasid + 1);
}

/** A map of per-id facts keeping at most FIFO_LIMIT entries (oldest out first). */
export function fifoMap<V>(): FifoMap<V> {
  return new FifoMap<V>(FIFO_LIMIT);
}

/** Something that runs a check at the end of the virtual instant (a rule, or the state itself). */
export interface Deferrable {
  deferred(kind: number, a: number, b: number, seq: number): void;
}

interface DeferredEntry {
  owner: Deferrable;
  kind: number;
  a: number;
  b: number;
  seq: number;
  t: number;
}

export class CheckState implements Deferrable {
  readonly full: boolean;
  /** Host-side events only (Linux ftrace): page_request is the arrival, no device events. */
  readonly hostOnly: boolean;
  readonly maxDev: number;
  readonly opts: MonitorOptions;

  /** Ordinal of the current event, and its time (a deferred check sees its own event's time). */
  seq = 0;
  now = 0;

  // Facts of the current event, set by `pre`.
  /** Slot of the event (where it names a device and a PRG index). */
  slot = 0;
  /** What a response finds at the host (Resp.*). */
  resp: number = Resp.NONE;
  /** queue_write / queue_drop / auto_response: the req is a Stop Marker seen at the host. */
  stopReq = false;
  /** auto_response: flags of the dropped request it answers, -1 for a Stop Marker, NOT_DROPPED. */
  droppedFlags = NOT_DROPPED;
  /** response_send: the core group it answers, when it names one (full mode). */
  group: GroupRec | undefined = undefined;
  /** response_send: it answers a group the core formed (not a driver or hardware answer). */
  coreGroup = false;

  // Per device.
  readonly dOut: Int32Array;
  readonly priDisabled: Uint8Array;
  /** Response Failure received, no PRI reset since. */
  readonly rf: Uint8Array;
  readonly devIommu: Int32Array;
  readonly sentBy: Float64Array;
  readonly arrivedBy: Float64Array;

  // Per (device, PRG index) slot: device side.
  readonly dState: Uint8Array;
  readonly dCount: Int32Array;
  readonly dPasid: Int32Array;
  readonly dLastReq: Float64Array;
  readonly dMm: Float64Array;
  // Host side.
  readonly hState: Uint8Array;
  readonly hCount: Int32Array;
  readonly hResp: Uint8Array;
  readonly hPasid: Int32Array;
  readonly hDroppedLast: Uint8Array;
  readonly hExcused: Uint8Array;
  readonly hStop: Uint8Array;
  readonly hLastT: Float64Array;

  readonly bal: Balance = {
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
  readonly hist = hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  // Small sets (stop markers, drops): FIFO-bounded maps keyed by request id.
  readonly stopReqs = fifoMap<number>();
  /** Requests dropped at the host: their flags, -1 for a Stop Marker. */
  readonly droppedReqs = fifoMap<number>();

  // Full mode. Per-id state is bounded whatever the trace holds (a hostile trace may name a new
  // group or request on every line): groups by the PCIe bound on outstanding groups (one per PRG
  // index of each function), partial faults and PASID → mm by FIFO limits; the oldest entry goes.
  readonly groups: DeviceIndexed<GroupRec>;
  maxGroup = -1;
  readonly partials = new DeviceIndexed<PartialRec>(MAX_PARTIALS, MAX_PARTIALS_PER_DEVICE, (req, p) => {
    this.unlistPartial(req, p);
  });
  /** Request ids of the partial faults of each slot (always a subset of `partials`). */
  readonly partialsBySlot = new Map<number, Set<number>>();
  readonly pasidMm = fifoMap<number>();

  private readonly deferredList: DeferredEntry[] = [];

  constructor(opts: MonitorOptions) {
    this.opts = opts;
    this.groups = new DeviceIndexed<GroupRec>((opts.maxDevices ?? 256) * PRGI_COUNT, MAX_GROUPS_PER_DEVICE);
    this.full = opts.mode === 'full';
    this.hostOnly = opts.inputs === 'host';
    this.maxDev = opts.maxDevices ?? 256;
    const nd = this.maxDev;
    const ns = nd * PRGI_COUNT;
    this.dOut = new Int32Array(nd);
    this.priDisabled = new Uint8Array(nd);
    this.rf = new Uint8Array(nd);
    this.devIommu = new Int32Array(nd).fill(-1);
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

  devOk(dev: number): boolean {
    if (Number.isInteger(dev) && dev >= 0 && dev < this.maxDev) return true;
    throw new RangeError(`monitor: device id ${dev} outside 0..${this.maxDev - 1}`);
  }

  slotOf(dev: number, prgi: number): number {
    this.devOk(dev);
    if (!(Number.isInteger(prgi) && prgi >= 0 && prgi < PRGI_COUNT)) {
      throw new RangeError(`monitor: PRG index ${prgi} outside 0..511`);
    }
    return dev * PRGI_COUNT + prgi;
  }

  /**
   * Whether the device's IOMMU drains what is still on its way from the function (VT-d Page-Drain)
   * or only its own queue (SMMUv3, AMD: false); a device not yet seen at a queue has the one IOMMU
   * the hints name. undefined: not known (judged as VT-d).
   */
  pageDrainOf(dev: number): boolean | undefined {
    const m = this.opts.pageDrain;
    if (m === undefined) return undefined;
    const iommu = this.devIommu[dev]!;
    if (iommu >= 0) return m.get(iommu);
    return m.size === 1 ? m.values().next().value : undefined;
  }

  /** PRG Response PASID Required of a device, if the hints say. */
  required(dev: number): boolean | undefined {
    return this.opts.deviceRequiresPasid?.(dev);
  }

  // --- end of the virtual instant ---

  /** Run `owner.deferred(kind, a, b, seq)` once the current virtual instant is over. */
  defer(owner: Deferrable, kind: number, a: number, b: number): void {
    // Bounded: a trace with thousands of deferring events in one instant has them judged in
    // batches (each batch after the events before it).
    if (this.deferredList.length >= MAX_DEFERRED) this.runDeferred();
    this.deferredList.push({ owner, kind, a, b, seq: this.seq, t: this.now });
  }

  /** A deferred check is due before an event at time t. */
  deferredDue(t: number): boolean {
    return this.deferredList.length > 0 && t > this.deferredList[0]!.t;
  }

  runDeferred(): void {
    const list = this.deferredList.splice(0);
    for (const d of list) {
      const saved = this.now;
      this.now = d.t;
      d.owner.deferred(d.kind, d.a, d.b, d.seq);
      this.now = saved;
    }
  }

  /** remove_device: what the rules found left behind is forgotten (they reported it). */
  deferred(kind: number, dev: number, _b: number, seq: number): void {
    if (kind !== TraceKind.DEVICE_REMOVE) return;
    for (const [id, g] of this.groups.ofDevice(dev)) if (g.seq < seq) this.groups.delete(id);
    for (const [req, p] of this.partials.ofDevice(dev)) if (p.seq < seq) this.dropPartial(req);
  }

  // --- step 1: ids and shared facts ---

  pre(kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    switch (kind) {
      case TraceKind.PAGE_REQUEST:
        this.slot = this.slotOf(f0, f2);
        break;
      case TraceKind.STOP_MARKER:
      case TraceKind.CREDIT_STALL:
      case TraceKind.FAULT_REPORT:
      case TraceKind.DEVICE_ADD:
      case TraceKind.PRI_CONTROL:
        this.devOk(f0);
        break;
      case TraceKind.QUEUE_WRITE:
        this.devOk(f0);
        this.stopReq = this.stopReqs.has(f3);
        if (this.stopReq || !this.hostOnly) this.slot = this.slotOf(f0, f2);
        break;
      case TraceKind.QUEUE_DROP:
        this.slot = this.slotOf(f0, f2);
        this.stopReq = this.stopReqs.has(f3);
        break;
      case TraceKind.AUTO_RESPONSE: {
        this.slot = this.slotOf(f0, f2);
        const d = this.droppedReqs.get(f3);
        this.droppedFlags = d ?? NOT_DROPPED;
        this.stopReq = d === -1 || this.stopReqs.has(f3);
        this.resp = this.stopReq ? Resp.NONE : this.classify(this.slot, true);
        break;
      }
      case TraceKind.PARTIAL_ADD:
      case TraceKind.DEVICE_REMOVE:
        if (this.full) this.devOk(f0);
        break;
      case TraceKind.GROUP_FORM:
        if (this.full) this.slot = this.slotOf(f0, prgiOfGrpid(f2));
        break;
      case TraceKind.RESPONSE_SEND:
        this.slot = this.slotOf(f0, f2);
        this.resp = f4 < 0 ? Resp.NONE : this.classify(this.slot, false);
        // Report-path error responses, driver checks and hardware answers name no core group (the
        // drivers put the request id in `group` there).
        this.coreGroup = this.full && f4 >= 0 && f3 >= 0 && f5 !== RespSource.REPORT_ERROR && f5 !== RespSource.DRIVER_CHECK && f5 !== RespSource.HARDWARE;
        this.group = this.coreGroup ? this.groups.get(f3) : undefined;
        break;
      case TraceKind.RESPONSE_RECV:
        if (!this.hostOnly) this.slot = this.slotOf(f0, f2);
        break;
      case TraceKind.BIND:
        if (f4 === 0) this.devOk(f0);
        break;
      default:
        break;
    }
  }

  /** What a response for slot s finds at the host (see Resp). */
  private classify(s: number, auto: boolean): number {
    const hs = this.hState[s]!;
    const again = this.hResp[s]! > 0 && this.hExcused[s] === 0;
    if (hs === H_COMPLETE) return again ? Resp.COMPLETE_AGAIN : Resp.COMPLETE_FIRST;
    if (hs === H_PARTIAL) {
      if (auto) return Resp.PARTIAL_AUTO;
      if (again) return Resp.PARTIAL_AGAIN;
      if (!this.hostOnly && this.dState[s] === D_CLOSED) return Resp.PARTIAL_BEFORE_LAST;
      return this.hExcused[s] === 0 ? Resp.PARTIAL_NO_LAST : Resp.PARTIAL_EXCUSED;
    }
    if (!auto && this.hStop[s] === 1) return Resp.STOP;
    if (hs === H_ANSWERED) return this.hExcused[s] === 0 ? Resp.ANSWERED_AGAIN : Resp.ANSWERED_EXCUSED;
    if (auto) return Resp.AUTO_REFUSED;
    if (!this.hostOnly && this.dState[s] === D_CLOSED) return Resp.NONE_BEFORE_LAST;
    if (!this.hostOnly && this.dState[s] === D_OPEN) return Resp.NONE_NO_LAST;
    return Resp.NONE_NO_GROUP;
  }

  // --- step 3: take the event in ---

  apply(kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    switch (kind) {
      case TraceKind.PAGE_REQUEST:
        this.pageRequest(f0, f1, f3, f4);
        if (this.hostOnly) this.arrival(f0, f1, f2, -1);
        break;
      case TraceKind.STOP_MARKER:
        this.bal.stopMarkers++;
        this.sentBy[f0]!++;
        this.stopReqs.set(f3, f0);
        break;
      case TraceKind.QUEUE_WRITE:
        this.queueWrite(f0, f1, f2, f3, f4);
        break;
      case TraceKind.QUEUE_DROP:
        this.queueDrop(f0, f1, f2, f3, f4, f5);
        break;
      case TraceKind.AUTO_RESPONSE:
        if (this.stopReq) break;
        this.hostResponse(this.slot, true);
        if (this.hostOnly) this.deviceGroupDone(f0, this.slot, f4);
        break;
      case TraceKind.PARTIAL_ADD:
        if (this.full) this.partialAdd(f0, f1, f2, f3);
        break;
      case TraceKind.PARTIAL_FREE:
        if (this.full) this.dropPartial(f3);
        break;
      case TraceKind.GROUP_FORM:
        if (this.full) this.groupForm(f0, f1, f2, f3, f4);
        break;
      case TraceKind.HANDLER_START:
        if (this.full) {
          const g = this.groups.get(f3);
          if (g !== undefined) {
            g.live = true;
            g.handler = f4;
          }
        }
        break;
      case TraceKind.HANDLER_END:
        if (this.full) {
          const g = this.groups.get(f3);
          if (g !== undefined) g.live = false;
        }
        break;
      case TraceKind.RESPONSE_SEND:
        if (f4 < 0) {
          // A group the core still held is answered all the same, though nothing reaches the
          // wire (an SMMUv3 CMD_RESUME for a STAG that CMD_STALL_TERM already ended).
          if (this.full && f3 >= 0) this.groups.delete(f3);
          break;
        }
        if (this.group !== undefined) this.groups.delete(f3);
        this.group = undefined;
        this.hostResponse(this.slot, false);
        if (this.hostOnly) this.deviceGroupDone(f0, this.slot, f4);
        break;
      case TraceKind.RESPONSE_RECV:
        // A response of the wrong PASID form still ends the group at the function (it matched the
        // PRG index; the form error is latched, pcie/function.ts onResponse): the index is free again.
        if (!this.hostOnly && (f5 === RecvOutcome.MATCHED || f5 === RecvOutcome.PASID_FORM_ERROR) && this.dState[this.slot] !== D_IDLE) {
          this.deviceGroupDone(f0, this.slot, f4);
        }
        break;
      case TraceKind.DEVICE_REMOVE:
        if (this.full) {
          // The rules reported any handler still holding a group; it no longer counts as live.
          for (const [, g] of this.groups.ofDevice(f0)) g.live = false;
          this.defer(this, kind, f0, 0);
        }
        break;
      case TraceKind.BIND:
        if (f4 === 0 && this.full) this.pasidMm.set(f1, f3);
        break;
      case TraceKind.PASID_FREE:
        if (this.full) this.pasidMm.set(f1, MM_UNBOUND);
        break;
      case TraceKind.PRI_CONTROL:
        this.priControl(f0, f4);
        break;
      default:
        break;
    }
  }

  private pageRequest(dev: number, pasid: number, req: number, flags: number): void {
    const s = this.slot;
    this.bal.sent++;
    this.sentBy[dev]!++;
    this.dOut[dev]!++;
    if (this.dState[s] === D_IDLE) {
      this.dCount[s] = 0;
      this.dPasid[s] = pasid;
    }
    this.dCount[s]!++;
    this.dState[s] = (flags & PrFlag.LAST) !== 0 ? D_CLOSED : D_OPEN;
    if ((flags & PrFlag.LAST) !== 0) this.dLastReq[s] = req;
    if (this.full) this.dMm[s] = this.pasidMm.get(pasid) ?? MM_UNKNOWN;
  }

  private deviceGroupDone(dev: number, s: number, code: number): void {
    this.dOut[dev] = Math.max(0, this.dOut[dev]! - this.dCount[s]!);
    this.dCount[s] = 0;
    this.dState[s] = D_IDLE;
    this.dPasid[s] = -1;
    if (code !== PciRespCode.SUCCESS && code !== PciRespCode.INVALID) this.rf[dev] = 1;
  }

  private priControl(dev: number, op: number): void {
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

  private queueWrite(dev: number, pasid: number, prgi: number, req: number, iommu: number): void {
    if (this.stopReq) {
      this.stopReqs.delete(req);
      if (!this.hostOnly) this.arrivedBy[dev]!++;
      this.hStop[this.slot] = 1;
      // -1 marks a Stop Marker seen at the host (an auto-response to it is a violation).
      this.droppedReqs.set(req, -1);
      return;
    }
    // Host inputs: the page_request already was the arrival.
    if (this.hostOnly) return;
    this.devIommu[dev] = iommu;
    this.arrival(dev, pasid, prgi, this.dLastReq[this.slot] === req ? PrFlag.LAST : 0);
  }

  /** A page request reached the host. flags: LAST known (model) or -1 = take it from the device slot. */
  private arrival(dev: number, pasid: number, prgi: number, flags: number): void {
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
    this.devIommu[dev] = iommu;
    if (this.stopReq) {
      this.stopReqs.delete(req);
      this.arrivedBy[dev]!++;
      this.droppedReqs.set(req, -1);
      return;
    }
    this.droppedReqs.set(req, flags);
    const isLast = (flags & PrFlag.LAST) !== 0;
    this.arrival(dev, pasid, prgi, isLast ? PrFlag.LAST : 0);
    if (isLast) this.hDroppedLast[this.slot] = 1;
  }

  /** A response (software or hardware) for slot s leaves the host: the Resp case decides. */
  private hostResponse(s: number, auto: boolean): void {
    switch (this.resp) {
      case Resp.COMPLETE_FIRST:
      case Resp.COMPLETE_AGAIN:
        this.hist.recordValue(Math.max(0, this.now - this.hLastT[s]!));
        this.settle(s, auto);
        this.hState[s] = H_ANSWERED;
        break;
      case Resp.PARTIAL_AUTO:
        this.settle(s, auto);
        this.hState[s] = H_ANSWERED;
        break;
      case Resp.PARTIAL_AGAIN:
      case Resp.PARTIAL_BEFORE_LAST:
      case Resp.PARTIAL_NO_LAST:
        this.settle(s, auto);
        break;
      case Resp.STOP:
        this.hStop[s] = 0;
        break;
      case Resp.ANSWERED_AGAIN:
      case Resp.ANSWERED_EXCUSED:
        if (this.hResp[s]! < 255) this.hResp[s]!++;
        break;
      case Resp.AUTO_REFUSED:
        this.hResp[s] = 1;
        this.hState[s] = H_ANSWERED;
        this.bal.autoAnswered++;
        break;
      default:
        break;
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

  private partialAdd(dev: number, pasid: number, grpid: number, req: number): void {
    const prgi = prgiOfGrpid(grpid);
    const s = this.slotOf(dev, prgi);
    // A request id seen again replaces its earlier record (and moves to the newest end).
    this.dropPartial(req);
    this.partials.set(req, { dev, pasid, prgi, grpid, seq: this.seq });
    const set = this.partialsBySlot.get(s);
    if (set === undefined) this.partialsBySlot.set(s, new Set([req]));
    else set.add(req);
  }

  /** Forget a partial fault (freed, gathered, or evicted by the bound). */
  dropPartial(req: number): void {
    const p = this.partials.get(req);
    if (p === undefined) return;
    this.partials.delete(req);
    this.unlistPartial(req, p);
  }

  private unlistPartial(req: number, p: PartialRec): void {
    const s = p.dev * PRGI_COUNT + p.prgi;
    const set = this.partialsBySlot.get(s);
    if (set !== undefined) {
      set.delete(req);
      if (set.size === 0) this.partialsBySlot.delete(s);
    }
  }

  /**
   * The listed partial faults a group formed for (dev, PASID, grpid) may gather: `same` of its own
   * PASID, `other` of another PASID with the same grpid (the contract leaves those listed; a core
   * that matches grpid alone gathers them too: CORE.GROUP.ONE_PASID).
   */
  gatherable(dev: number, pasid: number, grpid: number): { same: number; other: number } {
    const r = this.gatherCount;
    r.same = 0;
    r.other = 0;
    const set = this.partialsBySlot.get(this.slot);
    if (set === undefined) return r;
    const prgi = prgiOfGrpid(grpid);
    for (const req of set) {
      const p = this.partials.get(req);
      if (p === undefined || p.dev !== dev || p.prgi !== prgi || p.grpid !== grpid) continue;
      if (p.pasid === pasid) r.same++;
      else r.other++;
    }
    return r;
  }
  private readonly gatherCount = { same: 0, other: 0 };

  /**
   * iommu_report_device_fault() step 5: the core moves the partials of the group's PRG into it.
   * Which ones the trace tells by the group's size: those of its PASID (the contract), or, when it
   * holds them all, those of every PASID with its grpid (every kernel as read). Partials of the
   * same PRG index but another grpid stay listed and are not looked at again by later groups.
   */
  private groupForm(dev: number, pasid: number, grpid: number, group: number, count: number): void {
    const prgi = prgiOfGrpid(grpid);
    const s = this.slot;
    const set = this.partialsBySlot.get(s);
    if (set !== undefined) {
      const { same, other } = this.gatherable(dev, pasid, grpid);
      const anyPasid = other > 0 && count === same + other + 1;
      let kept = 0;
      for (const req of set) {
        const p = this.partials.get(req);
        if (p === undefined || p.dev !== dev || p.prgi !== prgi || p.grpid !== grpid) set.delete(req);
        else if (anyPasid || p.pasid === pasid) {
          this.partials.delete(req);
          set.delete(req);
        } else kept++;
      }
      if (kept === 0) this.partialsBySlot.delete(s);
    }
    this.groups.delete(group);
    this.groups.set(group, { dev, pasid, prgi, seq: this.seq, handler: 0, live: false, sendMm: this.dMm[s]! });
    if (group > this.maxGroup) this.maxGroup = group;
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
}
