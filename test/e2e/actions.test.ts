/** Timed actions end to end: unbind quiesces, drains and flushes; a bind during an unbind waits for it. */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/loader.js';
import { simulate } from '../../src/api.js';

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
