/**
 * The rules that make the checker an oracle at the core's boundaries (issue 14 item 4): each is
 * listed with its source, exercised by real traffic without firing, broken by a hand-made trace
 * (`iopf check` of test/fixtures/jsonl/<ID>.jsonl exits 1 naming it), and caught on a canary — a
 * kernel form, a bug switch or a mutated handler that breaks what the rule states.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RULES, loadScenario, parseScenario, simulate, type Scenario } from '../../src/api.js';
import { Sva } from '../../src/handlers/sva/sva.js';

const BIN = 'dist/cli/main.js';
const FIX = join(import.meta.dirname, '..', 'fixtures', 'jsonl');

beforeAll(() => {
  if (!existsSync(BIN)) {
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build failed: ${b.stdout}${b.stderr}`);
  }
});

function shipped(name: string): Scenario {
  const l = loadScenario(name);
  if (!l.ok) throw new Error(name);
  return l.value.scenario;
}

/** A generated scenario kept as it was drawn (test/fixtures/generated/). */
function fixture(name: string): Scenario {
  const r = parseScenario(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'generated', `${name}.yaml`), 'utf8'), `${name}.yaml`);
  if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.errors[0])}`);
  return r.value;
}

function rulesOf(r: ReturnType<typeof simulate>): string[] {
  return [...new Set(r.report.violations.map((v) => v.rule))];
}

/** New rule → a shipped scenario whose traffic exercises it (seed 1, reference, clean). */
const EXERCISED: Record<string, string> = {
  'CORE.REMOVE.ANSWERED_ONCE': 'remove-while-handling',
  'SVA.PASID.NO_EARLY_REUSE': 'flush-pasid-reuse',
  'CORE.HANDLER.EACH_FAULT_ONCE': 'default',
  'IOMMUFD.DETACH.AUTO_RESPONSE': 'iommufd-bad-vmm',
};

describe('oracle rules: listed, exercised, broken by a crafted trace', () => {
  for (const [id, scenario] of Object.entries(EXERCISED)) {
    it(`${id}: listed by \`iopf list rules\` with its source`, () => {
      const r = RULES.find((x) => x.id === id);
      expect(r).toBeDefined();
      expect(r!.source).toMatch(/\w+\(\)|\w+_\w+|§/);
      const out = spawnSync(process.execPath, [BIN, 'list', 'rules'], { encoding: 'utf8' });
      expect(out.status).toBe(0);
      expect(out.stdout).toContain(id);
    });

    it(`${id}: evaluated on the traffic of ${scenario} (reference, seed 1) without firing`, () => {
      const r = simulate(shipped(scenario), { seed: 1, check: 'full' });
      expect(r.report.rules_exercised).toContain(id);
      expect(rulesOf(r)).not.toContain(id);
    });

    it(`${id}: \`iopf check\` of its hand-made JSONL trace exits 1 naming it`, () => {
      const out = spawnSync(process.execPath, [BIN, 'check', join(FIX, `${id}.jsonl`)], { encoding: 'utf8' });
      expect(out.status).toBe(1);
      expect(out.stdout).toContain(id);
    });
  }
});

describe('oracle rules: canaries', () => {
  it('CORE.REMOVE.ANSWERED_ONCE: v6.7 (pending copies, remove without the pending check) leaves a group unanswered at remove_device (generated seed 13)', () => {
    const scenario = fixture('v67-remove-unanswered');
    const bad = simulate(scenario, { seed: 13 });
    expect(rulesOf(bad)).toContain('CORE.REMOVE.ANSWERED_ONCE');
    expect(bad.report.violations.find((v) => v.rule === 'CORE.REMOVE.ANSWERED_ONCE')!.detail).toMatch(/^the group of device [0-9a-f]{2}:[0-9a-f]{2}\.\d PASID \d+ PRG index \d+ was never answered when remove_device returned$/);
    const good = simulate({ ...scenario, kernel: 'reference' }, { seed: 13 });
    expect(good.report.rules_exercised).toContain('CORE.REMOVE.ANSWERED_ONCE');
    expect(rulesOf(good)).not.toContain('CORE.REMOVE.ANSWERED_ONCE');
  });

  it('SVA.PASID.NO_EARLY_REUSE: a flush that only waits for the workqueue, in a kernel without iommufd auto-response, hands PASID 1 to app1 with vm0\'s groups still pending (flush-pasid-reuse)', () => {
    const r = simulate(shipped('flush-pasid-reuse'), { seed: 1, bugs: ['flush-ignores-pasid', 'no-iommufd-auto-response'] });
    expect(rulesOf(r)).toContain('SVA.PASID.NO_EARLY_REUSE');
    expect(r.report.violations.find((v) => v.rule === 'SVA.PASID.NO_EARLY_REUSE')!.detail).toMatch(/^PASID 1 was given to mm \d+ while the group of device 00:04\.0 PASID 1 PRG index \d+, sent for mm \d+, is still pending$/);
  });

  it('CORE.HANDLER.EACH_FAULT_ONCE: a mutated SVA handler that resolves the first fault of every group twice is caught', () => {
    const proto = Sva.prototype as unknown as { resolveNext: (g: { cursor: number }) => boolean };
    const orig = proto.resolveNext;
    proto.resolveNext = function (this: unknown, g: { cursor: number; mutated?: boolean }): boolean {
      const major = orig.call(this, g);
      // Mutation: the walk goes back once, so the group's first fault is resolved again.
      if (g.mutated !== true) {
        g.mutated = true;
        g.cursor--;
      }
      return major;
    };
    try {
      const r = simulate(shipped('default'), { seed: 1 });
      expect(rulesOf(r)).toContain('CORE.HANDLER.EACH_FAULT_ONCE');
      expect(r.report.violations.find((v) => v.rule === 'CORE.HANDLER.EACH_FAULT_ONCE')!.detail).toMatch(/^the handler of the group of device [0-9a-f:.]+ PASID \d+ PRG index \d+ resolved one of its faults twice$/);
    } finally {
      proto.resolveNext = orig;
    }
    expect(rulesOf(simulate(shipped('default'), { seed: 1 }))).not.toContain('CORE.HANDLER.EACH_FAULT_ONCE');
  });

  it('IOMMUFD.DETACH.AUTO_RESPONSE: bug iommufd-replace-new-hwpt leaves the replaced attachment\'s groups unanswered (iommufd-replace)', () => {
    const r = simulate(shipped('iommufd-replace'), { seed: 1, bugs: ['iommufd-replace-new-hwpt'] });
    expect(rulesOf(r)).toContain('IOMMUFD.DETACH.AUTO_RESPONSE');
    expect(r.report.violations.find((v) => v.rule === 'IOMMUFD.DETACH.AUTO_RESPONSE')!.detail).toMatch(/^the group of device 00:04\.0 PASID \d+ PRG index \d+ was left unanswered by the replace of its attachment$/);
  });
});
