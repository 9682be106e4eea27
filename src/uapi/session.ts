/**
 * A user-space actor on the iommufd uAPI of a simulated machine: the calls a VMM (or the kernel's
 * iommufd selftest) makes — IOMMU_IOAS_ALLOC, device bind, IOMMU_FAULT_QUEUE_ALLOC,
 * IOMMU_HWPT_ALLOC, attach / replace / detach with or without PASID, IOMMU_DESTROY, read() /
 * write() / poll() / close() on the fault fd — plus the selftest's IOMMU_TEST_OP_MOCK_DOMAIN and
 * IOMMU_TEST_OP_TRIGGER_IOPF, and raw descriptor injection into a hardware queue. Each call is a
 * step of the actor: it takes effect in virtual time as an engine event (interleaved with the rest
 * of the machine by the engine's Chooser), and returns what the kernel returns — 0 / a count, or
 * -errno. The calls' ABI is the kernel's: linux-iopf.md §9 and §12.
 *
 * `IommufdOps` is the set of calls as they run inside an engine event (the script runner uses it);
 * `IommufdSession` wraps each in one engine step and runs the machine up to it.
 */
import type { InvariantError } from '../sim/assert.js';
import { err, Errno, type ErrnoName } from '../sim/errno.js';
import type { Scenario } from '../scenario/schema.js';
import type { World, DriverResponse } from '../model/world.js';
import { FaultFlag, type FaultRecord } from '../iopf/types.js';
import { IOMMU_NO_PASID } from '../handlers/iommufd/ctx.js';
import { decodePgfaults, PGFAULT_SIZE, type HwptPgfault } from '../handlers/iommufd/abi.js';
import { VtdIommu } from '../iommu/vtd/index.js';
import { Smmuv3Iommu } from '../iommu/smmuv3/index.js';
import { AmdIommu } from '../iommu/amd/index.js';
import type { PreparedRun, SimulateOptions, SimulateResult } from '../api.js';

export { HwptAllocFlag, IOMMU_NO_PASID } from '../handlers/iommufd/ctx.js';
export type { DriverResponse } from '../model/world.js';

/** A call's result: `ret` is what the kernel returns (0, a byte count, or -errno). */
export interface CallResult {
  ret: number;
}

export interface FaultAllocResult extends CallResult {
  faultId: number;
  fd: number;
}

export interface IdResult extends CallResult {
  /** The object id handed out (0 on error). */
  id: number;
}

export interface MockDomainResult extends CallResult {
  stdevId: number;
  idevId: number;
  hwptId: number;
}

export interface ReadReturn extends CallResult {
  /** Exactly the bytes the kernel copied to the buffer. */
  bytes: Uint8Array;
  /** The whole records among them, decoded. */
  records: HwptPgfault[];
  /** The kernel as read would never return from this read() (see FaultObject.read). */
  hung: boolean;
}

export interface PollReturn extends CallResult {
  readable: boolean;
  writable: boolean;
}

export interface HwptAllocArgs {
  /** iommufd device object id. */
  deviceId: number;
  /** An IOAS, or a NEST_PARENT paging hwpt for a nested hwpt. */
  ptId: number;
  /** HwptAllocFlag bits (IOMMU_HWPT_FAULT_ID_VALID, …). */
  flags?: number;
  faultId?: number;
  /** Driver data given (a nested hwpt needs it; a selftest nested hwpt passes its data). */
  data?: boolean;
}

export interface TriggerIopfArgs {
  /** iommufd device object id. */
  deviceId: number;
  /** Absent or 0 (IOMMU_NO_PASID): the fault has no PASID. */
  pasid?: number;
  grpid: number;
  /** IOMMU_PGFAULT_PERM_* bits. */
  perm: number;
  addr: number;
  /** LAST_PAGE (the selftest always sets it; default true). */
  last?: boolean;
}

/** The calls as they run inside one engine event. Completion may come later (`done`). */
export class IommufdOps {
  /** Model request ids for injected faults: far above the PCIe functions' ids. */
  private nextReq = 1_000_000_000;

  constructor(readonly world: World) {}

  private devByName(name: string): number {
    const i = this.world.scenario.devices.findIndex((d) => d.name === name);
    if (i < 0) throw new RangeError(`iommufd session: no device "${name}" in the scenario`);
    return i;
  }

  /** The model device of an iommufd device object id, or undefined. */
  private modelDev(deviceId: number): number | undefined {
    const o = this.world.iommufd.object(deviceId);
    return o?.type === 'device' ? o.dev : undefined;
  }

