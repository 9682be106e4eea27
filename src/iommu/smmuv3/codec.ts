/**
 * Byte-exact codecs of the Arm SMMUv3 records on the recoverable-fault paths
 * (pcie-iommu-hardware.md §3.1, §3.2; SMMUv3 spec §4.5.2, §4.7, ch. 7-8):
 *
 * - PRI queue entry (16 bytes) and CMD_PRI_RESP (opcode 41h) — the PCIe PRI path,
 * - event record (32 bytes) of a stalled fault, CMD_RESUME (44h) and CMD_STALL_TERM (45h) — the
 *   stall path.
 *
 * Field positions were checked against Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h
 * (`PRIQ_*`, `CMDQ_PRI_*`, `CMDQ_RESUME_*`, `EVTQ_*`, `EVT_ID_*`) and the SMMUv3 specification
 * text of CMD_PRI_RESP / CMD_RESUME. Commands are 16 bytes: two little-endian dwords (64-bit).
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
  pageNumFrom,
  pageNumHi,
  pageNumLo,
  readU32,
  u64ToNumber,
  writeU32,
} from '../bits.js';

export const SMMU_PRIQ_ENT_SIZE = 16;
export const SMMU_CMD_SIZE = 16;
export const SMMU_EVT_SIZE = 32;

/** Command opcodes (DW0 bits 7:0). */
export const SmmuOpcode = {
  PRI_RESP: 0x41,
  RESUME: 0x44,
  STALL_TERM: 0x45,
} as const;

/**
 * CMD_PRI_RESP `Resp` (DW1 13:12), as the SMMUv3 spec names them (§4.5.2). Linux calls these
 * PRI_RESP_DENY=0, PRI_RESP_FAIL=1, PRI_RESP_SUCC=2; the spec's meaning is 0 = Response Failure,
 * 1 = Invalid Request, 2 = Success, 3 = reserved (the command is ILLEGAL).
 */
export const SmmuPriResp = {
  FAILURE: 0,
  INVALID: 1,
  SUCCESS: 2,
} as const;

/**
 * CMD_RESUME action in DW0 13:12 as Linux encodes it (`CMDQ_RESUME_0_RESP_*`): the spec's Ac bit
 * (b12: 1 = retry, 0 = terminate) and Ab bit (b13: terminate with abort rather than RAZ/WI).
 */
export const SmmuResumeAction = {
  TERMINATE: 0,
  RETRY: 1,
  ABORT: 2,
} as const;

/** Event IDs (event record DW0 7:0) that Linux's stall path accepts as recoverable faults. */
export const SmmuEventId = {
  TRANSLATION_FAULT: 0x10,
  ADDR_SIZE_FAULT: 0x11,
  ACCESS_FAULT: 0x12,
  PERMISSION_FAULT: 0x13,
} as const;

/** Opcode of the command at `off` (DW0 7:0). */
export function smmuCmdOpcode(bytes: Uint8Array, off = 0): number {
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  return bytes[off]!;
}

function expectOpcode(bytes: Uint8Array, off: number, op: number, name: string): void {
  const got = bytes[off]!;
  if (got !== op) throw new RangeError(`not ${name}: opcode 0x${got.toString(16)}`);
}

// ---------------------------------------------------------------------------------------------
// PRI queue entry
// ---------------------------------------------------------------------------------------------

/**
 * PRI queue entry. DW0: StreamID 31:0, SubstreamID 51:32, Priv b58, Exec b59, Read b60, Write b61,
 * Last b62, SSV b63. DW1: PRG index 8:0, page address 63:12.
 */
export interface SmmuPriqEntry {
  /** StreamID, 32 bits (= PCIe requester ID in bits 15:0). */
  sid: number;
  /** SubstreamID (PASID), 20 bits; meaningless when `ssv` is clear. */
  ssid: number;
  ssv: boolean;
  priv: boolean;
  exec: boolean;
  read: boolean;
  write: boolean;
  last: boolean;
  prgIndex: number;
  /** Page number: address bits 63:12. */
  pageNum: number;
}

export function emptyPriqEntry(): SmmuPriqEntry {
  return {
    sid: 0,
    ssid: 0,
    ssv: false,
    priv: false,
    exec: false,
    read: false,
    write: false,
    last: false,
    prgIndex: 0,
    pageNum: 0,
  };
}

