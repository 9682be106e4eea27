/**
 * Byte-exact codecs of the Intel VT-d descriptors on the recoverable-fault path
 * (pcie-iommu-hardware.md §2.2, §2.4; VT-d spec ch. 7 and §6.5.2):
 *
 * - the page request descriptor the IOMMU writes into the page request queue (PRQ, 32 bytes),
 * - the page group response descriptor software submits on the invalidation queue (type 9h),
 * - the invalidation wait descriptor (type 5h) used by the PASID drain (§7.10).
 *
 * Layouts were checked against Linux `struct page_req_dsc` (drivers/iommu/intel/prq.c), the
 * `QI_PGRP_*` / `QI_IWD_*` macros (drivers/iommu/intel/iommu.h) and QEMU's `VTD_PRD_*`,
 * `VTD_INV_DESC_PGRESP_*`, `VTD_INV_DESC_WAIT_*` (hw/i386/intel_iommu_internal.h). All descriptors
 * are handled in their 256-bit (scalable-mode) size: four little-endian qwords QW0..QW3.
 *
 * Encoders write every reserved bit as zero; decoders ignore reserved bits (hardware and old kernels
 * may leave them set) but check the descriptor type.
 */
import {
  assertField,
  assertSpan,
  assertU53,
  bigIntToHalves,
  flagBit,
  getBit,
  getBits,
  hiOf,
  loOf,
  MAX_PAGE_NUM,
  pageNumFrom,
  pageNumHi,
  pageNumLo,
  qwordToBigInt,
  readU32,
  u64ToNumber,
  writeU32,
} from '../bits.js';

/** Size in bytes of every VT-d descriptor handled here (scalable mode). */
export const VTD_DESC_SIZE = 32;

/** Descriptor type codes (7-bit: bits 3:0 plus bits 11:9 as type[6:4]). */
export const VtdDescType = {
  PAGE_REQUEST: 0x1,
  INV_WAIT: 0x5,
  PAGE_GROUP_RESP: 0x9,
} as const;

/** Response codes of the page group response (PCIe PRG response codes, §1.4). */
export const VtdRespCode = {
  SUCCESS: 0x0,
  INVALID: 0x1,
  FAILURE: 0xf,
} as const;

/**
 * Private data: QW2 and QW3 as four 32-bit dwords, in memory order
 * (QW2 bits 31:0, QW2 bits 63:32, QW3 bits 31:0, QW3 bits 63:32).
 */
export type VtdPrivateData = [number, number, number, number];

// ---------------------------------------------------------------------------------------------
// Page request descriptor (PRQ entry)
// ---------------------------------------------------------------------------------------------

/**
 * Page request descriptor (§2.2). QW0: type 7:0 (=1), PASID present b8, private data present b9
 * (only in the older layout: Linux dropped `priv_data_present` and treats b9 as reserved), requester
 * ID 31:16, PASID 51:32, execute requested b52, privileged mode requested b53. QW1: read b0,
 * write b1, last page in group b2, PRG index 11:3, page address 63:12. QW2-QW3: private data.
 */
export interface VtdPageRequestDesc {
  /** Requester ID (bus/dev/fn), 16 bits. */
  rid: number;
  pasidPresent: boolean;
  /** Bit 9: private data present (older VT-d/Linux layout; reserved in current Linux). */
  privDataPresent: boolean;
  /** 20 bits. */
  pasid: number;
  execReq: boolean;
  privReq: boolean;
  read: boolean;
  write: boolean;
  /** Last page in group. */
  lpig: boolean;
  /** PRG index, 9 bits. */
  prgIndex: number;
  /** Page number: address bits 63:12 (52 bits). */
  pageNum: number;
  privateData: VtdPrivateData;
}

/** A zeroed page request record, for `decodePageRequestInto` targets. */
export function emptyPageRequest(): VtdPageRequestDesc {
  return {
    rid: 0,
    pasidPresent: false,
    privDataPresent: false,
    pasid: 0,
    execReq: false,
    privReq: false,
    read: false,
    write: false,
    lpig: false,
    prgIndex: 0,
    pageNum: 0,
    privateData: [0, 0, 0, 0],
  };
}

function checkPrivateData(pd: VtdPrivateData): void {
  for (let i = 0; i < 4; i++) assertField(`privateData[${i}]`, pd[i]!, 32);
}

