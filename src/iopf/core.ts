/**
 * The iopf core, after drivers/iommu/io-pgfault.c (reference linux-iopf §2–§6). Which kernel it is
 * comes from the run's behaviour switches (src/scenario/profiles.ts, `iopf list profiles`):
 *
 * | behaviour              | node form (reference, mainline, seed)            | pending copies (v6.9, v6.7)               |
 * |------------------------|--------------------------------------------------|-------------------------------------------|
 * | report, no handler     | core answers INVALID (§3 step 2): the last       | partials go on the list; the last fault   |
 * |                        | request, every request with bug                  | frees its grpid's partials, -EINVAL; the  |
 * |                        | error-response-per-request                       | *driver* answers (VT-d: last page only)   |
 * |                        |                                                  | v6.7 (lookup-in-work): no lookup at       |
 * |                        |                                                  | report; the work answers INVALID          |
 * | report, no memory      | non-last lost (-ENOMEM); last → abort group,     | -ENOMEM (group: grpid partials freed);    |
 * |                        | answered FAILURE                                 | the driver answers                        |
 * | pending list           | the group's own node; response = unlink it       | copies of the last fault; a response      |
 * |                        | (at most once, late response is a no-op)         | searches by grpid (+PASID if needed),     |
 * |                        |                                                  | "no pending PRQ" → -EINVAL                |
 * | remove_device          | answers pending INVALID, frees partials          | v6.9: -EBUSY while anything is pending;   |
 * |                        |                                                  | v6.7: frees partials, pending copies stay |
 * | flush                  | reference/seed: flush_workqueue + the PASID's    | flush_workqueue (v6.7: under              |
 * |                        | partials freed, pending answered INVALID;        | dev->iommu->lock, reports wait for it)    |
 * |                        | mainline: flush_workqueue only                   |                                           |
 *
 * Bug switches (src/scenario/bugs.ts) read here:
 * - error-response-per-request: mainline's step 2 answers every request, non-last ones included
 *   (observation a). Off: only the last request of a group gets the error response.
 * - flush-ignores-pasid / form flush-workqueue-only: flush is only flush_workqueue().
 * - flush-partial-stops-early: the seed's partial walk as posted (stops at another PASID).
 * - no-pending-warning-response: a late group response is -EINVAL in the node form too.
 * - remove-frees-live-group: remove_device frees the groups it answers although their handler
 *   still holds them (mainline as read); removeDeviceStep() then also skips waiting for handlers.
 * - gather-ignores-pasid: partial faults are matched by grpid alone (every kernel as read): a group
 *   gathers another PASID's partials of its PRG index, and a PRG answered at report time leaves
 *   its partials listed (observation b). Off: a PRG is (PASID, PRG index).
 *
 * Concurrency: every kernel section under a mutex is one atomic model step unless it waits.
 * No section of iopf_param->lock waits, so reports never block on it. Only v6.7's flush holds
 * dev->iommu->lock across flush_workqueue(); a report meeting that must wait:
 * `reportDeviceFaultStep()` returns REPORT_PENDING and finishes through its continuation.
 */
import { assert } from '../sim/assert.js';
import { err, type KResult } from '../sim/errno.js';
import { Mutex, Workqueue, type Continuation } from '../sim/sync.js';
import type { ModelEnv } from '../env/env.js';
import { PartialFree, PrFlag, RespSource, TraceKind } from '../trace/events.js';
import type { IommuDriverOps } from './driver-ops.js';
import { Forms, type ProfileName } from '../scenario/profiles.js';
import { FaultParam, IopfQueue } from './fault-param.js';
import { IopfGroup, UNRESOLVED_HANDLE, type AttachHandle, type GroupWork } from './group.js';
import { FaultFlag, FaultPerm, RespCode, type FaultRecord, type PageResponse, type RespCodeValue } from './types.js';

export { IopfQueue, FaultParam } from './fault-param.js';
export { IopfGroup } from './group.js';
export type { AttachHandle, IopfDomain, GroupWork } from './group.js';

/** A kernel profile name (src/scenario/profiles.ts). */
export type KernelProfile = ProfileName;

/**
 * What flushDev() does after flush_workqueue():
 * - 'seed': the seed's iopf_queue_flush_dev(dev, pasid) (§5): under the device's lock free the
 *   PASID's partial faults and answer its pending groups INVALID (stop at a driver error).
 * - 'workqueue': nothing more — mainline's own iopf_queue_flush_dev(dev) and the pre-seed one
 *   (bug flush-ignores-pasid). Mainline relies on the groups' owners (iommufd auto-response,
 *   remove_device) to answer leftovers, and leaves stale partials of the PASID on the list.
 */
export type FlushSemantics = 'seed' | 'workqueue';

export interface IopfCoreOptions {
  /** Default: env.scenario.kernel. */
  profile?: KernelProfile;
  /** Default: 'workqueue' with form flush-workqueue-only or bug flush-ignores-pasid, else 'seed'. */
  flushSemantics?: FlushSemantics;
  /** §3 step 2 answers non-last requests too. Default: bug error-response-per-request. */
  errorResponsePerRequest?: boolean;
}

/** RESPONSE_SEND code of a late response attempt the core ignored (below every -errno; the
 * checker's LATE_IGNORED). */
export const LATE_IGNORED = -4096;

/** reportDeviceFaultStep(): the report waits for a lock; the result comes through the continuation. */
export const REPORT_PENDING = 1;

/** Extra bits in FAULT_REPORT.flags beyond PrFlag. */
export const ReportFlag = {
  /** Driver contract breach: a fault of a PASID reported after flushDev(dev, pasid) began (§5). */
  AFTER_FLUSH: 64,
} as const;

