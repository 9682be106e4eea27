/** Timed actions end to end: unbind quiesces, drains and flushes; a bind during an unbind waits for it. */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/loader.js';
import { simulate } from '../../src/api.js';
import { RespSource, TraceKind } from '../../src/trace/events.js';
import { RespCode } from '../../src/iopf/types.js';

const text = `
name: rebind-during-unbind
devices: [{ name: d0, rid: "00:04.0" }]
processes: [{ name: p0, vmas: [{ start: 0x100000, size: 4MiB, perms: rw }] }]
binds: [{ device: d0, process: p0 }]
workloads:
  - { device: d0, process: p0, pattern: random, rate_per_us: 0.2, accesses: 300, prg_pages: 2, access: { write: "1/2" } }
  - { device: d0, process: p0, pattern: sequential, rate_per_us: 0.2, accesses: 200, prg_pages: 1, start_ns: 6000000 }
actions:
  - { op: unbind, at_ns: 3000000, device: d0, process: p0 }
  - { op: bind, at_ns: 3000001, device: d0, process: p0 }
`;

describe('timed actions', () => {
  it('a bind that arrives while the same pair is being unbound waits for the unbind, then binds again (same PASID)', () => {
    const p = parseScenario(text, 'rebind.yaml');
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const r = simulate(p.value, { seed: 1 }).report;
    expect(r.violations).toEqual([]);
    expect(r.counters.actions_failed).toBe(0);
    expect(r.pasids).toEqual({ binds: 2, unbinds: 1, freed: 0, reused: 0 });
    // The later workload runs on the new bind: its accesses complete (none skipped as unbound).
    expect(r.dma.accesses).toBe(500);
    expect(r.conservation.outstanding).toBe(0);
  });
});

/**
 * A driver's own iopf_queue_flush_dev(dev, pasid), outside a detach: two PASIDs of one function
 * served by a slow VMM through iommufd, so groups of both wait in user space when the flush of the
 * first comes (after its traffic has stopped, as the caller's contract asks).
 */
const flushText = (kernel: string, process: string): string => `
name: standalone-flush
kernel: ${kernel}
iommu: { family: vtd, name: dmar0 }
devices: [{ name: d0, rid: "00:04.0", pri: { capacity: 256, allocation: 64, response_pasid_required: true } }]
processes:
  - { name: p0, vmas: [{ start: 0x10000000, size: 4MiB, perms: rw }] }
  - { name: p1, vmas: [{ start: 0x40000000, size: 4MiB, perms: rw }] }
iommufd:
  faults: [{ name: fq0, read_batch: 4, policy: success }]
  attach: [{ device: d0, process: p0, fault: fq0 }, { device: d0, process: p1, fault: fq0 }]
latency:
  vmm_wake_ns: { dist: fixed, ns: 100000 }
  vmm_service_ns: { dist: fixed, ns: 2000000 }
workloads:
  - { device: d0, process: p0, pattern: sequential, rate_per_us: 1, accesses: 20, prg_pages: 2 }
  - { device: d0, process: p1, pattern: sequential, rate_per_us: 0.001, accesses: 6, prg_pages: 2 }
actions:
  - { op: flush, at_ns: 200000, device: d0${process} }
`;

interface Ev {
  kind: number;
  f: number[];
}

function runFlush(kernel: string, process: string): { events: Ev[]; report: ReturnType<typeof simulate>['report'] } {
  const p = parseScenario(flushText(kernel, process), 'flush.yaml');
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const events: Ev[] = [];
  const sink = { onEvent: (_t: number, kind: number, ...f: number[]): void => void events.push({ kind, f }) };
  const report = simulate(p.value, { seed: 1, sinks: [sink] }).report;
  return { events, report };
}

describe('timed actions: flush', () => {
  it('ACTION.FLUSH: a standalone flush(dev, pasid) comes once the function has stopped the PASID and has its answers, is traced as one flush of that PASID, and leaves the other PASID\'s groups to their owner', () => {
    const { events, report } = runFlush('reference', ', process: p0');
    expect(report.counters.actions_failed).toBe(0);
    const begins = events.filter((e) => e.kind === TraceKind.FLUSH_BEGIN);
    expect(begins.length).toBe(1);
    const pasid = begins[0]!.f[1]!;
    expect(pasid).toBeGreaterThanOrEqual(0);
    const at = events.indexOf(begins[0]!);
    expect(events.filter((e) => e.kind === TraceKind.FLUSH_END).map((e) => [e.f[1], e.f[4]])).toEqual([[pasid, 0]]);
    // The caller's contract: the function stopped the PASID (Stop Marker) after its last answer,
    // and nothing of the PASID is reported once the flush began.
    const stop = events.findIndex((e) => e.kind === TraceKind.STOP_MARKER && e.f[1] === pasid);
    expect(stop).toBeGreaterThanOrEqual(0);
    expect(stop).toBeLessThan(at);
    const recv = events.map((e, i) => (e.kind === TraceKind.RESPONSE_RECV && e.f[1] === pasid ? i : -1)).filter((i) => i >= 0);
    expect(recv.length).toBeGreaterThan(0);
    expect(Math.max(...recv)).toBeLessThan(stop);
    expect(events.slice(at).some((e) => e.kind === TraceKind.FAULT_REPORT && e.f[1] === pasid)).toBe(false);
    // The other PASID's groups, held by the slow VMM across the flush, are answered by the VMM.
    const other = events.filter((e) => e.kind === TraceKind.RESPONSE_SEND && e.f[1] !== pasid);
    expect(other.length).toBeGreaterThan(0);
    for (const e of other) expect([e.f[4], e.f[5]]).toEqual([RespCode.SUCCESS, RespSource.GROUP]);
    expect(events.slice(at).some((e) => e.kind === TraceKind.RESPONSE_SEND && e.f[1] !== pasid)).toBe(true);
    expect(report.violations).toEqual([]);
  });

  it('ACTION.FLUSH.MAINLINE: under mainline the same flush runs too, answers nothing of its own, and breaks no rule', () => {
    const { events, report } = runFlush('mainline', ', process: p0');
    expect(events.filter((e) => e.kind === TraceKind.FLUSH_END).length).toBe(1);
    expect(events.some((e) => e.kind === TraceKind.RESPONSE_SEND && e.f[5] === RespSource.FLUSH)).toBe(false);
    expect(report.violations).toEqual([]);
  });

  it('ACTION.FLUSH.DEVICE: without a process the whole device is flushed (no PASID) once every PASID of it is quiet, answering nothing', () => {
    const { events } = runFlush('reference', '');
    expect(events.filter((e) => e.kind === TraceKind.FLUSH_BEGIN).map((e) => e.f[1])).toEqual([-1]);
    const at = events.findIndex((e) => e.kind === TraceKind.FLUSH_BEGIN);
    expect(events.slice(at).some((e) => e.kind === TraceKind.FAULT_REPORT)).toBe(false);
    expect(events.some((e) => e.kind === TraceKind.RESPONSE_SEND && e.f[5] === RespSource.FLUSH)).toBe(false);
  });

  it('ACTION.FLUSH.NOT_ATTACHED: a flush of a pair with no PASID attached fails as an action, not as a crash', () => {
    // p1 keeps its traffic but is attached to nothing: no PASID to flush.
    const text = flushText('reference', ', process: p1').replace(', { device: d0, process: p1, fault: fq0 }', '');
    const p = parseScenario(text, 'flush.yaml');
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    expect(simulate(p.value, { seed: 1 }).report.counters.actions_failed).toBe(1);
  });
});
