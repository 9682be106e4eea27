/**
 * Layouts as data (issue 15): the generic coder over descriptor tables, the tables against the
 * kernel headers' masks, and the rule that codecs hold tables, not bit packing of their own.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, decodeInto, dw, encode, encodeInto, fromQwords, peek, qw, toQwords, type FieldSpec } from '../../src/layout/layout.js';
import { formatLayout, layoutDoc } from '../../src/layout/table.js';
import { LAYOUTS, layoutByName } from '../../src/iommu/layouts.js';

interface Rec {
  lo: number;
  split: number;
  flag: boolean;
  wide: number;
  arr: [number, number];
}

const L = compile<Rec>({
  id: 'test.rec',
  name: 'Test Record',
  what: 'a test record',
  size: 32,
  unit: 'QW',
  source: 'test',
  fields: [
    { name: 'Op', bits: qw(0, 3, 0), value: 0xa },
    { name: 'Lo', bits: qw(0, 31, 8), key: 'lo' },
    // 20 bits: value 15:0 at 47:32, value 19:16 at 63:60.
    { name: 'Split', bits: [{ hi: 47, lo: 32 }, { hi: 63, lo: 60 }], key: 'split' },
    { name: 'F', bits: qw(0, 4), key: 'flag', flag: true },
    { name: 'Wide', bits: qw(1, 63, 0), key: 'wide' },
    { name: 'A0', bits: dw(4, 31, 0), key: 'arr', index: 0 },
    { name: 'A1', bits: qw(3, 51, 12), key: 'arr', index: 1 },
  ],
});

const empty = (): Rec => ({ lo: 0, split: 0, flag: false, wide: 0, arr: [0, 0] });
const recArb: fc.Arbitrary<Rec> = fc.record({
  lo: fc.integer({ min: 0, max: 2 ** 24 - 1 }),
  split: fc.integer({ min: 0, max: 2 ** 20 - 1 }),
  flag: fc.boolean(),
  wide: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  arr: fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 40 - 1 })),
});

/** Set bits of a little-endian record. */
function setBits(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length * 8; i++) if (((bytes[i >> 3]! >> (i & 7)) & 1) === 1) out.push(i);
  return out;
}

