import { describe, it, expect } from 'vitest';
import { makeHarness } from '../../pcie/harness.js';
import { FakeHost } from './fake-host.js';
import { VtdIommu } from '../../../src/iommu/vtd/driver.js';
import { PciFunction } from '../../../src/pcie/function.js';
import { Workload } from '../../../src/workload/index.js';
import { TraceKind, RecvOutcome, RespSource } from '../../../src/trace/events.js';
import { FaultFlag, RespCode, type FaultRecord } from '../../../src/iopf/types.js';
import type { PageRequestMsg, PrgResponseMsg } from '../../../src/pcie/messages.js';

/** Device ↔ VT-d ↔ a minimal core that resolves every group with Success after 2 µs. */
function world(prqOrder: number, pasidRequired: boolean, bugs: string[] = [], allocation = 64) {
  const h = makeHarness({
    iommu: { vtd: { prq_order: prqOrder } },
    devices: [{ name: 'd0', rid: 0x10, pri: { allocation, response_pasid_required: pasidRequired } }],
    workloads: [
      { device: 'd0', process: 'p', accesses: 400, pattern: 'random', prg_pages: 4, rate_per_us: 4 },
    ],
    bugs,
  });
  const sim = h.sim;
  const present = new Set<string>();
  const box: { fn?: PciFunction } = {};
  const kToIommu = sim.registerKind('link:up', (_a, _b, p) => {
    iommu.receivePageRequest(p as PageRequestMsg);
  });
  const kToDev = sim.registerKind('link:down', (_a, _b, p) => {
    box.fn!.onResponse(p as PrgResponseMsg);
  });
  const partial: FaultRecord[] = [];
  const kHandle = sim.registerKind('core:handle', (_a, _b, p) => {
    const f = p as FaultRecord;
    iommu.pageResponse(
      f.dev,
      f,
      { pasid: f.pasid, grpid: f.grpid, code: RespCode.SUCCESS },
      RespSource.GROUP,
    );
  });
  const host = new FakeHost(sim, []);
  host.reportFault = (dev, f) => {
    host.reports.push({ t: sim.now, dev, fault: f });
    if ((f.flags & FaultFlag.LAST_PAGE) === 0) {
      partial.push(f);
      return 0;
    }
    for (const x of [...partial, f]) if (x.grpid === f.grpid) present.add(`${x.pasid}:${x.addr / 4096}`);
    for (let i = partial.length - 1; i >= 0; i--) if (partial[i]!.grpid === f.grpid) partial.splice(i, 1);
    sim.after(2000, kHandle, 0, 0, f);
    return 0;
  };
  host.discardPartial = () => {
    host.discards.push(sim.now);
    partial.length = 0;
  };
  host.sendResponse = (m) => {
    host.responses.push({ t: sim.now, msg: m });
    sim.after(200, kToDev, 0, 0, m, 0);
  };
  const iommu = new VtdIommu(h.env, 0, host);
  const fn = new PciFunction(h.env, 0, h.env.scenario.devices[0]!, {
    sendPageRequest: (m) => {
      sim.after(200, kToIommu, 0, 0, m, 0);
    },
    translate: (_d, pasid, page) => (present.has(`${pasid}:${page}`) ? 'ok' : 'not-present'),
  });
  box.fn = fn;
  host.devices.push(fn);
  host.requestsSent = () => fn.requestsSent;
  host.invalidateDevTlb = (_d, pasid, cont) => {
    fn.invalidate(pasid, cont);
  };
  const wl = new Workload(
    h.env,
    0,
    h.env.scenario.workloads[0]!,
    {
      dma: (...a) => {
        fn.dma(...a);
      },
      currentPasid: () => 1,
    },
    { firstPage: 0x1000, pages: 4096 },
  );
  return { h, fn, iommu, host, wl };
}

describe('PciFunction + VT-d end to end', () => {
  it('every access completes, every group gets one response, no PASID form error (device requires PASID)', () => {
    const w = world(4, true);
    w.wl.start();
    w.h.sim.run();
    const done = w.h.of(TraceKind.DMA_DONE);
    expect(done).toHaveLength(400);
    expect(done.every((e) => e.failed === 0)).toBe(true);
    const recv = w.h.of(TraceKind.RESPONSE_RECV);
    expect(recv.every((e) => e.outcome === RecvOutcome.MATCHED)).toBe(true);
    expect(recv).toHaveLength(w.fn.counters.groups);
    expect(w.fn.outstanding).toBe(0);
    expect(w.h.env.metrics.summary('group_latency_ns').count).toBe(w.fn.counters.groups);
  });

  it('a small PRQ overflows: hardware auto-responses and discards keep every access finishing', () => {
    const w = world(0, true, [], 256);
    w.wl.start();
    w.h.sim.run();
    const st = w.iommu.stats();
    expect(st.overflows).toBeGreaterThan(0);
    expect(st.auto_responses).toBeGreaterThan(0);
    expect(w.host.discards.length).toBeGreaterThan(0);
    const done = w.h.of(TraceKind.DMA_DONE);
    expect(done).toHaveLength(400);
    // HOST.CONSERVATION at the device: every group sent was answered exactly once.
    expect(w.h.of(TraceKind.RESPONSE_RECV)).toHaveLength(w.fn.counters.groups);
    expect(w.h.of(TraceKind.RESPONSE_RECV).some((e) => e.outcome === RecvOutcome.UPRGI)).toBe(false);
  });

  it('vtd-response-pasid-always: a device with the bit clear sees PASID form errors; the fix gives none', () => {
    const bad = world(4, false, ['vtd-response-pasid-always']);
    bad.wl.start();
    bad.h.sim.run();
    expect(bad.fn.counters.pasidFormErrors).toBeGreaterThan(0);
    const good = world(4, false);
    good.wl.start();
    good.h.sim.run();
    expect(good.fn.counters.pasidFormErrors).toBe(0);
  });

  it('unbind sequence: stop the PASID (Stop Marker), then drain: the marker is consumed silently, the drain ends', () => {
    const w = world(4, true);
    let ended = -1;
    const kDrained = w.h.sim.registerKind('t:drained', () => {
      ended = w.h.sim.now;
    });
    const kStopped = w.h.sim.registerKind('t:stopped', () => {
      w.iommu.drainPasid(0, 1, { kind: kDrained, a: 0, b: 0 });
    });
    w.wl.start();
    w.h.advanceTo(30_000);
    w.wl.stop();
    w.fn.stopPasid(1, true, { kind: kStopped, a: 0, b: 0 });
    w.h.sim.run();
    expect(ended).toBeGreaterThan(30_000);
    expect(w.h.of(TraceKind.STOP_MARKER)).toHaveLength(1);
    expect(w.iommu.stats().stop_markers_seen).toBe(1);
    const marker = w.h.of(TraceKind.STOP_MARKER)[0]!;
    // The marker was sent after the last page request of the PASID.
    const lastReq = w.h.of(TraceKind.PAGE_REQUEST).at(-1)!;
    expect(marker.t!).toBeGreaterThanOrEqual(lastReq.t!);
    expect(w.h.of(TraceKind.DRAIN_END)).toHaveLength(1);
  });
});
