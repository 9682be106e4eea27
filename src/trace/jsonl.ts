/**
 * Canonical JSONL for traces: one event per line,
 * `{"t":<ns>,"ev":"<name>",<fields in KIND_INFO order, unused fields omitted>}`, integers only, so
 * the same run gives the same bytes. The reader turns lines back into (t, kind, f0..f5) and reports
 * bad input (unknown kind, missing or non-integer field, timestamps going backwards, truncated JSON,
 * binary data, over-long lines) as diagnostics with line numbers, streaming in bounded memory.
 * Unused fields read back as 0.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { decodeLine, isLineError, readByteLines, readLineBatches, type ByteLineSink, type LineError, type ReadLinesOptions } from '../io/line-reader.js';
import { KIND_BY_NAME, KIND_INFO, TRACE_KIND_COUNT, kindFieldsJson } from './events.js';
import type { TraceSink } from './tracer.js';
import { escapeText } from '../scenario/diagnostics.js';

const HEADS: readonly string[] = KIND_INFO.map((k) => `,"ev":"${k.name}"`);

/** One event as a canonical JSONL line (without the newline). */
export function formatJsonlEvent(
  t: number,
  kind: number,
  f0: number,
  f1: number,
  f2: number,
  f3: number,
  f4: number,
  f5: number,
): string {
  const head = HEADS[kind];
  if (head === undefined) throw new RangeError(`unknown trace kind ${kind}`);
  return `{"t":${t}${head}${kindFieldsJson(kind, f0, f1, f2, f3, f4, f5)}}`;
}

/**
 * A TraceSink that writes canonical JSONL through `write`, in chunks of about `bufferChars`.
 * `finish()` flushes and then calls `close` if given.
 */
export class JsonlWriter implements TraceSink {
  private buf: string[] = [];
  private chars = 0;
  private readonly limit: number;

  constructor(
    private readonly write: (chunk: string) => void,
    opts: { bufferChars?: number; close?: () => void } = {},
  ) {
    this.limit = opts.bufferChars ?? 1 << 16;
    this.close = opts.close;
  }

  private readonly close: (() => void) | undefined;

  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    const line = formatJsonlEvent(t, kind, f0, f1, f2, f3, f4, f5);
    this.buf.push(line);
    this.chars += line.length + 1;
    if (this.chars >= this.limit) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0) return;
    this.write(this.buf.join('\n') + '\n');
    this.buf = [];
    this.chars = 0;
  }

  finish(): void {
    this.flush();
    this.close?.();
  }
}