  ioasAlloc(): IdResult {
    const r = this.world.iommufd.ioasAlloc();
    return { ret: r.ret, id: r.value ?? 0 };
  }

  bind(device: string): IdResult {
    const r = this.world.iommufd.bindDevice(this.devByName(device));
    return { ret: r.ret, id: r.value ?? 0 };
  }

  mockDomain(device: string, ptId: number): MockDomainResult {
    const r = this.world.iommufd.mockDomain(this.devByName(device), ptId);
    return { ret: r.ret, stdevId: r.value?.stdevId ?? 0, idevId: r.value?.idevId ?? 0, hwptId: r.value?.hwptId ?? 0 };
  }

  faultQueueAlloc(flags = 0): FaultAllocResult {
    const r = this.world.iommufd.faultQueueAlloc(flags);
    return { ret: r.ret, faultId: r.value?.faultId ?? 0, fd: r.value?.fd ?? -1 };
  }

  hwptAlloc(a: HwptAllocArgs): IdResult {
    const r = this.world.iommufd.hwptAlloc(a);
    return { ret: r.ret, id: r.value ?? 0 };
  }

  attach(deviceId: number, ptId: number, pasid?: number): IdResult {
    const r = this.world.iommufd.attach(deviceId, ptId, pasid ?? IOMMU_NO_PASID);
    return { ret: r.ret, id: r.value ?? 0 };
  }

  replace(deviceId: number, ptId: number, pasid?: number): IdResult {
    const r = this.world.iommufd.replace(deviceId, ptId, pasid ?? IOMMU_NO_PASID);
    return { ret: r.ret, id: r.value ?? 0 };
  }

  /**
   * iommufd_device_detach(): the driver drains a PASID's page requests first (VT-d
   * intel_drain_pasid_prq, …), so the call returns when that drain does; then the auto-response.
   */
  detach(deviceId: number, pasid: number | undefined, done: (r: CallResult) => void): void {
    const p = pasid ?? IOMMU_NO_PASID;
    const b = this.world.iommufd.detachBegin(deviceId, p);
    const pending = b.pending;
    if (pending === undefined) {
      done({ ret: b.ret });
      return;
    }
    if (p === IOMMU_NO_PASID) {
      this.world.iommufd.detachFinish(pending);
      done({ ret: 0 });
      return;
    }
    this.world.drainThen(pending.idev.dev, p, () => {
      this.world.iommufd.detachFinish(pending);
      done({ ret: 0 });
    });
  }

  destroy(id: number): CallResult {
    return { ret: this.world.iommufd.destroy(id) };
  }

  /**
   * IOMMU_TEST_OP_TRIGGER_IOPF (selftest.c iommufd_test_trigger_iopf): a fault record with
   * LAST_PAGE (unless `last` is false), PASID_VALID when pasid ≠ IOMMU_NO_PASID (0), the given
   * grpid, perm and address, reported to the core as the device's; 0 (the core's report returns
   * nothing in mainline), -ENOENT for an id that is not a device object. Only the mock IOMMU's
   * devices take it (-EOPNOTSUPP otherwise): a hardware family's device would get a response for
   * a page request it never sent — feed those with injectRaw().
   */
  triggerIopf(a: TriggerIopfArgs): CallResult {
    const dev = this.modelDev(a.deviceId);
    if (dev === undefined) return { ret: err('ENOENT') };
    if (this.world.scenario.iommu.family !== 'mock') return { ret: err('EOPNOTSUPP') };
    const pasid = a.pasid ?? 0;
    const fault: FaultRecord = {
      flags: (a.last === false ? 0 : FaultFlag.LAST_PAGE) | (pasid !== 0 ? FaultFlag.PASID_VALID : 0),
      pasid,
      grpid: a.grpid,
      perm: a.perm,
      addr: a.addr,
      privateData: 0,
      dev,
      reqId: this.nextReq++,
    };
    this.world.core.reportDeviceFault(dev, fault);
    return { ret: 0 };
  }

  read(fd: number, count: number, faultAtRecord?: number): ReadReturn {
    const f = this.world.iommufd.faultOfFd(fd);
    if (f === undefined) return { ret: err('EBADF'), bytes: new Uint8Array(0), records: [], hung: false };
    const r = f.fo.read(count, 0, faultAtRecord === undefined ? {} : { userFaultAtRecord: faultAtRecord });
    const whole = r.bytes.length - (r.bytes.length % PGFAULT_SIZE);
    return { ret: r.result, bytes: r.bytes.slice(), records: decodePgfaults(r.bytes.subarray(0, whole)), hung: r.hung };
  }

