import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  FAULT_ALLOC_SIZE,
  PAGE_RESPONSE_SIZE,
  PGFAULT_SIZE,
  PgfaultFlag,
  PgfaultPerm,
  checkFaultAlloc,
  decodeFaultAlloc,
  decodePageResponse,
  decodePgfault,
  decodePgfaults,
  encodeFaultAlloc,
  encodePageResponse,
  encodePageResponses,
  encodePgfault,
  pgfaultFromFault,
  undefinedPgfaultFlags,
} from '../../../src/handlers/iommufd/abi.js';
import type { HwptPgfault } from '../../../src/handlers/iommufd/abi.js';
import { FaultFlag, FaultPerm } from '../../../src/iopf/types.js';
import type { FaultRecord } from '../../../src/iopf/types.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('struct iommu_hwpt_pgfault', () => {
  it('IOMMUFD.ABI.PGFAULT_SIZE: 40 bytes, 8 bytes for a response, 16 for fault_alloc', () => {
    expect(PGFAULT_SIZE).toBe(40);
    expect(PAGE_RESPONSE_SIZE).toBe(8);
    expect(FAULT_ALLOC_SIZE).toBe(16);
  });

  it('IOMMUFD.ABI.PGFAULT_LAYOUT: hand-computed little-endian vector', () => {
    const rec: HwptPgfault = {
      flags: 0x3,
      devId: 0x7,
      pasid: 0x12345,
      grpid: 0x1ff,
      perm: 0x3,
      reserved: 0,
      addr: 0x7f12_3456_7000n,
      length: 0,
      cookie: 5,
    };
    // prettier-ignore
    const expected = Uint8Array.from([
      0x03, 0x00, 0x00, 0x00, // @0  flags
      0x07, 0x00, 0x00, 0x00, // @4  dev_id
      0x45, 0x23, 0x01, 0x00, // @8  pasid
      0xff, 0x01, 0x00, 0x00, // @12 grpid
      0x03, 0x00, 0x00, 0x00, // @16 perm
      0x00, 0x00, 0x00, 0x00, // @20 __reserved
      0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0x00, 0x00, // @24 addr
      0x00, 0x00, 0x00, 0x00, // @32 length
      0x05, 0x00, 0x00, 0x00, // @36 cookie
    ]);
    expect(encodePgfault(rec)).toEqual(expected);
    expect(decodePgfault(expected)).toEqual(rec);
  });

  it('IOMMUFD.ABI.PGFAULT_U64_ADDR: all eight addr bytes, high half included', () => {
    const rec: HwptPgfault = {
      flags: 0x8000_0001,
      devId: 0xdead_beef,
      pasid: 0xfffff,
      grpid: 0x1,
      perm: 0xf,
      reserved: 0,
      addr: 0xfedc_ba98_7654_3210n,
      length: 0x10,
      cookie: 0xffff_ffff,
    };
    // prettier-ignore
    const expected = Uint8Array.from([
      0x01, 0x00, 0x00, 0x80,
      0xef, 0xbe, 0xad, 0xde,
      0xff, 0xff, 0x0f, 0x00,
      0x01, 0x00, 0x00, 0x00,
      0x0f, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00,
      0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
      0x10, 0x00, 0x00, 0x00,
      0xff, 0xff, 0xff, 0xff,
    ]);
    expect(encodePgfault(rec)).toEqual(expected);
    expect(decodePgfault(expected)).toEqual(rec);
  });

  it('IOMMUFD.ABI.PGFAULT_ROUNDTRIP: decode(encode(r)) = r at any offset', () => {
    fc.assert(
      fc.property(
        fc.record({
          flags: u32,
          devId: u32,
          pasid: u32,
          grpid: u32,
          perm: u32,
          reserved: u32,
          addr: u64,
          length: u32,
          cookie: u32,
        }),
        fc.integer({ min: 0, max: 3 }),
        (rec, slot) => {
          const buf = new Uint8Array(PGFAULT_SIZE * 4);
          encodePgfault(rec, buf, slot * PGFAULT_SIZE);
          expect(decodePgfault(buf, slot * PGFAULT_SIZE)).toEqual(rec);
          // Nothing outside the record's 40 bytes was touched.
          buf.fill(0, slot * PGFAULT_SIZE, (slot + 1) * PGFAULT_SIZE);
          expect(buf.every((b) => b === 0)).toBe(true);
        },
      ),
    );
  });

  it('IOMMUFD.ABI.PGFAULT_ASSERTS: out-of-range fields and short buffers are programmer errors', () => {
    const ok: HwptPgfault = {
      flags: 0,
      devId: 0,
      pasid: 0,
      grpid: 0,
      perm: 0,
      reserved: 0,
      addr: 0n,
      length: 0,
      cookie: 0,
    };
    expect(() => encodePgfault({ ...ok, pasid: -1 })).toThrow(RangeError);
    expect(() => encodePgfault({ ...ok, cookie: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodePgfault({ ...ok, addr: 1n << 64n })).toThrow(RangeError);
    expect(() => encodePgfault(ok, new Uint8Array(39))).toThrow(RangeError);
    expect(() => decodePgfault(new Uint8Array(40), 1)).toThrow(RangeError);
    expect(() => decodePgfaults(new Uint8Array(41))).toThrow(RangeError);
  });

  it('IOMMUFD.ABI.FLAG_PERM_VALUES: uAPI flag/perm bits equal the core ones', () => {
    expect(PgfaultFlag.PASID_VALID).toBe(FaultFlag.PASID_VALID);
    expect(PgfaultFlag.LAST_PAGE).toBe(FaultFlag.LAST_PAGE);
    expect(PgfaultPerm).toEqual({
      READ: FaultPerm.READ,
      WRITE: FaultPerm.WRITE,
      EXEC: FaultPerm.EXEC,
      PRIV: FaultPerm.PRIV,
    });
  });

  it('IOMMUFD.ABI.COMPOSE: fault record -> record with dev_id, cookie, length 0, reserved 0, flags/perm verbatim', () => {
    const f: FaultRecord = {
      flags: FaultFlag.PASID_VALID | FaultFlag.LAST_PAGE | FaultFlag.RESPONSE_NEEDS_PASID,
      pasid: 9,
      grpid: 0x42,
      perm: FaultPerm.READ | FaultPerm.EXEC,
      addr: 0x5000,
      privateData: 0xabc,
      dev: 3,
      reqId: 77,
    };
    const rec = pgfaultFromFault(f, 12, 4);
    expect(rec).toEqual({
      flags: 0b111,
      devId: 12,
      pasid: 9,
      grpid: 0x42,
      perm: 0b101,
      reserved: 0,
      addr: 0x5000n,
      length: 0,
      cookie: 4,
    });
    // The kernel copies prm.flags unmasked: the undefined bit reaches user space.
    expect(undefinedPgfaultFlags(rec.flags)).toBe(FaultFlag.RESPONSE_NEEDS_PASID);
    expect(undefinedPgfaultFlags(PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE)).toBe(0);
    expect(() => pgfaultFromFault({ ...f, addr: 2 ** 53 }, 1, 1)).toThrow(RangeError);
  });
});

