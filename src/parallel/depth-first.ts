/**
 * Depth-first exploration of same-time orderings on several threads, visiting schedules in exactly
 * the order (and stopping at exactly the schedule) of the one-thread walk.
 *
 * The one-thread walk runs a choice prefix, then takes the deepest choice point with an untried
 * alternative and runs `taken[0..i) + [taken[i] + 1]`. Every alternative of every choice point of a
 * finished run is visited later (unless the walk stops): the run's prefix fixes the state at each
 * choice point, so the number of alternatives there is known. So each finished run pushes, per
 * choice point past its prefix, a "generator" of the remaining alternatives there; the walk's next
 * schedule is always the next value of the topmost generator. Threads that would otherwise idle run
 * the next values of the generators from the top down — schedules the walk is sure to reach — and
 * the walk consumes their results when it gets there.
 */
import type { SimJob, SimJobResult } from './jobs.js';

interface Generator {
  /** The choices taken by the run that found this choice point. */
  base: readonly number[];
  depth: number;
  /** Next alternative the walk will visit. */
  next: number;
  /** Next alternative not yet started. */
  issued: number;
  /** Number of alternatives at this choice point. */
  end: number;
  started: Map<number, Promise<SimJobResult>>;
}

export interface DepthFirstOptions {
  maxRuns: number;
  concurrency: number;
  /** Runs started but not yet consumed by the walk, at most (default 4 × concurrency). */
  window?: number;
  /** Called per schedule in walk order; return false to stop. */
  onRun: (result: SimJobResult, prefix: readonly number[], runs: number) => boolean | undefined;
}

export interface DepthFirstResult {
  runs: number;
  /** The first failing schedule in walk order. */
  found: { result: SimJobResult; choices: number[] } | undefined;
}

function prefixOf(g: Generator, value: number): number[] {
  const p = g.base.slice(0, g.depth);
  p.push(value);
  return p;
}

export async function exploreDepthFirst(
  job: Omit<SimJob, 'prefix' | 'want'>,
  exec: (job: SimJob) => Promise<SimJobResult>,
  opts: DepthFirstOptions,
): Promise<DepthFirstResult> {
  const window = Math.max(opts.concurrency, opts.window ?? 4 * opts.concurrency);
  const stack: Generator[] = [];
  let pending = 0; // started and not yet consumed by the walk
  let running = 0; // started and not finished
  const launch = (prefix: number[]): Promise<SimJobResult> => {
    pending++;
    running++;
    const p = exec({ ...job, prefix, want: { choices: true } });
    // Speculative runs are abandoned when the walk stops: never leave a rejection unobserved (the
    // walk's own await reports the error of a run it needs).
    const finished = (): void => {
      running--;
      speculate();
    };
    p.then(finished, finished);
    return p;
  };
  // Start the walk's sure-to-come schedules, topmost generator first, while threads are free.
  function speculate(): void {
    for (let k = stack.length - 1; k >= 0; k--) {
      const g = stack[k]!;
      while (g.issued < g.end) {
        if (running >= opts.concurrency || pending >= window) return;
        g.started.set(g.issued, launch(prefixOf(g, g.issued)));
        g.issued++;
      }
    }
  }

  let runs = 0;
  let current: Promise<SimJobResult> = launch([]);
  let currentPrefix: number[] = [];
  for (;;) {
    speculate();
    const r = await current;
    pending--;
    runs++;
    if (opts.onRun(r, currentPrefix, runs) === false) return { runs, found: undefined };
    if (r.violations_total > 0) return { runs, found: { result: r, choices: r.taken ?? [] } };
    const taken = r.taken ?? [];
    const arity = r.arity ?? [];
    for (let j = currentPrefix.length; j < taken.length; j++) {
      if (taken[j]! + 1 < arity[j]!) stack.push({ base: taken, depth: j, next: taken[j]! + 1, issued: taken[j]! + 1, end: arity[j]!, started: new Map() });
    }
    if (runs >= opts.maxRuns) return { runs, found: undefined };
    const g = stack[stack.length - 1];
    if (g === undefined) return { runs, found: undefined };
    const value = g.next++;
    currentPrefix = prefixOf(g, value);
    const s = g.started.get(value);
    if (s !== undefined) {
      g.started.delete(value);
      current = s;
    } else {
      g.issued = value + 1;
      current = launch(currentPrefix);
    }
    if (g.next >= g.end) stack.pop();
  }
}
