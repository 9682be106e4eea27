/**
 * Byte-exact codecs of the AMD-Vi page request path (pcie-iommu-hardware.md §4): the PPR log entry
 * the IOMMU writes (16 bytes) and the COMPLETE_PPR_REQUEST command (opcode 07h, 16 bytes) software
 * answers with.
 *
 * Each record is a table (layout/layout.ts), checked against Linux drivers/iommu/amd/amd_iommu_types.h
 * (`PPR_DEVID`, `PPR_PASID1/2`, `PPR_TAG`, `PPR_FLAGS`, `PPR_REQ_TYPE`, `PPR_FLAG_*`,
 * `CMD_COMPLETE_PPR`, `PPR_STATUS_SHIFT/MASK`) and drivers/iommu/amd/iommu.c (`build_complete_ppr`,
 * `CMD_SET_TYPE`).
 */
import { anyLayout, compile, decodeInto, dw, encode, encodeInto, peek, qw, type AnyLayout, type Layout } from '../../layout/layout.js';

export const AMD_PPR_ENTRY_SIZE = 16;
export const AMD_CMD_SIZE = 16;

/** Command opcode of COMPLETE_PPR_REQUEST (bits 31:28 of the second dword). */
export const AMD_CMD_COMPLETE_PPR = 0x7;

/** PPR log entry type (bits 63:60): page service request. */
export const AMD_PPR_REQ_FAULT = 0x1;

/** PPR log entry flags (bits 59:48 of DW0, values relative to bit 48). */
export const AmdPprFlag = {
  EXEC: 0x002,
  READ: 0x004,
  WRITE: 0x020,
  /** 1 = user, 0 = supervisor. */
  US: 0x040,
  /** A reserved bit of the request was set; Linux rejects the request. */
  RSVD: 0x080,
  /** GVA and PASID valid ("GN"); Linux ignores requests without it. */
  GN: 0x100,
} as const;

/**
 * COMPLETE_PPR_REQUEST status codes (PCIe PRG response codes). Note: mainline Linux passes the iommu
 * core's response code straight through (`amd_iommu_page_response` -> `amd_iommu_complete_ppr`), so
 * IOMMU_PAGE_RESP_FAILURE arrives as 2, which PCIe treats as a reserved code; the field is a raw
 * 4-bit value here so the model can send either.
 */
export const AmdPprStatus = {
  SUCCESS: 0x0,
  INVALID: 0x1,
  FAILURE: 0xf,
} as const;

// ---------------------------------------------------------------------------------------------
// PPR log entry
// ---------------------------------------------------------------------------------------------

/** PPR log entry (`PPR_*` of amd_iommu_types.h). */
export interface AmdPprLogEntry {
  deviceId: number;
  /** 20-bit PASID assembled from its two pieces. */
  pasid: number;
  /** PRG index: tag bits 8:0. */
  prgIndex: number;
  /** Last request of the group: tag bit 9. */
  last: boolean;
  /** 12-bit flags ({@link AmdPprFlag}). */
  flags: number;
  /** 4-bit entry type ({@link AMD_PPR_REQ_FAULT}); 0 means "not written yet" (Linux polls on it). */
  type: number;
  /** Faulting address as logged (Linux masks the low 12 bits), below 2^53. */
  address: number;
}

export const PPR_LOG_ENTRY_LAYOUT: Layout<AmdPprLogEntry> = compile<AmdPprLogEntry>({
  id: 'amd.ppr_log_entry',
  name: 'PPR Log Entry',
  what: 'a PPR log entry',
  size: AMD_PPR_ENTRY_SIZE,
  unit: 'QW',
  source: 'AMD IOMMU spec 2.5 (PPR log); Linux PPR_* (amd_iommu_types.h); hardware ref §4',
  fields: [
    { name: 'DeviceID', bits: qw(0, 15, 0), key: 'deviceId', doc: 'PPR_DEVID' },
    // PPR_PASID(x) = PPR_PASID2(x) << 16 | PPR_PASID1(x): the PASID is split in two.
    {
      name: 'PASID',
      bits: [
        { hi: 31, lo: 16 },
        { hi: 45, lo: 42 },
      ],
      key: 'pasid',
      doc: 'PASID[15:0] at 31:16 (PPR_PASID1), PASID[19:16] at 45:42 (PPR_PASID2)',
    },
    // The 10-bit tag (PPR_TAG): bits 8:0 the PRG index, bit 9 last-in-group.
    { name: 'Tag[8:0]', bits: qw(0, 40, 32), key: 'prgIndex', doc: 'PRG index (PPR_TAG bits 8:0)' },
    { name: 'Tag[9]', bits: qw(0, 41), key: 'last', flag: true, doc: 'last request of the group (PPR_TAG bit 9)' },
    {
      name: 'Flags',
      bits: qw(0, 59, 48),
      key: 'flags',
      values: { 0x002: 'Exec', 0x004: 'Read', 0x020: 'Write', 0x040: 'User', 0x080: 'reserved bit set', 0x100: 'GN (GVA and PASID valid)' },
      doc: 'PPR_FLAGS; bits as listed, ORed',
    },
    { name: 'Type', bits: qw(0, 63, 60), key: 'type', values: { 0: 'not written yet', 1: 'page service request (PPR_REQ_FAULT)' } },
    { name: 'Address', bits: qw(1, 63, 0), key: 'address', doc: 'faulting address (Linux masks bits 11:0)' },
  ],
});

