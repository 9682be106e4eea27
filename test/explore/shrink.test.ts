/**
 * Shrinking and the counterexample (issue 14 items 2 and 3), on a shipped bug scenario: the shrunk
 * scenario still breaks the same rule (and not without the bug), shrinking is deterministic, and
 * the counterexample is the causal slice told in the field's words.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { simulate } from '../../src/api.js';
import { loadDoc } from '../../src/explore/generate.js';
import { shrink, ShrinkError, docSize } from '../../src/explore/shrink.js';
import { counterexample, formatCounterexample, LANES } from '../../src/explore/counterexample.js';
import { ReplayChooser } from '../../src/sim/random.js';
import type { ScenarioInput } from '../../src/scenario/schema.js';

const docOf = (path: string): ScenarioInput => parse(readFileSync(path, 'utf8')) as ScenarioInput;

describe('iopf shrink', () => {
  const doc = docOf('scenarios/remove-while-handling.yaml');
  const input = { doc, seed: 1, bugs: ['remove-frees-live-group'] };
  const a = shrink(input);

  it('SHRINK.SAME_RULE: the shrunk scenario, run again, breaks the same rule — and not without the bug', () => {
    expect(a.rule).toBe('CORE.REMOVE.NO_LIVE_GROUP');
    const l = loadDoc(a.doc, 'min');
    expect(l.ok).toBe(true);
    if (!l.ok) return;
    const chooser = (): { chooser?: ReplayChooser } => (a.choices !== undefined ? { chooser: new ReplayChooser(a.choices) } : {});
    const again = simulate(l.value, { seed: a.seed, bugs: a.bugs, ...chooser() }).report;
    expect(again.violations.map((v) => v.rule)).toContain(a.rule);
    const clean = simulate(l.value, { seed: a.seed, ...chooser() }).report;
    expect(clean.violations.map((v) => v.rule)).not.toContain(a.rule);
  });

  it('SHRINK.SMALLER: devices, workloads and accesses are cut down', () => {
    expect(a.size.after).toBeLessThan(a.size.before / 20);
    expect(docSize(a.doc)).toBe(a.size.after);
    expect((a.doc.devices ?? []).length).toBe(1);
    expect(a.runs).toBeLessThanOrEqual(2000);
  });

  it('SHRINK.DETERMINISTIC: shrinking the same input twice gives the same output', () => {
    const b = shrink(input);
    expect(JSON.stringify(b.doc)).toBe(JSON.stringify(a.doc));
    expect(b.choices).toEqual(a.choices);
    expect(b.runs).toBe(a.runs);
  });

  it('SHRINK.REFUSES: an input that does not fail is an error, not a shrink', () => {
    expect(() => shrink({ doc, seed: 1, bugs: [] })).toThrow(ShrinkError);
    // The bug's rule does not break on a scenario that cannot show it.
    expect(() => shrink({ doc: docOf('scenarios/amd.yaml'), seed: 1, bugs: ['remove-frees-live-group'], rule: 'CORE.REMOVE.NO_LIVE_GROUP' })).toThrow(ShrinkError);
  });

  it('CE.SLICE: the counterexample is numbered, in field words, ends at the violation, and names no internal ids', () => {
    const c = counterexample(a.scenario, { seed: a.seed, bugs: a.bugs, rule: a.rule, ...(a.choices !== undefined ? { chooser: new ReplayChooser(a.choices) } : {}) });
    expect(c).toBeDefined();
    if (c === undefined) return;
    expect(c.rule).toBe('CORE.REMOVE.NO_LIVE_GROUP');
    expect(c.steps.length).toBeGreaterThan(3);
    expect(c.steps.length).toBeLessThanOrEqual(30);
    expect(c.steps.map((s) => s.n)).toEqual(c.steps.map((_, i) => i + 1));
    for (let i = 1; i < c.steps.length; i++) expect(c.steps[i]!.time_ns).toBeGreaterThanOrEqual(c.steps[i - 1]!.time_ns);
    for (const s of c.steps) {
      expect(LANES).toContain(s.lane);
      expect(s.text).not.toMatch(/\b(group|req|request) \d{2,}/);
    }
    const text = c.steps.map((s) => s.text).join('\n');
    // The story: the request, the group, the handler, the removal answering the group.
    expect(text).toMatch(/sends Page Request PASID \d+ PRG index \d+ L=1/);
    expect(text).toContain('iommu_sva_handle_iopf');
    expect(text).toContain('iopf_queue_remove_device');
    expect(text).toMatch(/\b[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b/);
    expect(c.detail).not.toMatch(/group \d+/);
    const out = formatCounterexample(c);
    expect(out).toMatch(/^counterexample: CORE\.REMOVE\.NO_LIVE_GROUP/);
    expect(out).toMatch(/✗ .*CORE\.REMOVE\.NO_LIVE_GROUP/);
  });

  it('CE.GROUPED: violations of one rule are counted, the first one expanded', () => {
    const l = loadDoc(doc, 'x');
    if (!l.ok) throw new Error('no load');
    const r = simulate(l.value, { seed: 1, bugs: ['remove-frees-live-group'] });
    const c = counterexample(l.value, { seed: 1, bugs: ['remove-frees-live-group'] });
    expect(c).toBeDefined();
    const total = Object.values(r.violationsByRule).reduce((x, y) => x + y, 0);
    expect(c!.by_rule.reduce((x, b) => x + b.count, 0)).toBe(total);
    expect(c!.count).toBe(r.violationsByRule[c!.rule]);
    expect(c!.rule).toBe(r.report.violations[0]!.rule);
  });

  it('CE.NONE: a clean run has no counterexample', () => {
    const l = loadDoc(doc, 'x');
    if (!l.ok) throw new Error('no load');
    expect(counterexample(l.value, { seed: 1 })).toBeUndefined();
  });
});
