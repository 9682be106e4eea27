import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  decodeEventRecord,
  decodeEventRecordInto,
  decodePriqEntry,
  decodePriqEntryInto,
  decodePriRespCmd,
  decodeResumeCmd,
  decodeStallTermCmd,
  emptyEventRecord,
  emptyPriqEntry,
  emptyPriRespCmd,
  emptyResumeCmd,
  encodeEventRecord,
  encodePriqEntry,
  encodePriqEntryInto,
  encodePriRespCmd,
  encodeResumeCmd,
  encodeStallTermCmd,
  smmuCmdOpcode,
  SmmuEventId,
  SmmuOpcode,
  SmmuPriResp,
  SmmuResumeAction,
  type SmmuEventRecord,
  type SmmuPriqEntry,
  type SmmuPriRespCmd,
  type SmmuResumeCmd,
} from '../../../src/iommu/smmuv3/codec.js';

/** Indices of the set bits of a little-endian record (bit i = byte i>>3, bit i&7). */
function setBits(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length * 8; i++) if (((bytes[i >> 3]! >> (i & 7)) & 1) === 1) out.push(i);
  return out;
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

function hex(s: string): Uint8Array {
  return new Uint8Array(
    s
      .split(/\s+/)
      .filter((t) => t !== '')
      .map((t) => parseInt(t, 16)),
  );
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

describe('SMMUv3 PRI queue entry', () => {
  it('SMMU.PRIQ.VECTOR: encodes a hand-computed entry byte for byte', () => {
    // SID 0x100, SSID 0x2a valid, Read + Last, PRG index 0x1ff, address 0x12345000.
    // DW0 lo = SID 0x00000100
    // DW0 hi = SSID 0x2a | Read b60 (bit 28: 0x10000000) | Last b62 (0x40000000) | SSV b63 (0x80000000) = 0xd000002a
    // DW1 lo = PRG index 0x1ff | page 0x12345 << 12 = 0x123451ff; DW1 hi = 0
    const rec: SmmuPriqEntry = {
      ...emptyPriqEntry(),
      sid: 0x100,
      ssid: 0x2a,
      ssv: true,
      read: true,
      last: true,
      prgIndex: 0x1ff,
      pageNum: 0x12345,
    };
    const expected = hex('00 01 00 00  2a 00 00 d0  ff 51 34 12  00 00 00 00');
    expect(encodePriqEntry(rec)).toEqual(expected);
    expect(decodePriqEntry(expected)).toEqual(rec);
  });

  const cases: [string, Partial<SmmuPriqEntry>, number[]][] = [
    ['SMMU.PRIQ.SID_31_0', { sid: 0xffff_ffff }, range(0, 31)],
    ['SMMU.PRIQ.SSID_51_32', { ssid: 0xfffff }, range(32, 51)],
    ['SMMU.PRIQ.PRIV_B58', { priv: true }, [58]],
    ['SMMU.PRIQ.EXEC_B59', { exec: true }, [59]],
    ['SMMU.PRIQ.READ_B60', { read: true }, [60]],
    ['SMMU.PRIQ.WRITE_B61', { write: true }, [61]],
    ['SMMU.PRIQ.LAST_B62', { last: true }, [62]],
    ['SMMU.PRIQ.SSV_B63', { ssv: true }, [63]],
    ['SMMU.PRIQ.PRGI_DW1_8_0', { prgIndex: 0x1ff }, range(64, 72)],
    ['SMMU.PRIQ.ADDR_DW1_63_12', { pageNum: 2 ** 52 - 1 }, range(76, 127)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...emptyPriqEntry(), ...patch };
      const bytes = encodePriqEntry(rec);
      expect(setBits(bytes)).toEqual(bits);
      expect(decodePriqEntry(bytes)).toEqual(rec);
    });
  }

  const priqArb: fc.Arbitrary<SmmuPriqEntry> = fc.record({
    sid: u32,
    ssid: fc.integer({ min: 0, max: 0xfffff }),
    ssv: fc.boolean(),
    priv: fc.boolean(),
    exec: fc.boolean(),
    read: fc.boolean(),
    write: fc.boolean(),
    last: fc.boolean(),
    prgIndex: fc.integer({ min: 0, max: 0x1ff }),
    pageNum: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
  });

  it('SMMU.PRIQ.ROUNDTRIP: decode(encode(r)) = r; reserved bits read back as zero', () => {
    fc.assert(
      fc.property(priqArb, (rec) => {
        expect(decodePriqEntry(encodePriqEntry(rec))).toEqual(rec);
      }),
    );
    // Reserved: DW0 57:52 and DW1 11:9.
    const mask = encodePriqEntry({
      sid: 0xffff_ffff,
      ssid: 0xfffff,
      ssv: true,
      priv: true,
      exec: true,
      read: true,
      write: true,
      last: true,
      prgIndex: 0x1ff,
      pageNum: 2 ** 52 - 1,
    });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
        expect(encodePriqEntry(decodePriqEntry(raw))).toEqual(raw.map((b, i) => b & mask[i]!));
      }),
    );
  });

  it('SMMU.PRIQ.INTO: decodes in place at an offset of a queue', () => {
    const q = new Uint8Array(64);
    const rec = { ...emptyPriqEntry(), sid: 9, write: true, last: true, pageNum: 77 };
    encodePriqEntryInto(rec, q, 48);
    const out = emptyPriqEntry();
    expect(decodePriqEntryInto(q, 48, out)).toBe(out);
    expect(out).toEqual(rec);
    expect(() => decodePriqEntryInto(q, 56, out)).toThrow(RangeError);
  });

  it('SMMU.PRIQ.ASSERTS: out-of-range fields throw RangeError', () => {
    expect(() => encodePriqEntry({ ...emptyPriqEntry(), sid: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodePriqEntry({ ...emptyPriqEntry(), ssid: 0x100000 })).toThrow(RangeError);
    expect(() => encodePriqEntry({ ...emptyPriqEntry(), prgIndex: 0x200 })).toThrow(RangeError);
    expect(() => encodePriqEntry({ ...emptyPriqEntry(), pageNum: -1 })).toThrow(RangeError);
  });
});

