/**
 * The world: builds every layer of one scenario and wires them through the engine, following a
 * fault's data flow — workload → PCIe function → link → IOMMU hardware queue → driver glue → iopf
 * core → handler (SVA in a workqueue, or iommufd + a VMM) → page response → function. Timed
 * actions (bind, unbind with PASID quiesce + drain + flush, process exit, PRI control, device
 * removal, iommufd close/detach/destroy) are engine events too, so every interleaving is the
 * engine's Chooser's.
 */
import { assert, unreachable } from '../sim/assert.js';
import { Sim } from '../sim/engine.js';
import type { Chooser } from '../sim/random.js';
import { RandomChooser, Rng } from '../sim/random.js';
import type { Continuation } from '../sim/sync.js';
import { err } from '../sim/errno.js';
import { Tracer, type TraceSink } from '../trace/tracer.js';
import { HandlerType, RespSource, TraceKind } from '../trace/events.js';
import type { Scenario, Ratio } from '../scenario/schema.js';
import { Metrics } from '../report/metrics.js';
import { compileLatencies, type ModelEnv } from '../env/env.js';
import { PciFunction, type TranslateAccess, type TranslateResult } from '../pcie/function.js';
import type { PageRequestMsg, PrgResponseMsg } from '../pcie/messages.js';
import type { IommuFrontend, IommuFrontendDeps } from '../iommu/frontend.js';
import type { IommuDriverOps } from '../iopf/driver-ops.js';
import { VtdIommu } from '../iommu/vtd/index.js';
import { Smmuv3Iommu } from '../iommu/smmuv3/index.js';
import { AmdIommu } from '../iommu/amd/index.js';
import { MockIommu } from '../iommu/mock/index.js';
import { IopfCore } from '../iopf/core.js';
import { Forms, behavioursOf } from '../scenario/profiles.js';
import type { IopfQueue } from '../iopf/fault-param.js';
import type { IopfGroup } from '../iopf/group.js';
import { FaultFlag, RespCode, type RespCodeValue } from '../iopf/types.js';
import { Sva } from '../handlers/sva/sva.js';
import { SvaMmPasids, PasidAllocator, maxPasidsForWidth } from '../handlers/sva/pasid-allocator.js';
import type { FaultObject } from '../handlers/iommufd/fault-object.js';
import { HwptAllocFlag, IommufdCtx, type Attachment, type DeviceObj, type FaultObj } from '../handlers/iommufd/ctx.js';
import { Vmm } from '../handlers/iommufd/vmm.js';
import { AddressSpace, PAGE_SIZE } from '../mm/address-space.js';
import { Workload } from '../workload/index.js';

export interface WorldOptions {
  seed: number;
  /** Behaviour switches (bugs, forms) in addition to the profile's and the scenario's. */
  bugs?: readonly string[];
  chooser?: Chooser;
  /** Record every scheduling choice (for `iopf replay`). */
  recordChoices?: boolean;
  maxEvents?: number;
  /** Extra trace sinks (checker, writers). Added before the run. */
  sinks?: readonly TraceSink[];
  /** Keep every call of the IOMMU driver's page_response op in `driverResponses` (uAPI sessions
   * and scripts: "the responses the driver received"). */
  recordResponses?: boolean;
}

/** One call of the IOMMU driver's page_response op (struct iommu_page_response + context). */
export interface DriverResponse {
  /** Virtual time of the call. */
  readonly t: number;
  readonly dev: number;
  readonly pasid: number;
  readonly grpid: number;
  /** enum iommu_page_response_code: SUCCESS 0, INVALID 1, FAILURE 2. */
  readonly code: number;
  /** RespSource: which core path answered. */
  readonly source: number;
}

const enum BindState {
  UNBOUND = 0,
  BOUND = 1,
  STOPPING = 2,
}

/** One (device, process) pair: its PASID and whether traffic may use it. */
interface Binding {
  readonly index: number;
  readonly dev: number;
  readonly proc: number;
  state: BindState;
  pasid: number;
  /** A bind action came while this pair was being unbound: it runs when the unbind returns. */
  bindAfterUnbind: boolean;
  /** iommufd attachment: fault object index (-1: a paging hwpt without fault object), the
   * device object and hwpt ids, and a detach waiting for the driver's drain. */
  iommufd: IommufdBinding | undefined;
}

interface IommufdBinding {
  fault: number;
  idevId: number;
  hwptId: number;
  detaching: { idev: DeviceObj; pasid: number; att: Attachment } | undefined;
}

const pairKey = (dev: number, pasid: number): number => dev * 2_097_152 + pasid + 1;

/** A flush action waiting for the function to stop using what it flushes. */
interface FlushAction {
  dev: number;
  /** The flushed PASID; -1: the whole device. */
  pasid: number;
  /** PASIDs (and the no-PASID traffic) not yet quiet. */
  waiting: number;
  /** What the flush covers (-1: requests without PASID), for the hardware queue check. */
  pasids: number[];
  /** Times the hardware queue was found still holding some of it. */
  polls: number;
}

/**
 * How often a flush action looks again at the IOMMU's queue while the driver thread empties it,
 * and how long at most (a thread that cannot progress — a report blocked for good — must not
 * keep the run alive): the flush then goes ahead and the checker judges what it finds.
 */
const FLUSH_QUEUE_POLL_NS = 1_000;
const FLUSH_QUEUE_MAX_POLLS = 100_000;

