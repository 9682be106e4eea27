/**
 * iommufd's fault uAPI statement by statement with drivers/iommu/iommufd/eventq.c, main.c,
 * hw_pagetable.c and device.c (linux-iopf §9 and §12 items 7–8), through the model's uAPI on the
 * selftest mock. These are not kernel selftest cases (those are in iommufd-selftest.test.ts): they
 * pin what the kernel code does where the selftests do not look.
 */
import { describe, expect, it } from 'vitest';
import { HwptAllocFlag, encodePageResponses, Errno, openSession } from '../../src/api.js';
import type { IommufdSession } from '../../src/api.js';
import { ioasFixture, mockScenario } from './fixture.js';

const E = (name: keyof typeof Errno): number => -Errno[name];

/** A fault-capable nested hwpt on fault object `faultId`, attached to the device's RID. */
function iopfOnRid(s: IommufdSession, deviceId: number, ioasId: number, faultId: number): { parent: number; iopf: number } {
  const parent = s.hwptAlloc({ deviceId, ptId: ioasId, flags: HwptAllocFlag.NEST_PARENT | HwptAllocFlag.PASID }).id;
  const iopf = s.hwptAlloc({ deviceId, ptId: parent, flags: HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID, faultId, data: true });
  expect(iopf.ret).toBe(0);
  expect(s.replace(deviceId, iopf.id).ret).toBe(0);
  return { parent, iopf: iopf.id };
}

const trig = (s: IommufdSession, deviceId: number, grpid: number, pasid = 1): void => {
  expect(s.triggerIopf({ deviceId, pasid, grpid, perm: 1, addr: 0x1000 * (grpid + 1) }).ret).toBe(0);
};

describe('object table (main.c)', () => {
  it('IOMMUFD.OBJ.IDS_FROM_1: one id space for every object, lowest free id first (xa_alloc, XA_FLAGS_ALLOC1)', () => {
    const f = ioasFixture();
    const s = f.s;
    const fq = s.faultQueueAlloc();
    expect(fq.faultId).toBe(5);
    const h = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId });
    expect(h.id).toBe(6);
    expect(s.destroy(h.id).ret).toBe(0);
    const io2 = s.ioasAlloc();
    expect(io2.id).toBe(6); // the freed id comes back
    expect(s.destroy(1234).ret).toBe(E('ENOENT'));
    // A bound device is in use by its driver; an IOAS in use by a hwpt.
    expect(s.destroy(f.deviceId).ret).toBe(E('EBUSY'));
    expect(s.destroy(f.ioasId).ret).toBe(E('EBUSY'));
  });

  it('IOMMUFD.HWPT.ALLOC_ABORT: a hwpt whose fault id is bad is destroyed again: its id is free for the next object', () => {
    const f = ioasFixture();
    const s = f.s;
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.FAULT_ID_VALID, faultId: 99 }).ret).toBe(E('ENOENT'));
    expect(s.faultQueueAlloc().faultId).toBe(5);
  });

  it('IOMMUFD.HWPT.FLAGS: unknown flags are -EOPNOTSUPP; a fault id naming another object type is -ENOENT; a pt that is no IOAS or hwpt is -EINVAL', () => {
    const f = ioasFixture();
    const s = f.s;
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: 1 << 31 }).ret).toBe(E('EOPNOTSUPP'));
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.DIRTY_TRACKING }).ret).toBe(0);
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.FAULT_ID_VALID, faultId: f.ioasId }).ret).toBe(E('ENOENT'));
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: f.stdevId }).ret).toBe(E('EINVAL'));
    expect(s.hwptAlloc({ deviceId: f.deviceId, ptId: 77 }).ret).toBe(E('EINVAL'));
  });
});

describe('nested hwpts per family (hw_pagetable.c iommufd_hwpt_nested_alloc)', () => {
  for (const [family, ok] of [['vtd', true], ['smmuv3', false], ['amd', false]] as const) {
    it(`IOMMUFD.HWPT.NESTED_${family.toUpperCase()}: a nested hwpt on a NEST_PARENT paging hwpt is ${ok ? 'allocated' : '-EOPNOTSUPP (no domain_alloc_nested: nesting goes through a vIOMMU)'}`, () => {
      const base = mockScenario(1);
      const s = openSession({ ...base, iommu: { ...base.iommu, family } }, { seed: 1 });
      const ioas = s.ioasAlloc().id;
      const dev = s.bind('mock0').id;
      const parent = s.hwptAlloc({ deviceId: dev, ptId: ioas, flags: HwptAllocFlag.NEST_PARENT });
      expect(parent.ret).toBe(0);
      expect(s.hwptAlloc({ deviceId: dev, ptId: parent.id, data: true }).ret).toBe(ok ? 0 : E('EOPNOTSUPP'));
    });
  }
});

