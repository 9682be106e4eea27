/**
 * A PCIe function with ATS, PASID and PRI (reference pcie-iommu-hardware.md §1; PCIe Base Spec
 * ch. 10). It runs the DMA engine of the model: a workload access of `pages` consecutive pages is
 * translated page by page through the ATC and ATS; pages the IOMMU cannot translate become ONE page
 * request group (requests with L=0, the last with L=1) under one PRG index, limited by the
 * Outstanding Page Request Allocation (credits). Responses free the credits and the index, then
 * (Success) the function re-translates the pages (ATS.RETRY.AFTER_SUCCESS) or (Invalid) fails the
 * access. Response Failure and reserved codes latch RF and stop page requests (PRI.RESP.*).
 *
 * Hot-path state is pooled: accesses live in a reused object pool indexed by slot, groups in typed
 * arrays indexed by PRG index.
 */
import { assert } from '../sim/assert.js';
import type { Continuation } from '../sim/sync.js';
import type { Rng } from '../sim/random.js';
import type { ModelEnv } from '../env/env.js';
import type { DeviceConfig } from '../scenario/schema.js';
import type { DeviceView } from './device-view.js';
import { TraceKind, PrFlag, RecvOutcome, PciRespCode } from '../trace/events.js';
import type { PageRequestMsg, PrgResponseMsg } from './messages.js';
import {
  PriCtrlBit,
  type FunctionConfig,
  type PriCapState,
  updatePriStopped,
  writePriCtrl,
} from './registers.js';
import { Atc } from './atc.js';
import { PrgiAllocator, PRGI_COUNT } from './prgi.js';

/** The IOMMU's page-table walk for an ATS translation request. */
export type TranslateResult = 'ok' | 'not-present' | 'denied';

export interface TranslateAccess {
  write: boolean;
  exec: boolean;
  priv: boolean;
}

export interface PciFunctionDeps {
  /** Put a page request (or Stop Marker) on the link; the world adds the link latency. */
  sendPageRequest(msg: PageRequestMsg): void;
  /** ATS translation: the IOMMU's answer for (dev, pasid, page) (evaluated when the request completes). */
  translate(dev: number, pasid: number, page: number, access: TranslateAccess): TranslateResult;
}

/** How often one access may fault again after Success before the model counts it failed. */
export const MAX_RETRIES_PER_ACCESS = 8;
/** Most pages one DMA access may span. */
export const MAX_DMA_PAGES = 512;
/** Most accesses in flight at once per function (a bound, not a hardware limit). */
const MAX_ACCESSES = 1 << 20;

/** Where an access is in its life. */
const Phase = {
  FREE: 0,
  /** ATS translation requests in flight (uses ATC entries). */
  TRANSLATING: 1,
  /** Page request group formed, waiting for credits or a PRG index. */
  STALLED: 2,
  /** Group sent, waiting for the PRG response. */
  OUTSTANDING: 3,
  /** Translations complete, data transfer in flight (uses ATC entries). */
  TRANSFERRING: 4,
} as const;
type PhaseValue = (typeof Phase)[keyof typeof Phase];

/** One workload access in flight (pooled). */
class Access {
  phase: PhaseValue = Phase.FREE;
  /** Bumped at every reuse, so stale queue entries are recognised. */
  use = 0;
  id = 0;
  pasid = -1;
  firstPage = 0;
  pages = 0;
  /** PrFlag READ/WRITE/EXEC/PRIV. */
  flags = 0;
  retries = 0;
  /** Pages that need a page request (offsets from firstPage), count in `need`. */
  readonly needOff: Int32Array = new Int32Array(MAX_DMA_PAGES);
  need = 0;
  prgi = -1;
  stallSince = 0;
}

type Waiter = { pasid: number; withMarker: boolean; cont: Continuation };
type InvWaiter = { pasid: number; first: number; count: number; cont: Continuation };

