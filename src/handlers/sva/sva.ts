/**
 * SVA bind/unbind and the SVA iopf handler, after drivers/iommu/iommu-sva.c (reference
 * linux-iopf §7): one PASID per mm shared by every device bound to it; one SVA domain per mm
 * (holding mmgrab) shared by the devices; the domain's iopf handler queues the group on the fault
 * queue's workqueue, and the work resolves the faults in order against the mm captured in the
 * attach handle at report time, stopping at the first that is not SUCCESS.
 */
import type { AddressSpace } from '../../mm/address-space.js';
import type { IopfCore } from '../../iopf/core.js';
import type { AttachHandle, GroupWork, IopfDomain, IopfGroup } from '../../iopf/group.js';
import type { FaultRecord } from '../../iopf/types.js';
import { FaultFlag, RespCode } from '../../iopf/types.js';
import type { ModelEnv } from '../../env/env.js';
import { assert } from '../../sim/assert.js';
import { err, type KResult } from '../../sim/errno.js';
import { Latency } from '../../sim/latency.js';
import type { Rng } from '../../sim/random.js';
import { Mutex, type Continuation } from '../../sim/sync.js';
import { HandlerType, TraceKind } from '../../trace/events.js';
import { packedCode, packedMajor, resolveFaultDetailed, resolveFaultPacked, type ResolveResult } from './resolve.js';
import type { SvaMmPasids } from './pasid-allocator.js';

export interface SvaDeps {
  readonly core: IopfCore;
  readonly pasids: SvaMmPasids;
  /** dev->iommu->max_pasids (1 << PASID width, capped by the IOMMU). */
  maxPasids(dev: number): number;
  /**
   * The driver's teardown of a PASID on a device (VT-d intel_drain_pasid_prq, which ends with
   * the iopf flush): completes via `cont` (b = result). Usually `frontend.drainPasid`.
   */
  drain(dev: number, pasid: number, cont: Continuation): void;
  /** Observer (tests, checker glue): a fault of `group` was resolved against `mm`. */
  onResolve?: ((group: IopfGroup, fault: FaultRecord, mm: AddressSpace | null, r: ResolveResult) => void) | undefined;
}

/** The SVA domain of an mm (iommu_sva_domain_alloc: holds an mm_count reference). */
export class SvaDomain implements IopfDomain {
  readonly type = 'sva';
  /** Devices attached (the domain is freed when the last one goes). */
  users = 0;
  readonly iopfHandler: (group: IopfGroup) => KResult;
  /** v6.7: the core's iopf_handler work runs the SVA resolution itself. */
  readonly work: GroupWork;
  constructor(
    readonly id: number,
    readonly mm: AddressSpace,
    sva: Sva,
  ) {
    this.iopfHandler = (group) => sva.handleIopf(group);
    this.work = sva;
  }
}

interface Bond {
  readonly dev: number;
  readonly mm: AddressSpace;
  readonly pasid: number;
  readonly domain: SvaDomain;
  readonly handle: AttachHandle;
  refs: number;
  /** Last unbind in progress (drain running). */
  dying: boolean;
}

interface UnbindOp {
  readonly dev: number;
  readonly mm: AddressSpace;
  readonly cont: Continuation;
  /** Holder id of iommu_sva_lock. */
  readonly actor: number;
  bond: Bond | undefined;
}

interface BindOp {
  readonly dev: number;
  readonly mm: AddressSpace;
  readonly cont: Continuation;
  readonly actor: number;
}

export type BindResult = { pasid: number } | KResult;

export class Sva implements GroupWork {
  private readonly bonds = new Map<AddressSpace, Map<number, Bond>>();
  private readonly domains = new Map<AddressSpace, SvaDomain>();
  private readonly freeHooked = new Set<AddressSpace>();
  private nextDomainId = 1;
  private nextHandleId = 1;
  private readonly rng: Rng;
  private readonly slowNs: Latency;
  private readonly kStep: number;
  private readonly kUnbindDrained: number;
  private readonly kUnbindLocked: number;
  private readonly kBindLocked: number;
  /**
   * iommu_sva_lock: one global mutex. iommu_sva_unbind_device() holds it across the whole detach
   * (the driver's drain and flush included), so every bind and unbind — of any device and mm —
   * waits for an unbind in progress.
   */
  readonly lock: Mutex;
  private nextActor = 1;