describe('fault object and fd (eventq.c)', () => {
  it('IOMMUFD.FAULT.ALLOC_FLAGS: IOMMU_FAULT_QUEUE_ALLOC with any flag is -EOPNOTSUPP; fds are the lowest free ≥ 3', () => {
    const f = ioasFixture();
    expect(f.s.faultQueueAlloc(1).ret).toBe(E('EOPNOTSUPP'));
    const a = f.s.faultQueueAlloc();
    const b = f.s.faultQueueAlloc();
    expect([a.fd, b.fd]).toEqual([3, 4]);
    expect(f.s.close(a.fd).ret).toBe(0);
    expect(f.s.faultQueueAlloc().fd).toBe(3);
  });

  it('IOMMUFD.READ.ESPIPE / IOMMUFD.WRITE.ESPIPE: lengths that are not whole records; empty queue reads 0; poll', () => {
    const f = ioasFixture();
    const s = f.s;
    const fq = s.faultQueueAlloc();
    expect(s.read(fq.fd, 39).ret).toBe(E('ESPIPE'));
    expect(s.read(fq.fd, 80).ret).toBe(0);
    expect(s.write(fq.fd, new Uint8Array(7)).ret).toBe(E('ESPIPE'));
    expect(s.poll(fq.fd)).toEqual({ ret: 0, readable: false, writable: true });
    iopfOnRid(s, f.deviceId, f.ioasId, fq.faultId);
    trig(s, f.deviceId, 5);
    expect(s.poll(fq.fd)).toEqual({ ret: 0, readable: true, writable: true });
  });

  it('IOMMUFD.READ.DEV_ID: records carry the iommufd device object id, not a model index', () => {
    const s = openSession(mockScenario(3), { seed: 1 });
    const ioas = s.ioasAlloc().id;
    s.faultQueueAlloc(); // id 2, fd 3
    const d2 = s.mockDomain('mock2', ioas); // stdev 3, device 4, auto hwpt 5
    expect(d2.idevId).toBe(4);
    iopfOnRid(s, d2.idevId, ioas, 2);
    trig(s, d2.idevId, 9);
    const r = s.read(3, 40);
    expect(r.records.map((x) => x.devId)).toEqual([4]);
  });

  it('IOMMUFD.WRITE.CHECKS: a code other than SUCCESS/INVALID or an unknown cookie stops write() with -EINVAL; records before stay done', () => {
    const f = ioasFixture();
    const s = f.s;
    const fq = s.faultQueueAlloc();
    iopfOnRid(s, f.deviceId, f.ioasId, fq.faultId);
    trig(s, f.deviceId, 1);
    trig(s, f.deviceId, 2);
    const r = s.read(fq.fd, 80);
    expect(r.records.map((x) => x.cookie)).toEqual([1, 2]);
    expect(s.write(fq.fd, encodePageResponses([{ cookie: 1, code: 2 }])).ret).toBe(E('EINVAL'));
    expect(s.write(fq.fd, encodePageResponses([{ cookie: 1, code: 0 }, { cookie: 7, code: 0 }, { cookie: 2, code: 0 }])).ret).toBe(8);
    expect(s.responses.map((x) => [x.grpid, x.code])).toEqual([[1, 0]]);
    expect(s.write(fq.fd, encodePageResponses([{ cookie: 2, code: 1 }])).ret).toBe(8);
    expect(s.responses.map((x) => [x.grpid, x.code])).toEqual([[1, 0], [2, 1]]);
  });

  it('IOMMUFD.CLOSE.ANSWERS_NOTHING / IOMMUFD.DESTROY.ORDER: close answers nothing; destroy is -EBUSY while the fd is open or a hwpt uses it, then answers queued groups (oldest first) and those awaiting a response (cookie order)', () => {
    const f = ioasFixture();
    const s = f.s;
    const fq = s.faultQueueAlloc();
    const { parent, iopf } = iopfOnRid(s, f.deviceId, f.ioasId, fq.faultId);
    trig(s, f.deviceId, 1);
    trig(s, f.deviceId, 2);
    expect(s.read(fq.fd, 80).ret).toBe(80); // cookies 1 (grpid 1), 2 (grpid 2)
    trig(s, f.deviceId, 3);
    trig(s, f.deviceId, 4);
    expect(s.destroy(fq.faultId).ret).toBe(E('EBUSY')); // fd open
    expect(s.close(fq.fd).ret).toBe(0);
    expect(s.close(fq.fd).ret).toBe(E('EBADF'));
    expect(s.read(fq.fd, 40).ret).toBe(E('EBADF'));
    expect(s.responses).toEqual([]);
    expect(s.destroy(fq.faultId).ret).toBe(E('EBUSY')); // the iopf hwpt uses it
    // Off the fault hwpt without answering (the mock has no drain), then free it.
    const before = s.responses.length;
    expect(s.replace(f.deviceId, parent).ret).toBe(0);
    expect(s.responses.length - before).toBe(4); // replace answers the old handle's groups …
    expect(s.destroy(iopf).ret).toBe(0);
    expect(s.destroy(fq.faultId).ret).toBe(0);
    // … newest queued first (4, 3), then awaiting a response in cookie order (1, 2).
    expect(s.responses.map((x) => [x.grpid, x.code])).toEqual([[4, 1], [3, 1], [1, 1], [2, 1]]);
  });

  it('IOMMUFD.DESTROY.ORDER: destroying the fault object answers what is left on it: queued oldest first, then by cookie', () => {
    // Groups are left on a fault object after their handle is gone only through mainline's
    // replace bug (every other path answers them first), so the order shows under that bug.
    const b = ioasFixture({ bugs: ['iommufd-replace-new-hwpt'] });
    const s = b.s;
    const fq = s.faultQueueAlloc();
    const o = iopfOnRid(s, b.deviceId, b.ioasId, fq.faultId);
    trig(s, b.deviceId, 1);
    trig(s, b.deviceId, 2);
    expect(s.read(fq.fd, 80).ret).toBe(80);
    trig(s, b.deviceId, 3);
    trig(s, b.deviceId, 4);
    expect(s.replace(b.deviceId, o.parent).ret).toBe(0);
    expect(s.responses).toEqual([]); // the bug: nothing answered
    expect(s.destroy(o.iopf).ret).toBe(0);
    expect(s.close(fq.fd).ret).toBe(0);
    expect(s.destroy(fq.faultId).ret).toBe(0);
    expect(s.responses.map((x) => [x.grpid, x.code])).toEqual([[3, 1], [4, 1], [1, 1], [2, 1]]);
  });
});