describe('SMMUv3 CMD_PRI_RESP', () => {
  it('SMMU.CMD_PRI_RESP.VECTOR: encodes a hand-computed command byte for byte', () => {
    // DW0 lo = opcode 0x41 | SSV b11 (0x800) | SSID 0x2a << 12 (0x2a000) = 0x0002a841; DW0 hi = SID 0x100
    // DW1 lo = PRG index 0x1ff | Resp Success 2 << 12 (0x2000) = 0x21ff
    const rec: SmmuPriRespCmd = {
      ssv: true,
      ssid: 0x2a,
      sid: 0x100,
      prgIndex: 0x1ff,
      resp: SmmuPriResp.SUCCESS,
    };
    const expected = hex('41 a8 02 00  00 01 00 00  ff 21 00 00  00 00 00 00');
    expect(encodePriRespCmd(rec)).toEqual(expected);
    expect(decodePriRespCmd(expected)).toEqual(rec);
    expect(smmuCmdOpcode(expected)).toBe(SmmuOpcode.PRI_RESP);
  });

  const opBits = [0, 6]; // 0x41
  const cases: [string, Partial<SmmuPriRespCmd>, number[]][] = [
    ['SMMU.CMD_PRI_RESP.OPCODE_7_0: opcode 41h alone', {}, []],
    ['SMMU.CMD_PRI_RESP.SSV_B11', { ssv: true }, [11]],
    ['SMMU.CMD_PRI_RESP.SSID_31_12', { ssid: 0xfffff }, range(12, 31)],
    ['SMMU.CMD_PRI_RESP.SID_63_32', { sid: 0xffff_ffff }, range(32, 63)],
    ['SMMU.CMD_PRI_RESP.PRGI_DW1_8_0', { prgIndex: 0x1ff }, range(64, 72)],
    ['SMMU.CMD_PRI_RESP.RESP_DW1_13_12: Success = 2 sets b77', { resp: SmmuPriResp.SUCCESS }, [77]],
    ['SMMU.CMD_PRI_RESP.RESP_INVALID_1: Invalid Request = 1 sets b76', { resp: SmmuPriResp.INVALID }, [76]],
    [
      'SMMU.CMD_PRI_RESP.RESP_FAILURE_0: Response Failure = 0 sets nothing',
      { resp: SmmuPriResp.FAILURE },
      [],
    ],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...emptyPriRespCmd(), ...patch };
      const bytes = encodePriRespCmd(rec);
      expect(setBits(bytes)).toEqual([...opBits, ...bits].sort((a, b) => a - b));
      expect(decodePriRespCmd(bytes)).toEqual(rec);
    });
  }

  it('SMMU.CMD_PRI_RESP.CODES: 0 = Failure, 1 = Invalid, 2 = Success (SMMUv3 §4.5.2)', () => {
    expect(SmmuPriResp).toEqual({ FAILURE: 0, INVALID: 1, SUCCESS: 2 });
  });

  it('SMMU.CMD_PRI_RESP.ROUNDTRIP: decode(encode(r)) = r', () => {
    const arb: fc.Arbitrary<SmmuPriRespCmd> = fc.record({
      ssv: fc.boolean(),
      ssid: fc.integer({ min: 0, max: 0xfffff }),
      sid: u32,
      prgIndex: fc.integer({ min: 0, max: 0x1ff }),
      resp: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(arb, (rec) => {
        expect(decodePriRespCmd(encodePriRespCmd(rec))).toEqual(rec);
      }),
    );
  });

  it('SMMU.CMD_PRI_RESP.ILLEGAL: the encoder refuses Resp 3, the decoder reports it', () => {
    expect(() => encodePriRespCmd({ ...emptyPriRespCmd(), resp: 3 })).toThrow(RangeError);
    const bytes = encodePriRespCmd(emptyPriRespCmd());
    bytes[9] = 0x30;
    expect(decodePriRespCmd(bytes).resp).toBe(3);
    bytes[0] = SmmuOpcode.RESUME;
    expect(() => decodePriRespCmd(bytes)).toThrow(/opcode 0x44/);
  });
});

