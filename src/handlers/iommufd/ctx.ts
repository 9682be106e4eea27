/**
 * The iommufd context (struct iommufd_ctx) as user space sees it through its ioctls: one object
 * table with ids from 1 shared by every object type (IOAS, device, hwpt, fault object, selftest
 * device), a users count per object that makes IOMMU_DESTROY fail with -EBUSY while something holds
 * it, fault objects with their fds, hwpt allocation with IOMMU_HWPT_FAULT_ID_VALID, and attach /
 * replace / detach of a device (with or without PASID) to an IOAS or a hwpt — each attachment an
 * iopf attach handle in the core, whose domain queues groups on the hwpt's fault object.
 *
 * Modelled statement by statement on drivers/iommu/iommufd/: main.c (iommufd_object_alloc: xa_alloc
 * with XA_FLAGS_ALLOC1 → lowest free id from 1; iommufd_destroy → iommufd_object_remove: -ENOENT for
 * an unknown id, -EBUSY while users), hw_pagetable.c (iommufd_hwpt_alloc, iommufd_hwpt_paging_alloc,
 * iommufd_hwpt_nested_alloc), device.c (iommufd_device_attach/replace/detach,
 * iommufd_hwpt_attach_device, iommufd_hwpt_replace_device, iommufd_hwpt_detach_device,
 * iommufd_hwpt_pasid_compat, the auto domain of an IOAS), eventq.c (iommufd_fault_alloc,
 * iommufd_fault_iopf_enable's VF check, iommufd_auto_response_faults). Reference linux-iopf §9, §12.
 *
 * Engine-agnostic like FaultObject: every method is one ioctl/syscall run to completion. Detach
 * splits in two (detachBegin / detachFinish) because a hardware driver drains the PASID in between.
 */
import { err, type KResult } from '../../sim/errno.js';
import type { AttachHandle, IopfDomain, IopfGroup } from '../../iopf/group.js';
import type { RespCodeValue } from '../../iopf/types.js';
import { FaultObject, type FaultObjectOptions } from './fault-object.js';

/** IOMMU_HWPT_ALLOC_* / IOMMU_HWPT_FAULT_ID_VALID (enum iommufd_hwpt_alloc_flags). */
export const HwptAllocFlag = {
  NEST_PARENT: 1 << 0,
  DIRTY_TRACKING: 1 << 1,
  FAULT_ID_VALID: 1 << 2,
  PASID: 1 << 3,
} as const;

/** IOMMU_NO_PASID: the RID (no PASID) attachment. */
export const IOMMU_NO_PASID = -1;

/** Object types of the table (enum iommufd_object_type, the ones the model has). */
export type IommufdObjType = 'ioas' | 'device' | 'hwpt_paging' | 'hwpt_nested' | 'fault' | 'selftest';

/** xa_limit_31b: object ids are 1..2^31-1. */
const OBJ_ID_MAX = 0x7fff_ffff;

interface ObjBase {
  readonly id: number;
  readonly type: IommufdObjType;
  /** obj.users beyond the table's own: attachments, child objects, an open fd, a bound driver. */
  users: number;
}

export interface IoasObj extends ObjBase {
  readonly type: 'ioas';
  /** The IOAS's auto domain (hwpt made by attaching a device to the IOAS), if any. */
  auto: HwptObj | undefined;
}

export interface Attachment {
  readonly hwpt: HwptObj;
  readonly handle: AttachHandle;
}

export interface DeviceObj extends ObjBase {
  readonly type: 'device';
  /** Model device index. */
  readonly dev: number;
  /** pasid (IOMMU_NO_PASID for the RID) → what is attached there. */
  readonly attached: Map<number, Attachment>;
  /** A detach waits for the driver's drain: the pasid is neither attachable nor detachable. */
  readonly detaching: Set<number>;
}

export interface HwptObj extends ObjBase {
  readonly type: 'hwpt_paging' | 'hwpt_nested';
  readonly domain: IommufdDomain;
  readonly ioas: IoasObj | undefined;
  readonly parent: HwptObj | undefined;
  fault: FaultObj | undefined;
  readonly nestParent: boolean;
  /** Allocated with IOMMU_HWPT_ALLOC_PASID (auto domains are PASID compatible). */
  readonly pasidCompat: boolean;
  /** Made by attaching to an IOAS; destroyed with its last attachment. */
  readonly auto: boolean;
}