  constructor(
    private readonly env: ModelEnv,
    private readonly deps: SvaDeps,
  ) {
    this.rng = env.stream('sva');
    this.slowNs = new Latency(env.scenario.faults.slow_handler_ns);
    this.kStep = env.sim.registerKind('sva:fault-step', (_a, _b, p) => {
      this.step(p as IopfGroup);
    });
    this.kUnbindDrained = env.sim.registerKind('sva:unbind-drained', (_a, b, p) => {
      this.unbindDrained(p as UnbindOp, b);
    });
    this.kUnbindLocked = env.sim.registerKind('sva:unbind-locked', (_a, _b, p) => {
      this.unbindLocked(p as UnbindOp);
    });
    this.kBindLocked = env.sim.registerKind('sva:bind-locked', (_a, _b, p) => {
      const op = p as BindOp;
      const r = this.bind(op.dev, op.mm);
      this.lock.unlock(op.actor);
      this.complete(op.cont, typeof r === 'number' ? r : r.pasid);
    });
    this.lock = new Mutex(env.sim, 'iommu_sva_lock');
  }

  // ---- bind / unbind ---------------------------------------------------------------------------

  /**
   * iommu_sva_bind_device(dev, mm) as one step under iommu_sva_lock: returns the result now
   * (BindResult) when the lock is free, or undefined when an unbind holds it — then the bind runs
   * when the lock comes free and `cont` gets b = the PASID or -errno. There is no -EBUSY for an
   * unbind in progress: the bind waits for it and then binds anew.
   */
  bindStep(dev: number, mm: AddressSpace, cont: Continuation): BindResult | undefined {
    const op: BindOp = { dev, mm, cont, actor: this.nextActor++ };
    if (!this.lock.lock(op.actor, { kind: this.kBindLocked, a: 0, b: 0, payload: op })) return undefined;
    const r = this.bind(dev, mm);
    this.lock.unlock(op.actor);
    return r;
  }

  /**
   * The body of iommu_sva_bind_device(dev, mm), iommu_sva_lock held or free (a caller that may
   * meet an unbind uses bindStep()): the mm's PASID. Same device and mm again takes a reference.
   * -EOVERFLOW: the mm's PASID does not fit the device; -ENOSPC: allocator exhausted; -EINVAL:
   * the mm is exiting (the kernel binds current->mm, which cannot be).
   */
  bind(dev: number, mm: AddressSpace): BindResult {
    const tr = this.env.tracer;
    const existing = this.bonds.get(mm)?.get(dev);
    if (existing !== undefined) {
      // A dying bond lives only while its unbind holds iommu_sva_lock.
      assert(!existing.dying, 'sva bind: a last unbind of this pair is in progress (wait on iommu_sva_lock: bindStep)');
      existing.refs++;
      tr.emit(TraceKind.BIND, dev, existing.pasid, -1, mm.id, 0, 0);
      return { pasid: existing.pasid };
    }
    if (mm.isExiting) return this.bindFailed(dev, mm, err('EINVAL'));
    const pasid = this.deps.pasids.assign(mm, this.deps.maxPasids(dev));
    if (pasid < 0) return this.bindFailed(dev, mm, pasid as KResult);
    if (!this.freeHooked.has(mm)) {
      // Registered after SvaMmPasids' own listener, so the PASID is back in the allocator first.
      this.freeHooked.add(mm);
      mm.onFree(() => {
        this.freeHooked.delete(mm);
        this.env.tracer.emit(TraceKind.PASID_FREE, -1, pasid, -1, mm.id, 0, 0);
      });
    }
    let domain = this.domains.get(mm);
    if (domain === undefined) {
      domain = new SvaDomain(this.nextDomainId++, mm, this);
      mm.grab();
      this.domains.set(mm, domain);
    }
    domain.users++;
    const handle: AttachHandle = { id: this.nextHandleId++, domain, mm, devId: dev };
    const rc = this.deps.core.attach(dev, pasid, handle);
    if (rc !== 0) {
      this.putDomain(domain);
      return this.bindFailed(dev, mm, rc);
    }
    let perMm = this.bonds.get(mm);
    if (perMm === undefined) {
      perMm = new Map();
      this.bonds.set(mm, perMm);
    }
    perMm.set(dev, { dev, mm, pasid, domain, handle, refs: 1, dying: false });
    tr.emit(TraceKind.BIND, dev, pasid, -1, mm.id, 0, 0);
    return { pasid };
  }