export class World {
  readonly sim: Sim;
  readonly tracer: Tracer;
  readonly metrics = new Metrics();
  readonly env: ModelEnv;
  /** Switches asked for on top of the profile: the scenario's `bugs:` and `--bug`. */
  readonly bugs: ReadonlySet<string>;
  /** Every switch on: the kernel profile's plus `bugs`. */
  readonly switches: ReadonlySet<string>;
  readonly core: IopfCore;
  readonly queue: IopfQueue;
  readonly devices: PciFunction[] = [];
  readonly iommu: IommuFrontend;
  readonly sva: Sva;
  readonly pasids: SvaMmPasids;
  readonly mms: AddressSpace[] = [];
  readonly workloads: Workload[] = [];
  readonly faults: FaultObject<IopfGroup>[] = [];
  readonly vmms: Vmm<IopfGroup>[] = [];
  /** The iommufd context (object ids, fault objects and fds, hwpts, attachments). */
  readonly iommufd: IommufdCtx;
  /** Fault objects of the scenario (index → object), and the IOAS the VMMs map their memory in. */
  private readonly faultObjs: FaultObj[] = [];
  private ioasId = 0;
  /** Model device → iommufd device object id (bound on first use). */
  private readonly idevOf = new Map<number, number>();
  private readonly bindings: Binding[] = [];
  private readonly bindingByPair = new Map<number, Binding>();
  /** (dev, pasid) → mm for iommufd attachments (the VMM's guest memory). */
  private readonly iommufdMm = new Map<number, AddressSpace>();
  private readonly devByRid = new Map<number, PciFunction>();
  /** (dev, pasid) whose PASID table entry is torn down while its detach drains (iommufd). */
  private readonly tornDown = new Set<number>();
  private readonly kArrive: number;
  private readonly kAction: number;
  private readonly kUnbindQuiet: number;
  private readonly kUnbindDone: number;
  private readonly kBindDone: number;
  private readonly kRemoved: number;
  private readonly kFlushed: number;
  private readonly kFlushQuiet: number;
  private readonly kFlushQueuePoll: number;
  private readonly kDrainThen: number;
  private readonly kReportLate: number;
  private readonly kIommufdDrained: number;
  /** A detach on the way to IOMMU_DESTROY of the binding's fault object is drained. */
  private readonly kDestroyDrained: number;
  /** Fault objects whose destroy waits for detaches: how many are still draining. */
  private readonly destroyWaits = new Map<number, number>();
  /** Binding index → the fault object its detach in progress leaves (a drain's continuation carries only the index). */
  private readonly detachFault = new Map<number, number>();
  private readonly chooser: Chooser;
  readonly actionsFailed: string[] = [];
  /** With `recordResponses`: every page_response the driver received, in order. */
  readonly driverResponses: DriverResponse[] = [];

