/**
 * The JSON document of a run (`iopf run --json`): the fields named in the CLI contract first, then
 * the rest of the figures. Integer ns throughout.
 */
import type { HistName, Percentiles } from './metrics.js';
import type { Counterexample } from './counterexample.js';

export interface Violation {
  rule: string;
  time_ns: number;
  detail: string;
}

export interface Conservation {
  /** Page requests the functions sent (stop markers not included). */
  sent: number;
  /** Answered through their group's response (software). */
  answered: number;
  /** Answered by a hardware auto-response. */
  auto_answered: number;
  /** Dropped with accounting (queue overflow L=0, discarded partials, lost allocations, PRI reset). */
  dropped: number;
  /** Still outstanding at the end of the run. */
  outstanding: number;
  /** sent − (answered + auto_answered + dropped + outstanding): must be 0. */
  unaccounted: number;
}

export interface RunReport {
  seed: number;
  scenario: string;
  kernel: string;
  iommu: string;
  bugs: string[];
  events: number;
  virtual_time_ns: number;
  stop_reason: string;
  trace_sha256: string;
  page_requests: number;
  stop_markers: number;
  groups: number;
  responses: { success: number; invalid: number; failure: number; other: number };
  auto_responses: number;
  dropped: number;
  violations: Violation[];
  violations_total: number;
  rules_exercised: string[];
  latency_ns: Percentiles;
  latency_by_handler_ns: { sva: Percentiles; iommufd: Percentiles };
  credit_stalls: number;
  credit_stall_ns: Percentiles;
  dma: { accesses: number; completed: number; failed: number };
  /** SVA/iommufd binds and unbinds, PASIDs returned to the allocator, and binds that got one back. */
  pasids: { binds: number; unbinds: number; freed: number; reused: number };
  queue: Record<string, number>;
  conservation: Conservation;
  counters: Record<string, number>;
  /** The one command that replays this run. */
  replay: string;
  /**
   * The run's non-empty HDR histograms (Metrics.encode(), compressed base64), so `iopf report`
   * can plot latency distributions from a saved document.
   */
  histograms?: Partial<Record<HistName, string>>;
  /** The causal slice of the first violation (failing runs; see src/explore/counterexample.ts). */
  counterexample?: Counterexample;
  /** Violations grouped by rule, in order of first occurrence: how many, and the first one
   * (failing runs printed with --json; see violations.ts). */
  violations_by_rule?: { rule: string; count: number; first: Violation }[];
}