export function encodePriqEntryInto(rec: SmmuPriqEntry, bytes: Uint8Array, off = 0): void {
  assertField('sid', rec.sid, 32);
  assertField('ssid', rec.ssid, 20);
  assertField('prgIndex', rec.prgIndex, 9);
  assertField('pageNum', rec.pageNum, 52);
  assertSpan(bytes, off, SMMU_PRIQ_ENT_SIZE);
  const dw0hi =
    (rec.ssid |
      flagBit(rec.priv, 58 - 32) |
      flagBit(rec.exec, 59 - 32) |
      flagBit(rec.read, 60 - 32) |
      flagBit(rec.write, 61 - 32) |
      flagBit(rec.last, 62 - 32) |
      flagBit(rec.ssv, 63 - 32)) >>>
    0;
  writeU32(bytes, off, rec.sid);
  writeU32(bytes, off + 4, dw0hi);
  writeU32(bytes, off + 8, (rec.prgIndex | pageNumLo(rec.pageNum)) >>> 0);
  writeU32(bytes, off + 12, pageNumHi(rec.pageNum));
}

export function encodePriqEntry(rec: SmmuPriqEntry): Uint8Array {
  const bytes = new Uint8Array(SMMU_PRIQ_ENT_SIZE);
  encodePriqEntryInto(rec, bytes, 0);
  return bytes;
}

export function decodePriqEntryInto(bytes: Uint8Array, off: number, out: SmmuPriqEntry): SmmuPriqEntry {
  assertSpan(bytes, off, SMMU_PRIQ_ENT_SIZE);
  const dw0hi = readU32(bytes, off + 4);
  const dw1lo = readU32(bytes, off + 8);
  out.sid = readU32(bytes, off);
  out.ssid = getBits(dw0hi, 0, 20);
  out.priv = getBit(dw0hi, 58 - 32);
  out.exec = getBit(dw0hi, 59 - 32);
  out.read = getBit(dw0hi, 60 - 32);
  out.write = getBit(dw0hi, 61 - 32);
  out.last = getBit(dw0hi, 62 - 32);
  out.ssv = getBit(dw0hi, 63 - 32);
  out.prgIndex = getBits(dw1lo, 0, 9);
  out.pageNum = pageNumFrom(dw1lo, readU32(bytes, off + 12));
  return out;
}

export function decodePriqEntry(bytes: Uint8Array, offset = 0): SmmuPriqEntry {
  return decodePriqEntryInto(bytes, offset, emptyPriqEntry());
}

// ---------------------------------------------------------------------------------------------
// CMD_PRI_RESP
// ---------------------------------------------------------------------------------------------

/** CMD_PRI_RESP. DW0: opcode 7:0, SSV b11, SubstreamID 31:12, StreamID 63:32. DW1: PRG index 8:0, Resp 13:12. */
export interface SmmuPriRespCmd {
  ssv: boolean;
  ssid: number;
  sid: number;
  prgIndex: number;
  /** {@link SmmuPriResp}; the encoder refuses 3 (ILLEGAL), the decoder reports it as read. */
  resp: number;
}

export function emptyPriRespCmd(): SmmuPriRespCmd {
  return { ssv: false, ssid: 0, sid: 0, prgIndex: 0, resp: 0 };
}

export function encodePriRespCmdInto(rec: SmmuPriRespCmd, bytes: Uint8Array, off = 0): void {
  assertField('ssid', rec.ssid, 20);
  assertField('sid', rec.sid, 32);
  assertField('prgIndex', rec.prgIndex, 9);
  if (!Number.isInteger(rec.resp) || rec.resp < 0 || rec.resp > 2) {
    throw new RangeError(`resp=${rec.resp}: CMD_PRI_RESP codes are 0..2 (3 is ILLEGAL)`);
  }
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  writeU32(bytes, off, (SmmuOpcode.PRI_RESP | flagBit(rec.ssv, 11) | (rec.ssid << 12)) >>> 0);
  writeU32(bytes, off + 4, rec.sid);
  writeU32(bytes, off + 8, (rec.prgIndex | (rec.resp << 12)) >>> 0);
  writeU32(bytes, off + 12, 0);
}

export function encodePriRespCmd(rec: SmmuPriRespCmd): Uint8Array {
  const bytes = new Uint8Array(SMMU_CMD_SIZE);
  encodePriRespCmdInto(rec, bytes, 0);
  return bytes;
}

export function decodePriRespCmdInto(bytes: Uint8Array, off: number, out: SmmuPriRespCmd): SmmuPriRespCmd {
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  expectOpcode(bytes, off, SmmuOpcode.PRI_RESP, 'CMD_PRI_RESP');
  const dw0lo = readU32(bytes, off);
  const dw1lo = readU32(bytes, off + 8);
  out.ssv = getBit(dw0lo, 11);
  out.ssid = getBits(dw0lo, 12, 20);
  out.sid = readU32(bytes, off + 4);
  out.prgIndex = getBits(dw1lo, 0, 9);
  out.resp = getBits(dw1lo, 12, 2);
  return out;
}

