/**
 * The trace bus. Model code calls `emit(kind, f0..f5)`; the tracer stamps the virtual time, counts,
 * folds the event into the canonical SHA-256 (always, so `trace_sha256` exists with or without a
 * trace file), and hands it to the sinks (online checker, writers).
 *
 * The canonical encoding hashed is one row per event, in little-endian 32-bit words:
 *  - narrow row (8 words, 32 bytes) when the time step dt = t − t(previous event) (0 before the
 *    first) and the six fields are all integers in [−2^31, 2^31): kind, dt, f0 … f5;
 *  - wide row (15 words, 60 bytes) otherwise: kind | 0x100, then dt, f0 … f5 each as an IEEE-754
 *    double (two words, low word first).
 * The first word says which form follows, so the encoding is one-to-one. Nearly every event is
 * narrow: half the bytes of eight doubles, which halves the hashing (SHA-256 was the largest
 * single cost of a run).
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

/** Words of a narrow and of a wide row. */
const NARROW = 8;
const WIDE = 15;
const WIDE_FLAG = 0x100;
/** Hash buffer (words); flushed when a wide row might not fit. */
const CHUNK_WORDS = 8192 * NARROW;

export class Tracer {
  readonly counts = new Float64Array(TRACE_KIND_COUNT);
  private readonly sinks: TraceSink[] = [];
  private readonly chunk = new Int32Array(CHUNK_WORDS);
  private readonly bytes = new Uint8Array(this.chunk.buffer);
  private words = 0;
  private lastT = 0;
  /** A double's two words (wide rows). */
  private readonly f64 = new Float64Array(1);
  private readonly f64w = new Int32Array(this.f64.buffer);
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
    const dt = t - this.lastT;
    this.lastT = t;
    const c = this.chunk;
    let o = this.words;
    if ((dt | 0) === dt && (f0 | 0) === f0 && (f1 | 0) === f1 && (f2 | 0) === f2 && (f3 | 0) === f3 && (f4 | 0) === f4 && (f5 | 0) === f5) {
      c[o++] = kind;
      c[o++] = dt;
      c[o++] = f0;
      c[o++] = f1;
      c[o++] = f2;
      c[o++] = f3;
      c[o++] = f4;
      c[o++] = f5;
      this.words = o;
    } else this.wideRow(kind, dt, f0, f1, f2, f3, f4, f5);
    if (this.words > CHUNK_WORDS - WIDE) this.flushChunk();
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.onEvent(t, kind, f0, f1, f2, f3, f4, f5);
  }

  private wideRow(kind: number, dt: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    const c = this.chunk;
    c[this.words++] = kind | WIDE_FLAG;
    this.double(dt);
    this.double(f0);
    this.double(f1);
    this.double(f2);
    this.double(f3);
    this.double(f4);
    this.double(f5);
  }

  private double(x: number): void {
    this.f64[0] = x;
    this.chunk[this.words++] = this.f64w[0]!;
    this.chunk[this.words++] = this.f64w[1]!;
  }

  private flushChunk(): void {
    if (this.words === 0) return;
    this.hash.update(this.bytes.subarray(0, this.words * 4));
    this.words = 0;
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
