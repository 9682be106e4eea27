import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  AMD_CMD_COMPLETE_PPR,
  AMD_PPR_REQ_FAULT,
  amdCmdOpcode,
  AmdPprFlag,
  AmdPprStatus,
  decodeCompletePprCmd,
  decodeCompletePprCmdInto,
  decodePprLogEntry,
  decodePprLogEntryInto,
  emptyCompletePprCmd,
  emptyPprLogEntry,
  encodeCompletePprCmd,
  encodePprLogEntry,
  encodePprLogEntryInto,
  pprTag,
  type AmdCompletePprCmd,
  type AmdPprLogEntry,
} from '../../../src/iommu/amd/codec.js';

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

describe('AMD PPR log entry', () => {
  const rec: AmdPprLogEntry = {
    deviceId: 0x0208,
    pasid: 0x5_1234,
    prgIndex: 0x0a,
    last: true,
    flags: AmdPprFlag.GN | AmdPprFlag.READ | AmdPprFlag.WRITE | AmdPprFlag.US,
    type: AMD_PPR_REQ_FAULT,
    address: 0x7f00_1234_5000,
  };

  it('AMD.PPR.VECTOR: encodes a hand-computed entry byte for byte', () => {
    // DW0 lo = device 0x0208 | PASID[15:0] 0x1234 << 16 = 0x12340208
    // DW0 hi = PRG index 0x0a | last (tag b9 = bit 41 -> 0x200) | PASID[19:16] 5 << 10 (0x1400)
    //          | flags 0x164 << 16 (0x01640000) | type 1 << 28 (0x10000000)    = 0x1164160a
    // DW1 = address 0x00007f0012345000
    const expected = hex('08 02 34 12  0a 16 64 11  00 50 34 12  00 7f 00 00');
    expect(encodePprLogEntry(rec)).toEqual(expected);
    expect(decodePprLogEntry(expected)).toEqual(rec);
    expect(pprTag(rec)).toBe(0x20a);
  });

  const cases: [string, Partial<AmdPprLogEntry>, number[]][] = [
    ['AMD.PPR.DEVID_15_0', { deviceId: 0xffff }, range(0, 15)],
    ['AMD.PPR.PASID_LO_31_16: PASID bits 15:0', { pasid: 0xffff }, range(16, 31)],
    ['AMD.PPR.PASID_HI_45_42: PASID bits 19:16', { pasid: 0xf_0000 }, range(42, 45)],
    ['AMD.PPR.TAG_PRGI_40_32', { prgIndex: 0x1ff }, range(32, 40)],
    ['AMD.PPR.TAG_LAST_B41', { last: true }, [41]],
    ['AMD.PPR.FLAGS_59_48', { flags: 0xfff }, range(48, 59)],
    ['AMD.PPR.FLAG_GN_B56', { flags: AmdPprFlag.GN }, [56]],
    ['AMD.PPR.FLAG_RW_B50_B53', { flags: AmdPprFlag.READ | AmdPprFlag.WRITE }, [50, 53]],
    ['AMD.PPR.FLAG_EXEC_US_RSVD', { flags: AmdPprFlag.EXEC | AmdPprFlag.US | AmdPprFlag.RSVD }, [49, 54, 55]],
    ['AMD.PPR.TYPE_63_60', { type: 0xf }, range(60, 63)],
    ['AMD.PPR.ADDR_DW1', { address: 2 ** 53 - 1 }, range(64, 116)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const r = { ...emptyPprLogEntry(), ...patch };
      const bytes = encodePprLogEntry(r);
      expect(setBits(bytes)).toEqual(bits);
      expect(decodePprLogEntry(bytes)).toEqual(r);
    });
  }

  it('AMD.PPR.ROUNDTRIP: decode(encode(r)) = r', () => {
    const arb: fc.Arbitrary<AmdPprLogEntry> = fc.record({
      deviceId: fc.integer({ min: 0, max: 0xffff }),
      pasid: fc.integer({ min: 0, max: 0xfffff }),
      prgIndex: fc.integer({ min: 0, max: 0x1ff }),
      last: fc.boolean(),
      flags: fc.integer({ min: 0, max: 0xfff }),
      type: fc.integer({ min: 0, max: 0xf }),
      address: fc.maxSafeNat(),
    });
    fc.assert(
      fc.property(arb, (r) => {
        expect(decodePprLogEntry(encodePprLogEntry(r))).toEqual(r);
      }),
    );
  });

  it('AMD.PPR.RESERVED: bits 47:46 are ignored on decode and written as zero', () => {
    const bytes = encodePprLogEntry(rec);
    bytes[5]! |= 0xc0;
    expect(encodePprLogEntry(decodePprLogEntry(bytes))).toEqual(encodePprLogEntry(rec));
  });

  it('AMD.PPR.INTO: decodes in place at an offset of the log', () => {
    const log = new Uint8Array(48);
    encodePprLogEntryInto(rec, log, 32);
    const out = emptyPprLogEntry();
    expect(decodePprLogEntryInto(log, 32, out)).toBe(out);
    expect(out).toEqual(rec);
  });

  it('AMD.PPR.ASSERTS: out-of-range fields and inexact addresses throw RangeError', () => {
    expect(() => encodePprLogEntry({ ...rec, pasid: 0x10_0000 })).toThrow(RangeError);
    expect(() => encodePprLogEntry({ ...rec, prgIndex: 0x200 })).toThrow(RangeError);
    expect(() => encodePprLogEntry({ ...rec, flags: 0x1000 })).toThrow(RangeError);
    expect(() => encodePprLogEntry({ ...rec, type: 16 })).toThrow(RangeError);
    expect(() => encodePprLogEntry({ ...rec, address: 2 ** 53 })).toThrow(RangeError);
    const bytes = encodePprLogEntry(rec);
    bytes[15] = 0xff;
    expect(() => decodePprLogEntry(bytes)).toThrow(RangeError);
    expect(() => decodePprLogEntry(new Uint8Array(15))).toThrow(RangeError);
  });
});

