/**
 * The VT-d page request queue as hardware (reference §2.1–§2.3; VT-d spec ch. 7): a ring of
 * 2^(X+7) 32-byte page request descriptors in memory (a Uint8Array written with the codec), the
 * PQH/PQT registers, and the PRS status bits PPR and PRO.
 *
 * - VTD.PRQ.FULL_N_MINUS_1: full when advancing the tail would reach the head (N−1 usable).
 * - VTD.PRQ.OVERFLOW / OVERFLOW_AUTORESP: a request arriving at a full queue (or, unless
 *   `write_while_pro`, while PRO is set) is dropped, PRO is set, and a dropped L=1 request that is
 *   not a Stop Marker gets a hardware Success response so the device retries.
 * - VTD.PRQ.FAULT_AUTORESP: a request for a context/PASID without PRI enabled is not queued; L=1
 *   gets a hardware Invalid Request response (a Stop Marker gets nothing: HOST.STOP.NO_RESPONSE).
 * - VTD.PRQ.EVENT: writing an entry raises the page request event only when PPR and PRO are both
 *   clear, and sets PPR.
 */
import { assert } from '../../sim/assert.js';
import type { Rng } from '../../sim/random.js';
import type { ModelEnv } from '../../model/env.js';
import type { IommuFrontendDeps } from '../frontend.js';
import type { PageRequestMsg, PrgResponseMsg } from '../../pcie/messages.js';
import { TraceKind, PrFlag, PciRespCode } from '../../trace/events.js';
import { VTD_DESC_SIZE, emptyPageRequest, encodePageRequestInto, decodePageRequestInto, type VtdPageRequestDesc } from './codec.js';

/** Register offsets (reference §2.1). */
export const VtdPrqReg = { PQH: 0xc0, PQT: 0xc8, PQA: 0xd0, PRS: 0xdc } as const;
/** PRS bits (W1C). */
export const VtdPrsBit = { PPR: 0x1, PRO: 0x2 } as const;

/** Whether a response to a request of `dev` carries the request's PASID (seed's fix vs mainline). */
export function responseCarriesPasid(
  env: ModelEnv,
  requestHadPasid: boolean,
  deviceRequiresPasid: boolean,
): boolean {
  if (!requestHadPasid) return false;
  if (env.scenario.iommu.vtd.response_pasid === 'request' || env.switches.has('vtd-response-pasid-always'))
    return true;
  return deviceRequiresPasid;
}

export class VtdPrq {
  /** Entries in the ring: 2^(prq_order + 7). */
  readonly entries: number;
  /** The queue memory (PQA points here). */
  readonly ring: Uint8Array;
  /** Indices (the registers hold index << 5). */
  head = 0;
  tail = 0;
  ppr = false;
  pro = false;
  /** Model-only side data per slot: which message (trace `req`) and device wrote it. */
  readonly reqIdAt: Float64Array;
  readonly devAt: Int32Array;
  /** Page requests received per device (for Page-Drain: all received before completion are in). */
  private readonly received = new Map<number, number>();
  private readonly scratch: VtdPageRequestDesc = emptyPageRequest();
  private readonly rng: Rng;
  private readonly kAutoResp: number;
  private readonly writeWhilePro: boolean;

  readonly stats = {
    prq_entries_max: 0,
    written: 0,
    drops: 0,
    auto_responses: 0,
    overflows: 0,
    fault_autoresp: 0,
    stop_markers_dropped: 0,
  };

  constructor(
    private readonly env: ModelEnv,
    readonly iommuIndex: number,
    private readonly deps: IommuFrontendDeps,
    /** Page request event (the interrupt): the driver's thread should run. */
    private readonly raiseEvent: () => void,
  ) {
    const order = env.scenario.iommu.vtd.prq_order;
    assert(Number.isInteger(order) && order >= 0 && order <= 7, 'VtdPrq: prq_order out of range');
    this.entries = 2 ** (order + 7);
    this.ring = new Uint8Array(this.entries * VTD_DESC_SIZE);
    this.reqIdAt = new Float64Array(this.entries);
    this.devAt = new Int32Array(this.entries);
    this.writeWhilePro = env.scenario.iommu.vtd.write_while_pro;
    this.rng = env.stream(`vtd${iommuIndex}:hw`);
    this.kAutoResp = env.sim.registerKind(`vtd${iommuIndex}:hw-autoresp`, (_a, _b, p) => {
      this.deps.sendResponse(p as PrgResponseMsg);
    });
  }

  /** Entries written and not yet consumed (head → tail). */
  get depth(): number {
    return (this.tail - this.head + this.entries) % this.entries;
  }

  get full(): boolean {
    return (this.tail + 1) % this.entries === this.head;
  }

  /** Register images. */
  get pqh(): number {
    return this.head * VTD_DESC_SIZE;
  }
  get pqt(): number {
    return this.tail * VTD_DESC_SIZE;
  }
  get prs(): number {
    return (this.ppr ? VtdPrsBit.PPR : 0) | (this.pro ? VtdPrsBit.PRO : 0);
  }

  /** Software writes PRS (W1C). */
  writePrs(value: number): void {
    if ((value & VtdPrsBit.PPR) !== 0) this.ppr = false;
    if ((value & VtdPrsBit.PRO) !== 0 && this.pro) {
      this.pro = false;
      this.env.tracer.emit(TraceKind.QUEUE_OVERFLOW, 0, 0, 0, 0, this.iommuIndex, 0);
    }
  }

  /** Software writes PQH (an index here). */
  writeHead(index: number): void {
    assert(
      Number.isInteger(index) && index >= 0 && index < this.entries,
      'VtdPrq.writeHead: index out of range',
    );
    this.head = index;
  }

