/**
 * Writes a run as Linux ftrace text, the way a VT-d kernel traces it (drivers/iommu/intel/prq.c
 * prq_event_thread): a page request the PRQ thread reported to the core is `intel_iommu:prq_report`,
 * stamped when the report returns (the tracepoint follows intel_prq_report), with the thread's
 * running sequence number; every page group response the driver submits is `intel_iommu:qi_submit`
 * of type page_grp_resp. Stop Markers (dropped before the tracepoint), requests the driver refuses
 * (handle_bad_prq_event: only its response is traced), hardware auto-responses and dropped requests
 * never reach a tracepoint, as on real hardware. Timestamps keep exact ns.
 */
import { formatPrqReport, formatQiSubmitPageGrpResp } from '../io/ftrace.js';
import { PrFlag, TraceKind, ridString } from './events.js';
import type { TraceSink } from './tracer.js';

export interface FtraceDevice {
  rid: number;
  name: string;
}

export class FtraceWriter implements TraceSink {
  /** req → (flags, page) from the page request event, until the request is reported or dropped. */
  private readonly inFlight = new Map<number, { flags: number; page: number }>();
  /** Bound on requests sent but neither reported nor dropped (refused L=0 requests are never
   * answered, so nothing else removes them): the oldest is forgotten first. */
  private static readonly MAX_IN_FLIGHT = 1 << 20;
  private buf: string[] = [];
  private seq = 0;

  constructor(
    private readonly iommu: string,
    private readonly devices: readonly FtraceDevice[],
    private readonly write: (chunk: string) => void,
    private readonly close?: () => void,
  ) {
    this.buf.push('# tracer: nop\n#\n# written by iopf (model run)\n');
  }

  private deviceName(dev: number): string {
    const d = this.devices[dev];
    return d === undefined ? `dev${dev}` : `0000:${ridString(d.rid)}`;
  }

  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    switch (kind) {
      case TraceKind.PAGE_REQUEST:
        if (this.inFlight.size >= FtraceWriter.MAX_IN_FLIGHT) this.inFlight.delete(this.inFlight.keys().next().value as number);
        this.inFlight.set(f3, { flags: f4, page: f5 });
        break;
      case TraceKind.QUEUE_DROP:
        this.inFlight.delete(f3);
        break;
      case TraceKind.FAULT_REPORT: {
        // f3 req; the result does not matter: mainline traces after intel_prq_report whatever
        // the core made of the fault.
        const r = this.inFlight.get(f3);
        if (r === undefined) break;
        this.inFlight.delete(f3);
        this.buf.push(
          formatPrqReport(
            {
              kind: 'page_request',
              tsNs: t,
              iommu: this.iommu,
              device: this.deviceName(f0),
              seq: this.seq++, // iommu->prq_seq_number++: the first report is 0
              rid: this.devices[f0]?.rid ?? 0,
              pageNumber: r.page,
              read: (r.flags & PrFlag.READ) !== 0,
              write: (r.flags & PrFlag.WRITE) !== 0,
              exec: (r.flags & PrFlag.EXEC) !== 0,
              priv: (r.flags & PrFlag.PRIV) !== 0,
              last: (r.flags & PrFlag.LAST) !== 0,
              pasid: f1 < 0 ? 0 : f1,
              prgi: f2 & 0x1ff,
            },
            { nsTimestamps: true },
          ) + '\n',
        );
        break;
      }
      case TraceKind.RESPONSE_SEND:
        if (f4 < 0) break; // a late attempt the core ignored: nothing was submitted
        this.buf.push(
          formatQiSubmitPageGrpResp(
            {
              kind: 'page_response',
              tsNs: t,
              iommu: this.iommu,
              rid: this.devices[f0]?.rid ?? 0,
              pasidPresent: f1 >= 0,
              pasid: f1 < 0 ? 0 : f1,
              code: f4,
              prgi: f2 & 0x1ff,
              lpig: true,
            },
            { nsTimestamps: true },
          ) + '\n',
        );
        break;
      default:
        return;
    }
    if (this.buf.length >= 4096) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    this.write(this.buf.join(''));
    this.buf = [];
  }

  finish(): void {
    this.flush();
    this.close?.();
  }
}