describe('attach / replace / detach (device.c)', () => {
  it('IOMMUFD.DETACH.ORDER: detach answers the attachment\'s queued groups newest first, then those awaiting a response in cookie order (linux-iopf §12 item 7)', () => {
    const f = ioasFixture();
    const s = f.s;
    const fq = s.faultQueueAlloc();
    const parent = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.NEST_PARENT | HwptAllocFlag.PASID }).id;
    const iopf = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent, flags: HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID, faultId: fq.faultId, data: true }).id;
    expect(s.attach(f.deviceId, iopf, { pasid: 7 }).ret).toBe(0);
    for (const g of [10, 11, 12]) trig(s, f.deviceId, g, 7);
    expect(s.read(fq.fd, 80).records.map((r) => r.grpid)).toEqual([10, 11]);
    for (const g of [13, 14]) trig(s, f.deviceId, g, 7);
    expect(s.detach(f.deviceId, { pasid: 7 }).ret).toBe(0);
    expect(s.responses.map((x) => [x.grpid, x.code])).toEqual([[14, 1], [13, 1], [12, 1], [10, 1], [11, 1]]);
    // The answered cookies are gone.
    expect(s.write(fq.fd, encodePageResponses([{ cookie: 1, code: 0 }])).ret).toBe(E('EINVAL'));
  });

  for (const bug of [false, true]) {
    const tag = bug ? 'with bug iommufd-replace-new-hwpt (mainline before the July 2026 fix)' : 'fixed';
    it(`IOMMUFD.REPLACE.OLD_HWPT (${tag}): replace onto a hwpt without a fault object ${bug ? 'leaves' : 'answers'} the old groups`, () => {
      const f = ioasFixture(bug ? { bugs: ['iommufd-replace-new-hwpt'] } : {});
      const s = f.s;
      const fq = s.faultQueueAlloc();
      const { parent } = iopfOnRid(s, f.deviceId, f.ioasId, fq.faultId);
      trig(s, f.deviceId, 1);
      trig(s, f.deviceId, 2);
      expect(s.read(fq.fd, 40).ret).toBe(40);
      expect(s.replace(f.deviceId, parent).ret).toBe(0);
      expect(s.responses.map((x) => [x.grpid, x.code])).toEqual(bug ? [] : [[2, 1], [1, 1]]);
    });

    it(`IOMMUFD.REPLACE.OTHER_FAULT (${tag}): replace onto a hwpt of another fault object ${bug ? 'leaves' : 'answers'} the old groups`, () => {
      const f = ioasFixture(bug ? { bugs: ['iommufd-replace-new-hwpt'] } : {});
      const s = f.s;
      const fqA = s.faultQueueAlloc();
      const fqB = s.faultQueueAlloc();
      const { parent } = iopfOnRid(s, f.deviceId, f.ioasId, fqA.faultId);
      const onB = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent, flags: HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID, faultId: fqB.faultId, data: true });
      trig(s, f.deviceId, 1);
      expect(s.replace(f.deviceId, onB.id).ret).toBe(0);
      expect(s.responses.map((x) => [x.grpid, x.code])).toEqual(bug ? [] : [[1, 1]]);
      // New faults now go to B.
      trig(s, f.deviceId, 2);
      expect(s.read(fqB.fd, 40).records.map((r) => r.grpid)).toEqual([2]);
      expect(s.poll(fqA.fd)).toMatchObject({ readable: bug });
    });

    it(`IOMMUFD.REPLACE.SAME_FAULT (${tag}): replace onto another hwpt of the same fault object answers the old groups either way`, () => {
      const f = ioasFixture(bug ? { bugs: ['iommufd-replace-new-hwpt'] } : {});
      const s = f.s;
      const fq = s.faultQueueAlloc();
      const { parent } = iopfOnRid(s, f.deviceId, f.ioasId, fq.faultId);
      const again = s.hwptAlloc({ deviceId: f.deviceId, ptId: parent, flags: HwptAllocFlag.FAULT_ID_VALID | HwptAllocFlag.PASID, faultId: fq.faultId, data: true });
      trig(s, f.deviceId, 1);
      expect(s.replace(f.deviceId, again.id).ret).toBe(0);
      expect(s.responses.map((x) => [x.grpid, x.code])).toEqual([[1, 1]]);
    });
  }

  it('IOMMUFD.ATTACH.PASID_COMPAT: a hwpt without IOMMU_HWPT_ALLOC_PASID cannot take a PASID (-EINVAL); replace of nothing is -EINVAL; detach of nothing is 0', () => {
    const f = ioasFixture();
    const s = f.s;
    const plain = s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId });
    expect(s.attach(f.deviceId, plain.id, { pasid: 5 }).ret).toBe(E('EINVAL'));
    expect(s.replace(f.deviceId, f.ioasId, { pasid: 5 }).ret).toBe(E('EINVAL'));
    expect(s.detach(f.deviceId, { pasid: 5 }).ret).toBe(0);
    expect(s.attach(99, f.ioasId, { pasid: 5 }).ret).toBe(E('ENOENT'));
  });

  it('IOMMUFD.ATTACH.VF_PRI: a PRI-capable VF cannot attach a fault-capable hwpt (-EINVAL: PRI is its PF\'s)', () => {
    const s = openSession(vfScenario(), { seed: 1 });
    const ioas = s.ioasAlloc().id;
    const d = s.mockDomain('vf0', ioas);
    expect(d.ret).toBe(0);
    const fq = s.faultQueueAlloc();
    const parent = s.hwptAlloc({ deviceId: d.idevId, ptId: ioas, flags: HwptAllocFlag.NEST_PARENT }).id;
    const iopf = s.hwptAlloc({ deviceId: d.idevId, ptId: parent, flags: HwptAllocFlag.FAULT_ID_VALID, faultId: fq.faultId, data: true });
    expect(iopf.ret).toBe(0);
    expect(s.replace(d.idevId, iopf.id).ret).toBe(E('EINVAL'));
    expect(s.replace(d.idevId, parent).ret).toBe(0);
  });

  it('IOMMUFD.AUTO_DOMAIN: attaching an IOAS makes (or reuses) its auto domain; the last detach destroys it', () => {
    const s = openSession(mockScenario(2), { seed: 1 });
    const ioas = s.ioasAlloc().id;
    const a = s.mockDomain('mock0', ioas);
    const b = s.mockDomain('mock1', ioas);
    expect(b.hwptId).toBe(a.hwptId);
    expect(s.destroy(a.stdevId).ret).toBe(0);
    expect(s.world.iommufd.object(a.hwptId)).toBeDefined();
    expect(s.destroy(b.stdevId).ret).toBe(0);
    expect(s.world.iommufd.object(a.hwptId)).toBeUndefined();
    expect(s.destroy(ioas).ret).toBe(0);
  });
});

function vfScenario() {
  const base = mockScenario(1);
  base.devices[0] = { ...base.devices[0]!, name: 'vf0', is_vf: true };
  return base;
}