/** Counters for invariants (conservation: reported = answered + dropped + pending faults). */
export interface CoreStats {
  /** Faults that entered reportDeviceFault's body. */
  reported: number;
  /** Faults answered: error responses (1 each) + every fault of a group whose pending entry was
   * answered (group response, abort, flush, remove). */
  answeredFaults: number;
  /** Faults freed or lost without a response from the core. */
  droppedFaults: number;
  groupsFormed: number;
  abortedGroups: number;
  errorResponses: number;
  contractBreaches: number;
  /** Responses for groups whose pending entry was gone (no-op in mainline). */
  lateResponses: number;
  /** Use of a group freed by remove_device (bug remove-frees-live-group only). */
  useAfterFree: number;
}

interface DevState {
  readonly dev: number;
  ops: IommuDriverOps | null;
  /** Published fault parameters (dev->iommu->fault_param). */
  param: FaultParam | null;
  readonly handles: Map<number, AttachHandle>;
  noPasid: AttachHandle | null;
  /** PASIDs the driver promised to stop (flushDev began), until attached again. */
  readonly stopped: Set<number>;
  /** dev->iommu->lock: v6.7 holds it across report and across flush_workqueue in flush. */
  readonly devIommuLock: Mutex;
  userPasidTable: boolean;
}

interface FlushOp {
  ds: DevState;
  pasid: number;
  cont: Continuation;
  actor: number;
  param: FaultParam | null;
  holdsRef: boolean;
}

interface ReportOp {
  ds: DevState;
  fault: FaultRecord;
  cont: Continuation;
  actor: number;
}

interface RemoveOp {
  q: IopfQueue;
  dev: number;
  cont: Continuation;
}

/** list_del of entry i, without the array splice() allocates for its return value (hot path). */
function removeAt(a: unknown[], i: number): void {
  const n = a.length - 1;
  for (let j = i; j < n; j++) a[j] = a[j + 1]!;
  a.length = n;
}

function pasidOf(f: FaultRecord): number {
  return (f.flags & FaultFlag.PASID_VALID) !== 0 ? f.pasid : -1;
}

/** PrFlag encoding of a fault record (trace flags). */
export function prFlagsOf(f: FaultRecord): number {
  let x = 0;
  if ((f.perm & FaultPerm.READ) !== 0) x |= PrFlag.READ;
  if ((f.perm & FaultPerm.WRITE) !== 0) x |= PrFlag.WRITE;
  if ((f.flags & FaultFlag.LAST_PAGE) !== 0) x |= PrFlag.LAST;
  if ((f.perm & FaultPerm.EXEC) !== 0) x |= PrFlag.EXEC;
  if ((f.perm & FaultPerm.PRIV) !== 0) x |= PrFlag.PRIV;
  if ((f.flags & FaultFlag.PASID_VALID) !== 0) x |= PrFlag.PASID;
  return x;
}

export class IopfCore implements GroupWork {
  readonly profile: KernelProfile;
  readonly flushSemantics: FlushSemantics;
  readonly errorResponsePerRequest: boolean;
  /** False with form driver-answers-report-errors (v6.9, v6.7): on a non-zero report result the
   * driver must answer a last request itself. */
  readonly reportAnswersErrors: boolean;
  /** Form pending-copies (v6.9, v6.7): copies of last faults on the pending list, responses by search. */
  readonly pendingCopies: boolean;
  /** Form lookup-in-work (v6.7): the domain is looked up by the work, not at report. */
  readonly lookupInWork: boolean;
  /** Form flush-under-dev-lock (v6.7). */
  readonly flushUnderDevLock: boolean;
  /** Form remove-busy-while-pending (v6.9). */
  readonly removeBusyWhilePending: boolean;
  readonly stats: CoreStats = {
    reported: 0,
    answeredFaults: 0,
    droppedFaults: 0,
    groupsFormed: 0,
    abortedGroups: 0,
    errorResponses: 0,
    contractBreaches: 0,
    lateResponses: 0,
    useAfterFree: 0,
  };

  private readonly devs = new Map<number, DevState>();
  private readonly queues: IopfQueue[] = [];
  private nextActor = 1;
  private readonly bugPartialStopsEarly: boolean;
  private readonly bugLateResponseError: boolean;
  private readonly bugRemoveFreesLive: boolean;
  private readonly bugGatherIgnoresPasid: boolean;
  private readonly kFlushWorkqueueReturned: number;
  private readonly kFlushIopfParamLocked: number;
  private readonly kFlushDevIommuLocked: number;
  private readonly kReportResume: number;
  private readonly kRemoveAfterFlush: number;