describe('SMMUv3 event record (stall)', () => {
  const stallRec: SmmuEventRecord = {
    ...emptyEventRecord(),
    eventId: SmmuEventId.TRANSLATION_FAULT,
    ssv: true,
    ssid: 5,
    sid: 0x42,
    stag: 0xbeef,
    stall: true,
    rnw: true,
    cls: 1,
    inputAddr: 0x7fff_dead_b000,
  };

  it('SMMU.EVTQ.VECTOR: encodes a hand-computed stall record byte for byte', () => {
    // DW0 lo = id 0x10 | SSV b11 (0x800) | SSID 5 << 12 (0x5000) = 0x5810; DW0 hi = SID 0x42
    // DW1 lo = STAG 0xbeef | Stall b31 = 0x8000beef; DW1 hi = RnW b35 (bit 3: 0x8) | Class 1 << 8 = 0x108
    // DW2 = 0x00007fffdeadb000; DW3 = 0
    const expected = hex(`
      10 58 00 00  42 00 00 00  ef be 00 80  08 01 00 00
      00 b0 ad de  ff 7f 00 00  00 00 00 00  00 00 00 00`);
    expect(encodeEventRecord(stallRec)).toEqual(expected);
    expect(decodeEventRecord(expected)).toEqual(stallRec);
  });

  const cases: [string, Partial<SmmuEventRecord>, number[]][] = [
    ['SMMU.EVTQ.ID_7_0', { eventId: 0xff }, range(0, 7)],
    ['SMMU.EVTQ.SSV_B11', { ssv: true }, [11]],
    ['SMMU.EVTQ.SSID_31_12', { ssid: 0xfffff }, range(12, 31)],
    ['SMMU.EVTQ.SID_63_32', { sid: 0xffff_ffff }, range(32, 63)],
    ['SMMU.EVTQ.STAG_DW1_15_0', { stag: 0xffff }, range(64, 79)],
    ['SMMU.EVTQ.STALL_DW1_B31', { stall: true }, [95]],
    ['SMMU.EVTQ.PNU_DW1_B33', { pnu: true }, [97]],
    ['SMMU.EVTQ.IND_DW1_B34', { ind: true }, [98]],
    ['SMMU.EVTQ.RNW_DW1_B35', { rnw: true }, [99]],
    ['SMMU.EVTQ.S2_DW1_B39', { s2: true }, [103]],
    ['SMMU.EVTQ.CLASS_DW1_41_40', { cls: 3 }, [104, 105]],
    ['SMMU.EVTQ.ADDR_DW2', { inputAddr: 2 ** 53 - 1 }, range(128, 180)],
    ['SMMU.EVTQ.IPA_DW3_51_12', { ipaPageNum: 2 ** 40 - 1 }, range(204, 243)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...emptyEventRecord(), ...patch };
      const bytes = encodeEventRecord(rec);
      expect(setBits(bytes)).toEqual(bits);
      expect(decodeEventRecord(bytes)).toEqual(rec);
    });
  }

  it('SMMU.EVTQ.IDS: recoverable fault IDs are 10h..13h', () => {
    expect(SmmuEventId).toEqual({
      TRANSLATION_FAULT: 0x10,
      ADDR_SIZE_FAULT: 0x11,
      ACCESS_FAULT: 0x12,
      PERMISSION_FAULT: 0x13,
    });
  });

  it('SMMU.EVTQ.ROUNDTRIP: decode(encode(r)) = r', () => {
    const arb: fc.Arbitrary<SmmuEventRecord> = fc.record({
      eventId: fc.integer({ min: 0, max: 0xff }),
      ssv: fc.boolean(),
      ssid: fc.integer({ min: 0, max: 0xfffff }),
      sid: u32,
      stag: fc.integer({ min: 0, max: 0xffff }),
      stall: fc.boolean(),
      pnu: fc.boolean(),
      ind: fc.boolean(),
      rnw: fc.boolean(),
      s2: fc.boolean(),
      cls: fc.integer({ min: 0, max: 3 }),
      inputAddr: fc.maxSafeNat(),
      ipaPageNum: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
    });
    fc.assert(
      fc.property(arb, (rec) => {
        expect(decodeEventRecord(encodeEventRecord(rec))).toEqual(rec);
      }),
    );
  });

  it('SMMU.EVTQ.ASSERTS: inexact addresses and bad fields throw RangeError; INTO reuses the record', () => {
    expect(() => encodeEventRecord({ ...emptyEventRecord(), inputAddr: 2 ** 53 })).toThrow(RangeError);
    expect(() => encodeEventRecord({ ...emptyEventRecord(), stag: 0x10000 })).toThrow(RangeError);
    expect(() => encodeEventRecord({ ...emptyEventRecord(), cls: 4 })).toThrow(RangeError);
    const bytes = encodeEventRecord(stallRec);
    const out = emptyEventRecord();
    expect(decodeEventRecordInto(bytes, 0, out)).toBe(out);
    bytes[23] = 0xff; // a kernel-half address: not an exact JS number
    expect(() => decodeEventRecord(bytes)).toThrow(RangeError);
  });
});

