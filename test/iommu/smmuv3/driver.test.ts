import { describe, it, expect } from 'vitest';
import { Sim } from '../../../src/sim/engine.js';
import { Tracer } from '../../../src/trace/tracer.js';
import { scenarioSchema, type ScenarioInput } from '../../../src/scenario/schema.js';
import { compileLatencies, type ModelEnv } from '../../../src/model/env.js';
import { Metrics } from '../../../src/report/metrics.js';
import { Smmuv3Iommu } from '../../../src/iommu/smmuv3/index.js';
import { decodePriRespCmd, encodePriRespCmd, SmmuPriResp } from '../../../src/iommu/smmuv3/codec.js';
import { FaultFlag, FaultPerm, RespCode, type FaultRecord } from '../../../src/iopf/types.js';
import { PciRespCode, PrFlag, RespSource, TraceKind } from '../../../src/trace/events.js';
import type { DeviceView, IommuFrontendDeps } from '../../../src/iommu/frontend.js';
import type { PageRequestMsg, PrgResponseMsg } from '../../../src/pcie/messages.js';

const fixed = (ns: number) => ({ dist: 'fixed' as const, ns });
const IRQ = 1000;
const DECODE = 100;
const RESP = 500;

interface Ev {
  t: number;
  kind: number;
  f: number[];
}

function harness(smmuv3: Record<string, unknown>, opts: { irq?: number } = {}) {
  const input: ScenarioInput = {
    iommu: { family: 'smmuv3', smmuv3 },
    devices: [
      { name: 'req', rid: 0x100, pri: { response_pasid_required: true } },
      { name: 'noreq', rid: 0x108, pri: { response_pasid_required: false } },
    ],
    latency: { irq_ns: fixed(opts.irq ?? IRQ), decode_ns: fixed(DECODE), response_ns: fixed(RESP) },
  };
  const scenario = scenarioSchema.parse(input);
  const sim = new Sim({ seed: 1 });
  const tracer = new Tracer(sim);
  const events: Ev[] = [];
  tracer.addSink({ onEvent: (t, kind, ...f) => events.push({ t, kind, f }) });
  const metrics = new Metrics();
  const env: ModelEnv = {
    sim,
    tracer,
    scenario,
    latency: compileLatencies(scenario.latency),
    metrics,
    switches: new Set(),
    stream: (name) => sim.stream(name),
    faultSite: () => false,
  };
  const devices: DeviceView[] = scenario.devices.map((d, i) => ({
    dev: i,
    rid: d.rid,
    name: d.name,
    responsePasidRequired: d.pri.response_pasid_required,
    pasidWidth: d.pasid.width,
  }));
  const reported: { t: number; dev: number; fault: FaultRecord }[] = [];
  const sent: { t: number; msg: PrgResponseMsg }[] = [];
  const flushes: { t: number; dev: number; pasid: number }[] = [];
  let discards = 0;
  const deps: IommuFrontendDeps = {
    sendResponse: (msg) => sent.push({ t: sim.now, msg }),
    reportFault: (dev, fault) => {
      reported.push({ t: sim.now, dev, fault });
      return 0;
    },
    discardPartial: () => {
      discards++;
    },
    flushDev: (dev, pasid, cont) => {
      flushes.push({ t: sim.now, dev, pasid });
      sim.after(0, cont.kind, cont.a, 0, cont.payload);
    },
    deviceByRid: (rid) => devices.find((d) => d.rid === rid),
    device: (dev) => devices[dev]!,
    priEnabledFor: () => true,
  };
  const smmu = new Smmuv3Iommu(env, 0, deps);
  let reqId = 0;
  const send = (
    dev: number,
    o: { pasid?: number; prgi?: number; flags?: number; page?: number; stop?: boolean } = {},
  ): PageRequestMsg => {
    const pasid = o.pasid ?? 5;
    const msg: PageRequestMsg = {
      reqId: reqId++,
      dev,
      rid: devices[dev]!.rid,
      pasid,
      prgi: o.prgi ?? 1,
      flags: (o.flags ?? PrFlag.READ | PrFlag.LAST) | (pasid >= 0 ? PrFlag.PASID : 0),
      page: o.page ?? 0x1234,
      stopMarker: o.stop ?? false,
    };
    smmu.receivePageRequest(msg);
    return msg;
  };
  const of = (kind: number) => events.filter((e) => e.kind === kind);
  return {
    sim,
    env,
    smmu,
    send,
    events,
    of,
    reported,
    sent,
    flushes,
    discards: () => discards,
    devices,
    metrics,
  };
}