  constructor(
    readonly scenario: Scenario,
    readonly opts: WorldOptions,
  ) {
    const seed = opts.seed;
    this.linkRng = new Rng(seed, 'link');
    this.chooser = opts.chooser ?? new RandomChooser(new Rng(seed, 'scheduler'), opts.recordChoices ?? false);
    this.sim = new Sim({
      seed,
      chooser: this.chooser,
      limits: { maxEvents: opts.maxEvents ?? scenario.limits.max_events, maxPending: scenario.limits.max_pending },
    });
    this.tracer = new Tracer(this.sim);
    this.bugs = new Set([...scenario.bugs, ...(opts.bugs ?? [])]);
    this.switches = behavioursOf(scenario.kernel, [...this.bugs]);
    const sim = this.sim;
    const chooser = this.chooser;
    this.env = {
      sim,
      tracer: this.tracer,
      scenario,
      latency: compileLatencies(scenario.latency),
      metrics: this.metrics,
      switches: this.switches,
      stream: (name) => sim.stream(name),
      faultSite: (p: Ratio) => (p.num === 0 ? false : chooser.chance(p.num, p.den)),
    };
    for (const s of opts.sinks ?? []) this.tracer.addSink(s);

    // iopf core: the profile's switches decide its forms and bugs (reference §0, §3, §5).
    this.core = new IopfCore(this.env, { profile: scenario.kernel });
    this.queue = this.core.queueAlloc(scenario.iommu.name, scenario.iopf.workers);

    // PCIe functions.
    scenario.devices.forEach((cfg, dev) => {
      this.linkFree.push(0);
      const fn = new PciFunction(this.env, dev, cfg, {
        sendPageRequest: (msg) => {
          // A PCIe link delivers posted requests in order: never before the previous one.
          const at = Math.max(sim.now + this.env.latency.page_request_ns.sample(this.linkRng), this.linkFree[dev]!);
          this.linkFree[dev] = at;
          sim.at(at, this.kArrive, 0, 0, msg, dev);
        },
        translate: (d, pasid, page, access) => this.translate(d, pasid, page, access),
      });
      this.devices.push(fn);
      this.devByRid.set(fn.rid, fn);
    });

    // IOMMU hardware + driver glue.
    const deps: IommuFrontendDeps & { invalidateDevTlb(dev: number, pasid: number, cont: Continuation): void; requestsSent(dev: number): number } = {
      sendResponse: (msg: PrgResponseMsg) => {
        this.devices[msg.dev]!.onResponse(msg);
      },
      reportFault: (dev, fault) => {
        if (this.core.canReport(dev)) return this.core.reportDeviceFault(dev, fault);
        // A front-end whose thread does not block on the device lock (SMMUv3, AMD; v6.7 only):
        // the report waits for the lock on its own and its result is not seen by the driver.
        this.core.reportDeviceFaultStep(dev, fault, { kind: this.kReportLate, a: dev, b: 0 });
        return 0;
      },
      reportFaultStep: (dev, fault, cont) => this.core.reportDeviceFaultStep(dev, fault, cont),
      discardPartial: () => {
        this.core.discardPartial(this.queue);
      },
      flushDev: (dev, pasid, cont) => {
        this.core.flushDev(dev, pasid, cont);
      },
      deviceByRid: (rid) => this.devByRid.get(rid),
      device: (dev) => this.devices[dev]!,
      priEnabledFor: (dev, pasid) => this.core.attached(dev, pasid) !== undefined && !this.tornDown.has(pairKey(dev, pasid)),
      invalidateDevTlb: (dev, pasid, cont) => {
        this.devices[dev]!.invalidate(pasid, cont);
      },
      requestsSent: (dev) => this.devices[dev]!.requestsSent,
    };
    switch (scenario.iommu.family) {
      case 'vtd':
        this.iommu = new VtdIommu(this.env, 0, deps);
        break;
      case 'smmuv3':
        this.iommu = new Smmuv3Iommu(this.env, 0, deps);
        break;
      case 'amd':
        this.iommu = new AmdIommu(this.env, 0, deps);
        break;
      case 'mock':
        this.iommu = new MockIommu(this.env);
        break;
      default:
        this.iommu = unreachable(scenario.iommu.family, 'iommu family');
    }
    const iommu = this.iommu;
    const ops: IommuDriverOps =
      opts.recordResponses === true
        ? {
            family: iommu.family,
            pageResponse: (dev, fault, resp, source) => {
              this.driverResponses.push({ t: sim.now, dev, pasid: resp.pasid, grpid: resp.grpid, code: resp.code, source });
              return iommu.pageResponse(dev, fault, resp, source);
            },
          }
        : iommu;
    for (let dev = 0; dev < this.devices.length; dev++) {
      const r = this.core.addDevice(this.queue, dev, ops);
      // The selftest's mock_ops has user_pasid_table: a PASID fault without a PASID attachment
      // goes to a nested domain attached to the RID (find_fault_handler).
      if (scenario.iommu.family === 'mock') this.core.setUserPasidTable(dev, true);
      assert(r === 0, 'world: iopf_queue_add_device failed at setup');
    }

    // Address spaces and SVA.
    this.pasids = new SvaMmPasids(new PasidAllocator());
    this.sva = new Sva(this.env, {
      core: this.core,
      pasids: this.pasids,
      maxPasids: (dev) => maxPasidsForWidth(this.devices[dev]!.pasidWidth),
      drain: (dev, pasid, cont) => {
        // The driver's remove_dev_pasid tears the PASID table entry down first
        // (intel_iommu_remove_dev_pasid → intel_pasid_tear_down_entry, then the drain): requests
        // still arriving fail the hardware's checks; what is queued is drained and reported.
        this.tornDown.add(pairKey(dev, pasid));
        this.iommu.drainPasid(dev, pasid, cont);
      },
    });
    scenario.processes.forEach((p, i) => {
      const mm = new AddressSpace(i, { maxVmaPages: 1 << 24 });
      for (const v of p.vmas) {
        const r = mm.addVma(v.start, v.size, { read: v.perms.includes('r'), write: v.perms.includes('w'), exec: v.perms.includes('x') }, v.backing);
        assert(r === 0, 'world: VMA setup failed (overlapping VMAs?)');
        if (v.prefault && mm.tryGetUser()) {
          for (let a = v.start; a < v.start + v.size; a += PAGE_SIZE) mm.handleFault(a, { read: true, write: false, exec: false, user: true });
          mm.putUser();
        }
      }
      this.mms.push(mm);
    });

    // iommufd: the context, the VMM's IOAS, fault objects with their VMMs (ids in that order).
    this.iommufd = new IommufdCtx({
      attachHandle: (dev, pasid, handle) => this.core.attach(dev, pasid, handle),
      detachHandle: (dev, pasid) => {
        this.core.detach(dev, pasid);
      },
      isPriVf: (dev) => scenario.devices[dev]!.is_vf,
      nestedOnParent: () => scenario.iommu.family === 'vtd' || scenario.iommu.family === 'mock',
      respond: (group, code, auto) => {
        this.iommufdRespond(group, code, auto);
      },
      delivered: (fault, g) => {
        // The handler runs to completion in the report path (it only queues), so its hold on
        // the group opens and closes at once; the group then waits on the fault object.
        const f = g.lastFault;
        const pasid = (f.flags & FaultFlag.PASID_VALID) !== 0 ? f.pasid : -1;
        // The hold's last field names the fault object (the `fault` of iommufd_* events): whether
        // user space still holds the group at the end depends on that object's fd
        // (LIVENESS.ALL_ANSWERED).
        const i = this.faultObjs.indexOf(fault);
        this.tracer.emit(TraceKind.HANDLER_START, g.dev, pasid, f.grpid, g.id, HandlerType.IOMMUFD, i);
        this.tracer.emit(TraceKind.HANDLER_END, g.dev, pasid, f.grpid, g.id, 0, 0);
        if (i >= 0) this.vmms[i]!.wake();
        else this.onDeliver?.(fault, g);
      },
      bugs: this.switches,
    });
    if (scenario.iommufd.faults.length > 0 || scenario.iommufd.attach.length > 0) {
      const io = this.iommufd.ioasAlloc();
      assert(io.ret === 0, 'world: IOMMU_IOAS_ALLOC failed at setup');
      this.ioasId = io.value!;
    }
    scenario.iommufd.faults.forEach((f, i) => {
      const r = this.iommufd.faultQueueAlloc(0);
      assert(r.ret === 0, 'world: IOMMU_FAULT_QUEUE_ALLOC failed at setup');
      const fobj = this.iommufd.object(r.value!.faultId) as FaultObj;
      this.faultObjs.push(fobj);
      this.faults.push(fobj.fo);
      const fd = r.value!.fd;
      this.vmms.push(new Vmm(this.env, i, fobj.fo, f, () => this.iommufd.close(fd)));
    });

    this.kArrive = sim.registerKind('link:page-request', (_a, _b, p) => {
      this.iommu.receivePageRequest(p as PageRequestMsg);
    });
    this.kAction = sim.registerKind('action', (i) => {
      this.runAction(i);
    });
    this.kUnbindQuiet = sim.registerKind('action:unbind-quiesced', (i) => {
      this.unbindQuiesced(i);
    });
    this.kUnbindDone = sim.registerKind('action:unbind-done', (i, result) => {
      const b = this.bindings[i]!;
      if (result !== 0) this.actionsFailed.push(`unbind ${this.devName(b.dev)}/${this.procName(b.proc)}: ${result}`);
      b.state = BindState.UNBOUND;
      this.tornDown.delete(pairKey(b.dev, b.pasid));
      if (b.bindAfterUnbind) {
        b.bindAfterUnbind = false;
        this.bind(b.dev, b.proc);
      }
    });
    this.kBindDone = sim.registerKind('action:bind-done', (i, result) => {
      this.bound(this.bindings[i]!, result);
    });
    this.kRemoved = sim.registerKind('action:removed', () => undefined);
    this.kFlushQuiet = sim.registerKind('action:flush-quiesced', (i, _b, p) => {
      const op = p as FlushAction;
      if (--op.waiting === 0) this.flushWhenQueueEmpty(i, op);
    });
    this.kFlushQueuePoll = sim.registerKind('action:flush-queue-poll', (i, _b, p) => {
      this.flushWhenQueueEmpty(i, p as FlushAction);
    });
    this.kFlushed = sim.registerKind('action:flush-done', (i, result) => {
      // Drivers ignore what iopf_queue_flush_dev returns; the run's summary names it.
      if (result !== 0) {
        const a = this.scenario.actions[i]!;
        this.actionsFailed.push(`flush ${'device' in a ? a.device : ''}${'process' in a && a.process !== undefined ? `/${a.process}` : ''}: ${result}`);
      }
    });
    this.kDrainThen = sim.registerKind('uapi:drain-done', (_a, _b, p) => {
      (p as () => void)();
    });
    this.kReportLate = sim.registerKind('report:late-result', () => undefined);
    this.kIommufdDrained = sim.registerKind('action:iommufd-detach-drained', (i) => {
      const b = this.bindings[i]!;
      if (b.iommufd !== undefined) this.detachIommufd(b, false, true);
    });
    this.kDestroyDrained = sim.registerKind('action:iommufd-destroy-detach-drained', (i) => {
      const b = this.bindings[i]!;
      const f = this.detachFault.get(i)!;
      if (b.iommufd !== undefined) this.detachIommufd(b, false, true);
      const left = (this.destroyWaits.get(f) ?? 1) - 1;
      if (left > 0) {
        this.destroyWaits.set(f, left);
        return;
      }
      this.destroyWaits.delete(f);
      // A replace may have put a PASID on the object while its users were being detached: the
      // VMM detaches that one too before IOMMU_DESTROY (the object has no user when it goes).
      if (this.detachUsersOf(f) > 0) return;
      this.destroyFault(f, this.scenario.iommufd.faults[f]!.name);
    });

    // Bindings for every (device, process) pair traffic or actions name.
    const pair = (dev: number, proc: number): Binding => {
      for (const b of this.bindings) if (b.dev === dev && b.proc === proc) return b;
      const b: Binding = { index: this.bindings.length, dev, proc, state: BindState.UNBOUND, pasid: -1, bindAfterUnbind: false, iommufd: undefined };
      this.bindings.push(b);
      return b;
    };
    const devIdx = new Map(scenario.devices.map((d, i) => [d.name, i]));
    const procIdx = new Map(scenario.processes.map((p, i) => [p.name, i]));
    const faultIdx = new Map(scenario.iommufd.faults.map((f, i) => [f.name, i]));
    this.devIdx = devIdx;
    this.procIdx = procIdx;
    this.faultIdx = faultIdx;
    this.pairOf = pair;

    for (const b of scenario.binds) this.bind(devIdx.get(b.device)!, procIdx.get(b.process)!);
    for (const a of scenario.iommufd.attach) {
      this.attachIommufd(devIdx.get(a.device)!, procIdx.get(a.process)!, a.fault === undefined ? -1 : faultIdx.get(a.fault)!);
    }

    scenario.workloads.forEach((w, i) => {
      const dev = devIdx.get(w.device)!;
      const proc = procIdx.get(w.process)!;
      const b = pair(dev, proc);
      const v = scenario.processes[proc]!.vmas[w.vma]!;
      const fn = this.devices[dev]!;
      const wl = new Workload(
        this.env,
        i,
        w,
        {
          dma: (id, pasid, first, pages, flags) => {
            fn.dma(id, pasid, first, pages, flags);
          },
          currentPasid: () => (b.state === BindState.BOUND ? b.pasid : null),
        },
        { firstPage: v.start / PAGE_SIZE, pages: v.size / PAGE_SIZE },
      );
      this.workloads.push(wl);
      this.workloadPair.push(b);
    });
    for (const w of this.workloads) w.start();
    scenario.actions.forEach((a, i) => {
      sim.at(a.at_ns, this.kAction, i);
    });
  }

