/**
 * The bug canary (issues 7, 11): every known-bug variant is caught on its shipped scenario. Without
 * the bug the scenario (on the reference profile) runs clean at seed 1; with it — switched on by
 * `--bug`, or as part of a kernel profile that contains it (`--kernel P`) — the run reports the
 * variant's rule. A variant the checker misses is a hole in the checker. Also the `iopf list bugs
 * --json` contract.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BUGS, simulate } from '../../src/api.js';
import { bugScenarioFor } from '../../src/scenario/bugs.js';
import { loadScenario } from '../../src/scenario/files.js';
import { ruleById } from '../../src/check/rules/index.js';
import { PROFILES, profilesWith } from '../../src/scenario/profiles.js';
import type { Scenario } from '../../src/scenario/schema.js';

const BIN = 'dist/cli/main.js';

function scenarioOf(ref: string): Scenario {
  const r = loadScenario(ref === 'default' ? undefined : ref);
  if (!r.ok) throw new Error(`cannot load ${ref}: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.value.scenario;
}

describe('bug canary: each variant breaks its rule on its scenario at seed 1', () => {
  for (const b of BUGS) {
    it(`${b.name}: ${b.scenario} is clean without the bug and breaks ${b.rule} with it`, () => {
      expect(ruleById(b.rule), `rule ${b.rule} is in the catalogue`).toBeDefined();
      const sc = scenarioOf(b.scenario);
      const clean = simulate(sc, { seed: 1 }).report;
      expect(clean.violations).toEqual([]);
      expect(clean.violations_total).toBe(0);
      const buggy = simulate(sc, { seed: 1, bugs: [b.name] }).report;
      expect(buggy.bugs).toContain(b.name);
      expect(buggy.violations_total).toBeGreaterThan(0);
      expect(buggy.violations.map((v) => v.rule)).toContain(b.rule);
    });
  }

  for (const b of BUGS) {
    for (const p of profilesWith(b.name)) {
      const where = bugScenarioFor(b, p);
      it(`${b.name}: caught under --kernel ${p}, which contains it, on ${where}`, () => {
        const r = simulate(scenarioOf(where), { seed: 1, kernel: p }).report;
        expect(r.kernel).toBe(p);
        expect(r.violations.map((v) => v.rule)).toContain(b.rule);
      });
    }
  }

  it('bug scenarios run the reference profile (the bug comes from --bug or --kernel)', () => {
    for (const b of BUGS) expect(scenarioOf(b.scenario).kernel, b.scenario).toBe('reference');
  });

  it('the reference profile contains no switch; every other profile contains at least one bug', () => {
    for (const p of PROFILES) {
      if (p.name === 'reference') expect(p.switches).toEqual([]);
      else
        expect(
          BUGS.some((b) => p.switches.includes(b.name)),
          p.name,
        ).toBe(true);
    }
  });

  it('names a shipped scenario file (or "default") for every variant', () => {
    for (const b of BUGS) {
      if (b.scenario === 'default') continue;
      expect(b.scenario).toMatch(/^scenarios\/[a-z0-9-]+\.yaml$/);
      expect(existsSync(b.scenario), b.scenario).toBe(true);
    }
  });
});

describe('iopf list bugs --json', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) {
      const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
    }
  });

  it('prints [{name, scenario, summary, source}] for every variant, exit 0', () => {
    const r = spawnSync(process.execPath, [BIN, 'list', 'bugs', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((x) => x.name)).toEqual(BUGS.map((b) => b.name));
    for (const x of list) {
      for (const k of ['name', 'scenario', 'summary', 'source']) {
        expect(typeof x[k], `${String(x.name)}.${k}`).toBe('string');
        expect((x[k] as string).length).toBeGreaterThan(0);
      }
      const b = BUGS.find((y) => y.name === x.name)!;
      expect(x.scenario).toBe(b.scenario);
    }
  });
});
