import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  decodeInvWait,
  decodePageGroupResp,
  decodePageGroupRespInto,
  decodePageGroupRespQwords,
  decodePageRequest,
  decodePageRequestInto,
  emptyPageGroupResp,
  emptyPageRequest,
  encodeInvWait,
  encodePageGroupResp,
  encodePageRequest,
  encodePageRequestInto,
  isStopMarker,
  pageGroupRespQwords,
  VtdRespCode,
  type VtdInvWaitDesc,
  type VtdPageGroupResp,
  type VtdPageRequestDesc,
} from '../../../src/iommu/vtd/codec.js';

/** Indices of the set bits of a little-endian descriptor (bit i = byte i>>3, bit i&7). */
function setBits(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length * 8; i++) if (((bytes[i >> 3]! >> (i & 7)) & 1) === 1) out.push(i);
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

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const privArb = fc.tuple(u32, u32, u32, u32);

const pageRequestArb: fc.Arbitrary<VtdPageRequestDesc> = fc.record({
  rid: fc.integer({ min: 0, max: 0xffff }),
  pasidPresent: fc.boolean(),
  privDataPresent: fc.boolean(),
  pasid: fc.integer({ min: 0, max: 0xfffff }),
  execReq: fc.boolean(),
  privReq: fc.boolean(),
  read: fc.boolean(),
  write: fc.boolean(),
  lpig: fc.boolean(),
  prgIndex: fc.integer({ min: 0, max: 0x1ff }),
  pageNum: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
  privateData: privArb,
});

const pageGroupRespArb: fc.Arbitrary<VtdPageGroupResp> = fc.record({
  rid: fc.integer({ min: 0, max: 0xffff }),
  pasidPresent: fc.boolean(),
  privDataPresent: fc.boolean(),
  respCode: fc.integer({ min: 0, max: 0xf }),
  pasid: fc.integer({ min: 0, max: 0xfffff }),
  lpig: fc.boolean(),
  prgIndex: fc.integer({ min: 0, max: 0x1ff }),
  privateData: privArb,
});