  private readonly linkRng: Rng;
  /** Per function: arrival time of the last message on its upstream link (FIFO). */
  private readonly linkFree: number[] = [];
  private readonly devIdx: Map<string, number>;
  private readonly procIdx: Map<string, number>;
  private readonly faultIdx: Map<string, number>;
  private readonly pairOf: (dev: number, proc: number) => Binding;
  private readonly workloadPair: Binding[] = [];

  private devName(dev: number): string {
    return this.scenario.devices[dev]!.name;
  }
  private procName(proc: number): string {
    return this.scenario.processes[proc]!.name;
  }

  /** ATS: the IOMMU walks the page table of (dev, pasid): the SVA mm, or the VMM's memory. */
  private translate(dev: number, pasid: number, page: number, access: TranslateAccess): TranslateResult {
    const h = this.core.attached(dev, pasid);
    const mm = h?.mm ?? this.iommufdMm.get(pairKey(dev, pasid));
    if (mm === undefined || mm === null || mm.isFreed || mm.isExiting) return 'not-present';
    if (!mm.isPresent(page)) return 'not-present';
    const vma = mm.findVma(page * PAGE_SIZE);
    if (vma === undefined) return 'not-present';
    // A present page without the requested right is "no access" for ATS: the function asks PRI.
    if (!vma.perms.read || (access.write && !vma.perms.write) || (access.exec && !vma.perms.exec)) return 'not-present';
    return 'ok';
  }

