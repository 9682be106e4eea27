/**
 * Reader (and writer) for Linux ftrace text carrying the IOMMU page-fault tracepoints, the input of
 * the offline checker (`iopf check TRACE`).
 *
 * Line prefixes accepted:
 *  - /sys/kernel/tracing/trace (kernel/trace/trace_output.c, trace_print_context):
 *    `%16s-%-7d ` task-pid, optional `(%7d) ` tgid column, `[%03d] ` CPU, optional irq-info flags
 *    (4 chars on older kernels, 5 since the migrate-disable column), then ` %5lu.%06lu: `, or
 *    ` %12llu: ` for clocks that are not in ns;
 *  - `trace-cmd report` (tracecmd/trace-read.c): `%16s-%-5d [%03d]`, ` %6.1000d:` (or 9 fraction
 *    digits with -t), then ` <event>: ` padded to 20 columns;
 *  - an event named `system:event` (as perf script prints) is accepted too.
 * Header lines (`#...`, `cpus=N`, `CPU N is empty`) and empty lines are skipped. `prq_report` with
 * private data prints its own trailing `\n` inside the event text, so the kernel's file has an
 * empty line after it; skipping empty lines absorbs that.
 *
 * Events decoded (formats as read in torvalds/linux):
 *  - intel_iommu:prq_report (drivers/iommu/intel/trace.h, decode_prq_descriptor() in
 *    drivers/iommu/intel/iommu.h): `%s/%s seq# %ld: rid=0x%llx addr=0x%llx %c%c%c%c%c pasid=0x%llx
 *    index=0x%llx` + ` private=0x%llx/0x%llx` when descriptor bit 9 is set. The PASID field is
 *    printed whatever the descriptor's PASID Present bit (bit 8) says, and that bit is not printed,
 *    so a request without PASID shows `pasid=0x0` and cannot be told from PASID 0 by the text alone.
 *  - intel_iommu:qi_submit (same header): `%s %s: 0x%llx 0x%llx 0x%llx 0x%llx`, the first word the
 *    descriptor type's name (`page_grp_resp` for type 9) or `0x%lx` when unknown.
 *  - iommu:io_page_fault (include/trace/events/iommu.h, class iommu_error):
 *    `IOMMU:%s %s iova=0x%016llx flags=0x%04x` (driver, device).
 * Everything else becomes `{ kind: 'other' }`.
 *
 * Malformed input yields diagnostics (values, never exceptions) with line and column.
 */
import type { Readable } from 'node:stream';
import {
  DEFAULT_MAX_LINE_BYTES,
  isLineError,
  readLineBatches,
  type LineError,
  type ReadLinesOptions,
} from './line-reader.js';

// ---------------------------------------------------------------------------------------------
// Records and diagnostics

/** A page request as the VT-d PRQ thread reported it (intel_iommu:prq_report). */
export interface PageRequestRecord {
  readonly kind: 'page_request';
  /** Trace timestamp in ns (exact below 2^53 ns, about 104 days of uptime). */
  readonly tsNs: number;
  readonly iommu: string;
  readonly device: string;
  /** The PRQ thread's report sequence number (iommu->prq_seq_number). */
  readonly seq: number;
  /** Requester ID (bus << 8 | devfn). */
  readonly rid: number;
  /** Page number: address >> 12. */
  readonly pageNumber: number;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  readonly priv: boolean;
  /** Last request in its page request group (L). */
  readonly last: boolean;
  /** The descriptor's PASID field (printed even when the request carried no PASID). */
  readonly pasid: number;
  /**
   * Whether the request carried a PASID. The kernel does not print this bit; it is set only when
   * the reader is asked to infer it (`inferPasidPresent`, from pasid != 0) or by the model's writer.
   */
  readonly pasidPresent?: boolean;
  /** Page request group index (PRGI). */
  readonly prgi: number;
  /** Descriptor qwords 2 and 3, present when the request carried private data. */
  readonly privateData?: readonly [bigint, bigint];
}