  constructor(
    private readonly env: ModelEnv,
    opts: IopfCoreOptions = {},
  ) {
    const bugs = env.switches;
    this.profile = opts.profile ?? env.scenario.kernel;
    this.flushSemantics =
      opts.flushSemantics ??
      (bugs.has(Forms.FLUSH_WORKQUEUE_ONLY) || bugs.has('flush-ignores-pasid') ? 'workqueue' : 'seed');
    this.errorResponsePerRequest = opts.errorResponsePerRequest ?? bugs.has('error-response-per-request');
    this.reportAnswersErrors = !bugs.has(Forms.DRIVER_ANSWERS_REPORT_ERRORS);
    this.pendingCopies = bugs.has(Forms.PENDING_COPIES);
    this.lookupInWork = bugs.has(Forms.LOOKUP_IN_WORK);
    this.flushUnderDevLock = bugs.has(Forms.FLUSH_UNDER_DEV_LOCK);
    this.removeBusyWhilePending = bugs.has(Forms.REMOVE_BUSY_WHILE_PENDING);
    this.bugPartialStopsEarly = bugs.has('flush-partial-stops-early');
    this.bugLateResponseError = bugs.has('no-pending-warning-response');
    this.bugRemoveFreesLive = bugs.has('remove-frees-live-group');
    this.bugGatherIgnoresPasid = bugs.has('gather-ignores-pasid');
    const sim = env.sim;
    this.kFlushWorkqueueReturned = sim.registerKind('iopf:flush_workqueue-returned', (_a, _b, p) => {
      this.flushWorkqueueReturned(p as FlushOp);
    });
    this.kFlushIopfParamLocked = sim.registerKind('iopf:iopf_param->lock-taken', (_a, _b, p) => {
      this.flushIopfParamLocked(p as FlushOp);
    });
    this.kFlushDevIommuLocked = sim.registerKind('iopf:dev->iommu->lock-taken', (_a, _b, p) => {
      this.flushDevIommuLocked(p as FlushOp);
    });
    this.kReportResume = sim.registerKind('iopf:report-resume', (_a, _b, p) => {
      this.reportResume(p as ReportOp);
    });
    this.kRemoveAfterFlush = sim.registerKind('iopf:remove-after-flush', (_a, _b, p) => {
      const op = p as RemoveOp;
      // flush_workqueue() waits only for work queued before it: a group reported while it waited
      // (the device's last requests still arriving) may have its work queued or running now. The
      // careful caller turns PRI reception off and drains before removing (the kernel-doc of
      // iopf_queue_remove_device); the model's caller waits again until no handler holds a group
      // of the device (CORE.REMOVE.NO_LIVE_GROUP), then removes in the same step.
      const param = this.devs.get(op.dev)?.param ?? null;
      if (param !== null && param.pending.some((g) => g.work !== null) && !op.q.wq.flush({ kind: this.kRemoveAfterFlush, a: 0, b: 0, payload: op })) return;
      this.complete(op.cont, this.removeDevice(op.q, op.dev));
    });
  }

  // ---- queues and devices (§6) -------------------------------------------------------------------

  /** iopf_queue_alloc(name): a queue with its unbound workqueue of `workers` workers. */
  queueAlloc(name: string, workers: number = this.env.scenario.iopf.workers): IopfQueue {
    const wq = new Workqueue(
      this.env.sim,
      `iopf_queue/${name}`,
      workers,
      this.env.latency.wq_dispatch_ns,
      this.env.stream(`iopf_queue/${name}`),
    );
    const q = new IopfQueue(this.queues.length, name, wq);
    this.queues.push(q);
    return q;
  }

  /** iopf_queue_free(): removes the remaining devices; the workqueue must be idle (destroy_workqueue). */
  queueFree(q: IopfQueue): void {
    assert(!q.freed, 'queueFree: queue freed twice');
    for (const p of [...q.devices]) this.removeDevice(q, p.dev);
    assert(q.wq.busy === 0 && q.wq.queued === 0, 'queueFree: work still queued (caller must flush first)');
    q.freed = true;
  }

  /** The driver of a device (dev_iommu_ops); addDevice sets it too. Needed for error responses of
   * devices that never registered fault parameters. */
  setDriverOps(dev: number, ops: IommuDriverOps): void {
    this.state(dev).ops = ops;
  }

  /** ops->user_pasid_table: PASID faults without a PASID handle go to a nested no-PASID domain. */
  setUserPasidTable(dev: number, on: boolean): void {
    this.state(dev).userPasidTable = on;
  }

  /** iopf_queue_add_device(): -EBUSY if the device already has fault parameters. */
  addDevice(q: IopfQueue, dev: number, ops: IommuDriverOps): KResult {
    assert(!q.freed, 'addDevice: queue is freed');
    const ds = this.state(dev);
    ds.ops = ops;
    let rc: KResult = 0;
    if (ds.param !== null) rc = err('EBUSY');
    else {
      const p = new FaultParam(this.env.sim, dev, q);
      q.devices.unshift(p);
      ds.param = p;
    }
    this.env.tracer.emit(TraceKind.DEVICE_ADD, dev, -1, -1, -1, rc, 0);
    return rc;
  }

  /**
   * iopf_queue_remove_device() as one atomic step (§6). Mainline/seed: frees partials (no
   * response), answers every pending group INVALID (source REMOVE) and unlinks it, unpublishes,
   * drops the registration reference. A group whose handler still holds it stays alive and is
   * freed by its handler — except with bug remove-frees-live-group, where it is freed here and
   * the handler's later use is counted as a use after free. Form remove-busy-while-pending (v6.9):
   * -EBUSY while anything is pending. v6.7 (pending copies without that check): partials freed,
   * pending copies left in place, unanswered.
   * Returns -ENODEV (not registered) / -EINVAL (other queue) where mainline only warns.
   */
  removeDevice(q: IopfQueue, dev: number): KResult {
    const ds = this.devs.get(dev);
    const param = ds?.param ?? null;
    if (ds === undefined || param === null) {
      this.env.metrics.add('iopf.warn.remove_unregistered');
      return err('ENODEV');
    }
    if (param.queue !== q) {
      this.env.metrics.add('iopf.warn.remove_unregistered');
      return err('EINVAL');
    }
    this.assertLockFree(param);
    if (this.removeBusyWhilePending && param.pending.length > 0) return err('EBUSY');
    this.freeAllPartials(param, PartialFree.REMOVE);
    if (!this.pendingCopies) {
      const pend = param.pending;
      // Kernel list order: the pending list is head-inserted in mainline, so newest first.
      for (let i = pend.length - 1; i >= 0; i--) {
        const g = pend[i]!;
        this.sendResponse(g.param, g.lastFault, RespCode.INVALID, RespSource.REMOVE);
        g.pendingLinked = false;
        this.stats.answeredFaults += g.faults.length;
        if (this.bugRemoveFreesLive) this.releaseGroup(g);
      }
      pend.length = 0;
    }
    // v6.7 (pending copies, no pending check): the copies live in dev->iommu->fault_param, which
    // iommu_unregister_device_fault_handler() refuses to free while any is left (-EBUSY, which
    // VT-d only WARNs about): they stay, unanswered, and a handler's later response still finds
    // its copy and goes out.
    const qi = q.devices.indexOf(param);
    if (qi >= 0) q.devices.splice(qi, 1);
    param.published = false;
    ds.param = null;
    this.env.tracer.emit(TraceKind.DEVICE_REMOVE, dev, -1, -1, -1, 0, 0);
    param.put();
    return 0;
  }

