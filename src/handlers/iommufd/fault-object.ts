/**
 * The iommufd fault object (IOMMUFD_OBJ_FAULT) and its fd, as pure logic: the iopf handler of a
 * fault-capable hwpt queues groups here; user space read()s them as `struct iommu_hwpt_pgfault`
 * records and write()s `struct iommu_hwpt_page_response`s back, matched by a kernel cookie.
 * Modelled on drivers/iommu/iommufd/eventq.c (fault.c in v6.11–v6.13): iommufd_fault_iopf_handler,
 * iommufd_fault_fops_read/_write/_poll, iommufd_auto_response_faults, iommufd_fault_destroy.
 * Reference: linux-iopf.md §9, bug variants §11 (iommufd-write-count, iommufd-accepts-failure).
 *
 * Engine-agnostic: no clock, no scheduling. Each method is one syscall/kernel call run to
 * completion under the object's mutex, which is what the kernel's fault->mutex guarantees.
 */
import { RespCode } from '../../iopf/types.js';
import type { FaultRecord, RespCodeValue } from '../../iopf/types.js';
import { err } from '../../sim/errno.js';
import {
  IOMMUFD_RESP_FAILURE_REMOVED,
  IommufdRespCode,
  PAGE_RESPONSE_SIZE,
  PGFAULT_SIZE,
  decodePageResponse,
  encodePgfault,
  pgfaultFromFault,
} from './abi.js';

/**
 * EBADF (asm-generic 9): read/write on a closed fd. Not in src/sim/errno.ts yet (it should be added
 * there); kept local so this module does not edit shared files.
 */
export const EBADF = 9;

/** A group as the fault object sees it (the iopf core's struct iopf_group, reduced). */
export interface IommufdGroup {
  /** The group's faults in the core's order (partials first, the last page request at the end). */
  readonly faults: readonly FaultRecord[];
  /** The (device, pasid) attachment (attach handle) the group came through. */
  readonly attachId: number;
  /** iommufd device object id of that attachment: the records' dev_id. */
  readonly devId: number;
}

/** What the fault object needs from the iopf core. */
export interface FaultObjectHost<G> {
  /** iopf_group_response(group, code) followed by iopf_free_group(group); `by`: whether user
   * space wrote the answer or iommufd answered on detach/replace/destroy. */
  respond(group: G, code: RespCodeValue, by: 'user' | 'auto'): void;
}

export interface FaultObjectOptions {
  /** §11 iommufd-write-count: a failed copy from user space returns the bytes not copied (> 0). */
  writeCountBug?: boolean;
  /** §11 iommufd-accepts-failure: write() lets FAILURE (2) through to the core. */
  acceptsFailure?: boolean;
  /**
   * Highest cookie the response table may hand out (xa_limit_32b: 0xffffffff). Lower it only to
   * exercise the -EBUSY path of xa_alloc() when the table is full.
   */
  cookieLimit?: number;
}

export interface ReadOptions {
  /**
   * The user buffer to copy into (at least `bufLen` bytes), as read(2) copies into the caller's
   * memory; without it a fresh buffer is allocated. The result's `bytes` is a view of it.
   */
  buffer?: Uint8Array;
  /**
   * Record slot (0-based, in units of 40 bytes from the start of the user buffer) whose copy to
   * user space faults (an unmapped page there): every copy to that slot fails.
   */
  userFaultAtRecord?: number;
}

export interface WriteOptions {
  /** Index of the response record (0-based) whose copy from user space faults. */
  userFaultAtRecord?: number;
}

export interface ReadResult<G> {
  /** Bytes copied, or 0 / a negative errno when nothing was copied. */
  result: number;
  /** Exactly the bytes copied (length = max(result, 0)). */
  bytes: Uint8Array;
  /** The groups handed out, in order, with the cookie each now waits under. */
  groups: { cookie: number; group: G }[];
  /**
   * The kernel as read never returns from this call: a failed copy put a group back that still
   * fits, and its retry faults on the same slot again (see read()). `result` is then what the
   * user buffer holds, not a return value.
   */
  hung: boolean;
}

export interface FaultObjectCounters {
  /** Groups queued by the iopf handler. */
  delivered: number;
  /** Groups copied to user space (each gets a cookie). */
  read: number;
  /** Responses sent through the host, by code. */
  answered: { SUCCESS: number; INVALID: number; FAILURE: number };
  /** Of those, sent because user space wrote a response. */
  userAnswered: number;
  /** Of those, sent by detach/replace or destroy (always INVALID). */
  autoAnswered: number;
}

