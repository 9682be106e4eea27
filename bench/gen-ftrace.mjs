// Writes a Linux ftrace text trace (intel_iommu:prq_report + qi_submit page_grp_resp, as
// `iopf run --ftrace` writes it) of the bench scenario to `path` until it holds `bytes`
// (fit-offline-ftrace's input: the format a user with PRI hardware has).
import { FtraceWriter } from '../dist/trace/ftrace-writer.js';
import { benchScenario } from './scenario.mjs';
import { writeTraceFile } from './trace-file.mjs';

const [path, bytesArg = '1e9'] = process.argv.slice(2);
const bytes = Number(bytesArg);
const scenario = benchScenario(bytes / 150, 'sva', 'off');
const devices = scenario.devices.map((d) => ({ rid: d.rid, name: d.name }));
writeTraceFile(path, bytes, scenario, (write, close) => new FtraceWriter(scenario.iommu.name, devices, write, close));
