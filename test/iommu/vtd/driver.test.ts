import type { ProfileName } from '../../../src/scenario/profiles.js';
import { describe, it, expect } from 'vitest';
import { makeHarness } from '../../pcie/harness.js';
import { FakeHost, req, view } from './fake-host.js';
import { VTD_BUG_RESP_CODE_RAW, VtdIommu, isCanonicalPage, wireCode } from '../../../src/iommu/vtd/driver.js';
import { decodeInvWait, VTD_DESC_SIZE } from '../../../src/iommu/vtd/codec.js';
import { TraceKind, PrFlag, PciRespCode, RespSource } from '../../../src/trace/events.js';
import { FaultFlag, FaultPerm, RespCode, type FaultRecord } from '../../../src/iopf/types.js';
import { err } from '../../../src/sim/errno.js';
import type { ScenarioInput } from '../../../src/scenario/schema.js';

function setup(
  opts: {
    kernel?: ProfileName;
    vtd?: Record<string, unknown>;
    bugs?: string[];
    lat?: Record<string, number>;
  } = {},
) {
  const input = {
    kernel: opts.kernel ?? 'reference',
    iommu: { vtd: { prq_order: 0, ...opts.vtd } },
    bugs: opts.bugs ?? [],
  } as Partial<ScenarioInput>;
  const h = makeHarness(input, opts.lat ?? {});
  const host = new FakeHost(h.sim, [view(0, 0x10, true), view(1, 0x18, false)]);
  const iommu = new VtdIommu(h.env, 0, host);
  return { h, host, iommu };
}

function fault(p: Partial<FaultRecord> = {}): FaultRecord {
  return {
    flags: FaultFlag.PASID_VALID | FaultFlag.LAST_PAGE | FaultFlag.RESPONSE_NEEDS_PASID,
    pasid: 5,
    grpid: 17,
    perm: FaultPerm.READ,
    addr: 0x1000,
    privateData: 0,
    dev: 0,
    reqId: 99,
    ...p,
  };
}

