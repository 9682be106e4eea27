/** Fitting a scenario to a trace (`iopf fit`): measurement, fixed-size distributions, the fitted scenario. */
export { fitTrace, traceFormat, jsonlRid, FIT_MAX_DEVICES, type FitOptions, type FitResult, type DeviceFit, type StreamFit } from './fit.js';
export { Distribution, ksTwoSample, quantile, DEFAULT_TABLE_ROWS, type DistributionSummary, type EmpiricalRow } from './distribution.js';
export { fittedScenario, type FittedScenario, type FittedScenarioOptions, type StageFit } from './scenario.js';
