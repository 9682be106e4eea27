/**
 * Calibrate to a machine, end to end through the built binary: `run --ftrace` → `fit` → `run
 * FITTED --set …` → `compare`; bad traces and bad overrides are bad input (exit 2, no stack trace).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = 'dist/cli/main.js';
const tmp = mkdtempSync(join(tmpdir(), 'iopf-fit-'));

function iopf(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(BIN)) {
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build failed: ${b.stdout}${b.stderr}`);
  }
});

const noStack = (s: string): void => {
  expect(s).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
};

describe('iopf fit / run --set / compare', () => {
  it('FIT.CLI: the three commands of "Calibrate to your machine"', () => {
    const trace = join(tmp, 'machine.txt');
    const base = iopf('run', '--ftrace', trace, '--json');
    expect(base.code).toBe(0);
    writeFileSync(join(tmp, 'base.json'), base.out);
    const fitted = join(tmp, 'fitted.yaml');
    const f = iopf('fit', trace, '-o', fitted);
    expect(f.code).toBe(0);
    expect(f.out).toMatch(/host service \(FIFO, 4 workers\)\s+n=\d+/);
    expect(f.out).toMatch(/KS\(table\) 0\.0\d+/);
    const yaml = readFileSync(fitted, 'utf8');
    expect(yaml).toContain('# not visible in a trace: default profile');
    expect(yaml).toMatch(/sva_group_ns:\n\s+dist: empirical/);
    const a = iopf('run', fitted, '--json');
    expect(a.code).toBe(0);
    const b = iopf('run', fitted, '--set', 'iommu.vtd.prq_order=2', '--set', 'iopf.workers=1', '--json');
    expect(b.code).toBe(0);
    expect((JSON.parse(b.out) as { replay: string }).replay).toContain('--set iommu.vtd.prq_order=2 --set iopf.workers=1');
    writeFileSync(join(tmp, 'a.json'), a.out);
    writeFileSync(join(tmp, 'b.json'), b.out);
    const html = join(tmp, 'cmp.html');
    const c = iopf('compare', join(tmp, 'a.json'), join(tmp, 'b.json'), '-o', html);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^group latency p99 /m);
    expect(readFileSync(html, 'utf8')).toContain('id="plot-group-latency"');
  });

  it('FIT.CLI.BAD_TRACE: the same line-numbered diagnostics as iopf check, exit 2, nothing written', () => {
    const bad = 'test/fixtures/ftrace/truncated.trace';
    const out = join(tmp, 'never.yaml');
    const f = iopf('fit', bad, '-o', out);
    const c = iopf('check', bad);
    expect(f.code).toBe(2);
    expect(c.code).toBe(2);
    const diag = (s: string): string[] => s.split('\n').filter((l) => l.startsWith(`${bad}:`));
    expect(diag(f.err).length).toBeGreaterThan(0);
    expect(diag(f.err)).toEqual(diag(c.out));
    expect(existsSync(out)).toBe(false);
    noStack(f.err);
  });

  it('SCENARIO.SET.CLI: a bad override names the --set and what was expected (exit 2), on run and on fit', () => {
    const r = iopf('run', '--set', 'iommu.vtd.prq_order=9');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--set iommu.vtd.prq_order=9: iommu.vtd.prq_order: Too big: expected number to be <=7');
    noStack(r.err);
    const f = iopf('fit', 'test/fixtures/ftrace/clean.trace', '--set', 'iopf.workers=0');
    expect(f.code).toBe(2);
    expect(f.err).toContain('--set iopf.workers=0: iopf.workers:');
    const x = iopf('explore', '--runs', '1', '--set', 'nope=1');
    expect(x.code).toBe(2);
    expect(x.err).toContain('--set nope=1: nope: unknown key "nope"');
  });
});
