/**
 * A user-space responder (a VMM such as QEMU) on an iommufd fault fd. It sleeps in poll() until
 * the fd is readable, reads up to `read_batch` records (whole groups only), decodes them from the
 * bytes as real user space does, services each group (per-fault service time, plus a guest round
 * trip for nested / vSVA), and writes one `struct iommu_hwpt_page_response` per group. Its latency
 * is what out-of-core handling costs against in-kernel SVA.
 */
import { assert } from '../../sim/assert.js';
import type { ModelEnv } from '../../env/env.js';
import type { Rng } from '../../sim/random.js';
import { TraceKind } from '../../trace/events.js';
import { decodePgfaults, encodePageResponse, PAGE_RESPONSE_SIZE, PGFAULT_SIZE, IommufdRespCode } from './abi.js';
import type { FaultObject, IommufdGroup } from './fault-object.js';

export interface VmmConfig {
  name: string;
  read_batch: number;
  policy: 'success' | 'invalid' | 'failure' | 'drop-and-close';
  guest: boolean;
  bad_buffer: { num: number; den: number };
}

const enum VmmState {
  IDLE = 0,
  WAKING = 1,
  SERVING = 2,
  CLOSED = 3,
}

export class Vmm<G extends IommufdGroup> {
  private state = VmmState.IDLE;
  /** Cookies read and not yet answered, in order, with their record counts. */
  private readonly work: { cookie: number; records: number }[] = [];
  private readonly rng: Rng;
  private readBuf = new Uint8Array(0);
  private readonly respBuf = new Uint8Array(PAGE_RESPONSE_SIZE);
  private readonly kRead: number;
  private readonly kServed: number;
  /** Read buffer, in records: read_batch, doubled while the head group does not fit. */
  private bufRecords: number;
  readsDone = 0;
  writesDone = 0;
  writeErrors = 0;

  constructor(
    private readonly env: ModelEnv,
    /** Index of the fault object (trace field `fault`). */
    readonly index: number,
    private readonly fault: FaultObject<G>,
    private readonly cfg: VmmConfig,
    /** close(2) of the fd (the iommufd context drops the fd's reference); default: the object's. */
    private readonly closeFd: () => void = () => {
      this.fault.close();
    },
  ) {
    this.rng = env.stream(`vmm:${cfg.name}`);
    this.bufRecords = cfg.read_batch;
    this.kRead = env.sim.registerKind(`vmm:${cfg.name}:read`, () => {
      this.doRead();
    });
    this.kServed = env.sim.registerKind(`vmm:${cfg.name}:served`, () => {
      this.served();
    });
  }

  /** The fd became readable (the iopf handler queued a group and woke readers). */
  wake(): void {
    if (this.state !== VmmState.IDLE) return;
    this.state = VmmState.WAKING;
    this.env.sim.after(this.env.latency.vmm_wake_ns.sample(this.rng), this.kRead);
  }

  private doRead(): void {
    if (this.state === VmmState.CLOSED) return;
    const len = this.bufRecords * PGFAULT_SIZE;
    // One user buffer per VMM, as a real reader keeps (grown when the head group does not fit).
    if (this.readBuf.length < len) this.readBuf = new Uint8Array(len);
    const r = this.fault.read(len, 0, { buffer: this.readBuf });
    this.readsDone++;
    this.env.tracer.emit(TraceKind.IOMMUFD_READ, -1, -1, -1, this.index, Math.max(r.result, 0), Math.min(r.result, 0));
    if (r.result === 0 && this.fault.pollReadable()) {
      // §9: 0 with the fd readable means the head group is larger than the buffer. A VMM that
      // kept retrying the same size would spin forever; it grows the buffer and reads again.
      assert(this.bufRecords < 1 << 16, 'Vmm: a group larger than any PRI allocation');
      this.bufRecords *= 2;
      this.env.sim.after(0, this.kRead);
      return;
    }
    if (r.result <= 0) {
      this.state = VmmState.IDLE;
      if (this.fault.pollReadable()) this.wake();
      return;
    }
    this.bufRecords = this.cfg.read_batch;
    // Group the records by cookie, in order (all records of a group carry its cookie).
    for (const rec of decodePgfaults(r.bytes)) {
      const last = this.work[this.work.length - 1];
      if (last !== undefined && last.cookie === rec.cookie) last.records++;
      else this.work.push({ cookie: rec.cookie, records: 1 });
    }
    if (this.cfg.policy === 'drop-and-close') {
      // Reads, never answers, closes the fd: closing answers nothing (reference §9).
      this.work.length = 0;
      this.close();
      return;
    }
    this.state = VmmState.SERVING;
    this.serveNext();
  }

  private serveNext(): void {
    const next = this.work[0];
    if (next === undefined) {
      this.state = VmmState.IDLE;
      if (this.fault.pollReadable()) this.wake();
      return;
    }
    let t = 0;
    for (let i = 0; i < next.records; i++) t += this.env.latency.vmm_service_ns.sample(this.rng);
    if (this.cfg.guest) t += this.env.latency.guest_round_trip_ns.sample(this.rng);
    this.env.sim.after(t, this.kServed);
  }

  private served(): void {
    if (this.state === VmmState.CLOSED) return;
    const item = this.work.shift();
    assert(item !== undefined, 'Vmm.served: nothing in service');
    const code =
      this.cfg.policy === 'invalid'
        ? IommufdRespCode.INVALID
        : this.cfg.policy === 'failure'
          ? 2 // FAILURE: removed from the uAPI; the kernel refuses it unless the bug is on
          : IommufdRespCode.SUCCESS;
    const buf = encodePageResponse({ cookie: item.cookie, code }, this.respBuf);
    const badBuffer = this.env.faultSite(this.cfg.bad_buffer);
    const rc = this.fault.write(buf, 0, badBuffer ? { userFaultAtRecord: 0 } : {});
    this.writesDone++;
    if (rc !== PAGE_RESPONSE_SIZE) this.writeErrors++;
    this.env.tracer.emit(TraceKind.IOMMUFD_WRITE, -1, -1, -1, this.index, PAGE_RESPONSE_SIZE, rc);
    this.serveNext();
  }

  /** close() on the fd: the VMM stops; nothing is answered. */
  close(): void {
    if (this.state === VmmState.CLOSED) return;
    this.state = VmmState.CLOSED;
    this.work.length = 0;
    this.closeFd();
    this.env.tracer.emit(TraceKind.IOMMUFD_LIFECYCLE, -1, -1, -1, this.index, 0, 0);
  }
}