describe('the generic coder', () => {
  it('LAYOUT.ROUNDTRIP: decode(encode(r)) = r for every record, constants written', () => {
    fc.assert(
      fc.property(recArb, (r) => {
        const b = encode(L, r);
        expect(b[0]! & 0xf).toBe(0xa);
        expect(decodeInto(L, b, 0, empty())).toEqual(r);
      }),
    );
  });

  it('LAYOUT.SPLIT_FIELD: a field in two segments puts each run of value bits where the table says', () => {
    const b = encode(L, { ...empty(), split: 0xf0001 });
    expect(setBits(b)).toEqual([1, 3, 32, 60, 61, 62, 63]);
  });

  it('LAYOUT.RESERVED: bits no field owns are written zero and ignored when read', () => {
    const b = encode(L, { lo: 2 ** 24 - 1, split: 2 ** 20 - 1, flag: true, wide: 0, arr: [0, 0] });
    expect(setBits(b).filter((i) => i >= 5 && i <= 7)).toEqual([]);
    b[0] = b[0]! | 0xe0; // bits 7:5 reserved
    b[31] = 0xff; // QW3 63:56 reserved
    expect(decodeInto(L, b, 0, empty())).toEqual({ lo: 2 ** 24 - 1, split: 2 ** 20 - 1, flag: true, wide: 0, arr: [0, 0] });
  });

  it('LAYOUT.NO_ALLOC: decodeInto fills the record it is given and encodeInto writes in place at an offset', () => {
    const buf = new Uint8Array(80);
    const r = { ...empty(), lo: 5, arr: [1, 2] as [number, number] };
    encodeInto(L, r, buf, 40);
    expect(setBits(buf.subarray(0, 40))).toEqual([]);
    const out = empty();
    const arr = out.arr;
    expect(decodeInto(L, buf, 40, out)).toBe(out);
    expect(out.arr).toBe(arr);
    expect(out).toEqual(r);
  });

  it('LAYOUT.WIDE_53: values above 2^53 are refused both ways (JS numbers are exact below it)', () => {
    expect(() => encode(L, { ...empty(), wide: 2 ** 53 })).toThrow('wide=9007199254740992 is not a non-negative integer below 2^53');
    const b = encode(L, { ...empty(), wide: Number.MAX_SAFE_INTEGER });
    expect(decodeInto(L, b, 0, empty()).wide).toBe(Number.MAX_SAFE_INTEGER);
    b[14] = b[14]! | 0x20; // bit 117 = value bit 53
    expect(() => decodeInto(L, b, 0, empty())).toThrow('wide=0x3fffffffffffff is beyond 2^53');
  });

  it('LAYOUT.FIELD_WIDTH: a value wider than its field is a programmer error, named by its record key', () => {
    expect(() => encode(L, { ...empty(), lo: 2 ** 24 })).toThrow('lo=16777216 does not fit in 24 bits');
    expect(() => encode(L, { ...empty(), split: -1 })).toThrow('split=-1 does not fit in 20 bits');
    expect(() => encode(L, { ...empty(), arr: [0, 2 ** 40] })).toThrow('arr[1]=1099511627776 does not fit in 40 bits');
    expect(() => encode(L, { ...empty(), lo: 1.5 })).toThrow(RangeError);
  });

  it('LAYOUT.CONSTANT: a record with the wrong type/opcode is refused with the value found', () => {
    const b = encode(L, empty());
    b[0] = 0x03;
    expect(() => decodeInto(L, b, 0, empty())).toThrow('not a test record: op 0x3');
    expect(peek(L, 'Op', b)).toBe(3);
  });

  it('LAYOUT.SPAN: a buffer too short for the record is refused', () => {
    expect(() => decodeInto(L, new Uint8Array(31), 0, empty())).toThrow('need 32 bytes at offset 0, buffer has 31');
    expect(() => encodeInto(L, empty(), new Uint8Array(40), 9)).toThrow(RangeError);
  });

  it('LAYOUT.QWORDS: records as 64-bit words (trace text) round-trip', () => {
    fc.assert(
      fc.property(recArb, (r) => {
        const q = toQwords(L, r);
        expect(q).toHaveLength(4);
        expect(fromQwords(L, q, empty())).toEqual(r);
      }),
    );
    expect(() => fromQwords(L, [2n ** 64n], empty())).toThrow('qw0=18446744073709551616 is not a u64');
  });

  it('LAYOUT.COMPILE: overlapping fields, bits outside the record and wide flags are refused', () => {
    const base = { id: 'bad', name: 'Bad', what: 'bad', size: 8, unit: 'DW' as const, source: 's' };
    expect(() => compile<{ a: number; b: number }>({ ...base, fields: [{ name: 'A', bits: dw(0, 7, 0), key: 'a' }, { name: 'B', bits: dw(0, 8, 7), key: 'b' }] })).toThrow(
      'bit 7 also belongs to A',
    );
    expect(() => compile<{ a: number }>({ ...base, fields: [{ name: 'A', bits: dw(2, 0), key: 'a' }] })).toThrow('outside the record');
    expect(() => compile<{ a: boolean }>({ ...base, fields: [{ name: 'A', bits: dw(0, 1, 0), key: 'a', flag: true }] })).toThrow('a flag is one bit');
    expect(() => compile<{ a: number }>({ ...base, size: 6, fields: [] })).toThrow('multiple of 4');
  });
});

