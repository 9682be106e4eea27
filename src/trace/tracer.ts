/**
 * The trace bus. Model code calls `emit(kind, f0..f5)`; the tracer stamps the virtual time, counts,
 * folds the event into the canonical SHA-256 (always, so `trace_sha256` exists with or without a
 * trace file), and hands it to the sinks (online checker, writers). The canonical encoding is the
 * event as eight little-endian doubles (time, kind, fields): integers only, so bytes are stable.
 */
import { createHash, type Hash } from 'node:crypto';
import { TRACE_KIND_COUNT } from './events.js';

/**
 * A sink could not write its output (a full disk, a closed pipe): an operating error about the
 * output file, not a broken model invariant. The run stops and the error reaches the caller.
 */
export class SinkWriteError extends Error {
  override readonly name = 'SinkWriteError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot write ${path}: ${reason}`);
  }
}

export interface TraceSink {
  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void;
  /** Called once after the run (end-of-run checks, flushing writers). */
  finish?(t: number): void;
}

const ROW = 8;
const CHUNK_ROWS = 4096;

export class Tracer {
  readonly counts = new Float64Array(TRACE_KIND_COUNT);
  private readonly sinks: TraceSink[] = [];
  private readonly chunk = new Float64Array(ROW * CHUNK_ROWS);
  private readonly bytes = new Uint8Array(this.chunk.buffer);
  private rows = 0;
  private readonly hash: Hash = createHash('sha256');
  private digest: string | undefined;
  total = 0;

  constructor(private readonly clock: { readonly now: number }) {}

  addSink(sink: TraceSink): void {
    this.sinks.push(sink);
  }

  emit(kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    const t = this.clock.now;
    this.counts[kind]!++;
    this.total++;
    const c = this.chunk;
    let o = this.rows * ROW;
    c[o++] = t;
    c[o++] = kind;
    c[o++] = f0;
    c[o++] = f1;
    c[o++] = f2;
    c[o++] = f3;
    c[o++] = f4;
    c[o] = f5;
    if (++this.rows === CHUNK_ROWS) this.flushChunk();
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.onEvent(t, kind, f0, f1, f2, f3, f4, f5);
  }

  private flushChunk(): void {
    if (this.rows === 0) return;
    this.hash.update(this.bytes.subarray(0, this.rows * ROW * 8));
    this.rows = 0;
  }

  /** Ends the trace: flushes, runs the sinks' end-of-run checks, returns the hex digest. */
  finish(): string {
    if (this.digest !== undefined) return this.digest;
    this.flushChunk();
    for (const s of this.sinks) s.finish?.(this.clock.now);
    this.digest = this.hash.digest('hex');
    return this.digest;
  }
}
