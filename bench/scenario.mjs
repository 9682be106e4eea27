// The bench scenario: the default scenario's hardware and traffic, scaled (see pipeline.mjs).
import { loadScenario } from '../dist/api.js';

export function benchScenario(pageRequests, handlerKind = 'sva', check = 'cheap') {
  const base = loadScenario('default');
  if (!base.ok) throw new Error(JSON.stringify(base.errors));
  const s = structuredClone(base.value.scenario);
  s.name = `bench-${handlerKind}`;
  s.check = check === 'off' ? 'off' : check;
  s.iommu.vtd.prq_order = 4;
  s.actions = [];
  s.until_ns = undefined;
  s.limits.max_events = Number.MAX_SAFE_INTEGER;
  const pages = s.workloads.reduce((n, w) => n + w.accesses * w.prg_pages, 0);
  const k = pageRequests / pages;
  for (const w of s.workloads) w.accesses = Math.round(w.accesses * k);
  const pairs = [...s.binds, { device: 'gpu0', process: 'proc4' }];
  if (handlerKind === 'iommufd') {
    // The same (device, process) pairs, each on a fault-capable hwpt with its own fault object and
    // VMM (iommufd + VMM instead of SVA). A VMM services a fault in vmm_service_ns (5–50 µs), so
    // six of them answer ~0.2 faults/µs where the SVA traffic offers ~1.75/µs: the rates are scaled
    // by 0.04 so that the VMMs keep up (otherwise credit-stalled accesses pile up without bound).
    s.binds = [];
    s.iommufd.faults = pairs.map((_, i) => ({ name: `f${i}`, read_batch: 16, policy: 'success', bad_buffer: { num: 0, den: 1 }, guest: false }));
    s.iommufd.attach = pairs.map((p, i) => ({ ...p, fault: `f${i}` }));
    for (const w of s.workloads) w.rate_per_us *= 0.04;
    // A burst of 200 one-page accesses costs its VMM ~5.4 ms of service (27 µs mean per fault):
    // bursts must come less often than that or the backlog (and the run's memory) grows without bound.
    for (const w of s.workloads) if (w.pattern === 'burst') w.burst_gap_ns = Math.max(w.burst_gap_ns, 12_000_000);
  } else s.binds = pairs;
  return s;
}


/** A bench-only reclaimer (kswapd stand-in): every 100 µs, discard 1/100 of every VMA, so that each
 * VMA is swept once per 10 ms of virtual time and pages keep faulting over a long run. */
export function addReclaimer(world) {
  const sim = world.sim;
  const TICKS = 100;
  let tick = 0;
  const kReclaim = sim.registerKind('bench:reclaim', () => {
    for (const mm of world.mms) {
      for (const v of mm.vmas) {
        const pages = v.size / 4096;
        const slice = Math.ceil(pages / TICKS);
        const from = (tick % TICKS) * slice;
        if (from < pages) mm.zap(v.start / 4096 + from, Math.min(slice, pages - from), 'discard');
      }
    }
    tick++;
    if (!world.workloads.every((w) => w.done)) sim.after(100_000, kReclaim);
  });
  sim.at(100_000, kReclaim);
}
