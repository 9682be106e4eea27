/**
 * Byte-exact codecs of the Arm SMMUv3 records on the recoverable-fault paths
 * (pcie-iommu-hardware.md §3.1, §3.2; SMMUv3 spec §4.5.2, §4.7, ch. 7-8):
 *
 * - PRI queue entry (16 bytes) and CMD_PRI_RESP (opcode 41h) — the PCIe PRI path,
 * - event record (32 bytes) of a stalled fault, CMD_RESUME (44h) and CMD_STALL_TERM (45h) — the
 *   stall path.
 *
 * Each record is a table (layout/layout.ts); field positions were checked against Linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (`PRIQ_*`, `CMDQ_PRI_*`, `CMDQ_RESUME_*`, `EVTQ_*`,
 * `EVT_ID_*`) and the SMMUv3 specification text of CMD_PRI_RESP / CMD_RESUME. Commands are 16
 * bytes: two little-endian 64-bit words, which the SMMUv3 spec (and these tables) call DW0, DW1.
 */
import { anyLayout, compile, decodeInto, encode, encodeInto, peek, qw, type AnyLayout, type Layout } from '../../layout/layout.js';

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

// ---------------------------------------------------------------------------------------------
// PRI queue entry
// ---------------------------------------------------------------------------------------------

/** PRI queue entry (`PRIQ_0_*`, `PRIQ_1_*`). */
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

export const PRIQ_ENTRY_LAYOUT: Layout<SmmuPriqEntry> = compile<SmmuPriqEntry>({
  id: 'smmuv3.priq_entry',
  name: 'PRI queue record',
  what: 'a PRI queue record',
  size: SMMU_PRIQ_ENT_SIZE,
  unit: 'QW',
  source: 'SMMUv3 ch. 8 (PRI queue); Linux PRIQ_0_* / PRIQ_1_* (arm-smmu-v3.h); hardware ref §3.1',
  fields: [
    { name: 'StreamID', bits: qw(0, 31, 0), key: 'sid', doc: 'PCIe requester ID in 15:0' },
    { name: 'SubstreamID', bits: qw(0, 51, 32), key: 'ssid', doc: 'PASID, when SSV' },
    { name: 'Priv', bits: qw(0, 58), key: 'priv', flag: true, doc: 'PRIQ_0_PERM_PRIV' },
    { name: 'Exec', bits: qw(0, 59), key: 'exec', flag: true, doc: 'PRIQ_0_PERM_EXEC' },
    { name: 'Read', bits: qw(0, 60), key: 'read', flag: true, doc: 'PRIQ_0_PERM_READ' },
    { name: 'Write', bits: qw(0, 61), key: 'write', flag: true, doc: 'PRIQ_0_PERM_WRITE' },
    { name: 'Last', bits: qw(0, 62), key: 'last', flag: true, doc: 'PRIQ_0_PRG_LAST' },
    { name: 'SSV', bits: qw(0, 63), key: 'ssv', flag: true, doc: 'PRIQ_0_SSID_V: SubstreamID valid' },
    { name: 'PRG index', bits: qw(1, 8, 0), key: 'prgIndex', doc: 'PRIQ_1_PRG_IDX' },
    { name: 'Page address', bits: qw(1, 63, 12), key: 'pageNum', doc: 'PRIQ_1_ADDR_MASK: address bits 63:12' },
  ],
});

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
  encodeInto(PRIQ_ENTRY_LAYOUT, rec, bytes, off);
}

export function encodePriqEntry(rec: SmmuPriqEntry): Uint8Array {
  return encode(PRIQ_ENTRY_LAYOUT, rec);
}

export function decodePriqEntryInto(bytes: Uint8Array, off: number, out: SmmuPriqEntry): SmmuPriqEntry {
  return decodeInto(PRIQ_ENTRY_LAYOUT, bytes, off, out);
}

export function decodePriqEntry(bytes: Uint8Array, offset = 0): SmmuPriqEntry {
  return decodePriqEntryInto(bytes, offset, emptyPriqEntry());
}