  receivedFrom(dev: number): number {
    return this.received.get(dev) ?? 0;
  }

  /** Byte offset of entry `index` in the ring. */
  offsetOf(index: number): number {
    return index * VTD_DESC_SIZE;
  }

  /** A page request (or Stop Marker) arrives from the root port. */
  receive(msg: PageRequestMsg): void {
    this.received.set(msg.dev, (this.received.get(msg.dev) ?? 0) + 1);
    const tr = this.env.tracer;
    const last = (msg.flags & PrFlag.LAST) !== 0;
    // Hardware checks first (VTD.PRQ.FAULT_AUTORESP): PRI must be enabled for the context/PASID.
    const known = this.deps.deviceByRid(msg.rid) !== undefined;
    if (known && !this.deps.priEnabledFor(msg.dev, msg.pasid)) {
      this.stats.drops++;
      this.stats.fault_autoresp++;
      tr.emit(TraceKind.QUEUE_DROP, msg.dev, msg.pasid, msg.prgi, msg.reqId, this.iommuIndex, msg.flags);
      if (last && !msg.stopMarker) this.autoRespond(msg, PciRespCode.INVALID);
      return;
    }
    if (this.full || (this.pro && !this.writeWhilePro)) {
      // VTD.PRQ.OVERFLOW: not written; PRO set.
      this.stats.drops++;
      if (!this.pro) {
        this.pro = true;
        this.stats.overflows++;
        tr.emit(TraceKind.QUEUE_OVERFLOW, 0, 0, 0, 0, this.iommuIndex, 1);
      }
      tr.emit(TraceKind.QUEUE_DROP, msg.dev, msg.pasid, msg.prgi, msg.reqId, this.iommuIndex, msg.flags);
      if (msg.stopMarker) this.stats.stop_markers_dropped++;
      // VTD.PRQ.OVERFLOW_AUTORESP: the dropped group's last request is answered Success.
      else if (last) this.autoRespond(msg, PciRespCode.SUCCESS);
      return;
    }
    const d = this.scratch;
    d.rid = msg.rid;
    d.pasidPresent = msg.pasid >= 0;
    d.privDataPresent = false;
    d.pasid = msg.pasid >= 0 ? msg.pasid : 0;
    d.execReq = (msg.flags & PrFlag.EXEC) !== 0;
    d.privReq = (msg.flags & PrFlag.PRIV) !== 0;
    d.read = (msg.flags & PrFlag.READ) !== 0;
    d.write = (msg.flags & PrFlag.WRITE) !== 0;
    d.lpig = last;
    d.prgIndex = msg.prgi;
    d.pageNum = msg.page;
    const t = this.tail;
    encodePageRequestInto(d, this.ring, t * VTD_DESC_SIZE);
    this.reqIdAt[t] = msg.reqId;
    this.devAt[t] = msg.dev;
    this.tail = (t + 1) % this.entries;
    this.stats.written++;
    const depth = this.depth;
    if (depth > this.stats.prq_entries_max) this.stats.prq_entries_max = depth;
    tr.emit(TraceKind.QUEUE_WRITE, msg.dev, msg.pasid, msg.prgi, msg.reqId, this.iommuIndex, depth);
    // VTD.PRQ.EVENT: an interrupt only on the PPR 0→1 edge with PRO clear.
    if (!this.ppr && !this.pro) {
      this.ppr = true;
      this.raiseEvent();
    }
  }

  /**
   * A raw 32-byte page request descriptor written at the tail as the hardware would write it (for
   * byte-level vectors), bypassing the hardware's own checks. `dev` is the function its requester
   * ID names. Returns false when the queue is full (nothing written, PRO left alone).
   */
  writeRaw(bytes: Uint8Array, reqId: number, dev: number): boolean {
    assert(bytes.length === VTD_DESC_SIZE, 'VtdPrq.writeRaw: a page request descriptor is 32 bytes');
    if (this.full) return false;
    const t = this.tail;
    this.ring.set(bytes, t * VTD_DESC_SIZE);
    this.reqIdAt[t] = reqId;
    this.devAt[t] = dev;
    this.tail = (t + 1) % this.entries;
    this.stats.written++;
    const depth = this.depth;
    if (depth > this.stats.prq_entries_max) this.stats.prq_entries_max = depth;
    const d = decodePageRequestInto(bytes, 0, this.scratch);
    this.env.tracer.emit(TraceKind.QUEUE_WRITE, dev, d.pasidPresent ? d.pasid : -1, d.prgIndex, reqId, this.iommuIndex, depth);
    if (!this.ppr && !this.pro) {
      this.ppr = true;
      this.raiseEvent();
    }
    return true;
  }

  /** A hardware-generated page group response for `msg`'s group. */
  private autoRespond(msg: PageRequestMsg, code: number): void {
    const view = this.deps.device(msg.dev);
    const withPasid = responseCarriesPasid(this.env, msg.pasid >= 0, view.responsePasidRequired);
    const resp: PrgResponseMsg = {
      dev: msg.dev,
      rid: msg.rid,
      prgi: msg.prgi,
      code,
      pasid: withPasid ? msg.pasid : -1,
    };
    this.stats.auto_responses++;
    this.env.tracer.emit(TraceKind.AUTO_RESPONSE, msg.dev, msg.pasid, msg.prgi, msg.reqId, code, resp.pasid);
    this.env.sim.after(
      this.env.latency.response_ns.sample(this.rng),
      this.kAutoResp,
      msg.dev,
      0,
      resp,
      msg.dev,
    );
  }
}
