/**
 * Layouts as data: a hardware record (descriptor, queue entry, command) is a table of fields with
 * their bit ranges, as the specification draws it, and one generic coder reads and writes every
 * table. The idea is QEMU's FIELD()/REG32() and the kernel's GENMASK()/FIELD_GET(): the table is
 * the only place a bit position is written down.
 *
 * Bits are numbered across the whole record, little-endian: bit b is bit (b mod 8) of byte b/8, so
 * dword i holds bits 32i+31..32i and qword i bits 64i+63..64i. A field is one or more segments
 * (AMD's PPR log splits the PASID in two); each segment places a run of the value's bits at a run
 * of the record's bits. Values are JS numbers: integers up to 2^53 (wider fields, such as 64-bit
 * addresses, are range-checked against 2^53 both ways) or booleans for one-bit flags.
 *
 * Hot path: `compile` checks a table once and splits each field into pieces, one per 32-bit word it
 * touches; from those pieces it generates the layout's encoder and decoder as straight-line code
 * (the shifts, masks and property names are constants of the table), so that `encodeInto` and
 * `decodeInto` run as fast as a hand-written codec, write into a caller's buffer and a reused
 * record, and allocate nothing. Parts of a value above bit 31 are combined by multiplication
 * (exact below 2^53). BigInt appears only in the qword helpers used for trace text. The
 * generated source of a layout is in its `coder` property, for reading.
 */

/** A run of record bits [hi:lo] holding the value's bits starting at `at` (default 0). */
export interface Segment {
  readonly hi: number;
  readonly lo: number;
  readonly at?: number;
}

/** One field of a layout, as the specification names it. */
export interface FieldSpec<R> {
  /** The field's name as the specification (or the kernel header) spells it. */
  readonly name: string;
  /** Where it lives: record bits, one or more segments (lowest value bits first). */
  readonly bits: readonly Segment[];
  /** The record property it decodes into; absent for a constant (type, opcode). */
  readonly key?: keyof R & string;
  /** Element of an array property (`key[index]`). */
  readonly index?: number;
  /** A one-bit flag decoded as a boolean. */
  readonly flag?: boolean;
  /** A constant the encoder writes and the decoder insists on (descriptor type, opcode). */
  readonly value?: number;
  /** Meaning of particular values, for the printed table. */
  readonly values?: Readonly<Record<number, string>>;
  /** One line: what the field means. */
  readonly doc?: string;
}

/** A record's layout: its name, size, and fields. */
export interface LayoutSpec<R> {
  /** Registry name, `family.record` (e.g. `vtd.page_request`). */
  readonly id: string;
  /** The record's name as the specification spells it. */
  readonly name: string;
  /** How error messages name the record ("not <what>: type 0x2"). */
  readonly what: string;
  /** Size in bytes, a multiple of 4. */
  readonly size: number;
  /** Where the layout comes from (spec section, kernel header). */
  readonly source: string;
  /** Words of the record printed as `DW` (32-bit) or `QW` (64-bit) in tables. */
  readonly unit: 'DW' | 'QW';
  readonly fields: readonly FieldSpec<R>[];
}

/** `bits(hi, lo)`: one segment of absolute record bits. */
export function bits(hi: number, lo: number = hi): Segment[] {
  return [{ hi, lo }];
}

/** Bits [hi:lo] of qword `q`. */
export function qw(q: number, hi: number, lo: number = hi): Segment[] {
  return [{ hi: 64 * q + hi, lo: 64 * q + lo }];
}

/** Bits [hi:lo] of dword `d`. */
export function dw(d: number, hi: number, lo: number = hi): Segment[] {
  return [{ hi: 32 * d + hi, lo: 32 * d + lo }];
}

/** 2^0 .. 2^64. */
const POW2: readonly number[] = Array.from({ length: 65 }, (_, i) => 2 ** i);

