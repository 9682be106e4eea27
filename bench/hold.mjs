// Hold model: the bare engine loop. N events pending; each event, when popped, schedules one more
// at now + exponential(mean 1000 ns) — the classic priority-queue benchmark. One process per size.
import { Sim } from '../dist/sim/engine.js';
import { Rng } from '../dist/sim/random.js';

const pending = Number(process.argv[2] ?? 1e4);
// Mean delay: 1 ms by default (the model's time scale: handler and fault latencies are µs–ms);
// a small mean packs many events into each nanosecond and measures the same-time Chooser path.
const meanNs = Number(process.argv[5] ?? 1_000_000);
const events = Number(process.argv[3] ?? 5e6);
const sim = new Sim({ seed: 1, tieBreak: process.argv[4] ?? 'chooser', limits: { maxPending: 1 << 26 } });
const rng = new Rng(1, 'hold');
// Pre-drawn delays so the figure is the engine's, not the random generator's.
const DELAYS = new Float64Array(1 << 16);
for (let i = 0; i < DELAYS.length; i++) DELAYS[i] = 1 + Math.round(-Math.log(1 - rng.float()) * meanNs);
let i = 0;
const k = sim.registerKind('hold', () => {
  sim.after(DELAYS[i++ & 0xffff], k);
});
for (let j = 0; j < pending; j++) sim.at(DELAYS[j & 0xffff], k);
const t0 = process.hrtime.bigint();
const r = sim.run({ maxEvents: events });
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const out = {
  config: `hold-${pending.toExponential(0).replace('+', '')}`,
  mean_delay_ns: meanNs,
  tie_choices: sim.tieChoices,
  events: r.events,
  seconds: secs,
  events_per_s: r.events / secs,
  ns_per_event: (secs * 1e9) / r.events,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
};
console.log(JSON.stringify(out));
