import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KIND_INFO, TRACE_KIND_COUNT, TraceKind } from '../../src/trace/events.js';
import {
  formatJsonlEvent,
  JsonlWriter,
  jsonlFileWriter,
  parseJsonlText,
  readJsonlBatches,
  type JsonlDiagnostic,
  type JsonlEvent,
  type JsonlItem,
} from '../../src/trace/jsonl.js';

function events(items: JsonlItem[]): JsonlEvent[] {
  return items.flatMap((i) => (i.type === 'event' ? [i.event] : []));
}
function diags(items: JsonlItem[]): JsonlDiagnostic[] {
  return items.flatMap((i) => (i.type === 'diagnostic' ? [i.diagnostic] : []));
}
async function readAll(src: string | Readable, maxLineBytes?: number): Promise<JsonlItem[]> {
  const out: JsonlItem[] = [];
  for await (const b of readJsonlBatches(src, maxLineBytes === undefined ? {} : { maxLineBytes })) out.push(...b);
  return out;
}

describe('JSONL writer', () => {
  it('writes the canonical form: t, ev, then the kind fields in KIND_INFO order, unused omitted', () => {
    expect(formatJsonlEvent(1500, TraceKind.PAGE_REQUEST, 0, 2, 1, 17, 37, 4096)).toBe(
      '{"t":1500,"ev":"page_request","dev":0,"pasid":2,"prgi":1,"req":17,"flags":37,"page":4096}',
    );
    expect(formatJsonlEvent(7, TraceKind.DISCARD_PARTIAL, 9, 9, 9, 9, 0, 3)).toBe('{"t":7,"ev":"discard_partial","iommu":0,"count":3}');
    expect(() => formatJsonlEvent(0, 99, 0, 0, 0, 0, 0, 0)).toThrow(RangeError);
  });

  it('buffers and flushes through the sink, one event per line', () => {
    const chunks: string[] = [];
    const w = new JsonlWriter((c) => chunks.push(c), { bufferChars: 64 });
    for (let i = 0; i < 10; i++) w.onEvent(i, TraceKind.DEVICE_REMOVE, i, 0, 0, 0, 0, 0);
    w.finish();
    const text = chunks.join('');
    expect(chunks.length).toBeGreaterThan(1);
    expect(text.split('\n')).toHaveLength(11);
    expect(events(parseJsonlText(text)).map((e) => e.f[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('round-trips every kind through a file (used fields exact, unused read back as 0)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jsonl-'));
    const path = join(dir, 't.jsonl');
    const w = jsonlFileWriter(path);
    for (let k = 0; k < TRACE_KIND_COUNT; k++) w.onEvent(k * 10, k, 1, -1, 2, 3, 4, 5);
    w.finish();
    const got = events(await readAll(path));
    expect(got).toHaveLength(TRACE_KIND_COUNT);
    got.forEach((e, k) => {
      expect(e.kind).toBe(k);
      expect(e.lineNo).toBe(k + 1);
      const want = [1, -1, 2, 3, 4, 5].map((v, i) => (KIND_INFO[k]!.fields[i] === null ? 0 : v));
      expect([...e.f]).toEqual(want);
    });
  });

  it('property: format then parse gives back (t, kind, used fields)', () => {
    const int = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 50 }),
        fc.integer({ min: 0, max: TRACE_KIND_COUNT - 1 }),
        fc.tuple(int, int, int, int, int, int),
        (t, kind, f) => {
          const line = formatJsonlEvent(t, kind, ...f);
          const items = parseJsonlText(line);
          expect(diags(items)).toEqual([]);
          const e = events(items)[0]!;
          expect(e.t).toBe(t);
          expect(e.kind).toBe(kind);
          for (let i = 0; i < 6; i++) expect(e.f[i]).toBe(KIND_INFO[kind]!.fields[i] === null ? 0 : f[i]);
        },
      ),
    );
  });
});

describe('JSONL reader diagnostics (with line numbers)', () => {
  it('unknown event kind', () => {
    const d = diags(parseJsonlText('{"t":1,"ev":"device_remove","dev":0}\n{"t":2,"ev":"warp_drive","dev":0}\n'));
    expect(d).toEqual([expect.objectContaining({ lineNo: 2, code: 'unknown-kind', severity: 'error' })]);
    expect(d[0]!.message).toContain('warp_drive');
  });

  it('missing and non-integer fields, bad t', () => {
    const d = diags(
      parseJsonlText(
        [
          '{"t":1,"ev":"device_remove"}',
          '{"t":2,"ev":"device_remove","dev":1.5}',
          '{"t":3,"ev":"device_remove","dev":"0"}',
          '{"t":-4,"ev":"device_remove","dev":0}',
          '{"ev":"device_remove","dev":0}',
          '[1,2]',
        ].join('\n'),
      ),
    );
    expect(d.map((x) => [x.lineNo, x.code])).toEqual([
      [1, 'missing-field'],
      [2, 'bad-field'],
      [3, 'bad-field'],
      [4, 'bad-field'],
      [5, 'missing-field'],
      [6, 'malformed'],
    ]);
  });

  it('unknown extra field is a warning and the event is kept', () => {
    const items = parseJsonlText('{"t":1,"ev":"device_remove","dev":0,"colour":3}');
    expect(diags(items)).toEqual([expect.objectContaining({ lineNo: 1, code: 'unknown-field', severity: 'warning' })]);
    expect(events(items)).toHaveLength(1);
  });

  it('out-of-order timestamps name both lines', () => {
    const d = diags(parseJsonlText('{"t":10,"ev":"device_remove","dev":0}\n\n{"t":5,"ev":"device_remove","dev":0}\n'));
    expect(d).toEqual([expect.objectContaining({ lineNo: 3, code: 'out-of-order' })]);
    expect(d[0]!.message).toContain('line 1');
  });

  it('truncated last line', () => {
    const d = diags(parseJsonlText('{"t":1,"ev":"device_remove","dev":0}\n{"t":2,"ev":"device_re'));
    expect(d).toEqual([expect.objectContaining({ lineNo: 2, code: 'malformed' })]);
    expect(d[0]!.message).toContain('truncated');
  });

  it('binary garbage and invalid UTF-8 from a stream', async () => {
    const buf = Buffer.concat([
      Buffer.from('{"t":1,"ev":"device_remove","dev":0}\n'),
      Buffer.from([0x7b, 0x00, 0x01, 0xff, 0x0a]),
      Buffer.from([0xc3, 0x28, 0x0a]),
      Buffer.from('{"t":2,"ev":"device_remove","dev":0}\n'),
    ]);
    const items = await readAll(Readable.from([buf]));
    expect(diags(items).map((d) => [d.lineNo, d.code])).toEqual([
      [2, 'binary'],
      [3, 'invalid-utf8'],
    ]);
    expect(events(items).map((e) => e.lineNo)).toEqual([1, 4]);
  });

  it('a 1 MB line is a line-too-long diagnostic and reading continues', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jsonl-'));
    const path = join(dir, 'long.jsonl');
    const long = `{"t":2,"ev":"device_remove","dev":0,"pad":"${'x'.repeat(1_100_000)}"}`;
    writeFileSync(path, `{"t":1,"ev":"device_remove","dev":0}\n${long}\n{"t":3,"ev":"device_remove","dev":0}\n`);
    const items = await readAll(path);
    expect(diags(items)).toEqual([expect.objectContaining({ lineNo: 2, code: 'line-too-long', severity: 'error' })]);
    expect(events(items).map((e) => e.lineNo)).toEqual([1, 3]);
    expect(readFileSync(path).length).toBeGreaterThan(1 << 20);
  });
});