// ---------------------------------------------------------------------------------------------
// CMD_PRI_RESP
// ---------------------------------------------------------------------------------------------

/** CMD_PRI_RESP (`CMDQ_PRI_*`). */
export interface SmmuPriRespCmd {
  ssv: boolean;
  ssid: number;
  sid: number;
  prgIndex: number;
  /** {@link SmmuPriResp}; the encoder refuses 3 (ILLEGAL), the decoder reports it as read. */
  resp: number;
}

export const PRI_RESP_LAYOUT: Layout<SmmuPriRespCmd> = compile<SmmuPriRespCmd>({
  id: 'smmuv3.cmd_pri_resp',
  name: 'CMD_PRI_RESP',
  what: 'CMD_PRI_RESP',
  size: SMMU_CMD_SIZE,
  unit: 'QW',
  source: 'SMMUv3 §4.5.2; Linux CMDQ_PRI_* (arm-smmu-v3.h); hardware ref §3.1',
  fields: [
    { name: 'Opcode', bits: qw(0, 7, 0), value: SmmuOpcode.PRI_RESP, doc: 'CMD_PRI_RESP (41h)' },
    { name: 'SSV', bits: qw(0, 11), key: 'ssv', flag: true, doc: 'CMDQ_0_SSV' },
    { name: 'SubstreamID', bits: qw(0, 31, 12), key: 'ssid', doc: 'CMDQ_PRI_0_SSID' },
    { name: 'StreamID', bits: qw(0, 63, 32), key: 'sid', doc: 'CMDQ_PRI_0_SID' },
    { name: 'PRGI', bits: qw(1, 8, 0), key: 'prgIndex', doc: 'CMDQ_PRI_1_GRPID' },
    { name: 'Resp', bits: qw(1, 13, 12), key: 'resp', values: { 0: 'Response Failure', 1: 'Invalid Request', 2: 'Success', 3: 'reserved (ILLEGAL)' } },
  ],
});

export function emptyPriRespCmd(): SmmuPriRespCmd {
  return { ssv: false, ssid: 0, sid: 0, prgIndex: 0, resp: 0 };
}

export function encodePriRespCmdInto(rec: SmmuPriRespCmd, bytes: Uint8Array, off = 0): void {
  // Resp 3 is reserved: the SMMU would reject the command as CERROR_ILL.
  if (!Number.isInteger(rec.resp) || rec.resp < 0 || rec.resp > 2) throw new RangeError(`resp=${rec.resp}: CMD_PRI_RESP codes are 0..2 (3 is ILLEGAL)`);
  encodeInto(PRI_RESP_LAYOUT, rec, bytes, off);
}

export function encodePriRespCmd(rec: SmmuPriRespCmd): Uint8Array {
  const bytes = new Uint8Array(SMMU_CMD_SIZE);
  encodePriRespCmdInto(rec, bytes, 0);
  return bytes;
}

export function decodePriRespCmdInto(bytes: Uint8Array, off: number, out: SmmuPriRespCmd): SmmuPriRespCmd {
  return decodeInto(PRI_RESP_LAYOUT, bytes, off, out);
}

export function decodePriRespCmd(bytes: Uint8Array, offset = 0): SmmuPriRespCmd {
  return decodePriRespCmdInto(bytes, offset, emptyPriRespCmd());
}

/** Opcode of the command at `off` (DW0 7:0, the same place in every command). */
export function smmuCmdOpcode(bytes: Uint8Array, off = 0): number {
  return peek(PRI_RESP_LAYOUT, 'Opcode', bytes, off);
}

// ---------------------------------------------------------------------------------------------
// Event record (stall model)
// ---------------------------------------------------------------------------------------------

/** Event record of a translation-class fault (`EVTQ_*`). */
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

