/**
 * AMD-Vi front-end: the PPR log (hardware), the driver's PPR interrupt thread
 * (amd_iommu_int_thread_pprlog → amd_iommu_poll_ppr_log, then amd_iommu_restart_ppr_log on
 * overflow) and its page_response op (COMPLETE_PPR_REQUEST), on the engine.
 *
 * Timing as the other families: a log write (or an overflow) wakes the thread after `irq_ns`; each
 * entry is reported `decode_ns` after it is consumed; a COMPLETE_PPR_REQUEST reaches the device
 * `response_ns` after the driver queues it.
 *
 * Trace conventions: QUEUE_WRITE per entry logged; QUEUE_DROP per request lost to the log (full, or
 * logging stopped by the overflow bit) that got no auto-response, per Stop Marker the log does not
 * keep, and per entry of an unknown device; AUTO_RESPONSE per lost L=1 request answered by the
 * IOMMU (only with `iommu.amd.overflow_autoresp`); RESPONSE_SEND per COMPLETE_PPR_REQUEST (`group`
 * = the answered fault's reqId, `code` = the wire status, `pasid` = the PASID on the wire or -1);
 * QUEUE_OVERFLOW when the overflow bit is set (1) and when the driver restarts the log (0).
 */
import { Forms } from '../../scenario/profiles.js';
import { err, type KResult } from '../../sim/errno.js';
import { OrderedCommandQueue } from '../shared/command-queue.js';
import { PasidDrains, type DrainWaiter } from '../shared/pasid-drain.js';
import type { Continuation } from '../../sim/sync.js';
import type { Rng } from '../../sim/random.js';
import type { ModelEnv } from '../../env/env.js';
import {
  FaultFlag,
  RespCode,
  type FaultRecord,
  type PageResponse,
  type RespCodeValue,
} from '../../iopf/types.js';
import type { PageRequestMsg, PrgResponseMsg } from '../../pcie/messages.js';
import { PciRespCode, PrFlag, RespSource, TraceKind } from '../../trace/events.js';
import type { DeviceView, IommuFrontend, IommuFrontendDeps } from '../frontend.js';
import { AMD_PPR_ENTRY_SIZE, AmdPprFlag, decodeCompletePprCmd, emptyPprLogEntry, encodeCompletePprCmd } from './codec.js';
import {
  checkPprEntry,
  faultFromPprEntry,
  pciCodeFromPprStatus,
  pprEntryFromMsg,
  pprStatusFromCode,
} from './driver.js';
import { AmdPprLog } from './ppr.js';

export { AmdPprLog, type PprWriteResult } from './ppr.js';

/** Known-bug switches this front-end reads from `env.switches` (mainline behaviours, off by default). */
export const AMD_BUG_GRPID_LAST_BIT = 'amd-grpid-last-bit';
export const AMD_BUG_COMPLETE_PPR_RAW = 'amd-complete-ppr-raw';

export interface AmdIommuOptions {
  /**
   * Whether the IOMMU writes Stop Markers into the PPR log ((verify): not established). false
   * (default): they are discarded at the log. true: they are logged and the driver, which does not
   * tell them apart, reports them as faults.
   */
  logStopMarkers?: boolean;
  /** grpid = the whole 10-bit tag, as mainline (default: `env.switches` has 'amd-grpid-last-bit'). */
  grpidWithLastBit?: boolean;
  /**
   * COMPLETE_PPR_REQUEST as mainline builds it: status = the core's code unchanged (FAILURE = 2)
   * and GN/PASID from the device bit even for a request that had no PASID, and a refused entry
   * answered whether or not it is its group's last (default: `env.switches` has
   * 'amd-complete-ppr-raw'). Otherwise: PCIe codes, a PASID only if the request had one, and a
   * refused group answered once, at its L=1 entry.
   */
  rawCompletion?: boolean;
  /**
   * PASID teardown: 'log-then-flush' (default; wait until the log holds no entry of the PASID,
   * then iopf_queue_flush_dev — what the seed says a PRI driver needs), 'flush' (flush only, as
   * amd_iommu_remove_dev_pasid did in v6.8–v6.10), 'none' (as read in current mainline pasid.c).
   */
  drain?: 'log-then-flush' | 'flush' | 'none';
}


interface CmdInFlight {
  bytes: Uint8Array;
  dev: number;
}