  private bindFailed(dev: number, mm: AddressSpace, rc: KResult): KResult {
    this.env.tracer.emit(TraceKind.BIND, dev, -1, -1, mm.id, rc, 0);
    return rc;
  }

  /**
   * iommu_sva_unbind_device(): takes iommu_sva_lock (may wait) and drops a reference; the last one
   * tears the attachment down in steps, the lock held throughout: iommu_detach_device_pasid() →
   * the driver's remove_dev_pasid (its PASID table entry goes first, then the drain of the PASID's
   * page requests and the fault queue's flush: deps.drain) while the handle is still attached —
   * the core erases the handle only after the driver returns —, then the handle is detached, the
   * domain loses a user (freed with the last, dropping its mm reference: the mm may be freed,
   * returning its PASID: PASID_FREE), UNBIND, unlock. Completes via `cont` (b = 0, or -EINVAL if
   * the pair is not bound).
   */
  unbind(dev: number, mm: AddressSpace, cont: Continuation): void {
    const op: UnbindOp = { dev, mm, cont, actor: this.nextActor++, bond: undefined };
    if (!this.lock.lock(op.actor, { kind: this.kUnbindLocked, a: 0, b: 0, payload: op })) return;
    this.unbindLocked(op);
  }

  private unbindLocked(op: UnbindOp): void {
    const bond = this.bonds.get(op.mm)?.get(op.dev);
    if (bond === undefined) {
      this.lock.unlock(op.actor);
      this.complete(op.cont, err('EINVAL'));
      return;
    }
    assert(!bond.dying, 'sva unbind: two last unbinds of one bond under iommu_sva_lock');
    if (--bond.refs > 0) {
      this.lock.unlock(op.actor);
      this.complete(op.cont, 0);
      return;
    }
    bond.dying = true;
    op.bond = bond;
    this.deps.drain(op.dev, bond.pasid, { kind: this.kUnbindDrained, a: 0, b: 0, payload: op });
  }

  private unbindDrained(op: UnbindOp, _drainResult: number): void {
    const b = op.bond!;
    const h = this.deps.core.detach(b.dev, b.pasid);
    assert(h === b.handle, 'unbind: another handle on the PASID');
    const perMm = this.bonds.get(b.mm)!;
    perMm.delete(b.dev);
    if (perMm.size === 0) this.bonds.delete(b.mm);
    this.env.tracer.emit(TraceKind.UNBIND, b.dev, b.pasid, -1, b.mm.id, 0, 0);
    this.putDomain(b.domain);
    this.lock.unlock(op.actor);
    this.complete(op.cont, 0);
  }

  private putDomain(d: SvaDomain): void {
    assert(d.users > 0, 'SVA domain user count underflow');
    if (--d.users === 0) {
      this.domains.delete(d.mm);
      d.mm.drop();
    }
  }

  /** Process exit (exit_mm): MM_EXIT, the owner's user reference goes. */
  mmExit(mm: AddressSpace): void {
    this.env.tracer.emit(TraceKind.MM_EXIT, -1, -1, -1, mm.id, 0, 0);
    mm.exit();
  }

  isBound(dev: number, mm: AddressSpace): boolean {
    const b = this.bonds.get(mm)?.get(dev);
    return b !== undefined && !b.dying;
  }

  domainOf(mm: AddressSpace): SvaDomain | undefined {
    return this.domains.get(mm);
  }

  // ---- the iopf handler ------------------------------------------------------------------------

  /** iommu_sva_iopf_handler(): queue the group's work; -EBUSY if it is already queued. */
  handleIopf(group: IopfGroup): KResult {
    group.work = this;
    return group.param.queue.wq.queueWork(group) ? 0 : err('EBUSY');
  }