describe('VT-d page request descriptor', () => {
  it('VTD.PRQ_DESC.VECTOR: encodes a hand-computed descriptor byte for byte', () => {
    // rid 0x1a08, PASID 0xabc present, privileged, R+W, last, PRG index 5, address 0x7f12345000.
    // QW0 lo = type 1 | PASID-present 0x100 | rid<<16 (0x1a080000)          = 0x1a080101
    // QW0 hi = PASID 0xabc | priv-req b53 (bit 21 of the high dword 0x200000) = 0x00200abc
    // QW1 lo = R 1 | W 2 | L 4 | 5<<3 (0x28) | page bits 19:0 0x12345 << 12 = 0x1234502f
    // QW1 hi = page number >> 20 = 0x7f
    const rec: VtdPageRequestDesc = {
      ...emptyPageRequest(),
      rid: 0x1a08,
      pasidPresent: true,
      pasid: 0xabc,
      privReq: true,
      read: true,
      write: true,
      lpig: true,
      prgIndex: 5,
      pageNum: 0x7f12345,
    };
    const expected = hex(`
      01 01 08 1a  bc 0a 20 00  2f 50 34 12  7f 00 00 00
      00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00`);
    expect(encodePageRequest(rec)).toEqual(expected);
    expect(decodePageRequest(expected)).toEqual(rec);
  });

  const cases: [string, Partial<VtdPageRequestDesc>, number[]][] = [
    ['VTD.PRQ_DESC.TYPE_7_0: type 01h is the only bit of an empty descriptor', {}, []],
    ['VTD.PRQ_DESC.PASID_PRESENT_B8', { pasidPresent: true }, [8]],
    ['VTD.PRQ_DESC.PRIV_DATA_PRESENT_B9 (older layout)', { privDataPresent: true }, [9]],
    ['VTD.PRQ_DESC.RID_31_16', { rid: 0xffff }, range(16, 31)],
    ['VTD.PRQ_DESC.PASID_51_32', { pasid: 0xfffff }, range(32, 51)],
    ['VTD.PRQ_DESC.EXEC_B52', { execReq: true }, [52]],
    ['VTD.PRQ_DESC.PRIV_B53', { privReq: true }, [53]],
    ['VTD.PRQ_DESC.READ_B64', { read: true }, [64]],
    ['VTD.PRQ_DESC.WRITE_B65', { write: true }, [65]],
    ['VTD.PRQ_DESC.LPIG_B66', { lpig: true }, [66]],
    ['VTD.PRQ_DESC.PRGI_75_67', { prgIndex: 0x1ff }, range(67, 75)],
    ['VTD.PRQ_DESC.ADDR_127_76', { pageNum: 2 ** 52 - 1 }, range(76, 127)],
    [
      'VTD.PRQ_DESC.PRIV_DATA_255_128',
      { privateData: [0xffff_ffff, 0, 0, 0xffff_ffff] },
      [...range(128, 159), ...range(224, 255)],
    ],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...emptyPageRequest(), ...patch };
      const bytes = encodePageRequest(rec);
      expect(setBits(bytes)).toEqual([0, ...bits]);
      expect(decodePageRequest(bytes)).toEqual(rec);
    });
  }

  it('VTD.PRQ_DESC.ROUNDTRIP: decode(encode(r)) = r', () => {
    fc.assert(
      fc.property(pageRequestArb, (rec) => {
        expect(decodePageRequest(encodePageRequest(rec))).toEqual(rec);
      }),
    );
  });

  it('VTD.PRQ_DESC.RESERVED: reserved bits are ignored on decode and written as zero', () => {
    const allOnes = encodePageRequest({
      rid: 0xffff,
      pasidPresent: true,
      privDataPresent: true,
      pasid: 0xfffff,
      execReq: true,
      privReq: true,
      read: true,
      write: true,
      lpig: true,
      prgIndex: 0x1ff,
      pageNum: 2 ** 52 - 1,
      privateData: [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
    });
    allOnes[0] = 0xff; // the type byte is compared whole
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (raw) => {
        raw[0] = 0x01;
        const again = encodePageRequest(decodePageRequest(raw));
        expect(again).toEqual(raw.map((b, i) => b & allOnes[i]!));
      }),
    );
  });

  it('VTD.PRQ_DESC.OFFSET_INTO: decodes in place at an offset inside a ring', () => {
    const ring = new Uint8Array(96);
    const rec = { ...emptyPageRequest(), rid: 7, read: true, pageNum: 42, prgIndex: 3 };
    encodePageRequestInto(rec, ring, 64);
    const out = emptyPageRequest();
    const pd = out.privateData;
    expect(decodePageRequestInto(ring, 64, out)).toBe(out);
    expect(out).toEqual(rec);
    expect(out.privateData).toBe(pd); // the private-data tuple is reused, not reallocated
  });

  it('VTD.PRQ_DESC.ASSERTS: out-of-range fields, short buffers and wrong types throw RangeError', () => {
    expect(() => encodePageRequest({ ...emptyPageRequest(), pasid: 0x100000 })).toThrow(RangeError);
    expect(() => encodePageRequest({ ...emptyPageRequest(), prgIndex: 512 })).toThrow(RangeError);
    expect(() => encodePageRequest({ ...emptyPageRequest(), rid: -1 })).toThrow(RangeError);
    expect(() => encodePageRequest({ ...emptyPageRequest(), pageNum: 2 ** 52 })).toThrow(RangeError);
    expect(() => encodePageRequest({ ...emptyPageRequest(), prgIndex: 1.5 })).toThrow(RangeError);
    expect(() => decodePageRequest(new Uint8Array(31))).toThrow(RangeError);
    expect(() => decodePageRequest(new Uint8Array(32))).toThrow(/type 0x0/);
    expect(() => decodePageRequestInto(new Uint8Array(64), 40, emptyPageRequest())).toThrow(RangeError);
  });

  it('PRI.STOP: a Stop Marker is L=1, R=W=0 with a PASID', () => {
    expect(isStopMarker({ lpig: true, read: false, write: false, pasidPresent: true })).toBe(true);
    expect(isStopMarker({ lpig: true, read: false, write: false, pasidPresent: false })).toBe(false);
    expect(isStopMarker({ lpig: true, read: true, write: false, pasidPresent: true })).toBe(false);
    expect(isStopMarker({ lpig: false, read: false, write: false, pasidPresent: true })).toBe(false);
  });
});