  write(fd: number, bytes: Uint8Array, faultAtRecord?: number): CallResult {
    const f = this.world.iommufd.faultOfFd(fd);
    if (f === undefined) return { ret: err('EBADF') };
    return { ret: f.fo.write(bytes, 0, faultAtRecord === undefined ? {} : { userFaultAtRecord: faultAtRecord }) };
  }

  poll(fd: number): PollReturn {
    const r = this.world.iommufd.poll(fd);
    if (typeof r === 'number') return { ret: r, readable: false, writable: false };
    return { ret: 0, readable: r.readable, writable: r.writable };
  }

  close(fd: number): CallResult {
    return { ret: this.world.iommufd.close(fd) };
  }

  /**
   * Raw descriptor bytes into the hardware queue of the scenario's IOMMU family, as hardware
   * writes them: a VT-d page request descriptor (32 B), an SMMUv3 PRI queue entry (16 B) or an AMD
   * PPR log entry (16 B); then the queue's interrupt. The driver decodes and reports it as it does
   * any entry. The PCIe function did not send it: a response to it is one the function never
   * expected (device-side rules may say so).
   */
  injectRaw(bytes: Uint8Array): CallResult {
    const iommu = this.world.iommu;
    const req = this.nextReq++;
    if (iommu instanceof VtdIommu || iommu instanceof Smmuv3Iommu || iommu instanceof AmdIommu) return { ret: iommu.injectRaw(bytes, req) };
    return { ret: err('EOPNOTSUPP') };
  }

  /** Page responses the IOMMU driver received so far. */
  get responses(): readonly DriverResponse[] {
    return this.world.driverResponses;
  }
}

export type SessionOptions = Omit<SimulateOptions, 'setup' | 'untilNs'>;

/**
 * An interactive session: each call runs the machine up to the call's step (at the current virtual
 * time, or later with `at`), runs the call there, and returns its result. `finish()` runs the
 * machine to the end and gives the run's report (violations included).
 */
export class IommufdSession {
  readonly ops: IommufdOps;
  private readonly kCall: number;
  private invariant: InvariantError | undefined;
  private finished = false;

  constructor(
    private readonly run: PreparedRun,
    private readonly asInvariant: (e: unknown, p: PreparedRun) => InvariantError,
    private readonly finishRun: (p: PreparedRun, stop: string, inv: InvariantError | undefined) => SimulateResult,
  ) {
    this.ops = new IommufdOps(run.world);
    this.kCall = run.world.sim.registerKind('uapi:call', (_a, _b, p) => {
      (p as () => void)();
    });
  }

  get world(): World {
    return this.run.world;
  }

  get scenario(): Scenario {
    return this.run.scenario;
  }

  /** Current virtual time (ns). */
  get now(): number {
    return this.run.world.sim.now;
  }

  /** Page responses the IOMMU driver received so far (the mock's page_response included). */
  get responses(): readonly DriverResponse[] {
    return this.run.world.driverResponses;
  }

  /**
   * One step of the actor at `at` (default: now): the machine runs up to it, `start` runs in an
   * engine event and calls `done` with the result (maybe from a later event: a detach waits for
   * the driver's drain); the machine runs until then.
   */
  private step<T>(at: number | undefined, start: (done: (v: T) => void) => void): T {
    if (this.finished) throw new Error('IommufdSession: the session is finished');
    const sim = this.run.world.sim;
    const t = Math.max(sim.now, at ?? sim.now);
    let result: T | undefined;
    let got = false;
    sim.at(t, this.kCall, 0, 0, () => {
      start((v) => {
        result = v;
        got = true;
        sim.stop('uapi call returned');
      });
    });
    while (!got) {
      let r;
      try {
        r = sim.run();
      } catch (e) {
        this.invariant = this.asInvariant(e, this.run);
        throw this.invariant;
      }
      if (!got && r.reason !== 'stopped') throw new Error(`IommufdSession: the machine stopped (${r.reason}) before the call returned`);
    }
    return result as T;
  }

  private sync<T>(at: number | undefined, fn: () => T): T {
    return this.step<T>(at, (done) => {
      done(fn());
    });
  }