describe('SMMUv3 CMD_RESUME and CMD_STALL_TERM', () => {
  it('SMMU.CMD_RESUME.VECTOR: encodes a hand-computed command byte for byte', () => {
    // DW0 lo = opcode 0x44 | Retry 1 << 12 (0x1000) = 0x1044; DW0 hi = SID 0x42; DW1 lo = STAG 0xbeef
    const rec: SmmuResumeCmd = { sid: 0x42, ssec: false, action: SmmuResumeAction.RETRY, stag: 0xbeef };
    const expected = hex('44 10 00 00  42 00 00 00  ef be 00 00  00 00 00 00');
    expect(encodeResumeCmd(rec)).toEqual(expected);
    expect(decodeResumeCmd(expected)).toEqual(rec);
  });

  const opBits = [2, 6]; // 0x44
  const cases: [string, Partial<SmmuResumeCmd>, number[]][] = [
    ['SMMU.CMD_RESUME.SSEC_B10', { ssec: true }, [10]],
    ['SMMU.CMD_RESUME.ACTION_RETRY_B12', { action: SmmuResumeAction.RETRY }, [12]],
    ['SMMU.CMD_RESUME.ACTION_ABORT_B13', { action: SmmuResumeAction.ABORT }, [13]],
    ['SMMU.CMD_RESUME.ACTION_TERMINATE_0', { action: SmmuResumeAction.TERMINATE }, []],
    ['SMMU.CMD_RESUME.SID_63_32', { sid: 0xffff_ffff }, range(32, 63)],
    ['SMMU.CMD_RESUME.STAG_DW1_15_0', { stag: 0xffff }, range(64, 79)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...emptyResumeCmd(), ...patch };
      const bytes = encodeResumeCmd(rec);
      expect(setBits(bytes)).toEqual([...opBits, ...bits].sort((a, b) => a - b));
      expect(decodeResumeCmd(bytes)).toEqual(rec);
    });
  }

  it('SMMU.CMD_RESUME.ROUNDTRIP: decode(encode(r)) = r', () => {
    const arb: fc.Arbitrary<SmmuResumeCmd> = fc.record({
      sid: u32,
      ssec: fc.boolean(),
      action: fc.integer({ min: 0, max: 3 }),
      stag: fc.integer({ min: 0, max: 0xffff }),
    });
    fc.assert(
      fc.property(arb, (rec) => {
        expect(decodeResumeCmd(encodeResumeCmd(rec))).toEqual(rec);
      }),
    );
  });

  it('SMMU.CMD_STALL_TERM.VECTOR: opcode 45h and the StreamID at 63:32', () => {
    const expected = hex('45 00 00 00  42 00 00 00  00 00 00 00  00 00 00 00');
    expect(encodeStallTermCmd({ sid: 0x42, ssec: false })).toEqual(expected);
    expect(decodeStallTermCmd(expected)).toEqual({ sid: 0x42, ssec: false });
    expect(setBits(encodeStallTermCmd({ sid: 0xffff_ffff, ssec: true }))).toEqual([
      0,
      2,
      6,
      10,
      ...range(32, 63),
    ]);
  });

  it('SMMU.CMD_STALL_TERM.ROUNDTRIP: decode(encode(r)) = r', () => {
    fc.assert(
      fc.property(fc.record({ sid: u32, ssec: fc.boolean() }), (rec) => {
        expect(decodeStallTermCmd(encodeStallTermCmd(rec))).toEqual(rec);
      }),
    );
  });

  it('SMMU.CMD.OPCODE_CHECK: decoders refuse other opcodes; bad fields throw RangeError', () => {
    const resume = encodeResumeCmd(emptyResumeCmd());
    expect(() => decodeStallTermCmd(resume)).toThrow(/opcode 0x44/);
    expect(() => decodeResumeCmd(encodeStallTermCmd({ sid: 1, ssec: false }))).toThrow(/opcode 0x45/);
    expect(() => encodeResumeCmd({ ...emptyResumeCmd(), action: 4 })).toThrow(RangeError);
    expect(() => encodeResumeCmd({ ...emptyResumeCmd(), stag: 0x10000 })).toThrow(RangeError);
    expect(() => smmuCmdOpcode(new Uint8Array(8))).toThrow(RangeError);
  });
});
