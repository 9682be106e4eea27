/**
 * The kernel's iommufd fault selftests (tools/testing/selftests/iommu/iommufd.c, helpers in
 * iommufd_utils.h), ported through the model's uAPI: one test per kernel TEST_F that involves the
 * fault queue, IOMMU_TEST_OP_TRIGGER_IOPF or attach/replace/detach of a fault-capable hwpt, with
 * the kernel's expected results. Each test cites the kernel case; the statements of a case the
 * model cannot express are listed in its comment block, with the reason.
 *
 * Fixtures (iommufd.c): FIXTURE_SETUP(iommufd_ioas) allocates an IOAS and, in the mock_domain
 * variants, one IOMMU_TEST_OP_MOCK_DOMAIN on it; FIXTURE_SETUP(iommufd_device_pasid) the same with
 * MOCK_FLAGS_DEVICE_PASID. Ids therefore are ioas 1, stdev 2, device 3, auto hwpt 4.
 *
 * Kernel cases NOT expressible at all (also in the report):
 * - TEST_F(iommufd_viommu, viommu_alloc_nested_iopf): the model has no vIOMMU (IOMMU_VIOMMU_ALLOC)
 *   nor vDEVICE objects, so a nested hwpt cannot be allocated on a vIOMMU, and "must allocate a
 *   vdevice before attaching to a nested hwpt" (-ENOENT) cannot arise. Its fault-id checks
 *   (-ENOENT for fault id UINT32_MAX, -EOPNOTSUPP for flag bit 31) are the same code path as
 *   alloc_hwpt_nested's and are covered there.
 * - TEST_FAIL_NTH(basic_fail_nth, device) (iommufd_fail_nth.c): fails the n-th kernel allocation
 *   of each call; the model has one allocation fault site (the iopf core's), not one per kmalloc
 *   in iommufd, and the case attaches no fault-capable hwpt.
 */
import { describe, expect, it } from 'vitest';
import { HwptAllocFlag, encodePageResponses, Errno } from '../../src/api.js';
import type { IommufdSession } from '../../src/api.js';
import { ioasFixture } from './fixture.js';

const E = (name: keyof typeof Errno): number => -Errno[name];
const UINT32_MAX = 0xffff_ffff;
/** IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE, as _test_cmd_trigger_iopf sends. */
const PERM_RW = 1 | 2;

/**
 * _test_cmd_trigger_iopf(fd, device_id, pasid, fault_fd) of iommufd_utils.h: trigger a fault
 * (grpid 0x2, perm R|W, addr 0xdeadbeaf, the given PASID), read one 40-byte record from the fault
 * fd, answer its cookie with code 0 (SUCCESS) — each step must succeed (ASSERT_EQ(0, …)).
 */
function testCmdTriggerIopf(s: IommufdSession, deviceId: number, faultFd: number, pasid = 0x1): void {
  expect(s.triggerIopf({ deviceId, pasid, grpid: 0x2, perm: PERM_RW, addr: 0xdeadbeaf }).ret).toBe(0);
  const r = s.read(faultFd, 40);
  expect(r.ret).toBe(40);
  const rec = r.records[0]!;
  expect(rec).toMatchObject({ devId: deviceId, pasid, grpid: 0x2, perm: PERM_RW, addr: 0xdeadbeafn, length: 0 });
  expect(s.write(faultFd, encodePageResponses([{ cookie: rec.cookie, code: 0 }])).ret).toBe(8);
}

