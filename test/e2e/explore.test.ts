/**
 * Schedule exploration: with the seed fixed, the PrefixChooser walks the tree of same-time orderings
 * depth-first; distinct choices give distinct interleavings, and a recorded prefix replays exactly.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseScenario } from '../../src/scenario/loader.js';
import { simulate } from '../../src/api.js';
import { PrefixChooser, ReplayChooser, RandomChooser, Rng } from '../../src/sim/random.js';

const text = readFileSync('test/fixtures/scenarios/tiny-ties.yaml', 'utf8');
const parsed = parseScenario(text, 'tiny-ties.yaml');
if (!parsed.ok) throw new Error('fixture does not load');
const scenario = parsed.value;

describe('explore', () => {
  it('depth-first over same-time choices visits distinct schedules, all clean', () => {
    const hashes = new Set<string>();
    let prefix: number[] = [];
    for (let run = 0; run < 12; run++) {
      const chooser = new PrefixChooser(prefix);
      const r = simulate(scenario, { seed: 1, chooser }).report;
      expect(r.violations).toEqual([]);
      hashes.add(r.trace_sha256);
      expect(chooser.arity.length).toBeGreaterThan(0); // the scenario really has ties
      let i = chooser.taken.length - 1;
      while (i >= 0 && chooser.taken[i]! + 1 >= chooser.arity[i]!) i--;
      if (i < 0) break;
      prefix = [...chooser.taken.slice(0, i), chooser.taken[i]! + 1];
    }
    expect(hashes.size).toBeGreaterThan(5);
  });

  it('a recorded random schedule replays to the same trace; a prefix replays too', () => {
    const rec = new RandomChooser(new Rng(9, 'scheduler'), true);
    const first = simulate(scenario, { seed: 9, chooser: rec }).report.trace_sha256;
    expect(simulate(scenario, { seed: 9, chooser: new ReplayChooser(rec.recorded!) }).report.trace_sha256).toBe(first);
    const p = new PrefixChooser([1, 0, 1]);
    const a = simulate(scenario, { seed: 1, chooser: p }).report.trace_sha256;
    expect(simulate(scenario, { seed: 1, chooser: new PrefixChooser(p.taken) }).report.trace_sha256).toBe(a);
  });
});