const XA_LIMIT_32B = 0xffff_ffff;

/**
 * The response xarray (XA_FLAGS_ALLOC1, xa_alloc with xa_limit_32b): ids start at 1 and xa_alloc
 * returns the lowest free id in range, so a freed cookie is reused by the next read.
 */
class CookieTable<G> {
  private readonly entries = new Map<number, G>();
  /** Every id below `next` is either in `entries` or in `freed` (kept sorted ascending). */
  private next = 1;
  private readonly freed: number[] = [];

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Lowest free id, or -EBUSY when the range is exhausted (xa_alloc's error). */
  alloc(value: G): number {
    let id: number;
    const low = this.freed.shift();
    if (low !== undefined) {
      id = low;
    } else {
      if (this.next > this.limit) return err('EBUSY');
      id = this.next++;
    }
    this.entries.set(id, value);
    return id;
  }

  /** xa_erase: remove and return the entry, undefined when absent. */
  erase(id: number): G | undefined {
    const value = this.entries.get(id);
    if (value === undefined) return undefined;
    this.entries.delete(id);
    if (id === this.next - 1) {
      this.next--;
      // Keep `freed` below `next` so it stays short.
      while (this.freed.length > 0 && this.freed[this.freed.length - 1] === this.next - 1) {
        this.freed.pop();
        this.next--;
      }
    } else {
      let i = this.freed.length;
      while (i > 0 && this.freed[i - 1]! > id) i--;
      this.freed.splice(i, 0, id);
    }
    return value;
  }

  /** xa_for_each order: ascending index. */
  ascending(): [number, G][] {
    return [...this.entries.entries()].sort((a, b) => a[0] - b[0]);
  }

  cookieOf(value: G): number | undefined {
    for (const [id, v] of this.entries) if (v === value) return id;
    return undefined;
  }
}

function respCodeKey(code: RespCodeValue): 'SUCCESS' | 'INVALID' | 'FAILURE' {
  switch (code) {
    case RespCode.SUCCESS:
      return 'SUCCESS';
    case RespCode.INVALID:
      return 'INVALID';
    case RespCode.FAILURE:
      return 'FAILURE';
  }
}

export class FaultObject<G extends IommufdGroup> {
  /** fault->common.deliver: head at index 0. */
  private readonly deliverList: G[] = [];
  private readonly response: CookieTable<G>;
  /** Every group ever delivered; guards against double delivery (weak: groups are freed). */
  private readonly seen = new WeakSet<G>();
  /** Groups already answered; a second answer is a programmer error. */
  private readonly answeredSet = new WeakSet<G>();
  private closed = false;
  private destroyed = false;
  private hwptUsers = 0;
  private readonly writeCountBug: boolean;
  private readonly acceptsFailure: boolean;

  readonly counters: FaultObjectCounters = {
    delivered: 0,
    read: 0,
    answered: { SUCCESS: 0, INVALID: 0, FAILURE: 0 },
    userAnswered: 0,
    autoAnswered: 0,
  };

  constructor(
    private readonly host: FaultObjectHost<G>,
    options: FaultObjectOptions = {},
  ) {
    this.writeCountBug = options.writeCountBug ?? false;
    this.acceptsFailure = options.acceptsFailure ?? false;
    const limit = options.cookieLimit ?? XA_LIMIT_32B;
    if (!Number.isInteger(limit) || limit < 1 || limit > XA_LIMIT_32B) {
      throw new RangeError(`FaultObject: cookieLimit ${limit} outside [1, 0xffffffff]`);
    }
    this.response = new CookieTable<G>(limit);
  }

  // ---- kernel side -------------------------------------------------------------------------

  /**
   * iommufd_fault_iopf_handler(): append at the tail of the deliver list and wake readers.
   * Never fails (returns 0), so the core never answers a group on this path.
   */
  deliver(group: G): 0 {
    this.assertAlive('deliver');
    if (group.faults.length === 0) throw new Error('FaultObject.deliver: a group has at least one fault');
    if (this.seen.has(group)) throw new Error('FaultObject.deliver: group delivered twice');
    this.seen.add(group);
    this.deliverList.push(group);
    this.counters.delivered++;
    return 0;
  }

