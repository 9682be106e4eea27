/**
 * The HTML report in a real browser (a Chromium from the npm package @sparticuz/chromium, pinned in
 * package-lock.json and launched through playwright-core — see test/support/chromium.ts; nothing is
 * downloaded at run time and nothing needs apt): the default scenario's report, opened from a file:// URL, shows the summary
 * figures and its plots, logs no error and fetches nothing but itself. Also the CLI wiring:
 * `iopf run --html` and `iopf report RUN.json -o FILE.html` make the same file; a bad document is
 * exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../support/chromium.js';
import { loadScenario, renderHtmlReport, simulate, type RunReport } from '../../src/api.js';

const BIN = 'dist/cli/main.js';
const tmp = mkdtempSync(join(tmpdir(), 'iopf-html-'));
/** Kept after the run, so a human can look at it. */
const SCREENSHOT = join(tmpdir(), 'iopf-html-report.png');

function iopf(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let report: RunReport;
let file: string;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

beforeAll(async () => {
  const s = loadScenario('default');
  if (!s.ok) throw new Error(JSON.stringify(s.errors));
  const r = simulate(s.value.scenario, { scenarioRef: s.value.ref });
  report = r.report;
  file = join(tmp, 'report.html');
  writeFileSync(file, await renderHtmlReport(report, { latencyHistograms: r.metrics.hist }));
});

afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('HTML report in a browser', () => {
  it('HTML.BROWSER: opens offline, shows the summary and its plots, no console error, no request but the file', async () => {
    browser = await launchChromium();
    // The browser comes from npm (package-lock.json) unless the user named one.
    if (process.env.IOPF_CHROMIUM === undefined && process.platform === 'linux' && process.arch === 'x64')
      expect(browser.source).toMatch(/^npm @sparticuz\/chromium@\d+\./);
    const page = await browser.context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('request', (req) => requests.push(req.url()));
    const url = pathToFileURL(file).href;
    const resp = await page.goto(url, { waitUntil: 'load' });
    expect(resp === null || resp.ok()).toBe(true);

    expect(await page.title()).toBe(`iopf report — default (seed ${report.seed})`);
    expect((await page.textContent('#seed'))?.trim()).toBe(String(report.seed));
    expect((await page.textContent('#trace-sha256'))?.trim()).toBe(report.trace_sha256);
    expect((await page.textContent('#scenario'))?.trim()).toBe('default');
    const body = await page.innerText('body');
    expect(body).toContain(`success ${report.responses.success.toLocaleString('en-US')}`);
    expect(body).toContain(report.violations_total === 0 ? 'No rule violated' : 'violation');
    expect(body).toContain(report.replay);

    // Plots: inline SVG with drawn marks (non-empty paths), laid out with a real size.
    const plots = await page.$$eval('figure.plot', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const paths = svg ? [...svg.querySelectorAll('.role-mark path')].filter((p) => (p.getAttribute('d') ?? '').length > 10).length : 0;
        return { id: f.id, paths, width: box?.width ?? 0, height: box?.height ?? 0 };
      }),
    );
    expect(plots.length).toBeGreaterThanOrEqual(2);
    for (const p of plots) {
      expect(p.paths, p.id).toBeGreaterThan(0);
      expect(p.width, p.id).toBeGreaterThan(100);
      expect(p.height, p.id).toBeGreaterThan(50);
    }
    expect(plots.map((p) => p.id)).toEqual(expect.arrayContaining(['plot-group-latency', 'plot-response-codes']));

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
  });
});

describe('iopf run --html / iopf report', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) {
      const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`build failed: ${b.stdout}${b.stderr}`);
    }
  });

  it('CLI.REPORT: `run --html` and `report` of its --json document write the same self-contained file', () => {
    const a = join(tmp, 'run.html');
    const j = join(tmp, 'run.json');
    const b = join(tmp, 'from-json.html');
    const r = iopf('run', '--seed', '5', '--json', '--html', a);
    expect(r.code).toBe(0);
    writeFileSync(j, r.out);
    const doc = JSON.parse(r.out) as RunReport;
    expect(Object.keys(doc.histograms ?? {})).toContain('group_latency_ns');
    expect(iopf('report', j, '-o', b).code).toBe(0);
    const html = readFileSync(a, 'utf8');
    expect(readFileSync(b, 'utf8')).toBe(html);
    expect(html).toContain(doc.trace_sha256);
    expect(html).toContain('from the run’s HDR histogram');
  });

  it('CLI.REPORT.BAD_INPUT: a file that is not a run document is exit 2 with a one-line message', () => {
    const notJson = join(tmp, 'x.json');
    writeFileSync(notJson, 'not json');
    const r1 = iopf('report', notJson, '-o', join(tmp, 'x.html'));
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/not JSON .*iopf run --json/);
    const wrong = join(tmp, 'y.json');
    writeFileSync(wrong, JSON.stringify({ seed: 1, scenario: 3 }));
    const r2 = iopf('report', wrong, '-o', join(tmp, 'y.html'));
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/not an `iopf run --json` document: scenario: /);
    expect(r2.err).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(existsSync(join(tmp, 'y.html'))).toBe(false);
    expect(iopf('report', join(tmp, 'missing.json')).code).toBe(2);
  });
});
