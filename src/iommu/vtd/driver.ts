/**
 * The Linux VT-d driver glue for recoverable faults, modelled on drivers/iommu/intel/prq.c
 * (mainline) and the older drivers/iommu/intel/svm.c (kernel profiles `v6.7` and `seed`):
 *
 * - prq_event_thread: clear PPR, read tail and head, decode each entry, run the driver's checks,
 *   report the fault (intel_prq_report → iommu_report_device_fault), write PQH once at the end,
 *   and on overflow with an empty queue discard partial faults and clear PRO (VTD.PRQ.PRO_CLEAR).
 * - handle_bad_prq_event: a bad request is answered Invalid if it closes its group (and, in the
 *   older driver, if it carries private data).
 * - intel_iommu_page_response: the page group response descriptor on the invalidation queue.
 * - intel_iommu_drain_pasid_prq: wait until the PRQ holds nothing of the PASID, flush the fault
 *   queue, submit fence wait + PASID-IOTLB + device-TLB invalidation with a Page-Drain wait, and
 *   resubmit while PRO is set (VT-d spec §7.10).
 *
 * Each step of a kernel function that sleeps (the threaded IRQ, wait_for_completion,
 * qi_submit_sync, iopf_queue_flush_dev) is its own event, so the Chooser can interleave them.
 */
import { Forms } from '../../scenario/profiles.js';
import { assert } from '../../sim/assert.js';
import { err, type KResult } from '../../sim/errno.js';
import type { Continuation } from '../../sim/sync.js';
import type { Rng } from '../../sim/random.js';
import type { ModelEnv } from '../../env/env.js';
import type { IommuFrontend, IommuFrontendDeps } from '../frontend.js';
import type { PageRequestMsg, PrgResponseMsg } from '../../pcie/messages.js';
import { FaultFlag, FaultPerm, RespCode, type FaultRecord, type PageResponse } from '../../iopf/types.js';
import { TraceKind, RespSource, PciRespCode } from '../../trace/events.js';
import { REPORT_PENDING } from '../../iopf/core.js';
import {
  VTD_DESC_SIZE,
  decodePageGroupRespInto,
  decodePageRequestInto,
  emptyInvWait,
  emptyPageGroupResp,
  emptyPageRequest,
  encodeInvWaitInto,
  encodePageGroupRespInto,
  type VtdPageRequestDesc,
} from './codec.js';
import { VtdPrq, VtdPrsBit, responseCarriesPasid } from './prq.js';

/** What the VT-d model needs beyond IommuFrontendDeps (all optional: without them, latency only). */
export interface VtdDeps extends IommuFrontendDeps {
  /** Device-TLB (ATC) invalidation of `pasid` at the function (PciFunction.invalidate). */
  invalidateDevTlb?(dev: number, pasid: number, cont: Continuation): void;
  /** Page requests the function has sent so far (PciFunction.requestsSent), for Page-Drain. */
  requestsSent?(dev: number): number;
}

/** x86-64 4-level paging: __VIRTUAL_MASK_SHIFT = 47, so addresses are canonical below 2^47 or at/above 2^64 − 2^47. */
const VA_BITS = 48;
const PAGE_SHIFT = 12;
/** First non-canonical page number and the first canonical page of the upper half. */
const LOW_HALF_END_PAGE = 2 ** (VA_BITS - 1 - PAGE_SHIFT);
const HIGH_HALF_START_PAGE = 2 ** (64 - PAGE_SHIFT) - 2 ** (VA_BITS - 1 - PAGE_SHIFT);

/** is_canonical_address() of the page's address (sign-extension of bit 47). */
export function isCanonicalPage(pageNum: number): boolean {
  return pageNum < LOW_HALF_END_PAGE || pageNum >= HIGH_HALF_START_PAGE;
}

/** Bug variant: the core's response code goes into the descriptor as it is (see {@link wireCode}). */
export const VTD_BUG_RESP_CODE_RAW = 'vtd-resp-code-raw';

