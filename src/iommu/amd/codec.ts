/**
 * Byte-exact codecs of the AMD-Vi page request path (pcie-iommu-hardware.md §4): the PPR log entry
 * the IOMMU writes (16 bytes) and the COMPLETE_PPR_REQUEST command (opcode 07h, 16 bytes) software
 * answers with.
 *
 * Layouts were checked against Linux drivers/iommu/amd/amd_iommu_types.h (`PPR_DEVID`,
 * `PPR_PASID1/2`, `PPR_TAG`, `PPR_FLAGS`, `PPR_REQ_TYPE`, `PPR_FLAG_*`, `CMD_COMPLETE_PPR`,
 * `PPR_STATUS_SHIFT/MASK`) and drivers/iommu/amd/iommu.c (`build_complete_ppr`, `CMD_SET_TYPE`).
 */
import {
  assertField,
  assertSpan,
  assertU53,
  flagBit,
  getBit,
  getBits,
  hiOf,
  loOf,
  readU32,
  u64ToNumber,
  writeU32,
} from '../bits.js';

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

/**
 * PPR log entry. DW0: device ID 15:0, PASID[15:0] at 31:16, tag 41:32 (tag bit 9 = last in group,
 * tag bits 8:0 = PRG index), PASID[19:16] at 45:42, flags 59:48, type 63:60. DW1: the address.
 */
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

export function emptyPprLogEntry(): AmdPprLogEntry {
  return { deviceId: 0, pasid: 0, prgIndex: 0, last: false, flags: 0, type: 0, address: 0 };
}

/** The 10-bit tag field as Linux's `PPR_TAG` reads it (Linux reports the whole tag as grpid). */
export function pprTag(rec: Pick<AmdPprLogEntry, 'prgIndex' | 'last'>): number {
  return rec.prgIndex | (rec.last ? 0x200 : 0);
}

export function encodePprLogEntryInto(rec: AmdPprLogEntry, bytes: Uint8Array, off = 0): void {
  assertField('deviceId', rec.deviceId, 16);
  assertField('pasid', rec.pasid, 20);
  assertField('prgIndex', rec.prgIndex, 9);
  assertField('flags', rec.flags, 12);
  assertField('type', rec.type, 4);
  assertU53('address', rec.address);
  assertSpan(bytes, off, AMD_PPR_ENTRY_SIZE);
  const lo = (rec.deviceId | ((rec.pasid & 0xffff) << 16)) >>> 0;
  const hi =
    (rec.prgIndex |
      flagBit(rec.last, 41 - 32) |
      ((rec.pasid >>> 16) << (42 - 32)) |
      (rec.flags << (48 - 32)) |
      (rec.type << (60 - 32))) >>>
    0;
  writeU32(bytes, off, lo);
  writeU32(bytes, off + 4, hi);
  writeU32(bytes, off + 8, loOf(rec.address));
  writeU32(bytes, off + 12, hiOf(rec.address));
}

export function encodePprLogEntry(rec: AmdPprLogEntry): Uint8Array {
  const bytes = new Uint8Array(AMD_PPR_ENTRY_SIZE);
  encodePprLogEntryInto(rec, bytes, 0);
  return bytes;
}

/** Decode a PPR log entry at `off` into `out`. Any type is accepted: the driver glue decides. */
export function decodePprLogEntryInto(bytes: Uint8Array, off: number, out: AmdPprLogEntry): AmdPprLogEntry {
  assertSpan(bytes, off, AMD_PPR_ENTRY_SIZE);
  const lo = readU32(bytes, off);
  const hi = readU32(bytes, off + 4);
  out.deviceId = getBits(lo, 0, 16);
  out.pasid = (getBits(hi, 42 - 32, 4) << 16) | getBits(lo, 16, 16);
  out.prgIndex = getBits(hi, 0, 9);
  out.last = getBit(hi, 41 - 32);
  out.flags = getBits(hi, 48 - 32, 12);
  out.type = getBits(hi, 60 - 32, 4);
  out.address = u64ToNumber('address', readU32(bytes, off + 8), readU32(bytes, off + 12));
  return out;
}

export function decodePprLogEntry(bytes: Uint8Array, offset = 0): AmdPprLogEntry {
  return decodePprLogEntryInto(bytes, offset, emptyPprLogEntry());
}

// ---------------------------------------------------------------------------------------------
// COMPLETE_PPR_REQUEST
// ---------------------------------------------------------------------------------------------

/**
 * COMPLETE_PPR_REQUEST, four little-endian dwords: dword0 device ID 15:0; dword1 PASID 19:0 and
 * opcode 31:28; dword2 GN b2 (PASID valid); dword3 PRG index 8:0 and status 15:12. Linux fills the
 * PASID and GN only when the device requires a PASID on responses (`dev_data->pri_tlp`).
 */
export interface AmdCompletePprCmd {
  deviceId: number;
  pasid: number;
  gn: boolean;
  prgIndex: number;
  /** Raw 4-bit status ({@link AmdPprStatus}). */
  status: number;
}

export function emptyCompletePprCmd(): AmdCompletePprCmd {
  return { deviceId: 0, pasid: 0, gn: false, prgIndex: 0, status: 0 };
}

export function encodeCompletePprCmdInto(rec: AmdCompletePprCmd, bytes: Uint8Array, off = 0): void {
  assertField('deviceId', rec.deviceId, 16);
  assertField('pasid', rec.pasid, 20);
  assertField('prgIndex', rec.prgIndex, 9);
  assertField('status', rec.status, 4);
  assertSpan(bytes, off, AMD_CMD_SIZE);
  writeU32(bytes, off, rec.deviceId);
  writeU32(bytes, off + 4, (rec.pasid | (AMD_CMD_COMPLETE_PPR << 28)) >>> 0);
  writeU32(bytes, off + 8, flagBit(rec.gn, 2));
  writeU32(bytes, off + 12, (rec.prgIndex | (rec.status << 12)) >>> 0);
}

export function encodeCompletePprCmd(rec: AmdCompletePprCmd): Uint8Array {
  const bytes = new Uint8Array(AMD_CMD_SIZE);
  encodeCompletePprCmdInto(rec, bytes, 0);
  return bytes;
}

/** Opcode of the AMD command at `off` (bits 31:28 of dword1). */
export function amdCmdOpcode(bytes: Uint8Array, off = 0): number {
  assertSpan(bytes, off, AMD_CMD_SIZE);
  return readU32(bytes, off + 4) >>> 28;
}

export function decodeCompletePprCmdInto(
  bytes: Uint8Array,
  off: number,
  out: AmdCompletePprCmd,
): AmdCompletePprCmd {
  const op = amdCmdOpcode(bytes, off);
  if (op !== AMD_CMD_COMPLETE_PPR)
    throw new RangeError(`not COMPLETE_PPR_REQUEST: opcode 0x${op.toString(16)}`);
  out.deviceId = getBits(readU32(bytes, off), 0, 16);
  out.pasid = getBits(readU32(bytes, off + 4), 0, 20);
  out.gn = getBit(readU32(bytes, off + 8), 2);
  const dw3 = readU32(bytes, off + 12);
  out.prgIndex = getBits(dw3, 0, 9);
  out.status = getBits(dw3, 12, 4);
  return out;
}

export function decodeCompletePprCmd(bytes: Uint8Array, offset = 0): AmdCompletePprCmd {
  return decodeCompletePprCmdInto(bytes, offset, emptyCompletePprCmd());
}