export interface FaultObj extends ObjBase {
  readonly type: 'fault';
  readonly fo: FaultObject<IopfGroup>;
  /** The fd number while open, else -1. */
  fd: number;
}

export interface SelftestObj extends ObjBase {
  readonly type: 'selftest';
  readonly idev: DeviceObj;
}

export type IommufdObj = IoasObj | DeviceObj | HwptObj | FaultObj | SelftestObj;

/** An iommufd hwpt's iommu_domain: its iopf handler queues on the fault object (if any). */
export class IommufdDomain implements IopfDomain {
  readonly type: string;
  iopfHandler: ((g: IopfGroup) => KResult) | undefined;
  constructor(
    readonly id: number,
    nested: boolean,
    handler: ((g: IopfGroup) => KResult) | undefined,
  ) {
    this.type = nested ? 'nested' : 'paging';
    this.nested = nested;
    this.iopfHandler = handler;
  }
  readonly nested: boolean;
}

/** What the context needs from the kernel below it and from whoever watches the fds. */
export interface IommufdCtxHost {
  /** iommu_attach_device_pasid / iommu_attach_group_handle: the handle takes (dev, pasid). */
  attachHandle(dev: number, pasid: number, handle: AttachHandle): KResult;
  /** The handle leaves (dev, pasid) (iommu_detach_device_pasid / iommu_detach_group_handle). */
  detachHandle(dev: number, pasid: number): void;
  /** A PCIe VF with PRI: PRI is the PF's, so iommufd refuses fault-capable hwpts (eventq.c). */
  isPriVf(dev: number): boolean;
  /** The driver's ops->domain_alloc_nested exists (a nested hwpt on a paging parent): VT-d and
   * the selftest mock; SMMUv3 and AMD nest only through a vIOMMU object, which the model lacks. */
  nestedOnParent(dev: number): boolean;
  /** iopf_group_response(group, code) + iopf_free_group(group). `auto`: iommufd answered. */
  respond(group: IopfGroup, code: RespCodeValue, auto: boolean): void;
  /** The fault object's handler queued `group` (wake_up_interruptible of its readers). */
  delivered(fault: FaultObj, group: IopfGroup): void;
  /** Bug switches (iommufd-replace-new-hwpt, iommufd-write-count, iommufd-accepts-failure). */
  readonly bugs: ReadonlySet<string>;
}

export interface HwptAllocArgs {
  /** iommufd device object id. */
  deviceId: number;
  /** IOAS (paging hwpt) or paging hwpt (nested hwpt under a NEST_PARENT). */
  ptId: number;
  flags?: number;
  /** Used only with IOMMU_HWPT_FAULT_ID_VALID. */
  faultId?: number;
  /** Driver-specific data present (data_type ≠ NONE, data_len ≠ 0): a nested hwpt needs it. */
  data?: boolean;
}

export type IommufdResult<T> = { ret: 0; value: T } | { ret: KResult; value?: undefined };

const ok = <T>(value: T): IommufdResult<T> => ({ ret: 0, value });
const fail = <T>(ret: KResult): IommufdResult<T> => ({ ret });

export class IommufdCtx {
  private readonly objects = new Map<number, IommufdObj>();
  /** Open fault fds: fd number → fault object. */
  private readonly fds = new Map<number, FaultObj>();
  private nextHandle = 1;
  private nextDomain = 1;
  /** The bug of iommufd_hwpt_replace_device before the July 2026 fix (linux-iopf §12 item 8). */
  private readonly replaceNewHwpt: boolean;
  private readonly faultOptions: FaultObjectOptions;

  constructor(private readonly host: IommufdCtxHost) {
    this.replaceNewHwpt = host.bugs.has('iommufd-replace-new-hwpt');
    this.faultOptions = {
      writeCountBug: host.bugs.has('iommufd-write-count'),
      acceptsFailure: host.bugs.has('iommufd-accepts-failure'),
    };
  }

  // ---- the object table (main.c) ---------------------------------------------------------------

  /** xa_alloc over [1, 2^31-1]: the lowest free id. */
  private allocId(): number {
    for (let id = 1; id <= OBJ_ID_MAX; id++) if (!this.objects.has(id)) return id;
    return err('ENOSPC');
  }