export class AmdIommu implements IommuFrontend {
  readonly family = 'amd';
  readonly log: AmdPprLog;
  readonly overflowAutoResponse: boolean;
  readonly logStopMarkers: boolean;
  readonly grpidWithLastBit: boolean;
  readonly rawCompletion: boolean;
  readonly drainMode: 'log-then-flush' | 'flush' | 'none';
  private readonly rng: Rng;
  private readonly kStep: number;
  private readonly kAuto: number;
  private threadActive = false;
  private readonly entry = emptyPprLogEntry();
  private readonly scratch = emptyPprLogEntry();
  /** The hardware's own buffer for writing a log entry: never the driver's decode buffer, which an
   * entry in flight (decode latency) is still using. */
  private readonly hwEntry = emptyPprLogEntry();
  private inflight: { rid: number; pasid: number; reqId: number; dev: number } | undefined;
  private readonly drains: PasidDrains;
  /** The command buffer: the IOMMU executes commands in order, each `response_ns` after issue. */
  private readonly cmdq: OrderedCommandQueue<CmdInFlight>;
  private readonly c = {
    lostDropped: 0,
    autoResponses: 0,
    stopMarkersDiscarded: 0,
    restarts: 0,
    reported: 0,
    rejected: 0,
    ignored: 0,
    unknownDevice: 0,
    responses: 0,
  };

