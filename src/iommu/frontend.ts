/**
 * The boundary between an IOMMU family (hardware queue + its Linux driver glue) and the rest of the
 * model. Each family (vtd/, smmuv3/, amd/) implements IommuFrontend; the world wires the deps.
 *
 * Continuation convention for multi-step operations: the operation never completes synchronously;
 * it finishes by scheduling `sim.after(0, cont.kind, cont.a, result, cont.payload)` — the result
 * (0 or -errno) travels in the event's `b` argument.
 */
import type { KResult } from '../sim/errno.js';
import type { Continuation } from '../sim/sync.js';
import type { FaultRecord } from '../iopf/types.js';
import type { IommuDriverOps } from '../iopf/driver-ops.js';
import type { PageRequestMsg, PrgResponseMsg } from '../pcie/messages.js';
import type { DeviceView } from '../pcie/device-view.js';

export type { DeviceView } from '../pcie/device-view.js';

export interface IommuFrontendDeps {
  /** Send a PRG response to a function; the world adds the link latency and routes it. */
  sendResponse(msg: PrgResponseMsg): void;
  /** iommu_report_device_fault(): runs as one atomic step of the driver's queue thread. */
  reportFault(dev: number, fault: FaultRecord): KResult;
  /**
   * The same report where it may block on the device's lock (v6.7: a flush holds
   * dev->iommu->lock across flush_workqueue): returns the result (0 or -errno) when done now, or
   * REPORT_PENDING (1) — then the queue thread waits, and `cont` runs with b = the result.
   */
  reportFaultStep?(dev: number, fault: FaultRecord, cont: Continuation): number;
  /** iopf_queue_discard_partial() on this IOMMU's fault queue. */
  discardPartial(): void;
  /** iopf_queue_flush_dev(dev[, pasid]) per the kernel profile; completes via `cont` (b = result). */
  flushDev(dev: number, pasid: number, cont: Continuation): void;
  /** Function by requester ID, or undefined (an unknown RID is a bad request). */
  deviceByRid(rid: number): DeviceView | undefined;
  device(dev: number): DeviceView;
  /** Whether the device has an iopf-capable domain on `pasid` (-1: without PASID), for drivers
   * that check before reporting (the hardware's context/PASID-entry PRI checks). */
  priEnabledFor(dev: number, pasid: number): boolean;
}

export interface IommuFrontend extends IommuDriverOps {
  /** A page request (or stop marker) arrives at the root complex from a function. */
  receivePageRequest(msg: PageRequestMsg): void;
  /**
   * The driver's per-PASID teardown when a PASID's domain is removed from a device (VT-d:
   * intel_drain_pasid_prq, which also flushes the iopf queue): completes via `cont` (b = result).
   */
  drainPasid(dev: number, pasid: number, cont: Continuation): void;
  /**
   * Whether the hardware queue (or the driver thread's batch in hand) still holds a request of
   * (dev, PASID) (-1: without PASID) that the driver has not reported: what a caller of
   * iopf_queue_flush_dev must have drained first (linux-iopf §5). No side effect.
   */
  holdsRequests(dev: number, pasid: number): boolean;
  /** Figures for the summary: queue entries max, drops, auto-responses, … (name → value). */
  stats(): Record<string, number>;
}