/** Write a page request descriptor at `off` (32 bytes). */
export function encodePageRequestInto(rec: VtdPageRequestDesc, bytes: Uint8Array, off = 0): void {
  assertField('rid', rec.rid, 16);
  assertField('pasid', rec.pasid, 20);
  assertField('prgIndex', rec.prgIndex, 9);
  assertField('pageNum', rec.pageNum, 52);
  checkPrivateData(rec.privateData);
  assertSpan(bytes, off, VTD_DESC_SIZE);
  const qw0lo =
    (VtdDescType.PAGE_REQUEST |
      flagBit(rec.pasidPresent, 8) |
      flagBit(rec.privDataPresent, 9) |
      (rec.rid << 16)) >>>
    0;
  const qw0hi = (rec.pasid | flagBit(rec.execReq, 52 - 32) | flagBit(rec.privReq, 53 - 32)) >>> 0;
  const qw1lo =
    (flagBit(rec.read, 0) |
      flagBit(rec.write, 1) |
      flagBit(rec.lpig, 2) |
      (rec.prgIndex << 3) |
      pageNumLo(rec.pageNum)) >>>
    0;
  const qw1hi = pageNumHi(rec.pageNum);
  writeU32(bytes, off, qw0lo);
  writeU32(bytes, off + 4, qw0hi);
  writeU32(bytes, off + 8, qw1lo);
  writeU32(bytes, off + 12, qw1hi);
  for (let i = 0; i < 4; i++) writeU32(bytes, off + 16 + 4 * i, rec.privateData[i]!);
}

/** Encode a page request descriptor into a new 32-byte array. */
export function encodePageRequest(rec: VtdPageRequestDesc): Uint8Array {
  const bytes = new Uint8Array(VTD_DESC_SIZE);
  encodePageRequestInto(rec, bytes, 0);
  return bytes;
}

/** Decode a page request descriptor at `off` into `out` (no allocation). Throws on a wrong type. */
export function decodePageRequestInto(
  bytes: Uint8Array,
  off: number,
  out: VtdPageRequestDesc,
): VtdPageRequestDesc {
  assertSpan(bytes, off, VTD_DESC_SIZE);
  const qw0lo = readU32(bytes, off);
  const qw0hi = readU32(bytes, off + 4);
  const qw1lo = readU32(bytes, off + 8);
  const qw1hi = readU32(bytes, off + 12);
  // Linux reads the type as the whole byte 7:0 (struct page_req_dsc.type:8).
  const type = qw0lo & 0xff;
  if (type !== VtdDescType.PAGE_REQUEST)
    throw new RangeError(`not a page request descriptor: type 0x${type.toString(16)}`);
  out.pasidPresent = getBit(qw0lo, 8);
  out.privDataPresent = getBit(qw0lo, 9);
  out.rid = getBits(qw0lo, 16, 16);
  out.pasid = getBits(qw0hi, 0, 20);
  out.execReq = getBit(qw0hi, 52 - 32);
  out.privReq = getBit(qw0hi, 53 - 32);
  out.read = getBit(qw1lo, 0);
  out.write = getBit(qw1lo, 1);
  out.lpig = getBit(qw1lo, 2);
  out.prgIndex = getBits(qw1lo, 3, 9);
  out.pageNum = pageNumFrom(qw1lo, qw1hi);
  const pd = out.privateData;
  for (let i = 0; i < 4; i++) pd[i] = readU32(bytes, off + 16 + 4 * i);
  return out;
}

/** Decode a page request descriptor into a new record. */
export function decodePageRequest(bytes: Uint8Array, offset = 0): VtdPageRequestDesc {
  return decodePageRequestInto(bytes, offset, emptyPageRequest());
}

/** True for a Stop Marker (§1.2): L=1, R=W=0, with a PASID. Linux's PRQ thread drops these. */
export function isStopMarker(
  rec: Pick<VtdPageRequestDesc, 'lpig' | 'read' | 'write' | 'pasidPresent'>,
): boolean {
  return rec.lpig && !rec.read && !rec.write && rec.pasidPresent;
}

// ---------------------------------------------------------------------------------------------
// Page group response descriptor (type 9h)
// ---------------------------------------------------------------------------------------------

/**
 * Page group response descriptor (§2.4). QW0: type 3:0 (=9h), PASID present b4, private data
 * present b5, response code 15:12, requester ID 31:16, PASID 51:32. QW1: LPIG b2, PRG index 11:3.
 * QW2-QW3: private data. Mainline kernels no longer set LPIG or private data (the response is per
 * group), older ones did; the decoder accepts both. QEMU treats b5 as reserved.
 */
export interface VtdPageGroupResp {
  rid: number;
  pasidPresent: boolean;
  privDataPresent: boolean;
  /** 4-bit PCIe response code ({@link VtdRespCode}); reserved values are representable. */
  respCode: number;
  pasid: number;
  lpig: boolean;
  prgIndex: number;
  privateData: VtdPrivateData;
}