/** A JsonlWriter on a file (synchronous writes: the run is single-threaded and deterministic). */
export function jsonlFileWriter(path: string): JsonlWriter {
  const fd = openSync(path, 'w');
  let closed = false;
  return new JsonlWriter((chunk) => writeSync(fd, chunk), {
    close: () => {
      if (!closed) closeSync(fd);
      closed = true;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

export type JsonlDiagnosticCode =
  | 'malformed'
  | 'unknown-kind'
  | 'missing-field'
  | 'bad-field'
  | 'unknown-field'
  | 'out-of-order'
  | 'line-too-long'
  | 'binary'
  | 'invalid-utf8';

export interface JsonlDiagnostic {
  readonly lineNo: number;
  readonly column?: number;
  /** `expected ... got ...` */
  readonly message: string;
  readonly code: JsonlDiagnosticCode;
  /** error: the line yields no event (or, for out-of-order, an event that breaks ordering). */
  readonly severity: 'error' | 'warning';
}

/** A decoded event. `f` holds fields 0..5 in KIND_INFO order (0 for unused fields). */
export interface JsonlEvent {
  readonly lineNo: number;
  readonly t: number;
  readonly kind: number;
  readonly f: readonly [number, number, number, number, number, number];
}

/** An event line: one object per line (the item is its own `event`), to keep the reader's garbage low. */
export class JsonlEventItem implements JsonlEvent {
  readonly type = 'event' as const;
  constructor(
    readonly lineNo: number,
    readonly t: number,
    readonly kind: number,
    readonly f: readonly [number, number, number, number, number, number],
  ) {}
  get event(): JsonlEvent {
    return this;
  }
}

export type JsonlItem = JsonlEventItem | { readonly type: 'diagnostic'; readonly diagnostic: JsonlDiagnostic };

const FIELD_SETS: readonly ReadonlyMap<string, number>[] = KIND_INFO.map(
  (k) => new Map(k.fields.flatMap((f, i) => (f === null ? [] : [[f, i] as const]))),
);

function shortValue(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

/** Column (1-based) from V8's "... at position N" JSON.parse messages, when present. */
function errorColumn(e: unknown): number | undefined {
  const m = e instanceof Error ? /position (\d+)/.exec(e.message) : null;
  return m === null ? undefined : Number(m[1]) + 1;
}

/**
 * Stateful line parser: validates the schema and that timestamps never go backwards. Events out of
 * order are still returned (after their diagnostic) so the checker sees everything.
 */
/** Per kind: the field slots present, in canonical order, and their `,"name":` prefixes. */
const FAST_SLOTS: readonly (readonly number[])[] = KIND_INFO.map((k) =>
  k.fields.flatMap((n, i) => (n === null ? [] : [i])),
);
const FAST_KEYS: readonly (readonly string[])[] = KIND_INFO.map((k) =>
  k.fields.flatMap((n) => (n === null ? [] : [`,"${n}":`])),
);
const C_0 = 48;
const C_9 = 57;
const C_MINUS = 45;
const C_QUOTE = 34;

/** Per kind: the `,"name":` prefixes as bytes (the byte fast path compares them in place). */
const FAST_KEY_BYTES: readonly (readonly Uint8Array[])[] = FAST_KEYS.map((keys) => keys.map((k) => Buffer.from(k, 'latin1')));
const NAME_BYTES: readonly Uint8Array[] = KIND_INFO.map((k) => Buffer.from(k.name, 'latin1'));
/** Kind by a hash of its name's bytes (-1: two names share the hash, take the string path). */
function nameHash(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}
const KIND_BY_HASH = new Map<number, number>();
NAME_BYTES.forEach((n, kind) => {
  const h = nameHash(n, 0, n.length);
  KIND_BY_HASH.set(h, KIND_BY_HASH.has(h) ? -1 : kind);
});
const HEAD_T = Buffer.from('{"t":', 'latin1');
const HEAD_EV = Buffer.from(',"ev":"', 'latin1');

/** Where decoded events and diagnostics go (the offline checker; no object per event). */
export interface JsonlSink {
  event(lineNo: number, t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void;
  diagnostic(d: JsonlDiagnostic): void;
}

export class JsonlParser {
  private lastT = -1;
  private lastTLine = 0;
  /** Scan position of the fast path. */
  private pos = 0;
  /** Field values of the line being scanned by the byte fast path. */
  private readonly fv = new Float64Array(6);

  /** `prefix` at `buf[pos]` (bounded by `end`)? */
  private static has(buf: Uint8Array, pos: number, end: number, prefix: Uint8Array): boolean {
    const n = prefix.length;
    if (pos + n > end) return false;
    for (let k = 0; k < n; k++) if (buf[pos + k] !== prefix[k]) return false;
    return true;
  }

  /** The byte twin of `int`: a decimal integer at `pos`, stopping at `end`, or NaN. */
  private intBytes(buf: Uint8Array, end: number): number {
    let i = this.pos;
    let neg = false;
    if (i < end && buf[i] === C_MINUS) {
      neg = true;
      i++;
    }
    const start = i;
    let v = 0;
    while (i < end) {
      const c = buf[i]!;
      if (c < C_0 || c > C_9) break;
      v = v * 10 + (c - C_0);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 15 || (digits > 1 && buf[start] === C_0)) return NaN;
    this.pos = i;
    return neg ? (v === 0 ? NaN : -v) : v;
  }

  /**
   * `fast` on the line's bytes: the canonical line decoded without making a string. Succeeds only
   * on pure-ASCII canonical lines (every byte it accepts is one of the format's), so NUL and UTF-8
   * checks are not needed here; anything else returns false and takes the text path.
   */
  private fastBytes(buf: Uint8Array, start: number, end: number, lineNo: number, sink: JsonlSink): boolean {
    if (!JsonlParser.has(buf, start, end, HEAD_T)) return false;
    this.pos = start + 5;
    const t = this.intBytes(buf, end);
    if (!(t >= 0) || !JsonlParser.has(buf, this.pos, end, HEAD_EV)) return false;
    const nameStart = this.pos + 7;
    let nameEnd = nameStart;
    while (nameEnd < end && buf[nameEnd] !== C_QUOTE) nameEnd++;
    if (nameEnd >= end) return false;
    const kind = KIND_BY_HASH.get(nameHash(buf, nameStart, nameEnd));
    if (kind === undefined || kind < 0) return false;
    const name = NAME_BYTES[kind]!;
    if (name.length !== nameEnd - nameStart || !JsonlParser.has(buf, nameStart, nameEnd, name)) return false;
    this.pos = nameEnd + 1;
    const keys = FAST_KEY_BYTES[kind]!;
    const slots = FAST_SLOTS[kind]!;
    const fv = this.fv;
    fv[0] = fv[1] = fv[2] = fv[3] = fv[4] = fv[5] = 0;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (!JsonlParser.has(buf, this.pos, end, key)) return false;
      this.pos += key.length;
      const v = this.intBytes(buf, end);
      if (v !== v) return false;
      fv[slots[k]!] = v;
    }
    if (this.pos !== end - 1 || buf[this.pos] !== 125 /* } */) return false;
    if (t < this.lastT) return false;
    this.lastT = t;
    this.lastTLine = lineNo;
    sink.event(lineNo, t, kind, fv[0], fv[1], fv[2], fv[3], fv[4], fv[5]);
    return true;
  }

  /** One line given as bytes (`buf[start, end)`, no terminator): the byte fast path, else the text path. */
  bytes(buf: Buffer, start: number, end: number, lineNo: number, sink: JsonlSink): void {
    if (this.fastBytes(buf, start, end, lineNo, sink)) return;
    const item = decodeLine(buf, start, end, lineNo);
    if (isLineError(item)) {
      sink.diagnostic(lineErrorDiagnostic(item, 0));
      return;
    }
    const out: JsonlItem[] = [];
    this.line(item.text, lineNo, out);
    for (const o of out) {
      if (o.type === 'diagnostic') sink.diagnostic(o.diagnostic);
      else sink.event(o.lineNo, o.t, o.kind, o.f[0], o.f[1], o.f[2], o.f[3], o.f[4], o.f[5]);
    }
  }

  /** A decimal integer at `pos` (optionally negative, at most 15 digits so it is exact), or NaN. */
  private int(text: string): number {
    let i = this.pos;
    let neg = false;
    if (text.charCodeAt(i) === C_MINUS) {
      neg = true;
      i++;
    }
    const start = i;
    let v = 0;
    for (;;) {
      // charCodeAt past the end is NaN, which compares false both ways: test for a digit, so a
      // line that ends inside a number (a truncated trace) stops here instead of looping forever.
      const c = text.charCodeAt(i);
      if (!(c >= C_0 && c <= C_9)) break;
      v = v * 10 + (c - C_0);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(start) === C_0)) return NaN;
    this.pos = i;
    return neg ? (v === 0 ? NaN : -v) : v;
  }

  /**
   * The canonical line (as JsonlWriter writes it: `{"t":…,"ev":"…"` then the kind's fields in
   * order) scanned without JSON.parse or intermediate objects. Anything else — other key order,
   * spaces, a bad value, time going backwards — returns false and takes the general path, which
   * also produces the diagnostics.
   */
  private fast(text: string, lineNo: number, out: JsonlItem[]): boolean {
    if (!text.startsWith('{"t":')) return false;
    this.pos = 5;
    const t = this.int(text);
    if (!(t >= 0) || !text.startsWith(',"ev":"', this.pos)) return false;
    const nameStart = this.pos + 7;
    const nameEnd = text.indexOf('"', nameStart);
    if (nameEnd < 0) return false;
    const kind = KIND_BY_NAME.get(text.slice(nameStart, nameEnd));
    if (kind === undefined) return false;
    this.pos = nameEnd + 1;
    const keys = FAST_KEYS[kind]!;
    const slots = FAST_SLOTS[kind]!;
    const f: [number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0];
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (!text.startsWith(key, this.pos)) return false;
      this.pos += key.length;
      const v = this.int(text);
      if (v !== v) return false;
      f[slots[k]!] = v;
    }
    if (this.pos !== text.length - 1 || text.charCodeAt(this.pos) !== 125 /* } */) return false;
    if (t < this.lastT) return false;
    this.lastT = t;
    this.lastTLine = lineNo;
    out.push(new JsonlEventItem(lineNo, t, kind, f));
    return true;
  }

  line(text: string, lineNo: number, out: JsonlItem[]): void {
    if (text.charCodeAt(0) === 123 /* { */ && text.charCodeAt(1) === C_QUOTE && this.fast(text, lineNo, out)) return;
    if (text.length === 0 || text.trim().length === 0) return;
    const d = (message: string, code: JsonlDiagnosticCode, severity: 'error' | 'warning' = 'error', column?: number): void => {
      out.push({
        type: 'diagnostic',
        diagnostic: column === undefined ? { lineNo, message, code, severity } : { lineNo, column, message, code, severity },
      });
    };
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      const trimmed = text.trimEnd();
      const truncated = trimmed.startsWith('{') && !trimmed.endsWith('}');
      d(
        truncated
          ? `expected a complete JSON object got a truncated line (${text.length} chars)`
          : // JSON.parse quotes the input in its message: escape it (a CR or a control byte in the
            // line would split the one-line diagnostic).
            `expected a JSON object got malformed JSON (${escapeText(e instanceof Error ? e.message : String(e))})`,
        'malformed',
        'error',
        errorColumn(e),
      );
      return;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      d(`expected a JSON object got ${shortValue(obj)}`, 'malformed');
      return;
    }
    const rec = obj as Record<string, unknown>;
    const ev = rec.ev;
    if (typeof ev !== 'string') {
      d(`expected "ev" to be an event name got ${shortValue(ev)}`, ev === undefined ? 'missing-field' : 'bad-field');
      return;
    }
    const kind = KIND_BY_NAME.get(ev);
    if (kind === undefined) {
      d(`expected a known event kind got ${shortValue(ev)}`, 'unknown-kind');
      return;
    }
    const t = rec.t;
    if (t === undefined) {
      d('expected field "t" got nothing', 'missing-field');
      return;
    }
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
      d(`expected "t" to be a non-negative integer (ns) got ${shortValue(t)}`, 'bad-field');
      return;
    }
    const names = FIELD_SETS[kind]!;
    const f: [number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0];
    let bad = false;
    for (const [name, i] of names) {
      const v = rec[name];
      if (v === undefined) {
        d(`expected field "${name}" of ${ev} got nothing`, 'missing-field');
        bad = true;
      } else if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
        d(`expected "${name}" of ${ev} to be an integer got ${shortValue(v)}`, 'bad-field');
        bad = true;
      } else {
        f[i] = v;
      }
    }
    if (bad) return;
    for (const key in rec) {
      if (key !== 't' && key !== 'ev' && !names.has(key)) {
        d(`expected only the fields of ${ev} got ${shortValue(key)}`, 'unknown-field', 'warning');
      }
    }
    if (t < this.lastT) {
      d(`expected t >= ${this.lastT} (line ${this.lastTLine}) got ${t}`, 'out-of-order');
    } else {
      this.lastT = t;
      this.lastTLine = lineNo;
    }
    out.push(new JsonlEventItem(lineNo, t, kind, f));
  }
}