  /**
   * Remove as a careful driver does it: wait for the queue's handlers (flush_workqueue) so no
   * handler holds a group of the device, then removeDevice(). With bug remove-frees-live-group the
   * wait is skipped (the race of rule CORE.REMOVE.NO_LIVE_GROUP). Completes via `cont` (b = result).
   */
  removeDeviceStep(q: IopfQueue, dev: number, cont: Continuation): void {
    if (this.bugRemoveFreesLive) {
      this.complete(cont, this.removeDevice(q, dev));
      return;
    }
    const op: RemoveOp = { q, dev, cont };
    if (q.wq.flush({ kind: this.kRemoveAfterFlush, a: 0, b: 0, payload: op })) {
      this.complete(cont, this.removeDevice(q, dev));
    }
  }

  /** iopf_queue_discard_partial() (§6): frees every partial fault of every device, no responses. */
  discardPartial(q: IopfQueue | null): KResult {
    if (q === null) return err('EINVAL');
    let count = 0;
    for (const p of q.devices) {
      this.assertLockFree(p);
      count += this.freeAllPartials(p, PartialFree.DISCARD);
    }
    this.env.tracer.emit(TraceKind.DISCARD_PARTIAL, -1, -1, -1, -1, q.id, count);
    return 0;
  }

  // ---- attachments -----------------------------------------------------------------------------

  /** Attach `handle` to (dev, pasid) (-1: without PASID). -EBUSY if something is attached there.
   * Attaching a PASID ends the driver's "stopped" promise for it (a new user may fault). */
  attach(dev: number, pasid: number, handle: AttachHandle): KResult {
    const ds = this.state(dev);
    if (pasid < 0) {
      if (ds.noPasid !== null) return err('EBUSY');
      ds.noPasid = handle;
      return 0;
    }
    if (ds.handles.has(pasid)) return err('EBUSY');
    ds.handles.set(pasid, handle);
    ds.stopped.delete(pasid);
    return 0;
  }

  /** Detach what is attached to (dev, pasid); returns it (undefined if nothing was). */
  detach(dev: number, pasid: number): AttachHandle | undefined {
    const ds = this.devs.get(dev);
    if (ds === undefined) return undefined;
    if (pasid < 0) {
      const h = ds.noPasid ?? undefined;
      ds.noPasid = null;
      return h;
    }
    const h = ds.handles.get(pasid);
    ds.handles.delete(pasid);
    return h;
  }

  attached(dev: number, pasid: number): AttachHandle | undefined {
    const ds = this.devs.get(dev);
    if (ds === undefined) return undefined;
    return pasid < 0 ? (ds.noPasid ?? undefined) : ds.handles.get(pasid);
  }

  // ---- reporting (§3) --------------------------------------------------------------------------

  /** Whether a report can run now as one atomic step (false only in v6.7 during a flush). */
  canReport(dev: number): boolean {
    const ds = this.devs.get(dev);
    return ds === undefined || !ds.devIommuLock.held;
  }

  /**
   * iommu_report_device_fault() as one atomic step of the driver's queue thread. The core keeps
   * `fault` (no copy): hand a fresh record per report. Precondition: canReport(dev) — use
   * reportDeviceFaultStep() in a profile where the report may block.
   */
  reportDeviceFault(dev: number, fault: FaultRecord): KResult {
    const ds = this.state(dev);
    assert(!ds.devIommuLock.held, 'reportDeviceFault: device lock held, use reportDeviceFaultStep');
    return this.reportBody(ds, fault);
  }

  /**
   * Report that may block (v6.7: dev->iommu->lock held by a flush). Returns the result (<= 0) when
   * done now; REPORT_PENDING when it waits — then `cont` runs with b = result and the driver thread
   * must not report further faults until it does.
   */
  reportDeviceFaultStep(dev: number, fault: FaultRecord, cont: Continuation): number {
    const ds = this.state(dev);
    if (!ds.devIommuLock.held) return this.reportBody(ds, fault);
    const op: ReportOp = { ds, fault, cont, actor: this.nextActor++ };
    const got = ds.devIommuLock.lock(op.actor, { kind: this.kReportResume, a: 0, b: 0, payload: op });
    assert(!got, 'reportDeviceFaultStep: lock state changed');
    this.env.metrics.add('iopf.report_blocked');
    return REPORT_PENDING;
  }

  private reportResume(op: ReportOp): void {
    const rc = this.reportBody(op.ds, op.fault);
    op.ds.devIommuLock.unlock(op.actor);
    this.complete(op.cont, rc);
  }

  private reportBody(ds: DevState, fault: FaultRecord): KResult {
    this.stats.reported++;
    let trFlags = prFlagsOf(fault);
    if ((fault.flags & FaultFlag.PASID_VALID) !== 0 && ds.stopped.has(fault.pasid)) {
      // The seed's contract: the driver stops a PASID's faults before flushing it. Record, the
      // checker flags it.
      this.stats.contractBreaches++;
      this.env.metrics.add('iopf.contract_breach');
      trFlags |= ReportFlag.AFTER_FLUSH;
    }
    const rc = this.pendingCopies ? this.reportCopies(ds, fault) : this.reportMainline(ds, fault);
    this.env.tracer.emit(TraceKind.FAULT_REPORT, ds.dev, pasidOf(fault), fault.grpid, fault.reqId, rc, trFlags);
    return rc;
  }