export function emptyPprLogEntry(): AmdPprLogEntry {
  return { deviceId: 0, pasid: 0, prgIndex: 0, last: false, flags: 0, type: 0, address: 0 };
}

/** The 10-bit tag field as Linux's `PPR_TAG` reads it (Linux reports the whole tag as grpid). */
export function pprTag(rec: Pick<AmdPprLogEntry, 'prgIndex' | 'last'>): number {
  return rec.prgIndex | (rec.last ? 0x200 : 0);
}

export function encodePprLogEntryInto(rec: AmdPprLogEntry, bytes: Uint8Array, off = 0): void {
  encodeInto(PPR_LOG_ENTRY_LAYOUT, rec, bytes, off);
}

export function encodePprLogEntry(rec: AmdPprLogEntry): Uint8Array {
  return encode(PPR_LOG_ENTRY_LAYOUT, rec);
}

/** Decode a PPR log entry at `off` into `out`. Any type is accepted: the driver glue decides. */
export function decodePprLogEntryInto(bytes: Uint8Array, off: number, out: AmdPprLogEntry): AmdPprLogEntry {
  return decodeInto(PPR_LOG_ENTRY_LAYOUT, bytes, off, out);
}

export function decodePprLogEntry(bytes: Uint8Array, offset = 0): AmdPprLogEntry {
  return decodePprLogEntryInto(bytes, offset, emptyPprLogEntry());
}

// ---------------------------------------------------------------------------------------------
// COMPLETE_PPR_REQUEST
// ---------------------------------------------------------------------------------------------

/**
 * COMPLETE_PPR_REQUEST, four little-endian dwords (`build_complete_ppr`). Linux fills the PASID and
 * GN only when the device requires a PASID on responses (`dev_data->pri_tlp`).
 */
export interface AmdCompletePprCmd {
  deviceId: number;
  pasid: number;
  gn: boolean;
  prgIndex: number;
  /** Raw 4-bit status ({@link AmdPprStatus}). */
  status: number;
}

export const COMPLETE_PPR_LAYOUT: Layout<AmdCompletePprCmd> = compile<AmdCompletePprCmd>({
  id: 'amd.complete_ppr_request',
  name: 'COMPLETE_PPR_REQUEST',
  what: 'COMPLETE_PPR_REQUEST',
  size: AMD_CMD_SIZE,
  unit: 'DW',
  source: 'AMD IOMMU spec 2.4.8 (COMPLETE_PPR_REQUEST); Linux build_complete_ppr (amd/iommu.c); hardware ref §4',
  fields: [
    { name: 'DeviceID', bits: dw(0, 15, 0), key: 'deviceId', doc: 'data[0]' },
    { name: 'PASID', bits: dw(1, 19, 0), key: 'pasid', doc: 'data[1], only with GN' },
    { name: 'Opcode', bits: dw(1, 31, 28), value: AMD_CMD_COMPLETE_PPR, doc: 'CMD_COMPLETE_PPR (07h), CMD_SET_TYPE' },
    { name: 'GN', bits: dw(2, 2), key: 'gn', flag: true, doc: 'PASID valid (CMD_INV_IOMMU_PAGES_GN_MASK)' },
    { name: 'PRG Index', bits: dw(3, 8, 0), key: 'prgIndex', doc: 'tag & 0x1ff' },
    { name: 'Status', bits: dw(3, 15, 12), key: 'status', values: { 0x0: 'Success', 0x1: 'Invalid Request', 0xf: 'Response Failure' }, doc: 'PPR_STATUS_SHIFT/MASK; raw 4-bit code' },
  ],
});

export function emptyCompletePprCmd(): AmdCompletePprCmd {
  return { deviceId: 0, pasid: 0, gn: false, prgIndex: 0, status: 0 };
}

export function encodeCompletePprCmdInto(rec: AmdCompletePprCmd, bytes: Uint8Array, off = 0): void {
  encodeInto(COMPLETE_PPR_LAYOUT, rec, bytes, off);
}

export function encodeCompletePprCmd(rec: AmdCompletePprCmd): Uint8Array {
  return encode(COMPLETE_PPR_LAYOUT, rec);
}

/** Opcode of the AMD command at `off` (bits 31:28 of dword1). */
export function amdCmdOpcode(bytes: Uint8Array, off = 0): number {
  return peek(COMPLETE_PPR_LAYOUT, 'Opcode', bytes, off);
}

export function decodeCompletePprCmdInto(bytes: Uint8Array, off: number, out: AmdCompletePprCmd): AmdCompletePprCmd {
  return decodeInto(COMPLETE_PPR_LAYOUT, bytes, off, out);
}

export function decodeCompletePprCmd(bytes: Uint8Array, offset = 0): AmdCompletePprCmd {
  return decodeCompletePprCmdInto(bytes, offset, emptyCompletePprCmd());
}

/** The AMD-Vi records, for `iopf list layouts`. */
export const AMD_LAYOUTS: readonly AnyLayout[] = [anyLayout(PPR_LOG_ENTRY_LAYOUT), anyLayout(COMPLETE_PPR_LAYOUT)];