/** A VT-d page group response descriptor (qi_submit of type page_grp_resp), decoded. */
export interface PageResponseRecord {
  readonly kind: 'page_response';
  readonly tsNs: number;
  readonly iommu: string;
  readonly rid: number;
  readonly pasidPresent: boolean;
  readonly pasid: number;
  /** Response code as PCIe encodes it: 0 Success, 1 Invalid Request, 0xf Response Failure. */
  readonly code: number;
  readonly prgi: number;
  /** Last Page In Group bit (recent kernels leave it clear; the response is per group). */
  readonly lpig: boolean;
  /** QW2/QW3, present when the Private Data Present bit (QW0 b5) is set. */
  readonly privateData?: readonly [bigint, bigint];
}

/** An unrecoverable fault reported through iommu:io_page_fault. */
export interface IoPageFaultRecord {
  readonly kind: 'io_page_fault';
  readonly tsNs: number;
  readonly driver: string;
  readonly device: string;
  readonly iova: bigint;
  readonly flags: number;
}

/** Any other event (including qi_submit descriptors that are not page group responses). */
export interface OtherRecord {
  readonly kind: 'other';
  readonly tsNs: number;
  readonly event: string;
  readonly body: string;
}

export type FtraceRecord = PageRequestRecord | PageResponseRecord | IoPageFaultRecord | OtherRecord;

export type FtraceDiagnosticCode =
  'malformed' | 'out-of-order' | 'lost-events' | 'line-too-long' | 'binary' | 'invalid-utf8';

/**
 * A problem with the input. `error`: the line was not understood and yields no record. `warning`:
 * the input is readable but suspicious (timestamps going backwards, events lost by the kernel).
 */
export interface FtraceDiagnostic {
  readonly lineNo: number;
  /** 1-based column (characters; bytes for binary/invalid-utf8 lines) where the problem starts. */
  readonly column?: number;
  /** `expected ... got ...` */
  readonly message: string;
  readonly code: FtraceDiagnosticCode;
  readonly severity: 'error' | 'warning';
}

export type FtraceItem =
  | { readonly type: 'record'; readonly lineNo: number; readonly record: FtraceRecord }
  | { readonly type: 'diagnostic'; readonly diagnostic: FtraceDiagnostic };

/** Result of parsing one line: a record, a diagnostic, or null for lines without an event. */
export type FtraceLineResult =
  | { readonly ok: true; readonly record: FtraceRecord }
  | { readonly ok: false; readonly diagnostic: FtraceDiagnostic }
  | null;

export interface FtraceParseOptions {
  /**
   * Set `pasidPresent = pasid !== 0` on page requests. Sound for Linux, which never hands out
   * PASID 0 to SVA or iommufd (IOMMU_NO_PASID), but an inference, hence off by default.
   */
  readonly inferPasidPresent?: boolean;
}

export interface ReadFtraceOptions extends FtraceParseOptions, ReadLinesOptions {}

// ---------------------------------------------------------------------------------------------
// Parsing

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** VT-d invalidation descriptor type of a page group response (QI_PGRP_RESP_TYPE). */
export const QI_PGRP_RESP_TYPE = 9;

/** Internal: a parse failure at a column; caught in parseFtraceLine, never escapes. */
class Fail extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

function shown(s: string, i: number): string {
  if (i >= s.length) return 'end of line';
  // Control characters (a stray CR, an escape sequence) are shown escaped: one printable line.
  // eslint-disable-next-line no-control-regex
  const rest = s.slice(i, i + 24).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `'${rest}${s.length - i > 24 ? '...' : ''}'`;
}

function isHexCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function isWordCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A cursor over one line; its methods throw Fail on mismatch. */
class Cursor {
  i: number;
  constructor(
    readonly s: string,
    start: number,
  ) {
    this.i = start;
  }

  fail(what: string, at = this.i): never {
    throw new Fail(at, `expected ${what} got ${shown(this.s, at)}`);
  }

  lit(x: string): void {
    if (!this.s.startsWith(x, this.i)) this.fail(`'${x}'`);
    this.i += x.length;
  }