  /** §3, mainline (and seed): steps 1–7. */
  private reportMainline(ds: DevState, fault: FaultRecord): KResult {
    const handle = this.findHandle(ds, fault, true); // step 1
    if (handle === null) return this.badIopf(ds, fault); // step 2
    const param = this.getParam(ds); // step 3
    if (param === null) {
      this.env.metrics.add('iopf.warn.no_fault_param');
      return this.badIopf(ds, fault);
    }
    this.assertLockFree(param);
    if ((fault.flags & FaultFlag.LAST_PAGE) === 0) {
      // Step 4: a copy on the partial list (head in the kernel; arrival order here).
      if (this.allocFails()) {
        param.put();
        this.lostPartial(ds.dev, fault);
        return err('ENOMEM');
      }
      param.partial.push(fault);
      this.env.tracer.emit(TraceKind.PARTIAL_ADD, ds.dev, pasidOf(fault), fault.grpid, fault.reqId, 0, 0);
      param.put();
      return 0;
    }
    // Step 5: a group (or the on-stack abort group), partials of the same grpid, pending node.
    const aborted = this.allocFails();
    const group = new IopfGroup(ds.dev, fault, param, handle, aborted, this.env.sim.now);
    this.gather(param, group);
    group.pendingLinked = true;
    param.pending.push(group);
    this.formed(group);
    // Step 6/7.
    if (aborted) {
      this.abort(group);
      return 0;
    }
    const h = handle.domain.iopfHandler;
    assert(h !== undefined, 'report: handler vanished');
    if (h(group) !== 0) this.abort(group);
    return 0;
  }

  /** Pending copies (v6.9; v6.7 under dev->iommu->lock): iommu_report_device_fault + the queueing. */
  private reportCopies(ds: DevState, fault: FaultRecord): KResult {
    const param = ds.param;
    if (param === null) {
      this.stats.droppedFaults++;
      return err('EINVAL');
    }
    this.assertLockFree(param);
    const last = (fault.flags & FaultFlag.LAST_PAGE) !== 0;
    // The pending copy of a last fault is made first; failing it leaves the partials alone.
    if (last && this.allocFails()) {
      this.stats.droppedFaults++;
      return err('ENOMEM');
    }
    if (!last) {
      if (this.allocFails()) {
        this.lostPartial(ds.dev, fault);
        return err('ENOMEM');
      }
      param.partial.push(fault);
      this.env.tracer.emit(TraceKind.PARTIAL_ADD, ds.dev, pasidOf(fault), fault.grpid, fault.reqId, 0, 0);
      return 0;
    }
    // v6.7 (lookup-in-work): iommu_queue_iopf looks nothing up; the work will (iopfHandler()).
    const handle = this.lookupInWork ? UNRESOLVED_HANDLE : this.findHandle(ds, fault, false);
    if (handle === null) {
      this.env.metrics.add('iopf.warn.no_handler');
      this.cleanupPartial(param, fault, PartialFree.DISCARD);
      this.stats.droppedFaults++;
      return err('EINVAL');
    }
    if (this.allocFails()) {
      this.cleanupPartial(param, fault, PartialFree.ENOMEM);
      this.stats.droppedFaults++;
      return err('ENOMEM');
    }
    param.get();
    const group = new IopfGroup(ds.dev, fault, param, handle, false, this.env.sim.now);
    this.gather(param, group);
    group.pendingLinked = true;
    param.pending.push(group);
    this.formed(group);
    if (this.lookupInWork) {
      // queue_work(iopf_param->queue->wq, &group->work): every last request is queued.
      group.work = this;
      const queued = param.queue.wq.queueWork(group);
      assert(queued, 'report: a new group is already queued');
      return 0;
    }
    const h = handle.domain.iopfHandler;
    assert(h !== undefined, 'report: handler vanished');
    const rc = h(group);
    if (rc !== 0) {
      // The pending copy goes, the group is freed, the driver answers.
      this.unlink(group);
      this.stats.droppedFaults += group.faults.length;
      this.releaseGroup(group);
    }
    return rc;
  }

  /**
   * v6.7 iopf_handler(), the group's work: look the PASID's domain up now
   * (iommu_get_domain_for_dev_pasid). None, or one without a fault handler: INVALID through the
   * pending copy (iopf_complete_group → iommu_page_response), the group freed. Otherwise the
   * domain's handler runs in this work (SVA: iommu_sva_handle_iopf, fault by fault), against the
   * domain found now — not the one attached when the fault was reported.
   */
  runGroup(group: IopfGroup, worker: number): void {
    const wq = group.param.queue.wq;
    const handle = this.findHandle(this.state(group.dev), group.lastFault, false);
    if (handle === null) {
      this.env.metrics.add('iopf.work_no_domain');
      this.respond(group, RespCode.INVALID, RespSource.GROUP);
      this.freeGroup(group);
      wq.done(worker);
      return;
    }
    group.handle = handle;
    const inWork = handle.domain.work;
    if (inWork !== undefined) {
      group.work = inWork;
      inWork.runGroup(group, worker);
      return;
    }
    // A handler that only hands the group on (iommufd's queueing): the work ends, then it runs.
    wq.done(worker);
    const h = handle.domain.iopfHandler;
    assert(h !== undefined, 'iopf_handler: handler vanished');
    if (h(group) !== 0) {
      this.respond(group, RespCode.INVALID, RespSource.GROUP);
      this.freeGroup(group);
    }
  }