/**
 * Field masks as the Linux headers define them (GENMASK/BIT positions within the named word), for
 * a cross-check of the tables: drivers/iommu/intel/prq.c struct page_req_dsc and intel/iommu.h
 * QI_PGRP_* / QI_IWD_*; arm-smmu-v3.h PRIQ_*, CMDQ_*, EVTQ_*; amd_iommu_types.h PPR_* and
 * build_complete_ppr (amd/iommu.c).
 */
const KERNEL: [layout: string, field: string, macro: string, word: number, hi: number, lo: number][] = [
  ['vtd.page_request', 'Type', 'page_req_dsc.type:8', 0, 7, 0],
  ['vtd.page_request', 'PASID Present', 'page_req_dsc.pasid_present', 0, 8, 8],
  ['vtd.page_request', 'Requester-ID', 'page_req_dsc.rid:16', 0, 31, 16],
  ['vtd.page_request', 'PASID', 'page_req_dsc.pasid:20', 0, 51, 32],
  ['vtd.page_request', 'Execute Requested', 'page_req_dsc.exe_req', 0, 52, 52],
  ['vtd.page_request', 'Privilege Mode Requested', 'page_req_dsc.pm_req', 0, 53, 53],
  ['vtd.page_request', 'Read Requested', 'page_req_dsc.rd_req', 1, 0, 0],
  ['vtd.page_request', 'Write Requested', 'page_req_dsc.wr_req', 1, 1, 1],
  ['vtd.page_request', 'Last Page In Group', 'page_req_dsc.lpig', 1, 2, 2],
  ['vtd.page_request', 'Page Request Group Index', 'page_req_dsc.prg_index:9', 1, 11, 3],
  ['vtd.page_request', 'Address', 'page_req_dsc.addr:52', 1, 63, 12],
  ['vtd.page_group_resp', 'PASID Present', 'QI_PGRP_PASID_P << 4', 0, 4, 4],
  ['vtd.page_group_resp', 'Private Data Present', 'QI_PGRP_PDP << 5', 0, 5, 5],
  ['vtd.page_group_resp', 'Response Code', 'QI_PGRP_RESP_CODE << 12', 0, 15, 12],
  ['vtd.page_group_resp', 'Requester-ID', 'QI_PGRP_DID << 16', 0, 31, 16],
  ['vtd.page_group_resp', 'PASID', 'QI_PGRP_PASID << 32', 0, 51, 32],
  ['vtd.page_group_resp', 'Last Page In Group', 'QI_PGRP_LPIG << 2', 1, 2, 2],
  ['vtd.page_group_resp', 'Page Request Group Index', 'QI_PGRP_IDX << 3', 1, 11, 3],
  ['vtd.inv_wait', 'Status Write', 'QI_IWD_STATUS_WRITE', 0, 5, 5],
  ['vtd.inv_wait', 'Fence', 'QI_IWD_FENCE', 0, 6, 6],
  ['vtd.inv_wait', 'Page-request Drain', 'QI_IWD_PRQ_DRAIN', 0, 7, 7],
  ['vtd.inv_wait', 'Status Data', 'QI_IWD_STATUS_DATA << 32', 0, 63, 32],
  ['smmuv3.priq_entry', 'StreamID', 'PRIQ_0_SID', 0, 31, 0],
  ['smmuv3.priq_entry', 'SubstreamID', 'PRIQ_0_SSID', 0, 51, 32],
  ['smmuv3.priq_entry', 'Priv', 'PRIQ_0_PERM_PRIV', 0, 58, 58],
  ['smmuv3.priq_entry', 'Exec', 'PRIQ_0_PERM_EXEC', 0, 59, 59],
  ['smmuv3.priq_entry', 'Read', 'PRIQ_0_PERM_READ', 0, 60, 60],
  ['smmuv3.priq_entry', 'Write', 'PRIQ_0_PERM_WRITE', 0, 61, 61],
  ['smmuv3.priq_entry', 'Last', 'PRIQ_0_PRG_LAST', 0, 62, 62],
  ['smmuv3.priq_entry', 'SSV', 'PRIQ_0_SSID_V', 0, 63, 63],
  ['smmuv3.priq_entry', 'PRG index', 'PRIQ_1_PRG_IDX', 1, 8, 0],
  ['smmuv3.priq_entry', 'Page address', 'PRIQ_1_ADDR_MASK', 1, 63, 12],
  ['smmuv3.cmd_pri_resp', 'Opcode', 'CMDQ_0_OP', 0, 7, 0],
  ['smmuv3.cmd_pri_resp', 'SSV', 'CMDQ_0_SSV', 0, 11, 11],
  ['smmuv3.cmd_pri_resp', 'SubstreamID', 'CMDQ_PRI_0_SSID', 0, 31, 12],
  ['smmuv3.cmd_pri_resp', 'StreamID', 'CMDQ_PRI_0_SID', 0, 63, 32],
  ['smmuv3.cmd_pri_resp', 'PRGI', 'CMDQ_PRI_1_GRPID', 1, 8, 0],
  ['smmuv3.cmd_pri_resp', 'Resp', 'CMDQ_PRI_1_RESP', 1, 13, 12],
  ['smmuv3.event_record', 'Event ID', 'EVTQ_0_ID', 0, 7, 0],
  ['smmuv3.event_record', 'SSV', 'EVTQ_0_SSV', 0, 11, 11],
  ['smmuv3.event_record', 'SubstreamID', 'EVTQ_0_SSID', 0, 31, 12],
  ['smmuv3.event_record', 'StreamID', 'EVTQ_0_SID', 0, 63, 32],
  ['smmuv3.event_record', 'STAG', 'EVTQ_1_STAG', 1, 15, 0],
  ['smmuv3.event_record', 'Stall', 'EVTQ_1_STALL', 1, 31, 31],
  ['smmuv3.event_record', 'PnU', 'EVTQ_1_PnU', 1, 33, 33],
  ['smmuv3.event_record', 'InD', 'EVTQ_1_InD', 1, 34, 34],
  ['smmuv3.event_record', 'RnW', 'EVTQ_1_RnW', 1, 35, 35],
  ['smmuv3.event_record', 'S2', 'EVTQ_1_S2', 1, 39, 39],
  ['smmuv3.event_record', 'Class', 'EVTQ_1_CLASS', 1, 41, 40],
  ['smmuv3.event_record', 'InputAddr', 'EVTQ_2_ADDR', 2, 63, 0],
  ['smmuv3.event_record', 'Fetch IPA', 'EVTQ_3_IPA', 3, 51, 12],
  ['smmuv3.cmd_resume', 'Action', 'CMDQ_RESUME_0_RESP', 0, 13, 12],
  ['smmuv3.cmd_resume', 'StreamID', 'CMDQ_RESUME_0_SID', 0, 63, 32],
  ['smmuv3.cmd_resume', 'STAG', 'CMDQ_RESUME_1_STAG', 1, 15, 0],
  ['amd.ppr_log_entry', 'DeviceID', 'PPR_DEVID', 0, 15, 0],
  ['amd.ppr_log_entry', 'Flags', 'PPR_FLAGS', 0, 59, 48],
  ['amd.ppr_log_entry', 'Type', 'PPR_REQ_TYPE', 0, 63, 60],
  ['amd.complete_ppr_request', 'DeviceID', 'data[0] = devid', 0, 15, 0],
  ['amd.complete_ppr_request', 'GN', 'data[2] = CMD_INV_IOMMU_PAGES_GN_MASK', 2, 2, 2],
  ['amd.complete_ppr_request', 'PRG Index', 'data[3] = tag & 0x1ff', 3, 8, 0],
  ['amd.complete_ppr_request', 'Status', 'PPR_STATUS_SHIFT 12, PPR_STATUS_MASK 0xf', 3, 15, 12],
  ['amd.complete_ppr_request', 'Opcode', 'CMD_SET_TYPE(CMD_COMPLETE_PPR): data[1] 31:28', 1, 31, 28],
];

