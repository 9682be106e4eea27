/**
 * Rule coverage (issue 7 acceptance): every rule of the catalogue is exercised by at least one
 * shipped scenario (seed 1, check full), and every rule has something that breaks it — a bug
 * variant on its scenario, or a crafted trace (test/fixtures/jsonl/<RULE>.jsonl, generated from the
 * case table in test/check/cases.ts).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { BUGS, RULES, RULE_IDS, checkJsonlFile, shippedScenarios, simulate } from '../../src/api.js';
import { loadScenario } from '../../src/scenario/files.js';
import { BASE_OPTS, CASES } from '../check/cases.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'jsonl');

describe('every rule is exercised by a shipped scenario', () => {
  const exercisedBy = new Map<string, string[]>();
  const names = shippedScenarios();

  it('there are shipped scenarios, each loads and runs', () => {
    expect(names).toContain('default');
    for (const n of names) {
      const l = loadScenario(n);
      if (!l.ok) throw new Error(`${n}: ${l.errors.map((e) => e.message).join('; ')}`);
      const r = simulate(l.value.scenario, { seed: 1, check: 'full' }).report;
      expect(r.rules_exercised.length, n).toBeGreaterThan(0);
      for (const id of r.rules_exercised) exercisedBy.set(id, [...(exercisedBy.get(id) ?? []), n]);
    }
  });

  it('the list of rules no shipped scenario exercises is empty', () => {
    expect(exercisedBy.size).toBeGreaterThan(0);
    expect(RULE_IDS.filter((id) => !exercisedBy.has(id))).toEqual([]);
  });
});

describe('every rule has a run or a trace that violates it', () => {
  const byBug = new Set(BUGS.map((b) => b.rule));

  for (const rule of RULES) {
    it(`${rule.id}: broken by ${byBug.has(rule.id) ? 'a bug variant and ' : ''}a crafted trace`, async () => {
      const path = join(FIX, `${rule.id}.jsonl`);
      expect(existsSync(path), path).toBe(true);
      const c = CASES[rule.id];
      expect(c, `case for ${rule.id}`).toBeDefined();
      const { mode: _m, inputs: _i, ...opts } = { ...BASE_OPTS, ...c!.opts };
      const res = await checkJsonlFile(path, opts);
      expect(res.errorCount).toBe(0);
      expect(Object.keys(res.violationsByRule)).toContain(rule.id);
    });
  }

  it('bug variants name rules of the catalogue (their runs are in canary.test.ts)', () => {
    for (const r of byBug) expect(RULE_IDS).toContain(r);
  });
});