  private insert<T extends IommufdObj>(make: (id: number) => T): T | KResult {
    const id = this.allocId();
    if (id < 0) return id as KResult;
    const o = make(id);
    this.objects.set(id, o);
    return o;
  }

  object(id: number): IommufdObj | undefined {
    return this.objects.get(id);
  }

  /** Live objects, by id. */
  objectIds(): number[] {
    return [...this.objects.keys()].sort((a, b) => a - b);
  }

  private device(id: number): DeviceObj | undefined {
    const o = this.objects.get(id);
    return o?.type === 'device' ? o : undefined;
  }

  /** iommufd_get_device()/iommufd_get_fault(): the id must name an object of that type. */
  private fault(id: number): FaultObj | undefined {
    const o = this.objects.get(id);
    return o?.type === 'fault' ? o : undefined;
  }

  /** The fault object behind an open fd. */
  faultOfFd(fd: number): FaultObj | undefined {
    return this.fds.get(fd);
  }

  /** IOMMU_IOAS_ALLOC. */
  ioasAlloc(): IommufdResult<number> {
    const o = this.insert((id): IoasObj => ({ id, type: 'ioas', users: 0, auto: undefined }));
    return typeof o === 'number' ? fail(o) : ok(o.id);
  }

  /** iommufd_device_bind() (VFIO cdev bind): the device object; the bound driver holds a user. */
  bindDevice(dev: number): IommufdResult<number> {
    for (const o of this.objects.values()) if (o.type === 'device' && o.dev === dev) return fail(err('EBUSY'));
    const o = this.insert(
      (id): DeviceObj => ({ id, type: 'device', users: 1, dev, attached: new Map(), detaching: new Set() }),
    );
    return typeof o === 'number' ? fail(o) : ok(o.id);
  }

  /**
   * IOMMU_TEST_OP_MOCK_DOMAIN (selftest.c iommufd_test_mock_domain): a selftest object, then the
   * device bound under it, then attached (RID) to `ptId`. Ids in that order.
   */
  mockDomain(dev: number, ptId: number): IommufdResult<{ stdevId: number; idevId: number; hwptId: number }> {
    for (const o of this.objects.values()) if (o.type === 'device' && o.dev === dev) return fail(err('EBUSY'));
    const sid = this.allocId();
    if (sid < 0) return fail(sid as KResult);
    // Reserve the selftest id while the device binds (xa_alloc reserves the slot the same way).
    const placeholder: IoasObj = { id: sid, type: 'ioas', users: 1, auto: undefined };
    this.objects.set(sid, placeholder);
    const b = this.bindDevice(dev);
    if (b.ret !== 0) {
      this.objects.delete(sid);
      return fail(b.ret);
    }
    const idev = this.device(b.value!)!;
    const st: SelftestObj = { id: sid, type: 'selftest', users: 0, idev };
    this.objects.set(sid, st);
    const r = this.attach(idev.id, ptId, IOMMU_NO_PASID);
    if (r.ret !== 0) {
      this.objects.delete(sid);
      this.objects.delete(idev.id);
      return fail(r.ret);
    }
    return ok({ stdevId: sid, idevId: idev.id, hwptId: r.value! });
  }

  /** The selftest object of a device object (stdev id → idev), for IOMMU_TEST_OP_* by stdev id. */
  deviceOfSelftest(stdevId: number): number | undefined {
    const o = this.objects.get(stdevId);
    return o?.type === 'selftest' ? o.idev.id : undefined;
  }

  // ---- fault objects (eventq.c) -----------------------------------------------------------------

  /** IOMMU_FAULT_QUEUE_ALLOC: flags ≠ 0 → -EOPNOTSUPP; the object, then its fd (lowest free ≥ 3). */
  faultQueueAlloc(flags = 0): IommufdResult<{ faultId: number; fd: number }> {
    if (flags !== 0) return fail(err('EOPNOTSUPP'));
    const fo = new FaultObject<IopfGroup>(
      { respond: (g, code, by) => { this.host.respond(g, code, by === 'auto'); } },
      this.faultOptions,
    );
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    // The fd holds a user of the object until it is closed (iommufd_eventq_init / release).
    const o = this.insert((id): FaultObj => ({ id, type: 'fault', users: 1, fo, fd }));
    if (typeof o === 'number') return fail(o);
    this.fds.set(fd, o);
    return ok({ faultId: o.id, fd });
  }

