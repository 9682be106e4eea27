/**
 * Layouts print themselves: the table a descriptor is defined by, as text (one row per field,
 * highest bits first, as the specifications draw them) or as JSON. This is what
 * `iopf list layouts [NAME]` shows.
 */
import type { AnyLayout, FieldSpec, Segment } from './layout.js';

/** A layout as plain data (no compiled arrays), for JSON. */
export interface LayoutDoc {
  id: string;
  name: string;
  size: number;
  source: string;
  fields: {
    name: string;
    bits: { hi: number; lo: number; at: number }[];
    key?: string;
    flag?: boolean;
    value?: number;
    values?: Record<string, string>;
    doc?: string;
  }[];
}

function segs<R>(f: FieldSpec<R>): Required<Segment>[] {
  let at = 0;
  return f.bits.map((s) => {
    const a = s.at ?? at;
    at = a + s.hi - s.lo + 1;
    return { hi: s.hi, lo: s.lo, at: a };
  });
}

export function layoutDoc(l: AnyLayout): LayoutDoc {
  return {
    id: l.id,
    name: l.name,
    size: l.size,
    source: l.source,
    fields: l.fields.map((f: FieldSpec<never>) => {
      const out: LayoutDoc['fields'][number] = { name: f.name, bits: segs(f) };
      if (f.key !== undefined) out.key = f.index === undefined ? f.key : `${f.key}[${f.index}]`;
      if (f.flag === true) out.flag = true;
      if (f.value !== undefined) out.value = f.value;
      if (f.values !== undefined) out.values = Object.fromEntries(Object.entries(f.values).map(([k, v]) => [`0x${Number(k).toString(16)}`, v]));
      if (f.doc !== undefined) out.doc = f.doc;
      return out;
    }),
  };
}

function range(hi: number, lo: number): string {
  return hi === lo ? `${hi}` : `${hi}:${lo}`;
}

/** Where a segment sits: absolute bits and, in the layout's unit, word and bits within it. */
function place(s: Required<Segment>, unit: 'DW' | 'QW'): [string, string] {
  const w = unit === 'QW' ? 64 : 32;
  const word = Math.floor(s.lo / w);
  const inWord = Math.floor(s.hi / w) === word ? `${unit}${word}[${range(s.hi - word * w, s.lo - word * w)}]` : `${unit}${word}..`;
  return [range(s.hi, s.lo), inWord];
}

function hex(v: number): string {
  return `${v.toString(16).toUpperCase()}h`;
}

/** One layout as a text table: one row per segment, highest bits first (as the specs draw it). */
export function formatLayout(l: AnyLayout): string {
  const rows: { hi: number; cells: string[] }[] = [];
  for (const f of l.fields) {
    const s = segs(f);
    const split = s.length > 1 || s[0]!.at !== 0;
    s.forEach((seg, si) => {
      const [abs, inWord] = place(seg, l.unit);
      const width = seg.hi - seg.lo + 1;
      const name = split ? `${f.name}[${range(seg.at + width - 1, seg.at)}]` : f.name;
      const key =
        f.value !== undefined ? `= ${hex(Math.floor(f.value / 2 ** seg.at) % 2 ** width)}` : f.index === undefined ? f.key! : `${f.key!}[${f.index}]`;
      // The meaning goes on the field's first segment only.
      const meaning: string[] = [];
      if (si === 0 && f.doc !== undefined) meaning.push(f.doc);
      if (si === 0 && f.values !== undefined) meaning.push(Object.entries(f.values).map(([k, v]) => `${hex(Number(k))} ${v}`).join(', '));
      rows.push({ hi: seg.hi, cells: [abs, inWord, name, key, meaning.join('; ')] });
    });
  }
  rows.sort((a, b) => b.hi - a.hi);
  const head = ['bits', 'word', 'field', 'record', 'meaning'];
  const table = [head, ...rows.map((r) => r.cells)];
  const widths = head.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [`${l.id}: ${l.name}, ${l.size} bytes`, `  source: ${l.source}`, ...table.map((r) => `  ${line(r)}`)].join('\n') + '\n';
}
