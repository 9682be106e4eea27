/**
 * Byte-exact little-endian codecs for the iommufd fault uAPI (include/uapi/linux/iommufd.h):
 * `struct iommu_hwpt_pgfault` (what read() on the fault fd returns), `struct iommu_hwpt_page_response`
 * (what write() takes) and `struct iommu_fault_alloc` (IOMMU_FAULT_QUEUE_ALLOC). The uAPI is
 * little-endian on every architecture the model cares about; we always encode LE so traces are stable.
 *
 * Layout as read in the current header (after the "init and padding" fix that added `__reserved` and
 * made `addr` an `__aligned_u64`, so the record is 40 bytes on 32-bit user space too).
 */
import type { FaultRecord } from '../../iopf/types.js';
import { err } from '../../sim/errno.js';

/** sizeof(struct iommu_hwpt_pgfault). */
export const PGFAULT_SIZE = 40;
/** sizeof(struct iommu_hwpt_page_response). */
export const PAGE_RESPONSE_SIZE = 8;
/** sizeof(struct iommu_fault_alloc). */
export const FAULT_ALLOC_SIZE = 16;

/** Byte offsets inside struct iommu_hwpt_pgfault. */
export const PgfaultOffset = {
  flags: 0,
  devId: 4,
  pasid: 8,
  grpid: 12,
  perm: 16,
  reserved: 20,
  addr: 24,
  length: 32,
  cookie: 36,
} as const;

/** Byte offsets inside struct iommu_hwpt_page_response. */
export const PageResponseOffset = { cookie: 0, code: 4 } as const;

/** Byte offsets inside struct iommu_fault_alloc. */
export const FaultAllocOffset = { size: 0, flags: 4, outFaultId: 8, outFaultFd: 12 } as const;

/** enum iommu_hwpt_pgfault_flags: the only flags the uAPI documents. */
export const PgfaultFlag = {
  PASID_VALID: 1 << 0,
  LAST_PAGE: 1 << 1,
} as const;
/** Mask of the flag bits the uAPI defines; anything else reaching user space is undocumented. */
export const PGFAULT_FLAGS_DEFINED = PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE;

/** enum iommu_hwpt_pgfault_perm (same bit values as the core's IOMMU_FAULT_PERM_*). */
export const PgfaultPerm = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  EXEC: 1 << 2,
  PRIV: 1 << 3,
} as const;

/**
 * enum iommufd_page_response_code. FAILURE (2) was removed from the uAPI: a Response Failure disables
 * PRI for the whole function, which SR-IOV shares between PF and VFs. Kept here only as the value
 * the `iommufd-accepts-failure` bug lets through.
 */
export const IommufdRespCode = {
  SUCCESS: 0,
  INVALID: 1,
} as const;
/** The removed code, for the bug variant and for decoding what user space wrote. */
export const IOMMUFD_RESP_FAILURE_REMOVED = 2;

/** struct iommu_hwpt_pgfault, decoded. `addr` is a bigint so every u64 round-trips exactly. */
export interface HwptPgfault {
  flags: number;
  devId: number;
  pasid: number;
  grpid: number;
  perm: number;
  /** `__reserved`: the kernel writes 0 (the record is zero-initialised before composing). */
  reserved: number;
  addr: bigint;
  /** A prefetch hint; the kernel always writes 0 today. */
  length: number;
  cookie: number;
}

/** struct iommu_hwpt_page_response, decoded. `code` is the raw u32 user space wrote. */
export interface HwptPageResponse {
  cookie: number;
  code: number;
}

/** struct iommu_fault_alloc. */
export interface FaultAlloc {
  size: number;
  flags: number;
  outFaultId: number;
  outFaultFd: number;
}

const U64_MAX = (1n << 64n) - 1n;

function assertU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new RangeError(`iommufd abi: ${name}=${v} is not a u32`);
  }
}

