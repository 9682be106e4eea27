/**
 * The offline checker's byte path (`readJsonl`: lines parsed from the read buffer, no string per
 * canonical line) must give exactly what the text path (`readJsonlBatches`) gives: the same events
 * and the same diagnostics, in the same order, for any input and any chunking.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TRACE_KIND_COUNT } from '../../src/trace/events.js';
import { formatJsonlEvent, readJsonl, readJsonlBatches, type JsonlDiagnostic } from '../../src/trace/jsonl.js';

type Rec = [string, number, ...number[]] | ['diag', JsonlDiagnostic];

async function viaText(src: () => string | Readable, maxLineBytes: number): Promise<Rec[]> {
  const out: Rec[] = [];
  for await (const b of readJsonlBatches(src(), { maxLineBytes }))
    for (const i of b) out.push(i.type === 'event' ? ['ev', i.lineNo, i.t, i.kind, ...i.f] : ['diag', i.diagnostic]);
  return out;
}
async function viaBytes(src: () => string | Readable, maxLineBytes: number, highWaterMark?: number): Promise<Rec[]> {
  const out: Rec[] = [];
  await readJsonl(
    src(),
    {
      event: (lineNo, t, kind, f0, f1, f2, f3, f4, f5) => void out.push(['ev', lineNo, t, kind, f0, f1, f2, f3, f4, f5]),
      diagnostic: (d) => void out.push(['diag', d]),
    },
    { maxLineBytes, ...(highWaterMark !== undefined ? { highWaterMark } : {}) },
  );
  return out;
}

/** Byte chunks of `data` cut at the given points. */
function chunked(data: Buffer, cuts: number[]): () => Readable {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  return () => {
    const parts: Buffer[] = [];
    let prev = 0;
    for (const p of [...points, data.length]) {
      if (p > prev) parts.push(data.subarray(prev, p));
      prev = p;
    }
    return Readable.from(parts);
  };
}

const canonical = fc
  .tuple(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: TRACE_KIND_COUNT - 1 }), fc.array(fc.integer({ min: -5, max: 70000 }), { minLength: 6, maxLength: 6 }))
  .map(([t, k, f]) => formatJsonlEvent(t, k, f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!));
/** Canonical lines, and lines broken in the ways real files break. */
const line = fc.oneof(
  { weight: 6, arbitrary: canonical },
  { weight: 1, arbitrary: fc.tuple(canonical, fc.nat()).map(([l, n]) => l.slice(0, n % l.length)) }, // truncated (inside a number too)
  { weight: 1, arbitrary: canonical.map((l) => l.replace('{"t":', '{ "t":')) }, // not canonical, valid JSON
  { weight: 1, arbitrary: canonical.map((l) => `${l}\r`) },
  { weight: 1, arbitrary: fc.tuple(canonical, fc.constantFrom('\u0000', 'é', '\ud83d\ude00', '\uFEFF', '9', '-', '00', '"')).map(([l, c]) => `${l.slice(0, 12)}${c}${l.slice(12)}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '{}', '[1]', 'garbage', '{"t":-1,"ev":"device_remove","dev":0}', '{"t":1,"ev":"nope"}', '{"t":01,"ev":"device_remove","dev":0}') },
);

describe('JSONL byte path', () => {
  it('JSONL.BYTES.SAME_AS_TEXT: events and diagnostics equal the text path for any lines and any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), fc.integer({ min: 40, max: 400 }), async (lines, cuts, lastNl, max) => {
        const data = Buffer.from(lines.join('\n') + (lastNl ? '\n' : ''), 'utf8');
        const src = chunked(data, cuts);
        expect(await viaBytes(src, max)).toEqual(await viaText(src, max));
      }),
      { numRuns: 300 },
    );
  });

  it('JSONL.BYTES.FILE: from a path, read with a small reused buffer, lines across reads included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jsonl-bytes-'));
    const path = join(dir, 't.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) lines.push(formatJsonlEvent(i * 3, i % TRACE_KIND_COUNT, i, 1, 2, 3, -4, 5));
    lines.splice(100, 0, '{"t":300,"ev":"device_remove","dev":1'); // truncated inside a number
    lines.splice(200, 0, 'x'.repeat(300)); // too long
    writeFileSync(path, `\uFEFF${lines.join('\r\n')}`);
    const text = await viaText(() => path, 200);
    expect(text.filter((r) => r[0] === 'ev')).toHaveLength(500);
    expect(await viaBytes(() => path, 200, 97)).toEqual(text);
    expect(await viaBytes(() => path, 200)).toEqual(text);
  });
});
