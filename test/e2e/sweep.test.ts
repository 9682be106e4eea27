/**
 * Sweeps on every core and across a cluster, end to end through the built binary: the result file
 * does not depend on the number of threads, and shards merged equal one process, byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = 'dist/cli/main.js';
const tmp = mkdtempSync(join(tmpdir(), 'iopf-sweep-'));

function iopf(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const f = (name: string): string => join(tmp, name);

describe('sweep on threads and shards', () => {
  it('SWEEP.JOBS.IDENTICAL: sweep --jobs 2 and --jobs 1 write byte-identical results and print the same summary', () => {
    const one = iopf(['sweep', 'vtd-abort', '--seeds', '1..6', '--jobs', '1', '--out', f('j1.json'), '--json']);
    const two = iopf(['sweep', 'vtd-abort', '--seeds', '1..6', '--jobs', '2', '--out', f('j2.json'), '--json']);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    expect(readFileSync(f('j2.json'), 'utf8')).toBe(readFileSync(f('j1.json'), 'utf8'));
    expect(two.out).toBe(one.out);
    const file = JSON.parse(readFileSync(f('j1.json'), 'utf8'));
    expect(file.runs.map((r: { seed: number }) => r.seed)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(file.runs.map((r: { trace_sha256: string }) => r.trace_sha256)).size).toBe(6);
  });

  it('SWEEP.SHARDS.MERGE_IDENTICAL: four --shard i/4 runs merged equal one run of the same seeds, file and summary', () => {
    const whole = iopf(['sweep', 'vtd-abort', '--seeds', '3..9', '--jobs', '1', '--out', f('whole.json'), '--json']);
    expect(whole.code).toBe(0);
    const parts: string[] = [];
    for (const i of [2, 0, 3, 1]) {
      parts.push(f(`part-${i}.json`));
      expect(iopf(['sweep', 'vtd-abort', '--seeds', '3..9', '--shard', `${i}/4`, '--jobs', '2', '--out', f(`part-${i}.json`)]).code).toBe(0);
    }
    const merged = iopf(['merge', ...parts, '--out', f('merged.json'), '--json']);
    expect(merged.code).toBe(0);
    expect(readFileSync(f('merged.json'), 'utf8')).toBe(readFileSync(f('whole.json'), 'utf8'));
    expect(merged.out).toBe(whole.out);
  });

  it('SWEEP.FAILING_SEEDS: failing seeds are reported in seed order with their rules, exit 1, the same on 1 and 2 threads', () => {
    const args = ['sweep', 'vtd-abort', '--bug', 'vtd-resp-code-raw', '--seeds', '1..4', '--json'];
    const one = iopf([...args, '--jobs', '1']);
    const two = iopf([...args, '--jobs', '2']);
    expect(one.code).toBe(1);
    expect(two.out).toBe(one.out);
    const s = JSON.parse(one.out);
    expect(s.failing_seeds.length).toBeGreaterThan(0);
    expect(s.failing_seeds).toEqual([...s.failing_seeds].sort((a: number, b: number) => a - b));
    expect(s.failing[0].rules).toContain('HOST.RESP.CODE_DEFINED');
  });

  it('SWEEP.SHARD.AUTO: --shard auto takes the shard from a Slurm array task or a Kubernetes completion index and names its file', () => {
    const slurm = iopf(['sweep', 'vtd-abort', '--seeds', '1..4', '--shard', 'auto', '--jobs', '1', '--out', f('auto-{index}-of-{count}.json')], {
      SLURM_ARRAY_TASK_ID: '2',
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_MAX: '2',
      SLURM_ARRAY_TASK_COUNT: '2',
    });
    expect(slurm.code).toBe(0);
    expect(slurm.err).toContain('Slurm array task 2 (1/2)');
    const k8s = iopf(['sweep', 'vtd-abort', '--seeds', '1..4', '--shard', 'auto', '--jobs', '1', '--out', f('auto-{index}-of-{count}.json')], { JOB_COMPLETION_INDEX: '0', IOPF_SHARD_COUNT: '2' });
    expect(k8s.code).toBe(0);
    const a = JSON.parse(readFileSync(f('auto-0-of-2.json'), 'utf8'));
    const b = JSON.parse(readFileSync(f('auto-1-of-2.json'), 'utf8'));
    expect(a.runs.map((r: { seed: number }) => r.seed)).toEqual([1, 3]);
    expect(b.runs.map((r: { seed: number }) => r.seed)).toEqual([2, 4]);
    const none = iopf(['sweep', 'vtd-abort', '--shard', 'auto', '--out', f('x.json')], { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '' });
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/SLURM_ARRAY_TASK_ID.*JOB_COMPLETION_INDEX/);
  });

  it('MERGE.REFUSES: missing, duplicated, foreign or truncated shards are refused (exit 2, file named); --allow-partial merges with a warning', () => {
    const p0 = f('r0.json');
    const p1 = f('r1.json');
    expect(iopf(['sweep', 'vtd-abort', '--seeds', '1..4', '--shard', '0/2', '--jobs', '1', '--out', p0]).code).toBe(0);
    expect(iopf(['sweep', 'vtd-abort', '--seeds', '1..4', '--shard', '1/2', '--jobs', '1', '--out', p1]).code).toBe(0);
    const missing = iopf(['merge', p0]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('shards 1 of 2 are missing');
    const partial = iopf(['merge', p0, '--allow-partial', '--json']);
    expect(partial.code).toBe(0);
    expect(partial.err).toContain('warning');
    expect(JSON.parse(partial.out).shards).toBe('0 of 2');
    const dup = iopf(['merge', p0, p1, p0]);
    expect(dup.code).toBe(2);
    expect(dup.err).toContain(`shard 0/2 is also in ${p0}`);
    const other = f('other.json');
    expect(iopf(['sweep', 'vtd-abort', '--seeds', '1..5', '--shard', '1/2', '--jobs', '1', '--out', other]).code).toBe(0);
    const foreign = iopf(['merge', p0, other]);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toContain(`${other}: a shard of vtd-abort seeds 1..5`);
    const cut = JSON.parse(readFileSync(p1, 'utf8'));
    cut.runs.pop();
    const cutPath = f('cut.json');
    writeFileSync(cutPath, JSON.stringify(cut));
    const truncated = iopf(['merge', p0, cutPath]);
    expect(truncated.code).toBe(2);
    expect(truncated.err).toContain(`${cutPath}: runs: expected the 2 seeds of shards [1]`);
    expect(truncated.err).not.toMatch(/^\s+at /m);
  });

  it('EXPLORE.JOBS.IDENTICAL: explore reports the same first failing schedule and run count on 1 and 2 threads, random and exhaustive', () => {
    for (const mode of ['random', 'exhaustive']) {
      const args = ['explore', 'vtd-abort', '--bug', 'vtd-resp-code-raw', '--mode', mode, '--runs', '6', '--json'];
      const one = iopf([...args, '--jobs', '1']);
      const two = iopf([...args, '--jobs', '2']);
      expect(one.code).toBe(1);
      expect(two.out).toBe(one.out);
    }
    const clean = ['explore', 'test/fixtures/scenarios/tiny-ties.yaml', '--mode', 'exhaustive', '--runs', '30', '--json'];
    const c1 = iopf([...clean, '--jobs', '1']);
    expect(c1.code).toBe(0);
    expect(JSON.parse(c1.out).runs).toBe(30);
    expect(iopf([...clean, '--jobs', '2']).out).toBe(c1.out);
  });
});