  /** close(fd): drops the fd's user of the fault object; answers nothing. */
  close(fd: number): KResult {
    const f = this.fds.get(fd);
    if (f === undefined) return err('EBADF');
    this.fds.delete(fd);
    f.fd = -1;
    f.users--;
    f.fo.close();
    return 0;
  }

  // ---- hwpts (hw_pagetable.c) ---------------------------------------------------------------------

  /**
   * IOMMU_HWPT_ALLOC. Order of checks as iommufd_hwpt_alloc: data type/len (-EINVAL), device
   * (-ENOENT), pt object (-EINVAL when unknown or of another type), then the paging or nested
   * allocator's flag checks (-EOPNOTSUPP for a flag it does not take, -EINVAL for a parent that is
   * not a NEST_PARENT), then the fault object (-ENOENT; the half-made hwpt is destroyed, its id freed).
   */
  hwptAlloc(a: HwptAllocArgs): IommufdResult<number> {
    const flags = a.flags ?? 0;
    const idev = this.device(a.deviceId);
    if (idev === undefined) return fail(err('ENOENT'));
    const pt = this.objects.get(a.ptId);
    if (pt === undefined) return fail(err('EINVAL'));
    let made: HwptObj | KResult;
    if (pt.type === 'ioas') {
      const valid = HwptAllocFlag.NEST_PARENT | HwptAllocFlag.DIRTY_TRACKING | HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID;
      if ((flags & ~valid) !== 0) return fail(err('EOPNOTSUPP'));
      // Every modelled IOMMU is taken to have IOMMU_CAP_DIRTY_TRACKING (the mock does, and the
      // 2026 VT-d, SMMUv3 and AMD drivers do on hardware that can): the flag is accepted.
      made = this.newHwpt('hwpt_paging', pt, undefined, flags, false);
    } else if (pt.type === 'hwpt_paging') {
      if ((flags & ~(HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID)) !== 0 || a.data !== true || !this.host.nestedOnParent(idev.dev))
        return fail(err('EOPNOTSUPP'));
      if (pt.auto || !pt.nestParent) return fail(err('EINVAL'));
      made = this.newHwpt('hwpt_nested', undefined, pt, flags, false);
    } else return fail(err('EINVAL'));
    if (typeof made === 'number') return fail(made);
    if ((flags & HwptAllocFlag.FAULT_ID_VALID) !== 0) {
      const f = this.fault(a.faultId ?? 0);
      if (f === undefined) {
        this.destroyHwpt(made);
        return fail(err('ENOENT'));
      }
      made.fault = f;
      made.domain.iopfHandler = (g) => this.iopfHandler(f, g);
      f.users++;
    }
    return ok(made.id);
  }

  private newHwpt(
    type: 'hwpt_paging' | 'hwpt_nested',
    ioas: IoasObj | undefined,
    parent: HwptObj | undefined,
    flags: number,
    auto: boolean,
  ): HwptObj | KResult {
    const o = this.insert(
      (id): HwptObj => ({
        id,
        type,
        users: 0,
        domain: new IommufdDomain(this.nextDomain++, type === 'hwpt_nested', undefined),
        ioas,
        parent,
        fault: undefined,
        nestParent: (flags & HwptAllocFlag.NEST_PARENT) !== 0,
        pasidCompat: auto || (flags & HwptAllocFlag.PASID) !== 0,
        auto,
      }),
    );
    if (typeof o === 'number') return o;
    if (ioas !== undefined) ioas.users++;
    if (parent !== undefined) parent.users++;
    return o;
  }

  /** iommufd_fault_iopf_handler(): queue at the tail, wake readers; never fails. */
  private iopfHandler(f: FaultObj, g: IopfGroup): KResult {
    f.fo.deliver(g);
    this.host.delivered(f, g);
    return 0;
  }

  private destroyHwpt(h: HwptObj): void {
    this.objects.delete(h.id);
    if (h.ioas !== undefined) {
      h.ioas.users--;
      if (h.ioas.auto === h) h.ioas.auto = undefined;
    }
    if (h.parent !== undefined) h.parent.users--;
    if (h.fault !== undefined) h.fault.users--;
  }

  // ---- attach / replace / detach (device.c) -----------------------------------------------------