  /** find_fault_handler() / get_domain_for_iopf(): a handle whose domain has an iopf handler. */
  private findHandle(ds: DevState, fault: FaultRecord, nestedFallback: boolean): AttachHandle | null {
    let h: AttachHandle | null;
    if ((fault.flags & FaultFlag.PASID_VALID) !== 0) {
      h = ds.handles.get(fault.pasid) ?? null;
      if (h === null && nestedFallback && ds.userPasidTable && ds.noPasid?.domain.nested === true) h = ds.noPasid;
    } else h = ds.noPasid;
    if (h === null || h.domain.iopfHandler === undefined) return null;
    return h;
  }

  /** §3 steps 2/3: error response, -EINVAL. */
  private badIopf(ds: DevState, fault: FaultRecord): KResult {
    const last = (fault.flags & FaultFlag.LAST_PAGE) !== 0;
    if (last || this.errorResponsePerRequest) {
      assert(ds.ops !== null, 'report: device has no driver ops');
      const r: PageResponse = { pasid: fault.pasid, grpid: fault.grpid, code: RespCode.INVALID };
      ds.ops.pageResponse(ds.dev, fault, r, RespSource.REPORT_ERROR);
      this.stats.errorResponses++;
      this.stats.answeredFaults++;
      // The PRG is answered: partial faults listed for it (reported while the PASID still had a
      // handler, e.g. before a replace onto a domain without one) can never join a group. Every
      // kernel leaves them listed (bug gather-ignores-pasid), where a later group of the same PRG
      // index — of any PASID — gathers them (CORE.GROUP.ONE_PASID); the contract frees them with
      // the answer.
      if (last && !this.bugGatherIgnoresPasid && ds.param !== null) this.cleanupPartial(ds.param, fault, PartialFree.ANSWERED);
    } else {
      // Fixed variant: the group's last request answers the PRG once; this request is dropped.
      this.stats.droppedFaults++;
    }
    return err('EINVAL');
  }

  /** iopf_get_dev_fault_param(): a reference unless unpublished or already at zero. */
  private getParam(ds: DevState): FaultParam | null {
    const p = ds.param;
    if (p === null || !p.published || p.users === 0) return null;
    p.get();
    return p;
  }

  private allocFails(): boolean {
    return this.env.faultSite(this.env.scenario.faults.alloc_failure);
  }

  private lostPartial(dev: number, fault: FaultRecord): void {
    this.stats.droppedFaults++;
    this.env.metrics.add('iopf.enomem');
    this.env.tracer.emit(TraceKind.PARTIAL_FREE, dev, pasidOf(fault), fault.grpid, fault.reqId, PartialFree.ENOMEM, 0);
  }

  /** Move the partials of the last fault's PRG into the group, ahead of the last fault, in
   * arrival order. A PRG is a (PASID, PRG index) of the function: the contract compares both; every
   * kernel compares grpid only (bug gather-ignores-pasid, linux-iopf §3 step 5, observation b). */
  private gather(param: FaultParam, group: IopfGroup): void {
    const part = param.partial;
    if (part.length === 0) return;
    const grpid = group.lastFault.grpid;
    const pasid = pasidOf(group.lastFault);
    const anyPasid = this.bugGatherIgnoresPasid;
    const faults = group.faults;
    faults.pop();
    let w = 0;
    for (let i = 0; i < part.length; i++) {
      const f = part[i]!;
      if (f.grpid === grpid && (anyPasid || pasidOf(f) === pasid)) faults.push(f);
      else part[w++] = f;
    }
    part.length = w;
    faults.push(group.lastFault);
  }

  private formed(group: IopfGroup): void {
    this.stats.groupsFormed++;
    if (group.aborted) this.stats.abortedGroups++;
    const f = group.lastFault;
    this.env.tracer.emit(
      TraceKind.GROUP_FORM,
      group.dev,
      pasidOf(f),
      f.grpid,
      group.id,
      group.faults.length,
      group.aborted ? 1 : 0,
    );
  }

  /** §3 step 6: "iopf with pasid %d aborted", answered FAILURE, freed. */
  private abort(group: IopfGroup): void {
    this.env.metrics.add('iopf.warn.aborted');
    this.respond(group, RespCode.FAILURE, RespSource.ABORT);
    this.freeGroup(group);
  }

  /** The partials of the last fault's PRG go with it, freed for `reason` (grpid only under
   * gather-ignores-pasid, as the kernels match them): v6.7 iommu_queue_iopf's cleanup, and the
   * contract's answer at report time. */
  private cleanupPartial(param: FaultParam, last: FaultRecord, reason: number): void {
    const part = param.partial;
    const grpid = last.grpid;
    const pasid = pasidOf(last);
    const anyPasid = this.bugGatherIgnoresPasid;
    let w = 0;
    for (let i = 0; i < part.length; i++) {
      const f = part[i]!;
      if (f.grpid === grpid && (anyPasid || pasidOf(f) === pasid)) this.partialFreed(param.dev, f, reason);
      else part[w++] = f;
    }
    part.length = w;
  }

  private freeAllPartials(param: FaultParam, reason: number): number {
    const part = param.partial;
    // Kernel walk order: newest first.
    for (let i = part.length - 1; i >= 0; i--) this.partialFreed(param.dev, part[i]!, reason);
    const n = part.length;
    part.length = 0;
    return n;
  }

  private partialFreed(dev: number, f: FaultRecord, reason: number): void {
    this.stats.droppedFaults++;
    this.env.tracer.emit(TraceKind.PARTIAL_FREE, dev, pasidOf(f), f.grpid, f.reqId, reason, 0);
  }

  // ---- answering (§4) --------------------------------------------------------------------------

  /**
   * iopf_group_response(group, code). Mainline/seed: answers through the group's own pending node,
   * at most once; a late response is a no-op (0), or -EINVAL with bug no-pending-warning-response.
   * v6.7: searches the pending copies by grpid (and PASID when the fault needs one in the
   * response), answers the first match — possibly another group's — and -EINVAL when none matches.
   */
  groupResponse(group: IopfGroup, code: RespCodeValue, source: number = RespSource.GROUP): KResult {
    // `source` only labels the trace: iommufd's auto-responses (detach/replace/destroy) call
    // iopf_group_response() like a handler does, but they are not user space's answers.
    return this.respond(group, code, source);
  }