/**
 * iommu_page_response_code → PCIe wire code. Linux does not translate: intel_iommu_page_response
 * (prq.c; svm.c intel_svm_page_response before it) shifts msg->code into the descriptor as it is,
 * so FAILURE (enum value 2) reaches the function as a reserved code, which it handles as Response
 * Failure (PRI.RESP.RESERVED). `raw` (bug vtd-resp-code-raw) reproduces that; otherwise 1111b.
 */
export function wireCode(code: number, raw = false): number {
  if (raw) return code;
  if (code === RespCode.SUCCESS) return PciRespCode.SUCCESS;
  if (code === RespCode.INVALID) return PciRespCode.INVALID;
  return PciRespCode.FAILURE;
}

/** PASID_MAX in the older driver (20-bit PASIDs). */
const PASID_MAX = 1 << 20;

/** struct completion with complete() (one waiter per complete) and reinit_completion(). */
class Completion {
  private done = 0;
  private readonly waiters: Continuation[] = [];
  constructor(private readonly env: ModelEnv) {}
  reinit(): void {
    this.done = 0;
  }
  /** completion_done() is false → complete(): wakes one waiter (it consumes the count). */
  completeIfNotDone(): void {
    if (this.done !== 0) return;
    const w = this.waiters.shift();
    if (w === undefined) {
      this.done = 1;
      return;
    }
    this.env.sim.after(0, w.kind, w.a, w.b, w.payload);
  }
  /** The contract's wake-up: every waiter (complete_all() semantics for this round), each of
   * which re-scans the queue; with none waiting, the count as complete() leaves it. */
  completeAllWaiting(): void {
    if (this.waiters.length === 0) {
      if (this.done === 0) this.done = 1;
      return;
    }
    for (const w of this.waiters.splice(0)) this.env.sim.after(0, w.kind, w.a, w.b, w.payload);
  }
  wait(cont: Continuation): void {
    if (this.done > 0) {
      this.done--;
      this.env.sim.after(0, cont.kind, cont.a, cont.b, cont.payload);
      return;
    }
    this.waiters.push(cont);
  }
  get waiting(): number {
    return this.waiters.length;
  }
}

const DrainPhase = {
  SCAN: 0,
  FLUSHED: 1,
  SUBMIT: 2,
  DEVTLB_DONE: 3,
  QI_DONE: 4,
} as const;
type DrainPhaseValue = (typeof DrainPhase)[keyof typeof DrainPhase];

interface DrainState {
  id: number;
  dev: number;
  pasid: number;
  rid: number;
  cont: Continuation;
  phase: DrainPhaseValue;
  iterations: number;
  /** Page-Drain target: requests the function had sent when its invalidation completed. */
  sentTarget: number;
  /** What iopf_queue_flush_dev returned (mainline ignores it). */
  flushResult: number;
}

export class VtdIommu implements IommuFrontend {
  readonly family = 'vtd';
  readonly prq: VtdPrq;
  /** Older driver (svm.c): PASID required, private data, answer when reporting fails. */
  readonly legacy: boolean;
  /** Form driver-answers-report-errors (v6.9, v6.7): a failed report is answered here
   * (prq_event_thread → handle_bad_prq_event); later kernels' core answers on its report path. */
  private readonly driverAnswersErrors: boolean;
  private readonly rng: Rng;
  private readonly kThreadStart: number;
  private readonly kThreadEntry: number;
  private readonly kReportResumed: number;
  /** The entry whose report waits for the device's lock (v6.7), if any. */
  private blockedReport: { d: VtdPageRequestDesc; sender: number; reqId: number } | undefined;
  private readonly kRespSend: number;
  /** Completion time of the last page group response submitted to the invalidation queue. */
  private qiDoneAt = 0;
  private readonly kDrain: number;
  /** Bug vtd-drain-wakes-one: the thread's complete() wakes one waiting drain. */
  private readonly drainWakesOne: boolean;

  // prq_event_thread state
  private threadScheduled = false;
  private threadRunning = false;
  private threadRerun = false;
  private cursor = 0;
  private tailSnap = 0;
  private readonly rec: VtdPageRequestDesc = emptyPageRequest();
  readonly prqComplete: Completion;

