/**
 * The counterexample's message-sequence chart in the HTML report of a failing run, in a real
 * browser (the npm Chromium of test/support/chromium.ts): it renders (laid out, with drawn arrows
 * and dots), its lanes are the six of the slice in order, and its steps match the JSON
 * counterexample one for one (number, lane, receiving lane, text).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../support/chromium.js';
import { loadScenario, renderHtmlReport, simulate, type RunReport } from '../../src/api.js';
import { counterexample, LANES } from '../../src/explore/counterexample.js';

const tmp = mkdtempSync(join(tmpdir(), 'iopf-msc-'));
let report: RunReport;
let file: string;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

beforeAll(async () => {
  const s = loadScenario('scenarios/remove-while-handling.yaml');
  if (!s.ok) throw new Error(JSON.stringify(s.errors));
  const opts = { seed: 1, bugs: ['remove-frees-live-group'], scenarioRef: s.value.ref };
  const r = simulate(s.value.scenario, opts);
  report = r.report;
  const ce = counterexample(s.value.scenario, opts);
  if (ce === undefined) throw new Error('no counterexample');
  report.counterexample = ce;
  file = join(tmp, 'fail.html');
  writeFileSync(file, await renderHtmlReport(report));
});

afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('HTML report: the counterexample chart', () => {
  it('HTML.MSC: a failing run shows the sequence chart; its lanes and steps match the JSON counterexample', async () => {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const ce = report.counterexample!;
    const chart = await page.$eval('#counterexample svg.msc', (svg) => {
      const box = svg.getBoundingClientRect();
      return {
        width: box.width,
        height: box.height,
        lanes: [...svg.querySelectorAll('g.lane')].map((g) => ({ lane: g.getAttribute('data-lane'), x: Number(g.querySelector('line')?.getAttribute('x1')) })),
        steps: [...svg.querySelectorAll('g.step')].map((g) => ({
          n: Number(g.getAttribute('data-n')),
          lane: g.getAttribute('data-lane'),
          to: g.getAttribute('data-to'),
          text: g.querySelectorAll('text')[1]?.textContent ?? '',
          arrow: g.querySelector('line') !== null,
          dot: g.querySelector('circle') !== null,
          top: g.getBoundingClientRect().top,
        })),
        violation: svg.querySelector('g.violation')?.getAttribute('data-rule'),
      };
    });
    expect(chart.width).toBeGreaterThan(800);
    expect(chart.height).toBeGreaterThan(100);
    expect(chart.lanes.map((l) => l.lane)).toEqual([...LANES]);
    for (let i = 1; i < chart.lanes.length; i++) expect(chart.lanes[i]!.x).toBeGreaterThan(chart.lanes[i - 1]!.x);
    expect(chart.steps.length).toBe(ce.steps.length);
    ce.steps.forEach((s, i) => {
      const g = chart.steps[i]!;
      expect(g.n).toBe(s.n);
      expect(g.lane).toBe(s.lane);
      expect(g.to).toBe(s.to ?? null);
      expect(g.text).toContain(s.text);
      // A message is an arrow, a local step a dot.
      expect(g.arrow).toBe(s.to !== undefined);
      expect(g.dot).toBe(s.to === undefined);
      if (i > 0) expect(g.top).toBeGreaterThan(chart.steps[i - 1]!.top);
    });
    expect(chart.violation).toBe(ce.rule);
    expect(await page.innerText('#counterexample')).toContain(ce.statement);
    expect(errors).toEqual([]);
  });
});
