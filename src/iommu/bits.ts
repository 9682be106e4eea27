/**
 * Bit-field helpers shared by the hardware codecs (VT-d, SMMUv3, AMD-Vi descriptors and PCIe
 * capability registers).
 *
 * Every format here is little-endian and built from 64-bit words. JavaScript bit operators work on
 * 32 bits, so a 64-bit word is handled as two unsigned 32-bit halves (`lo` = bits 31:0,
 * `hi` = bits 63:32). Fields that straddle the halves (page numbers, 64-bit addresses) are assembled
 * with multiplication, which is exact up to 2^53. No BigInt on the hot path: the simulator decodes a
 * descriptor per page request.
 */

/** 2^32, the weight of the high half of a 64-bit word. */
export const TWO_POW_32 = 0x1_0000_0000;

/** Largest page number (address bits 63:12) a descriptor can hold: 52 bits. */
export const MAX_PAGE_NUM = 2 ** 52 - 1;

/**
 * Assert that `value` is an integer in [0, 2^bits). Out-of-range fields are programmer errors in
 * the model (the hardware field cannot hold them), so they throw instead of truncating silently.
 */
/** 2^0 .. 2^64 (assertField runs per encoded field: no Math.pow per call). */
const POW2: readonly number[] = Array.from({ length: 65 }, (_, i) => 2 ** i);

export function assertField(name: string, value: number, bits: number): void {
  if (!Number.isInteger(value) || value < 0 || value > (POW2[bits] ?? 2 ** bits) - 1) {
    throw new RangeError(`${name}=${value} does not fit in ${bits} bits`);
  }
}

/** Assert that `value` is an integer in [min, max]. */
export function assertRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}=${value} is outside [${min}, ${max}]`);
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

/** Write an unsigned little-endian 32-bit value (the caller has checked the span). */
export function writeU32(bytes: Uint8Array, off: number, value: number): void {
  bytes[off] = value & 0xff;
  bytes[off + 1] = (value >>> 8) & 0xff;
  bytes[off + 2] = (value >>> 16) & 0xff;
  bytes[off + 3] = (value >>> 24) & 0xff;
}

/** Extract `width` (1..32) bits of a 32-bit half starting at bit `lo`. */
export function getBits(word: number, lo: number, width: number): number {
  if (width === 32) return word >>> 0;
  return (word >>> lo) & ((1 << width) - 1);
}

/** Bit `n` (0..31) of a 32-bit half as a boolean. */
export function getBit(word: number, n: number): boolean {
  return ((word >>> n) & 1) === 1;
}

/** `1 << n` as an unsigned value when `flag` is set, else 0 (n in 0..31). */
export function flagBit(flag: boolean, n: number): number {
  return flag ? (1 << n) >>> 0 : 0;
}

/**
 * A page number (address bits 63:12) placed in a 64-bit word: returns the bits that go into the low
 * half (page bits 19:0 at 31:12) and writes nothing else. Pair with {@link pageNumHi}.
 */
export function pageNumLo(pageNum: number): number {
  return ((pageNum % 0x10_0000) * 0x1000) >>> 0;
}

/** The high half of a 64-bit word holding page number `pageNum` at bits 63:12. */
export function pageNumHi(pageNum: number): number {
  return Math.floor(pageNum / 0x10_0000) >>> 0;
}

/** Page number held at bits 63:12 of the 64-bit word (lo, hi). */
export function pageNumFrom(lo: number, hi: number): number {
  return hi * 0x10_0000 + (lo >>> 12);
}

/** Combine the halves of a 64-bit word into a number; throws if it is not exact (>= 2^53). */
export function u64ToNumber(name: string, lo: number, hi: number): number {
  if (hi > 0x1f_ffff) throw new RangeError(`${name}=0x${hi.toString(16)}${hex8(lo)} is beyond 2^53`);
  return hi * TWO_POW_32 + lo;
}

/** Low half of a non-negative safe integer. */
export function loOf(value: number): number {
  return (value % TWO_POW_32) >>> 0;
}

/** High half of a non-negative safe integer. */
export function hiOf(value: number): number {
  return Math.floor(value / TWO_POW_32) >>> 0;
}

/** Assert a 64-bit value held as a JS number is a non-negative safe integer. */
export function assertU53(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name}=${value} is not a non-negative integer below 2^53`);
  }
}

/** A 64-bit word as a BigInt from its halves (for trace text, never on the hot path). */
export function qwordToBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Split a BigInt 64-bit word into halves; throws if it does not fit in 64 bits. */
export function bigIntToHalves(name: string, value: bigint): { lo: number; hi: number } {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${name}=${value} is not a u64`);
  return { lo: Number(value & 0xffff_ffffn), hi: Number(value >> 32n) };
}

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}