function assertRoom(bytes: Uint8Array, offset: number, size: number, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > bytes.length) {
    throw new RangeError(`iommufd abi: ${what} needs ${size} bytes at ${offset}, buffer has ${bytes.length}`);
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encode one record into `out` at `offset` (default: a fresh 40-byte buffer). Returns `out`. */
export function encodePgfault(rec: HwptPgfault, out?: Uint8Array, offset = 0): Uint8Array {
  const buf = out ?? new Uint8Array(PGFAULT_SIZE);
  assertRoom(buf, offset, PGFAULT_SIZE, 'iommu_hwpt_pgfault');
  assertU32('flags', rec.flags);
  assertU32('dev_id', rec.devId);
  assertU32('pasid', rec.pasid);
  assertU32('grpid', rec.grpid);
  assertU32('perm', rec.perm);
  assertU32('__reserved', rec.reserved);
  assertU32('length', rec.length);
  assertU32('cookie', rec.cookie);
  if (rec.addr < 0n || rec.addr > U64_MAX) throw new RangeError(`iommufd abi: addr=${rec.addr} is not a u64`);
  const dv = view(buf);
  dv.setUint32(offset + PgfaultOffset.flags, rec.flags, true);
  dv.setUint32(offset + PgfaultOffset.devId, rec.devId, true);
  dv.setUint32(offset + PgfaultOffset.pasid, rec.pasid, true);
  dv.setUint32(offset + PgfaultOffset.grpid, rec.grpid, true);
  dv.setUint32(offset + PgfaultOffset.perm, rec.perm, true);
  dv.setUint32(offset + PgfaultOffset.reserved, rec.reserved, true);
  dv.setBigUint64(offset + PgfaultOffset.addr, rec.addr, true);
  dv.setUint32(offset + PgfaultOffset.length, rec.length, true);
  dv.setUint32(offset + PgfaultOffset.cookie, rec.cookie, true);
  return buf;
}

/** Decode one record at `offset`. `reserved` is returned as found (a checker may flag non-zero). */
export function decodePgfault(bytes: Uint8Array, offset = 0): HwptPgfault {
  assertRoom(bytes, offset, PGFAULT_SIZE, 'iommu_hwpt_pgfault');
  const dv = view(bytes);
  return {
    flags: dv.getUint32(offset + PgfaultOffset.flags, true),
    devId: dv.getUint32(offset + PgfaultOffset.devId, true),
    pasid: dv.getUint32(offset + PgfaultOffset.pasid, true),
    grpid: dv.getUint32(offset + PgfaultOffset.grpid, true),
    perm: dv.getUint32(offset + PgfaultOffset.perm, true),
    reserved: dv.getUint32(offset + PgfaultOffset.reserved, true),
    addr: dv.getBigUint64(offset + PgfaultOffset.addr, true),
    length: dv.getUint32(offset + PgfaultOffset.length, true),
    cookie: dv.getUint32(offset + PgfaultOffset.cookie, true),
  };
}

/** Decode every whole record of a read() result. */
export function decodePgfaults(bytes: Uint8Array): HwptPgfault[] {
  if (bytes.length % PGFAULT_SIZE !== 0) {
    throw new RangeError(`iommufd abi: ${bytes.length} bytes is not a whole number of records`);
  }
  const out: HwptPgfault[] = [];
  for (let off = 0; off < bytes.length; off += PGFAULT_SIZE) out.push(decodePgfault(bytes, off));
  return out;
}

export function encodePageResponse(resp: HwptPageResponse, out?: Uint8Array, offset = 0): Uint8Array {
  const buf = out ?? new Uint8Array(PAGE_RESPONSE_SIZE);
  assertRoom(buf, offset, PAGE_RESPONSE_SIZE, 'iommu_hwpt_page_response');
  assertU32('cookie', resp.cookie);
  assertU32('code', resp.code);
  const dv = view(buf);
  dv.setUint32(offset + PageResponseOffset.cookie, resp.cookie, true);
  dv.setUint32(offset + PageResponseOffset.code, resp.code, true);
  return buf;
}

/** Encode several responses back to back, as user space hands them to one write(). */
export function encodePageResponses(resps: readonly HwptPageResponse[]): Uint8Array {
  const buf = new Uint8Array(resps.length * PAGE_RESPONSE_SIZE);
  resps.forEach((r, i) => encodePageResponse(r, buf, i * PAGE_RESPONSE_SIZE));
  return buf;
}

export function decodePageResponse(bytes: Uint8Array, offset = 0): HwptPageResponse {
  assertRoom(bytes, offset, PAGE_RESPONSE_SIZE, 'iommu_hwpt_page_response');
  const dv = view(bytes);
  return {
    cookie: dv.getUint32(offset + PageResponseOffset.cookie, true),
    code: dv.getUint32(offset + PageResponseOffset.code, true),
  };
}

export function encodeFaultAlloc(cmd: FaultAlloc, out?: Uint8Array, offset = 0): Uint8Array {
  const buf = out ?? new Uint8Array(FAULT_ALLOC_SIZE);
  assertRoom(buf, offset, FAULT_ALLOC_SIZE, 'iommu_fault_alloc');
  assertU32('size', cmd.size);
  assertU32('flags', cmd.flags);
  assertU32('out_fault_id', cmd.outFaultId);
  assertU32('out_fault_fd', cmd.outFaultFd);
  const dv = view(buf);
  dv.setUint32(offset + FaultAllocOffset.size, cmd.size, true);
  dv.setUint32(offset + FaultAllocOffset.flags, cmd.flags, true);
  dv.setUint32(offset + FaultAllocOffset.outFaultId, cmd.outFaultId, true);
  dv.setUint32(offset + FaultAllocOffset.outFaultFd, cmd.outFaultFd, true);
  return buf;
}

export function decodeFaultAlloc(bytes: Uint8Array, offset = 0): FaultAlloc {
  assertRoom(bytes, offset, FAULT_ALLOC_SIZE, 'iommu_fault_alloc');
  const dv = view(bytes);
  return {
    size: dv.getUint32(offset + FaultAllocOffset.size, true),
    flags: dv.getUint32(offset + FaultAllocOffset.flags, true),
    outFaultId: dv.getUint32(offset + FaultAllocOffset.outFaultId, true),
    outFaultFd: dv.getUint32(offset + FaultAllocOffset.outFaultFd, true),
  };
}

/**
 * The flags check of iommufd_fault_alloc(): any flag is -EOPNOTSUPP (none is defined). The generic
 * ioctl size handling (short struct, non-zero tail) belongs to the ioctl layer, not modelled here.
 */
export function checkFaultAlloc(cmd: Pick<FaultAlloc, 'flags'>): 0 | -95 {
  return cmd.flags !== 0 ? (err('EOPNOTSUPP') as -95) : 0;
}

/**
 * Core fault flags → uAPI flags. iommufd_compose_fault_message() copies `prm.flags` unchanged, so
 * every bit the driver set reaches user space, including ones the uAPI does not define (in mainline
 * include/linux/iommu.h bit 2 is IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID). PASID_VALID and LAST_PAGE
 * have the same values on both sides.
 */
export function pgfaultFlagsFromFault(flags: number): number {
  return flags >>> 0;
}

/** Bits of a record's flags that the uAPI does not define (0 when clean). */
export function undefinedPgfaultFlags(flags: number): number {
  return (flags & ~PGFAULT_FLAGS_DEFINED) >>> 0;
}

/** Core perm → uAPI perm: IOMMU_FAULT_PERM_* and IOMMU_PGFAULT_PERM_* share bit values; copied as is. */
export function pgfaultPermFromFault(perm: number): number {
  return perm >>> 0;
}

/**
 * iommufd_compose_fault_message(): one fault of a group as user space sees it. `devId` is the
 * iommufd device object id of the attachment the group came through (the same for all its records),
 * `length` is always 0 and `__reserved` 0.
 */
export function pgfaultFromFault(fault: FaultRecord, devId: number, cookie: number): HwptPgfault {
  if (!Number.isSafeInteger(fault.addr) || fault.addr < 0) {
    throw new RangeError(`iommufd abi: fault addr ${fault.addr} is not an exact non-negative integer`);
  }
  return {
    flags: pgfaultFlagsFromFault(fault.flags),
    devId,
    pasid: fault.pasid,
    grpid: fault.grpid,
    perm: pgfaultPermFromFault(fault.perm),
    reserved: 0,
    addr: BigInt(fault.addr),
    length: 0,
    cookie,
  };
}
