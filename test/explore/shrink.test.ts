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

describe('the counterexample follows what the violation is about', () => {
  const shipped = (name: string): ReturnType<typeof loadDoc> => loadDoc(docOf(`scenarios/${name}.yaml`), name);

  it("CE.GATHERED_PARTIAL: CORE.GROUP.ONE_PASID's story holds the other PASID's partial fault, the answer that ended its PRG, and the group's closing request", () => {
    const l = shipped('gather-other-pasid');
    if (!l.ok) throw new Error('no load');
    const c = counterexample(l.value, { seed: 1, bugs: ['gather-ignores-pasid'], rule: 'CORE.GROUP.ONE_PASID' });
    expect(c).toBeDefined();
    if (c === undefined) return;
    const m = /PASID (\d+) PRG index (\d+)$/.exec(c.where);
    expect(m).not.toBeNull();
    const [, groupPasid, prgi] = m!;
    const other = groupPasid === '1' ? '2' : '1';
    const text = c.steps.map((s) => s.text);
    // The partial of the other PASID: sent, kept on the partial list.
    expect(text.some((t) => t.includes(`sends Page Request PASID ${other} PRG index ${prgi} L=0`))).toBe(true);
    expect(text.some((t) => t.includes(`PASID ${other} PRG index ${prgi} (L=0) kept on the partial list`))).toBe(true);
    // Its PRG ended (here: the core's error response once the PASID lost its handler) and the
    // function saw the answer, which freed the PRG index.
    expect(text.some((t) => t.includes(`receives the response for PRG index ${prgi} (PASID ${other})`))).toBe(true);
    // The replace that took the handler away.
    expect(text.some((t) => t.includes(`IOMMU_HWPT_REPLACE of 00:09.0 PASID ${other}`))).toBe(true);
    // The group's closing request and the group that gathered.
    expect(text.some((t) => t.includes(`sends Page Request PASID ${groupPasid} PRG index ${prgi} L=1`))).toBe(true);
    expect(text[text.length - 2]).toMatch(new RegExp(`L=1 for 00:09\\.0 PASID ${groupPasid} PRG index ${prgi} forms an iopf_group`));
    // Only the group's closing request of its own: its partial faults are not the story.
    expect(text.filter((t) => t.includes(`sends Page Request PASID ${groupPasid} PRG index ${prgi} L=0`))).toEqual([]);
    expect(c.steps.length).toBeLessThanOrEqual(30);
  });

  it('CE.IN_FLIGHT_LEFT_OUT: a host-side rule broken at a group\'s first requests leaves out its requests still on the link', () => {
    // No handler on the PASID: mainline answers each request of a 16-page group (bug
    // error-response-per-request); the second answer breaks HOST.RESP.ONE_PER_GROUP.
    const l = shipped('no-handler-pasid');
    if (!l.ok) throw new Error('no load');
    const c = counterexample(l.value, { seed: 1, bugs: ['error-response-per-request'], rule: 'HOST.RESP.ONE_PER_GROUP' });
    expect(c).toBeDefined();
    if (c === undefined) return;
    const sends = c.steps.filter((s) => s.kind === 'page_request').length;
    const reports = c.steps.filter((s) => s.kind === 'fault_report').length;
    // Every request shown was reported (or is the group's subject): none merely in flight.
    expect(sends).toBeLessThanOrEqual(reports + 1);
    expect(c.steps.length).toBeLessThanOrEqual(30);
  });

  it("CE.DRAINS: LIVENESS.DRAIN_ENDS's story holds every drain of the IOMMU beside the one that never ended, and the RIDs read as written (1c:0b.5, not a device index spliced into it)", () => {
    const l = shipped('vtd-concurrent-drains');
    if (!l.ok) throw new Error('no load');
    const c = counterexample(l.value, { seed: 1, bugs: ['vtd-drain-wakes-one'], rule: 'LIVENESS.DRAIN_ENDS' });
    expect(c).toBeDefined();
    if (c === undefined) return;
    const text = c.steps.map((s) => s.text);
    expect(text.filter((t) => /intel_drain_pasid_prq\(.*\) begins/.test(t))).toHaveLength(2);
    expect(text.filter((t) => /intel_drain_pasid_prq\(.*\) ends/.test(t))).toHaveLength(1);
    expect(c.detail).toMatch(/^the drain of device (1c:0b\.5|91:1e\.0) PASID \d+ \(begun at \d+ ns\) never ended/);
    expect(c.steps.length).toBeLessThanOrEqual(30);
  });

  it('SHRINK.TRUNCATE: traffic and actions after the violation are cut first (the run up to it is the same)', () => {
    const d = docOf('scenarios/remove-while-handling.yaml') as unknown as { workloads: { accesses: number }[]; actions?: unknown[] };
    // Each try is two runs (with the bug, and without it): the input, then the truncated input.
    const s = shrink({ doc: d as unknown as ScenarioInput, seed: 1, bugs: ['remove-frees-live-group'], maxRuns: 4 });
    expect(s.runs).toBe(4);
    expect(s.steps).toBe(1);
    const before = d.workloads.reduce((x, w) => x + w.accesses, 0);
    const after = (s.doc as unknown as { workloads: { accesses: number }[] }).workloads.reduce((x, w) => x + w.accesses, 0);
    expect(after).toBeLessThan(before);
  });
});
