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
import { err, type KResult } from '../sim/errno.js';
import { Tracer, type TraceSink } from '../trace/tracer.js';
import { HandlerType, RespSource, TraceKind } from '../trace/events.js';
import type { Scenario, Ratio } from '../scenario/schema.js';
import { Metrics } from '../report/metrics.js';
import { compileLatencies, type ModelEnv } from './env.js';
import { PciFunction, type TranslateAccess, type TranslateResult } from '../pcie/function.js';
import type { PageRequestMsg, PrgResponseMsg } from '../pcie/messages.js';
import type { IommuFrontend, IommuFrontendDeps } from '../iommu/frontend.js';
import { VtdIommu } from '../iommu/vtd/index.js';
import { Smmuv3Iommu } from '../iommu/smmuv3/index.js';
import { AmdIommu } from '../iommu/amd/index.js';
import { IopfCore, type KernelProfile } from '../iopf/core.js';
import type { IopfQueue } from '../iopf/fault-param.js';
import type { AttachHandle, IopfDomain, IopfGroup } from '../iopf/group.js';
import { FaultFlag, RespCode, type RespCodeValue } from '../iopf/types.js';
import { Sva } from '../handlers/sva/sva.js';
import { SvaMmPasids, PasidAllocator, maxPasidsForWidth } from '../handlers/sva/pasid-allocator.js';
import { FaultObject } from '../handlers/iommufd/fault-object.js';
import { Vmm } from '../handlers/iommufd/vmm.js';
import { AddressSpace, PAGE_SIZE } from '../mm/address-space.js';
import { Workload } from '../workload/index.js';

export interface WorldOptions {
  seed: number;
  /** Known-bug variants in addition to the scenario's. */
  bugs?: readonly string[];
  chooser?: Chooser;
  /** Record every scheduling choice (for `iopf replay`). */
  recordChoices?: boolean;
  maxEvents?: number;
  /** Extra trace sinks (checker, writers). Added before the run. */
  sinks?: readonly TraceSink[];
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
  /** iommufd attachment (fault object index, or -1 for a paging hwpt without fault), else undefined. */
  iommufd: { fault: number; attachId: number } | undefined;
}

/** An iommufd domain: fault-capable (handler queues on the fault object) or not. */
class IommufdDomain implements IopfDomain {
  readonly type = 'iommufd';
  iopfHandler: ((g: IopfGroup) => KResult) | undefined;
  constructor(
    readonly id: number,
    handler: ((g: IopfGroup) => KResult) | undefined,
  ) {
    this.iopfHandler = handler;
  }
}

const pairKey = (dev: number, pasid: number): number => dev * 2_097_152 + pasid + 1;

export class World {
  readonly sim: Sim;
  readonly tracer: Tracer;
  readonly metrics = new Metrics();
  readonly env: ModelEnv;
  readonly bugs: ReadonlySet<string>;
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
  private readonly kRemoved: number;
  private readonly kReportLate: number;
  private readonly kIommufdDrained: number;
  private readonly chooser: Chooser;
  readonly actionsFailed: string[] = [];
  private nextAttachId = 1;
  private nextDomainId = 1;

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
    const sim = this.sim;
    const chooser = this.chooser;
    this.env = {
      sim,
      tracer: this.tracer,
      scenario,
      latency: compileLatencies(scenario.latency),
      metrics: this.metrics,
      bugs: this.bugs,
      stream: (name) => sim.stream(name),
      faultSite: (p: Ratio) => (p.num === 0 ? false : chooser.chance(p.num, p.den)),
    };
    for (const s of opts.sinks ?? []) this.tracer.addSink(s);