describe('struct iommu_hwpt_page_response', () => {
  it('IOMMUFD.ABI.RESPONSE_LAYOUT: cookie @0, code @4, little-endian', () => {
    const expected = Uint8Array.from([0x04, 0x03, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00]);
    expect(encodePageResponse({ cookie: 0x0102_0304, code: 1 })).toEqual(expected);
    expect(decodePageResponse(expected)).toEqual({ cookie: 0x0102_0304, code: 1 });
  });

  it('IOMMUFD.ABI.RESPONSE_ARRAY: responses are packed back to back', () => {
    const bytes = encodePageResponses([
      { cookie: 1, code: 0 },
      { cookie: 0x100, code: 0xffff_ffff },
    ]);
    expect(bytes).toEqual(
      Uint8Array.from([0x01, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    );
  });

  it('IOMMUFD.ABI.RESPONSE_ROUNDTRIP: decode(encode(r)) = r', () => {
    fc.assert(
      fc.property(u32, u32, (cookie, code) => {
        expect(decodePageResponse(encodePageResponse({ cookie, code }))).toEqual({ cookie, code });
      }),
    );
  });
});

describe('struct iommu_fault_alloc', () => {
  it('IOMMUFD.ABI.FAULT_ALLOC_LAYOUT: size, flags, out_fault_id, out_fault_fd', () => {
    // prettier-ignore
    const expected = Uint8Array.from([
      0x10, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00,
      0x2a, 0x00, 0x00, 0x00,
      0x05, 0x00, 0x00, 0x00,
    ]);
    const cmd = { size: 16, flags: 0, outFaultId: 0x2a, outFaultFd: 5 };
    expect(encodeFaultAlloc(cmd)).toEqual(expected);
    expect(decodeFaultAlloc(expected)).toEqual(cmd);
  });

  it('IOMMUFD.ABI.FAULT_ALLOC_FLAGS: any flag is -EOPNOTSUPP', () => {
    expect(checkFaultAlloc({ flags: 0 })).toBe(0);
    expect(checkFaultAlloc({ flags: 1 })).toBe(-95);
  });
});