  /** An IOAS id attaches through its auto domain (made on first use); a hwpt id as itself. */
  private resolvePt(ptId: number): HwptObj | KResult {
    const pt = this.objects.get(ptId);
    if (pt === undefined) return err('ENOENT');
    if (pt.type === 'hwpt_paging' || pt.type === 'hwpt_nested') return pt;
    if (pt.type !== 'ioas') return err('EINVAL');
    if (pt.auto !== undefined) return pt.auto;
    const h = this.newHwpt('hwpt_paging', pt, undefined, 0, true);
    if (typeof h === 'number') return h;
    pt.auto = h;
    return h;
  }

  /** An auto domain nobody attached (a failed attach) goes away at once. */
  private dropIfUnusedAuto(h: HwptObj): void {
    if (h.auto && h.users === 0) this.destroyHwpt(h);
  }

  /** iommufd_hwpt_pasid_compat(). */
  private pasidCompat(h: HwptObj, idev: DeviceObj, pasid: number): KResult {
    if (pasid !== IOMMU_NO_PASID) return h.pasidCompat ? 0 : err('EINVAL');
    for (const p of idev.attached.keys()) if (p !== IOMMU_NO_PASID && !h.pasidCompat) return err('EINVAL');
    return 0;
  }

  private newHandle(idev: DeviceObj, h: HwptObj): AttachHandle {
    return { id: this.nextHandle++, domain: h.domain, mm: null, devId: idev.id };
  }

  /**
   * iommufd_device_attach(idev, pasid, pt_id): the same hwpt again is 0; anything else already
   * there is -EBUSY (use replace). A fault-capable hwpt refuses a PRI VF (-EINVAL). Returns the id
   * of the hwpt attached (the IOAS's auto domain for an IOAS).
   */
  attach(deviceId: number, ptId: number, pasid: number = IOMMU_NO_PASID): IommufdResult<number> {
    const idev = this.device(deviceId);
    if (idev === undefined) return fail(err('ENOENT'));
    if (idev.detaching.has(pasid)) return fail(err('EBUSY'));
    const h = this.resolvePt(ptId);
    if (typeof h === 'number') return fail(h);
    const cur = idev.attached.get(pasid);
    if (cur !== undefined) {
      this.dropIfUnusedAuto(h);
      return cur.hwpt === h ? ok(h.id) : fail(err('EBUSY'));
    }
    let rc = this.pasidCompat(h, idev, pasid);
    if (rc === 0 && h.fault !== undefined && this.host.isPriVf(idev.dev)) rc = err('EINVAL');
    if (rc !== 0) {
      this.dropIfUnusedAuto(h);
      return fail(rc);
    }
    const handle = this.newHandle(idev, h);
    rc = this.host.attachHandle(idev.dev, pasid, handle);
    if (rc !== 0) {
      this.dropIfUnusedAuto(h);
      return fail(rc);
    }
    idev.attached.set(pasid, { hwpt: h, handle });
    h.users++;
    return ok(h.id);
  }

  /**
   * iommufd_device_replace(): nothing attached there is -EINVAL; the same hwpt is a no-op. The new
   * handle takes the PASID in one step, then iommufd_auto_response_faults() answers the old
   * handle's groups INVALID. Mainline passed the *new* hwpt to it (bug iommufd-replace-new-hwpt):
   * only a new hwpt on the same fault object then answers them; another fault object or none
   * leaves them unanswered. The July 2026 fix passes the old hwpt.
   */
  replace(deviceId: number, ptId: number, pasid: number = IOMMU_NO_PASID): IommufdResult<number> {
    const idev = this.device(deviceId);
    if (idev === undefined) return fail(err('ENOENT'));
    if (idev.detaching.has(pasid)) return fail(err('EBUSY'));
    const h = this.resolvePt(ptId);
    if (typeof h === 'number') return fail(h);
    const old = idev.attached.get(pasid);
    if (old === undefined) {
      this.dropIfUnusedAuto(h);
      return fail(err('EINVAL'));
    }
    if (old.hwpt === h) return ok(h.id);
    let rc = this.pasidCompat(h, idev, pasid);
    if (rc === 0 && h.fault !== undefined && this.host.isPriVf(idev.dev)) rc = err('EINVAL');
    if (rc !== 0) {
      this.dropIfUnusedAuto(h);
      return fail(rc);
    }
    const handle = this.newHandle(idev, h);
    this.host.detachHandle(idev.dev, pasid);
    rc = this.host.attachHandle(idev.dev, pasid, handle);
    if (rc !== 0) throw new Error('IommufdCtx.replace: the PASID was taken between detach and attach');
    idev.attached.set(pasid, { hwpt: h, handle });
    h.users++;
    const answering = this.replaceNewHwpt ? h : old.hwpt;
    if (answering.fault !== undefined) answering.fault.fo.replace(old.handle.id);
    this.put(old.hwpt);
    return ok(h.id);
  }