  /** A run of hex digits (1..maxDigits) returned as text. */
  hexText(what: string, maxDigits: number): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < s.length && isHexCode(s.charCodeAt(i))) i++;
    if (i === start) this.fail(`hex digits for ${what}`);
    if (i - start > maxDigits) this.fail(`${what} of at most ${maxDigits} hex digits`, start);
    this.i = i;
    return s.slice(start, i);
  }

  /** A hex number no larger than `max` (max < 2^53). */
  hex(what: string, max: number): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    let v = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const d = hexValue(c);
      if (d < 0) break;
      v = v * 16 + d;
    }
    if (i === start) this.fail(`hex digits for ${what}`);
    if (i - start > 14) this.fail(`${what} of at most 14 hex digits`, start);
    if (v > max) this.fail(`${what} <= 0x${max.toString(16)}`, start);
    this.i = i;
    return v;
  }

  /** Halves of the last hex64Halves() read: bits 63:32 and 31:0. */
  hi = 0;
  lo = 0;

  /**
   * A 64-bit hex number read as two 32-bit halves into `hi`/`lo` (no BigInt, no string: a
   * descriptor qword whose fields all sit inside one half).
   */
  hex64Halves(what: string): void {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < s.length && isHexCode(s.charCodeAt(i))) i++;
    if (i === start) this.fail(`hex digits for ${what}`);
    if (i - start > 16) this.fail(`${what} of at most 16 hex digits`, start);
    const split = Math.max(start, i - 8);
    let hi = 0;
    for (let k = start; k < split; k++) hi = hi * 16 + hexValue(s.charCodeAt(k));
    let lo = 0;
    for (let k = split; k < i; k++) lo = lo * 16 + hexValue(s.charCodeAt(k));
    this.hi = hi;
    this.lo = lo;
    this.i = i;
  }

  /** A 64-bit hex number. */
  hex64(what: string): bigint {
    return BigInt('0x' + this.hexText(what, 16));
  }

  dec(what: string): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < s.length && isDigitCode(s.charCodeAt(i))) i++;
    if (i === start) this.fail(`decimal digits for ${what}`);
    const v = Number(s.slice(start, i));
    if (!Number.isSafeInteger(v)) this.fail(`${what} below 2^53`, start);
    this.i = i;
    return v;
  }

  /** Characters up to (not including) `stop` or a space; at least one. */
  token(what: string, stop: string): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < s.length) {
      const c = s[i];
      if (c === stop || c === ' ') break;
      i++;
    }
    if (i === start) this.fail(what);
    this.i = i;
    return s.slice(start, i);
  }

  /** Flag character: `yes` when set, `-` when clear. */
  flag(yes: string): boolean {
    const c = this.s[this.i];
    if (c === yes) {
      this.i++;
      return true;
    }
    if (c === '-') {
      this.i++;
      return false;
    }
    return this.fail(`'${yes}' or '-'`);
  }

  endOfLine(): void {
    const s = this.s;
    let i = this.i;
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    if (i !== s.length) this.fail('end of line', i);
  }
}

/**
 * From the first non-blank character up to and including `[cpu]`: task (may hold spaces and
 * dashes), pid, optional tgid column. Sticky and capture-free (only its end matters, and test()
 * builds no match array); leading blanks are skipped before it, which keeps it linear on lines
 * made of blanks.
 */
const PREFIX_HEAD = /[^\s].*?-\d+\s+(?:\((?:\s*\d+|-+)\)\s+)?\[\d+\]/y;
const LOST_EVENTS =
  /^CPU:(\d+) \[(?:LOST (\d+) EVENTS|LOST EVENTS|(\d+) EVENTS DROPPED|EVENTS DROPPED)\]\s*$/;
const HEADER = /^(?:cpus=\d+|CPU \d+ is empty)\s*$/;

const NS_SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];

/** The irq-info column: 4 (older kernels) or 5 characters from `.`, letters and digits. */
function isIrqFlags(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 4 || len > 5) return false;
  for (let k = start; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c !== 46 && (!isWordCode(c) || c === 95)) return false;
  }
  return true;
}

