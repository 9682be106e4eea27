/** The library façade (`import { simulate, check } from 'iopf'`): one run, its trace, its check. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, loadScenario, simulate, RULE_IDS, BUGS } from '../../src/index.js';
import { jsonlFileWriter } from '../../src/trace/jsonl.js';

describe('library façade', () => {
  it('simulate → JSONL trace → check agree; bad input is a value, not an exception', async () => {
    const l = loadScenario('amd');
    expect(l.ok).toBe(true);
    if (!l.ok) return;
    const file = join(mkdtempSync(join(tmpdir(), 'iopf-api-')), 'amd.jsonl');
    const r = simulate(l.value.scenario, { seed: 3, sinks: [jsonlFileWriter(file)] });
    expect(r.report.violations).toEqual([]);
    const c = await check(file, { scenario: l.value.scenario });
    expect(c.errorCount).toBe(0);
    expect(c.violationCount).toBe(0);
    expect(c.records).toBeGreaterThan(r.report.page_requests); // every request has several events
    expect([...c.rulesExercised].sort()).toEqual([...r.report.rules_exercised].sort());
    const bad = loadScenario('no/such/scenario.yaml');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]!.message).toMatch(/no such file/);
  });

  it('exposes the rule catalogue and the bug zoo', () => {
    expect(RULE_IDS.length).toBeGreaterThanOrEqual(30);
    for (const b of BUGS) expect(RULE_IDS).toContain(b.rule);
  });
});

describe('a programmer error inside a step', () => {
  it('stops the run there and is reported with seed, virtual time and the replay command', () => {
    const l = loadScenario('amd');
    if (!l.ok) throw new Error('amd scenario does not load');
    const r = simulate(l.value.scenario, {
      seed: 4,
      setup: (world) => {
        const k = world.sim.registerKind('test:boom', () => {
          throw new RangeError('field out of range');
        });
        world.sim.at(5000, k);
      },
    }).report;
    expect(r.stop_reason).toBe('invariant');
    expect(r.violations[0]).toMatchObject({ rule: 'INVARIANT', time_ns: 5000 });
    expect(r.violations[0]!.detail).toMatch(/RangeError: field out of range \(seed 4, t=5000 ns, event \d+\)/);
    expect(r.replay).toBe('iopf run amd --seed 4');
  });
});
