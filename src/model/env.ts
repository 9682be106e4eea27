/**
 * The model environment every layer is built with: the engine, the trace bus, the scenario, the
 * compiled stage latencies, seeded streams, the named fault sites and the kernel profile's
 * behaviour switches.
 */
import type { Sim } from '../sim/engine.js';
import { Latency } from '../sim/latency.js';
import type { Rng } from '../sim/random.js';
import type { Tracer } from '../trace/tracer.js';
import type { LatencyConfig, Ratio, Scenario } from '../scenario/schema.js';
import type { Metrics } from '../report/metrics.js';

export type StageLatencies = { readonly [K in keyof LatencyConfig]: Latency };

export function compileLatencies(cfg: LatencyConfig): StageLatencies {
  const out: Partial<Record<keyof LatencyConfig, Latency>> = {};
  for (const k of Object.keys(cfg) as (keyof LatencyConfig)[]) {
    const spec = cfg[k];
    // Optional stages (sva_group_ns) stay undefined when the scenario does not set them.
    if (spec !== undefined) out[k] = new Latency(spec);
  }
  return out as StageLatencies;
}

export interface ModelEnv {
  readonly sim: Sim;
  readonly tracer: Tracer;
  readonly scenario: Scenario;
  readonly latency: StageLatencies;
  readonly metrics: Metrics;
  /**
   * Behaviour switches on in this run (src/scenario/profiles.ts): the kernel profile's bugs and
   * forms, plus the scenario's `bugs:` and `--bug`. Each layer reads the switches of its code.
   */
  readonly switches: ReadonlySet<string>;
  /** A seeded stream for a component (fork by a stable name). */
  stream(name: string): Rng;
  /** Whether a named fault site fires now (drawn from the scheduler's Chooser, so replays see it). */
  faultSite(p: Ratio): boolean;
}