  /**
   * iommufd_device_detach(), first half: validates and takes the handle out of the core (new
   * requests of the PASID fail the hardware's checks). Nothing attached is 0 (the kernel only
   * warns). The caller lets the driver drain the PASID, then calls detachFinish().
   */
  detachBegin(deviceId: number, pasid: number = IOMMU_NO_PASID): { ret: KResult; pending?: { idev: DeviceObj; pasid: number; att: Attachment } } {
    const idev = this.device(deviceId);
    if (idev === undefined) return { ret: err('ENOENT') };
    if (idev.detaching.has(pasid)) return { ret: err('EBUSY') };
    const att = idev.attached.get(pasid);
    if (att === undefined) return { ret: 0 };
    idev.detaching.add(pasid);
    return { ret: 0, pending: { idev, pasid, att } };
  }

  /** Second half: the handle leaves; iommufd_auto_response_faults(hwpt, handle); the hwpt is put.
   * `autoRespond` false only for the seed profile, which predates the auto-response. */
  detachFinish(p: { idev: DeviceObj; pasid: number; att: Attachment }, autoRespond = true): number {
    this.host.detachHandle(p.idev.dev, p.pasid);
    p.idev.attached.delete(p.pasid);
    p.idev.detaching.delete(p.pasid);
    const f = p.att.hwpt.fault;
    const n = f === undefined || !autoRespond ? 0 : f.fo.detach(p.att.handle.id);
    this.put(p.att.hwpt);
    return n;
  }

  /** Detach in one step (no driver drain in between: the selftest mock). */
  detach(deviceId: number, pasid: number = IOMMU_NO_PASID): KResult {
    const b = this.detachBegin(deviceId, pasid);
    if (b.pending !== undefined) this.detachFinish(b.pending);
    return b.ret;
  }

  /** An attachment's reference on its hwpt goes; an auto domain goes with its last one. */
  private put(h: HwptObj): void {
    h.users--;
    if (h.auto && h.users === 0) this.destroyHwpt(h);
  }

  /** What is attached to (device object, pasid). */
  attachment(deviceId: number, pasid: number = IOMMU_NO_PASID): Attachment | undefined {
    return this.device(deviceId)?.attached.get(pasid);
  }

  // ---- IOMMU_DESTROY --------------------------------------------------------------------------

  /**
   * iommufd_destroy(): -ENOENT for an unknown id, -EBUSY while anything uses the object (an
   * attachment, a child hwpt, an open fd, a bound driver). A selftest device detaches its RID and
   * unbinds. A fault object answers every remaining group INVALID (iommufd_fault_destroy).
   */
  destroy(id: number): KResult {
    const o = this.objects.get(id);
    if (o === undefined) return err('ENOENT');
    if (o.type === 'selftest') {
      const idev = o.idev;
      if (idev.detaching.size > 0) return err('EBUSY');
      for (const pasid of [...idev.attached.keys()]) this.detach(idev.id, pasid);
      this.objects.delete(idev.id);
      this.objects.delete(o.id);
      return 0;
    }
    if (o.users > 0) return err('EBUSY');
    switch (o.type) {
      case 'ioas':
      case 'device':
        this.objects.delete(id);
        return 0;
      case 'hwpt_paging':
      case 'hwpt_nested':
        this.destroyHwpt(o);
        return 0;
      case 'fault': {
        const r = o.fo.destroy();
        if (r !== 0) return r;
        this.objects.delete(id);
        return 0;
      }
    }
  }

  // ---- the fault fd ---------------------------------------------------------------------------

  /** poll(): EPOLLOUT always, EPOLLIN while the deliver list is not empty; -EBADF for a bad fd. */
  poll(fd: number): { readable: boolean; writable: boolean } | KResult {
    const f = this.fds.get(fd);
    if (f === undefined) return err('EBADF');
    return { readable: f.fo.pollReadable(), writable: f.fo.pollWritable() };
  }
}