export function decodePriRespCmd(bytes: Uint8Array, offset = 0): SmmuPriRespCmd {
  return decodePriRespCmdInto(bytes, offset, emptyPriRespCmd());
}

// ---------------------------------------------------------------------------------------------
// Event record (stall model)
// ---------------------------------------------------------------------------------------------

/**
 * Event record of a translation-class fault. DW0: event ID 7:0, SSV b11, SubstreamID 31:12,
 * StreamID 63:32. DW1: STAG 15:0, Stall b31, PnU b33, InD b34, RnW b35, S2 b39, Class 41:40.
 * DW2: input address 63:0. DW3: fetch IPA 51:12.
 */
export interface SmmuEventRecord {
  eventId: number;
  ssv: boolean;
  ssid: number;
  sid: number;
  /** Stall tag, 16 bits: names the held transaction in CMD_RESUME. */
  stag: number;
  stall: boolean;
  /** Privileged (1) / unprivileged (0). */
  pnu: boolean;
  /** Instruction (1) / data (0). */
  ind: boolean;
  /** Read (1) / write (0). */
  rnw: boolean;
  /** Fault at stage 2 (Linux refuses these: stage 2 is pinned). */
  s2: boolean;
  /** Class 41:40 (0 = CD fetch, 1 = translation table walk, 2 = input address). */
  cls: number;
  /** Input address, below 2^53. */
  inputAddr: number;
  /** DW3 bits 51:12 (fetch IPA page number), 40 bits. */
  ipaPageNum: number;
}

export function emptyEventRecord(): SmmuEventRecord {
  return {
    eventId: 0,
    ssv: false,
    ssid: 0,
    sid: 0,
    stag: 0,
    stall: false,
    pnu: false,
    ind: false,
    rnw: false,
    s2: false,
    cls: 0,
    inputAddr: 0,
    ipaPageNum: 0,
  };
}

export function encodeEventRecordInto(rec: SmmuEventRecord, bytes: Uint8Array, off = 0): void {
  assertField('eventId', rec.eventId, 8);
  assertField('ssid', rec.ssid, 20);
  assertField('sid', rec.sid, 32);
  assertField('stag', rec.stag, 16);
  assertField('cls', rec.cls, 2);
  assertU53('inputAddr', rec.inputAddr);
  assertField('ipaPageNum', rec.ipaPageNum, 40);
  assertSpan(bytes, off, SMMU_EVT_SIZE);
  writeU32(bytes, off, (rec.eventId | flagBit(rec.ssv, 11) | (rec.ssid << 12)) >>> 0);
  writeU32(bytes, off + 4, rec.sid);
  writeU32(bytes, off + 8, (rec.stag | flagBit(rec.stall, 31)) >>> 0);
  writeU32(
    bytes,
    off + 12,
    (flagBit(rec.pnu, 33 - 32) |
      flagBit(rec.ind, 34 - 32) |
      flagBit(rec.rnw, 35 - 32) |
      flagBit(rec.s2, 39 - 32) |
      (rec.cls << (40 - 32))) >>>
      0,
  );
  writeU32(bytes, off + 16, loOf(rec.inputAddr));
  writeU32(bytes, off + 20, hiOf(rec.inputAddr));
  writeU32(bytes, off + 24, pageNumLo(rec.ipaPageNum));
  writeU32(bytes, off + 28, pageNumHi(rec.ipaPageNum));
}

export function encodeEventRecord(rec: SmmuEventRecord): Uint8Array {
  const bytes = new Uint8Array(SMMU_EVT_SIZE);
  encodeEventRecordInto(rec, bytes, 0);
  return bytes;
}

export function decodeEventRecordInto(bytes: Uint8Array, off: number, out: SmmuEventRecord): SmmuEventRecord {
  assertSpan(bytes, off, SMMU_EVT_SIZE);
  const dw0lo = readU32(bytes, off);
  const dw1lo = readU32(bytes, off + 8);
  const dw1hi = readU32(bytes, off + 12);
  out.eventId = dw0lo & 0xff;
  out.ssv = getBit(dw0lo, 11);
  out.ssid = getBits(dw0lo, 12, 20);
  out.sid = readU32(bytes, off + 4);
  out.stag = getBits(dw1lo, 0, 16);
  out.stall = getBit(dw1lo, 31);
  out.pnu = getBit(dw1hi, 33 - 32);
  out.ind = getBit(dw1hi, 34 - 32);
  out.rnw = getBit(dw1hi, 35 - 32);
  out.s2 = getBit(dw1hi, 39 - 32);
  out.cls = getBits(dw1hi, 40 - 32, 2);
  out.inputAddr = u64ToNumber('inputAddr', readU32(bytes, off + 16), readU32(bytes, off + 20));
  // DW3 51:12 only: bits 63:52 are not part of the IPA.
  out.ipaPageNum = pageNumFrom(readU32(bytes, off + 24), getBits(readU32(bytes, off + 28), 0, 20));
  return out;
}