describe('VT-d driver: PRQ thread', () => {
  it('reports each entry as a fault record with flags, perm, address (intel_prq_report)', () => {
    const s = setup();
    s.iommu.receivePageRequest(
      req({ pasid: 5, prgi: 3, page: 0x559ef6f9f, flags: PrFlag.WRITE | PrFlag.LAST }),
    );
    s.iommu.receivePageRequest(req({ pasid: -1, prgi: 4, page: 7, flags: PrFlag.READ | PrFlag.LAST }));
    s.h.sim.run();
    expect(s.host.reports.map((r) => r.fault)).toEqual([
      {
        flags: FaultFlag.PASID_VALID | FaultFlag.LAST_PAGE | FaultFlag.RESPONSE_NEEDS_PASID,
        pasid: 5,
        grpid: 3,
        perm: FaultPerm.WRITE,
        addr: 0x559ef6f9f * 4096,
        privateData: 0,
        dev: 0,
        reqId: expect.any(Number),
      },
      // Mainline allows a request without PASID (non-PASID domain); flags only LAST_PAGE.
      {
        flags: FaultFlag.LAST_PAGE,
        pasid: 0,
        grpid: 4,
        perm: FaultPerm.READ,
        addr: 7 * 4096,
        privateData: 0,
        dev: 0,
        reqId: expect.any(Number),
      },
    ]);
  });

  it('writes PQH once, after the batch (entries stay pending while the thread works)', () => {
    const s = setup();
    for (let i = 0; i < 3; i++) s.iommu.receivePageRequest(req({ prgi: i }));
    // The thread starts at 1000 and decodes the three entries back to back (100 ns each).
    s.h.advanceTo(1250);
    expect(s.host.reports).toHaveLength(0);
    expect(s.iommu.prq.head).toBe(0);
    s.h.sim.run();
    expect(s.host.reports.map((r) => [r.t, r.fault.grpid])).toEqual([
      [1300, 0],
      [1300, 1],
      [1300, 2],
    ]);
    expect(s.iommu.prq.head).toBe(3);
  });

  it('an entry written while the thread runs re-runs the thread (IRQF_ONESHOT)', () => {
    const s = setup();
    s.iommu.receivePageRequest(req({ prgi: 0 }));
    s.h.advanceTo(1050);
    s.iommu.receivePageRequest(req({ prgi: 1 }));
    s.h.sim.run();
    expect(s.host.reports.map((r) => [r.t, r.fault.grpid])).toEqual([
      [1100, 0],
      [1200, 1],
    ]);
    expect(s.iommu.stats().thread_runs).toBe(2);
  });

  it('driver check: a non-canonical address is answered Invalid (DRIVER_CHECK) if L=1, not reported', () => {
    const s = setup();
    const bad = 2 ** 36; // address 2^48: above the canonical lower half
    expect(isCanonicalPage(bad)).toBe(false);
    expect(isCanonicalPage(2 ** 35 - 1)).toBe(true);
    expect(isCanonicalPage(2 ** 52 - 1)).toBe(true);
    s.iommu.receivePageRequest(req({ prgi: 1, page: bad, flags: PrFlag.READ }));
    s.iommu.receivePageRequest(req({ prgi: 2, page: bad, flags: PrFlag.READ | PrFlag.LAST }));
    s.h.sim.run();
    expect(s.host.reports).toHaveLength(0);
    const sends = s.h.of(TraceKind.RESPONSE_SEND);
    expect(sends.map((e) => [e.prgi, e.code, e.source])).toEqual([
      [2, PciRespCode.INVALID, RespSource.DRIVER_CHECK],
    ]);
    expect(s.host.responses.map((r) => r.msg)).toEqual([{ dev: 0, rid: 0x10, prgi: 2, code: 1, pasid: 1 }]);
  });

  it('driver check: privileged mode with R/W and execute with read are bad requests', () => {
    const s = setup();
    s.iommu.receivePageRequest(req({ prgi: 1, flags: PrFlag.READ | PrFlag.PRIV | PrFlag.LAST }));
    s.iommu.receivePageRequest(req({ prgi: 2, flags: PrFlag.READ | PrFlag.EXEC | PrFlag.LAST }));
    s.iommu.receivePageRequest(req({ prgi: 3, flags: PrFlag.WRITE | PrFlag.EXEC | PrFlag.LAST }));
    s.h.sim.run();
    expect(s.host.responses.map((r) => r.msg.prgi)).toEqual([1, 2]);
    expect(s.host.reports.map((r) => r.fault.perm)).toEqual([FaultPerm.WRITE | FaultPerm.EXEC]);
  });

  it('driver check: a Stop Marker in the queue is dropped: no report, no response (HOST.STOP.NO_RESPONSE)', () => {
    const s = setup();
    s.iommu.receivePageRequest(req({ stop: true, pasid: 4 }));
    s.h.sim.run();
    expect(s.host.reports).toHaveLength(0);
    expect(s.host.responses).toHaveLength(0);
    expect(s.iommu.stats().stop_markers_seen).toBe(1);
  });

  it('driver check: an unknown requester ID is a bad request', () => {
    const s = setup();
    s.iommu.receivePageRequest(req({ rid: 0x99, prgi: 6 }));
    s.h.sim.run();
    expect(s.host.reports).toHaveLength(0);
    expect(s.host.responses.map((r) => [r.msg.prgi, r.msg.code])).toEqual([[6, PciRespCode.INVALID]]);
  });

  it('VTD_SVM_PAGE_RESPONSE + DRIVER_ANSWERS_REPORT_ERRORS (v6.7): a request without PASID is rejected; a failed report is answered Invalid by the driver', () => {
    const s = setup({ kernel: 'v6.7' });
    s.iommu.receivePageRequest(req({ pasid: -1, prgi: 1 }));
    s.h.sim.run();
    expect(s.host.reports).toHaveLength(0);
    expect(s.host.responses.map((r) => [r.msg.prgi, r.msg.pasid])).toEqual([[1, -1]]);
    s.host.reportResult = err('EINVAL');
    s.iommu.receivePageRequest(req({ pasid: 3, prgi: 2 }));
    s.h.sim.run();
    expect(s.host.reports).toHaveLength(1);
    expect(s.host.responses.map((r) => r.msg.prgi)).toEqual([1, 2]);
  });

  it('mainline: a failed report is not answered by the driver (the core answers on its report path)', () => {
    const s = setup();
    s.host.reportResult = err('EINVAL');
    s.iommu.receivePageRequest(req({ pasid: 3, prgi: 2 }));
    s.h.sim.run();
    expect(s.host.reports).toHaveLength(1);
    expect(s.host.responses).toHaveLength(0);
  });
});