function skipSpaces(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

function diag(
  lineNo: number,
  index: number | undefined,
  message: string,
  code: FtraceDiagnosticCode,
  severity: 'error' | 'warning',
): FtraceDiagnostic {
  return index === undefined
    ? { lineNo, message, code, severity }
    : { lineNo, column: index + 1, message, code, severity };
}

/**
 * Parse one line of ftrace text. Returns null for empty, comment and header lines; a record for an
 * event line; a diagnostic for anything else. Stateless: ordering checks live in FtraceReader.
 */
export function parseFtraceLine(
  text: string,
  lineNo: number,
  opts: FtraceParseOptions = {},
): FtraceLineResult {
  // Fast rejection of lines without content.
  const first = skipSpaces(text, 0);
  if (first === text.length) return null;
  const c0 = text[first];
  if (c0 === '#') return null;
  if (c0 === 'c' || c0 === 'C') {
    if (HEADER.test(text)) return null;
    const lost = LOST_EVENTS.exec(text);
    if (lost !== null) {
      const n = lost[2] ?? lost[3];
      return {
        ok: false,
        diagnostic: diag(
          lineNo,
          undefined,
          `expected no lost events got ${n === undefined ? 'an unknown number of' : n} events lost on CPU ${lost[1]!}`,
          'lost-events',
          'warning',
        ),
      };
    }
  }
  try {
    return { ok: true, record: parseEventLine(text, opts) };
  } catch (e) {
    if (e instanceof Fail) {
      return { ok: false, diagnostic: diag(lineNo, e.index, e.message, 'malformed', 'error') };
    }
    throw e;
  }
}

function parseEventLine(text: string, opts: FtraceParseOptions): FtraceRecord {
  const start = skipSpaces(text, 0);
  PREFIX_HEAD.lastIndex = start;
  if (!PREFIX_HEAD.test(text)) {
    throw new Fail(start, `expected '<task>-<pid> [<cpu>]' got ${shown(text, start)}`);
  }
  const cur = new Cursor(text, PREFIX_HEAD.lastIndex);
  // Optional irq-info flags, then the timestamp.
  const n = text.length;
  let i = skipSpaces(text, cur.i);
  if (i === cur.i) cur.fail("' '");
  let j = i;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === 32 || c === 58) break;
    j++;
  }
  if (j < n && text.charCodeAt(j) === 32) {
    if (!isIrqFlags(text, i, j)) cur.fail('irq flags (like d..1.) or a timestamp', i);
    i = skipSpaces(text, j);
  }
  // Digits are accumulated by hand: exact, and cheaper than slicing and Number().
  let secs = 0;
  j = i;
  for (let c = text.charCodeAt(j); j < n && isDigitCode(c); c = text.charCodeAt(++j))
    secs = secs * 10 + (c - 48);
  if (j === i) cur.fail('a timestamp', i);
  let tsNs: number;
  if (text.charCodeAt(j) === 46) {
    const fracStart = ++j;
    let frac = 0;
    for (let c = text.charCodeAt(j); j < n && isDigitCode(c); c = text.charCodeAt(++j))
      frac = frac * 10 + (c - 48);
    const digits = j - fracStart;
    if (digits === 0 || digits > 9) cur.fail('1 to 9 fraction digits in the timestamp', fracStart);
    tsNs = secs * 1e9 + frac * NS_SCALE[digits]!;
  } else {
    // A clock not in ns (counter, x86-tsc): the raw value, in the clock's own units.
    tsNs = secs;
  }
  // Time is an exact integer or the line is refused: a 20-digit timestamp would round silently.
  if (!Number.isSafeInteger(tsNs)) cur.fail('a timestamp below 2^53 ns (about 104 days of uptime), which the checker holds exactly', i);
  cur.i = j;
  cur.lit(':');
  const afterTs = skipSpaces(text, cur.i);
  if (afterTs === cur.i) cur.fail("' '");
  cur.i = afterTs;
  // Event name, optionally `system:event`: compared in place (no string for the name of an event
  // this reader knows; most lines of a PRI trace are one of three).
  let nameStart = cur.i;
  while (cur.i < text.length && isWordCode(text.charCodeAt(cur.i))) cur.i++;
  if (cur.i === nameStart) cur.fail('an event name');
  let nameEnd = cur.i;
  cur.lit(':');
  if (cur.i < text.length && isWordCode(text.charCodeAt(cur.i))) {
    nameStart = cur.i;
    while (cur.i < text.length && isWordCode(text.charCodeAt(cur.i))) cur.i++;
    nameEnd = cur.i;
    cur.lit(':');
  }
  const bodyStart = skipSpaces(text, cur.i);
  if (bodyStart === cur.i && cur.i < text.length) cur.fail("' ' after the event name");
  cur.i = bodyStart;

  const nameLen = nameEnd - nameStart;
  if (nameLen === 10 && text.startsWith('prq_report', nameStart)) return parsePrqReport(cur, tsNs, opts);
  if (nameLen === 9 && text.startsWith('qi_submit', nameStart)) return parseQiSubmit(cur, tsNs);
  if (nameLen === 13 && text.startsWith('io_page_fault', nameStart)) return parseIoPageFault(cur, tsNs);
  return { kind: 'other', tsNs, event: text.slice(nameStart, nameEnd), body: text.slice(bodyStart) };
}

