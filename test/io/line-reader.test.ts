import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  LineSplitter,
  readLines,
  readLineBatches,
  isLineError,
  type LineItem,
} from '../../src/io/line-reader.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'iopf-lines-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function collect(src: string | Readable, maxLineBytes?: number): Promise<LineItem[]> {
  const out: LineItem[] = [];
  for await (const item of readLines(src, maxLineBytes === undefined ? {} : { maxLineBytes })) out.push(item);
  return out;
}

/** Feed `data` to a splitter cut at the given offsets. */
function splitAt(data: Buffer, cuts: number[], maxLineBytes?: number): LineItem[] {
  const s = new LineSplitter(maxLineBytes);
  const out: LineItem[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    s.push(data.subarray(prev, c), out);
    prev = c;
  }
  s.push(data.subarray(prev), out);
  s.end(out);
  return out;
}

describe('readLines', () => {
  it('LINES.BASIC: numbers lines from 1, keeps empty lines, handles CRLF and a last line without newline', async () => {
    const f = join(dir, 'basic.txt');
    writeFileSync(f, 'alpha\r\n\nbeta\ngamma');
    expect(await collect(f)).toEqual([
      { lineNo: 1, text: 'alpha' },
      { lineNo: 2, text: '' },
      { lineNo: 3, text: 'beta' },
      { lineNo: 4, text: 'gamma' },
    ]);
  });

  it('LINES.FINAL_NEWLINE: a trailing newline does not make an extra empty line; an empty file has no lines', async () => {
    const f = join(dir, 'nl.txt');
    writeFileSync(f, 'a\nb\n');
    expect(await collect(f)).toEqual([
      { lineNo: 1, text: 'a' },
      { lineNo: 2, text: 'b' },
    ]);
    const e = join(dir, 'empty.txt');
    writeFileSync(e, '');
    expect(await collect(e)).toEqual([]);
  });

  it('LINES.UTF8: decodes UTF-8 text and drops a byte order mark on line 1', async () => {
    const f = join(dir, 'utf8.txt');
    writeFileSync(f, '\ufeffgrüße\n日本\n');
    expect(await collect(f)).toEqual([
      { lineNo: 1, text: 'grüße' },
      { lineNo: 2, text: '日本' },
    ]);
  });

  it('LINES.BINARY: a NUL byte makes the line binary, bad UTF-8 makes it invalid-utf8, with the byte column', async () => {
    const f = join(dir, 'bin.txt');
    writeFileSync(
      f,
      Buffer.concat([
        Buffer.from('ok\nab'),
        Buffer.from([0]),
        Buffer.from('cd\nxy'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('\nfine\n'),
      ]),
    );
    expect(await collect(f)).toEqual([
      { lineNo: 1, text: 'ok' },
      { lineNo: 2, error: 'binary', bytes: 5, column: 3 },
      { lineNo: 3, error: 'invalid-utf8', bytes: 4, column: 3 },
      { lineNo: 4, text: 'fine' },
    ]);
  });

  it('LINES.SOURCE_STREAM: accepts a Readable (Buffers or strings) as well as a path', async () => {
    const items = await collect(Readable.from(['one\ntw', Buffer.from('o\nthree')]));
    expect(items).toEqual([
      { lineNo: 1, text: 'one' },
      { lineNo: 2, text: 'two' },
      { lineNo: 3, text: 'three' },
    ]);
  });

  it('LINES.TOO_LONG: a 1.5 MB line is skipped to its end, reported once with its size, and reading goes on', async () => {
    const f = join(dir, 'long.txt');
    const long = 'x'.repeat(1_500_000);
    writeFileSync(f, `before\n${long}\r\nafter\n`);
    const items = await collect(f);
    expect(items).toEqual([
      { lineNo: 1, text: 'before' },
      { lineNo: 2, error: 'line-too-long', bytes: 1_500_000 },
      { lineNo: 3, text: 'after' },
    ]);
  });

  it('LINES.TOO_LONG_LAST: an over-long last line without newline is reported', async () => {
    const items = await collect(Readable.from([Buffer.from('a\n'), Buffer.alloc(40, 0x61)]), 16);
    expect(items).toEqual([
      { lineNo: 1, text: 'a' },
      { lineNo: 2, error: 'line-too-long', bytes: 40 },
    ]);
  });

  it('LINES.MAX_EXACT: a line of exactly maxLineBytes is text, one byte more is too long (CR not counted)', async () => {
    const items = await collect(Readable.from(['abcd\r\nabcde\nabcd']), 4);
    expect(items).toEqual([
      { lineNo: 1, text: 'abcd' },
      { lineNo: 2, error: 'line-too-long', bytes: 5 },
      { lineNo: 3, text: 'abcd' },
    ]);
  });

  it('LINES.BOUNDED_MEMORY: a 64 MiB line streamed in 64 KiB pieces never holds more than maxLineBytes + 1', () => {
    const max = 1 << 20;
    const s = new LineSplitter(max);
    const piece = Buffer.alloc(64 * 1024, 0x41);
    const out: LineItem[] = [];
    let peak = 0;
    s.push(Buffer.from('head\n'), out);
    for (let k = 0; k < 1024; k++) {
      s.push(piece, out);
      peak = Math.max(peak, s.bufferedBytes);
    }
    s.push(Buffer.from('\ntail\n'), out);
    s.end(out);
    expect(peak).toBeLessThanOrEqual(max + 1);
    expect(s.bufferedBytes).toBe(0);
    expect(out).toEqual([
      { lineNo: 1, text: 'head' },
      { lineNo: 2, error: 'line-too-long', bytes: 64 * 1024 * 1024 },
      { lineNo: 3, text: 'tail' },
    ]);
  });

  it('LINES.BINARY_BOUNDED: binary lines straddling chunks are reported without keeping them', () => {
    const data = Buffer.concat([Buffer.from('t1\n'), Buffer.alloc(3000, 0), Buffer.from('\nt2\n')]);
    const out = splitAt(data, [10, 1000, 2000], 1024);
    expect(out).toEqual([
      { lineNo: 1, text: 't1' },
      { lineNo: 2, error: 'line-too-long', bytes: 3000 },
      { lineNo: 3, text: 't2' },
    ]);
    const out2 = splitAt(data, [10, 1000, 2000], 4096);
    expect(out2[1]).toEqual({ lineNo: 2, error: 'binary', bytes: 3000, column: 1 });
  });

  it('LINES.CHUNKING: any cut of the input into chunks gives the same lines as splitting the whole text', () => {
    const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '日', '\r', '🙂'), maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(lineArb, { maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (lines, finalNewline, rawCuts) => {
          const text = lines.join('\n') + (finalNewline && lines.length > 0 ? '\n' : '');
          const data = Buffer.from(text, 'utf8');
          const cuts = rawCuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1)));
          const got = splitAt(data, cuts);
          const expected = text.split('\n');
          if (expected[expected.length - 1] === '') expected.pop();
          const want = expected.map((t, k) => ({
            lineNo: k + 1,
            text: t.endsWith('\r') ? t.slice(0, -1) : t,
          }));
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('LINES.BATCHES: readLineBatches yields the same items as readLines, grouped per chunk', async () => {
    const f = join(dir, 'batches.txt');
    writeFileSync(f, Array.from({ length: 1000 }, (_, k) => `line ${k}`).join('\n'));
    const flat: LineItem[] = [];
    let batches = 0;
    for await (const b of readLineBatches(f, { highWaterMark: 1024 })) {
      batches++;
      flat.push(...b);
    }
    expect(batches).toBeGreaterThan(1);
    expect(flat).toEqual(await collect(f));
    expect(flat.every((i) => !isLineError(i))).toBe(true);
    expect(flat[999]).toEqual({ lineNo: 1000, text: 'line 999' });
  });

  it('LINES.THROUGHPUT: smoke (prints lines/s for ~150-byte lines, asserts only the count)', async () => {
    const f = join(dir, 'speed.txt');
    const line =
      '    kworker/u8:2-97      [001] .....  5123.456850: qi_submit: page_grp_resp dmar0: 0x200500019 0x8 0x0 0x0 '.padEnd(
        150,
        '-',
      );
    const n = 400_000;
    const fd = openSync(f, 'w');
    const block = (line + '\n').repeat(10_000);
    for (let k = 0; k < n / 10_000; k++) writeSync(fd, block);
    closeSync(fd);
    let count = 0;
    const t0 = process.hrtime.bigint();
    for await (const item of readLines(f)) if (!isLineError(item)) count++;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    let count2 = 0;
    const t1 = process.hrtime.bigint();
    for await (const b of readLineBatches(f)) count2 += b.length;
    const secs2 = Number(process.hrtime.bigint() - t1) / 1e9;
    console.log(
      `readLines: ${(count / secs / 1e6).toFixed(2)} M lines/s; readLineBatches: ${(count2 / secs2 / 1e6).toFixed(2)} M lines/s (${line.length}-byte lines)`,
    );
    expect(count).toBe(n);
    expect(count2).toBe(n);
  });
});