export class PciFunction implements DeviceView {
  readonly regs: FunctionConfig & { pri: PriCapState };
  readonly atc: Atc;
  private readonly prgis = new PrgiAllocator();
  /** Per PRG index: the access slot and request count of its outstanding group, first send time. */
  private readonly groupSlot = new Int32Array(PRGI_COUNT).fill(-1);
  private readonly groupCount = new Int32Array(PRGI_COUNT);
  private readonly groupSentNs = new Float64Array(PRGI_COUNT);
  /** Outstanding page requests (credits in use), PRI.CREDIT.LIMIT. */
  outstanding = 0;

  private readonly pool: Access[] = [];
  private readonly freeSlots: number[] = [];
  /** Groups waiting for credits or an index, in order (slot and use pairs). */
  private stallSlots: number[] = [];
  private stallUses: number[] = [];
  private stallHead = 0;
  private stalledCount = 0;

  /** Accesses not yet done, per PASID (quiesce for stopPasid). */
  private readonly active = new Map<number, number>();
  /** Accesses using ATC entries (translating or transferring), per PASID (ATC invalidation). */
  private readonly using = new Map<number, number>();
  private readonly stoppedPasids = new Set<number>();
  private readonly stopWaiters: Waiter[] = [];
  private readonly invWaiters: InvWaiter[] = [];

  private reqSeq = 0;
  private readonly scratchAccess: TranslateAccess = { write: false, exec: false, priv: false };
  private readonly rng: Rng;
  private readonly kAts: number;
  private readonly kDma: number;
  private readonly kCont: number;

  /** Counters for the summary. */
  readonly counters = {
    accesses: 0,
    dmaOk: 0,
    dmaFailed: 0,
    pageRequests: 0,
    groups: 0,
    stopMarkers: 0,
    creditStalls: 0,
    retryExhausted: 0,
    groupTooLarge: 0,
    responses: 0,
    uprgi: 0,
    ignoredRf: 0,
    pasidFormErrors: 0,
  };

