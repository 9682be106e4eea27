// Writes a JSONL trace of the bench scenario to `path` until it holds `bytes` (check-offline's input).
import { openSync, writeSync, closeSync } from 'node:fs';
import { simulate } from '../dist/api.js';
import { JsonlWriter } from '../dist/trace/jsonl.js';
import { benchScenario, addReclaimer } from './scenario.mjs';

const [path, bytesArg = '1e9'] = process.argv.slice(2);
const bytes = Number(bytesArg);
const fd = openSync(path, 'w');
let written = 0;
const writer = new JsonlWriter(
  (chunk) => {
    written += Buffer.byteLength(chunk);
    writeSync(fd, chunk);
  },
  { bufferChars: 1 << 20, close: () => closeSync(fd) },
);
const t0 = process.hrtime.bigint();
// ~100 bytes a record and ~4 records a page request: ask for more than enough, stop at `bytes`.
const res = simulate(benchScenario(bytes / 200, 'sva', 'off'), {
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
