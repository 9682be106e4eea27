// Explore bench: schedules per second of `iopf explore` on the default scenario (random mode, the
// seeds in order, nothing found), through the same pool the CLI uses, at 1 and more threads.
//   node bench/explore.mjs <threads> <schedules>
// The clock starts after the workers are up (each has run one schedule), so the figure is the
// steady rate, not Node's worker start-up (~0.2 s per thread, paid once per command).
import { loadScenario } from '../dist/api.js';
import { createExecutor, mapOrdered } from '../dist/parallel/pool.js';

const threads = Number(process.argv[2] ?? 1);
const schedules = Number(process.argv[3] ?? 40);
const loaded = loadScenario('default');
if (!loaded.ok) throw new Error('default scenario does not load');
const { scenario, ref } = loaded.value;
const exec = createExecutor(threads);
const job = (seed) => ({ scenario, scenarioRef: ref, seed, bugs: [] });
// Warm-up: one schedule per thread (worker start, module load, JIT).
await Promise.all(Array.from({ length: threads }, (_, i) => exec.run(job(1_000_000 + i))));
let events = 0;
let violations = 0;
const t0 = process.hrtime.bigint();
const res = await mapOrdered(
  (function* () {
    for (let s = 1; s <= schedules; s++) yield job(s);
  })(),
  exec.run,
  { concurrency: threads, onResult: (r) => void ((events += r.events), (violations += r.violations_total)) },
);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
await exec.close();
console.log(
  JSON.stringify({
    config: `explore-j${threads}`,
    threads,
    schedules: res.delivered,
    violations,
    events,
    seconds: secs,
    schedules_per_s: res.delivered / secs,
    events_per_s: events / secs,
    ns_per_event: (secs * 1e9) / events,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }),
);