/** A compiled layout: the table plus flat arrays the coder walks. */
export interface Layout<R> extends LayoutSpec<R> {
  /** Width of each field's value in bits (highest value bit + 1). */
  readonly widths: Int32Array;
  /** Pieces of field i: pieceFirst[i] .. pieceFirst[i + 1] - 1 (one per 32-bit word it touches). */
  readonly pieceFirst: Int32Array;
  readonly pieceWord: Int32Array;
  readonly pieceShift: Int32Array;
  readonly pieceWidth: Int32Array;
  /** Value bit of the piece's lowest bit. */
  readonly pieceAt: Int32Array;
  /** The generated encoder and decoder, and their source. */
  readonly encodeFn: (rec: R, bytes: Uint8Array, off: number) => void;
  readonly decodeFn: (bytes: Uint8Array, off: number, out: R) => R;
  readonly coder: string;
}

/** A layout of any record type, for registries and printing (which only read the table). */
export type AnyLayout = Layout<never>;

/** Forget a layout's record type (for lists of layouts of different records). */
export function anyLayout<R>(l: Layout<R>): AnyLayout {
  return l as unknown as AnyLayout;
}

/** Check a table (programmer errors throw) and flatten it for the coder. */
export function compile<R>(spec: LayoutSpec<R>): Layout<R> {
  if (spec.size <= 0 || spec.size % 4 !== 0) throw new Error(`layout ${spec.id}: size ${spec.size} is not a positive multiple of 4`);
  const nbits = spec.size * 8;
  const owner = new Int32Array(nbits).fill(-1);
  const widths = new Int32Array(spec.fields.length);
  const first = new Int32Array(spec.fields.length + 1);
  const pw: number[] = [];
  const ps: number[] = [];
  const pn: number[] = [];
  const pa: number[] = [];
  spec.fields.forEach((f, fi) => {
    if ((f.key === undefined) === (f.value === undefined)) throw new Error(`layout ${spec.id}.${f.name}: a field has a key or a constant value`);
    let at = 0;
    let width = 0;
    first[fi] = pw.length;
    for (const seg of f.bits) {
      const a = seg.at ?? at;
      if (!(seg.lo >= 0 && seg.hi >= seg.lo && seg.hi < nbits)) throw new Error(`layout ${spec.id}.${f.name}: bits ${seg.hi}:${seg.lo} outside the record`);
      for (let b = seg.lo; b <= seg.hi; b++) {
        if (owner[b] !== -1) throw new Error(`layout ${spec.id}.${f.name}: bit ${b} also belongs to ${spec.fields[owner[b]!]!.name}`);
        owner[b] = fi;
      }
      // Split the segment at 32-bit word boundaries.
      let b = seg.lo;
      while (b <= seg.hi) {
        const word = b >>> 5;
        const end = Math.min(seg.hi, word * 32 + 31);
        pw.push(word);
        ps.push(b & 31);
        pn.push(end - b + 1);
        pa.push(a + (b - seg.lo));
        b = end + 1;
      }
      at = a + (seg.hi - seg.lo + 1);
      width = Math.max(width, at);
    }
    if (f.flag === true && width !== 1) throw new Error(`layout ${spec.id}.${f.name}: a flag is one bit`);
    if (width > 64) throw new Error(`layout ${spec.id}.${f.name}: wider than 64 bits`);
    widths[fi] = width;
  });
  first[spec.fields.length] = pw.length;
  const flat = {
    ...spec,
    widths,
    pieceFirst: first,
    pieceWord: Int32Array.from(pw),
    pieceShift: Int32Array.from(ps),
    pieceWidth: Int32Array.from(pn),
    pieceAt: Int32Array.from(pa),
  };
  return { ...flat, ...generate(flat) };
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `2^n` as a literal. */
function p2(n: number): string {
  return String(POW2[n]!);
}

/**
 * The encoder and decoder of a checked table, as source text and as functions. Only numbers from
 * the table and property names matching IDENT go into the text.
 */
function generate<R>(l: Omit<Layout<R>, 'encodeFn' | 'decodeFn' | 'coder'>): Pick<Layout<R>, 'encodeFn' | 'decodeFn' | 'coder'> {
  const nw = l.size / 4;
  const fields = l.fields;
  const prop = (f: FieldSpec<R>): string => {
    if (!IDENT.test(f.key!)) throw new Error(`layout ${l.id}.${f.name}: key ${f.key!} is not an identifier`);
    return f.index === undefined ? `.${f.key!}` : `.${f.key!}[${f.index}]`;
  };
  const pieces = (fi: number): number[] => {
    const out: number[] = [];
    for (let p = l.pieceFirst[fi]!; p < l.pieceFirst[fi + 1]!; p++) out.push(p);
    return out;
  };
  const raw = (p: number): string => {
    const w = `w${l.pieceWord[p]!}`;
    const sh = l.pieceShift[p]!;
    const n = l.pieceWidth[p]!;
    if (n === 32) return w;
    return sh === 0 ? `(${w} & ${POW2[n]! - 1})` : `((${w} >>> ${sh}) & ${POW2[n]! - 1})`;
  };

  // Decoder.
  const dec: string[] = [];
  dec.push(`if (!(Number.isInteger(off) && off >= 0 && off + ${l.size} <= b.length)) span(b, off);`);
  const used = new Set<number>(Array.from(l.pieceWord));
  for (let i = 0; i < nw; i++) {
    if (used.has(i)) dec.push(`const w${i} = (b[off + ${4 * i}] | (b[off + ${4 * i + 1}] << 8) | (b[off + ${4 * i + 2}] << 16) | (b[off + ${4 * i + 3}] << 24)) >>> 0;`);
  }
  const valueExpr = (fi: number): string =>
    pieces(fi)
      .map((p) => (l.pieceAt[p]! === 0 ? raw(p) : `${raw(p)} * ${p2(l.pieceAt[p]!)}`))
      .join(' + ');
  // Constants first (a wrong type or opcode is reported before anything else).
  fields.forEach((f, fi) => {
    if (f.value !== undefined) dec.push(`{ const v = ${valueExpr(fi)}; if (v !== ${f.value}) badConst(${fi}, v); }`);
  });
  fields.forEach((f, fi) => {
    if (f.key === undefined) return;
    if (l.widths[fi]! > 53) {
      const high = pieces(fi)
        .filter((p) => l.pieceAt[p]! + l.pieceWidth[p]! > 53)
        .map((p) => (l.pieceAt[p]! >= 53 ? raw(p) : `(${raw(p)} >>> ${53 - l.pieceAt[p]!})`))
        .join(' | ');
      dec.push(`if ((${high}) !== 0) beyond53(${fi}, b, off);`);
    }
    dec.push(f.flag === true ? `o${prop(f)} = ${raw(l.pieceFirst[fi]!)} === 1;` : `o${prop(f)} = ${valueExpr(fi)};`);
  });
  dec.push('return o;');

  // Encoder: check every value (table order), then the span, then build the words.
  const enc: string[] = [];
  const init = new Array<number>(nw).fill(0);
  fields.forEach((f, fi) => {
    if (f.value !== undefined) {
      for (const p of pieces(fi)) {
        const part = Math.floor(f.value / POW2[l.pieceAt[p]!]!) % POW2[l.pieceWidth[p]!]!;
        init[l.pieceWord[p]!] = (init[l.pieceWord[p]!]! | (part << l.pieceShift[p]!)) >>> 0;
      }
      return;
    }
    enc.push(`const v${fi} = r${prop(f)};`);
    if (f.flag === true) return;
    const w = l.widths[fi]!;
    enc.push(
      w > 53
        ? `if (!(Number.isSafeInteger(v${fi}) && v${fi} >= 0)) wide53(${fi}, v${fi});`
        : `if (!(Number.isInteger(v${fi}) && v${fi} >= 0 && v${fi} <= ${POW2[w]! - 1})) width(${fi}, v${fi});`,
    );
  });
  enc.push(`if (!(Number.isInteger(off) && off >= 0 && off + ${l.size} <= b.length)) span(b, off);`);
  for (let i = 0; i < nw; i++) enc.push(`let w${i} = ${init[i]!};`);
  fields.forEach((f, fi) => {
    if (f.value !== undefined) return;
    for (const p of pieces(fi)) {
      const at = l.pieceAt[p]!;
      const n = l.pieceWidth[p]!;
      const v = `v${fi}`;
      let part: string;
      if (f.flag === true) part = `(${v} ? 1 : 0)`;
      else if (l.widths[fi]! <= 32) part = at === 0 && n === 32 ? v : at === 0 ? `(${v} & ${POW2[n]! - 1})` : `((${v} >>> ${at}) & ${POW2[n]! - 1})`;
      else part = at === 0 ? `(${v} % ${p2(n)})` : `(Math.floor(${v} / ${p2(at)}) % ${p2(n)})`;
      const sh = l.pieceShift[p]!;
      enc.push(`w${l.pieceWord[p]!} |= ${sh === 0 ? part : `${part} << ${sh}`};`);
    }
  });
  for (let i = 0; i < nw; i++) {
    enc.push(`b[off + ${4 * i}] = w${i} & 255; b[off + ${4 * i + 1}] = (w${i} >>> 8) & 255; b[off + ${4 * i + 2}] = (w${i} >>> 16) & 255; b[off + ${4 * i + 3}] = (w${i} >>> 24) & 255;`);
  }

  const name = l.id.replace(/[^A-Za-z0-9_]/g, '_');
  const coder = [
    `function encode_${name}(r, b, off) {`,
    ...enc.map((x) => `  ${x}`),
    '}',
    `function decode_${name}(b, off, o) {`,
    ...dec.map((x) => `  ${x}`),
    '}',
  ].join('\n');
  const span = (b: Uint8Array, off: number): void => {
    assertSpan(b, off, l.size);
  };
  const badConst = (fi: number, v: number): never => {
    throw new RangeError(`not ${l.what}: ${fields[fi]!.name.toLowerCase()} 0x${v.toString(16)}`);
  };
  const width = (fi: number, v: unknown): never => {
    throw new RangeError(`${label(fields[fi]!)}=${String(v)} does not fit in ${l.widths[fi]!} bits`);
  };
  const wide53 = (fi: number, v: unknown): never => {
    throw new RangeError(`${label(fields[fi]!)}=${String(v)} is not a non-negative integer below 2^53`);
  };
  const beyond53 = (fi: number, b: Uint8Array, off: number): never => {
    throw new RangeError(`${label(fields[fi]!)}=0x${fieldBigInt(l, fi, b, off).toString(16)} is beyond 2^53`);
  };
  // Code generation from the checked table above (numbers and identifiers only): the only way to
  // get a table-driven coder without a per-field property lookup on the hot path.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('span', 'badConst', 'width', 'wide53', 'beyond53', `'use strict';\n${coder}\nreturn [encode_${name}, decode_${name}];`) as (
    ...helpers: unknown[]
  ) => [Layout<R>['encodeFn'], Layout<R>['decodeFn']];
  const [encodeFn, decodeFn] = make(span, badConst, width, wide53, beyond53);
  return { encodeFn, decodeFn, coder };
}