  constructor(
    private readonly env: ModelEnv,
    readonly iommuIndex: number,
    private readonly deps: IommuFrontendDeps,
    opts: AmdIommuOptions = {},
  ) {
    const cfg = env.scenario.iommu.amd;
    this.log = new AmdPprLog(cfg.ppr_log_entries);
    this.overflowAutoResponse = cfg.overflow_autoresp;
    this.logStopMarkers = opts.logStopMarkers ?? false;
    this.grpidWithLastBit = opts.grpidWithLastBit ?? env.switches.has(AMD_BUG_GRPID_LAST_BIT);
    this.rawCompletion = opts.rawCompletion ?? env.switches.has(AMD_BUG_COMPLETE_PPR_RAW);
    // amd_iommu_remove_dev_pasid: mainline flushes no fault queue (form amd-remove-pasid-no-flush).
    this.drainMode =
      opts.drain ?? (env.switches.has(Forms.AMD_REMOVE_PASID_NO_FLUSH) ? 'none' : 'log-then-flush');
    this.rng = env.stream(`amd:${iommuIndex}`);
    const sim = env.sim;
    const p = `amd:${iommuIndex}`;
    this.kStep = sim.registerKind(`${p}:ppr-thread`, () => {
      this.threadStep();
    });
    this.cmdq = new OrderedCommandQueue(sim, p, env.latency.response_ns, this.rng, (cmd) => {
      this.executeCmd(cmd);
    });
    this.kAuto = sim.registerKind(`${p}:auto-response`, (_a, _b, payload) => {
      this.deps.sendResponse(payload as PrgResponseMsg);
    });
    this.drains = new PasidDrains(
      env,
      p,
      (d) => this.quiet(d),
      this.drainMode === 'none' ? undefined : (dev, pasid, cont) => {
        this.deps.flushDev(dev, pasid, cont);
      },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Hardware
  // -------------------------------------------------------------------------------------------

  /**
   * Byte-level injection: a 16-byte PPR log entry (reference pcie-iommu-hardware §4) written at
   * the tail as the IOMMU writes it, then the PPR interrupt. The device ID (DW0 15:0) must name a
   * function. -ENODEV unknown device, -ENOSPC full or stopped, -EINVAL length.
   */
  injectRaw(bytes: Uint8Array, reqId: number): KResult {
    if (bytes.length !== AMD_PPR_ENTRY_SIZE) return err('EINVAL');
    const view = this.deps.deviceByRid(bytes[0]! | (bytes[1]! << 8));
    if (view === undefined) return err('ENODEV');
    if (!this.log.writeRaw(bytes, reqId, view.dev)) return err('ENOSPC');
    this.env.tracer.emit(TraceKind.QUEUE_WRITE, view.dev, -1, 0, reqId, this.iommuIndex, this.log.count);
    this.kick();
    return 0;
  }

  receivePageRequest(msg: PageRequestMsg): void {
    const tr = this.env.tracer;
    if (msg.stopMarker && !this.logStopMarkers) {
      this.c.stopMarkersDiscarded++;
      tr.emit(TraceKind.QUEUE_DROP, msg.dev, msg.pasid, msg.prgi, msg.reqId, this.iommuIndex, msg.flags);
      return;
    }
    const r = this.log.write(pprEntryFromMsg(msg, this.hwEntry), msg.reqId, msg.dev);
    if (r === 'written') {
      tr.emit(
        TraceKind.QUEUE_WRITE,
        msg.dev,
        msg.pasid,
        msg.prgi,
        msg.reqId,
        this.iommuIndex,
        this.log.count,
      );
      this.env.metrics.max('amd.ppr.high_water', this.log.count);
      this.kick();
      return;
    }
    // AMD.PPR.OVERFLOW: the request is lost — at the overflow itself and while the bit stays set.
    if (r === 'overflow') {
      tr.emit(TraceKind.QUEUE_OVERFLOW, 0, 0, 0, 0, this.iommuIndex, 1);
      this.kick();
    }
    this.env.metrics.add('amd.ppr.lost');
    const last = (msg.flags & PrFlag.LAST) !== 0;
    if (this.overflowAutoResponse && last && !msg.stopMarker) {
      this.c.autoResponses++;
      const view = this.deps.device(msg.dev);
      const pasid = msg.pasid >= 0 && view.responsePasidRequired ? msg.pasid : -1;
      // The request itself is lost (trace convention: every request is written or dropped).
      tr.emit(TraceKind.QUEUE_DROP, msg.dev, msg.pasid, msg.prgi, msg.reqId, this.iommuIndex, msg.flags);
      tr.emit(TraceKind.AUTO_RESPONSE, msg.dev, msg.pasid, msg.prgi, msg.reqId, PciRespCode.SUCCESS, pasid);
      this.env.sim.after(this.env.latency.response_ns.sample(this.rng), this.kAuto, 0, 0, {
        dev: msg.dev,
        rid: msg.rid,
        prgi: msg.prgi,
        code: PciRespCode.SUCCESS,
        pasid,
      } satisfies PrgResponseMsg);
    } else {
      this.c.lostDropped++;
      tr.emit(TraceKind.QUEUE_DROP, msg.dev, msg.pasid, msg.prgi, msg.reqId, this.iommuIndex, msg.flags);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Driver: PPR thread
  // -------------------------------------------------------------------------------------------

  private kick(): void {
    if (this.threadActive) return;
    this.threadActive = true;
    this.env.sim.after(this.env.latency.irq_ns.sample(this.rng), this.kStep);
  }

  private threadStep(): void {
    if (this.inflight !== undefined) {
      this.handleEntry();
      this.inflight = undefined;
      this.drains.recheck();
    }
    const meta = this.log.read(this.entry);
    if (meta !== undefined) {
      const gn = (this.entry.flags & AmdPprFlag.GN) !== 0;
      this.inflight = {
        rid: this.entry.deviceId,
        pasid: gn ? this.entry.pasid : -1,
        reqId: meta.reqId,
        dev: meta.dev,
      };
      this.env.sim.after(this.env.latency.decode_ns.sample(this.rng), this.kStep);
      return;
    }
    // Log drained: if it overflowed, restart logging (amd_iommu_restart_ppr_log).
    if (this.log.restart()) {
      this.c.restarts++;
      this.env.tracer.emit(TraceKind.QUEUE_OVERFLOW, 0, 0, 0, 0, this.iommuIndex, 0);
    }
    this.threadActive = false;
    this.drains.recheck();
  }

  /** iommu_call_iopf_notifier. */
  private handleEntry(): void {
    const e = this.entry;
    const inf = this.inflight!;
    const view = this.deps.deviceByRid(e.deviceId);
    const check = checkPprEntry(e, view === undefined ? 0 : 2 ** view.pasidWidth);
    if (check === 'not-fault') {
      this.c.ignored++;
      return;
    }
    if (view === undefined) {
      // No pci_dev for the device ID: the driver returns without answering.
      this.c.unknownDevice++;
      this.env.tracer.emit(
        TraceKind.QUEUE_DROP,
        inf.dev,
        inf.pasid,
        e.prgIndex,
        inf.reqId,
        this.iommuIndex,
        0,
      );
      return;
    }
    if (check !== 'ok') {
      // "Nobody cared, abort" (ppr.c iommu_call_iopf_notifier): mainline answers FAILURE for this
      // entry, last or not, so a multi-page group gets a response before its L=1 and another one
      // for it (HOST.RESP.AFTER_LAST, ONE_PER_GROUP). The contract answers the group once, when its
      // L=1 entry is refused, as the VT-d PRQ thread's bad-request path does (prq.c: only a
      // last-page request is answered); a refused L=0 entry is dropped.
      this.c.rejected++;
      if (!this.rawCompletion && !e.last) return;
      const hadPasid = (e.flags & AmdPprFlag.GN) !== 0;
      this.completePpr(
        view,
        e.pasid,
        hadPasid,
        RespCode.FAILURE,
        e.prgIndex,
        inf.reqId,
        RespSource.DRIVER_CHECK,
      );
      return;
    }
    this.c.reported++;
    this.deps.reportFault(view.dev, faultFromPprEntry(e, view.dev, inf.reqId, this.grpidWithLastBit));
  }

  // -------------------------------------------------------------------------------------------
  // Driver: page_response (amd_iommu_page_response → amd_iommu_complete_ppr)
  // -------------------------------------------------------------------------------------------

  pageResponse(dev: number, fault: FaultRecord, resp: PageResponse, source: number): KResult {
    const view = this.deps.device(dev);
    const hadPasid = (fault.flags & FaultFlag.PASID_VALID) !== 0;
    this.completePpr(view, resp.pasid, hadPasid, resp.code, resp.grpid, fault.reqId, source);
    return 0;
  }

  private completePpr(
    view: DeviceView,
    pasid: number,
    hadPasid: boolean,
    code: RespCodeValue,
    tag: number,
    group: number,
    source: number,
  ): void {
    // GN/PASID iff the device requires a PASID on responses (dev_data->pri_tlp); the clean variant
    // also requires that the request had one (PRI.RESP.PASID_FORM).
    const gn = view.responsePasidRequired && (this.rawCompletion || hadPasid);
    const status = pprStatusFromCode(code, this.rawCompletion);
    const prgi = tag & 0x1ff;
    const bytes = encodeCompletePprCmd({
      deviceId: view.rid,
      pasid: gn ? pasid : 0,
      gn,
      prgIndex: prgi,
      status,
    });
    this.c.responses++;
    this.env.tracer.emit(
      TraceKind.RESPONSE_SEND,
      view.dev,
      gn ? pasid : -1,
      prgi,
      group,
      pciCodeFromPprStatus(status),
      source,
    );
    this.cmdq.issue({ bytes, dev: view.dev });
  }

  /** The IOMMU executes COMPLETE_PPR_REQUEST: a PRG response to the device. */
  private executeCmd(cmd: CmdInFlight): void {
    const c = decodeCompletePprCmd(cmd.bytes);
    this.deps.sendResponse({
      dev: cmd.dev,
      rid: c.deviceId,
      prgi: c.prgIndex,
      code: pciCodeFromPprStatus(c.status),
      pasid: c.gn ? c.pasid : -1,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Drain
  // -------------------------------------------------------------------------------------------

  drainPasid(dev: number, pasid: number, cont: Continuation): void {
    this.drains.begin(dev, this.deps.device(dev).rid, pasid, cont);
  }

  holdsRequests(dev: number, pasid: number): boolean {
    const rid = this.deps.device(dev).rid;
    const inf = this.inflight;
    if (inf !== undefined && inf.rid === rid && inf.pasid === pasid) return true;
    return this.log.holds(rid, pasid, this.scratch, AmdPprFlag.GN);
  }

  private quiet(d: DrainWaiter): boolean {
    if (this.drainMode !== 'log-then-flush') return true;
    const inf = this.inflight;
    if (inf !== undefined && inf.rid === d.rid && inf.pasid === d.pasid) return false;
    return !this.log.holds(d.rid, d.pasid, this.scratch, AmdPprFlag.GN);
  }

  stats(): Record<string, number> {
    return {
      ppr_log_entries: this.log.entries,
      ppr_log_usable: this.log.entries - 1,
      ppr_high_water: this.log.highWater,
      ppr_writes: this.log.writes,
      ppr_overflows: this.log.overflows,
      ppr_lost: this.log.lost,
      ppr_lost_dropped: this.c.lostDropped,
      ppr_auto_responses: this.c.autoResponses,
      ppr_restarts: this.c.restarts,
      stop_markers_discarded: this.c.stopMarkersDiscarded,
      reported: this.c.reported,
      rejected: this.c.rejected,
      ignored: this.c.ignored,
      unknown_device: this.c.unknownDevice,
      responses: this.c.responses,
    };
  }
}