// The selftests pass on the kernels that have the iommufd fault uAPI: mainline (as read) and the
// reference contract.
for (const kernel of ['reference', 'mainline'] as const) describe(`tools/testing/selftests/iommu/iommufd.c fault cases (--kernel ${kernel})`, () => {
  /*
   * TEST_F(iommufd_ioas, alloc_hwpt_nested), mock_domain variant. Ported: the negative hwpt
   * allocation tests on ids and flags, the two nested hwpts, the fault-capable nested hwpt with its
   * -ENOENT for a bad fault id, replace onto it, -EBUSY destroying it while attached, the trigger,
   * replace back, the destroys in the kernel's order.
   * Not expressible: the IOMMU_HWPT_DATA_SELFTEST payload checks (data type NONE with a length,
   * an unknown data type, a short or NULL data pointer: the model's hwpt has no driver payload),
   * and the mock nested domain's IOTLB (IOMMU_HWPT_INVALIDATE, test_cmd_hwpt_check_iotlb*).
   */
  it('iommufd_ioas.alloc_hwpt_nested (mock_domain): iopf hwpt allocation, replace, EBUSY, trigger, teardown', () => {
    const f = ioasFixture({ kernel });
    const s = f.s;
    // Negative tests.
    expect(s.hwptAlloc({ deviceId: f.ioasId, ptId: f.deviceId }).ret).toBe(E('ENOENT'));
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: f.deviceId }).ret).toBe(E('EINVAL'));
    const parent = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.NEST_PARENT });
    expect(parent.ret).toBe(0);
    const parentNotWork = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId });
    expect(parentNotWork.ret).toBe(0);
    // Negative nested tests (the flag and parent ones).
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: HwptAllocFlag.NEST_PARENT, data: true }).ret).toBe(E('EOPNOTSUPP'));
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: parentNotWork.id, data: true }).ret).toBe(E('EINVAL'));
    // Allocate two nested hwpts sharing one common parent hwpt.
    const fq = s.faultQueueAlloc();
    expect(fq.ret).toBe(0);
    expect(fq.faultId).not.toBe(0);
    expect(fq.fd).not.toBe(0);
    const nested0 = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, data: true });
    const nested1 = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, data: true });
    expect([nested0.ret, nested1.ret]).toEqual([0, 0]);
    expect(
      s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: HwptAllocFlag.FAULT_ID_VALID, faultId: UINT32_MAX, data: true }).ret,
    ).toBe(E('ENOENT'));
    const iopf = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: HwptAllocFlag.FAULT_ID_VALID, faultId: fq.faultId, data: true });
    expect(iopf.ret).toBe(0);
    // Negative test: a parent hwpt in use by nested hwpts cannot be destroyed.
    expect(s.destroy(parent.id).ret).toBe(E('EBUSY'));
    // Attach device to nested_hwpt_id[0] that then will be busy.
    expect(s.replace(f.deviceId, nested0.id).ret).toBe(0);
    expect(s.destroy(nested0.id).ret).toBe(E('EBUSY'));
    // Switch from nested_hwpt_id[0] to nested_hwpt_id[1].
    expect(s.replace(f.deviceId, nested1.id).ret).toBe(0);
    expect(s.destroy(nested1.id).ret).toBe(E('EBUSY'));
    expect(s.destroy(nested0.id).ret).toBe(0);
    // Switch from nested_hwpt_id[1] to iopf_hwpt_id.
    expect(s.replace(f.deviceId, iopf.id).ret).toBe(0);
    expect(s.destroy(iopf.id).ret).toBe(E('EBUSY'));
    // Trigger an IOPF on the device.
    testCmdTriggerIopf(s, f.deviceId, fq.fd);
    // Detach from nested_hwpt_id[1] and destroy it.
    expect(s.replace(f.deviceId, parent.id).ret).toBe(0);
    expect(s.destroy(nested1.id).ret).toBe(0);
    expect(s.destroy(iopf.id).ret).toBe(0);
    // Detach from the parent hw_pagetable and destroy it.
    expect(s.replace(f.deviceId, f.ioasId).ret).toBe(0);
    expect(s.destroy(parent.id).ret).toBe(0);
    expect(s.destroy(parentNotWork.id).ret).toBe(0);
    expect(s.close(fq.fd).ret).toBe(0);
    expect(s.destroy(fq.faultId).ret).toBe(0);
    // The one triggered group got exactly one answer at the driver: the SUCCESS written back.
    expect(s.responses.map((r) => [r.pasid, r.grpid, r.code])).toEqual([[1, 2, 0]]);
    expect(s.finish().report.violations).toEqual([]);
  });

  /*
   * TEST_F(iommufd_ioas, alloc_hwpt_nested), no_domain variant (self->device_id is 0): every
   * allocation names device id 0, which is no object: -ENOENT; replace of stdev 0 likewise.
   */
  it('iommufd_ioas.alloc_hwpt_nested (no_domain): hwpt allocations on device id 0 fail with -ENOENT', () => {
    const f = ioasFixture({ kernel });
    const s = f.s;
    expect(s.hwptAlloc({ deviceId: 0, ptId: f.ioasId }).ret).toBe(E('ENOENT'));
    expect(s.hwptAlloc({ deviceId: 0, ptId: 0, data: true }).ret).toBe(E('ENOENT'));
    expect(s.replace(0, f.ioasId).ret).toBe(E('ENOENT'));
    expect(s.finish().report.violations).toEqual([]);
  });

  /*
   * TEST_F(iommufd_device_pasid, pasid_attach), the parts that involve the fault-capable hwpt, with
   * the attach/replace/detach rules they rely on: hwpts allocated PASID-compatible
   * (IOMMU_HWPT_ALLOC_PASID); attaching the same hwpt again succeeds, another one is -EBUSY (use
   * replace); "Attach an iopf hwpt to pasid 2048, should succeed"; "Replace with parent_hwpt_id for
   * pasid 2048, should succeed"; detach; destroy the iopf hwpt; close the fault fd; destroy the
   * fault object.
   * Not expressible: test_cmd_pasid_check_domain reads the mock device's per-PASID domain pointer
   * (the model checks the attachment's hwpt id instead, which is what it stands for); the
   * designed -ENOMEM replace failure on pasid 1024 (a mock hook that fails one replace).
   */
  it('iommufd_device_pasid.pasid_attach: iopf hwpt on PASID 2048 — attach, replace by the parent, detach, teardown', () => {
    const f = ioasFixture({ kernel });
    const s = f.s;
    const P = HwptAllocFlag.PASID;
    const parent = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.NEST_PARENT | P });
    const nested0 = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: P, data: true });
    const nested1 = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: P, data: true });
    const fq = s.faultQueueAlloc();
    const iopf = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: HwptAllocFlag.FAULT_ID_VALID | P, faultId: fq.faultId, data: true });
    expect([parent.ret, nested0.ret, nested1.ret, fq.ret, iopf.ret]).toEqual([0, 0, 0, 0, 0]);
    // Attach ioas to pasid 100: the IOAS's auto domain (self->hwpt_id).
    expect(s.attach(f.deviceId, f.ioasId, { pasid: 100 })).toEqual({ ret: 0, id: f.hwptId });
    // The same again succeeds; another hwpt is -EBUSY (attach does not overwrite).
    expect(s.attach(f.deviceId, f.ioasId, { pasid: 100 }).ret).toBe(0);
    expect(s.attach(f.deviceId, nested0.id, { pasid: 100 }).ret).toBe(E('EBUSY'));
    expect(s.detach(f.deviceId, { pasid: 100 }).ret).toBe(0);
    expect(s.world.iommufd.attachment(f.deviceId, 100)).toBeUndefined();
    // Replace nested hwpts on pasid 200.
    expect(s.attach(f.deviceId, parent.id, { pasid: 200 }).ret).toBe(0);
    expect(s.replace(f.deviceId, nested0.id, { pasid: 200 }).ret).toBe(0);
    expect(s.world.iommufd.attachment(f.deviceId, 200)?.hwpt.id).toBe(nested0.id);
    expect(s.replace(f.deviceId, nested1.id, { pasid: 200 }).ret).toBe(0);
    expect(s.world.iommufd.attachment(f.deviceId, 200)?.hwpt.id).toBe(nested1.id);
    expect(s.detach(f.deviceId, { pasid: 200 }).ret).toBe(0);
    // Attach an iopf hwpt to pasid 2048, should succeed, domain should be valid.
    expect(s.attach(f.deviceId, iopf.id, { pasid: 2048 }).ret).toBe(0);
    expect(s.world.iommufd.attachment(f.deviceId, 2048)?.hwpt.id).toBe(iopf.id);
    // Replace with parent_hwpt_id for pasid 2048, should succeed.
    expect(s.replace(f.deviceId, parent.id, { pasid: 2048 }).ret).toBe(0);
    expect(s.world.iommufd.attachment(f.deviceId, 2048)?.hwpt.id).toBe(parent.id);
    // Detach hwpt from pasid 2048: null domain.
    expect(s.detach(f.deviceId, { pasid: 2048 }).ret).toBe(0);
    expect(s.world.iommufd.attachment(f.deviceId, 2048)).toBeUndefined();
    expect(s.destroy(iopf.id).ret).toBe(0);
    expect(s.close(fq.fd).ret).toBe(0);
    expect(s.destroy(fq.faultId).ret).toBe(0);
    expect(s.destroy(nested0.id).ret).toBe(0);
    expect(s.destroy(nested1.id).ret).toBe(0);
    expect(s.destroy(parent.id).ret).toBe(0);
    expect(s.finish().report.violations).toEqual([]);
  });

  /*
   * _test_cmd_trigger_iopf with a PASID attachment: the iopf hwpt on PASID 2048 receives a fault
   * of PASID 2048 (the pasid argument of the newer helper), answered through the fault fd.
   */
  it('iommufd_utils.h _test_cmd_trigger_iopf(pasid): a PASID fault on the iopf hwpt attached to that PASID round-trips', () => {
    const f = ioasFixture({ kernel });
    const s = f.s;
    const fq = s.faultQueueAlloc();
    const parent = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.NEST_PARENT | HwptAllocFlag.PASID });
    const iopf = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID, faultId: fq.faultId, data: true });
    expect(s.attach(f.deviceId, iopf.id, { pasid: 2048 }).ret).toBe(0);
    testCmdTriggerIopf(s, f.deviceId, fq.fd, 2048);
    expect(s.responses.map((r) => [r.pasid, r.grpid, r.code])).toEqual([[2048, 2, 0]]);
    expect(s.finish().report.violations).toEqual([]);
  });
});
