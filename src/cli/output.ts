/** CLI plumbing: exit codes, usage errors, printing, and the checks every input file gets. */
import { closeSync, openSync, statSync } from 'node:fs';
import { readTextFile } from '../io/input-file.js';
export const EXIT = { CLEAN: 0, VIOLATION: 1, BAD_INPUT: 2 } as const;

/** A usage or input problem: printed as one line, exit 2, never a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A trace to stream: a regular file, or a FIFO or socket (trace-cmd piping into `iopf check`/`fit`,
 * `/dev/stdin` from a pipe). A directory, a missing file or a device is the user's error (exit 2),
 * checked before any work starts: a device such as /dev/zero or /dev/urandom never ends, so a
 * streaming reader would run in bounded memory but forever.
 */
export function checkTraceInput(path: string): void {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new UsageError(`cannot read ${path}: a directory, expected a trace file`);
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      throw new UsageError(`cannot read ${path}: a ${st.isBlockDevice() ? 'block' : 'character'} device, expected a trace file (a regular file or a pipe)`);
    }
    closeSync(openSync(path, 'r'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A read error while streaming (EIO, EISDIR on an odd file system) is about the input: exit 2. */
export function inputReadError(path: string, e: unknown): unknown {
  if (typeof (e as NodeJS.ErrnoException).code === 'string') return new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  return e;
}

/** Read a whole JSON input file (regular file, bounded, UTF-8), or exit 2 naming what is wrong. */
export function readJsonInput(path: string, maxBytes: number, what: string): unknown {
  const f = readTextFile(path, maxBytes, what);
  if (!f.ok) throw new UsageError(`${path}${f.line > 0 ? `:${f.line}:${f.col}` : ''}: ${f.message}`);
  try {
    return JSON.parse(f.text);
  } catch (e) {
    throw new UsageError(`${path}: not JSON (${(e as Error).message}); expected ${what}`);
  }
}