export const EVENT_RECORD_LAYOUT: Layout<SmmuEventRecord> = compile<SmmuEventRecord>({
  id: 'smmuv3.event_record',
  name: 'Event record',
  what: 'an event record',
  size: SMMU_EVT_SIZE,
  unit: 'QW',
  source: 'SMMUv3 §7.3; Linux EVTQ_* / EVT_ID_* (arm-smmu-v3.h); hardware ref §3.2',
  fields: [
    {
      name: 'Event ID',
      bits: qw(0, 7, 0),
      key: 'eventId',
      values: { 0x10: 'F_TRANSLATION', 0x11: 'F_ADDR_SIZE', 0x12: 'F_ACCESS', 0x13: 'F_PERMISSION' },
    },
    { name: 'SSV', bits: qw(0, 11), key: 'ssv', flag: true, doc: 'EVTQ_0_SSV' },
    { name: 'SubstreamID', bits: qw(0, 31, 12), key: 'ssid', doc: 'EVTQ_0_SSID' },
    { name: 'StreamID', bits: qw(0, 63, 32), key: 'sid', doc: 'EVTQ_0_SID' },
    { name: 'STAG', bits: qw(1, 15, 0), key: 'stag', doc: 'EVTQ_1_STAG: names the stalled transaction in CMD_RESUME' },
    { name: 'Stall', bits: qw(1, 31), key: 'stall', flag: true, doc: 'EVTQ_1_STALL' },
    { name: 'PnU', bits: qw(1, 33), key: 'pnu', flag: true, doc: 'privileged (1) / unprivileged (0)' },
    { name: 'InD', bits: qw(1, 34), key: 'ind', flag: true, doc: 'instruction (1) / data (0)' },
    { name: 'RnW', bits: qw(1, 35), key: 'rnw', flag: true, doc: 'read (1) / write (0)' },
    { name: 'S2', bits: qw(1, 39), key: 's2', flag: true, doc: 'fault at stage 2' },
    { name: 'Class', bits: qw(1, 41, 40), key: 'cls', values: { 0: 'CD fetch', 1: 'translation table walk', 2: 'input address' } },
    { name: 'InputAddr', bits: qw(2, 63, 0), key: 'inputAddr', doc: 'EVTQ_2_ADDR' },
    { name: 'Fetch IPA', bits: qw(3, 51, 12), key: 'ipaPageNum', doc: 'EVTQ_3_IPA: page number' },
  ],
});

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
  encodeInto(EVENT_RECORD_LAYOUT, rec, bytes, off);
}

export function encodeEventRecord(rec: SmmuEventRecord): Uint8Array {
  return encode(EVENT_RECORD_LAYOUT, rec);
}

export function decodeEventRecordInto(bytes: Uint8Array, off: number, out: SmmuEventRecord): SmmuEventRecord {
  return decodeInto(EVENT_RECORD_LAYOUT, bytes, off, out);
}

export function decodeEventRecord(bytes: Uint8Array, offset = 0): SmmuEventRecord {
  return decodeEventRecordInto(bytes, offset, emptyEventRecord());
}

// ---------------------------------------------------------------------------------------------
// CMD_RESUME and CMD_STALL_TERM
// ---------------------------------------------------------------------------------------------

/** CMD_RESUME (`CMDQ_RESUME_*`). */
export interface SmmuResumeCmd {
  sid: number;
  /** Secure stream (SSec, common command field b10); Linux never sets it. */
  ssec: boolean;
  /** {@link SmmuResumeAction}: 2-bit field (Ac b12, Ab b13). */
  action: number;
  stag: number;
}