describe('VT-d driver: page_response', () => {
  it('HOST.RESP.PASID_IFF_REQUIRED: the response carries the PASID iff the request had one and the device requires it', () => {
    const s = setup();
    expect(
      s.iommu.pageResponse(
        0,
        fault({ dev: 0 }),
        { pasid: 5, grpid: 17, code: RespCode.SUCCESS },
        RespSource.GROUP,
      ),
    ).toBe(0);
    expect(
      s.iommu.pageResponse(
        1,
        fault({ dev: 1 }),
        { pasid: 5, grpid: 17, code: RespCode.SUCCESS },
        RespSource.GROUP,
      ),
    ).toBe(0);
    s.h.sim.run();
    expect(s.host.responses.map((r) => r.msg)).toEqual([
      { dev: 0, rid: 0x10, prgi: 17, code: 0, pasid: 5 },
      { dev: 1, rid: 0x18, prgi: 17, code: 0, pasid: -1 },
    ]);
    expect(s.host.responses[0]!.t).toBe(500);
    expect(s.h.of(TraceKind.RESPONSE_SEND).map((e) => [e.dev, e.pasid, e.group, e.source])).toEqual([
      [0, 5, 99, RespSource.GROUP],
      [1, -1, 99, RespSource.GROUP],
    ]);
  });

  it('vtd-response-pasid-always (bug) and response_pasid "request": PASID whenever the request had one', () => {
    for (const s of [
      setup({ bugs: ['vtd-response-pasid-always'] }),
      setup({ vtd: { response_pasid: 'request' } }),
    ]) {
      s.iommu.pageResponse(
        1,
        fault({ dev: 1 }),
        { pasid: 5, grpid: 17, code: RespCode.SUCCESS },
        RespSource.GROUP,
      );
      s.h.sim.run();
      expect(s.host.responses[0]!.msg.pasid).toBe(5);
    }
  });

  it('maps iommu_page_response_code to the wire: FAILURE (2) becomes 1111b', () => {
    expect([wireCode(RespCode.SUCCESS), wireCode(RespCode.INVALID), wireCode(RespCode.FAILURE)]).toEqual([
      0, 1, 15,
    ]);
    const s = setup();
    s.iommu.pageResponse(0, fault(), { pasid: 5, grpid: 17, code: RespCode.FAILURE }, RespSource.GROUP);
    s.h.sim.run();
    expect(s.host.responses[0]!.msg.code).toBe(PciRespCode.FAILURE);
  });

  it('HOST.RESP.CODE_DEFINED: with bug vtd-resp-code-raw FAILURE goes out as 2, as intel_iommu_page_response does', () => {
    expect([wireCode(RespCode.SUCCESS, true), wireCode(RespCode.INVALID, true), wireCode(RespCode.FAILURE, true)]).toEqual([
      0, 1, 2,
    ]);
    for (const kernel of ['mainline', 'v6.7'] as const) {
      const s = setup({ kernel, bugs: [VTD_BUG_RESP_CODE_RAW] });
      s.iommu.pageResponse(0, fault(), { pasid: 5, grpid: 17, code: RespCode.FAILURE }, RespSource.GROUP);
      s.h.sim.run();
      expect(s.host.responses[0]!.msg.code).toBe(2);
      // The descriptor carries it in bits 15:12 (QI_PGRP_RESP_CODE), a reserved PCIe code.
      expect(s.h.of(TraceKind.RESPONSE_SEND)[0]!.code).toBe(2);
    }
  });

  it('VTD_SVM_PAGE_RESPONSE (v6.7): no descriptor without LPIG/private data; -EINVAL without PASID', () => {
    const s = setup({ kernel: 'v6.7' });
    expect(
      s.iommu.pageResponse(0, fault({ flags: FaultFlag.PASID_VALID }), { pasid: 5, grpid: 17, code: 0 }, 0),
    ).toBe(0);
    expect(
      s.iommu.pageResponse(0, fault({ flags: FaultFlag.LAST_PAGE }), { pasid: 5, grpid: 17, code: 0 }, 0),
    ).toBe(err('EINVAL'));
    s.h.sim.run();
    expect(s.host.responses).toHaveLength(0);
  });
});