  /** The work function (iommu_sva_handle_iopf), on a workqueue worker. */
  runGroup(group: IopfGroup, worker: number): void {
    group.worker = worker;
    group.cursor = 0;
    group.code = RespCode.SUCCESS;
    const f = group.lastFault;
    const mm = group.handle.mm;
    this.env.tracer.emit(
      TraceKind.HANDLER_START,
      group.dev,
      (f.flags & FaultFlag.PASID_VALID) !== 0 ? f.pasid : -1,
      f.grpid,
      group.id,
      HandlerType.SVA,
      mm === null ? -1 : mm.id,
    );
    if (this.env.faultSite(this.env.scenario.faults.slow_handler)) {
      this.env.sim.after(this.slowNs.sample(this.rng), this.kStep, 0, 0, group);
      return;
    }
    this.step(group);
  }

  /**
   * First call (from runGroup): resolve the group's faults in order, stopping at the first that is
   * not SUCCESS (iommu_sva_handle_iopf), drawing each resolved fault's latency (minor or major) as it
   * goes, then wait their sum — or, calibrated (latency.sva_group_ns), one service time for the whole
   * group. Second call: answer and free the group (finish).
   *
   * One engine step resolves the whole group: the work holds the group (and the worker) for the
   * same total time as a fault-by-fault walk, so every interleaving with the core, the queue and
   * the device that the rules look at remains (a flush, remove or response can still fall while
   * the handler holds the group); what is no longer modelled is an mm change (exit, reclaim)
   * landing between two faults of one group — the faults see the mm as it was when the work began.
   */
  private step(group: IopfGroup): void {
    if (group.cursor === 0 && group.code === RespCode.SUCCESS && group.faults.length > 0) {
      const whole = this.env.latency.sva_group_ns;
      const lat = this.env.latency;
      let ns = 0;
      while (group.cursor < group.faults.length && group.code === RespCode.SUCCESS) {
        const major = this.resolveNext(group);
        if (whole === undefined) ns += (major ? lat.major_fault_ns : lat.minor_fault_ns).sample(this.rng);
      }
      if (whole !== undefined) ns = whole.sample(this.rng);
      this.env.sim.after(ns, this.kStep, 0, 0, group);
      return;
    }
    this.finish(group);
  }

  /** Resolve the group's next fault against its mm; returns whether it was a major fault. */
  private resolveNext(group: IopfGroup): boolean {
    const fault = group.faults[group.cursor++]!;
    const mm = group.handle.mm;
    const observe = this.deps.onResolve;
    let major: boolean;
    if (this.env.faultSite(this.env.scenario.faults.mm_fault_error)) {
      // handle_mm_fault() returned VM_FAULT_ERROR (fault site): INVALID, the mm is untouched.
      const r: ResolveResult = { code: RespCode.INVALID, major: false, reason: 'fault-error' };
      observe?.(group, fault, mm, r);
      group.code = r.code;
      major = false;
    } else if (observe === undefined) {
      // Nobody looks at the details: the packed result, nothing allocated.
      const p = resolveFaultPacked(mm ?? undefined, fault);
      group.code = packedCode(p);
      major = packedMajor(p);
    } else {
      const r = resolveFaultDetailed(mm ?? undefined, fault);
      observe(group, fault, mm, r);
      group.code = r.code;
      major = r.major;
    }
    // The walk over group->faults (iommu_sva_handle_iopf): one event per fault it resolves
    // (CORE.HANDLER.EACH_FAULT_ONCE).
    this.env.tracer.emit(
      TraceKind.HANDLER_FAULT,
      group.dev,
      (fault.flags & FaultFlag.PASID_VALID) !== 0 ? fault.pasid : -1,
      fault.grpid,
      group.id,
      fault.reqId,
      group.code,
    );
    return major;
  }

  private finish(group: IopfGroup): void {
    const core = this.deps.core;
    const wq = group.param.queue.wq;
    const worker = group.worker;
    const code = group.code;
    core.groupResponse(group, code);
    const f = group.lastFault;
    this.env.tracer.emit(
      TraceKind.HANDLER_END,
      group.dev,
      (f.flags & FaultFlag.PASID_VALID) !== 0 ? f.pasid : -1,
      f.grpid,
      group.id,
      code,
      0,
    );
    this.env.metrics.record('sva_ns', this.env.sim.now - group.formedAt);
    core.freeGroup(group);
    wq.done(worker);
  }

  private complete(cont: Continuation, rc: number): void {
    this.env.sim.after(0, cont.kind, cont.a, rc, cont.payload);
  }
}