    // iopf core: the kernel profile decides flush and error-response semantics (reference §0, §3, §5).
    const profile: KernelProfile = scenario.kernel;
    this.core = new IopfCore(this.env, {
      profile,
      // The seed's flush answers the PASID's pending groups; mainline and v6.7 only wait for the
      // workqueue (mainline answers iommufd leftovers on detach instead). flush-ignores-pasid puts
      // the pre-seed flush into the seed profile.
      flushSemantics: profile === 'seed' && !this.bugs.has('flush-ignores-pasid') ? 'seed' : 'workqueue',
      // Mainline answers every request of a PASID without handler (observation a); the bug switch
      // forces it into the other profiles.
      errorResponsePerRequest: profile === 'mainline' || this.bugs.has('error-response-per-request'),
    });
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
      default:
        this.iommu = unreachable(scenario.iommu.family, 'iommu family');
    }
    for (let dev = 0; dev < this.devices.length; dev++) {
      const r = this.core.addDevice(this.queue, dev, this.iommu);
      assert(r === 0, 'world: iopf_queue_add_device failed at setup');
    }

    // Address spaces and SVA.
    this.pasids = new SvaMmPasids(new PasidAllocator());
    this.sva = new Sva(this.env, {
      core: this.core,
      pasids: this.pasids,
      maxPasids: (dev) => maxPasidsForWidth(this.devices[dev]!.pasidWidth),
      drain: (dev, pasid, cont) => {
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

    // iommufd fault objects, their VMMs, and the attachments.
    scenario.iommufd.faults.forEach((f, i) => {
      const fo = new FaultObject<IopfGroup>(
        {
          respond: (group, code) => {
            this.iommufdRespond(group, code);
          },
        },
        { writeCountBug: this.bugs.has('iommufd-write-count'), acceptsFailure: this.bugs.has('iommufd-accepts-failure') },
      );
      this.faults.push(fo);
      this.vmms.push(new Vmm(this.env, i, fo, f));
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
      if (b.bindAfterUnbind) {
        b.bindAfterUnbind = false;
        this.bind(b.dev, b.proc);
      }
    });
    this.kRemoved = sim.registerKind('action:removed', () => undefined);
    this.kReportLate = sim.registerKind('report:late-result', () => undefined);
    this.kIommufdDrained = sim.registerKind('action:iommufd-detach-drained', (i) => {
      const b = this.bindings[i]!;
      if (b.iommufd !== undefined) this.detachIommufd(b, false, true);
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
    const r = this.sva.bind(dev, mm);
    if (typeof r === 'number') {
      this.actionsFailed.push(`bind ${this.devName(dev)}/${this.procName(proc)}: ${r}`);
      return;
    }
    b.pasid = r.pasid;
    b.state = BindState.BOUND;
    this.bindingByPair.set(pairKey(dev, r.pasid), b);
    this.devices[dev]!.startPasid(r.pasid);
  }

  private attachIommufd(dev: number, proc: number, fault: number): void {
    const b = this.pairOf(dev, proc);
    const mm = this.mms[proc]!;
    const pasid = this.pasids.assign(mm, maxPasidsForWidth(this.devices[dev]!.pasidWidth));
    if (pasid < 0) {
      this.actionsFailed.push(`iommufd attach ${this.devName(dev)}/${this.procName(proc)}: ${pasid}`);
      return;
    }
    mm.grab(); // the hwpt keeps the VMM's memory alive
    const handle = this.iommufdHandle(dev, fault);
    if (fault >= 0) this.faults[fault]!.addHwptUser();
    const r = this.core.attach(dev, pasid, handle);
    assert(r === 0, 'world: iommufd attach on an occupied PASID');
    this.iommufdMm.set(pairKey(dev, pasid), mm);
    b.pasid = pasid;
    b.state = BindState.BOUND;
    b.iommufd = { fault, attachId: handle.id };
    this.devices[dev]!.startPasid(pasid);
    this.tracer.emit(TraceKind.BIND, dev, pasid, -1, mm.id, 0, 0);
  }

  /**
   * A new attach handle on an iommufd hwpt: fault-capable on fault object `fault` (its domain's
   * iopf handler is iommufd_fault_iopf_handler: queue the group, wake the reader, return 0), or a
   * plain paging hwpt (fault < 0) whose domain has no iopf handler.
   */
  private iommufdHandle(dev: number, fault: number): AttachHandle {
    const attachId = this.nextAttachId++;
    const fo = fault >= 0 ? this.faults[fault]! : undefined;
    const vmm = fault >= 0 ? this.vmms[fault]! : undefined;
    const domain = new IommufdDomain(
      this.nextDomainId++,
      fo === undefined || vmm === undefined
        ? undefined
        : (g: IopfGroup) => {
            // The handler runs to completion in the report path (it only queues), so its hold on
            // the group opens and closes at once; the group then waits on the fault object.
            const f = g.lastFault;
            const pasid = (f.flags & FaultFlag.PASID_VALID) !== 0 ? f.pasid : -1;
            this.tracer.emit(TraceKind.HANDLER_START, g.dev, pasid, f.grpid, g.id, HandlerType.IOMMUFD, -1);
            fo.deliver(g);
            this.tracer.emit(TraceKind.HANDLER_END, g.dev, pasid, f.grpid, g.id, 0, 0);
            vmm.wake();
            return 0;
          },
    );
    return { id: attachId, domain, mm: null, devId: dev };
  }

  /**
   * Set while the world runs an iommufd teardown (detach, replace, destroy): every response the
   * fault object sends meanwhile is an auto-response (iommufd_auto_response_faults), not a write().
   */
  private iommufdAuto = false;

  private iommufdTeardown<T>(fn: () => T): T {
    assert(!this.iommufdAuto, 'world: nested iommufd teardown');
    this.iommufdAuto = true;
    try {
      return fn();
    } finally {
      this.iommufdAuto = false;
    }
  }

  /** The fault object's host: iopf_group_response + free; SUCCESS means the VMM mapped the pages. */
  private iommufdRespond(group: IopfGroup, code: RespCodeValue): void {
    if (code === RespCode.SUCCESS) {
      const mm = this.iommufdMm.get(pairKey(group.dev, group.lastFault.pasid));
      if (mm !== undefined && mm.tryGetUser()) {
        for (const f of group.faults) mm.handleFault(f.addr, { read: true, write: (f.perm & 2) !== 0, exec: false, user: true });
        mm.putUser();
      }
    }
    this.core.groupResponse(group, code, this.iommufdAuto ? RespSource.IOMMUFD_AUTO : RespSource.GROUP);
    this.core.freeGroup(group);
  }

  private runAction(i: number): void {
    const a = this.scenario.actions[i]!;
    const dev = 'device' in a ? this.devIdx.get(a.device)! : -1;
    const proc = 'process' in a ? this.procIdx.get(a.process)! : -1;
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
        this.devices[dev]!.priControl('reset');
        break;
      case 'remove_device': {
        for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w]!.dev === dev) this.workloads[w]!.stop();
        if (this.iommu instanceof Smmuv3Iommu) this.iommu.terminateStalls(dev);
        this.core.removeDeviceStep(this.queue, dev, { kind: this.kRemoved, a: dev, b: 0 });
        break;
      }
      case 'iommufd_close':
        this.vmms[this.faultIdx.get(a.fault)!]!.close();
        break;
      case 'iommufd_destroy': {
        const f = this.faultIdx.get(a.fault)!;
        const fo = this.faults[f]!;
        // IOMMU_DESTROY while the fd still holds its reference is -EBUSY: refuse before touching
        // the attachments, so a failed destroy changes nothing.
        if (!fo.isClosed() && !fo.isDestroyed()) {
          this.actionsFailed.push(`iommufd_destroy ${a.fault}: ${err('EBUSY')} (fd open)`);
          break;
        }
        // No hwpt may use the object any more: detach what still does (as the VMM would).
        for (const b of this.bindings) if (b.iommufd?.fault === f && b.state === BindState.BOUND) this.detachIommufd(b, false);
        const r = this.iommufdTeardown(() => fo.destroy());
        if (r !== 0) this.actionsFailed.push(`iommufd_destroy ${a.fault}: ${r}`);
        else this.tracer.emit(TraceKind.IOMMUFD_LIFECYCLE, -1, -1, -1, f, 1, 0);
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
        b.state = BindState.STOPPING;
        this.tornDown.add(pairKey(dev, b.pasid));
        this.iommu.drainPasid(dev, b.pasid, { kind: this.kIommufdDrained, a: b.index, b: 0 });
        break;
      }
      case 'iommufd_replace': {
        const b = this.pairOf(dev, proc);
        if (b.iommufd === undefined || b.iommufd.fault < 0 || b.state !== BindState.BOUND) this.actionsFailed.push(`iommufd_replace ${a.device}/${a.process}: not attached to a fault object`);
        else this.replaceIommufd(b);
        break;
      }
      default:
        unreachable(a, 'action');
    }
  }

  /**
   * IOMMU_HWPT_REPLACE of the attachment's fault-capable hwpt by a new one on the same fault
   * object (iommufd_fault_domain_replace_dev): the new handle takes the PASID in one step (no
   * request slips between), then the old handle's groups — queued or awaiting a response — are
   * answered INVALID. Traffic goes on through the new handle.
   */
  private replaceIommufd(b: Binding): void {
    const att = b.iommufd!;
    const fo = this.faults[att.fault]!;
    const handle = this.iommufdHandle(b.dev, att.fault);
    fo.addHwptUser();
    const old = this.core.detach(b.dev, b.pasid);
    assert(old?.id === att.attachId, 'world: iommufd replace of a PASID attached elsewhere');
    const r = this.core.attach(b.dev, b.pasid, handle);
    assert(r === 0, 'world: iommufd replace: attach failed');
    b.iommufd = { fault: att.fault, attachId: handle.id };
    this.iommufdTeardown(() => fo.replace(att.attachId));
    fo.removeHwptUser();
    this.tracer.emit(TraceKind.IOMMUFD_LIFECYCLE, b.dev, b.pasid, -1, att.fault, 3, 0);
  }

  /** iommufd detach: the handle goes (new requests fail the hardware's checks), then every group
   * of the attachment — queued or awaiting a response — is answered INVALID (reference §9). */
  private detachIommufd(b: Binding, stopTraffic: boolean, drained = false): void {
    const att = b.iommufd!;
    if (stopTraffic) for (let w = 0; w < this.workloads.length; w++) if (this.workloadPair[w] === b) this.workloads[w]!.stop();
    b.state = BindState.UNBOUND;
    this.core.detach(b.dev, b.pasid);
    this.tornDown.delete(pairKey(b.dev, b.pasid));
    this.iommufdMm.delete(pairKey(b.dev, b.pasid));
    if (att.fault >= 0) {
      // The seed predates iommufd's auto-response: its iopf_queue_flush_dev(dev, pasid) in the
      // drain is what answers the groups user space still holds ("iommufd responses [are]
      // received after this flush", seed thread); user space's own answers then come late.
      if (!(drained && this.scenario.kernel === 'seed')) {
        const fo = this.faults[att.fault]!;
        this.iommufdTeardown(() => fo.detach(att.attachId));
      }
      this.faults[att.fault]!.removeHwptUser();
    }
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

  /** Run to the end (or `untilNs`). */
  run(untilNs?: number): ReturnType<Sim['run']> {
    return this.sim.run(untilNs === undefined ? {} : { maxTimeNs: untilNs });
  }

  /** The scheduling choices made (when recorded). */
  choices(): number[] | undefined {
    return this.chooser instanceof RandomChooser ? this.chooser.recorded : undefined;
  }
}
