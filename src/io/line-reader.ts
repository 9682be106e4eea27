/**
 * Streaming line reader for trace files (the offline checker's input path).
 *
 * Reads bytes in large chunks and splits them on `\n` by scanning Buffers, so memory stays bounded
 * by one chunk plus the longest accepted line, whatever the file size. Lines longer than
 * `maxLineBytes` are skipped to their end without being kept and reported once; a line holding a
 * NUL byte is reported as `binary`, one that is not valid UTF-8 as `invalid-utf8`. These are
 * returned as values: a trace with garbage in it is an operating condition, not a bug.
 *
 * Speed matters (traces of tens of millions of lines): a line inside one chunk is decoded straight
 * from the chunk (no copy, no Buffer.concat); only a line that straddles chunks is joined. Pure-ASCII
 * chunks (the common case for ftrace text) are decoded as latin1, which V8 does fastest.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { isAscii, isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';

/** One line of text, without its `\n` (and without a `\r` before it). `lineNo` counts from 1. */
export interface LineText {
  readonly lineNo: number;
  readonly text: string;
}

export type LineErrorKind = 'line-too-long' | 'binary' | 'invalid-utf8';

/** A line that could not be returned as text. */
export interface LineError {
  readonly lineNo: number;
  readonly error: LineErrorKind;
  /** Length of the line in bytes (without the line terminator). */
  readonly bytes: number;
  /** For `binary` and `invalid-utf8`: 1-based byte offset in the line of the first bad byte. */
  readonly column?: number;
}

export type LineItem = LineText | LineError;

export interface ReadLinesOptions {
  /** Longest line returned as text, in bytes; longer lines become `line-too-long`. Default 1 MiB. */
  readonly maxLineBytes?: number;
  /** Read size when `source` is a path. Default 1 MiB. */
  readonly highWaterMark?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
const DEFAULT_HIGH_WATER_MARK = 1 << 20;
const LF = 0x0a;
const CR = 0x0d;

/** Buffer's native decoders; present on every Node Buffer but missing from @types/node. */
interface FastSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as FastSlices).latin1Slice(start, end);
}

function utf8(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as FastSlices).utf8Slice(start, end);
}

export function isLineError(item: LineItem): item is LineError {
  return 'error' in item;
}

/**
 * Receives lines as bytes, not strings (the fast path of `pushBytes`): `buf[start, end)` is the line
 * without its terminator, valid only during the call. Lines the splitter itself rejects (too long)
 * arrive through `error`. A consumer that cannot use the bytes directly decodes them with
 * `decodeLine`, which applies the same NUL / UTF-8 / byte-order-mark rules as the text path.
 */
export interface ByteLineSink {
  bytes(buf: Buffer, start: number, end: number, lineNo: number): void;
  error(e: LineError): void;
}

