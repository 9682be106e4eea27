import { describe, it, expect } from 'vitest';
import { Sim } from '../../../src/sim/engine.js';
import { Tracer } from '../../../src/trace/tracer.js';
import { scenarioSchema, type ScenarioInput } from '../../../src/scenario/schema.js';
import { compileLatencies, type ModelEnv } from '../../../src/env/env.js';
import { Metrics } from '../../../src/report/metrics.js';
import {
  AMD_BUG_COMPLETE_PPR_RAW,
  AMD_BUG_GRPID_LAST_BIT,
  AmdIommu,
  type AmdIommuOptions,
} from '../../../src/iommu/amd/index.js';
import { AmdPprFlag, decodeCompletePprCmd, encodeCompletePprCmd } from '../../../src/iommu/amd/codec.js';
import { pprEntryFromMsg, permFromPprFlags } from '../../../src/iommu/amd/driver.js';
import { emptyPprLogEntry } from '../../../src/iommu/amd/codec.js';
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

function harness(amd: Record<string, unknown> = {}, opts: AmdIommuOptions = {}, bugs: string[] = []) {
  const input: ScenarioInput = {
    iommu: { family: 'amd', name: 'amdvi0', amd },
    devices: [
      { name: 'req', rid: 0x100, pri: { response_pasid_required: true } },
      { name: 'noreq', rid: 0x108, pri: { response_pasid_required: false } },
    ],
    latency: { irq_ns: fixed(IRQ), decode_ns: fixed(DECODE), response_ns: fixed(RESP) },
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
    switches: new Set(bugs),
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
  const deps: IommuFrontendDeps = {
    sendResponse: (msg) => sent.push({ t: sim.now, msg }),
    reportFault: (dev, fault) => {
      reported.push({ t: sim.now, dev, fault });
      return 0;
    },
    discardPartial: () => undefined,
    flushDev: (dev, pasid, cont) => {
      flushes.push({ t: sim.now, dev, pasid });
      sim.after(0, cont.kind, cont.a, 0, cont.payload);
    },
    deviceByRid: (rid) => devices.find((d) => d.rid === rid),
    device: (dev) => devices[dev]!,
    priEnabledFor: () => true,
  };
  const amdIommu = new AmdIommu(env, 0, deps, opts);
  let reqId = 0;
  let sentCount = 0;
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
    sentCount++;
    amdIommu.receivePageRequest(msg);
    return msg;
  };
  const of = (kind: number) => events.filter((e) => e.kind === kind);
  return { sim, amd: amdIommu, send, of, reported, sent, flushes, metrics, sentCount: () => sentCount };
}