  private respond(group: IopfGroup, code: RespCodeValue, source: number): KResult {
    if (group.freed) {
      assert(this.bugRemoveFreesLive, 'groupResponse: group already freed');
      this.useAfterFree();
      return err('EINVAL');
    }
    const param = group.param;
    this.assertLockFree(param);
    if (this.pendingCopies) {
      const f = group.lastFault;
      const pend = param.pending;
      for (let i = 0; i < pend.length; i++) {
        const e = pend[i]!;
        const ef = e.lastFault;
        if (ef.grpid !== f.grpid) continue;
        const needsPasid = (ef.flags & FaultFlag.RESPONSE_NEEDS_PASID) !== 0;
        const hasPasid = (f.flags & FaultFlag.PASID_VALID) !== 0 && (f.flags & FaultFlag.RESPONSE_NEEDS_PASID) !== 0;
        if (needsPasid && (!hasPasid || f.pasid !== ef.pasid)) continue;
        removeAt(pend, i);
        e.pendingLinked = false;
        e.answered = true;
        this.stats.answeredFaults += e.faults.length;
        if (e !== group) this.env.metrics.add('iopf.response_matched_other_group');
        return this.sendResponse(param, ef, code, source, needsPasid ? f.pasid : 0, f.grpid);
      }
      this.stats.lateResponses++;
      this.env.metrics.add('iopf.warn.no_pending_prq');
      this.traceLate(group, source, err('EINVAL'));
      return err('EINVAL');
    }
    if (!group.pendingLinked) {
      this.stats.lateResponses++;
      if (this.bugLateResponseError) {
        this.env.metrics.add('iopf.warn.no_pending_prq');
        this.traceLate(group, source, err('EINVAL'));
        return err('EINVAL');
      }
      this.traceLate(group, source, LATE_IGNORED);
      return 0;
    }
    this.unlink(group);
    group.answered = true;
    this.stats.answeredFaults += group.faults.length;
    this.sendResponse(param, group.lastFault, code, source);
    return 0;
  }

  /** A response attempt for a group no longer pending: nothing goes on the wire; traced as
   * response_send with a negative code (the checker's convention, CORE.RESP.LATE_IS_NOT_ERROR):
   * LATE_IGNORED when the caller gets 0, -errno when it gets an error. */
  private traceLate(group: IopfGroup, source: number, code: number): void {
    const f = group.lastFault;
    // The trace names the 9-bit PCIe PRG index, as the drivers' responses do (AMD's grpid is its
    // 10-bit PPR tag under amd-grpid-last-bit: the last bit sits above the index).
    this.env.tracer.emit(TraceKind.RESPONSE_SEND, group.dev, pasidOf(f), f.grpid & 0x1ff, group.id, code, source);
  }

  /**
   * iopf_free_group(): drops the group's reference on the fault parameters. A handler must have
   * answered first (mainline); with bug remove-frees-live-group a second free is a use after free.
   */
  freeGroup(group: IopfGroup): void {
    if (group.freed) {
      assert(this.bugRemoveFreesLive, 'freeGroup: group freed twice');
      this.useAfterFree();
      return;
    }
    assert(!group.pendingLinked || this.pendingCopies, 'freeGroup: group freed while still pending');
    this.releaseGroup(group);
  }

  private releaseGroup(group: IopfGroup): void {
    group.freed = true;
    group.param.put();
  }

  private useAfterFree(): void {
    this.stats.useAfterFree++;
    this.env.metrics.add('iopf.use_after_free');
  }

  private unlink(group: IopfGroup): void {
    const pend = group.param.pending;
    // Usually the newest: search from the end.
    for (let i = pend.length - 1; i >= 0; i--) {
      if (pend[i] === group) {
        removeAt(pend, i);
        break;
      }
    }
    group.pendingLinked = false;
  }

  private sendResponse(
    param: FaultParam,
    fault: FaultRecord,
    code: RespCodeValue,
    source: number,
    pasid: number = fault.pasid,
    grpid: number = fault.grpid,
  ): KResult {
    const ds = this.devs.get(param.dev);
    assert(ds !== undefined && ds.ops !== null, 'response: device has no driver ops');
    // A fresh response per call: the driver may keep it (it becomes a PCIe message).
    const r: PageResponse = { pasid, grpid, code };
    return ds.ops.pageResponse(param.dev, fault, r, source);
  }

  // ---- flushing (§5) ---------------------------------------------------------------------------

  /**
   * iopf_queue_flush_dev(dev, pasid), a multi-step actor completing via `cont` (b = result):
   * FLUSH_BEGIN; (v6.7: take dev->iommu->lock, may wait); flush_workqueue (may wait); with 'seed'
   * semantics take the device's lock (may wait) and drop the PASID's partials, answer its pending
   * groups INVALID (source FLUSH, stop at the first driver error); FLUSH_END. -ENODEV without
   * fault parameters. From FLUSH_BEGIN on, a report of this PASID is a driver contract breach
   * until the PASID is attached again.
   */
  flushDev(dev: number, pasid: number, cont: Continuation): void {
    const ds = this.state(dev);
    this.env.tracer.emit(TraceKind.FLUSH_BEGIN, dev, pasid, -1, -1, 0, 0);
    if (pasid >= 0) ds.stopped.add(pasid);
    const op: FlushOp = { ds, pasid, cont, actor: this.nextActor++, param: null, holdsRef: false };
    if (this.flushUnderDevLock) {
      if (!ds.devIommuLock.lock(op.actor, { kind: this.kFlushDevIommuLocked, a: 0, b: 0, payload: op })) return;
    }
    this.flushDevIommuLocked(op);
  }

