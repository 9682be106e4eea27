/** The checker: rule catalogue, online monitor, offline check of trace files. */
export { RULES, RULE_IDS, ruleById, ruleIndex, type Rule, type RuleMode, type RuleSide } from './rules/index.js';
export {
  LATE_IGNORED,
  Monitor,
  type Balance,
  type LatencyStats,
  type MonitorMode,
  type MonitorOptions,
  type Violation,
} from './monitor.js';
export {
  checkFtrace,
  checkFtraceFile,
  checkJsonl,
  checkJsonlFile,
  type FtraceCheckOptions,
  type JsonlCheckOptions,
  type OfflineDiagnostic,
  type OfflineOptions,
  type OfflineResult,
} from './offline.js';
