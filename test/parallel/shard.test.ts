/**
 * `--shard`: explicit i/N and `auto` from Slurm job arrays and Kubernetes Indexed Jobs; seeds dealt
 * round-robin so the shards of a range cover it exactly once.
 */
import { describe, expect, it } from 'vitest';
import { parseShard, shardSeeds } from '../../src/parallel/shard.js';

const ok = (spec: string, env: Record<string, string> = {}): { index: number; count: number } => {
  const r = parseShard(spec, env);
  if (!r.ok) throw new Error(r.error);
  return r.shard;
};
const err = (spec: string, env: Record<string, string> = {}): string => {
  const r = parseShard(spec, env);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.shard)}`);
  return r.error;
};

describe('shards', () => {
  it('SHARD.EXPLICIT: i/N with 0 <= i < N; anything else is refused with what was expected', () => {
    expect(ok('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['4/4', '1/0', 'x', '1/', '-1/3']) expect(err(bad)).toMatch(/expected i\/N/);
  });

  it('SHARD.AUTO.SLURM: index = (ID − MIN) / STEP, count = SLURM_ARRAY_TASK_COUNT', () => {
    expect(ok('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '3' })).toEqual({ index: 3, count: 4 });
    expect(ok('auto', { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '4' })).toEqual({ index: 0, count: 4 });
    expect(ok('auto', { SLURM_ARRAY_TASK_ID: '10', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '2', SLURM_ARRAY_TASK_MAX: '10', SLURM_ARRAY_TASK_STEP: '4' })).toEqual({ index: 2, count: 3 });
  });

  it('SHARD.AUTO.SLURM_MINMAX: without SLURM_ARRAY_TASK_COUNT the count is (MAX − MIN) / STEP + 1', () => {
    expect(ok('auto', { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_MAX: '12' })).toEqual({ index: 0, count: 8 });
    expect(err('auto', { SLURM_ARRAY_TASK_ID: '5' })).toMatch(/neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX/);
  });

  it('SHARD.AUTO.SLURM_IRREGULAR: an array that is not one stepped range is refused (its tasks could not cover the seeds)', () => {
    expect(err('auto', { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '9' })).toMatch(/evenly stepped range/);
    expect(err('auto', { SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '3' })).toMatch(/SLURM_ARRAY_TASK_ID="x" is not a non-negative integer/);
  });

  it('SHARD.AUTO.K8S: JOB_COMPLETION_INDEX with IOPF_SHARD_COUNT; without the count, say which variable to set', () => {
    expect(ok('auto', { JOB_COMPLETION_INDEX: '2', IOPF_SHARD_COUNT: '4' })).toEqual({ index: 2, count: 4 });
    expect(err('auto', { JOB_COMPLETION_INDEX: '2' })).toMatch(/IOPF_SHARD_COUNT is not set.*completions/);
    expect(err('auto', { JOB_COMPLETION_INDEX: '4', IOPF_SHARD_COUNT: '4' })).toMatch(/not below/);
  });

  it('SHARD.AUTO.NONE: with no scheduler in the environment, auto names both variables it looked for', () => {
    expect(err('auto', {})).toMatch(/SLURM_ARRAY_TASK_ID.*JOB_COMPLETION_INDEX/);
  });

  it('SHARD.SEEDS: the shards of a range deal its seeds round-robin and cover each exactly once', () => {
    expect(shardSeeds(1, 10, { index: 1, count: 4 })).toEqual([2, 6, 10]);
    const all = [0, 1, 2, 3].flatMap((index) => shardSeeds(5, 17, { index, count: 4 })).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 13 }, (_, i) => 5 + i));
    expect(shardSeeds(1, 2, { index: 3, count: 4 })).toEqual([]);
  });
});
