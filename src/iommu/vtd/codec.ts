/**
 * Byte-exact codecs of the Intel VT-d descriptors on the recoverable-fault path
 * (pcie-iommu-hardware.md §2.2, §2.4; VT-d spec ch. 7 and §6.5.2):
 *
 * - the page request descriptor the IOMMU writes into the page request queue (PRQ, 32 bytes),
 * - the page group response descriptor software submits on the invalidation queue (type 9h),
 * - the invalidation wait descriptor (type 5h) used by the PASID drain (§7.10).
 *
 * Each descriptor is a table (layout/layout.ts): the field names and bit ranges were checked against
 * Linux `struct page_req_dsc` (drivers/iommu/intel/prq.c), the `QI_PGRP_*` / `QI_IWD_*` macros
 * (drivers/iommu/intel/iommu.h) and QEMU's `VTD_PRD_*`, `VTD_INV_DESC_PGRESP_*`,
 * `VTD_INV_DESC_WAIT_*` (hw/i386/intel_iommu_internal.h). All descriptors are handled in their
 * 256-bit (scalable-mode) size: four little-endian qwords QW0..QW3. `iopf list layouts` prints them.
 *
 * Encoders write every reserved bit as zero; decoders ignore reserved bits (hardware and old kernels
 * may leave them set) but check the descriptor type.
 */
import { anyLayout, compile, decodeInto, encode, encodeInto, fromQwords, qw, toQwords, type FieldSpec, type AnyLayout, type Layout } from '../../layout/layout.js';

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

/** The invalidation-queue type is 7 bits: 3:0 and 11:9 as type[6:4] (VT-d §6.5.2; QEMU VTD_INV_DESC_TYPE). */
const QI_TYPE = [
  { hi: 3, lo: 0 },
  { hi: 11, lo: 9 },
];

/** QW2-QW3 as four dwords of the record's `privateData`. */
function privateDataFields<R extends { privateData: VtdPrivateData }>(doc: string): FieldSpec<R>[] {
  return [0, 1, 2, 3].map((i) => ({
    name: `Private Data[${32 * i + 31}:${32 * i}]`,
    bits: qw(2 + Math.floor(i / 2), 32 * (i % 2) + 31, 32 * (i % 2)),
    key: 'privateData',
    index: i,
    ...(i === 0 ? { doc } : {}),
  }));
}

const RESP_CODES = { 0x0: 'Success', 0x1: 'Invalid Request', 0xf: 'Response Failure' };

// ---------------------------------------------------------------------------------------------
// Page request descriptor (PRQ entry)
// ---------------------------------------------------------------------------------------------

/**
 * Page request descriptor (§2.2), as Linux's `struct page_req_dsc` (drivers/iommu/intel/prq.c)
 * and QEMU's `VTD_PRD_*` lay it out. Bit 9 (private data present) is the older layout: Linux
 * dropped `priv_data_present` and treats it as reserved.
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

export const PAGE_REQUEST_LAYOUT: Layout<VtdPageRequestDesc> = compile<VtdPageRequestDesc>({
  id: 'vtd.page_request',
  name: 'Page Request Descriptor',
  what: 'a page request descriptor',
  size: VTD_DESC_SIZE,
  unit: 'QW',
  source: 'VT-d 7.5.1.1; Linux struct page_req_dsc (intel/prq.c); QEMU VTD_PRD_*; hardware ref §2.2',
  fields: [
    // Linux reads the type as the whole byte 7:0 (struct page_req_dsc.type:8).
    { name: 'Type', bits: qw(0, 7, 0), value: VtdDescType.PAGE_REQUEST, doc: 'page request (01h)' },
    { name: 'PASID Present', bits: qw(0, 8), key: 'pasidPresent', flag: true },
    { name: 'Private Data Present', bits: qw(0, 9), key: 'privDataPresent', flag: true, doc: 'older layout; reserved in current Linux' },
    { name: 'Requester-ID', bits: qw(0, 31, 16), key: 'rid', doc: 'bus/device/function' },
    { name: 'PASID', bits: qw(0, 51, 32), key: 'pasid' },
    { name: 'Execute Requested', bits: qw(0, 52), key: 'execReq', flag: true },
    { name: 'Privilege Mode Requested', bits: qw(0, 53), key: 'privReq', flag: true },
    { name: 'Read Requested', bits: qw(1, 0), key: 'read', flag: true },
    { name: 'Write Requested', bits: qw(1, 1), key: 'write', flag: true },
    { name: 'Last Page In Group', bits: qw(1, 2), key: 'lpig', flag: true, doc: 'L: the group is complete' },
    { name: 'Page Request Group Index', bits: qw(1, 11, 3), key: 'prgIndex' },
    { name: 'Address', bits: qw(1, 63, 12), key: 'pageNum', doc: 'page address bits 63:12' },
    ...privateDataFields<VtdPageRequestDesc>('returned in the response when Private Data Present'),
  ],
});

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

/** Write a page request descriptor at `off` (32 bytes). */
export function encodePageRequestInto(rec: VtdPageRequestDesc, bytes: Uint8Array, off = 0): void {
  encodeInto(PAGE_REQUEST_LAYOUT, rec, bytes, off);
}

