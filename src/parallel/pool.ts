/**
 * Running simulation jobs on every core: an executor (worker threads through tinypool, or the main
 * thread for one job at a time) and an ordered map over a lazy list of jobs.
 *
 * Results are handed to the caller strictly in job order, whatever order the threads finish in, so
 * "the first failing seed", a merged histogram or a progress count is the same for any number of
 * threads. Jobs are pulled from the list only as threads free up (the list may be endless, e.g.
 * `explore --generate` under a time budget); work started past a stop is thrown away.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tinypool } from 'tinypool';
import { runGenerateJob, runJob, type GenerateJob, type GenerateJobResult, type SimJob, type SimJobResult } from './jobs.js';

export interface Executor {
  /** Threads running jobs (1: the main thread). */
  readonly threads: number;
  readonly run: (job: SimJob) => Promise<SimJobResult>;
  /** One try of `explore --generate`. */
  readonly runGenerate: (job: GenerateJob) => Promise<GenerateJobResult>;
  /** Stop the threads (jobs still running are abandoned). */
  readonly close: () => Promise<void>;
}

/** `--jobs` default: every core the process may use. */
export function defaultJobs(): number {
  return availableParallelism();
}

/** The compiled worker entry (next to this file in dist/; from src/ under vitest, the built one). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  const file = here.endsWith('.ts') ? join(dir, '..', '..', 'dist', 'parallel', 'worker.js') : join(dir, 'worker.js');
  if (!existsSync(file)) throw new Error(`worker entry ${file} is missing (run \`npm run build\`)`);
  return file;
}

/** One job at a time in this thread. Each job starts from a macrotask, so timers (the progress
 * bar's redraw) run between jobs. */
function inline<J, R>(f: (job: J) => R): (job: J) => Promise<R> {
  return (job) =>
    new Promise<R>((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(f(job));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
}

function inlineExecutor(): Executor {
  return { threads: 1, run: inline(runJob), runGenerate: inline(runGenerateJob), close: () => Promise.resolve() };
}

/**
 * An executor with `threads` workers; 1 runs in the main thread (no worker start-up, and the same
 * `runJob` as the workers, so `--jobs 1` is the reference the parallel runs must match).
 */
export function createExecutor(threads: number): Executor {
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads: expected a positive integer, got ${threads}`);
  if (threads === 1) return inlineExecutor();
  const pool = new Tinypool({ filename: workerFile(), minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
  let closed = false;
  return {
    threads,
    run: (job) => pool.run(job) as Promise<SimJobResult>,
    runGenerate: (job) => pool.run(job) as Promise<GenerateJobResult>,
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.destroy();
    },
  };
}

export interface MapOrderedOptions<J, R> {
  /** Jobs in flight at once (normally the executor's threads). */
  concurrency: number;
  /** Called once per job, in job order. Return false to stop: no further job is started and no
   * further result is delivered. */
  onResult: (result: R, job: J, index: number) => boolean | undefined;
  /** Results held waiting for an earlier job (bounds memory when one job is slow); default 4 × concurrency. */
  window?: number;
}

export interface MapOrderedResult {
  /** Results delivered to onResult. */
  delivered: number;
  /** onResult asked to stop (as opposed to the jobs running out). */
  stopped: boolean;
}

/**
 * Run `jobs` through `exec`, `concurrency` at a time, delivering results in job order. A rejected
 * job rejects the whole map, once every earlier result has been delivered (so the error is the one
 * a sequential run would have met first).
 */
export async function mapOrdered<J, R>(jobs: Iterable<J>, exec: (job: J) => Promise<R>, opts: MapOrderedOptions<J, R>): Promise<MapOrderedResult> {
  const concurrency = Math.max(1, opts.concurrency);
  const window = Math.max(concurrency, opts.window ?? 4 * concurrency);
  const it = jobs[Symbol.iterator]();
  type Slot = { job: J; done: boolean; ok: boolean; value: R | undefined; error: unknown };
  const slots = new Map<number, Slot>();
  let nextIndex = 0; // next job to start
  let deliver = 0; // next result to hand over
  let inFlight = 0;
  let exhausted = false;
  let stopped = false;
  let wake: (() => void) | undefined;

  const start = (): void => {
    while (!exhausted && !stopped && inFlight < concurrency && nextIndex - deliver < window) {
      const n = it.next();
      if (n.done === true) {
        exhausted = true;
        break;
      }
      const index = nextIndex++;
      const slot: Slot = { job: n.value, done: false, ok: false, value: undefined, error: undefined };
      slots.set(index, slot);
      inFlight++;
      exec(n.value).then(
        (v) => {
          slot.done = true;
          slot.ok = true;
          slot.value = v;
          inFlight--;
          wake?.();
        },
        (e: unknown) => {
          slot.done = true;
          slot.error = e;
          inFlight--;
          wake?.();
        },
      );
    }
  };

  start();
  while (!stopped) {
    const slot = slots.get(deliver);
    if (slot === undefined) {
      if (exhausted) break;
      start();
      if (slots.get(deliver) === undefined) break;
      continue;
    }
    if (!slot.done) {
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
      continue;
    }
    slots.delete(deliver);
    if (!slot.ok) throw slot.error;
    const index = deliver++;
    if (opts.onResult(slot.value as R, slot.job, index) === false) stopped = true;
    start();
  }
  return { delivered: deliver, stopped };
}