describe('AmdIommu', () => {
  it('decodes the PPR entry as iommu_call_iopf_notifier does (PASID split, tag, flags)', () => {
    const h = harness();
    h.send(0, { pasid: 0x12345, prgi: 0x1a5, flags: PrFlag.READ | PrFlag.WRITE, page: 0x77 });
    h.send(0, {
      pasid: 0x12345,
      prgi: 0x1a5,
      flags: PrFlag.READ | PrFlag.EXEC | PrFlag.PRIV | PrFlag.LAST,
      page: 0x78,
    });
    h.sim.run();
    expect(h.reported.map((r) => r.t)).toEqual([IRQ + DECODE, IRQ + 2 * DECODE]);
    const [a, b] = h.reported.map((r) => r.fault);
    expect(a).toMatchObject({
      pasid: 0x12345,
      grpid: 0x1a5,
      addr: 0x77 * 4096,
      perm: FaultPerm.READ | FaultPerm.WRITE,
    });
    // PASID_VALID and RESPONSE_NEEDS_PASID are always set by the AMD driver.
    expect(a!.flags).toBe(FaultFlag.PASID_VALID | FaultFlag.RESPONSE_NEEDS_PASID);
    expect(b!.flags).toBe(FaultFlag.PASID_VALID | FaultFlag.RESPONSE_NEEDS_PASID | FaultFlag.LAST_PAGE);
    expect(b!.perm).toBe(FaultPerm.READ | FaultPerm.EXEC | FaultPerm.PRIV);
  });

  it('PPR flags: US clear means supervisor (PRIV); EXEC, READ, WRITE map one to one', () => {
    expect(permFromPprFlags(AmdPprFlag.READ | AmdPprFlag.US)).toBe(FaultPerm.READ);
    expect(permFromPprFlags(AmdPprFlag.WRITE)).toBe(FaultPerm.WRITE | FaultPerm.PRIV);
    expect(permFromPprFlags(AmdPprFlag.EXEC | AmdPprFlag.US)).toBe(FaultPerm.EXEC);
    const e = pprEntryFromMsg(
      {
        reqId: 0,
        dev: 0,
        rid: 0x100,
        pasid: -1,
        prgi: 3,
        flags: PrFlag.READ | PrFlag.LAST,
        page: 1,
        stopMarker: false,
      },
      emptyPprLogEntry(),
    );
    expect(e.flags & AmdPprFlag.GN).toBe(0);
    expect(e.flags & AmdPprFlag.US).toBe(AmdPprFlag.US);
  });

  it('mainline grpid is the whole 10-bit tag (bug amd-grpid-last-bit): the last fault of a group carries bit 9', () => {
    const h = harness({}, {}, [AMD_BUG_GRPID_LAST_BIT]);
    h.send(0, { prgi: 7, flags: PrFlag.READ });
    h.send(0, { prgi: 7, flags: PrFlag.READ | PrFlag.LAST });
    h.sim.run();
    expect(h.reported.map((r) => r.fault.grpid)).toEqual([7, 7 | 0x200]);
    // The response masks the tag back to the 9-bit PRG index.
    const last = h.reported[1]!.fault;
    h.amd.pageResponse(0, last, { pasid: 5, grpid: last.grpid, code: RespCode.SUCCESS }, RespSource.GROUP);
    h.sim.run();
    expect(h.sent[0]!.msg.prgi).toBe(7);
  });

  it('HOST.RESP.PASID_IFF_REQUIRED: COMPLETE_PPR_REQUEST carries PASID+GN iff the device requires it', () => {
    const h = harness();
    h.send(0, { prgi: 4, pasid: 33 });
    h.send(1, { prgi: 5, pasid: 33 });
    h.send(1, { prgi: 6, pasid: 34 });
    h.sim.run();
    for (const [i, r] of h.reported.entries()) {
      const code = [RespCode.SUCCESS, RespCode.INVALID, RespCode.FAILURE][i]!;
      h.amd.pageResponse(
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
    expect(h.of(TraceKind.RESPONSE_SEND).map((e) => [e.f[1], e.f[4]])).toEqual([
      [33, 0],
      [-1, 1],
      [-1, 15],
    ]);
  });

  it('HOST.RESP.CODE_DEFINED: mainline passes FAILURE through as status 2 (bug amd-complete-ppr-raw)', () => {
    const h = harness({}, {}, [AMD_BUG_COMPLETE_PPR_RAW]);
    h.send(0, { prgi: 4 });
    h.sim.run();
    const f = h.reported[0]!.fault;
    h.amd.pageResponse(0, f, { pasid: 5, grpid: f.grpid, code: RespCode.FAILURE }, RespSource.ABORT);
    h.sim.run();
    expect(h.sent[0]!.msg.code).toBe(2);
    expect(h.of(TraceKind.RESPONSE_SEND)[0]!.f[4]).toBe(2);
  });

  it('COMPLETE_PPR_REQUEST round-trips through the codec with index and status', () => {
    const bytes = encodeCompletePprCmd({ deviceId: 0x100, pasid: 9, gn: true, prgIndex: 0x1ff, status: 0xf });
    expect(decodeCompletePprCmd(bytes)).toEqual({
      deviceId: 0x100,
      pasid: 9,
      gn: true,
      prgIndex: 0x1ff,
      status: 0xf,
    });
  });

  it('driver checks: a request without PASID (GN=0) or with PASID 0 is answered FAILURE at once — once per group, at its L=1 (reference)', () => {
    const h = harness();
    h.send(0, { pasid: -1, prgi: 2, flags: PrFlag.READ });
    h.send(0, { pasid: -1, prgi: 2, flags: PrFlag.READ | PrFlag.LAST });
    h.send(0, { pasid: 0, prgi: 3, flags: PrFlag.READ | PrFlag.LAST });
    h.sim.run();
    expect(h.reported).toHaveLength(0);
    expect(h.sent.map((s) => [s.msg.prgi, s.msg.code, s.msg.pasid])).toEqual([
      [2, PciRespCode.FAILURE, -1],
      [3, PciRespCode.FAILURE, 0],
    ]);
    expect(h.of(TraceKind.RESPONSE_SEND).every((e) => e.f[5] === RespSource.DRIVER_CHECK)).toBe(true);
    expect(h.amd.stats()['rejected']).toBe(3);
  });

  it('HOST.RESP.AFTER_LAST: mainline ("nobody cared", bug amd-complete-ppr-raw) answers every refused entry, L=0 too', () => {
    const h = harness({}, {}, ['amd-complete-ppr-raw']);
    h.send(0, { pasid: -1, prgi: 2, flags: PrFlag.READ });
    h.send(0, { pasid: 0, prgi: 3, flags: PrFlag.READ | PrFlag.LAST });
    h.sim.run();
    expect(h.reported).toHaveLength(0);
    expect(h.sent.map((s) => s.msg.prgi)).toEqual([2, 3]);
    expect(h.amd.stats()['rejected']).toBe(2);
  });

  it('AMD.PPR.OVERFLOW: requests are lost (N−1 usable, then none while the bit is set), each loss accounted', () => {
    // The smallest log the spec allows: 256 entries (PPRLen 1000b), 255 usable.
    const h = harness({ ppr_log_entries: 256 });
    const msgs = [];
    for (let i = 0; i < 258; i++)
      msgs.push(h.send(0, { prgi: i, flags: i % 2 === 0 ? PrFlag.READ : PrFlag.READ | PrFlag.LAST }));
    expect(h.of(TraceKind.QUEUE_WRITE)).toHaveLength(255);
    expect(h.of(TraceKind.QUEUE_OVERFLOW).map((e) => e.f[5])).toEqual([1]);
    // No auto-response by default: all three losses are drops, L=1 ones included.
    expect(h.of(TraceKind.QUEUE_DROP).map((e) => e.f[3])).toEqual([255, 256, 257]);
    expect(h.of(TraceKind.AUTO_RESPONSE)).toHaveLength(0);
    // HOST.CONSERVATION at the queue: every request is either logged or dropped.
    expect(h.of(TraceKind.QUEUE_WRITE).length + h.of(TraceKind.QUEUE_DROP).length).toBe(h.sentCount());
    expect(h.metrics.get('amd.ppr.lost')).toBe(3);
    h.sim.run();
    // Recovery: the thread drained the log and restarted logging.
    expect(h.of(TraceKind.QUEUE_OVERFLOW).map((e) => e.f[5])).toEqual([1, 0]);
    expect(h.amd.log.overflow).toBe(false);
    expect(h.reported).toHaveLength(255);
    h.send(0, { prgi: 20 });
    expect(h.of(TraceKind.QUEUE_WRITE)).toHaveLength(256);
    expect(h.amd.stats()).toMatchObject({
      ppr_overflows: 1,
      ppr_lost: 3,
      ppr_restarts: 1,
      ppr_log_usable: 255,
    });
  });

  it('AMD.PPR.OVERFLOW with overflow_autoresp: a lost L=1 request is answered Success by the IOMMU', () => {
    const h = harness({ ppr_log_entries: 256, overflow_autoresp: true });
    for (let i = 0; i < 255; i++) h.send(0, { prgi: i % 32 });
    const l1 = h.send(1, { prgi: 40, pasid: 3 });
    const l0 = h.send(0, { prgi: 41, flags: PrFlag.READ });
    const stop = h.send(0, { prgi: 0, flags: PrFlag.LAST, stop: true });
    expect(h.of(TraceKind.AUTO_RESPONSE).map((e) => [e.f[3], e.f[4], e.f[5]])).toEqual([
      [l1.reqId, PciRespCode.SUCCESS, -1],
    ]);
    // Every lost request is traced as dropped, the auto-answered L=1 one included (trace convention).
    expect(h.of(TraceKind.QUEUE_DROP).map((e) => e.f[3])).toEqual([l1.reqId, l0.reqId, stop.reqId]);
    h.sim.run();
    expect(h.sent.find((s) => s.msg.prgi === 40)!.msg).toEqual({
      dev: 1,
      rid: 0x108,
      prgi: 40,
      code: PciRespCode.SUCCESS,
      pasid: -1,
    });
  });

  it('HOST.STOP.NO_RESPONSE: Stop Markers are not logged by default; with logStopMarkers the driver reports them', () => {
    const h = harness();
    h.send(0, { prgi: 0, flags: PrFlag.LAST, stop: true });
    h.sim.run();
    expect(h.reported).toHaveLength(0);
    expect(h.sent).toHaveLength(0);
    const h2 = harness({}, { logStopMarkers: true });
    h2.send(0, { prgi: 0, flags: PrFlag.LAST, stop: true });
    h2.sim.run();
    expect(h2.reported).toHaveLength(1);
    expect(h2.reported[0]!.fault.perm).toBe(0);
  });

  it("drainPasid (log-then-flush) waits for the PASID's entries to leave the log, then flushes", () => {
    const h = harness();
    const done: number[] = [];
    const k = h.sim.registerKind('test:drained', (_a, r) => done.push(h.sim.now, r));
    h.send(0, { pasid: 8 });
    h.amd.drainPasid(0, 8, { kind: k, a: 0, b: 0 });
    h.sim.run();
    expect(h.flushes).toEqual([{ t: IRQ + DECODE, dev: 0, pasid: 8 }]);
    expect(done).toEqual([IRQ + DECODE, 0]);
    expect(h.of(TraceKind.DRAIN_END)).toHaveLength(1);
  });

  it("drainPasid modes 'flush' (flush at once) and 'none' (no flush)", () => {
    const h = harness({}, { drain: 'flush' });
    const k = h.sim.registerKind('test:drained', () => undefined);
    h.send(0, { pasid: 8 });
    h.amd.drainPasid(0, 8, { kind: k, a: 0, b: 0 });
    h.sim.run();
    expect(h.flushes).toEqual([{ t: 0, dev: 0, pasid: 8 }]);
    const h2 = harness({}, { drain: 'none' });
    const k2 = h2.sim.registerKind('test:drained', () => undefined);
    h2.amd.drainPasid(0, 8, { kind: k2, a: 0, b: 0 });
    h2.sim.run();
    expect(h2.flushes).toHaveLength(0);
    expect(h2.of(TraceKind.DRAIN_END)).toHaveLength(1);
  });

  it('COMPLETE_PPR_REQUEST commands execute in issue order even when their latencies tie', () => {
    const h = harness();
    for (let i = 0; i < 20; i++) h.send(0, { prgi: i });
    h.sim.run();
    for (const r of h.reported)
      h.amd.pageResponse(
        0,
        r.fault,
        { pasid: 5, grpid: r.fault.grpid, code: RespCode.SUCCESS },
        RespSource.GROUP,
      );
    h.sim.run();
    expect(h.sent.map((s) => s.msg.prgi)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
