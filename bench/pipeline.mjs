// Pipeline bench: the default scenario's hardware (VT-d, two PRI devices, SVA) with its traffic
// scaled to N page requests, run through `simulate` (the façade `iopf run` uses).
//   node bench/pipeline.mjs <config> <pageRequests> <check: off|cheap|full> <trace: none|columnar|jsonl>
//                           <handler: sva|iommufd> [rssAt]
// Traffic: the default scenario's workloads with `accesses` scaled so that the pages they touch
// add up to N (the unbind/exit/rebind actions are dropped: proc4 is bound from the start, proc1 keeps
// its bindings), the PRQ at Linux's size (prq_order 4 = 2048 entries). So that pages keep faulting
// over a long run, a bench-only reclaimer (a kswapd stand-in, one engine event per 100 µs) discards
// 1/100 of every VMA per tick, sweeping each VMA once per 10 ms of virtual time.
// `trace columnar`: a sink that packs every event into 64-byte rows (the tracer's canonical
// columnar encoding) and writes them in 256 KiB chunks to /dev/null — the cost of keeping a binary
// trace, without the disk. `trace jsonl`: the JSONL writer to /dev/null.
// Prints one JSON line. `rssAt` (page requests): also report peak RSS when that many were sent.
import { openSync, writeSync, closeSync } from 'node:fs';
import { simulate } from '../dist/api.js';
import { benchScenario, addReclaimer } from './scenario.mjs';
import { TraceKind } from '../dist/trace/events.js';

const [config = 'pipeline', nArg = '1e6', check = 'cheap', trace = 'none', handler = 'sva', rssAtArg] = process.argv.slice(2);
const target = Number(nArg);
const rssAt = rssAtArg === undefined ? undefined : Number(rssAtArg);

class ColumnarSink {
  constructor(path) {
    this.fd = openSync(path, 'w');
    this.rows = new Float64Array(8 * 4096);
    this.bytes = new Uint8Array(this.rows.buffer);
    this.n = 0;
  }
  onEvent(t, kind, f0, f1, f2, f3, f4, f5) {
    const r = this.rows;
    let o = this.n * 8;
    r[o++] = t; r[o++] = kind; r[o++] = f0; r[o++] = f1; r[o++] = f2; r[o++] = f3; r[o++] = f4; r[o] = f5;
    if (++this.n === 4096) this.flush();
  }
  flush() {
    if (this.n > 0) writeSync(this.fd, this.bytes, 0, this.n * 64);
    this.n = 0;
  }
  finish() {
    this.flush();
    closeSync(this.fd);
  }
}

const scenario = benchScenario(target, handler, check);
const sinks = [];
if (trace === 'columnar') sinks.push(new ColumnarSink('/dev/null'));
else if (trace === 'jsonl') {
  const { jsonlFileWriter } = await import('../dist/trace/jsonl.js');
  sinks.push(jsonlFileWriter('/dev/null'));
}
let rssAtMb;
const t0 = process.hrtime.bigint();
const res = simulate(scenario, {
  seed: 1,
  check: check,
  sinks,
  setup: (world) => {
    const sim = world.sim;
    addReclaimer(world);
    if (rssAt !== undefined) {
      const kProbe = sim.registerKind('bench:rss', () => {
        if (world.tracer.counts[TraceKind.PAGE_REQUEST] >= rssAt) rssAtMb = process.resourceUsage().maxRSS / 1024;
        else sim.after(1_000_000, kProbe);
      });
      sim.at(1_000_000, kProbe);
    }
  },
});
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const r = res.report;
if (res.invariant !== undefined) console.error(`invariant: ${res.invariant.message}`);
const out = {
  config,
  check,
  trace,
  handler,
  page_requests: r.page_requests,
  events: r.events,
  seconds: secs,
  page_requests_per_s: r.page_requests / secs,
  events_per_s: r.events / secs,
  ns_per_event: (secs * 1e9) / r.events,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  ...(rssAtMb !== undefined ? { [`peak_rss_mb_at_${rssAt.toExponential(0).replace('+', '')}`]: rssAtMb } : {}),
  virtual_time_ns: r.virtual_time_ns,
  stop_reason: r.stop_reason,
  groups: r.groups,
  responses: r.responses,
  auto_responses: r.auto_responses,
  dropped: r.dropped,
  violations_total: r.violations_total,
  outstanding: r.conservation.outstanding,
  latency_p50_ns: r.latency_ns.p50,
};
console.log(JSON.stringify(out));