export function decodeEventRecord(bytes: Uint8Array, offset = 0): SmmuEventRecord {
  return decodeEventRecordInto(bytes, offset, emptyEventRecord());
}

// ---------------------------------------------------------------------------------------------
// CMD_RESUME and CMD_STALL_TERM
// ---------------------------------------------------------------------------------------------

/** CMD_RESUME. DW0: opcode 7:0, SSec b10, action 13:12, StreamID 63:32. DW1: STAG 15:0. */
export interface SmmuResumeCmd {
  sid: number;
  /** Secure stream (SSec, common command field b10); Linux never sets it. */
  ssec: boolean;
  /** {@link SmmuResumeAction}: 2-bit field (Ac b12, Ab b13). */
  action: number;
  stag: number;
}

export function emptyResumeCmd(): SmmuResumeCmd {
  return { sid: 0, ssec: false, action: 0, stag: 0 };
}

export function encodeResumeCmdInto(rec: SmmuResumeCmd, bytes: Uint8Array, off = 0): void {
  assertField('sid', rec.sid, 32);
  assertField('action', rec.action, 2);
  assertField('stag', rec.stag, 16);
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  writeU32(bytes, off, (SmmuOpcode.RESUME | flagBit(rec.ssec, 10) | (rec.action << 12)) >>> 0);
  writeU32(bytes, off + 4, rec.sid);
  writeU32(bytes, off + 8, rec.stag);
  writeU32(bytes, off + 12, 0);
}

export function encodeResumeCmd(rec: SmmuResumeCmd): Uint8Array {
  const bytes = new Uint8Array(SMMU_CMD_SIZE);
  encodeResumeCmdInto(rec, bytes, 0);
  return bytes;
}

export function decodeResumeCmdInto(bytes: Uint8Array, off: number, out: SmmuResumeCmd): SmmuResumeCmd {
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  expectOpcode(bytes, off, SmmuOpcode.RESUME, 'CMD_RESUME');
  const dw0lo = readU32(bytes, off);
  out.ssec = getBit(dw0lo, 10);
  out.action = getBits(dw0lo, 12, 2);
  out.sid = readU32(bytes, off + 4);
  out.stag = getBits(readU32(bytes, off + 8), 0, 16);
  return out;
}

export function decodeResumeCmd(bytes: Uint8Array, offset = 0): SmmuResumeCmd {
  return decodeResumeCmdInto(bytes, offset, emptyResumeCmd());
}

/** CMD_STALL_TERM. DW0: opcode 7:0, SSec b10, StreamID 63:32. DW1 reserved. */
export interface SmmuStallTermCmd {
  sid: number;
  ssec: boolean;
}

export function emptyStallTermCmd(): SmmuStallTermCmd {
  return { sid: 0, ssec: false };
}

export function encodeStallTermCmdInto(rec: SmmuStallTermCmd, bytes: Uint8Array, off = 0): void {
  assertField('sid', rec.sid, 32);
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  writeU32(bytes, off, (SmmuOpcode.STALL_TERM | flagBit(rec.ssec, 10)) >>> 0);
  writeU32(bytes, off + 4, rec.sid);
  writeU32(bytes, off + 8, 0);
  writeU32(bytes, off + 12, 0);
}

export function encodeStallTermCmd(rec: SmmuStallTermCmd): Uint8Array {
  const bytes = new Uint8Array(SMMU_CMD_SIZE);
  encodeStallTermCmdInto(rec, bytes, 0);
  return bytes;
}

export function decodeStallTermCmdInto(
  bytes: Uint8Array,
  off: number,
  out: SmmuStallTermCmd,
): SmmuStallTermCmd {
  assertSpan(bytes, off, SMMU_CMD_SIZE);
  expectOpcode(bytes, off, SmmuOpcode.STALL_TERM, 'CMD_STALL_TERM');
  out.ssec = getBit(readU32(bytes, off), 10);
  out.sid = readU32(bytes, off + 4);
  return out;
}

export function decodeStallTermCmd(bytes: Uint8Array, offset = 0): SmmuStallTermCmd {
  return decodeStallTermCmdInto(bytes, offset, emptyStallTermCmd());
}