/** A zeroed page group response record. */
export function emptyPageGroupResp(): VtdPageGroupResp {
  return {
    rid: 0,
    pasidPresent: false,
    privDataPresent: false,
    respCode: 0,
    pasid: 0,
    lpig: false,
    prgIndex: 0,
    privateData: [0, 0, 0, 0],
  };
}

function pageGroupRespHalves(rec: VtdPageGroupResp): [number, number, number, number] {
  assertField('rid', rec.rid, 16);
  assertField('respCode', rec.respCode, 4);
  assertField('pasid', rec.pasid, 20);
  assertField('prgIndex', rec.prgIndex, 9);
  checkPrivateData(rec.privateData);
  const qw0lo =
    (VtdDescType.PAGE_GROUP_RESP |
      flagBit(rec.pasidPresent, 4) |
      flagBit(rec.privDataPresent, 5) |
      (rec.respCode << 12) |
      (rec.rid << 16)) >>>
    0;
  const qw0hi = rec.pasid >>> 0;
  const qw1lo = (flagBit(rec.lpig, 2) | (rec.prgIndex << 3)) >>> 0;
  return [qw0lo, qw0hi, qw1lo, 0];
}

function fillPageGroupResp(
  qw0lo: number,
  qw0hi: number,
  qw1lo: number,
  out: VtdPageGroupResp,
): VtdPageGroupResp {
  // The invalidation-queue type is 7 bits: 3:0 and 11:9 (VT-d §6.5.2; QEMU VTD_INV_DESC_TYPE).
  const type = (qw0lo & 0xf) | (getBits(qw0lo, 9, 3) << 4);
  if (type !== VtdDescType.PAGE_GROUP_RESP) {
    throw new RangeError(`not a page group response descriptor: type 0x${type.toString(16)}`);
  }
  out.pasidPresent = getBit(qw0lo, 4);
  out.privDataPresent = getBit(qw0lo, 5);
  out.respCode = getBits(qw0lo, 12, 4);
  out.rid = getBits(qw0lo, 16, 16);
  out.pasid = getBits(qw0hi, 0, 20);
  out.lpig = getBit(qw1lo, 2);
  out.prgIndex = getBits(qw1lo, 3, 9);
  return out;
}

/** Write a page group response descriptor at `off` (32 bytes). */
export function encodePageGroupRespInto(rec: VtdPageGroupResp, bytes: Uint8Array, off = 0): void {
  const h = pageGroupRespHalves(rec);
  assertSpan(bytes, off, VTD_DESC_SIZE);
  for (let i = 0; i < 4; i++) writeU32(bytes, off + 4 * i, h[i]!);
  for (let i = 0; i < 4; i++) writeU32(bytes, off + 16 + 4 * i, rec.privateData[i]!);
}

/** Encode a page group response descriptor into a new 32-byte array. */
export function encodePageGroupResp(rec: VtdPageGroupResp): Uint8Array {
  const bytes = new Uint8Array(VTD_DESC_SIZE);
  encodePageGroupRespInto(rec, bytes, 0);
  return bytes;
}

/** Decode a page group response descriptor at `off` into `out`. Throws on a wrong type. */
export function decodePageGroupRespInto(
  bytes: Uint8Array,
  off: number,
  out: VtdPageGroupResp,
): VtdPageGroupResp {
  assertSpan(bytes, off, VTD_DESC_SIZE);
  fillPageGroupResp(readU32(bytes, off), readU32(bytes, off + 4), readU32(bytes, off + 8), out);
  const pd = out.privateData;
  for (let i = 0; i < 4; i++) pd[i] = readU32(bytes, off + 16 + 4 * i);
  return out;
}

/** Decode a page group response descriptor into a new record. */
export function decodePageGroupResp(bytes: Uint8Array, offset = 0): VtdPageGroupResp {
  return decodePageGroupRespInto(bytes, offset, emptyPageGroupResp());
}

/**
 * Decode a page group response from its qwords as the `intel_iommu:qi_submit` tracepoint prints
 * them (`page_grp_resp dmar0: 0x<qw0> 0x<qw1> 0x<qw2> 0x<qw3>`). QW2/QW3 may be omitted (zero).
 */
export function decodePageGroupRespQwords(qw: readonly bigint[]): VtdPageGroupResp {
  if (qw.length < 2 || qw.length > 4) throw new RangeError(`expected 2..4 qwords, got ${qw.length}`);
  const q0 = bigIntToHalves('qw0', qw[0]!);
  const q1 = bigIntToHalves('qw1', qw[1]!);
  const out = fillPageGroupResp(q0.lo, q0.hi, q1.lo, emptyPageGroupResp());
  const q2 = bigIntToHalves('qw2', qw[2] ?? 0n);
  const q3 = bigIntToHalves('qw3', qw[3] ?? 0n);
  out.privateData = [q2.lo, q2.hi, q3.lo, q3.hi];
  return out;
}