  /**
   * iommufd_auto_response_faults() on detach of a fault-capable hwpt: every group of the
   * attachment is answered INVALID and freed. The queued ones are first moved one by one to the
   * head of a private free list (so the newest queued group is answered first), then the groups
   * awaiting a response are answered in cookie order (xa_for_each). Returns how many were answered.
   * Reference linux-iopf §12 item 7.
   */
  detach(attachId: number): number {
    this.assertAlive('detach');
    let n = 0;
    const keep: G[] = [];
    const drop: G[] = [];
    for (const g of this.deliverList) (g.attachId === attachId ? drop : keep).push(g);
    this.deliverList.splice(0, this.deliverList.length, ...keep);
    for (let i = drop.length - 1; i >= 0; i--) {
      this.answer(drop[i]!, RespCode.INVALID, 'auto');
      n++;
    }
    for (const [cookie, g] of this.response.ascending()) {
      if (g.attachId !== attachId) continue;
      this.response.erase(cookie);
      this.answer(g, RespCode.INVALID, 'auto');
      n++;
    }
    return n;
  }

  /**
   * Replace of the attachment's hwpt (called only once the replace succeeded, as the kernel
   * auto-responds only then): the old attachment's groups are answered exactly as on detach.
   */
  replace(attachId: number): number {
    return this.detach(attachId);
  }

  /** A hwpt allocated with this fault object holds a reference on it (destroy is -EBUSY meanwhile). */
  addHwptUser(): void {
    this.assertAlive('addHwptUser');
    this.hwptUsers++;
  }

  removeHwptUser(): void {
    if (this.hwptUsers === 0) throw new Error('FaultObject.removeHwptUser: no hwpt user');
    this.hwptUsers--;
  }

  // ---- the fd ------------------------------------------------------------------------------

  /**
   * iommufd_fault_fops_read(). `bufLen` is the user buffer's size, `offset` the file position.
   * Whole groups only: a group that does not fit in what is left stays at the head and reading
   * stops. A failed copy to user space (linux-iopf §12 item 7) keeps the bytes already copied in
   * this call (also the records of the failing group copied before the fault), releases the
   * group's cookie, puts the group back at the head and records -EFAULT — and then, as the kernel
   * reads, the loop goes on with that same group: it stops only if the group no longer fits.
   * If it still fits, its first record lands on the same faulting slot again and the kernel spins
   * for ever holding fault->mutex: the model stops there and reports `hung`.
   */
  read(bufLen: number, offset: number, opts: ReadOptions = {}): ReadResult<G> {
    if (!Number.isInteger(bufLen) || bufLen < 0)
      throw new RangeError(`FaultObject.read: bad length ${bufLen}`);
    const none = (result: number): ReadResult<G> => ({ result, bytes: new Uint8Array(0), groups: [], hung: false });
    if (this.closed) return none(-EBADF);
    // The fd is a stream of whole records: no position, no partial record.
    if (offset !== 0 || bufLen % PGFAULT_SIZE !== 0) return none(err('ESPIPE'));

    const out = opts.buffer !== undefined && opts.buffer.length >= bufLen ? opts.buffer : new Uint8Array(bufLen);
    const groups: { cookie: number; group: G }[] = [];
    const badSlot = opts.userFaultAtRecord;
    let done = 0;
    let rc = 0;
    let failedAt = -1;
    let hung = false;
    for (;;) {
      const g = this.deliverList[0];
      if (g === undefined) break;
      const need = g.faults.length * PGFAULT_SIZE;
      if (done >= bufLen || need > bufLen - done) break; // stays at the head
      if (failedAt === done) {
        // The retry would copy the same record to the same bad address: no progress, ever.
        hung = true;
        break;
      }
      const cookie = this.response.alloc(g);
      if (cookie < 0) {
        rc = cookie; // xa_alloc failed: the group stays queued
        break;
      }
      let faulted = false;
      for (const f of g.faults) {
        if (badSlot !== undefined && done === badSlot * PGFAULT_SIZE) {
          // copy_to_user failed: cookie erased, group restored at the head, -EFAULT; the bytes
          // of this group already copied stay counted.
          this.response.erase(cookie);
          rc = err('EFAULT');
          failedAt = done;
          faulted = true;
          break;
        }
        encodePgfault(pgfaultFromFault(f, g.devId, cookie), out, done);
        done += PGFAULT_SIZE;
      }
      if (faulted) continue;
      this.deliverList.shift();
      groups.push({ cookie, group: g });
      this.counters.read++;
    }
    if (done === 0) return { result: rc, bytes: new Uint8Array(0), groups, hung };
    return { result: done, bytes: out.subarray(0, done), groups, hung };
  }