/**
 * Assert that `value` is an integer in [0, 2^bits): a register or descriptor field cannot hold
 * more, so a model that tries is wrong (programmer error), never silently truncated.
 */
export function assertField(name: string, value: number, bits: number): void {
  if (!Number.isInteger(value) || value < 0 || value > (POW2[bits] ?? 2 ** bits) - 1) {
    throw new RangeError(`${name}=${value} does not fit in ${bits} bits`);
  }
}

/** Assert that `len` bytes starting at `off` lie inside `bytes`. */
export function assertSpan(bytes: Uint8Array, off: number, len: number): void {
  if (!Number.isInteger(off) || off < 0 || off + len > bytes.length) {
    throw new RangeError(`need ${len} bytes at offset ${off}, buffer has ${bytes.length}`);
  }
}

/** Read an unsigned little-endian 32-bit value. */
export function readU32(bytes: Uint8Array, off: number): number {
  return (bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 24)) >>> 0;
}

function writeU32(bytes: Uint8Array, off: number, value: number): void {
  bytes[off] = value & 0xff;
  bytes[off + 1] = (value >>> 8) & 0xff;
  bytes[off + 2] = (value >>> 16) & 0xff;
  bytes[off + 3] = (value >>> 24) & 0xff;
}

/** The name a field's errors use: its record key (with the element index), else its spec name. */
function label<R>(f: FieldSpec<R>): string {
  if (f.key === undefined) return f.name;
  return f.index === undefined ? f.key : `${f.key}[${f.index}]`;
}