/** Encode a page request descriptor into a new 32-byte array. */
export function encodePageRequest(rec: VtdPageRequestDesc): Uint8Array {
  return encode(PAGE_REQUEST_LAYOUT, rec);
}

/** Decode a page request descriptor at `off` into `out` (no allocation). Throws on a wrong type. */
export function decodePageRequestInto(bytes: Uint8Array, off: number, out: VtdPageRequestDesc): VtdPageRequestDesc {
  return decodeInto(PAGE_REQUEST_LAYOUT, bytes, off, out);
}

/** Decode a page request descriptor into a new record. */
export function decodePageRequest(bytes: Uint8Array, offset = 0): VtdPageRequestDesc {
  return decodePageRequestInto(bytes, offset, emptyPageRequest());
}

/** True for a Stop Marker (§1.2): L=1, R=W=0, with a PASID. Linux's PRQ thread drops these. */
export function isStopMarker(rec: Pick<VtdPageRequestDesc, 'lpig' | 'read' | 'write' | 'pasidPresent'>): boolean {
  return rec.lpig && !rec.read && !rec.write && rec.pasidPresent;
}

// ---------------------------------------------------------------------------------------------
// Page group response descriptor (type 9h)
// ---------------------------------------------------------------------------------------------

/**
 * Page group response descriptor (§2.4), as Linux's `QI_PGRP_*` macros (drivers/iommu/intel/
 * iommu.h) place it. Mainline kernels no longer set LPIG (`QI_PGRP_LPIG`) or private data present
 * (`QI_PGRP_PDP`) — the response is per group — older ones did; the decoder accepts both. QEMU
 * treats b5 as reserved.
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

export const PAGE_GROUP_RESP_LAYOUT: Layout<VtdPageGroupResp> = compile<VtdPageGroupResp>({
  id: 'vtd.page_group_resp',
  name: 'Page Group Response Descriptor',
  what: 'a page group response descriptor',
  size: VTD_DESC_SIZE,
  unit: 'QW',
  source: 'VT-d 6.5.2.14; Linux QI_PGRP_* (intel/iommu.h); QEMU VTD_INV_DESC_PGRESP_*; hardware ref §2.4',
  fields: [
    { name: 'Type', bits: QI_TYPE, value: VtdDescType.PAGE_GROUP_RESP, doc: 'page group response (09h): bits 3:0 and 11:9' },
    { name: 'PASID Present', bits: qw(0, 4), key: 'pasidPresent', flag: true },
    { name: 'Private Data Present', bits: qw(0, 5), key: 'privDataPresent', flag: true, doc: 'older kernels (QI_PGRP_PDP)' },
    { name: 'Response Code', bits: qw(0, 15, 12), key: 'respCode', values: RESP_CODES },
    { name: 'Requester-ID', bits: qw(0, 31, 16), key: 'rid' },
    { name: 'PASID', bits: qw(0, 51, 32), key: 'pasid' },
    { name: 'Last Page In Group', bits: qw(1, 2), key: 'lpig', flag: true, doc: 'older kernels (QI_PGRP_LPIG)' },
    { name: 'Page Request Group Index', bits: qw(1, 11, 3), key: 'prgIndex' },
    ...privateDataFields<VtdPageGroupResp>('echoed from the request'),
  ],
});

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

/** Write a page group response descriptor at `off` (32 bytes). */
export function encodePageGroupRespInto(rec: VtdPageGroupResp, bytes: Uint8Array, off = 0): void {
  encodeInto(PAGE_GROUP_RESP_LAYOUT, rec, bytes, off);
}

/** Encode a page group response descriptor into a new 32-byte array. */
export function encodePageGroupResp(rec: VtdPageGroupResp): Uint8Array {
  return encode(PAGE_GROUP_RESP_LAYOUT, rec);
}

/** Decode a page group response descriptor at `off` into `out`. Throws on a wrong type. */
export function decodePageGroupRespInto(bytes: Uint8Array, off: number, out: VtdPageGroupResp): VtdPageGroupResp {
  return decodeInto(PAGE_GROUP_RESP_LAYOUT, bytes, off, out);
}

/** Decode a page group response descriptor into a new record. */
export function decodePageGroupResp(bytes: Uint8Array, offset = 0): VtdPageGroupResp {
  return decodePageGroupRespInto(bytes, offset, emptyPageGroupResp());
}

