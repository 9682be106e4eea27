// Writes a Linux ftrace text trace (intel_iommu:prq_report + qi_submit page_grp_resp, as
// `iopf run --ftrace` writes it) of the bench scenario to `path` until it holds `bytes`
// (fit-offline-ftrace's input: the format a user with PRI hardware has).
import { openSync, writeSync, closeSync } from 'node:fs';
import { simulate } from '../dist/api.js';
import { FtraceWriter } from '../dist/trace/ftrace-writer.js';
import { benchScenario, addReclaimer } from './scenario.mjs';

const [path, bytesArg = '1e9'] = process.argv.slice(2);
const bytes = Number(bytesArg);
const fd = openSync(path, 'w');
let written = 0;
const scenario = benchScenario(bytes / 150, 'sva', 'off');
const devices = scenario.devices.map((d) => ({ rid: d.rid, name: d.name }));
const writer = new FtraceWriter(scenario.iommu.name, devices, (chunk) => {
  written += Buffer.byteLength(chunk);
  writeSync(fd, chunk);
}, () => closeSync(fd));
const t0 = process.hrtime.bigint();
const res = simulate(scenario, {
  seed: 1,
  check: 'off',
  sinks: [writer],
  setup: (world) => {
    addReclaimer(world);
    const k = world.sim.registerKind('bench:size', () => {
      if (written >= bytes) world.sim.stop('trace large enough');
      else world.sim.after(1_000_000, k);
    });
    world.sim.at(1_000_000, k);
  },
});
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ bytes: written, events: res.report.events, stop_reason: res.report.stop_reason, seconds: secs }));