function parsePrqReport(cur: Cursor, tsNs: number, opts: FtraceParseOptions): PageRequestRecord {
  const iommu = cur.token("'<iommu>/<device>'", '/');
  cur.lit('/');
  const device = cur.token('a device name', ' ');
  cur.lit(' seq# ');
  const seq = cur.dec('seq');
  cur.lit(': rid=0x');
  const rid = cur.hex('rid', 0xffff);
  cur.lit(' addr=0x');
  // FIELD_GET(GENMASK_ULL(63, 12), dw1): at most 52 bits.
  const pageNumber = cur.hex('addr (page number)', 2 ** 52 - 1);
  cur.lit(' ');
  const read = cur.flag('r');
  const write = cur.flag('w');
  const exec = cur.flag('x');
  const priv = cur.flag('p');
  const last = cur.flag('l');
  cur.lit(' pasid=0x');
  const pasid = cur.hex('pasid', 0xfffff);
  cur.lit(' index=0x');
  const prgi = cur.hex('index', 0x1ff);
  let privateData: readonly [bigint, bigint] | undefined;
  if (cur.s.startsWith(' private=0x', cur.i)) {
    cur.i += ' private=0x'.length;
    const dw2 = cur.hex64('private data (qword 2)');
    cur.lit('/0x');
    const dw3 = cur.hex64('private data (qword 3)');
    privateData = [dw2, dw3];
  }
  cur.endOfLine();
  const rec: Mutable<PageRequestRecord> = {
    kind: 'page_request',
    tsNs,
    iommu,
    device,
    seq,
    rid,
    pageNumber,
    read,
    write,
    exec,
    priv,
    last,
    pasid,
    prgi,
  };
  if (opts.inferPasidPresent === true) rec.pasidPresent = pasid !== 0;
  if (privateData !== undefined) rec.privateData = privateData;
  return rec;
}

