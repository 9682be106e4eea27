/**
 * The progress bar on stderr (cli-progress): done/total, rate, ETA, violations so far. Shown only
 * on a terminal, never with --json, and only once a task has run for a moment, so quick commands
 * and piped output stay clean. Host-side only: nothing here reaches the model.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  /** `done` units of `total` finished, `violations` found so far. */
  update(done: number, violations: number): void;
  /** Change the total (e.g. when the real amount becomes known). */
  setTotal(total: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  /** What is counted (schedules, seeds, accesses, …). */
  unit: string;
  total: number;
  /** False with --json or when the caller wants silence. */
  enabled: boolean;
  stream?: NodeJS.WriteStream;
  /** Show the bar only after this long (ms); default 1000. */
  delayMs?: number;
}

const silent: Progress = { update: () => undefined, setTotal: () => undefined, stop: () => undefined };

function formatRate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(1)}k`;
  if (r >= 100) return r.toFixed(0);
  return r.toFixed(1);
}

export function startProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  if (!o.enabled || !stream.isTTY) return silent;
  const t0 = performance.now();
  const delay = o.delayMs ?? 1000;
  let total = o.total;
  let bar: SingleBar | undefined;
  let last = { done: 0, violations: 0 };
  const payload = (): { label: string; unit: string; rate: string; violations: number } => {
    const s = (performance.now() - t0) / 1000;
    return { label: o.label, unit: o.unit, rate: s > 0 ? formatRate(last.done / s) : '-', violations: last.violations };
  };
  return {
    update(done, violations) {
      last = { done, violations };
      if (bar === undefined) {
        if (performance.now() - t0 < delay) return;
        bar = new SingleBar({
          stream,
          format: '{label} [{bar}] {value}/{total} {unit} | {rate}/s | ETA {eta_formatted} | violations {violations}',
          // The cursor stays visible: an interrupted run (Ctrl-C) leaves no terminal state to restore.
          hideCursor: false,
          clearOnComplete: false,
          barsize: 30,
          etaBuffer: 50,
          fps: 5,
        });
        bar.start(total, done, payload());
        return;
      }
      bar.update(done, payload());
    },
    setTotal(t) {
      total = t;
      bar?.setTotal(t);
    },
    stop() {
      if (bar === undefined) return;
      bar.update(last.done, payload());
      bar.stop();
      bar = undefined;
    },
  };
}
