/**
 * Byte vectors per IOMMU family: a descriptor written by hand from the layouts of
 * pcie-iommu-hardware.md (§2.2 VT-d page request descriptor, §3.1 SMMUv3 PRI queue entry, §4 AMD
 * PPR log entry) — not produced by the model's encoders — is injected raw into the hardware queue;
 * the driver glue decodes it and the fault reaches user space through an iommufd fault fd, where
 * its fields must be what the layout says.
 *
 * The common request: function 00:04.0 (RID 0x0020), PASID 0x12345, PRG index 0x1a5, read+write,
 * last in group, page address 0x12345000.
 */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/loader.js';
import { HwptAllocFlag, hexBytes, openSession, Errno, PgfaultFlag } from '../../src/api.js';

function session(family: string, extra = '') {
  const p = parseScenario(
    `name: raw-${family}\nkernel: reference\niommu: { family: ${family}${extra} }\ndevices:\n  - { name: fn0, rid: "00:04.0", pri: { response_pasid_required: true } }\n`,
    `raw-${family}.yaml`,
  );
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const s = openSession(p.value, { seed: 1 });
  const ioas = s.ioasAlloc().id;
  const dev = s.bind('fn0').id;
  const fq = s.faultQueueAlloc();
  const hwpt = s.hwptAlloc({ deviceId: dev, ptId: ioas, flags: HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID, faultId: fq.faultId });
  expect(s.attach(dev, hwpt.id, { pasid: 0x12345 }).ret).toBe(0);
  return { s, dev, fd: fq.fd };
}

/** Inject, let the driver's queue thread run, read the one record. */
function roundTrip(family: string, hex: string, extra = '') {
  const { s, dev, fd } = session(family, extra);
  expect(s.injectRaw(hexBytes(hex)).ret).toBe(0);
  s.advanceTo(s.now + 200_000);
  const r = s.read(fd, 80);
  expect(r.ret).toBe(40);
  return { rec: r.records[0]!, dev, s };
}

describe('raw descriptor injection: hand-written byte vectors decode as the layout says', () => {
  it('VTD.DESC.PAGE_REQUEST: a 32-byte page request descriptor (§2.2)', () => {
    // QW0 = type 01h | PASID present (b8) | RID 0x0020 (31:16) | PASID 0x12345 (51:32)
    // QW1 = R (b0) | W (b1) | LPIG (b2) | PRG index 0x1a5 (11:3) | page 0x12345 (63:12)
    // QW2, QW3 = 0 (no private data). Little-endian qwords.
    const hex = '01 01 20 00 45 23 01 00  2f 5d 34 12 00 00 00 00' + ' 00'.repeat(16);
    const { rec, dev } = roundTrip('vtd', hex);
    expect(rec).toMatchObject({ devId: dev, pasid: 0x12345, grpid: 0x1a5, perm: 3, addr: 0x12345000n, length: 0, cookie: 1 });
    // PASID_VALID | LAST_PAGE, plus bit 2 (RESPONSE_NEEDS_PASID) that VT-d sets and iommufd copies
    // verbatim (linux-iopf §12 item 4).
    expect(rec.flags).toBe(PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE | 4);
  });

  it('SMMU.DESC.PRIQ_ENTRY: a 16-byte PRI queue entry (§3.1)', () => {
    // DW0 = StreamID 0x20 (31:0) | SubstreamID 0x12345 (51:32) | Read (b60) | Write (b61) |
    //       Last (b62) | SSV (b63);  DW1 = PRG index 0x1a5 (8:0) | address 0x12345000 (63:12).
    const hex = '20 00 00 00 45 23 01 f0  a5 51 34 12 00 00 00 00';
    const { rec, dev } = roundTrip('smmuv3', hex, ', smmuv3: { mode: pri }');
    expect(rec).toMatchObject({ devId: dev, pasid: 0x12345, grpid: 0x1a5, perm: 3, addr: 0x12345000n, length: 0 });
    expect(rec.flags & (PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE)).toBe(PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE);
  });

  it('AMD.DESC.PPR_ENTRY: a 16-byte PPR log entry (§4)', () => {
    // DW0 = device ID 0x0020 (15:0) | PASID[15:0] 0x2345 (31:16) | tag 0x3a5 = last (b9) | PRG
    //       index 0x1a5 (41:32) | PASID[19:16] 0x1 (45:42) | flags Read 004h | Write 020h |
    //       User 040h | GN 100h (59:48) | type 1 (63:60);  DW1 = address 0x12345000.
    const hex = '20 00 45 23 a5 07 64 11  00 50 34 12 00 00 00 00';
    const { rec, dev } = roundTrip('amd', hex);
    // The reference grpid is the 9-bit PRG index (mainline's 10-bit tag is bug amd-grpid-last-bit).
    expect(rec).toMatchObject({ devId: dev, pasid: 0x12345, grpid: 0x1a5, perm: 3, addr: 0x12345000n, length: 0 });
    expect(rec.flags & (PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE)).toBe(PgfaultFlag.PASID_VALID | PgfaultFlag.LAST_PAGE);
  });

  it('UAPI.INJECT.CHECKS: a descriptor of the wrong size is -EINVAL, an unknown requester -ENODEV', () => {
    const { s } = session('vtd');
    expect(s.injectRaw(new Uint8Array(16)).ret).toBe(-Errno.EINVAL);
    expect(s.injectRaw(hexBytes('01 01 99 00' + ' 00'.repeat(28))).ret).toBe(-Errno.ENODEV);
  });
});