  private bind(dev: number, proc: number): void {
    const b = this.pairOf(dev, proc);
    if (b.state === BindState.STOPPING && b.iommufd === undefined) {
      // An unbind of this pair is in progress: iommu_sva_bind_device() would wait on
      // iommu_sva_lock until it is done, then bind anew (same PASID: the mm keeps it).
      b.bindAfterUnbind = true;
      return;
    }
    const mm = this.mms[proc]!;
    // iommu_sva_lock: an unbind in progress anywhere makes the bind wait (kBindDone).
    const r = this.sva.bindStep(dev, mm, { kind: this.kBindDone, a: b.index, b: 0 });
    if (r === undefined) return;
    this.bound(b, typeof r === 'number' ? r : r.pasid);
  }

  /** iommu_sva_bind_device() returned `r` (the PASID, or -errno) for binding `b`. */
  private bound(b: Binding, r: number): void {
    if (r < 0) {
      this.actionsFailed.push(`bind ${this.devName(b.dev)}/${this.procName(b.proc)}: ${r}`);
      return;
    }
    b.pasid = r;
    b.state = BindState.BOUND;
    this.bindingByPair.set(pairKey(b.dev, r), b);
    this.devices[b.dev]!.startPasid(r);
  }

  /** The device's iommufd device object (VFIO cdev bind), bound on first use. */
  private idev(dev: number): number {
    let id = this.idevOf.get(dev);
    if (id === undefined) {
      const r = this.iommufd.bindDevice(dev);
      assert(r.ret === 0, 'world: iommufd device bind failed');
      id = r.value!;
      this.idevOf.set(dev, id);
    }
    return id;
  }

  /**
   * IOMMU_HWPT_ALLOC on the VMM's IOAS for (device object, fault index): fault-capable on that
   * fault object, or (fault < 0) a plain paging hwpt whose domain has no iopf handler. PASID
   * compatible: the world attaches hwpts to PASIDs.
   */
  private hwptFor(idevId: number, fault: number): number {
    const r = this.tryHwptFor(idevId, fault);
    assert(r.ret === 0, 'world: IOMMU_HWPT_ALLOC failed');
    return r.id;
  }