describe('the tables', () => {
  for (const [id, field, macro, word, hi, lo] of KERNEL) {
    it(`LAYOUT.KERNEL_MASK: ${id} ${field} is ${macro}`, () => {
      const l = layoutByName(id)!;
      const f = (l.fields).find((x) => x.name === field)!;
      const size = l.unit === 'QW' ? 64 : 32;
      expect(f.bits).toEqual([{ hi: size * word + hi, lo: size * word + lo }]);
    });
  }

  it("LAYOUT.KERNEL_MASK: AMD's PASID is PPR_PASID2 << 16 | PPR_PASID1 and the tag is PPR_TAG (41:32)", () => {
    const l = layoutByName('amd.ppr_log_entry')!;
    const by = (n: string): FieldSpec<never> => (l.fields).find((x) => x.name === n)!;
    expect(by('PASID').bits).toEqual([{ hi: 31, lo: 16 }, { hi: 45, lo: 42 }]);
    expect([...by('Tag[8:0]').bits, ...by('Tag[9]').bits]).toEqual([{ hi: 40, lo: 32 }, { hi: 41, lo: 41 }]);
  });

  it('LAYOUT.REGISTRY: every codec record is listed once, by a unique id, sizes as the queues use them', () => {
    const ids = LAYOUTS.map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([
      'vtd.page_request',
      'vtd.page_group_resp',
      'vtd.inv_wait',
      'smmuv3.priq_entry',
      'smmuv3.cmd_pri_resp',
      'smmuv3.event_record',
      'smmuv3.cmd_resume',
      'smmuv3.cmd_stall_term',
      'amd.ppr_log_entry',
      'amd.complete_ppr_request',
    ]);
    expect(LAYOUTS.map((l) => l.size)).toEqual([32, 32, 32, 16, 16, 32, 16, 16, 16, 16]);
    expect(layoutByName('CMD_PRI_RESP')!.id).toBe('smmuv3.cmd_pri_resp');
    expect(layoutByName('nope')).toBeUndefined();
  });

  it('LAYOUT.PRINT: a table prints one row per segment, highest bits first, and as JSON the same fields', () => {
    const text = formatLayout(layoutByName('amd.ppr_log_entry')!);
    const rows = text.split('\n').slice(3, -1);
    expect(rows.map((r) => r.trim().split(/\s+/)[0])).toEqual(['127:64', '63:60', '59:48', '45:42', '41', '40:32', '31:16', '15:0']);
    expect(text).toContain('PASID[19:16]');
    const doc = layoutDoc(layoutByName('vtd.page_group_resp')!);
    expect(doc.fields.find((f) => f.name === 'Type')).toMatchObject({ value: 9, bits: [{ hi: 3, lo: 0, at: 0 }, { hi: 11, lo: 9, at: 4 }] });
    expect(doc.fields.find((f) => f.name === 'Response Code')!.values).toMatchObject({ '0x0': 'Success', '0xf': 'Response Failure' });
  });

  it('LAYOUT.TABLES_ONLY: no codec packs bits by hand (no shift operators in a codec; the tables and the coder do it)', () => {
    for (const fam of ['vtd', 'smmuv3', 'amd']) {
      const src = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'iommu', fam, 'codec.ts'), 'utf8');
      const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(code, fam).not.toMatch(/<<|>>|readU32|writeU32/);
      expect(code, fam).toMatch(/compile</);
    }
  });

  it('LAYOUT.GENERATED: the generated coder of each table is straight-line code with no property lookup by name', () => {
    for (const l of LAYOUTS) {
      expect(l.coder).toMatch(/^function encode_/);
      expect(l.coder).not.toMatch(/\[\s*['"`]/);
    }
  });
});