describe('VT-d page group response descriptor', () => {
  const failureRec: VtdPageGroupResp = {
    ...emptyPageGroupResp(),
    rid: 0x1a08,
    pasidPresent: true,
    respCode: VtdRespCode.FAILURE,
    pasid: 0xabc,
    lpig: true,
    prgIndex: 5,
  };

  it('VTD.PGRP_RESP.VECTOR: encodes a hand-computed descriptor byte for byte', () => {
    // QW0 lo = type 9 | PASID-present b4 (0x10) | code 0xf << 12 (0xf000) | rid<<16 = 0x1a08f019
    // QW0 hi = PASID 0xabc; QW1 lo = LPIG b2 (4) | PRG index 5<<3 (0x28) = 0x2c
    const expected = hex(`
      19 f0 08 1a  bc 0a 00 00  2c 00 00 00  00 00 00 00
      00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00`);
    expect(encodePageGroupResp(failureRec)).toEqual(expected);
    expect(decodePageGroupResp(expected)).toEqual(failureRec);
    expect(pageGroupRespQwords(failureRec)).toEqual([0x0000_0abc_1a08_f019n, 0x2cn, 0n, 0n]);
  });

  const cases: [string, Partial<VtdPageGroupResp>, number[]][] = [
    ['VTD.PGRP_RESP.TYPE_3_0: type 9h sets bits 0 and 3', {}, []],
    ['VTD.PGRP_RESP.PASID_PRESENT_B4', { pasidPresent: true }, [4]],
    ['VTD.PGRP_RESP.PRIV_DATA_PRESENT_B5', { privDataPresent: true }, [5]],
    ['VTD.PGRP_RESP.CODE_15_12', { respCode: 0xf }, range(12, 15)],
    ['VTD.PGRP_RESP.RID_31_16', { rid: 0xffff }, range(16, 31)],
    ['VTD.PGRP_RESP.PASID_51_32', { pasid: 0xfffff }, range(32, 51)],
    ['VTD.PGRP_RESP.LPIG_QW1_B2', { lpig: true }, [66]],
    ['VTD.PGRP_RESP.PRGI_QW1_11_3', { prgIndex: 0x1ff }, range(67, 75)],
    ['VTD.PGRP_RESP.PRIV_DATA_QW2_QW3', { privateData: [0, 0xffff_ffff, 0, 0] }, range(160, 191)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...emptyPageGroupResp(), ...patch };
      const bytes = encodePageGroupResp(rec);
      expect(setBits(bytes)).toEqual([0, 3, ...bits]);
      expect(decodePageGroupResp(bytes)).toEqual(rec);
    });
  }

  it('VTD.PGRP_RESP.ROUNDTRIP: decode(encode(r)) = r, and through the qi_submit qwords', () => {
    fc.assert(
      fc.property(pageGroupRespArb, (rec) => {
        expect(decodePageGroupResp(encodePageGroupResp(rec))).toEqual(rec);
        expect(decodePageGroupRespQwords(pageGroupRespQwords(rec))).toEqual(rec);
      }),
    );
  });

  it('VTD.PGRP_RESP.LPIG_OPTIONAL: accepts responses with LPIG/private data set (old kernels) or clear (mainline)', () => {
    // Old kernels (svm.c with QI_PGRP_PDP/QI_PGRP_LPIG): LPIG and PDP set, private data copied.
    const old = decodePageGroupRespQwords([0x0000_0abc_1a08_0039n, 0x2cn, 0x1122_3344_5566_7788n, 0x99n]);
    expect(old).toMatchObject({
      pasidPresent: true,
      privDataPresent: true,
      respCode: 0,
      lpig: true,
      prgIndex: 5,
    });
    expect(old.privateData).toEqual([0x5566_7788, 0x1122_3344, 0x99, 0]);
    // Mainline: QW1 carries only the PRG index, QW2/QW3 zero (and may be omitted).
    const mainline = decodePageGroupRespQwords([0x0000_0abc_1a08_1019n, 0x28n]);
    expect(mainline).toMatchObject({
      respCode: VtdRespCode.INVALID,
      lpig: false,
      privDataPresent: false,
      prgIndex: 5,
    });
  });

  it('VTD.PGRP_RESP.TRACE_QWORDS: decodes the qwords of an intel_iommu:qi_submit page_grp_resp line', () => {
    // qi_submit prints the qwords with %llx. qw0 0x3000100019 = type 9 | PASID-present 0x10 |
    // code 0 | rid 0x0010 << 16, PASID 0x30 in the high dword; qw1 0x1f8 = PRG index 0x3f << 3.
    const line = 'page_grp_resp dmar0: 0x3000100019 0x1f8 0x0 0x0';
    const qws = line
      .split(': ')[1]!
      .split(' ')
      .map((s) => BigInt(s));
    const rec = decodePageGroupRespQwords(qws);
    expect(rec).toEqual({
      ...emptyPageGroupResp(),
      rid: 0x0010,
      pasidPresent: true,
      pasid: 0x30,
      respCode: VtdRespCode.SUCCESS,
      prgIndex: 0x3f,
    });
  });

  it('VTD.PGRP_RESP.ASSERTS: bad fields, qword counts and types throw RangeError', () => {
    expect(() => encodePageGroupResp({ ...emptyPageGroupResp(), respCode: 16 })).toThrow(RangeError);
    expect(() => encodePageGroupResp({ ...emptyPageGroupResp(), privateData: [2 ** 32, 0, 0, 0] })).toThrow(
      RangeError,
    );
    expect(() => decodePageGroupRespQwords([9n])).toThrow(RangeError);
    expect(() => decodePageGroupRespQwords([9n, 0n, 0n, 0n, 0n])).toThrow(RangeError);
    expect(() => decodePageGroupRespQwords([-1n, 0n])).toThrow(RangeError);
    expect(() => decodePageGroupRespQwords([2n ** 64n, 0n])).toThrow(RangeError);
    expect(() => decodePageGroupRespQwords([0x5n, 0n])).toThrow(/type 0x5/);
    // Type bits 11:9 are type[6:4]: 0x209 is type 0x19, not a page group response.
    expect(() => decodePageGroupRespQwords([0x209n, 0n])).toThrow(/type 0x19/);
    expect(() => decodePageGroupResp(new Uint8Array(32))).toThrow(RangeError);
  });

  it('VTD.PGRP_RESP.INTO: decodes into a caller-provided record', () => {
    const bytes = encodePageGroupResp(failureRec);
    const out = emptyPageGroupResp();
    expect(decodePageGroupRespInto(bytes, 0, out)).toBe(out);
    expect(out).toEqual(failureRec);
  });
});