/**
 * Write `rec` at `off` (the whole record: reserved bits zero). Values are checked against their
 * field's width (above 53 bits: against 2^53); a value that does not fit is a programmer error.
 */
export function encodeInto<R>(layout: Layout<R>, rec: NoInfer<R>, bytes: Uint8Array, off = 0): void {
  layout.encodeFn(rec, bytes, off);
}

/** Encode into a new array of the record's size. */
export function encode<R>(layout: Layout<R>, rec: NoInfer<R>): Uint8Array {
  const bytes = new Uint8Array(layout.size);
  encodeInto(layout, rec, bytes, 0);
  return bytes;
}

/** Value of field `fi` read from the record at `off` (the span is the caller's to check). */
function readField<R>(layout: Layout<R>, fi: number, bytes: Uint8Array, off: number): number {
  let v = 0;
  let high = 0;
  for (let p = layout.pieceFirst[fi]!; p < layout.pieceFirst[fi + 1]!; p++) {
    const shift = layout.pieceShift[p]!;
    const width = layout.pieceWidth[p]!;
    const word = readU32(bytes, off + 4 * layout.pieceWord[p]!);
    const part = width === 32 ? word : (word >>> shift) & (POW2[width]! - 1);
    const at = layout.pieceAt[p]!;
    v += part * POW2[at]!;
    // Value bits 53 and up of this piece (a 64-bit field decoded into a JS number).
    if (at + width > 53) high |= at >= 53 ? part : Math.floor(part / POW2[53 - at]!);
  }
  if (high !== 0) throw new RangeError(`${label(layout.fields[fi]!)}=0x${fieldBigInt(layout, fi, bytes, off).toString(16)} is beyond 2^53`);
  return v;
}