describe('VT-d driver: drain (intel_iommu_drain_pasid_prq)', () => {
  function drainSetup(opts: Parameters<typeof setup>[0] = {}) {
    const s = setup(opts);
    let endAt = -1;
    const k = s.h.sim.registerKind('t:drained', () => {
      endAt = s.h.sim.now;
    });
    return { ...s, cont: { kind: k, a: 0, b: 0 }, endAt: () => endAt };
  }

  it('VTD.DRAIN.COMPLETE: waits until the thread consumed the PASID entries, then flushes, invalidates and waits', () => {
    const s = drainSetup();
    s.iommu.receivePageRequest(req({ pasid: 5, prgi: 1 }));
    s.iommu.receivePageRequest(req({ pasid: 6, prgi: 2 }));
    s.iommu.drainPasid(0, 5, s.cont);
    s.h.sim.run();
    // Thread: IRQ at 1000, two entries by 1200; then flush, then device-TLB (500) and wait (500).
    expect(s.host.flushes).toEqual([{ t: 1200, dev: 0, pasid: 5 }]);
    expect(s.endAt()).toBe(2200);
    expect(s.h.of(TraceKind.DRAIN_BEGIN)).toEqual([{ t: 0, dev: 0, pasid: 5 }]);
    expect(s.h.of(TraceKind.DRAIN_END)).toEqual([{ t: 2200, dev: 0, pasid: 5, iterations: 1 }]);
    const fence = decodeInvWait(s.iommu.drainBatch, 0);
    const drainWait = decodeInvWait(s.iommu.drainBatch, 3 * VTD_DESC_SIZE);
    expect([fence.fence, fence.pageDrain]).toEqual([true, false]);
    expect([drainWait.statusWrite, drainWait.pageDrain]).toEqual([true, true]);
  });

  it('drain of a PASID with nothing queued flushes at once', () => {
    const s = drainSetup();
    s.iommu.receivePageRequest(req({ pasid: 6, prgi: 2 }));
    s.iommu.drainPasid(0, 5, s.cont);
    s.h.sim.run();
    expect(s.host.flushes[0]!.t).toBe(0);
  });

  it('Page-Drain: requests the function sent before the device-TLB invalidation completed arrive before the drain ends', () => {
    const s = drainSetup();
    s.host.enableDevTlb();
    s.host.sent.set(0, 1);
    s.iommu.drainPasid(0, 5, s.cont);
    s.h.advanceTo(5000);
    expect(s.host.devTlbInvalidations).toEqual([{ t: 0, dev: 0, pasid: 5 }]);
    expect(s.endAt()).toBe(-1);
    s.iommu.receivePageRequest(req({ pasid: 5, prgi: 1 }));
    s.h.sim.run();
    expect(s.endAt()).toBe(5500);
  });

  it('VTD.DRAIN.RETRY_ON_OVERFLOW: PRO set after the wait: wait for the thread, resubmit', () => {
    const s = drainSetup({ lat: { irq_ns: 1000, decode_ns: 1 } });
    s.iommu.drainPasid(0, 5, s.cont);
    s.h.advanceTo(100);
    for (let i = 0; i < 128; i++) s.iommu.receivePageRequest(req({ pasid: 6, prgi: i }));
    expect(s.iommu.prq.pro).toBe(true);
    s.h.sim.run();
    const end = s.h.of(TraceKind.DRAIN_END);
    expect(end).toHaveLength(1);
    expect(end[0]!.iterations).toBe(2);
    expect(s.iommu.stats().drain_resubmits).toBe(1);
    expect(s.iommu.prq.pro).toBe(false);
  });
});