/** A line's bytes as text, or why they are not text (NUL byte, invalid UTF-8). */
export function decodeLine(buf: Buffer, start: number, end: number, lineNo: number): LineItem {
  const nul = buf.indexOf(0, start);
  if (nul >= 0 && nul < end) return { lineNo, error: 'binary', bytes: end - start, column: nul - start + 1 };
  const line = buf.subarray(start, end);
  if (isAscii(line)) return { lineNo, text: latin1(buf, start, end) };
  if (isUtf8(line)) {
    const text = utf8(buf, start, end);
    // A UTF-8 byte order mark on the first line is an encoding artefact, not content.
    return { lineNo, text: lineNo === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  }
  const bad = firstInvalidUtf8(buf, start, end);
  return { lineNo, error: 'invalid-utf8', bytes: end - start, column: (bad < 0 ? 0 : bad - start) + 1 };
}

/** Offset of the first byte that breaks UTF-8 in `buf[start, end)`, or -1. Only on the error path. */
export function firstInvalidUtf8(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    // The sequence must end inside the line.
    if (i + need >= end) return i;
    let cp = b & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * The synchronous core: feed chunks with `push`, then call `end`. Exposed so tests can cut input at
 * arbitrary chunk boundaries and so callers with their own I/O can reuse it.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private lineNo = 0;
  /** Pieces of a line that started in an earlier chunk (total `carryLen` bytes). */
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** Set while skipping the rest of an over-long line; counts its bytes so far. */
  private skipping = false;
  private skipLen = 0;
  /** Last byte handed to `extend` (to tell whether a carried line ends in `\r`). */
  private lastByte = -1;

  constructor(maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`);
    }
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes held for a line whose end is not yet seen (never more than maxLineBytes + 1). */
  get bufferedBytes(): number {
    return this.carryLen;
  }

  /** Split `chunk`, appending complete lines to `out`. The chunk must not be modified afterwards. */
  push(chunk: Buffer, out: LineItem[]): void {
    const len = chunk.length;
    if (len === 0) return;
    let pos = 0;

    if (this.skipping || this.carryLen > 0) {
      const nl = chunk.indexOf(LF);
      if (nl < 0) {
        this.extend(chunk);
        return;
      }
      this.finishCarried(chunk.subarray(0, nl), out);
      pos = nl + 1;
    }

    // Whole-chunk facts, computed once: ASCII chunks need no UTF-8 check per line, and the NUL
    // position is only recomputed after the scan has passed it.
    const ascii = isAscii(chunk);
    let nul = chunk.indexOf(0, pos);
    const max = this.maxLineBytes;

    for (;;) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) break;
      const lineNo = ++this.lineNo;
      let end = nl;
      if (end > pos && chunk[end - 1] === CR) end--;
      const bytes = end - pos;
      if (bytes > max) {
        out.push({ lineNo, error: 'line-too-long', bytes });
      } else {
        if (nul >= 0 && nul < pos) nul = chunk.indexOf(0, pos);
        if (nul >= 0 && nul < end) {
          out.push({ lineNo, error: 'binary', bytes, column: nul - pos + 1 });
        } else if (ascii) {
          out.push({ lineNo, text: latin1(chunk, pos, end) });
        } else {
          this.emitUtf8(chunk, pos, end, lineNo, out);
        }
      }
      pos = nl + 1;
    }

    if (pos < len) this.extend(pos === 0 ? chunk : chunk.subarray(pos));
  }

  /** Flush a final line that had no `\n`. */
  end(out: LineItem[]): void {
    if (this.skipping || this.carryLen > 0) this.finishCarried(Buffer.alloc(0), out);
  }

  /**
   * Split `chunk` and hand each line to `sink` as bytes: no string, no object per line. The chunk
   * may be reused by the caller afterwards (a line that straddles chunks is copied).
   */
  pushBytes(chunk: Buffer, sink: ByteLineSink): void {
    const len = chunk.length;
    if (len === 0) return;
    let pos = 0;
    if (this.skipping || this.carryLen > 0) {
      const nl = chunk.indexOf(LF);
      if (nl < 0) {
        this.extend(Buffer.from(chunk));
        return;
      }
      this.finishCarriedBytes(chunk.subarray(0, nl), sink);
      pos = nl + 1;
    }
    const max = this.maxLineBytes;
    for (;;) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) break;
      const lineNo = ++this.lineNo;
      let end = nl;
      if (end > pos && chunk[end - 1] === CR) end--;
      if (end - pos > max) sink.error({ lineNo, error: 'line-too-long', bytes: end - pos });
      else sink.bytes(chunk, pos, end, lineNo);
      pos = nl + 1;
    }
    if (pos < len) this.extend(Buffer.from(chunk.subarray(pos)));
  }

  /** `end` for `pushBytes`. */
  endBytes(sink: ByteLineSink): void {
    if (this.skipping || this.carryLen > 0) this.finishCarriedBytes(Buffer.alloc(0), sink);
  }

  private finishCarriedBytes(tail: Buffer, sink: ByteLineSink): void {
    const lineNo = ++this.lineNo;
    const endsInCr = (tail.length > 0 ? tail[tail.length - 1] : this.lastByte) === CR;
    const total = this.carryLen + tail.length;
    if (this.skipping || total > this.maxLineBytes + 1 || (endsInCr ? total - 1 : total) > this.maxLineBytes) {
      const bytes = this.skipLen + total - (endsInCr ? 1 : 0);
      this.resetCarry();
      sink.error({ lineNo, error: 'line-too-long', bytes });
      return;
    }
    const pieces = this.carry;
    this.resetCarry();
    if (tail.length > 0) pieces.push(tail);
    const line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
    sink.bytes(line, 0, endsInCr ? total - 1 : total, lineNo);
  }

  /** Add bytes of a line whose end is not yet seen; switch to skipping once it is too long. */
  private extend(piece: Buffer): void {
    this.lastByte = piece[piece.length - 1]!;
    if (this.skipping) {
      this.skipLen += piece.length;
      return;
    }
    // One byte of slack: the line may end in `\r`, which does not count against the limit.
    if (this.carryLen + piece.length > this.maxLineBytes + 1) {
      this.skipping = true;
      this.skipLen = this.carryLen + piece.length;
      this.carry = [];
      this.carryLen = 0;
      return;
    }
    this.carry.push(piece);
    this.carryLen += piece.length;
  }

  /** Complete the carried line with `tail` (the bytes before its `\n`, possibly empty). */
  private finishCarried(tail: Buffer, out: LineItem[]): void {
    const lineNo = ++this.lineNo;
    const endsInCr = (tail.length > 0 ? tail[tail.length - 1] : this.lastByte) === CR;
    if (this.skipping || this.carryLen + tail.length > this.maxLineBytes + 1) {
      const bytes = this.skipLen + this.carryLen + tail.length - (endsInCr ? 1 : 0);
      out.push({ lineNo, error: 'line-too-long', bytes });
      this.resetCarry();
      return;
    }
    const pieces = this.carry;
    const total = this.carryLen + tail.length;
    this.resetCarry();
    if (tail.length > 0) pieces.push(tail);
    const line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
    const end = endsInCr ? total - 1 : total;
    if (end > this.maxLineBytes) {
      out.push({ lineNo, error: 'line-too-long', bytes: end });
      return;
    }
    const nul = line.indexOf(0);
    if (nul >= 0 && nul < end) {
      out.push({ lineNo, error: 'binary', bytes: end, column: nul + 1 });
    } else if (isAscii(line.subarray(0, end))) {
      out.push({ lineNo, text: latin1(line, 0, end) });
    } else {
      this.emitUtf8(line, 0, end, lineNo, out);
    }
  }

  private resetCarry(): void {
    this.carry = [];
    this.carryLen = 0;
    this.skipping = false;
    this.skipLen = 0;
  }

  private emitUtf8(buf: Buffer, start: number, end: number, lineNo: number, out: LineItem[]): void {
    if (isUtf8(buf.subarray(start, end))) {
      let text = utf8(buf, start, end);
      // A UTF-8 byte order mark on the first line is an encoding artefact, not content.
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      out.push({ lineNo, text });
    } else {
      const bad = firstInvalidUtf8(buf, start, end);
      out.push({
        lineNo,
        error: 'invalid-utf8',
        bytes: end - start,
        column: (bad < 0 ? 0 : bad - start) + 1,
      });
    }
  }
}

/**
 * Hand every line of `source` (a path or a byte stream) to `sink` as bytes. A path is read with
 * one reused buffer (no allocation per chunk); memory is that buffer plus the longest line.
 */
export async function readByteLines(source: string | Readable, sink: ByteLineSink, opts: ReadLinesOptions = {}): Promise<void> {
  const splitter = new LineSplitter(opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const size = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (typeof source === 'string') {
    const fh = await open(source, 'r');
    try {
      const buf = Buffer.allocUnsafe(size);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, size, null);
        if (bytesRead === 0) break;
        splitter.pushBytes(bytesRead === size ? buf : buf.subarray(0, bytesRead), sink);
      }
    } finally {
      await fh.close();
    }
  } else {
    for await (const chunk of source as AsyncIterable<Buffer | string>) splitter.pushBytes(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, sink);
  }
  splitter.endBytes(sink);
}

function openSource(source: string | Readable, highWaterMark: number): Readable {
  return typeof source === 'string' ? createReadStream(source, { highWaterMark }) : source;
}

/**
 * Lines of `source` (a path or a byte stream), in batches: one array per chunk read. This is the
 * fast path for bulk consumers (one await per chunk instead of one per line).
 */
export async function* readLineBatches(
  source: string | Readable,
  opts: ReadLinesOptions = {},
): AsyncGenerator<LineItem[], void, undefined> {
  const splitter = new LineSplitter(opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const stream = openSource(source, opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK);
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out: LineItem[] = [];
    splitter.push(buf, out);
    if (out.length > 0) yield out;
  }
  const out: LineItem[] = [];
  splitter.end(out);
  if (out.length > 0) yield out;
}

/**
 * Lines of `source` (a path or a byte stream), one item at a time: `{ lineNo, text }` or
 * `{ lineNo, error }`. Streams in constant memory; handles `\r\n` and a last line without `\n`.
 */
export async function* readLines(
  source: string | Readable,
  opts: ReadLinesOptions = {},
): AsyncGenerator<LineItem, void, undefined> {
  for await (const batch of readLineBatches(source, opts)) {
    for (const item of batch) yield item;
  }
}
