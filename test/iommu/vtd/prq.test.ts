import { describe, it, expect } from 'vitest';
import { makeHarness } from '../../pcie/harness.js';
import { FakeHost, req, view } from './fake-host.js';
import { VtdIommu } from '../../../src/iommu/vtd/driver.js';
import { VtdPrsBit } from '../../../src/iommu/vtd/prq.js';
import { decodePageRequest, VTD_DESC_SIZE } from '../../../src/iommu/vtd/codec.js';
import { TraceKind, PrFlag, PciRespCode } from '../../../src/trace/events.js';
import type { ScenarioInput } from '../../../src/scenario/schema.js';

function setup(vtd: Record<string, unknown> = {}, lat = {}, extra: Partial<ScenarioInput> = {}) {
  const h = makeHarness({ iommu: { vtd: { prq_order: 0, ...vtd } }, ...extra }, lat);
  const host = new FakeHost(h.sim, [view(0, 0x10, true), view(1, 0x18, false)]);
  const iommu = new VtdIommu(h.env, 0, host);
  return { h, host, iommu, prq: iommu.prq };
}

/** Fill the queue without letting the driver thread run (its IRQ latency is huge). */
const SLOW_IRQ = { irq_ns: 1_000_000_000 };

describe('VT-d PRQ hardware', () => {
  it('the ring holds 2^(X+7) 32-byte descriptors written with the codec at the tail', () => {
    const s = setup({}, SLOW_IRQ);
    expect(s.prq.entries).toBe(128);
    expect(s.prq.ring.length).toBe(128 * 32);
    s.iommu.receivePageRequest(req({ pasid: 5, prgi: 9, page: 0xabc, flags: PrFlag.WRITE | PrFlag.LAST }));
    const d = decodePageRequest(s.prq.ring, 0);
    expect(d).toMatchObject({
      rid: 0x10,
      pasidPresent: true,
      pasid: 5,
      prgIndex: 9,
      pageNum: 0xabc,
      write: true,
      read: false,
      lpig: true,
    });
    expect(s.prq.pqt).toBe(VTD_DESC_SIZE);
    expect(s.prq.pqh).toBe(0);
    expect(s.h.of(TraceKind.QUEUE_WRITE)[0]).toMatchObject({ dev: 0, pasid: 5, prgi: 9, iommu: 0, depth: 1 });
  });

  it('VTD.PRQ.FULL_N_MINUS_1: at most N-1 entries are ever pending', () => {
    const s = setup({}, SLOW_IRQ);
    for (let i = 0; i < 130; i++) s.iommu.receivePageRequest(req({ prgi: i % 512, flags: PrFlag.READ }));
    expect(s.prq.depth).toBe(127);
    expect(s.prq.stats.written).toBe(127);
    expect(s.prq.stats.drops).toBe(3);
    expect(s.iommu.stats().prq_entries_max).toBe(127);
  });

  it('VTD.PRQ.OVERFLOW: a request at a full queue is not written and PRO is set', () => {
    const s = setup({}, SLOW_IRQ);
    for (let i = 0; i < 127; i++) s.iommu.receivePageRequest(req({ flags: PrFlag.READ }));
    expect(s.prq.pro).toBe(false);
    s.iommu.receivePageRequest(req({ flags: PrFlag.READ }));
    expect(s.prq.pro).toBe(true);
    expect(s.prq.prs & VtdPrsBit.PRO).toBe(VtdPrsBit.PRO);
    expect(s.h.of(TraceKind.QUEUE_OVERFLOW)).toEqual([{ t: 0, iommu: 0, set: 1 }]);
    expect(s.h.of(TraceKind.QUEUE_DROP)).toHaveLength(1);
    expect(s.iommu.stats().overflows).toBe(1);
  });

  it('VTD.PRQ.OVERFLOW_AUTORESP: a dropped L=1 request is answered Success by hardware; L=0 and Stop Markers get nothing', () => {
    const s = setup({}, SLOW_IRQ);
    for (let i = 0; i < 127; i++) s.iommu.receivePageRequest(req({ flags: PrFlag.READ }));
    s.iommu.receivePageRequest(req({ prgi: 3, flags: PrFlag.READ }));
    s.iommu.receivePageRequest(req({ prgi: 3, flags: PrFlag.READ | PrFlag.LAST }));
    s.iommu.receivePageRequest(req({ stop: true, pasid: 1 }));
    s.iommu.receivePageRequest(
      req({ dev: 1, rid: 0x18, prgi: 4, pasid: 2, flags: PrFlag.READ | PrFlag.LAST }),
    );
    s.h.sim.run({ maxTimeNs: 10_000 });
    expect(s.h.of(TraceKind.AUTO_RESPONSE).map((e) => [e.prgi, e.code, e.resp_pasid])).toEqual([
      [3, PciRespCode.SUCCESS, 1],
      // Device 1 has PRG Response PASID Required clear: no PASID in the response.
      [4, PciRespCode.SUCCESS, -1],
    ]);
    expect(s.host.responses.map((r) => r.msg)).toEqual([
      { dev: 0, rid: 0x10, prgi: 3, code: 0, pasid: 1 },
      { dev: 1, rid: 0x18, prgi: 4, code: 0, pasid: -1 },
    ]);
    expect(s.host.responses[0]!.t).toBe(500);
    expect(s.prq.stats.stop_markers_dropped).toBe(1);
    expect(s.prq.stats.drops).toBe(4);
  });

  it('VTD.PRQ.FAULT_AUTORESP: a request failing the PRI check is not queued; L=1 is answered Invalid', () => {
    const s = setup({}, SLOW_IRQ);
    s.host.priEnabled = (_d, pasid) => pasid !== 7;
    s.iommu.receivePageRequest(req({ pasid: 7, prgi: 1, flags: PrFlag.READ }));
    s.iommu.receivePageRequest(req({ pasid: 7, prgi: 1, flags: PrFlag.READ | PrFlag.LAST }));
    s.iommu.receivePageRequest(req({ pasid: 7, stop: true }));
    s.h.sim.run({ maxTimeNs: 10_000 });
    expect(s.prq.depth).toBe(0);
    expect(s.h.of(TraceKind.AUTO_RESPONSE).map((e) => e.code)).toEqual([PciRespCode.INVALID]);
    expect(s.host.responses.map((r) => r.msg.code)).toEqual([PciRespCode.INVALID]);
    expect(s.prq.stats.fault_autoresp).toBe(3);
  });

  it('VTD.PRQ.EVENT: an event only when PPR and PRO are clear; PPR set with it; the thread runs after irq_ns', () => {
    const s = setup();
    s.iommu.receivePageRequest(req({ prgi: 0 }));
    expect(s.prq.ppr).toBe(true);
    s.iommu.receivePageRequest(req({ prgi: 1 }));
    s.h.sim.run({ maxTimeNs: 999 });
    expect(s.host.reports).toHaveLength(0);
    s.h.sim.run();
    // One thread run handled both as one batch: two decodes of 100 ns, then both reports.
    expect(s.host.reports.map((r) => r.t)).toEqual([1200, 1200]);
    expect(s.iommu.stats().thread_runs).toBe(1);
    expect(s.prq.ppr).toBe(false);
    s.iommu.receivePageRequest(req({ prgi: 2 }));
    expect(s.prq.ppr).toBe(true);
    s.h.sim.run();
    expect(s.iommu.stats().thread_runs).toBe(2);
  });

  it('VTD.PRQ.EVENT: with PRO set no event is raised (write_while_pro)', () => {
    const s = setup({ write_while_pro: true }, SLOW_IRQ);
    s.prq.pro = true;
    s.iommu.receivePageRequest(req({}));
    expect(s.prq.depth).toBe(1);
    expect(s.prq.ppr).toBe(false);
  });

  it('VTD.PRQ.PRO_CLEAR: once the queue is empty the thread discards partial faults, then clears PRO', () => {
    const s = setup({}, { irq_ns: 1000, decode_ns: 10 });
    for (let i = 0; i < 130; i++) s.iommu.receivePageRequest(req({ prgi: i % 512, flags: PrFlag.READ }));
    expect(s.prq.pro).toBe(true);
    // While PRO is set (write_while_pro false) nothing is written.
    s.iommu.receivePageRequest(req({ flags: PrFlag.READ }));
    expect(s.prq.depth).toBe(127);
    s.h.sim.run();
    expect(s.prq.pro).toBe(false);
    expect(s.prq.depth).toBe(0);
    expect(s.host.discards).toEqual([1000 + 127 * 10]);
    expect(s.h.of(TraceKind.QUEUE_OVERFLOW).map((e) => e.set)).toEqual([1, 0]);
  });

  it('VTD.PRQ.PRO_CLEAR: PRO stays set while entries remain after a pass; the re-run clears it', () => {
    const s = setup({}, { irq_ns: 1000, decode_ns: 10 });
    for (let i = 0; i < 10; i++) s.iommu.receivePageRequest(req({ flags: PrFlag.READ }));
    s.h.advanceTo(1005); // the thread runs with a snapshot of 10 entries
    for (let i = 0; i < 118; i++) s.iommu.receivePageRequest(req({ flags: PrFlag.READ }));
    expect(s.prq.pro).toBe(true);
    s.h.advanceTo(1100); // first pass done: head moved to 10, 117 entries remain
    expect(s.prq.head).toBe(10);
    expect(s.prq.pro).toBe(true);
    expect(s.host.discards).toHaveLength(0);
    s.h.sim.run();
    expect(s.prq.pro).toBe(false);
    expect(s.host.discards).toEqual([1100 + 117 * 10]);
    expect(s.iommu.stats().thread_runs).toBe(2);
  });
});