/** The four qwords of a page group response, as `qi_submit` would print them. */
export function pageGroupRespQwords(rec: VtdPageGroupResp): [bigint, bigint, bigint, bigint] {
  const h = pageGroupRespHalves(rec);
  const pd = rec.privateData;
  return [
    qwordToBigInt(h[0], h[1]),
    qwordToBigInt(h[2], h[3]),
    qwordToBigInt(pd[0], pd[1]),
    qwordToBigInt(pd[2], pd[3]),
  ];
}

// ---------------------------------------------------------------------------------------------
// Invalidation wait descriptor (type 5h)
// ---------------------------------------------------------------------------------------------

/**
 * Invalidation wait descriptor. QW0: type 3:0 (=5h), interrupt flag b4, status write b5, fence b6,
 * page-request drain b7, status data 63:32. QW1: status address (dword aligned, bits 63:2).
 * The drain of §2.4 submits it with Fence and Page-Drain set (Linux `intel_drain_pasid_prq`).
 */
export interface VtdInvWaitDesc {
  interruptFlag: boolean;
  statusWrite: boolean;
  fence: boolean;
  pageDrain: boolean;
  /** 32-bit value written to `statusAddr` when `statusWrite`. */
  statusData: number;
  /** Byte address, multiple of 4, below 2^53. */
  statusAddr: number;
}

/** A zeroed invalidation wait record. */
export function emptyInvWait(): VtdInvWaitDesc {
  return {
    interruptFlag: false,
    statusWrite: false,
    fence: false,
    pageDrain: false,
    statusData: 0,
    statusAddr: 0,
  };
}

/** Write an invalidation wait descriptor at `off` (32 bytes; QW2-QW3 zero). */
export function encodeInvWaitInto(rec: VtdInvWaitDesc, bytes: Uint8Array, off = 0): void {
  assertField('statusData', rec.statusData, 32);
  assertU53('statusAddr', rec.statusAddr);
  if (rec.statusAddr % 4 !== 0) throw new RangeError(`statusAddr=${rec.statusAddr} is not dword aligned`);
  assertSpan(bytes, off, VTD_DESC_SIZE);
  const qw0lo =
    (VtdDescType.INV_WAIT |
      flagBit(rec.interruptFlag, 4) |
      flagBit(rec.statusWrite, 5) |
      flagBit(rec.fence, 6) |
      flagBit(rec.pageDrain, 7)) >>>
    0;
  writeU32(bytes, off, qw0lo);
  writeU32(bytes, off + 4, rec.statusData);
  writeU32(bytes, off + 8, loOf(rec.statusAddr));
  writeU32(bytes, off + 12, hiOf(rec.statusAddr));
  bytes.fill(0, off + 16, off + 32);
}

/** Encode an invalidation wait descriptor into a new 32-byte array. */
export function encodeInvWait(rec: VtdInvWaitDesc): Uint8Array {
  const bytes = new Uint8Array(VTD_DESC_SIZE);
  encodeInvWaitInto(rec, bytes, 0);
  return bytes;
}

/** Decode an invalidation wait descriptor at `off` into `out`. Throws on a wrong type. */
export function decodeInvWaitInto(bytes: Uint8Array, off: number, out: VtdInvWaitDesc): VtdInvWaitDesc {
  assertSpan(bytes, off, VTD_DESC_SIZE);
  const qw0lo = readU32(bytes, off);
  const type = (qw0lo & 0xf) | (getBits(qw0lo, 9, 3) << 4);
  if (type !== VtdDescType.INV_WAIT)
    throw new RangeError(`not an invalidation wait descriptor: type 0x${type.toString(16)}`);
  out.interruptFlag = getBit(qw0lo, 4);
  out.statusWrite = getBit(qw0lo, 5);
  out.fence = getBit(qw0lo, 6);
  out.pageDrain = getBit(qw0lo, 7);
  out.statusData = readU32(bytes, off + 4);
  // Bits 1:0 of QW1 are reserved (QEMU VTD_INV_DESC_WAIT_RSVD_HI); the address is dword aligned.
  const lo = readU32(bytes, off + 8) & ~3;
  out.statusAddr = u64ToNumber('statusAddr', lo >>> 0, readU32(bytes, off + 12));
  return out;
}

/** Decode an invalidation wait descriptor into a new record. */
export function decodeInvWait(bytes: Uint8Array, offset = 0): VtdInvWaitDesc {
  return decodeInvWaitInto(bytes, offset, emptyInvWait());
}

/** The largest page number a page request can carry. */
export const VTD_MAX_PAGE_NUM = MAX_PAGE_NUM;