  constructor(
    private readonly env: ModelEnv,
    readonly dev: number,
    readonly cfg: DeviceConfig,
    private readonly deps: PciFunctionDeps,
  ) {
    assert(dev >= 0 && dev < 256, 'PciFunction: device id must be in [0, 256)');
    this.regs = {
      ats: { invalidateQueueDepth: 0, pageAlignedRequest: true, stu: cfg.ats.stu, enable: true },
      pasid: {
        execSupported: cfg.pasid.exec_supported,
        privSupported: cfg.pasid.priv_supported,
        maxPasidWidth: cfg.pasid.width,
        enable: true,
        execEnable: cfg.pasid.exec_enabled,
        privEnable: cfg.pasid.priv_enabled,
      },
      pri: {
        // Linux enables PRI when the device is attached for IOPF; the world may toggle it.
        enable: true,
        responseFailure: false,
        unexpectedPrgIndex: false,
        stopped: false,
        prgResponsePasidRequired: cfg.pri.response_pasid_required,
        outstandingCapacity: cfg.pri.capacity,
        outstandingAllocation: cfg.pri.allocation,
      },
    };
    this.atc = new Atc(cfg.ats.atc_entries);
    this.rng = env.stream(`pcie:${cfg.name}`);
    this.kAts = env.sim.registerKind(`pcie:${cfg.name}:ats`, (slot) => {
      this.atsDone(slot);
    });
    this.kDma = env.sim.registerKind(`pcie:${cfg.name}:dma`, (slot) => {
      this.dmaDone(slot);
    });
    this.kCont = env.sim.registerKind(`pcie:${cfg.name}:cont`, (_a, _b, p) => {
      const c = p as Continuation;
      env.sim.after(0, c.kind, c.a, 0, c.payload);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // DeviceView
  // ---------------------------------------------------------------------------------------------

  get rid(): number {
    return this.cfg.rid;
  }
  get name(): string {
    return this.cfg.name;
  }
  /** PRI Status "PRG Response PASID Required" (pdev->pasid_required). */
  get responsePasidRequired(): boolean {
    return this.regs.pri.prgResponsePasidRequired;
  }
  get pasidWidth(): number {
    return this.regs.pasid!.maxPasidWidth;
  }
  /** PRI.ENABLE.REQUIRED: page requests only while Enable is set and RF is clear. */
  get canRequest(): boolean {
    return this.regs.pri.enable && !this.regs.pri.responseFailure;
  }
  /** Groups currently waiting for credits or an index. */
  get stalled(): number {
    return this.stalledCount;
  }
  get outstandingGroups(): number {
    return this.prgis.outstanding;
  }
  /** Page requests sent so far, stop markers included (for the VT-d page drain). */
  get requestsSent(): number {
    return this.reqSeq;
  }

  // ---------------------------------------------------------------------------------------------
  // DMA engine
  // ---------------------------------------------------------------------------------------------

  private allocAccess(): number {
    let s = this.freeSlots.pop();
    if (s === undefined) {
      assert(this.pool.length < MAX_ACCESSES, 'PciFunction: too many accesses in flight');
      s = this.pool.length;
      this.pool.push(new Access());
    }
    const a = this.pool[s]!;
    a.use++;
    a.retries = 0;
    a.need = 0;
    a.prgi = -1;
    return s;
  }

  private bump(map: Map<number, number>, pasid: number, by: number): number {
    const v = (map.get(pasid) ?? 0) + by;
    assert(v >= 0, 'PciFunction: per-PASID count went negative');
    // A zero count stays in the map (readers treat absent and 0 alike): deleting and re-inserting
    // the key on every access of an idle PASID is Map churn on the hot path; the map is bounded by
    // the PASIDs the function has used.
    map.set(pasid, v);
    return v;
  }

  /**
   * A workload access: DMA over `pages` consecutive pages from `firstPage`, with PASID `pasid`
   * (-1: no PASID prefix) and PrFlag access bits (READ, WRITE, EXEC, PRIV). Completes with a
   * DMA_DONE event (failed = 1 when a translation was refused or could not be requested).
   */
  dma(accessId: number, pasid: number, firstPage: number, pages: number, flags: number): void {
    assert(pages >= 1 && pages <= MAX_DMA_PAGES, 'PciFunction.dma: pages out of range');
    assert(pasid >= -1 && pasid < 2 ** this.pasidWidth, 'PciFunction.dma: PASID beyond the PASID width');
    this.counters.accesses++;
    const s = this.allocAccess();
    const a = this.pool[s]!;
    a.id = accessId;
    a.pasid = pasid;
    a.firstPage = firstPage;
    a.pages = pages;
    let f = flags & (PrFlag.READ | PrFlag.WRITE | PrFlag.EXEC | PrFlag.PRIV);
    // Execute and Privileged travel only in the PASID prefix (§1.2), and only when enabled.
    if (pasid < 0 || !this.regs.pasid!.execEnable) f &= ~PrFlag.EXEC;
    if (pasid < 0 || !this.regs.pasid!.privEnable) f &= ~PrFlag.PRIV;
    if ((f & (PrFlag.READ | PrFlag.WRITE)) === 0) f |= PrFlag.READ;
    a.flags = f;
    this.bump(this.active, pasid, 1);
    if (this.stoppedPasids.has(pasid)) {
      // The function has stopped using this PASID (stopPasid): nothing new starts on it.
      this.failAccess(s);
      return;
    }
    this.startTranslation(s);
  }

  /** Look every page up in the ATC; misses go to ATS as one batch of translation requests. */
  private startTranslation(s: number): void {
    const a = this.pool[s]!;
    const tr = this.env.tracer;
    let misses = 0;
    for (let i = 0; i < a.pages; i++) {
      const page = a.firstPage + i;
      if (this.atc.lookup(a.pasid, page)) tr.emit(TraceKind.ATS, this.dev, a.pasid, 0, a.id, 0, page);
      else misses++;
    }
    a.phase = Phase.TRANSLATING;
    this.bump(this.using, a.pasid, 1);
    if (misses === 0) {
      this.atsDone(s);
      return;
    }
    // The translation requests go out back to back; the batch completes after one ATS round trip.
    this.env.sim.after(this.env.latency.ats_ns.sample(this.rng), this.kAts, s, 0);
  }

  private atsDone(s: number): void {
    const a = this.pool[s]!;
    assert(a.phase === Phase.TRANSLATING, 'PciFunction: ATS completion for an access not translating');
    const tr = this.env.tracer;
    // One scratch object per function: translate() reads it synchronously and keeps no reference.
    const access = this.scratchAccess;
    access.write = (a.flags & PrFlag.WRITE) !== 0;
    access.exec = (a.flags & PrFlag.EXEC) !== 0;
    access.priv = (a.flags & PrFlag.PRIV) !== 0;
    a.need = 0;
    for (let i = 0; i < a.pages; i++) {
      const page = a.firstPage + i;
      if (this.atc.has(a.pasid, page)) continue;
      const r = this.deps.translate(this.dev, a.pasid, page, access);
      if (r === 'ok') {
        this.atc.insert(a.pasid, page);
        tr.emit(TraceKind.ATS, this.dev, a.pasid, 0, a.id, 1, page);
      } else {
        tr.emit(TraceKind.ATS, this.dev, a.pasid, 0, a.id, 2, page);
        a.needOff[a.need++] = i;
      }
    }
    if (a.need === 0) {
      a.phase = Phase.TRANSFERRING;
      this.env.sim.after(this.env.latency.dma_ns.sample(this.rng), this.kDma, s, 0);
      return;
    }
    this.leaveUsing(a.pasid);
    if (!this.canRequest || this.stoppedPasids.has(a.pasid)) {
      this.failAccess(s);
      return;
    }
    if (a.need > this.regs.pri.outstandingAllocation) {
      // A group larger than the Allocation could never be sent (PRI.CREDIT.LIMIT): the access fails.
      this.counters.groupTooLarge++;
      this.env.metrics.add('pri_group_exceeds_allocation');
      this.failAccess(s);
      return;
    }
    if (this.stalledCount === 0 && this.haveRoom(a.need)) {
      this.sendGroup(s);
      return;
    }
    // PRI.CREDIT.LIMIT: no credit (or no PRG index): the group waits, in order.
    a.phase = Phase.STALLED;
    a.stallSince = this.env.sim.now;
    this.stallSlots.push(s);
    this.stallUses.push(a.use);
    this.stalledCount++;
    this.counters.creditStalls++;
    this.env.metrics.add('credit_stalls');
    tr.emit(TraceKind.CREDIT_STALL, this.dev, 0, 0, 0, this.outstanding, this.regs.pri.outstandingAllocation);
  }

  private haveRoom(n: number): boolean {
    return this.outstanding + n <= this.regs.pri.outstandingAllocation && !this.prgis.full;
  }

  /** Send the access's pages that need a request as one group (PRI.GROUP.LAST_CLOSES). */
  private sendGroup(s: number): void {
    const a = this.pool[s]!;
    const prgi = this.prgis.alloc();
    assert(prgi >= 0, 'PciFunction: no free PRG index');
    a.prgi = prgi;
    a.phase = Phase.OUTSTANDING;
    this.groupSlot[prgi] = s;
    this.groupCount[prgi] = a.need;
    this.groupSentNs[prgi] = this.env.sim.now;
    this.outstanding += a.need;
    this.counters.groups++;
    const base =
      (a.flags & (PrFlag.READ | PrFlag.WRITE | PrFlag.EXEC | PrFlag.PRIV)) |
      (a.pasid >= 0 ? PrFlag.PASID : 0);
    for (let i = 0; i < a.need; i++) {
      const flags = base | (i === a.need - 1 ? PrFlag.LAST : 0);
      const page = a.firstPage + a.needOff[i]!;
      const msg: PageRequestMsg = {
        reqId: this.nextReqId(),
        dev: this.dev,
        rid: this.rid,
        pasid: a.pasid,
        prgi,
        flags,
        page,
        stopMarker: false,
      };
      this.counters.pageRequests++;
      this.env.tracer.emit(TraceKind.PAGE_REQUEST, this.dev, a.pasid, prgi, msg.reqId, flags, page);
      this.deps.sendPageRequest(msg);
    }
  }

  /** Request ids unique in a run: a per-function sequence interleaved with the device id. */
  private nextReqId(): number {
    return this.reqSeq++ * 256 + this.dev;
  }

  /** Send stalled groups that now fit, in order. */
  private kick(): void {
    while (this.stallHead < this.stallSlots.length) {
      const s = this.stallSlots[this.stallHead]!;
      const a = this.pool[s]!;
      if (a.phase !== Phase.STALLED || a.use !== this.stallUses[this.stallHead]) {
        this.stallHead++;
        continue;
      }
      if (!this.canRequest || !this.haveRoom(a.need)) break;
      this.stallHead++;
      this.stalledCount--;
      this.env.metrics.record('credit_stall_ns', this.env.sim.now - a.stallSince);
      this.sendGroup(s);
    }
    if (this.stallHead > 1024 && this.stallHead * 2 > this.stallSlots.length) {
      this.stallSlots = this.stallSlots.slice(this.stallHead);
      this.stallUses = this.stallUses.slice(this.stallHead);
      this.stallHead = 0;
    }
  }

  /** Fail every stalled group matching `pasid` (or all with pasid === undefined). */
  private failStalled(pasid?: number): void {
    for (let i = this.stallHead; i < this.stallSlots.length; i++) {
      const s = this.stallSlots[i]!;
      const a = this.pool[s]!;
      if (a.phase !== Phase.STALLED || a.use !== this.stallUses[i]) continue;
      if (pasid !== undefined && a.pasid !== pasid) continue;
      this.stalledCount--;
      this.failAccess(s);
    }
  }

  private dmaDone(s: number): void {
    const a = this.pool[s]!;
    assert(a.phase === Phase.TRANSFERRING, 'PciFunction: DMA completion for an access not transferring');
    this.leaveUsing(a.pasid);
    this.counters.dmaOk++;
    this.env.tracer.emit(TraceKind.DMA_DONE, this.dev, a.pasid, 0, a.id, 0, a.firstPage);
    this.release(s);
  }

  private failAccess(s: number): void {
    const a = this.pool[s]!;
    this.counters.dmaFailed++;
    this.env.metrics.add('dma_failed');
    this.env.tracer.emit(TraceKind.DMA_DONE, this.dev, a.pasid, 0, a.id, 1, a.firstPage);
    this.release(s);
  }

  private release(s: number): void {
    const a = this.pool[s]!;
    a.phase = Phase.FREE;
    a.use++;
    this.freeSlots.push(s);
    const left = this.bump(this.active, a.pasid, -1);
    if (left === 0) this.pasidQuiet(a.pasid);
  }

  private leaveUsing(pasid: number): void {
    if (this.bump(this.using, pasid, -1) === 0) this.checkInvalidations(pasid);
  }

  // ---------------------------------------------------------------------------------------------
  // PRG responses (§1.3 PRI.RESP.*)
  // ---------------------------------------------------------------------------------------------

  /** A Page Request Group Response arrives from the host. */
  onResponse(msg: PrgResponseMsg): void {
    const pri = this.regs.pri;
    const tr = this.env.tracer;
    this.counters.responses++;
    if (pri.responseFailure) {
      // PRI.RESP.FAILURE_DISABLES: after RF the function ignores responses until PRI is reset.
      this.counters.ignoredRf++;
      tr.emit(TraceKind.RESPONSE_RECV, this.dev, msg.pasid, msg.prgi, 0, msg.code, RecvOutcome.IGNORED_RF);
      return;
    }
    const prgi = msg.prgi;
    const s = this.prgis.isOutstanding(prgi) ? this.groupSlot[prgi]! : -1;
    const a = s >= 0 ? this.pool[s]! : undefined;
    if (a === undefined || (msg.pasid >= 0 && a.pasid >= 0 && msg.pasid !== a.pasid)) {
      // PRI.RESP.UPRGI: no outstanding group has this index: latch UPRGI, discard.
      pri.unexpectedPrgIndex = true;
      this.counters.uprgi++;
      tr.emit(TraceKind.RESPONSE_RECV, this.dev, msg.pasid, prgi, 0, msg.code, RecvOutcome.UPRGI);
      return;
    }
    // PRI.RESP.PASID_FORM: a PASID is expected iff the request had one and the Status bit is set.
    const expectPasid = a.pasid >= 0 && pri.prgResponsePasidRequired;
    const formOk = msg.pasid >= 0 === expectPasid;
    if (!formOk) {
      this.counters.pasidFormErrors++;
      this.env.metrics.add('pasid_form_errors');
    }
    tr.emit(
      TraceKind.RESPONSE_RECV,
      this.dev,
      msg.pasid,
      prgi,
      0,
      msg.code,
      formOk ? RecvOutcome.MATCHED : RecvOutcome.PASID_FORM_ERROR,
    );
    this.endGroup(prgi);
    if (msg.code === PciRespCode.SUCCESS) {
      // PRI.RESP.SUCCESS_RETRIES / ATS.RETRY.AFTER_SUCCESS: translate again before faulting again.
      a.retries++;
      if (a.retries > MAX_RETRIES_PER_ACCESS) {
        this.counters.retryExhausted++;
        this.env.metrics.add('dma_retry_exhausted');
        this.failAccess(s);
      } else {
        this.startTranslation(s);
      }
    } else if (msg.code === PciRespCode.INVALID) {
      // PRI.RESP.INVALID_ERRORS: no retry; the access fails.
      this.failAccess(s);
    } else {
      // PRI.RESP.FAILURE_DISABLES / PRI.RESP.RESERVED: latch RF; no more page requests.
      pri.responseFailure = true;
      this.env.metrics.add('pri_response_failure');
      this.failAccess(s);
      this.failStalled();
    }
    this.afterGroupChange();
  }

  private endGroup(prgi: number): void {
    const n = this.groupCount[prgi]!;
    this.outstanding -= n;
    assert(this.outstanding >= 0, 'PciFunction: negative outstanding requests');
    this.env.metrics.record('group_latency_ns', this.env.sim.now - this.groupSentNs[prgi]!);
    this.groupSlot[prgi] = -1;
    this.groupCount[prgi] = 0;
    this.prgis.free(prgi);
  }

  private afterGroupChange(): void {
    updatePriStopped(this.regs.pri, this.outstanding);
    this.kick();
  }

  // ---------------------------------------------------------------------------------------------
  // PRI control (Enable / Reset), stop of a PASID, ATC invalidation
  // ---------------------------------------------------------------------------------------------

  /**
   * Software writes PRI Control: 'enable' sets Enable, 'disable' clears it, 'reset' writes Reset
   * with Enable clear (PRI.RESET.CLEARS: outstanding requests dropped, RF/UPRGI and credits cleared).
   */
  /** PRI Control's Enable bit as software reads it. */
  get priEnabled(): boolean {
    return this.regs.pri.enable;
  }

  priControl(op: 'enable' | 'disable' | 'reset'): void {
    const pri = this.regs.pri;
    const code = op === 'enable' ? 0 : op === 'disable' ? 1 : 2;
    this.env.tracer.emit(TraceKind.PRI_CONTROL, this.dev, 0, 0, 0, code, 0);
    if (op === 'enable') {
      writePriCtrl(pri, PriCtrlBit.ENABLE);
      this.afterGroupChange();
      return;
    }
    const eff = writePriCtrl(pri, op === 'reset' ? PriCtrlBit.RESET : 0);
    // A disabled function sends nothing new: groups still waiting for credits fail.
    this.failStalled();
    if (eff.reset) {
      for (let prgi = 0; prgi < PRGI_COUNT; prgi++) {
        if (!this.prgis.isOutstanding(prgi)) continue;
        const s = this.groupSlot[prgi]!;
        this.groupSlot[prgi] = -1;
        this.groupCount[prgi] = 0;
        this.failAccess(s);
      }
      this.prgis.reset();
      this.outstanding = 0;
    }
    // PRI.STOPPED: with Enable clear, Stopped once nothing is outstanding.
    updatePriStopped(pri, this.outstanding);
  }

  /**
   * Stop using `pasid` (the device driver's part of unbind): no new requests for it, wait until
   * its accesses are done and its groups answered, then (withMarker) send a Stop Marker
   * (PRI.STOP.AFTER_QUIESCE, PRI.STOP.NO_CREDIT). `cont` runs once quiesced (b = 0).
   */
  stopPasid(pasid: number, withMarker: boolean, cont: Continuation): void {
    this.stoppedPasids.add(pasid);
    this.failStalled(pasid);
    this.stopWaiters.push({ pasid, withMarker, cont });
    if ((this.active.get(pasid) ?? 0) === 0) this.pasidQuiet(pasid);
  }

  /** The PASIDs (-1: none) under which an access of the function is not done yet. */
  pasidsInUse(): number[] {
    const out: number[] = [];
    for (const [pasid, n] of this.active) if (n > 0) out.push(pasid);
    return out;
  }

  /** Allow `pasid` again (a new bind, possibly PASID reuse by another address space). */
  startPasid(pasid: number): void {
    this.stoppedPasids.delete(pasid);
  }

  isStopped(pasid: number): boolean {
    return this.stoppedPasids.has(pasid);
  }

  private pasidQuiet(pasid: number): void {
    for (let i = 0; i < this.stopWaiters.length;) {
      const w = this.stopWaiters[i]!;
      if (w.pasid !== pasid) {
        i++;
        continue;
      }
      this.stopWaiters.splice(i, 1);
      if (w.withMarker && this.canRequest && pasid >= 0) this.sendStopMarker(pasid);
      this.env.sim.after(0, w.cont.kind, w.cont.a, 0, w.cont.payload);
    }
  }

  private sendStopMarker(pasid: number): void {
    // A Stop Marker: L=1, R=W=0, with a PASID; it uses no credit and no PRG index of the allocator.
    const msg: PageRequestMsg = {
      reqId: this.nextReqId(),
      dev: this.dev,
      rid: this.rid,
      pasid,
      prgi: 0,
      flags: PrFlag.LAST | PrFlag.PASID,
      page: 0,
      stopMarker: true,
    };
    this.counters.stopMarkers++;
    this.env.tracer.emit(TraceKind.STOP_MARKER, this.dev, pasid, 0, msg.reqId, 0, 0);
    this.deps.sendPageRequest(msg);
  }

  /**
   * ATS Invalidate Request from the host for `pasid` pages [first, first + count): completes
   * (cont, b = 0) after the function stopped using the entries (ATS.INVALIDATE.COMPLETES): no
   * translation or data transfer of that PASID in flight; then after one ATS message round trip.
   */
  invalidate(pasid: number, cont: Continuation, first = 0, count = Number.POSITIVE_INFINITY): void {
    this.invWaiters.push({ pasid, first, count, cont });
    if ((this.using.get(pasid) ?? 0) === 0) this.checkInvalidations(pasid);
  }

  private checkInvalidations(pasid: number): void {
    for (let i = 0; i < this.invWaiters.length;) {
      const w = this.invWaiters[i]!;
      if (w.pasid !== pasid) {
        i++;
        continue;
      }
      this.invWaiters.splice(i, 1);
      this.atc.invalidate(pasid, w.first, w.count);
      this.env.sim.after(this.env.latency.ats_ns.sample(this.rng), this.kCont, 0, 0, w.cont);
    }
  }

  /** Figures for the summary. */
  stats(): Record<string, number> {
    return {
      ...this.counters,
      outstanding: this.outstanding,
      stalled: this.stalledCount,
      atcHits: this.atc.hits,
      atcMisses: this.atc.misses,
    };
  }
}