function fieldBigInt<R>(layout: Pick<Layout<R>, 'pieceFirst' | 'pieceWord' | 'pieceWidth' | 'pieceShift' | 'pieceAt'>, fi: number, bytes: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let p = layout.pieceFirst[fi]!; p < layout.pieceFirst[fi + 1]!; p++) {
    const word = readU32(bytes, off + 4 * layout.pieceWord[p]!);
    const width = layout.pieceWidth[p]!;
    const part = width === 32 ? word : (word >>> layout.pieceShift[p]!) & (POW2[width]! - 1);
    v |= BigInt(part) << BigInt(layout.pieceAt[p]!);
  }
  return v;
}

/**
 * Decode the record at `off` into `out` (every keyed field is written; reserved bits are ignored).
 * The constants (type, opcode) are checked first: `not <what>: <name> 0x..`.
 */
export function decodeInto<R>(layout: Layout<R>, bytes: Uint8Array, off: number, out: NoInfer<R>): R {
  return layout.decodeFn(bytes, off, out);
}

/** The raw value of the field named `name` (spec name) at `off`, e.g. an opcode. */
export function peek<R>(layout: Layout<R>, name: string, bytes: Uint8Array, off = 0): number {
  assertSpan(bytes, off, layout.size);
  const fi = layout.fields.findIndex((f) => f.name === name);
  if (fi < 0) throw new Error(`layout ${layout.id} has no field ${name}`);
  return readField(layout, fi, bytes, off);
}

const QW_SCRATCH = new Uint8Array(64);

/** The record as little-endian 64-bit words (trace text such as `qi_submit`; not for the hot path). */
export function toQwords<R>(layout: Layout<R>, rec: NoInfer<R>): bigint[] {
  encodeInto(layout, rec, QW_SCRATCH, 0);
  const out: bigint[] = [];
  for (let q = 0; q < layout.size / 8; q++) {
    out.push((BigInt(readU32(QW_SCRATCH, 8 * q + 4)) << 32n) | BigInt(readU32(QW_SCRATCH, 8 * q)));
  }
  return out;
}

/**
 * Decode a record given as 64-bit words (missing trailing words are zero); throws if a word does
 * not fit in 64 bits or there are too many.
 */
export function fromQwords<R>(layout: Layout<R>, qwords: readonly bigint[], out: NoInfer<R>): R {
  const n = layout.size / 8;
  if (qwords.length > n) throw new RangeError(`expected at most ${n} qwords, got ${qwords.length}`);
  QW_SCRATCH.fill(0, 0, layout.size);
  qwords.forEach((v, q) => {
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`qw${q}=${v} is not a u64`);
    writeU32(QW_SCRATCH, 8 * q, Number(v & 0xffff_ffffn));
    writeU32(QW_SCRATCH, 8 * q + 4, Number(v >> 32n));
  });
  return decodeInto(layout, QW_SCRATCH, 0, out);
}