  // invalidation queue scratch (descriptors are encoded as hardware would read them)
  private readonly qiBytes = new Uint8Array(VTD_DESC_SIZE);
  /** The drain's last batch as submitted: [0] fence wait, [1] PASID-IOTLB, [2] device-TLB (not
   * encoded: no codec for them), [3] the wait qi_submit_sync appends (Status Write, Page-Drain). */
  readonly drainBatch = new Uint8Array(4 * VTD_DESC_SIZE);
  private readonly respRec = emptyPageGroupResp();
  private readonly respDec = emptyPageGroupResp();
  private readonly waitRec = emptyInvWait();

  private readonly drains = new Map<number, DrainState>();
  private nextDrainId = 1;
  /** Drains waiting for the function's earlier page requests to arrive (Page-Drain). */
  private readonly arrivalWaiters: DrainState[] = [];

  readonly driverStats = {
    thread_runs: 0,
    entries_handled: 0,
    bad_requests: 0,
    bad_responses: 0,
    stop_markers_seen: 0,
    reports: 0,
    responses: 0,
    drains: 0,
    drain_resubmits: 0,
  };

  constructor(
    private readonly env: ModelEnv,
    readonly iommuIndex: number,
    private readonly deps: VtdDeps,
  ) {
    this.legacy = env.switches.has(Forms.VTD_SVM_PAGE_RESPONSE);
    this.driverAnswersErrors = env.switches.has(Forms.DRIVER_ANSWERS_REPORT_ERRORS);
    this.drainWakesOne = env.switches.has('vtd-drain-wakes-one');
    this.rng = env.stream(`vtd${iommuIndex}:driver`);
    this.prqComplete = new Completion(env);
    this.prq = new VtdPrq(env, iommuIndex, deps, () => {
      this.onPageRequestEvent();
    });
    const sim = env.sim;
    this.kThreadStart = sim.registerKind(`vtd${iommuIndex}:prq-thread`, () => {
      this.threadStart();
    });
    this.kReportResumed = sim.registerKind(`vtd${iommuIndex}:report-resumed`, (_a, result) => {
      this.reportResumed(result);
    });
    this.kThreadEntry = sim.registerKind(`vtd${iommuIndex}:prq-entries`, () => {
      this.threadEntries();
    });
    this.kRespSend = sim.registerKind(`vtd${iommuIndex}:qi-page-grp-resp`, (_a, _b, p) => {
      this.deps.sendResponse(p as PrgResponseMsg);
    });
    this.kDrain = sim.registerKind(`vtd${iommuIndex}:drain`, (id, result) => {
      this.drainStep(id, result);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Hardware entry point
  // ---------------------------------------------------------------------------------------------

  receivePageRequest(msg: PageRequestMsg): void {
    this.prq.receive(msg);
    if (this.arrivalWaiters.length > 0) this.checkArrivals();
  }

  /**
   * Byte-level injection: a 32-byte page request descriptor (reference pcie-iommu-hardware §2.2)
   * written into the PRQ as hardware writes it, then the page request event. The requester ID
   * (bits 31:16) must name a function. -ENODEV for an unknown one, -ENOSPC when the PRQ is full,
   * -EINVAL for a wrong length.
   */
  injectRaw(bytes: Uint8Array, reqId: number): KResult {
    if (bytes.length !== VTD_DESC_SIZE) return err('EINVAL');
    const rid = bytes[2]! | (bytes[3]! << 8);
    const view = this.deps.deviceByRid(rid);
    if (view === undefined) return err('ENODEV');
    if (!this.prq.writeRaw(bytes, reqId, view.dev)) return err('ENOSPC');
    if (this.arrivalWaiters.length > 0) this.checkArrivals();
    return 0;
  }

  // ---------------------------------------------------------------------------------------------
  // prq_event_thread (threaded IRQ, IRQF_ONESHOT: an event during a run makes it run again)
  // ---------------------------------------------------------------------------------------------

  private onPageRequestEvent(): void {
    if (this.threadRunning) {
      this.threadRerun = true;
      return;
    }
    if (this.threadScheduled) return;
    this.threadScheduled = true;
    this.env.sim.after(this.env.latency.irq_ns.sample(this.rng), this.kThreadStart, 0, 0);
  }

  private threadStart(): void {
    this.threadScheduled = false;
    this.threadRunning = true;
    this.driverStats.thread_runs++;
    // Clear PPR before reading the registers, so a later write raises a new event.
    this.prq.writePrs(VtdPrsBit.PPR);
    this.tailSnap = this.prq.tail;
    this.cursor = this.prq.head;
    this.nextEntryOrFinish();
  }

  /**
   * The entries from the cursor to the tail snapshot are handled as one batch: the thread decodes
   * them back to back (one decode_ns draw per entry, summed), then reports them in ring order in
   * one engine step. The kernel's loop never sleeps between entries, and PQH is written only after
   * the batch, so what other actors can observe — the ring still holding the entries (the drain's
   * scan), the completion, the next event raised only after PPR is cleared — is the same as with a
   * step per entry; the reports of a batch simply fall at one instant.
   */
  private nextEntryOrFinish(): void {
    if (this.cursor !== this.tailSnap) {
      const n = (this.tailSnap - this.cursor + this.prq.entries) % this.prq.entries;
      const decode = this.env.latency.decode_ns;
      let ns = 0;
      for (let i = 0; i < n; i++) ns += decode.sample(this.rng);
      this.env.sim.after(ns, this.kThreadEntry, 0, 0);
      return;
    }
    this.threadFinish();
  }

  /** The batch's entries, in ring order; stops while a report waits for the device's lock (v6.7). */
  private threadEntries(): void {
    while (this.cursor !== this.tailSnap) {
      const blocked = this.handleEntry(this.cursor);
      this.cursor = (this.cursor + 1) % this.prq.entries;
      // A report waiting for the device's lock holds the whole thread until it returns.
      if (blocked) return;
    }
    this.threadFinish();
  }

  /** The blocked report returned (b = its result): finish that entry, go on with the batch. */
  private reportResumed(result: number): void {
    const w = this.blockedReport;
    assert(w !== undefined, 'vtd: report resumed without a blocked report');
    this.blockedReport = undefined;
    if (this.driverAnswersErrors && result !== 0) this.badRequest(w.d, w.sender, w.reqId);
    this.threadEntries();
  }

  private threadFinish(): void {
    const prq = this.prq;
    // PQH is written once, after the batch: entries stay "pending" while the thread works.
    prq.writeHead(this.tailSnap);
    if (prq.pro && prq.head === prq.tail) {
      // VTD.PRQ.PRO_CLEAR: last requests of groups may have been lost; discard partials first.
      this.deps.discardPartial();
      prq.writePrs(VtdPrsBit.PRO);
    }
    // prq_event_thread ends with complete(&prq_complete) when !completion_done(): it wakes ONE
    // waiter. Two drains of one IOMMU (PASIDs of different devices torn down at once) can both
    // wait; the other then sleeps until the next page request interrupt — on a quiet IOMMU, for
    // ever (bug vtd-drain-wakes-one). The contract wakes every drain waiting (each re-scans).
    if (this.drainWakesOne) this.prqComplete.completeIfNotDone();
    else this.prqComplete.completeAllWaiting();
    this.threadRunning = false;
    if (this.threadRerun) {
      this.threadRerun = false;
      this.threadScheduled = true;
      this.env.sim.after(0, this.kThreadStart, 0, 0);
    }
  }

  /** Returns true when the thread blocks in the report (it resumes through kReportResumed). */
  private handleEntry(idx: number): boolean {
    const prq = this.prq;
    const d = decodePageRequestInto(prq.ring, prq.offsetOf(idx), this.rec);
    const sender = prq.devAt[idx]!;
    const reqId = prq.reqIdAt[idx]!;
    this.driverStats.entries_handled++;
    // The driver's checks (prq.c prq_event_thread; svm.c also required a PASID).
    if (
      (this.legacy && !d.pasidPresent) ||
      !isCanonicalPage(d.pageNum) ||
      (d.privReq && (d.read || d.write)) ||
      (d.execReq && d.read)
    ) {
      this.badRequest(d, sender, reqId);
      return false;
    }
    if (d.lpig && !d.read && !d.write) {
      // A Stop Marker: dropped, no response.
      this.driverStats.stop_markers_seen++;
      return false;
    }
    const view = this.deps.deviceByRid(d.rid);
    if (view === undefined) {
      this.badRequest(d, sender, reqId);
      return false;
    }
    const fault: FaultRecord = {
      flags: 0,
      pasid: d.pasid,
      grpid: d.prgIndex,
      perm:
        (d.read ? FaultPerm.READ : 0) |
        (d.write ? FaultPerm.WRITE : 0) |
        (d.execReq ? FaultPerm.EXEC : 0) |
        (d.privReq ? FaultPerm.PRIV : 0),
      addr: d.pageNum * 4096,
      privateData: 0,
      dev: view.dev,
      reqId,
    };
    if (d.lpig) fault.flags |= FaultFlag.LAST_PAGE;
    if (d.pasidPresent) fault.flags |= FaultFlag.PASID_VALID | FaultFlag.RESPONSE_NEEDS_PASID;
    if (this.legacy && d.privDataPresent) {
      // svm.c: private data needs a response like LPIG, so it is reported as last page.
      fault.flags |= FaultFlag.LAST_PAGE | FaultFlag.PRIV_DATA;
      fault.privateData = d.privateData[0];
    }
    this.driverStats.reports++;
    const canBlock = this.deps.reportFaultStep !== undefined;
    const r = canBlock
      ? this.deps.reportFaultStep!(view.dev, fault, { kind: this.kReportResumed, a: 0, b: 0 })
      : this.deps.reportFault(view.dev, fault);
    if (canBlock && r === REPORT_PENDING) {
      // Rare (v6.7 flush in progress): keep what the bad-request answer needs; the ring slot's
      // decode buffer is reused by the next entry.
      this.blockedReport = { d: { ...d, privateData: [...d.privateData] as typeof d.privateData }, sender, reqId };
      return true;
    }
    // svm.c answered a failed report itself (v6.7); mainline's core answers on its report path,
    // and so does the seed profile's core (mainline's report path + the seed's flush, reference
    // §0): answering here too would answer the group twice.
    if (this.driverAnswersErrors && r !== 0) this.badRequest(d, sender, reqId);
    return false;
  }

  /** handle_bad_prq_event(): answer Invalid when the request closes its group (or has private data). */
  private badRequest(d: VtdPageRequestDesc, dev: number, reqId: number): void {
    this.driverStats.bad_requests++;
    if (!d.lpig && !(this.legacy && d.privDataPresent)) return;
    const view = this.deps.device(dev);
    const withPasid = responseCarriesPasid(this.env, d.pasidPresent, view.responsePasidRequired);
    const r = this.respRec;
    r.rid = d.rid;
    r.pasidPresent = withPasid;
    r.privDataPresent = this.legacy && d.privDataPresent;
    r.respCode = PciRespCode.INVALID;
    r.pasid = d.pasid;
    r.lpig = d.lpig;
    r.prgIndex = d.prgIndex;
    const pd = r.privateData;
    pd[0] = r.privDataPresent ? d.privateData[0] : 0;
    pd[1] = r.privDataPresent ? d.privateData[1] : 0;
    pd[2] = r.privDataPresent ? d.privateData[2] : 0;
    pd[3] = r.privDataPresent ? d.privateData[3] : 0;
    this.driverStats.bad_responses++;
    this.submitResponse(dev, reqId, RespSource.DRIVER_CHECK);
  }

  /** qi_submit_sync of a page group response: encode, decode as hardware would, send. */
  private submitResponse(dev: number, group: number, source: number): void {
    encodePageGroupRespInto(this.respRec, this.qiBytes, 0);
    const q = decodePageGroupRespInto(this.qiBytes, 0, this.respDec);
    const msg: PrgResponseMsg = {
      dev,
      rid: q.rid,
      prgi: q.prgIndex,
      code: q.respCode,
      pasid: q.pasidPresent ? q.pasid : -1,
    };
    this.driverStats.responses++;
    this.env.tracer.emit(TraceKind.RESPONSE_SEND, dev, msg.pasid, msg.prgi, group, msg.code, source);
    // The invalidation queue executes descriptors in order: a response never overtakes an earlier one.
    const at = Math.max(this.env.sim.now + this.env.latency.response_ns.sample(this.rng), this.qiDoneAt);
    this.qiDoneAt = at;
    this.env.sim.at(at, this.kRespSend, dev, 0, msg, dev);
  }

  // ---------------------------------------------------------------------------------------------
  // page_response op (intel_iommu_page_response; svm.c intel_svm_page_response)
  // ---------------------------------------------------------------------------------------------

  pageResponse(dev: number, fault: FaultRecord, resp: PageResponse, source: number): KResult {
    const view = this.deps.device(dev);
    const pasidValid = (fault.flags & FaultFlag.PASID_VALID) !== 0;
    const lastPage = (fault.flags & FaultFlag.LAST_PAGE) !== 0;
    const privData = this.legacy && (fault.flags & FaultFlag.PRIV_DATA) !== 0;
    if (this.legacy) {
      if (!pasidValid) return err('EINVAL');
      if (fault.pasid === 0 || fault.pasid >= PASID_MAX) return err('EINVAL');
      // VT-d ch. 7.7: a response is due only for LPIG or private data.
      if (!lastPage && !privData) return 0;
    }
    const r = this.respRec;
    r.rid = view.rid;
    r.pasidPresent = responseCarriesPasid(this.env, pasidValid, view.responsePasidRequired);
    r.privDataPresent = privData;
    r.respCode = wireCode(resp.code, this.env.switches.has(VTD_BUG_RESP_CODE_RAW));
    r.pasid = pasidValid ? fault.pasid : 0;
    r.lpig = lastPage;
    r.prgIndex = fault.grpid;
    const pd = r.privateData;
    pd[0] = privData ? fault.privateData : 0;
    pd[1] = 0;
    pd[2] = 0;
    pd[3] = 0;
    this.submitResponse(dev, fault.reqId, source);
    return 0;
  }

  // ---------------------------------------------------------------------------------------------
  // intel_iommu_drain_pasid_prq
  // ---------------------------------------------------------------------------------------------

  drainPasid(dev: number, pasid: number, cont: Continuation): void {
    const view = this.deps.device(dev);
    const st: DrainState = {
      id: this.nextDrainId++,
      dev,
      pasid,
      rid: view.rid,
      cont,
      phase: DrainPhase.SCAN,
      iterations: 0,
      sentTarget: 0,
      flushResult: 0,
    };
    this.drains.set(st.id, st);
    this.driverStats.drains++;
    this.env.tracer.emit(TraceKind.DRAIN_BEGIN, dev, pasid, 0, 0, 0, 0);
    this.env.sim.after(0, this.kDrain, st.id, 0);
  }

  /** PQH moves only after a batch, so head → tail covers the entries the thread has in hand too. */
  holdsRequests(dev: number, pasid: number): boolean {
    return this.prqHolds({ rid: this.deps.device(dev).rid, pasid });
  }

  /** Whether the PRQ (head → tail) holds an entry of the drain's device and PASID. */
  private prqHolds(st: { readonly rid: number; readonly pasid: number }): boolean {
    const prq = this.prq;
    const rec = this.rec;
    for (let i = prq.head; i !== prq.tail; i = (i + 1) % prq.entries) {
      const d = decodePageRequestInto(prq.ring, prq.offsetOf(i), rec);
      if (d.rid !== st.rid) continue;
      if (d.pasidPresent ? d.pasid === st.pasid : st.pasid === -1) return true;
    }
    return false;
  }

  private drainStep(id: number, result: number): void {
    const st = this.drains.get(id);
    assert(st !== undefined, 'VtdIommu: drain step for an unknown drain');
    const cont: Continuation = { kind: this.kDrain, a: id, b: 0 };
    switch (st.phase) {
      case DrainPhase.SCAN:
        // Step 1 (prq_retry): wait until the thread consumed every entry of this PASID.
        this.prqComplete.reinit();
        if (this.prqHolds(st)) {
          this.prqComplete.wait(cont);
          return;
        }
        // Then the fault queue is flushed (mainline: iopf_queue_flush_dev(dev)).
        st.phase = DrainPhase.FLUSHED;
        this.deps.flushDev(st.dev, st.pasid, cont);
        return;
      case DrainPhase.FLUSHED:
        st.flushResult = result;
        st.phase = DrainPhase.SUBMIT;
        this.drainSubmit(st, cont);
        return;
      case DrainPhase.SUBMIT:
        // Woken after PRO was seen set: resubmit the batch (qi_retry).
        this.driverStats.drain_resubmits++;
        this.drainSubmit(st, cont);
        return;
      case DrainPhase.DEVTLB_DONE:
        // The device-TLB invalidation completed at the function; Page-Drain: every request the
        // function sent before that completion is written into the PRQ before the wait completes.
        st.sentTarget = this.deps.requestsSent?.(st.dev) ?? 0;
        if (this.prq.receivedFrom(st.dev) < st.sentTarget) {
          this.arrivalWaiters.push(st);
          return;
        }
        this.waitDescriptorDone(st);
        return;
      case DrainPhase.QI_DONE:
        if (this.prq.pro) {
          // VTD.DRAIN.RETRY_ON_OVERFLOW: requests may have been dropped; wait for the thread, retry.
          st.phase = DrainPhase.SUBMIT;
          this.prqComplete.wait(cont);
          return;
        }
        this.drains.delete(id);
        this.env.tracer.emit(TraceKind.DRAIN_END, st.dev, st.pasid, 0, 0, st.iterations, 0);
        this.env.sim.after(0, st.cont.kind, st.cont.a, 0, st.cont.payload);
        return;
    }
  }

  /** Step 2 (qi_retry): fence wait + PASID-IOTLB + device-TLB invalidation, then a Page-Drain wait. */
  private drainSubmit(st: DrainState, cont: Continuation): void {
    st.iterations++;
    this.prqComplete.reinit();
    // desc[0]: an invalidation wait with Fence (the driver's); qi_submit_sync appends its own
    // wait with Status Write and, for QI_OPT_WAIT_DRAIN, Page-Drain.
    const w = this.waitRec;
    w.interruptFlag = false;
    w.statusWrite = false;
    w.fence = true;
    w.pageDrain = false;
    w.statusData = 1;
    w.statusAddr = 0;
    encodeInvWaitInto(w, this.drainBatch, 0);
    w.statusWrite = true;
    w.fence = false;
    w.pageDrain = true;
    encodeInvWaitInto(w, this.drainBatch, 3 * VTD_DESC_SIZE);
    st.phase = DrainPhase.DEVTLB_DONE;
    if (this.deps.invalidateDevTlb !== undefined) this.deps.invalidateDevTlb(st.dev, st.pasid, cont);
    else this.env.sim.after(this.env.latency.response_ns.sample(this.rng), this.kDrain, st.id, 0);
  }

  private waitDescriptorDone(st: DrainState): void {
    st.phase = DrainPhase.QI_DONE;
    this.env.sim.after(this.env.latency.response_ns.sample(this.rng), this.kDrain, st.id, 0);
  }

  private checkArrivals(): void {
    for (let i = 0; i < this.arrivalWaiters.length;) {
      const st = this.arrivalWaiters[i]!;
      if (this.prq.receivedFrom(st.dev) >= st.sentTarget) {
        this.arrivalWaiters.splice(i, 1);
        this.waitDescriptorDone(st);
      } else i++;
    }
  }

  stats(): Record<string, number> {
    return {
      ...this.prq.stats,
      ...this.driverStats,
      prq_depth: this.prq.depth,
      prq_entries: this.prq.entries,
    };
  }
}
