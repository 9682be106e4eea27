/**
 * iopf — the library's public face. A thin façade: simulate a scenario, check a trace, load and
 * validate scenarios, list rules and known-bug variants, render reports. Internals live behind it.
 *
 * ```ts
 * import { loadScenario, simulate, check } from 'iopf';
 * const s = loadScenario('default');
 * if (s.ok) console.log(simulate(s.value.scenario, { seed: 7 }).report.trace_sha256);
 * ```
 */
export * from './api.js';