describe('AMD COMPLETE_PPR_REQUEST', () => {
  const rec: AmdCompletePprCmd = {
    deviceId: 0x0208,
    pasid: 0x5_1234,
    gn: true,
    prgIndex: 0x0a,
    status: AmdPprStatus.SUCCESS,
  };

  it('AMD.COMPLETE_PPR.VECTOR: encodes a hand-computed command byte for byte', () => {
    // dword0 = device 0x0208; dword1 = PASID 0x51234 | opcode 7 << 28 = 0x70051234
    // dword2 = GN b2 = 0x4; dword3 = PRG index 0x0a | status 0 << 12
    const expected = hex('08 02 00 00  34 12 05 70  04 00 00 00  0a 00 00 00');
    expect(encodeCompletePprCmd(rec)).toEqual(expected);
    expect(decodeCompletePprCmd(expected)).toEqual(rec);
    expect(amdCmdOpcode(expected)).toBe(AMD_CMD_COMPLETE_PPR);
    // Response Failure: dword3 = 0x0a | 0xf << 12 = 0xf00a
    const failure = encodeCompletePprCmd({ ...rec, status: AmdPprStatus.FAILURE });
    expect(Array.from(failure.subarray(12))).toEqual([0x0a, 0xf0, 0x00, 0x00]);
  });

  // The opcode 7 sits at dword1 bits 31:28, i.e. command bits 63:60: it sets bits 60, 61 and 62.
  const opBits = [60, 61, 62];
  const cases: [string, Partial<AmdCompletePprCmd>, number[]][] = [
    ['AMD.COMPLETE_PPR.DEVID_DW0_15_0', { deviceId: 0xffff }, range(0, 15)],
    ['AMD.COMPLETE_PPR.PASID_DW1_19_0', { pasid: 0xfffff }, range(32, 51)],
    ['AMD.COMPLETE_PPR.GN_DW2_B2', { gn: true }, [66]],
    ['AMD.COMPLETE_PPR.PRGI_DW3_8_0', { prgIndex: 0x1ff }, range(96, 104)],
    ['AMD.COMPLETE_PPR.STATUS_DW3_15_12', { status: 0xf }, range(108, 111)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const r = { ...emptyCompletePprCmd(), ...patch };
      const bytes = encodeCompletePprCmd(r);
      expect(setBits(bytes)).toEqual([...bits, ...opBits].sort((a, b) => a - b));
      expect(decodeCompletePprCmd(bytes)).toEqual(r);
    });
  }

  it('AMD.COMPLETE_PPR.ROUNDTRIP: decode(encode(r)) = r', () => {
    const arb: fc.Arbitrary<AmdCompletePprCmd> = fc.record({
      deviceId: fc.integer({ min: 0, max: 0xffff }),
      pasid: fc.integer({ min: 0, max: 0xfffff }),
      gn: fc.boolean(),
      prgIndex: fc.integer({ min: 0, max: 0x1ff }),
      status: fc.integer({ min: 0, max: 0xf }),
    });
    fc.assert(
      fc.property(arb, (r) => {
        expect(decodeCompletePprCmd(encodeCompletePprCmd(r))).toEqual(r);
      }),
    );
  });

  it('AMD.COMPLETE_PPR.LINUX_STATUS: a raw status 2 (what mainline sends for FAILURE) round-trips', () => {
    const bytes = encodeCompletePprCmd({ ...rec, status: 2 });
    expect(bytes[13]).toBe(0x20);
    expect(decodeCompletePprCmd(bytes).status).toBe(2);
  });

  it('AMD.COMPLETE_PPR.ASSERTS: wrong opcode and bad fields throw RangeError; INTO reuses', () => {
    expect(() => encodeCompletePprCmd({ ...rec, status: 16 })).toThrow(RangeError);
    expect(() => encodeCompletePprCmd({ ...rec, prgIndex: 0x200 })).toThrow(RangeError);
    expect(() => encodeCompletePprCmd({ ...rec, deviceId: 0x10000 })).toThrow(RangeError);
    expect(() => decodeCompletePprCmd(new Uint8Array(16))).toThrow(/opcode 0x0/);
    const out = emptyCompletePprCmd();
    expect(decodeCompletePprCmdInto(encodeCompletePprCmd(rec), 0, out)).toBe(out);
    expect(out).toEqual(rec);
  });
});