  /**
   * iommufd_fault_fops_write(): record by record — copy from user, check the code, look the cookie
   * up (and remove it), answer through the core. Stops at the first error; records before it stay
   * done. Returns the bytes consumed if any record was done, else the error.
   */
  write(bytes: Uint8Array, offset: number, opts: WriteOptions = {}): number {
    if (this.closed) return -EBADF;
    if (offset !== 0 || bytes.length % PAGE_RESPONSE_SIZE !== 0) return err('ESPIPE');
    let done = 0;
    let rc = 0;
    for (let i = 0; done < bytes.length; i++) {
      if (opts.userFaultAtRecord === i) {
        // Fixed kernel: -EFAULT. The bug returned copy_from_user()'s "bytes not copied".
        rc = this.writeCountBug ? PAGE_RESPONSE_SIZE : err('EFAULT');
        break;
      }
      const resp = decodePageResponse(bytes, done);
      const code = this.acceptCode(resp.code);
      if (code === undefined) {
        rc = err('EINVAL');
        break;
      }
      const g = this.response.erase(resp.cookie);
      if (g === undefined) {
        rc = err('EINVAL');
        break;
      }
      this.answer(g, code, 'user');
      done += PAGE_RESPONSE_SIZE;
    }
    return done === 0 ? rc : done;
  }

  /** EPOLLIN: the deliver list is not empty. */
  pollReadable(): boolean {
    return !this.closed && this.deliverList.length > 0;
  }

  /** EPOLLOUT: a fault fd is always writable. */
  pollWritable(): boolean {
    return true;
  }

  /** Release of the fd: drops its reference on the object; answers nothing. */
  close(): 0 | -9 {
    if (this.closed) return -EBADF as -9;
    this.closed = true;
    return 0;
  }

  /**
   * IOMMU_DESTROY of the fault object / iommufd_fault_destroy(): refused while the fd is open or
   * a hwpt uses the object (-EBUSY); otherwise every remaining group — queued, then awaiting a
   * response — is answered INVALID.
   */
  destroy(): 0 | -16 | -2 {
    if (this.destroyed) return err('ENOENT') as -2;
    if (!this.closed || this.hwptUsers > 0) return err('EBUSY') as -16;
    this.destroyed = true;
    const queued = this.deliverList.splice(0, this.deliverList.length);
    for (const g of queued) this.answer(g, RespCode.INVALID, 'auto');
    for (const [cookie, g] of this.response.ascending()) {
      this.response.erase(cookie);
      this.answer(g, RespCode.INVALID, 'auto');
    }
    return 0;
  }

  // ---- observation -------------------------------------------------------------------------

  /** Groups delivered and not yet answered. */
  outstanding(): number {
    return this.deliverList.length + this.response.size;
  }

  /** The outstanding groups: queued (head first), then awaiting a response (cookie order). */
  pendingGroups(): readonly G[] {
    return [...this.deliverList, ...this.response.ascending().map(([, g]) => g)];
  }

  /** Groups read and awaiting a response, with their cookies (ascending). */
  awaitingResponse(): { cookie: number; group: G }[] {
    return this.response.ascending().map(([cookie, group]) => ({ cookie, group }));
  }

  /** Queued (not yet read) groups, head first. */
  queued(): readonly G[] {
    return [...this.deliverList];
  }

  cookieOf(group: G): number | undefined {
    return this.response.cookieOf(group);
  }

  isAnswered(group: G): boolean {
    return this.answeredSet.has(group);
  }

  isClosed(): boolean {
    return this.closed;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  // ---- internals ---------------------------------------------------------------------------

  private acceptCode(code: number): RespCodeValue | undefined {
    if (code === IommufdRespCode.SUCCESS) return RespCode.SUCCESS;
    if (code === IommufdRespCode.INVALID) return RespCode.INVALID;
    if (code === IOMMUFD_RESP_FAILURE_REMOVED && this.acceptsFailure) return RespCode.FAILURE;
    return undefined;
  }

  private answer(group: G, code: RespCodeValue, by: 'user' | 'auto'): void {
    if (this.answeredSet.has(group)) throw new Error('FaultObject: group answered twice');
    this.answeredSet.add(group);
    this.counters.answered[respCodeKey(code)]++;
    if (by === 'user') this.counters.userAnswered++;
    else this.counters.autoAnswered++;
    this.host.respond(group, code, by);
  }

  private assertAlive(what: string): void {
    if (this.destroyed) throw new Error(`FaultObject.${what}: object destroyed`);
  }
}
