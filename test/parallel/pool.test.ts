/**
 * The parallel layer's ordering contracts, with stand-in executors that finish out of order: results
 * reach the caller in job order, a stop is exact, and the depth-first walk on N threads visits the
 * same schedules in the same order as on one.
 */
import { describe, expect, it } from 'vitest';
import { mapOrdered } from '../../src/parallel/pool.js';
import { exploreDepthFirst } from '../../src/parallel/depth-first.js';
import type { SimJob, SimJobResult } from '../../src/parallel/jobs.js';
import { parseScenario } from '../../src/scenario/loader.js';
import { readFileSync } from 'node:fs';

/** A deterministic pseudo-random delay per key, so completions interleave differently from starts. */
const delay = (key: number): Promise<void> => new Promise((r) => setTimeout(r, (key * 7919) % 13));

function hash(xs: readonly number[]): number {
  let h = 2166136261;
  for (const x of xs) h = Math.imul(h ^ (x + 1), 16777619) >>> 0;
  return h;
}

/**
 * A stand-in for simulate under a PrefixChooser: a tree of choice points whose arity depends on the
 * choices before it; a schedule "fails" when the hash of its choices hits `failMod`.
 */
function fakeRun(prefix: readonly number[], failMod: number): SimJobResult {
  const taken: number[] = [];
  const arity: number[] = [];
  // Like a real run, everything at a choice point depends only on the choices before it.
  for (let i = 0; i < 12 && (i < 6 || hash(taken) % 5 !== 0); i++) {
    const n = 1 + (hash(taken) % 3);
    const c = i < prefix.length ? prefix[i]! : 0;
    arity.push(n);
    taken.push(c);
  }
  const bad = failMod > 0 && hash(taken) % failMod === 0;
  return { seed: 1, trace_sha256: String(hash(taken)), violations_total: bad ? 1 : 0, rules: bad ? ['X'] : [], replay: '', page_requests: 0, events: 0, taken, arity };
}

/** The one-thread walk as the CLI always did it (the reference). */
function sequentialWalk(maxRuns: number, failMod: number): { order: string[]; runs: number; found: string | undefined } {
  const order: string[] = [];
  let prefix: number[] = [];
  let runs = 0;
  for (;;) {
    const r = fakeRun(prefix, failMod);
    runs++;
    order.push(r.trace_sha256);
    if (r.violations_total > 0) return { order, runs, found: r.taken!.join(',') };
    let i = r.taken!.length - 1;
    while (i >= 0 && r.taken![i]! + 1 >= r.arity![i]!) i--;
    if (i < 0 || runs >= maxRuns) return { order, runs, found: undefined };
    prefix = [...r.taken!.slice(0, i), r.taken![i]! + 1];
  }
}

const job = { scenario: {} as SimJob['scenario'], scenarioRef: 'x', seed: 1 };

describe('parallel pool', () => {
  it('PARALLEL.ORDER: results are delivered in job order whatever order the jobs finish in', async () => {
    const seen: number[] = [];
    const res = await mapOrdered(
      Array.from({ length: 40 }, (_, i) => i),
      async (i) => {
        await delay(i);
        return i * 10;
      },
      { concurrency: 4, onResult: (r, j, idx) => void seen.push(r, j, idx) },
    );
    expect(res).toEqual({ delivered: 40, stopped: false });
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => [i * 10, i, i]).flat());
  });

  it('PARALLEL.STOP: a stop delivers nothing after the stopping job and starts no more than the window past it', async () => {
    const started: number[] = [];
    const seen: number[] = [];
    function* jobs(): Generator<number> {
      for (let i = 0; ; i++) yield i; // endless, like a time-budgeted search
    }
    const res = await mapOrdered(
      jobs(),
      async (i) => {
        started.push(i);
        await delay(i);
        return i;
      },
      { concurrency: 3, window: 6, onResult: (r) => (seen.push(r), r !== 17) },
    );
    expect(res).toEqual({ delivered: 18, stopped: true });
    expect(seen).toEqual(Array.from({ length: 18 }, (_, i) => i));
    expect(Math.max(...started)).toBeLessThan(17 + 6);
  });

  it('PARALLEL.ERROR: a failing job rejects the map after the results before it are delivered', async () => {
    const seen: number[] = [];
    const p = mapOrdered(
      [0, 1, 2, 3, 4, 5],
      async (i) => {
        await delay(5 - i);
        if (i === 3 || i === 5) throw new Error(`job ${i}`);
        return i;
      },
      { concurrency: 6, onResult: (r) => void seen.push(r) },
    );
    await expect(p).rejects.toThrow('job 3');
    expect(seen).toEqual([0, 1, 2]);
  });

  for (const failMod of [0, 13, 61, 200]) {
    it(`EXPLORE.DFS.SAME_ORDER: the walk on 1–4 threads visits the one-thread walk's schedules in its order (fail 1/${failMod || '∞'})`, async () => {
      const ref = sequentialWalk(300, failMod);
      // The cases cover: no failure (the run limit stops the walk) and failures found deep in it.
      if (failMod === 0) expect(ref.runs).toBe(300);
      else expect(ref.found !== undefined && ref.runs > 5).toBe(true);
      for (const concurrency of [1, 2, 3, 4]) {
        const order: string[] = [];
        const res = await exploreDepthFirst(
          job,
          async (j) => {
            await delay(hash(j.prefix ?? []));
            return fakeRun(j.prefix ?? [], failMod);
          },
          { maxRuns: 300, concurrency, onRun: (r) => void order.push(r.trace_sha256) },
        );
        expect(order).toEqual(ref.order);
        expect(res.runs).toBe(ref.runs);
        expect(res.found?.choices.join(',')).toBe(ref.found);
      }
    });
  }

  it('EXPLORE.DFS.SAME_ORDER: on a real scenario with ties, 3 threads walk the same schedules as 1', async () => {
    const parsed = parseScenario(readFileSync('test/fixtures/scenarios/tiny-ties.yaml', 'utf8'), 'tiny-ties.yaml');
    if (!parsed.ok) throw new Error('fixture does not load');
    const { runJob } = await import('../../src/parallel/jobs.js');
    const base = { scenario: parsed.value, scenarioRef: 'tiny-ties', seed: 1 };
    const walk = async (concurrency: number): Promise<string[]> => {
      const order: string[] = [];
      await exploreDepthFirst(
        base,
        async (j) => {
          await delay(hash(j.prefix ?? []));
          return runJob(j);
        },
        { maxRuns: 40, concurrency, onRun: (r) => void order.push(r.trace_sha256) },
      );
      return order;
    };
    const one = await walk(1);
    expect(one).toHaveLength(40);
    expect(new Set(one).size).toBeGreaterThan(10);
    expect(await walk(3)).toEqual(one);
  });
});