describe('VT-d invalidation wait descriptor', () => {
  it('VTD.IWD.VECTOR: encodes a hand-computed descriptor byte for byte', () => {
    // QW0 lo = type 5 | SW b5 0x20 | FN b6 0x40 | PD b7 0x80 = 0xe5; QW0 hi = status data 2
    // QW1 = status address 0x1_0000_1000 -> lo 0x00001000, hi 0x1
    const rec: VtdInvWaitDesc = {
      interruptFlag: false,
      statusWrite: true,
      fence: true,
      pageDrain: true,
      statusData: 2,
      statusAddr: 0x1_0000_1000,
    };
    const expected = hex(`
      e5 00 00 00  02 00 00 00  00 10 00 00  01 00 00 00
      00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00`);
    expect(encodeInvWait(rec)).toEqual(expected);
    expect(decodeInvWait(expected)).toEqual(rec);
  });

  const base: VtdInvWaitDesc = {
    interruptFlag: false,
    statusWrite: false,
    fence: false,
    pageDrain: false,
    statusData: 0,
    statusAddr: 0,
  };
  const cases: [string, Partial<VtdInvWaitDesc>, number[]][] = [
    ['VTD.IWD.IF_B4', { interruptFlag: true }, [4]],
    ['VTD.IWD.SW_B5', { statusWrite: true }, [5]],
    ['VTD.IWD.FENCE_B6', { fence: true }, [6]],
    ['VTD.IWD.PAGE_DRAIN_B7', { pageDrain: true }, [7]],
    ['VTD.IWD.STATUS_DATA_63_32', { statusData: 0xffff_ffff }, range(32, 63)],
    ['VTD.IWD.STATUS_ADDR_QW1_63_2', { statusAddr: 2 ** 53 - 4 }, range(66, 116)],
  ];
  for (const [name, patch, bits] of cases) {
    it(name, () => {
      const rec = { ...base, ...patch };
      const bytes = encodeInvWait(rec);
      expect(setBits(bytes)).toEqual([0, 2, ...bits]);
      expect(decodeInvWait(bytes)).toEqual(rec);
    });
  }

  it('VTD.IWD.ROUNDTRIP: decode(encode(r)) = r', () => {
    const arb: fc.Arbitrary<VtdInvWaitDesc> = fc.record({
      interruptFlag: fc.boolean(),
      statusWrite: fc.boolean(),
      fence: fc.boolean(),
      pageDrain: fc.boolean(),
      statusData: u32,
      statusAddr: fc.integer({ min: 0, max: 2 ** 51 - 1 }).map((d) => d * 4),
    });
    fc.assert(
      fc.property(arb, (rec) => {
        expect(decodeInvWait(encodeInvWait(rec))).toEqual(rec);
      }),
    );
  });

  it('VTD.IWD.ASSERTS: unaligned or oversized addresses and wrong types throw RangeError', () => {
    expect(() => encodeInvWait({ ...base, statusAddr: 6 })).toThrow(RangeError);
    expect(() => encodeInvWait({ ...base, statusAddr: 2 ** 53 })).toThrow(RangeError);
    expect(() => encodeInvWait({ ...base, statusData: -1 })).toThrow(RangeError);
    const bytes = encodeInvWait(base);
    bytes[0] = 0x09;
    expect(() => decodeInvWait(bytes)).toThrow(/type 0x9/);
    const far = encodeInvWait(base);
    far[15] = 0x80; // status address bit 63: not representable as an exact number
    expect(() => decodeInvWait(far)).toThrow(RangeError);
  });
});