  /** Step 1, with dev->iommu->lock held (v6.7) or at once: find the fault parameters (-ENODEV
   * without), the seed's reference on them, then flush_workqueue(iopf_param->queue->wq). */
  private flushDevIommuLocked(op: FlushOp): void {
    const ds = op.ds;
    const param = ds.param;
    if (param === null) {
      this.env.metrics.add('iopf.warn.flush_no_param');
      this.flushDevReturn(op, err('ENODEV'));
      return;
    }
    op.param = param;
    if (this.flushSemantics === 'seed') {
      // The seed takes a reference for the whole flush.
      param.get();
      op.holdsRef = true;
    }
    if (param.queue.wq.flush({ kind: this.kFlushWorkqueueReturned, a: 0, b: 0, payload: op })) this.flushWorkqueueReturned(op);
  }

  /** Step 2, flush_workqueue() returned: the workqueue-only flush is done; the seed's takes
   * iopf_param->lock (may wait). */
  private flushWorkqueueReturned(op: FlushOp): void {
    if (this.flushSemantics === 'workqueue') {
      this.flushDevReturn(op, 0);
      return;
    }
    const param = op.param!;
    if (param.lock.lock(op.actor, { kind: this.kFlushIopfParamLocked, a: 0, b: 0, payload: op })) this.flushIopfParamLocked(op);
  }

  /** Step 3, iopf_param->lock held: free the PASID's partial faults, answer its pending groups
   * INVALID (stop at a driver error), unlock. */
  private flushIopfParamLocked(op: FlushOp): void {
    const param = op.param!;
    const pasid = op.pasid;
    // (a) partial faults of the PASID; kernel walk is newest first.
    const part = param.partial;
    let i = part.length - 1;
    for (; i >= 0; i--) {
      const f = part[i]!;
      if ((f.flags & FaultFlag.PASID_VALID) === 0 || f.pasid !== pasid) {
        if (this.bugPartialStopsEarly) break;
        continue;
      }
      part.splice(i, 1);
      this.partialFreed(param.dev, f, PartialFree.FLUSH);
    }
    // (b) pending groups of the PASID, INVALID, in the walk order of the profile's pending list;
    // stop at a driver error. The seed's list is its base's (copies added at the tail in
    // iommu_report_device_fault), walked oldest first, as are v6.9/v6.7's copies; group nodes
    // (reference, mainline) are head-inserted (iopf_group_alloc), so that walk is newest first.
    let rc: KResult = 0;
    const pend = param.pending;
    const newestFirst = !this.pendingCopies && this.profile !== 'seed';
    for (let k = 0; k < pend.length; ) {
      const idx = newestFirst ? pend.length - 1 - k : k;
      const g = pend[idx]!;
      const f = g.lastFault;
      if ((f.flags & FaultFlag.PASID_VALID) === 0 || f.pasid !== pasid) {
        k++;
        continue;
      }
      rc = this.sendResponse(param, f, RespCode.INVALID, RespSource.FLUSH);
      if (rc !== 0) break;
      pend.splice(idx, 1);
      g.pendingLinked = false;
      this.stats.answeredFaults += g.faults.length;
      if (!newestFirst) continue; // the next entry moved into idx
      // newest-first: removing idx shifts nothing below it; k stays and the next is pend.length-1-k.
    }
    param.lock.unlock(op.actor);
    this.flushDevReturn(op, rc);
  }

  /** Step 4, return: drop the reference (iopf_put_dev_fault_param), dev->iommu->lock (v6.7),
   * FLUSH_END, the caller's continuation. */
  private flushDevReturn(op: FlushOp, rc: KResult): void {
    if (op.holdsRef) op.param!.put();
    if (this.flushUnderDevLock) op.ds.devIommuLock.unlock(op.actor);
    this.env.tracer.emit(TraceKind.FLUSH_END, op.ds.dev, op.pasid, -1, -1, rc, 0);
    this.complete(op.cont, rc);
  }

  // ---- inspection (tests, checker glue) --------------------------------------------------------

  /** The device's published fault parameters. */
  faultParam(dev: number): FaultParam | null {
    return this.devs.get(dev)?.param ?? null;
  }

  partialFaults(dev: number): readonly FaultRecord[] {
    return this.devs.get(dev)?.param?.partial ?? [];
  }

  pendingGroups(dev: number): readonly IopfGroup[] {
    return this.devs.get(dev)?.param?.pending ?? [];
  }

  /** Faults the core still holds unanswered: partials + faults of linked groups. */
  pendingFaults(): number {
    let n = 0;
    for (const ds of this.devs.values()) {
      const p = ds.param;
      if (p === null) continue;
      n += p.partial.length;
      for (const g of p.pending) n += g.faults.length;
    }
    return n;
  }

  // ---- internals -------------------------------------------------------------------------------

  private state(dev: number): DevState {
    let ds = this.devs.get(dev);
    if (ds === undefined) {
      ds = {
        dev,
        ops: null,
        param: null,
        handles: new Map(),
        noPasid: null,
        stopped: new Set(),
        devIommuLock: new Mutex(this.env.sim, `dev->iommu->lock/${dev}`),
        userPasidTable: false,
      };
      this.devs.set(dev, ds);
    }
    return ds;
  }

  /** Sections under iopf_param->lock never wait in the model, so the lock is free between steps. */
  private assertLockFree(param: FaultParam): void {
    assert(!param.lock.held, 'iopf_param->lock held across steps');
    assert(!param.freed, 'fault parameters used after free');
  }

  private complete(cont: Continuation, rc: number): void {
    this.env.sim.after(0, cont.kind, cont.a, rc, cont.payload);
  }
}
