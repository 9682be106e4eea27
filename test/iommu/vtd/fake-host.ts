/** A fake of the world around a VT-d front-end: records every call the model makes. */
import type { VtdDeps } from '../../../src/iommu/vtd/driver.js';
import type { DeviceView } from '../../../src/iommu/frontend.js';
import type { Continuation } from '../../../src/sim/sync.js';
import type { KResult } from '../../../src/sim/errno.js';
import type { FaultRecord } from '../../../src/iopf/types.js';
import type { PageRequestMsg, PrgResponseMsg } from '../../../src/pcie/messages.js';
import type { Sim } from '../../../src/sim/engine.js';
import { PrFlag } from '../../../src/trace/events.js';

export class FakeHost implements VtdDeps {
  readonly responses: { t: number; msg: PrgResponseMsg }[] = [];
  readonly reports: { t: number; dev: number; fault: FaultRecord }[] = [];
  readonly flushes: { t: number; dev: number; pasid: number }[] = [];
  readonly devTlbInvalidations: { t: number; dev: number; pasid: number }[] = [];
  discards: number[] = [];
  reportResult: KResult = 0;
  priEnabled: (dev: number, pasid: number) => boolean = () => true;
  /** Delay of flushDev and of the device-TLB invalidation at the device. */
  flushNs = 0;
  devTlbNs = 300;
  sent = new Map<number, number>();

  constructor(
    private readonly sim: Sim,
    readonly devices: DeviceView[],
  ) {}

  sendResponse(msg: PrgResponseMsg): void {
    this.responses.push({ t: this.sim.now, msg });
  }
  reportFault(dev: number, fault: FaultRecord): KResult {
    this.reports.push({ t: this.sim.now, dev, fault: { ...fault } });
    return this.reportResult;
  }
  discardPartial(): void {
    this.discards.push(this.sim.now);
  }
  flushDev(dev: number, pasid: number, cont: Continuation): void {
    this.flushes.push({ t: this.sim.now, dev, pasid });
    this.sim.after(this.flushNs, cont.kind, cont.a, 0, cont.payload);
  }
  deviceByRid(rid: number): DeviceView | undefined {
    return this.devices.find((d) => d.rid === rid);
  }
  device(dev: number): DeviceView {
    return this.devices[dev]!;
  }
  priEnabledFor(dev: number, pasid: number): boolean {
    return this.priEnabled(dev, pasid);
  }
  /** Set by enableDevTlb(): the device-TLB invalidation takes devTlbNs at the "device". */
  invalidateDevTlb?: (dev: number, pasid: number, cont: Continuation) => void;
  enableDevTlb(): void {
    this.invalidateDevTlb = (dev, pasid, cont) => {
      this.devTlbInvalidations.push({ t: this.sim.now, dev, pasid });
      this.sim.after(this.devTlbNs, cont.kind, cont.a, 0, cont.payload);
    };
  }
  requestsSent(dev: number): number {
    return this.sent.get(dev) ?? 0;
  }
}

let reqSeq = 1;
/** A page request as a function would send it. */
export function req(p: {
  dev?: number;
  rid?: number;
  pasid?: number;
  prgi?: number;
  flags?: number;
  page?: number;
  stop?: boolean;
}): PageRequestMsg {
  const pasid = p.pasid ?? 1;
  const stop = p.stop ?? false;
  const flags = stop
    ? PrFlag.LAST | PrFlag.PASID
    : (p.flags ?? PrFlag.READ | PrFlag.LAST) | (pasid >= 0 ? PrFlag.PASID : 0);
  return {
    reqId: reqSeq++,
    dev: p.dev ?? 0,
    rid: p.rid ?? 0x10,
    pasid,
    prgi: p.prgi ?? 0,
    flags,
    page: p.page ?? 0x1234,
    stopMarker: stop,
  };
}

export function view(dev: number, rid: number, responsePasidRequired = true): DeviceView {
  return { dev, rid, name: `d${dev}`, responsePasidRequired, pasidWidth: 20 };
}
