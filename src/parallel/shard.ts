/**
 * Which slice of a sweep this process runs: `--shard i/N`, or `--shard auto` from a cluster
 * scheduler's environment. Seeds are dealt round-robin: shard i runs the seeds whose offset from
 * the first seed is i modulo N, so every shard gets an even share of early and late seeds.
 *
 * `auto` reads, in this order:
 * - Slurm job arrays: SLURM_ARRAY_TASK_ID, with SLURM_ARRAY_TASK_MIN (default 0) and
 *   SLURM_ARRAY_TASK_STEP (default 1) giving the index (ID − MIN) / STEP, and SLURM_ARRAY_TASK_COUNT
 *   the count (if absent: (MAX − MIN) / STEP + 1 from SLURM_ARRAY_TASK_MAX). An array that is not one
 *   evenly stepped range (e.g. `--array=1,4,9`) is refused: its tasks could not cover the seeds.
 * - Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, with the count in IOPF_SHARD_COUNT (Kubernetes
 *   does not put `.spec.completions` in the environment; the shipped Job sets it to the same value).
 */
export interface Shard {
  index: number;
  count: number;
}

export type ShardParse = { ok: true; shard: Shard; source: string } | { ok: false; error: string };

const env = (e: Readonly<Record<string, string | undefined>>, name: string): number | undefined | 'bad' => {
  const v = e[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) return 'bad';
  return Number(v);
};

function fromEnvironment(e: Readonly<Record<string, string | undefined>>): ShardParse {
  const need = (name: string): number | string => {
    const v = env(e, name);
    if (v === 'bad') return `${name}="${e[name] ?? ''}" is not a non-negative integer`;
    if (v === undefined) return `${name} is not set`;
    return v;
  };
  if (e.SLURM_ARRAY_TASK_ID !== undefined && e.SLURM_ARRAY_TASK_ID !== '') {
    const id = need('SLURM_ARRAY_TASK_ID');
    if (typeof id === 'string') return { ok: false, error: `--shard auto: ${id}` };
    const min = env(e, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    const step = env(e, 'SLURM_ARRAY_TASK_STEP') ?? 1;
    const max = env(e, 'SLURM_ARRAY_TASK_MAX');
    const cnt = env(e, 'SLURM_ARRAY_TASK_COUNT');
    for (const [n, v] of [['SLURM_ARRAY_TASK_MIN', min], ['SLURM_ARRAY_TASK_STEP', step], ['SLURM_ARRAY_TASK_MAX', max], ['SLURM_ARRAY_TASK_COUNT', cnt]] as const)
      if (v === 'bad') return { ok: false, error: `--shard auto: ${n}="${e[n] ?? ''}" is not a non-negative integer` };
    const lo = min as number;
    const st = step as number;
    if (st < 1) return { ok: false, error: '--shard auto: SLURM_ARRAY_TASK_STEP must be at least 1' };
    const hi = max as number | undefined;
    let count = cnt as number | undefined;
    const span = hi !== undefined ? (hi - lo) / st + 1 : undefined;
    if (count === undefined) {
      if (span === undefined) return { ok: false, error: '--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is' };
      count = span;
    }
    if (span !== undefined && span !== count)
      return { ok: false, error: `--shard auto: the job array (${lo}..${hi ?? '?'} step ${st}) has ${count} tasks that do not form one evenly stepped range; submit the array as a range, e.g. --array=0-${count - 1}` };
    if ((id - lo) % st !== 0 || id < lo) return { ok: false, error: `--shard auto: SLURM_ARRAY_TASK_ID=${id} is not in the array ${lo}..${hi ?? '?'} step ${st}` };
    const index = (id - lo) / st;
    if (!Number.isInteger(count) || count < 1 || index >= count) return { ok: false, error: `--shard auto: task ${id} gives shard ${index} of ${count}` };
    return { ok: true, shard: { index, count }, source: `Slurm array task ${id} (${index}/${count})` };
  }
  if (e.JOB_COMPLETION_INDEX !== undefined && e.JOB_COMPLETION_INDEX !== '') {
    const index = need('JOB_COMPLETION_INDEX');
    if (typeof index === 'string') return { ok: false, error: `--shard auto: ${index}` };
    const count = need('IOPF_SHARD_COUNT');
    if (typeof count === 'string') return { ok: false, error: `--shard auto: JOB_COMPLETION_INDEX is set but ${count} (set it to the Job's .spec.completions)` };
    if (count < 1 || index >= count) return { ok: false, error: `--shard auto: JOB_COMPLETION_INDEX=${index} is not below IOPF_SHARD_COUNT=${count}` };
    return { ok: true, shard: { index, count }, source: `Kubernetes completion index ${index} (${index}/${count})` };
  }
  return { ok: false, error: '--shard auto: neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set' };
}

/** Parse `--shard` (`i/N` with 0 ≤ i < N, or `auto`). */
export function parseShard(spec: string, e: Readonly<Record<string, string | undefined>>): ShardParse {
  if (spec === 'auto') return fromEnvironment(e);
  const s = /^(\d+)\/(\d+)$/.exec(spec);
  if (s === null || Number(s[2]) < 1 || Number(s[1]) >= Number(s[2]) || !Number.isSafeInteger(Number(s[2])))
    return { ok: false, error: `--shard: expected i/N with 0 <= i < N, or auto, got "${spec}"` };
  return { ok: true, shard: { index: Number(s[1]), count: Number(s[2]) }, source: `--shard ${spec}` };
}

/** The seeds of `shard` in first..last (ascending). */
export function shardSeeds(first: number, last: number, shard: Shard): number[] {
  const out: number[] = [];
  for (let s = first + shard.index; s <= last; s += shard.count) out.push(s);
  return out;
}