describe('Smmuv3Iommu — PRI queue', () => {
  it('writes entries, wakes the thread after irq_ns and reports each after decode_ns', () => {
    const h = harness({ mode: 'pri', pri_policy: 'handle' });
    h.send(0, { prgi: 3, flags: PrFlag.READ | PrFlag.WRITE, page: 0x42 });
    h.send(0, { prgi: 3, flags: PrFlag.READ | PrFlag.LAST | PrFlag.EXEC | PrFlag.PRIV, page: 0x43 });
    h.sim.run();
    expect(h.of(TraceKind.QUEUE_WRITE).map((e) => e.f[5])).toEqual([1, 2]);
    expect(h.reported.map((r) => r.t)).toEqual([IRQ + DECODE, IRQ + 2 * DECODE]);
    const [a, b] = h.reported.map((r) => r.fault);
    expect(a).toMatchObject({
      grpid: 3,
      pasid: 5,
      addr: 0x42 * 4096,
      perm: FaultPerm.READ | FaultPerm.WRITE,
      reqId: 0,
      dev: 0,
    });
    expect(a!.flags).toBe(FaultFlag.PASID_VALID | FaultFlag.RESPONSE_NEEDS_PASID);
    expect(b!.flags).toBe(FaultFlag.PASID_VALID | FaultFlag.RESPONSE_NEEDS_PASID | FaultFlag.LAST_PAGE);
    expect(b!.perm).toBe(FaultPerm.READ | FaultPerm.EXEC | FaultPerm.PRIV);
  });

  it('SMMU.PRIQ.OVERFLOW: at a full queue L=0 is dropped and a Stop Marker discarded, with the flag set once', () => {
    const h = harness({ priq_entries_log2: 1 });
    h.send(0, { flags: PrFlag.READ });
    h.send(0, { flags: PrFlag.READ });
    expect(h.smmu.priq.isFull()).toBe(true);
    const l0 = h.send(0, { flags: PrFlag.READ, prgi: 7 });
    const stop = h.send(0, { flags: PrFlag.LAST, stop: true });
    expect(h.of(TraceKind.QUEUE_DROP).map((e) => e.f[3])).toEqual([l0.reqId, stop.reqId]);
    expect(h.of(TraceKind.QUEUE_OVERFLOW).map((e) => e.f[5])).toEqual([1]);
    expect(h.of(TraceKind.AUTO_RESPONSE)).toHaveLength(0);
    h.sim.run();
    // No response for either; the overflow is acknowledged once the thread drained the queue.
    expect(h.sent).toHaveLength(0);
    expect(h.of(TraceKind.QUEUE_OVERFLOW).map((e) => e.f[5])).toEqual([1, 0]);
    expect(h.smmu.priq.overflowPending).toBe(false);
    // Lost requests mean partial groups can never complete: the driver discards them.
    expect(h.discards()).toBe(1);
    expect(h.smmu.stats()).toMatchObject({
      priq_dropped_l0: 1,
      priq_dropped_stop_markers: 1,
      priq_overflows: 1,
    });
  });

  it('SMMU.PRIQ.OVERFLOW_AUTORESP: a lost L=1 request is answered Success by the SMMU, PASID per the device bit', () => {
    const h = harness({ priq_entries_log2: 1 });
    h.send(0);
    h.send(0);
    const a = h.send(0, { prgi: 9, pasid: 12 });
    const b = h.send(1, { prgi: 10, pasid: 12 });
    const auto = h.of(TraceKind.AUTO_RESPONSE);
    expect(auto.map((e) => [e.f[3], e.f[4], e.f[5]])).toEqual([
      [a.reqId, PciRespCode.SUCCESS, 12],
      [b.reqId, PciRespCode.SUCCESS, -1],
    ]);
    h.sim.run();
    const auto0 = h.sent.filter((s) => s.msg.prgi === 9 || s.msg.prgi === 10);
    expect(auto0.map((s) => s.msg)).toEqual([
      { dev: 0, rid: 0x100, prgi: 9, code: PciRespCode.SUCCESS, pasid: 12 },
      { dev: 1, rid: 0x108, prgi: 10, code: PciRespCode.SUCCESS, pasid: -1 },
    ]);
    expect(auto0[0]!.t).toBe(RESP);
  });

  it('HOST.RESP.PASID_IFF_REQUIRED: CMD_PRI_RESP carries SSV from the request; the wire PASID needs STE.PPAR (the device bit)', () => {
    const h = harness({ pri_policy: 'handle' });
    h.send(0, { prgi: 4, pasid: 33 });
    h.send(1, { prgi: 5, pasid: 33 });
    h.send(1, { prgi: 6, pasid: -1 });
    h.sim.run();
    expect(h.reported).toHaveLength(3);
    for (const [i, r] of h.reported.entries()) {
      const code = [RespCode.SUCCESS, RespCode.INVALID, RespCode.FAILURE][i]!;
      h.smmu.pageResponse(
        r.dev,
        r.fault,
        { pasid: r.fault.pasid, grpid: r.fault.grpid, code },
        RespSource.GROUP,
      );
    }
    h.sim.run();
    expect(h.sent.map((s) => s.msg)).toEqual([
      { dev: 0, rid: 0x100, prgi: 4, code: PciRespCode.SUCCESS, pasid: 33 },
      { dev: 1, rid: 0x108, prgi: 5, code: PciRespCode.INVALID, pasid: -1 },
      { dev: 1, rid: 0x108, prgi: 6, code: PciRespCode.FAILURE, pasid: -1 },
    ]);
    const rs = h.of(TraceKind.RESPONSE_SEND);
    expect(rs.map((e) => [e.f[0], e.f[1], e.f[2], e.f[4], e.f[5]])).toEqual([
      [0, 33, 4, PciRespCode.SUCCESS, RespSource.GROUP],
      [1, -1, 5, PciRespCode.INVALID, RespSource.GROUP],
      [1, -1, 6, PciRespCode.FAILURE, RespSource.GROUP],
    ]);
  });

  it('CMD_PRI_RESP codes: Linux DENY/FAIL/SUCC = spec Failure/Invalid/Success round-trip through the codec', () => {
    const bytes = encodePriRespCmd({
      ssv: true,
      ssid: 7,
      sid: 0x100,
      prgIndex: 3,
      resp: SmmuPriResp.FAILURE,
    });
    expect(decodePriRespCmd(bytes)).toEqual({ ssv: true, ssid: 7, sid: 0x100, prgIndex: 3, resp: 0 });
  });

  it('pri_policy fail (mainline): nothing is reported; every L=1 entry, Stop Markers included, gets Response Failure', () => {
    const h = harness({ pri_policy: 'fail' });
    h.send(0, { prgi: 1, flags: PrFlag.READ });
    h.send(0, { prgi: 1, flags: PrFlag.READ | PrFlag.LAST });
    h.send(0, { prgi: 0, flags: PrFlag.LAST, stop: true });
    h.sim.run();
    expect(h.reported).toHaveLength(0);
    expect(h.sent.map((s) => [s.msg.prgi, s.msg.code])).toEqual([
      [1, PciRespCode.FAILURE],
      [0, PciRespCode.FAILURE],
    ]);
    expect(h.of(TraceKind.RESPONSE_SEND).every((e) => e.f[5] === RespSource.DRIVER_CHECK)).toBe(true);
    expect(h.smmu.stats()['denied']).toBe(2);
  });

  it('HOST.STOP.NO_RESPONSE: with pri_policy handle a Stop Marker is neither reported nor answered', () => {
    const h = harness({ pri_policy: 'handle' });
    h.send(0, { prgi: 0, flags: PrFlag.LAST, stop: true });
    h.sim.run();
    expect(h.reported).toHaveLength(0);
    expect(h.sent).toHaveLength(0);
    expect(h.smmu.stats()['stop_markers_discarded']).toBe(1);
  });

  it('drainPasid waits until no entry of the PASID is queued or being decoded, then flushes', () => {
    const h = harness({});
    const done: { t: number; result: number }[] = [];
    const kDone = h.sim.registerKind('test:drained', (_a, result) => done.push({ t: h.sim.now, result }));
    h.send(0, { pasid: 8 });
    h.send(0, { pasid: 9 });
    h.smmu.drainPasid(0, 8, { kind: kDone, a: 0, b: 0 });
    h.sim.run();
    // The PASID-8 entry is reported at IRQ+DECODE; the flush cannot start before that.
    expect(h.flushes).toEqual([{ t: IRQ + DECODE, dev: 0, pasid: 8 }]);
    expect(done).toEqual([{ t: IRQ + DECODE, result: 0 }]);
    expect(h.of(TraceKind.DRAIN_BEGIN)).toHaveLength(1);
    expect(h.of(TraceKind.DRAIN_END)[0]!.f.slice(0, 2)).toEqual([0, 8]);
  });

  it('drainPasid with nothing queued flushes at once', () => {
    const h = harness({});
    const kDone = h.sim.registerKind('test:drained', () => undefined);
    h.smmu.drainPasid(1, 4, { kind: kDone, a: 0, b: 0 });
    h.sim.run();
    expect(h.flushes).toEqual([{ t: 0, dev: 1, pasid: 4 }]);
  });
  it('CMD_PRI_RESP commands execute in issue order even when their latencies tie', () => {
    const h = harness({ pri_policy: 'handle' });
    for (let i = 0; i < 20; i++) h.send(0, { prgi: i });
    h.sim.run();
    for (const r of h.reported) {
      h.smmu.pageResponse(
        0,
        r.fault,
        { pasid: 5, grpid: r.fault.grpid, code: RespCode.SUCCESS },
        RespSource.GROUP,
      );
    }
    h.sim.run();
    expect(h.sent.map((s) => s.msg.prgi)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe('Smmuv3Iommu — stall model', () => {
  it('SMMU.STALL.ONE_RESUME: a stall is a one-fault group (grpid = STAG) resumed once; Success → retry → Success to the device', () => {
    const h = harness({ mode: 'stall' });
    h.send(0, { prgi: 11, pasid: 6, flags: PrFlag.READ | PrFlag.WRITE | PrFlag.LAST });
    h.sim.run();
    expect(h.reported).toHaveLength(1);
    const f = h.reported[0]!.fault;
    expect(f.flags).toBe(FaultFlag.LAST_PAGE | FaultFlag.PASID_VALID);
    // One RnW bit: a read-and-write transaction stalls as a write.
    expect(f.perm).toBe(FaultPerm.WRITE);
    const stag = f.grpid;
    expect(h.smmu.stallUnit.get(stag)?.prgi).toBe(11);
    h.smmu.pageResponse(0, f, { pasid: 6, grpid: stag, code: RespCode.SUCCESS }, RespSource.GROUP);
    h.smmu.pageResponse(0, f, { pasid: 6, grpid: stag, code: RespCode.SUCCESS }, RespSource.GROUP);
    h.sim.run();
    expect(h.sent.map((s) => s.msg)).toEqual([
      { dev: 0, rid: 0x100, prgi: 11, code: PciRespCode.SUCCESS, pasid: 6 },
    ]);
    expect(h.metrics.get('smmu.stall.resume_unmatched')).toBe(1);
    expect(h.smmu.stats()).toMatchObject({
      stall_resumed_retry: 1,
      stall_resume_unmatched: 1,
      stall_held_now: 0,
    });
  });

  it('CMD_RESUME: INVALID and FAILURE abort; the device sees Invalid Request (the access fails, PRI stays on)', () => {
    const h = harness({ mode: 'stall' });
    h.send(1, { prgi: 1, pasid: 6 });
    h.send(1, { prgi: 2, pasid: 6 });
    h.sim.run();
    const [a, b] = h.reported.map((r) => r.fault);
    h.smmu.pageResponse(1, a!, { pasid: 6, grpid: a!.grpid, code: RespCode.INVALID }, RespSource.GROUP);
    h.smmu.pageResponse(1, b!, { pasid: 6, grpid: b!.grpid, code: RespCode.FAILURE }, RespSource.GROUP);
    h.sim.run();
    expect(h.sent.map((s) => [s.msg.prgi, s.msg.code, s.msg.pasid])).toEqual([
      [1, PciRespCode.INVALID, -1],
      [2, PciRespCode.INVALID, -1],
    ]);
    expect(h.smmu.stats()['stall_resumed_abort']).toBe(2);
  });

  it('stall mode refuses a request with L=0 (configuration error)', () => {
    const h = harness({ mode: 'stall' });
    expect(() => h.send(0, { flags: PrFlag.READ })).toThrow(/L=0/);
  });

  it('SMMU.EVTQ.OVERFLOW: a lost event leaves its transaction held until CMD_STALL_TERM', () => {
    const h = harness({ mode: 'stall', evtq_entries_log2: 1 });
    h.send(0, { prgi: 1 });
    h.send(0, { prgi: 2 });
    h.send(0, { prgi: 3 });
    expect(h.of(TraceKind.QUEUE_WRITE)).toHaveLength(2);
    expect(h.of(TraceKind.QUEUE_OVERFLOW).map((e) => e.f[5])).toEqual([1]);
    h.sim.run();
    expect(h.reported).toHaveLength(2);
    for (const r of h.reported)
      h.smmu.pageResponse(
        0,
        r.fault,
        { pasid: 5, grpid: r.fault.grpid, code: RespCode.SUCCESS },
        RespSource.GROUP,
      );
    h.sim.run();
    expect(h.sent).toHaveLength(2);
    expect(h.smmu.stallUnit.stalledCount).toBe(1);
    expect(h.metrics.get('smmu.evtq.lost')).toBe(1);
    h.smmu.terminateStalls(0);
    h.sim.run();
    expect(h.sent).toHaveLength(3);
    expect(h.sent[2]!.msg).toEqual({ dev: 0, rid: 0x100, prgi: 3, code: PciRespCode.INVALID, pasid: 5 });
    const auto = h.of(TraceKind.AUTO_RESPONSE);
    expect(auto.map((e) => [e.f[2], e.f[4]])).toEqual([[3, PciRespCode.INVALID]]);
    expect(h.smmu.stallUnit.stalledCount).toBe(0);
  });

  it('SMMU.STALL.HOLDS: the time each transaction was held goes into the metrics', () => {
    const h = harness({ mode: 'stall' });
    h.send(0);
    h.sim.run();
    const f = h.reported[0]!.fault;
    const kRespond = h.sim.registerKind('test:respond', () => {
      h.smmu.pageResponse(0, f, { pasid: 5, grpid: f.grpid, code: RespCode.SUCCESS }, RespSource.GROUP);
    });
    h.sim.at(10_000, kRespond);
    h.sim.run();
    // Stalled at t=0, resumed when the command executes: 10 000 + response_ns.
    expect(h.metrics.get('smmu.stall.held_ns')).toBe(10_000 + RESP);
    expect(h.metrics.get('smmu.stall.held_ns_max')).toBe(10_000 + RESP);
  });
});