export const RESUME_LAYOUT: Layout<SmmuResumeCmd> = compile<SmmuResumeCmd>({
  id: 'smmuv3.cmd_resume',
  name: 'CMD_RESUME',
  what: 'CMD_RESUME',
  size: SMMU_CMD_SIZE,
  unit: 'QW',
  source: 'SMMUv3 §4.7.2; Linux CMDQ_RESUME_* (arm-smmu-v3.h); hardware ref §3.2',
  fields: [
    { name: 'Opcode', bits: qw(0, 7, 0), value: SmmuOpcode.RESUME, doc: 'CMD_RESUME (44h)' },
    { name: 'SSec', bits: qw(0, 10), key: 'ssec', flag: true, doc: 'secure stream; Linux never sets it' },
    { name: 'Action', bits: qw(0, 13, 12), key: 'action', values: { 0: 'terminate', 1: 'retry (Ac)', 2: 'abort (Ab)' }, doc: 'CMDQ_RESUME_0_RESP' },
    { name: 'StreamID', bits: qw(0, 63, 32), key: 'sid', doc: 'CMDQ_RESUME_0_SID' },
    { name: 'STAG', bits: qw(1, 15, 0), key: 'stag', doc: 'CMDQ_RESUME_1_STAG' },
  ],
});

export function emptyResumeCmd(): SmmuResumeCmd {
  return { sid: 0, ssec: false, action: 0, stag: 0 };
}

export function encodeResumeCmdInto(rec: SmmuResumeCmd, bytes: Uint8Array, off = 0): void {
  encodeInto(RESUME_LAYOUT, rec, bytes, off);
}

export function encodeResumeCmd(rec: SmmuResumeCmd): Uint8Array {
  return encode(RESUME_LAYOUT, rec);
}

export function decodeResumeCmdInto(bytes: Uint8Array, off: number, out: SmmuResumeCmd): SmmuResumeCmd {
  return decodeInto(RESUME_LAYOUT, bytes, off, out);
}

export function decodeResumeCmd(bytes: Uint8Array, offset = 0): SmmuResumeCmd {
  return decodeResumeCmdInto(bytes, offset, emptyResumeCmd());
}

/** CMD_STALL_TERM. */
export interface SmmuStallTermCmd {
  sid: number;
  ssec: boolean;
}

export const STALL_TERM_LAYOUT: Layout<SmmuStallTermCmd> = compile<SmmuStallTermCmd>({
  id: 'smmuv3.cmd_stall_term',
  name: 'CMD_STALL_TERM',
  what: 'CMD_STALL_TERM',
  size: SMMU_CMD_SIZE,
  unit: 'QW',
  source: 'SMMUv3 §4.7.3; hardware ref §3.2',
  fields: [
    { name: 'Opcode', bits: qw(0, 7, 0), value: SmmuOpcode.STALL_TERM, doc: 'CMD_STALL_TERM (45h)' },
    { name: 'SSec', bits: qw(0, 10), key: 'ssec', flag: true },
    { name: 'StreamID', bits: qw(0, 63, 32), key: 'sid', doc: 'every stalled transaction of the stream is terminated' },
  ],
});

export function emptyStallTermCmd(): SmmuStallTermCmd {
  return { sid: 0, ssec: false };
}

export function encodeStallTermCmdInto(rec: SmmuStallTermCmd, bytes: Uint8Array, off = 0): void {
  encodeInto(STALL_TERM_LAYOUT, rec, bytes, off);
}

export function encodeStallTermCmd(rec: SmmuStallTermCmd): Uint8Array {
  return encode(STALL_TERM_LAYOUT, rec);
}

export function decodeStallTermCmdInto(bytes: Uint8Array, off: number, out: SmmuStallTermCmd): SmmuStallTermCmd {
  return decodeInto(STALL_TERM_LAYOUT, bytes, off, out);
}

export function decodeStallTermCmd(bytes: Uint8Array, offset = 0): SmmuStallTermCmd {
  return decodeStallTermCmdInto(bytes, offset, emptyStallTermCmd());
}

/** The SMMUv3 records, for `iopf list layouts`. */
export const SMMUV3_LAYOUTS: readonly AnyLayout[] = [anyLayout(PRIQ_ENTRY_LAYOUT), anyLayout(PRI_RESP_LAYOUT), anyLayout(EVENT_RECORD_LAYOUT), anyLayout(RESUME_LAYOUT), anyLayout(STALL_TERM_LAYOUT)];