  /** Before IOMMU_DESTROY of fault object `f`: the VMM detaches every PASID still on it, each
   * through the driver's drain and flush as an iommufd_detach does; the destroy follows the last
   * (kDestroyDrained). Returns how many detaches began. */
  private detachUsersOf(f: number): number {
    let detaching = 0;
    for (const b of this.bindings) {
      if (b.iommufd?.fault !== f || b.state !== BindState.BOUND) continue;
      for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w] === b) this.workloads[w]!.stop();
      this.beginIommufdDetach(b, this.kDestroyDrained);
      detaching++;
    }
    if (detaching > 0) this.destroyWaits.set(f, (this.destroyWaits.get(f) ?? 0) + detaching);
    return detaching;
  }

  /** IOMMU_HWPT_ALLOC as a VMM may see it fail (a fault object id it destroyed: -ENOENT). */
  private tryHwptFor(idevId: number, fault: number): { ret: number; id: number } {
    const r = this.iommufd.hwptAlloc({
      deviceId: idevId,
      ptId: this.ioasId,
      flags: HwptAllocFlag.PASID | (fault >= 0 ? HwptAllocFlag.FAULT_ID_VALID : 0),
      ...(fault >= 0 ? { faultId: this.faultObjs[fault]!.id } : {}),
    });
    return { ret: r.ret, id: r.ret === 0 ? r.value! : 0 };
  }

  private attachIommufd(dev: number, proc: number, fault: number): void {
    const b = this.pairOf(dev, proc);
    const mm = this.mms[proc]!;
    const pasid = this.pasids.assign(mm, maxPasidsForWidth(this.devices[dev]!.pasidWidth));
    if (pasid < 0) {
      this.actionsFailed.push(`iommufd attach ${this.devName(dev)}/${this.procName(proc)}: ${pasid}`);
      return;
    }
    const idevId = this.idev(dev);
    const hwptId = this.hwptFor(idevId, fault);
    const r = this.iommufd.attach(idevId, hwptId, pasid);
    if (r.ret !== 0) {
      // e.g. a PRI VF refused by a fault-capable hwpt (-EINVAL): the VMM frees the hwpt.
      this.iommufd.destroy(hwptId);
      this.actionsFailed.push(`iommufd attach ${this.devName(dev)}/${this.procName(proc)}: ${r.ret}`);
      return;
    }
    mm.grab(); // the hwpt keeps the VMM's memory alive
    this.iommufdMm.set(pairKey(dev, pasid), mm);
    b.pasid = pasid;
    b.state = BindState.BOUND;
    b.iommufd = { fault, idevId, hwptId, detaching: undefined };
    this.devices[dev]!.startPasid(pasid);
    this.tracer.emit(TraceKind.BIND, dev, pasid, -1, mm.id, 0, 0);
  }

  /** Called for groups queued on a fault object no scenario VMM reads (a uAPI session's). */
  onDeliver: ((fault: FaultObj, group: IopfGroup) => void) | undefined = undefined;

  /** The fault object's host: iopf_group_response + free; SUCCESS means the VMM mapped the pages.
   * `auto`: iommufd answered (detach, replace, destroy: iommufd_auto_response_faults), not write(). */
  private iommufdRespond(group: IopfGroup, code: RespCodeValue, auto: boolean): void {
    if (code === RespCode.SUCCESS) {
      const mm = this.iommufdMm.get(pairKey(group.dev, group.lastFault.pasid));
      if (mm !== undefined && mm.tryGetUser()) {
        for (const f of group.faults) mm.handleFault(f.addr, { read: true, write: (f.perm & 2) !== 0, exec: false, user: true });
        mm.putUser();
      }
    }
    this.core.groupResponse(group, code, auto ? RespSource.IOMMUFD_AUTO : RespSource.GROUP);
    this.core.freeGroup(group);
  }

  private runAction(i: number): void {
    const a = this.scenario.actions[i]!;
    const dev = 'device' in a ? this.devIdx.get(a.device)! : -1;
    const proc = 'process' in a && a.process !== undefined ? this.procIdx.get(a.process)! : -1;
    switch (a.op) {
      case 'bind':
        this.bind(dev, proc);
        break;
      case 'unbind': {
        const b = this.pairOf(dev, proc);
        if (b.state !== BindState.BOUND || b.iommufd !== undefined) {
          this.actionsFailed.push(`unbind ${a.device}/${a.process}: not bound by SVA`);
          break;
        }
        // The device driver stops the device's use of the PASID first (Stop Marker), then unbinds.
        b.state = BindState.STOPPING;
        this.devices[dev]!.stopPasid(b.pasid, true, { kind: this.kUnbindQuiet, a: b.index, b: 0 });
        break;
      }
      case 'exit': {
        for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w]!.proc === proc) this.workloads[w]!.stop();
        this.sva.mmExit(this.mms[proc]!);
        break;
      }
      case 'pri_disable':
        this.devices[dev]!.priControl('disable');
        break;
      case 'pri_enable':
        this.devices[dev]!.priControl('enable');
        break;
      case 'pri_reset':
        // pci_reset_pri(): refused while PRI is enabled (WARN_ON(pdev->pri_enabled), -EBUSY) —
        // a reset under traffic would let the function reuse PRG indices the host still holds.
        if (this.devices[dev]!.priEnabled) this.actionsFailed.push(`pri_reset ${a.device}: ${err('EBUSY')} (PRI enabled)`);
        else this.devices[dev]!.priControl('reset');
        break;
      case 'remove_device': {
        for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w]!.dev === dev) this.workloads[w]!.stop();
        // The caller stops the function's page requests first (intel_iommu_disable_iopf:
        // pci_disable_pri, then iopf_queue_remove_device; the kernel-doc of the latter asks for
        // PRI reception off and the queues drained): requests already sent still arrive.
        this.devices[dev]!.priControl('disable');
        if (this.iommu instanceof Smmuv3Iommu) this.iommu.terminateStalls(dev);
        this.core.removeDeviceStep(this.queue, dev, { kind: this.kRemoved, a: dev, b: 0 });
        break;
      }
      case 'flush': {
        // A driver's own iopf_queue_flush_dev(dev, pasid), outside any detach: the PASID of the
        // pair's attachment (SVA bind or iommufd), or the whole device without a process. As its
        // callers must (linux-iopf §5: new faults stopped, the hardware queue drained), the device
        // driver first stops the function's use of what it flushes — its DMA stops, and the stop
        // protocol the model's unbind uses waits for the function's outstanding page requests
        // (PCIe 6.0 §10.4.1.2) — and only then flushes. What the flush can still find is what the
        // function no longer waits for: partial faults of groups that never completed (a last
        // request the hardware dropped), and the faults of other PASIDs.
        const pasids: number[] = [];
        if (proc >= 0) {
          const b = this.pairOf(dev, proc);
          if (b.state !== BindState.BOUND) {
            this.actionsFailed.push(`flush ${a.device}/${a.process ?? ''}: no PASID attached`);
            break;
          }
          pasids.push(b.pasid);
          for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w] === b) this.workloads[w]!.stop();
        } else {
          // Every PASID the device may still send under: attached ones, ones whose unbind is
          // still stopping (their requests may be on the link or in the queue), and ones already
          // detached whose accesses the function still carries on (an iommufd detach does not stop
          // the function: its requests fail the hardware's checks or find no handler).
          for (const b of this.bindings) if (b.dev === dev && b.state !== BindState.UNBOUND && !pasids.includes(b.pasid)) pasids.push(b.pasid);
          for (const p of this.devices[dev]!.pasidsInUse()) if (p >= 0 && !pasids.includes(p)) pasids.push(p);
          pasids.push(-1);
          for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w]!.dev === dev) this.workloads[w]!.stop();
        }
        const op: FlushAction = { dev, pasid: proc >= 0 ? pasids[0]! : -1, waiting: pasids.length, pasids, polls: 0 };
        for (const p of pasids) {
          // A PASID whose unbind is stopping it gets its Stop Marker from that unbind; one no
          // longer attached gets none (the function only finishes what it has outstanding).
          const stopping = this.bindings.some((b) => b.dev === dev && b.pasid === p && b.state === BindState.STOPPING);
          const bound = this.bindings.some((b) => b.dev === dev && b.pasid === p && b.state === BindState.BOUND);
          this.devices[dev]!.stopPasid(p, bound && !stopping, { kind: this.kFlushQuiet, a: i, b: 0, payload: op });
        }
        break;
      }
      case 'iommufd_close':
        this.vmms[this.faultIdx.get(a.fault)!]!.close();
        break;
      case 'iommufd_destroy': {
        const f = this.faultIdx.get(a.fault)!;
        const fobj = this.faultObjs[f]!;
        // IOMMU_DESTROY while the fd still holds its reference is -EBUSY: refuse before touching
        // the attachments, so a failed destroy changes nothing.
        if (fobj.fd >= 0) {
          this.actionsFailed.push(`iommufd_destroy ${a.fault}: ${err('EBUSY')} (fd open)`);
          break;
        }
        // No hwpt may use the object any more: the VMM detaches what still does first, each
        // through the driver's drain and flush of the PASID as an iommufd_detach does (a detach
        // without them leaves the PASID's partial faults listed, and a later group of another
        // PASID on the same PRG index gathers them: CORE.GROUP.ONE_PASID), then destroys.
        if (this.detachUsersOf(f) === 0) this.destroyFault(f, a.fault);
        break;
      }
      case 'iommufd_detach': {
        const b = this.pairOf(dev, proc);
        if (b.iommufd === undefined || b.state !== BindState.BOUND) {
          this.actionsFailed.push(`iommufd_detach ${a.device}/${a.process}: not attached`);
          break;
        }
        // iommu_detach_device_pasid() → the driver's remove_dev_pasid drains the PASID's page
        // requests and flushes the fault queue for it (VT-d intel_drain_pasid_prq(), which the
        // seed changes to iopf_queue_flush_dev(dev, pasid)) before iommufd auto-responds.
        // The PASID entry goes first (intel_pasid_tear_down_entry): requests still coming are
        // refused by the hardware's checks. The attach handle stays until the driver returns, so
        // what the queue still holds is reported to the handler as usual while the drain waits.
        for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w] === b) this.workloads[w]!.stop();
        this.beginIommufdDetach(b, this.kIommufdDrained);
        break;
      }
      case 'iommufd_replace': {
        const b = this.pairOf(dev, proc);
        const target = a.fault === undefined ? undefined : a.fault === null ? -1 : this.faultIdx.get(a.fault)!;
        if (b.iommufd === undefined || b.iommufd.fault < 0 || b.state !== BindState.BOUND) this.actionsFailed.push(`iommufd_replace ${a.device}/${a.process}: not attached to a fault object`);
        else this.replaceIommufd(b, target ?? b.iommufd.fault);
        break;
      }
      default:
        unreachable(a, 'action');
    }
  }

  /**
   * The function is quiet, but what it sent may still sit in the IOMMU's queue (a PRQ the thread
   * has not read, a small SMMUv3 PRIQ): a caller of iopf_queue_flush_dev drains the hardware queue
   * first (linux-iopf §5), so the flush waits until the driver has reported all of it. No drain
   * teardown is traced: a standalone flush leaves the PASID attached.
   */
  private flushWhenQueueEmpty(i: number, op: FlushAction): void {
    let holds = false;
    for (const x of op.pasids) if (this.iommu.holdsRequests(op.dev, x)) holds = true;
    if (holds && op.polls < FLUSH_QUEUE_MAX_POLLS) {
      op.polls++;
      this.sim.after(FLUSH_QUEUE_POLL_NS, this.kFlushQueuePoll, i, 0, op);
      return;
    }
    this.core.flushDev(op.dev, op.pasid, { kind: this.kFlushed, a: i, b: 0 });
  }

  /** Start an iommufd detach of `b`: the handle's teardown begins, the driver drains the PASID;
   * `kind` continues with the binding's index once it is drained. */
  private beginIommufdDetach(b: Binding, kind: number): void {
    const d = this.iommufd.detachBegin(b.iommufd!.idevId, b.pasid);
    assert(d.ret === 0 && d.pending !== undefined, 'world: iommufd detach of an attachment the context does not know');
    b.iommufd!.detaching = d.pending;
    b.state = BindState.STOPPING;
    this.tornDown.add(pairKey(b.dev, b.pasid));
    this.detachFault.set(b.index, b.iommufd!.fault);
    this.iommu.drainPasid(b.dev, b.pasid, { kind, a: b.index, b: 0 });
  }

  /** IOMMU_DESTROY of fault object `f` once no hwpt uses it (iommufd_fault_destroy answers what is left). */
  private destroyFault(f: number, name: string): void {
    const r = this.iommufd.destroy(this.faultObjs[f]!.id);
    if (r !== 0) this.actionsFailed.push(`iommufd_destroy ${name}: ${r}`);
    else this.tracer.emit(TraceKind.IOMMUFD_LIFECYCLE, -1, -1, -1, f, 1, 0);
  }

  /**
   * IOMMU_HWPT_REPLACE (iommufd_device_replace) of the attachment's fault-capable hwpt by a new
   * hwpt on fault object `target` (-1: a hwpt without one): the new handle takes the PASID in one
   * step (no request slips between), then iommufd_auto_response_faults() answers the old handle's
   * groups INVALID — or, with bug iommufd-replace-new-hwpt, looks for them on the new hwpt's fault
   * object and leaves them unanswered unless that is the same one. The VMM frees the old hwpt.
   * Traffic goes on through the new handle.
   */
  private replaceIommufd(b: Binding, target: number): void {
    const att = b.iommufd!;
    const alloc = this.tryHwptFor(att.idevId, target);
    if (alloc.ret !== 0) {
      // The VMM names a fault object it already destroyed: its IOMMU_HWPT_ALLOC fails and the
      // attachment stays as it was.
      this.actionsFailed.push(`iommufd_replace ${this.devName(b.dev)}: IOMMU_HWPT_ALLOC ${alloc.ret}`);
      return;
    }
    const hwptId = alloc.id;
    const r = this.iommufd.replace(att.idevId, hwptId, b.pasid);
    assert(r.ret === 0, 'world: iommufd replace failed');
    const d = this.iommufd.destroy(att.hwptId);
    assert(d === 0, 'world: the replaced hwpt is still in use');
    this.tracer.emit(TraceKind.IOMMUFD_LIFECYCLE, b.dev, b.pasid, -1, att.fault, 3, 0);
    b.iommufd = { fault: target, idevId: att.idevId, hwptId, detaching: undefined };
  }

  /** iommufd detach: the handle goes (new requests fail the hardware's checks), then every group
   * of the attachment — queued or awaiting a response — is answered INVALID (reference §9); the
   * VMM frees the hwpt. */
  private detachIommufd(b: Binding, stopTraffic: boolean, drained = false): void {
    const att = b.iommufd!;
    if (stopTraffic) for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w] === b) this.workloads[w]!.stop();
    b.state = BindState.UNBOUND;
    let pending = att.detaching;
    if (pending === undefined) {
      const d = this.iommufd.detachBegin(att.idevId, b.pasid);
      assert(d.ret === 0 && d.pending !== undefined, 'world: iommufd detach of an attachment the context does not know');
      pending = d.pending;
    }
    this.tornDown.delete(pairKey(b.dev, b.pasid));
    this.iommufdMm.delete(pairKey(b.dev, b.pasid));
    // The seed predates iommufd's auto-response: its iopf_queue_flush_dev(dev, pasid) in the
    // drain is what answers the groups user space still holds ("iommufd responses [are]
    // received after this flush", seed thread); user space's own answers then come late.
    this.iommufd.detachFinish(pending, !(drained && this.switches.has(Forms.NO_IOMMUFD_AUTO_RESPONSE)));
    const d = this.iommufd.destroy(att.hwptId);
    assert(d === 0, 'world: the detached hwpt is still in use');
    this.tracer.emit(TraceKind.IOMMUFD_LIFECYCLE, b.dev, b.pasid, -1, att.fault, 2, 0);
    this.tracer.emit(TraceKind.UNBIND, b.dev, b.pasid, -1, this.mms[b.proc]!.id, 0, 0);
    b.iommufd = undefined;
    this.mms[b.proc]!.drop();
  }

  private unbindQuiesced(i: number): void {
    const b = this.bindings[i]!;
    // The traffic that was using the PASID ends; workloads of the pair that start later run on a
    // later bind (while unbound their accesses are skipped).
    for (let w = 0; w < this.workloads.length; w++) {
      if (this.workloadPair[w] === b && this.workloads[w]!.cfg.start_ns <= this.sim.now) this.workloads[w]!.stop();
    }
    this.sva.unbind(b.dev, this.mms[b.proc]!, { kind: this.kUnbindDone, a: i, b: 0 });
  }

  /** The driver's per-PASID drain (remove_dev_pasid), then `then` (a uAPI detach's second half). */
  drainThen(dev: number, pasid: number, then: () => void): void {
    this.iommu.drainPasid(dev, pasid, { kind: this.kDrainThen, a: 0, b: 0, payload: then });
  }

  /** Run to the end (or `untilNs`). */
  run(untilNs?: number): ReturnType<Sim['run']> {
    return this.sim.run(untilNs === undefined ? {} : { maxTimeNs: untilNs });
  }

  /** The scheduling choices made (when recorded). */
  choices(): number[] | undefined {
    return this.chooser instanceof RandomChooser ? this.chooser.recorded : undefined;
  }
}