function parseQiSubmit(cur: Cursor, tsNs: number): FtraceRecord {
  const bodyStart = cur.i;
  const type = cur.token('a descriptor type', ' ');
  if (type !== 'page_grp_resp') {
    return { kind: 'other', tsNs, event: 'qi_submit', body: cur.s.slice(bodyStart) };
  }
  cur.lit(' ');
  const iommu = cur.token('an iommu name', ':');
  cur.lit(': 0x');
  const qw0Start = cur.i;
  cur.hex64Halves('qw0');
  const w0 = cur.lo;
  const w0hi = cur.hi;
  cur.lit(' 0x');
  cur.hex64Halves('qw1');
  const w1 = cur.lo;
  cur.lit(' 0x');
  const qw2 = cur.hexText('qw2', 16);
  cur.lit(' 0x');
  const qw3 = cur.hexText('qw3', 16);
  cur.endOfLine();
  // Page group response descriptor (VT-d 6.5.2.x; Linux QI_PGRP_* in drivers/iommu/intel/iommu.h):
  // QW0 type 3:0, PASID present b4, private data present b5, response code 15:12,
  // requester id 31:16, PASID 51:32; QW1 LPIG b2, PRG index 11:3.
  const type0 = w0 & 0xf;
  if (type0 !== QI_PGRP_RESP_TYPE) {
    throw new Fail(
      qw0Start,
      `expected descriptor type 0x9 in qw0 bits 3:0 for page_grp_resp got type 0x${type0.toString(16)}`,
    );
  }
  const rec: Mutable<PageResponseRecord> = {
    kind: 'page_response',
    tsNs,
    iommu,
    rid: w0 >>> 16,
    pasidPresent: ((w0 >>> 4) & 1) === 1,
    pasid: w0hi & 0xfffff,
    code: (w0 >>> 12) & 0xf,
    prgi: (w1 >>> 3) & 0x1ff,
    lpig: ((w1 >>> 2) & 1) === 1,
  };
  // QW2/QW3 only mean something when Private Data Present is set; BigInt them only then.
  if (((w0 >>> 5) & 1) === 1) rec.privateData = [BigInt('0x' + qw2), BigInt('0x' + qw3)];
  return rec;
}

function parseIoPageFault(cur: Cursor, tsNs: number): IoPageFaultRecord {
  cur.lit('IOMMU:');
  // dev_driver_string() may be empty, giving `IOMMU: <device>`.
  const s = cur.s;
  let k = cur.i;
  while (k < s.length && s[k] !== ' ') k++;
  const driver = s.slice(cur.i, k);
  cur.i = k;
  cur.lit(' ');
  const device = cur.token('a device name', ' ');
  cur.lit(' iova=0x');
  const iova = cur.hex64('iova');
  cur.lit(' flags=0x');
  const flags = cur.hex('flags', 0xffffffff);
  cur.endOfLine();
  return { kind: 'io_page_fault', tsNs, driver, device, iova, flags };
}

function lineErrorDiagnostic(e: LineError, maxLineBytes: number): FtraceDiagnostic {
  switch (e.error) {
    case 'line-too-long':
      return diag(
        e.lineNo,
        undefined,
        `expected a line of at most ${maxLineBytes} bytes got ${e.bytes} bytes`,
        'line-too-long',
        'error',
      );
    case 'binary':
      return diag(
        e.lineNo,
        e.column === undefined ? undefined : e.column - 1,
        'expected text got a NUL byte (binary data)',
        'binary',
        'error',
      );
    case 'invalid-utf8':
      return diag(
        e.lineNo,
        e.column === undefined ? undefined : e.column - 1,
        'expected UTF-8 text got an invalid byte sequence',
        'invalid-utf8',
        'error',
      );
  }
}

function formatTs(ns: number): string {
  const secs = Math.floor(ns / 1e9);
  const frac = String(ns - secs * 1e9).padStart(9, '0');
  return `${secs}.${frac}`;
}

/**
 * Stateful line-by-line reader: parses and checks that timestamps never go backwards (ftrace
 * merges its per-CPU buffers in time order, so a step back means a spliced or damaged file).
 */
export class FtraceReader {
  private lastTs = -Infinity;
  private lastTsLine = 0;

  constructor(private readonly opts: FtraceParseOptions = {}) {}

  /** Parse one line, appending its record and any diagnostics to `out`. */
  line(text: string, lineNo: number, out: FtraceItem[]): void {
    const r = parseFtraceLine(text, lineNo, this.opts);
    if (r === null) return;
    if (!r.ok) {
      out.push({ type: 'diagnostic', diagnostic: r.diagnostic });
      return;
    }
    const ts = r.record.tsNs;
    if (ts < this.lastTs) {
      out.push({
        type: 'diagnostic',
        diagnostic: {
          lineNo,
          message: `expected a timestamp >= ${formatTs(this.lastTs)} (line ${this.lastTsLine}) got ${formatTs(ts)}`,
          code: 'out-of-order',
          severity: 'warning',
        },
      });
    }
    this.lastTs = ts;
    this.lastTsLine = lineNo;
    out.push({ type: 'record', lineNo, record: r.record });
  }
}