  /** Run the machine up to virtual time `t` (events at t included). */
  advanceTo(t: number): void {
    this.sync(t, () => 0);
  }

  ioasAlloc(at?: number): IdResult {
    return this.sync(at, () => this.ops.ioasAlloc());
  }
  /** Bind a scenario device (VFIO cdev bind): its iommufd device object id. */
  bind(device: string, at?: number): IdResult {
    return this.sync(at, () => this.ops.bind(device));
  }
  /** IOMMU_TEST_OP_MOCK_DOMAIN: selftest object, device object, attached to `ptId` (RID). */
  mockDomain(device: string, ptId: number, at?: number): MockDomainResult {
    return this.sync(at, () => this.ops.mockDomain(device, ptId));
  }
  /** IOMMU_FAULT_QUEUE_ALLOC → {faultId, fd}. */
  faultQueueAlloc(flags = 0, at?: number): FaultAllocResult {
    return this.sync(at, () => this.ops.faultQueueAlloc(flags));
  }
  /** IOMMU_HWPT_ALLOC (with IOMMU_HWPT_FAULT_ID_VALID and faultId for a fault-capable hwpt). */
  hwptAlloc(a: HwptAllocArgs, at?: number): IdResult {
    return this.sync(at, () => this.ops.hwptAlloc(a));
  }
  /** Attach (RID, or `pasid`): returns the hwpt id attached (an IOAS's auto domain). */
  attach(deviceId: number, ptId: number, opts: { pasid?: number; at?: number } = {}): IdResult {
    return this.sync(opts.at, () => this.ops.attach(deviceId, ptId, opts.pasid));
  }
  replace(deviceId: number, ptId: number, opts: { pasid?: number; at?: number } = {}): IdResult {
    return this.sync(opts.at, () => this.ops.replace(deviceId, ptId, opts.pasid));
  }
  detach(deviceId: number, opts: { pasid?: number; at?: number } = {}): CallResult {
    return this.step<CallResult>(opts.at, (done) => {
      this.ops.detach(deviceId, opts.pasid, done);
    });
  }
  /** IOMMU_DESTROY. */
  destroy(id: number, at?: number): CallResult {
    return this.sync(at, () => this.ops.destroy(id));
  }
  /** IOMMU_TEST_OP_TRIGGER_IOPF. */
  triggerIopf(a: TriggerIopfArgs, at?: number): CallResult {
    return this.sync(at, () => this.ops.triggerIopf(a));
  }
  /** read(fd, buf, count); `faultAtRecord`: the 40-byte slot of the buffer that is not mapped. */
  read(fd: number, count: number, opts: { faultAtRecord?: number; at?: number } = {}): ReadReturn {
    return this.sync(opts.at, () => this.ops.read(fd, count, opts.faultAtRecord));
  }
  /** write(fd, bytes): struct iommu_hwpt_page_response records. */
  write(fd: number, bytes: Uint8Array, opts: { faultAtRecord?: number; at?: number } = {}): CallResult {
    return this.sync(opts.at, () => this.ops.write(fd, bytes, opts.faultAtRecord));
  }
  poll(fd: number, at?: number): PollReturn {
    return this.sync(at, () => this.ops.poll(fd));
  }
  close(fd: number, at?: number): CallResult {
    return this.sync(at, () => this.ops.close(fd));
  }
  /** Raw descriptor bytes into the family's hardware queue (see IommufdOps.injectRaw). */
  injectRaw(bytes: Uint8Array, at?: number): CallResult {
    return this.sync(at, () => this.ops.injectRaw(bytes));
  }

  /** Run the machine to the end; the run's report. The session takes no calls afterwards. */
  finish(): SimulateResult {
    if (this.finished) throw new Error('IommufdSession: finished twice');
    this.finished = true;
    if (this.invariant !== undefined) return this.finishRun(this.run, 'invariant', this.invariant);
    let stop: string;
    let inv: InvariantError | undefined;
    try {
      stop = this.run.world.run().reason;
    } catch (e) {
      inv = this.asInvariant(e, this.run);
      stop = 'invariant';
    }
    return this.finishRun(this.run, stop, inv);
  }
}

/** The errno value of a result name: "EINVAL" / "-EINVAL" → -22; a number stays. */
export function retValue(v: number | string): number | undefined {
  if (typeof v === 'number') return v;
  const name = v.startsWith('-') ? v.slice(1) : v;
  return Object.prototype.hasOwnProperty.call(Errno, name) ? -Errno[name as ErrnoName] : undefined;
}
