import { describe, expect, it } from 'vitest';
import { ioasFixture } from './fixture.js';
import { HwptAllocFlag, encodePageResponses } from '../../src/api.js';

describe('smoke', () => {
  it('ids', () => {
    const f = ioasFixture();
    expect([f.ioasId, f.stdevId, f.deviceId, f.hwptId]).toEqual([1, 2, 3, 4]);
    const fq = f.s.faultQueueAlloc();
    expect(fq).toEqual({ ret: 0, faultId: 5, fd: 3 });
    const parent = f.s.hwptAlloc({ deviceId: f.deviceId, ptId: f.ioasId, flags: HwptAllocFlag.NEST_PARENT });
    const h = f.s.hwptAlloc({ deviceId: f.deviceId, ptId: parent.id, flags: HwptAllocFlag.FAULT_ID_VALID, faultId: fq.faultId, data: true });
    expect(h.ret).toBe(0);
    expect(f.s.replace(f.deviceId, h.id).ret).toBe(0);
    expect(f.s.triggerIopf({ deviceId: f.deviceId, pasid: 1, grpid: 2, perm: 3, addr: 0xdeadbeaf }).ret).toBe(0);
    const r = f.s.read(fq.fd, 40);
    expect(r.ret).toBe(40);
    expect(r.records[0]).toMatchObject({ devId: 3, pasid: 1, grpid: 2, perm: 3, addr: 0xdeadbeafn, cookie: 1, flags: 3 });
    expect(f.s.write(fq.fd, encodePageResponses([{ cookie: 1, code: 0 }])).ret).toBe(8);
    expect(f.s.responses.map((x) => [x.pasid, x.grpid, x.code])).toEqual([[1, 2, 0]]);
    const rep = f.s.finish().report;
    expect(rep.violations).toEqual([]);
  });
});
