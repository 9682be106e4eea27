// Shared by the trace generators (gen-jsonl.mjs, gen-ftrace.mjs): run the bench scenario with one
// trace writer into `path` until the file holds `bytes`, then print what was written (one JSON line).
import { openSync, writeSync, closeSync } from 'node:fs';
import { simulate } from '../dist/api.js';
import { addReclaimer } from './scenario.mjs';

/** `makeWriter(write, close)` builds the sink; `scenario` asks for more traffic than `bytes` needs. */
export function writeTraceFile(path, bytes, scenario, makeWriter) {
  const fd = openSync(path, 'w');
  let written = 0;
  const writer = makeWriter(
    (chunk) => {
      written += Buffer.byteLength(chunk);
      writeSync(fd, chunk);
    },
    () => closeSync(fd),
  );
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
}
