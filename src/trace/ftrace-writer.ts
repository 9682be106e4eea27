/**
 * Writes a run as Linux ftrace text, the way a VT-d kernel would trace it: every page request the
 * PRQ thread reads (a queue write) as `intel_iommu:prq_report`, every page group response the driver
 * submits as `intel_iommu:qi_submit` of type page_grp_resp. Hardware auto-responses and dropped
 * requests never reach those tracepoints, as on real hardware. Timestamps keep exact ns so the
 * offline checker sees the same order as the online monitor.
 */
import { formatPrqReport, formatQiSubmitPageGrpResp } from '../io/ftrace.js';
import { PrFlag, TraceKind, ridString } from './events.js';
import type { TraceSink } from './tracer.js';

export interface FtraceDevice {
  rid: number;
  name: string;
}

export class FtraceWriter implements TraceSink {
  /** req → (flags, page) from the page request event, until the request is written or dropped. */
  private readonly inFlight = new Map<number, { flags: number; page: number }>();
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
        this.inFlight.set(f3, { flags: f4, page: f5 });
        break;
      case TraceKind.STOP_MARKER:
        this.inFlight.set(f3, { flags: PrFlag.LAST | PrFlag.PASID, page: 0 });
        break;
      case TraceKind.QUEUE_DROP:
        this.inFlight.delete(f3);
        break;
      case TraceKind.QUEUE_WRITE: {
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
              seq: ++this.seq,
              rid: this.devices[f0]?.rid ?? 0,
              pageNumber: r.page,
              read: (r.flags & PrFlag.READ) !== 0,
              write: (r.flags & PrFlag.WRITE) !== 0,
              exec: (r.flags & PrFlag.EXEC) !== 0,
              priv: (r.flags & PrFlag.PRIV) !== 0,
              last: (r.flags & PrFlag.LAST) !== 0,
              pasid: f1 < 0 ? 0 : f1,
              prgi: f2,
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
              prgi: f2,
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