function lineErrorDiagnostic(e: LineError, maxLineBytes: number): JsonlDiagnostic {
  switch (e.error) {
    case 'line-too-long':
      return {
        lineNo: e.lineNo,
        message: `expected a line of at most ${maxLineBytes} bytes got ${e.bytes} bytes`,
        code: 'line-too-long',
        severity: 'error',
      };
    case 'binary':
      return {
        lineNo: e.lineNo,
        ...(e.column === undefined ? {} : { column: e.column }),
        message: 'expected text got a NUL byte (binary data)',
        code: 'binary',
        severity: 'error',
      };
    case 'invalid-utf8':
      return {
        lineNo: e.lineNo,
        ...(e.column === undefined ? {} : { column: e.column }),
        message: 'expected UTF-8 text got an invalid byte sequence',
        code: 'invalid-utf8',
        severity: 'error',
      };
  }
}

/** Stream a JSONL trace (path or byte stream) as events and diagnostics, in batches. */
export async function* readJsonlBatches(
  source: string | Readable,
  opts: ReadLinesOptions = {},
): AsyncGenerator<JsonlItem[], void, undefined> {
  const parser = new JsonlParser();
  const max = opts.maxLineBytes ?? 1 << 20;
  for await (const batch of readLineBatches(source, opts)) {
    const out: JsonlItem[] = [];
    for (const item of batch) {
      if (isLineError(item)) out.push({ type: 'diagnostic', diagnostic: lineErrorDiagnostic(item, max) });
      else parser.line(item.text, item.lineNo, out);
    }
    if (out.length > 0) yield out;
  }
}

/**
 * Stream a JSONL trace (path or byte stream) into `sink`: the offline checker's path. Lines are
 * parsed from the read buffer's bytes (no string and no object per canonical line); the events and
 * diagnostics are exactly those of `readJsonlBatches`.
 */
export async function readJsonl(source: string | Readable, sink: JsonlSink, opts: ReadLinesOptions = {}): Promise<void> {
  const parser = new JsonlParser();
  const max = opts.maxLineBytes ?? 1 << 20;
  const lines: ByteLineSink = {
    bytes: (buf, start, end, lineNo) => {
      parser.bytes(buf, start, end, lineNo, sink);
    },
    error: (e) => {
      sink.diagnostic(lineErrorDiagnostic(e, max));
    },
  };
  await readByteLines(source, lines, opts);
}

/** Parse JSONL held in memory (tests, small inputs). */
export function parseJsonlText(text: string): JsonlItem[] {
  const parser = new JsonlParser();
  const out: JsonlItem[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, k) => {
    parser.line(l.endsWith('\r') ? l.slice(0, -1) : l, k + 1, out);
  });
  return out;
}

/** Number of kinds the format knows (for callers that size tables by kind). */
export const JSONL_KIND_COUNT = TRACE_KIND_COUNT;
