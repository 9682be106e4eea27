/**
 * Test harness for the iopf core: a Sim + Tracer + ModelEnv with small fixed latencies, a fake
 * driver that records responses, fault builders and a trace recorder.
 */
import type { ProfileName } from '../../src/scenario/profiles.js';
import { behavioursOf } from '../../src/scenario/profiles.js';
import { Sim } from '../../src/sim/engine.js';
import { Tracer, type TraceSink } from '../../src/trace/tracer.js';
import { Metrics } from '../../src/report/metrics.js';
import { compileLatencies, type ModelEnv } from '../../src/model/env.js';
import { scenarioSchema, type ScenarioInput } from '../../src/scenario/schema.js';
import type { IommuDriverOps } from '../../src/iopf/driver-ops.js';
import { FaultFlag, FaultPerm, type FaultRecord, type PageResponse } from '../../src/iopf/types.js';
import type { KResult } from '../../src/sim/errno.js';
import { IopfCore, type IopfCoreOptions } from '../../src/iopf/core.js';
import type { AttachHandle, IopfDomain, IopfGroup } from '../../src/iopf/group.js';
import type { Continuation } from '../../src/sim/sync.js';

export interface TraceRow {
  t: number;
  kind: number;
  f: [number, number, number, number, number, number];
}

export class Recorder implements TraceSink {
  readonly rows: TraceRow[] = [];
  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    this.rows.push({ t, kind, f: [f0, f1, f2, f3, f4, f5] });
  }
  of(kind: number): TraceRow[] {
    return this.rows.filter((r) => r.kind === kind);
  }
}

export interface HarnessOptions {
  kernel?: ProfileName;
  bugs?: string[];
  seed?: number;
  workers?: number;
  faults?: ScenarioInput['faults'];
  core?: IopfCoreOptions;
}

export interface Harness {
  sim: Sim;
  env: ModelEnv;
  rec: Recorder;
  core: IopfCore;
  /** Event kind whose handler records (a, b) into `done` (for continuations). */
  doneKind: number;
  done: { a: number; b: number }[];
  cont(a?: number): Continuation;
}

export function makeEnv(opts: HarnessOptions = {}): { sim: Sim; env: ModelEnv; rec: Recorder } {
  const scenario = scenarioSchema.parse({
    kernel: opts.kernel ?? 'reference',
    bugs: opts.bugs ?? [],
    devices: [{ name: 'd0', rid: 1 }],
    iopf: { workers: opts.workers ?? 2 },
    latency: {
      wq_dispatch_ns: { dist: 'fixed', ns: 100 },
      minor_fault_ns: { dist: 'fixed', ns: 1000 },
      major_fault_ns: { dist: 'fixed', ns: 50_000 },
    },
    faults: opts.faults ?? {},
  });
  const sim = new Sim({ seed: opts.seed ?? 1 });
  const tracer = new Tracer(sim);
  const rec = new Recorder();
  tracer.addSink(rec);
  const env: ModelEnv = {
    sim,
    tracer,
    scenario,
    latency: compileLatencies(scenario.latency),
    metrics: new Metrics(),
    switches: behavioursOf(scenario.kernel, scenario.bugs),
    stream: (name) => sim.stream(name),
    faultSite: (p) => (p.num === 0 ? false : sim.chooser.chance(p.num, p.den)),
  };
  return { sim, env, rec };
}

export function makeHarness(opts: HarnessOptions = {}): Harness {
  const { sim, env, rec } = makeEnv(opts);
  const core = new IopfCore(env, opts.core ?? {});
  const done: { a: number; b: number }[] = [];
  const doneKind = sim.registerKind('test:done', (a, b) => {
    done.push({ a, b });
  });
  return { sim, env, rec, core, doneKind, done, cont: (a = 0) => ({ kind: doneKind, a, b: 0 }) };
}

export interface SentResponse {
  dev: number;
  fault: FaultRecord;
  resp: PageResponse;
  source: number;
}

/** A driver whose page_response records; `failNext` makes the next n calls return an error. */
export class FakeDriver implements IommuDriverOps {
  readonly family = 'fake';
  readonly sent: SentResponse[] = [];
  failNext = 0;
  pageResponse(dev: number, fault: FaultRecord, resp: PageResponse, source: number): KResult {
    if (this.failNext > 0) {
      this.failNext--;
      return -5;
    }
    this.sent.push({ dev, fault, resp: { ...resp }, source });
    return 0;
  }
  /** Responses per last-fault request id. */
  countFor(reqId: number): number {
    return this.sent.filter((s) => s.fault.reqId === reqId).length;
  }
}

let nextReq = 1;

export interface FaultSpec {
  dev?: number;
  pasid?: number | null;
  grpid?: number;
  last?: boolean;
  perm?: number;
  addr?: number;
  needsPasid?: boolean;
}

export function mkFault(s: FaultSpec = {}): FaultRecord {
  const pasid = s.pasid === undefined ? 1 : s.pasid;
  let flags = 0;
  if (pasid !== null) flags |= FaultFlag.PASID_VALID;
  if (s.last ?? true) flags |= FaultFlag.LAST_PAGE;
  if (s.needsPasid ?? pasid !== null) flags |= FaultFlag.RESPONSE_NEEDS_PASID;
  return {
    flags,
    pasid: pasid ?? 0,
    grpid: s.grpid ?? 1,
    perm: s.perm ?? FaultPerm.READ,
    addr: s.addr ?? 0x10000,
    privateData: 0,
    dev: s.dev ?? 0,
    reqId: nextReq++,
  };
}

/** A domain whose handler records the groups it takes and answers nothing (like iommufd). */
export class HoldingDomain implements IopfDomain {
  readonly type = 'test';
  readonly groups: IopfGroup[] = [];
  result: KResult = 0;
  readonly iopfHandler: (g: IopfGroup) => KResult;
  constructor(
    readonly id = 99,
    readonly nested = false,
  ) {
    this.iopfHandler = (g) => {
      if (this.result !== 0) return this.result;
      this.groups.push(g);
      return 0;
    };
  }
}

let nextHandle = 1000;
export function handleFor(domain: IopfDomain): AttachHandle {
  return { id: nextHandle++, domain, mm: null };
}