/** Parse a whole trace held in memory (tests, small inputs). */
export function parseFtraceText(text: string, opts: FtraceParseOptions = {}): FtraceItem[] {
  const reader = new FtraceReader(opts);
  const out: FtraceItem[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, k) => {
    reader.line(l.endsWith('\r') ? l.slice(0, -1) : l, k + 1, out);
  });
  return out;
}

/** Stream a trace file (or byte stream) as records and diagnostics, in batches (one per chunk). */
export async function* readFtraceBatches(
  source: string | Readable,
  opts: ReadFtraceOptions = {},
): AsyncGenerator<FtraceItem[], void, undefined> {
  const reader = new FtraceReader(opts);
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for await (const batch of readLineBatches(source, opts)) {
    const out: FtraceItem[] = [];
    for (const item of batch) {
      if (isLineError(item)) {
        out.push({ type: 'diagnostic', diagnostic: lineErrorDiagnostic(item, maxLineBytes) });
      } else {
        reader.line(item.text, item.lineNo, out);
      }
    }
    if (out.length > 0) yield out;
  }
}

/** Stream a trace file (or byte stream) as records and diagnostics, one item at a time. */
export async function* readFtrace(
  source: string | Readable,
  opts: ReadFtraceOptions = {},
): AsyncGenerator<FtraceItem, void, undefined> {
  for await (const batch of readFtraceBatches(source, opts)) {
    for (const item of batch) yield item;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing (so `iopf run --ftrace FILE` can emit the model's run in the kernel's format)

export interface FtraceFormatOptions {
  /** Task name column. Defaults: `<iommu>-prq` for prq_report, `kworker/u8:0` for responses. */
  readonly task?: string;
  readonly pid?: number;
  readonly cpu?: number;
  /** irq-info flags column (like `d..1.`); null omits the column. Default `.....`. */
  readonly irqFlags?: string | null;
  /**
   * Print 9 fraction digits (exact ns) instead of the kernel's microseconds. The kernel rounds to
   * the nearest microsecond (ns2usecs), which this writer copies when false (the default).
   */
  readonly nsTimestamps?: boolean;
}

function assertField(ok: boolean, what: string): void {
  if (!ok) throw new RangeError(`ftrace writer: ${what}`);
}

function prefix(tsNs: number, event: string, task: string, opts: FtraceFormatOptions): string {
  assertField(
    Number.isSafeInteger(tsNs) && tsNs >= 0,
    `tsNs must be a non-negative safe integer, got ${tsNs}`,
  );
  const pid = opts.pid ?? 0;
  const cpu = opts.cpu ?? 0;
  const flags = opts.irqFlags === undefined ? '.....' : opts.irqFlags;
  let ts: string;
  if (opts.nsTimestamps === true) {
    const secs = Math.floor(tsNs / 1e9);
    ts = `${String(secs).padStart(5)}.${String(tsNs - secs * 1e9).padStart(9, '0')}`;
  } else {
    const usecs = Math.floor((tsNs + 500) / 1000);
    const secs = Math.floor(usecs / 1e6);
    ts = `${String(secs).padStart(5)}.${String(usecs - secs * 1e6).padStart(6, '0')}`;
  }
  // trace_print_context(): "%16s-%-7d " "[%03d] " [flags] " %5lu.%06lu: " then "<event>: ".
  return `${task.padStart(16)}-${String(pid).padEnd(7)} [${String(cpu).padStart(3, '0')}] ${flags ?? ''} ${ts}: ${event}: `;
}

function hex(n: number): string {
  return n.toString(16);
}

/**
 * One `intel_iommu:prq_report` line (no trailing newline) for a page request record. The PASID
 * field is printed as given, like the kernel prints the descriptor field; `pasidPresent` is not
 * printed (the kernel has no place for it). Unlike the kernel, no empty line follows a report with
 * private data.
 */
export function formatPrqReport(rec: PageRequestRecord, opts: FtraceFormatOptions = {}): string {
  assertField(Number.isInteger(rec.rid) && rec.rid >= 0 && rec.rid <= 0xffff, `rid out of range: ${rec.rid}`);
  assertField(
    Number.isInteger(rec.pasid) && rec.pasid >= 0 && rec.pasid <= 0xfffff,
    `pasid out of range: ${rec.pasid}`,
  );
  assertField(
    Number.isInteger(rec.prgi) && rec.prgi >= 0 && rec.prgi <= 0x1ff,
    `prgi out of range: ${rec.prgi}`,
  );
  assertField(
    Number.isInteger(rec.pageNumber) && rec.pageNumber >= 0 && rec.pageNumber < 2 ** 52,
    `pageNumber out of range: ${rec.pageNumber}`,
  );
  assertField(Number.isSafeInteger(rec.seq) && rec.seq >= 0, `seq out of range: ${rec.seq}`);
  assertField(!/[\s/]/.test(rec.iommu) && rec.iommu.length > 0, `bad iommu name: '${rec.iommu}'`);
  assertField(!/\s/.test(rec.device) && rec.device.length > 0, `bad device name: '${rec.device}'`);
  const perms = `${rec.read ? 'r' : '-'}${rec.write ? 'w' : '-'}${rec.exec ? 'x' : '-'}${rec.priv ? 'p' : '-'}${rec.last ? 'l' : '-'}`;
  let body = `${rec.iommu}/${rec.device} seq# ${rec.seq}: rid=0x${hex(rec.rid)} addr=0x${hex(rec.pageNumber)} ${perms} pasid=0x${hex(rec.pasid)} index=0x${hex(rec.prgi)}`;
  if (rec.privateData !== undefined) {
    body += ` private=0x${rec.privateData[0].toString(16)}/0x${rec.privateData[1].toString(16)}`;
  }
  return prefix(rec.tsNs, 'prq_report', opts.task ?? `${rec.iommu}-prq`, opts) + body;
}

/** The four descriptor qwords of a page group response record (inverse of the decoder). */
export function encodePageGrpResp(rec: PageResponseRecord): readonly [bigint, bigint, bigint, bigint] {
  assertField(Number.isInteger(rec.rid) && rec.rid >= 0 && rec.rid <= 0xffff, `rid out of range: ${rec.rid}`);
  assertField(
    Number.isInteger(rec.pasid) && rec.pasid >= 0 && rec.pasid <= 0xfffff,
    `pasid out of range: ${rec.pasid}`,
  );
  assertField(
    Number.isInteger(rec.prgi) && rec.prgi >= 0 && rec.prgi <= 0x1ff,
    `prgi out of range: ${rec.prgi}`,
  );
  assertField(
    Number.isInteger(rec.code) && rec.code >= 0 && rec.code <= 0xf,
    `code out of range: ${rec.code}`,
  );
  const w0 =
    (QI_PGRP_RESP_TYPE |
      (rec.pasidPresent ? 1 << 4 : 0) |
      (rec.privateData !== undefined ? 1 << 5 : 0) |
      (rec.code << 12) |
      (rec.rid << 16)) >>>
    0;
  const qw0 = (BigInt(rec.pasid) << 32n) | BigInt(w0);
  const qw1 = BigInt((rec.lpig ? 1 << 2 : 0) | (rec.prgi << 3));
  const [qw2, qw3] = rec.privateData ?? [0n, 0n];
  return [qw0, qw1, qw2, qw3];
}

/** One `intel_iommu:qi_submit` line of type page_grp_resp (no trailing newline). */
export function formatQiSubmitPageGrpResp(rec: PageResponseRecord, opts: FtraceFormatOptions = {}): string {
  assertField(!/[\s:]/.test(rec.iommu) && rec.iommu.length > 0, `bad iommu name: '${rec.iommu}'`);
  const [qw0, qw1, qw2, qw3] = encodePageGrpResp(rec);
  const body = `page_grp_resp ${rec.iommu}: 0x${qw0.toString(16)} 0x${qw1.toString(16)} 0x${qw2.toString(16)} 0x${qw3.toString(16)}`;
  return prefix(rec.tsNs, 'qi_submit', opts.task ?? 'kworker/u8:0', opts) + body;
}
