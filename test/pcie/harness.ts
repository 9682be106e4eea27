/**
 * Small test harness for the hardware models: a Sim with insertion-order ties, a Tracer whose
 * events are recorded, fixed stage latencies, and a scenario parsed by the real schema.
 */
import { behavioursOf } from '../../src/scenario/profiles.js';
import { Sim } from '../../src/sim/engine.js';
import { Tracer } from '../../src/trace/tracer.js';
import { Metrics } from '../../src/report/metrics.js';
import { compileLatencies, type ModelEnv } from '../../src/model/env.js';
import { scenarioSchema, type ScenarioInput } from '../../src/scenario/schema.js';
import { KIND_INFO } from '../../src/trace/events.js';

export interface Ev {
  t: number;
  kind: number;
  f: [number, number, number, number, number, number];
}

export const LAT = {
  ats_ns: 100,
  page_request_ns: 200,
  irq_ns: 1000,
  decode_ns: 100,
  wq_dispatch_ns: 1000,
  minor_fault_ns: 1000,
  major_fault_ns: 100_000,
  response_ns: 500,
  dma_ns: 50,
  vmm_service_ns: 5000,
  guest_round_trip_ns: 10000,
} as const;

export function fixedLatencies(
  over: Partial<Record<keyof typeof LAT, number>> = {},
): Record<string, { dist: 'fixed'; ns: number }> {
  const out: Record<string, { dist: 'fixed'; ns: number }> = {};
  for (const [k, v] of Object.entries({ ...LAT, ...over })) out[k] = { dist: 'fixed', ns: v };
  return out;
}

export interface Harness {
  env: ModelEnv;
  sim: Sim;
  events: Ev[];
  /** Events of one kind, as objects with the kind's field names. */
  of(kind: number): Record<string, number>[];
  /** Run until virtual time `t` (an idle engine does not advance time by itself). */
  advanceTo(t: number): void;
}

export function makeHarness(
  input: Partial<ScenarioInput> = {},
  lat: Partial<Record<keyof typeof LAT, number>> = {},
): Harness {
  const scenario = scenarioSchema.parse({
    devices: [{ name: 'd0', rid: 0x10 }],
    latency: fixedLatencies(lat),
    ...input,
  });
  const sim = new Sim({ seed: 1, tieBreak: 'seq' });
  const tracer = new Tracer(sim);
  const events: Ev[] = [];
  tracer.addSink({
    onEvent(t, kind, f0, f1, f2, f3, f4, f5) {
      events.push({ t, kind, f: [f0, f1, f2, f3, f4, f5] });
    },
  });
  const env: ModelEnv = {
    sim,
    tracer,
    scenario,
    latency: compileLatencies(scenario.latency),
    metrics: new Metrics(),
    switches: behavioursOf(scenario.kernel, scenario.bugs),
    stream: (name) => sim.stream(name),
    faultSite: (p) => sim.chooser.chance(p.num, p.den),
  };
  const noop = sim.registerKind('test:tick', () => {});
  return {
    env,
    sim,
    events,
    advanceTo(t) {
      sim.at(t, noop);
      sim.run({ maxTimeNs: t });
    },
    of(kind) {
      const names = KIND_INFO[kind]!.fields;
      return events
        .filter((e) => e.kind === kind)
        .map((e) => {
          const o: Record<string, number> = { t: e.t };
          names.forEach((n, i) => {
            if (n !== null) o[n] = e.f[i]!;
          });
          return o;
        });
    },
  };
}