/**
 * Decode a page group response from its qwords as the `intel_iommu:qi_submit` tracepoint prints
 * them (`page_grp_resp dmar0: 0x<qw0> 0x<qw1> 0x<qw2> 0x<qw3>`). QW2/QW3 may be omitted (zero).
 */
export function decodePageGroupRespQwords(qws: readonly bigint[]): VtdPageGroupResp {
  if (qws.length < 2 || qws.length > 4) throw new RangeError(`expected 2..4 qwords, got ${qws.length}`);
  return fromQwords(PAGE_GROUP_RESP_LAYOUT, qws, emptyPageGroupResp());
}

/** The four qwords of a page group response, as `qi_submit` would print them. */
export function pageGroupRespQwords(rec: VtdPageGroupResp): [bigint, bigint, bigint, bigint] {
  return toQwords(PAGE_GROUP_RESP_LAYOUT, rec) as [bigint, bigint, bigint, bigint];
}

// ---------------------------------------------------------------------------------------------
// Invalidation wait descriptor (type 5h)
// ---------------------------------------------------------------------------------------------

/**
 * Invalidation wait descriptor, as Linux's `QI_IWD_*` macros place it. The drain of §2.4 submits it
 * with Fence and Page-Drain set (Linux `intel_drain_pasid_prq`).
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

export const INV_WAIT_LAYOUT: Layout<VtdInvWaitDesc> = compile<VtdInvWaitDesc>({
  id: 'vtd.inv_wait',
  name: 'Invalidation Wait Descriptor',
  what: 'an invalidation wait descriptor',
  size: VTD_DESC_SIZE,
  unit: 'QW',
  source: 'VT-d 6.5.2.8; Linux QI_IWD_* (intel/iommu.h); QEMU VTD_INV_DESC_WAIT_*; hardware ref §2.4',
  fields: [
    { name: 'Type', bits: QI_TYPE, value: VtdDescType.INV_WAIT, doc: 'invalidation wait (05h): bits 3:0 and 11:9' },
    { name: 'Interrupt Flag', bits: qw(0, 4), key: 'interruptFlag', flag: true },
    { name: 'Status Write', bits: qw(0, 5), key: 'statusWrite', flag: true, doc: 'QI_IWD_STATUS_WRITE' },
    { name: 'Fence', bits: qw(0, 6), key: 'fence', flag: true, doc: 'QI_IWD_FENCE: later descriptors wait for this one' },
    { name: 'Page-request Drain', bits: qw(0, 7), key: 'pageDrain', flag: true, doc: 'QI_IWD_PRQ_DRAIN' },
    { name: 'Status Data', bits: qw(0, 63, 32), key: 'statusData', doc: 'QI_IWD_STATUS_DATA' },
    // Bits 1:0 of QW1 are reserved (QEMU VTD_INV_DESC_WAIT_RSVD_HI): the address is dword aligned.
    { name: 'Status Address', bits: [{ hi: 127, lo: 66, at: 2 }], key: 'statusAddr', doc: 'byte address, bits 63:2' },
  ],
});

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
  const a = rec.statusAddr;
  if (Number.isSafeInteger(a) && a >= 0 && a % 4 !== 0) throw new RangeError(`statusAddr=${a} is not dword aligned`);
  encodeInto(INV_WAIT_LAYOUT, rec, bytes, off);
}

/** Encode an invalidation wait descriptor into a new 32-byte array. */
export function encodeInvWait(rec: VtdInvWaitDesc): Uint8Array {
  const bytes = new Uint8Array(VTD_DESC_SIZE);
  encodeInvWaitInto(rec, bytes, 0);
  return bytes;
}

/** Decode an invalidation wait descriptor at `off` into `out`. Throws on a wrong type. */
export function decodeInvWaitInto(bytes: Uint8Array, off: number, out: VtdInvWaitDesc): VtdInvWaitDesc {
  return decodeInto(INV_WAIT_LAYOUT, bytes, off, out);
}

/** Decode an invalidation wait descriptor into a new record. */
export function decodeInvWait(bytes: Uint8Array, offset = 0): VtdInvWaitDesc {
  return decodeInvWaitInto(bytes, offset, emptyInvWait());
}

/** The largest page number a page request can carry (the Address field: 52 bits). */
export const VTD_MAX_PAGE_NUM = 2 ** 52 - 1;

/** The VT-d records, for `iopf list layouts`. */
export const VTD_LAYOUTS: readonly AnyLayout[] = [anyLayout(PAGE_REQUEST_LAYOUT), anyLayout(PAGE_GROUP_RESP_LAYOUT), anyLayout(INV_WAIT_LAYOUT)];
