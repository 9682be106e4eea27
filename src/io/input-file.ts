/**
 * Whole-file inputs (scenarios, recorded choices, run documents, sweep shards): read only regular
 * files, only up to a size bound, and only valid UTF-8 — the same rule the trace reader applies.
 * A path that names a directory, a device (/dev/zero never ends), a FIFO or a socket is refused
 * before a byte is read; a file larger than the bound is refused from its size, and a file that
 * grows while being read is cut at bound + 1 byte and refused. Problems come back as values with a
 * location (line and column of the first bad byte), never as exceptions.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { firstInvalidUtf8 } from './line-reader.js';

export const MiB = 1 << 20;

export type TextFileResult =
  | { ok: true; text: string }
  | { ok: false; message: string; /** 1-based; 0 when the problem is the whole file. */ line: number; col: number };

function fail(message: string, line = 0, col = 0): TextFileResult {
  return { ok: false, message, line, col };
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Line and column (1-based, column in bytes) of byte offset `off` of `buf`. */
function lineCol(buf: Buffer, off: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = buf.indexOf(0x0a); i >= 0 && i < off; i = buf.indexOf(0x0a, i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: off - start + 1 };
}

/**
 * Read `path` as UTF-8 text of at most `maxBytes` bytes. `expected` completes the message for a
 * file that is not text ("expected YAML or JSON text").
 */
export function readTextFile(path: string, maxBytes: number, expected: string): TextFileResult {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return fail(`cannot read: ${kindOf(st)}, expected a regular file of ${expected}`);
    size = st.size;
  } catch (e) {
    return fail(`cannot read: ${(e as Error).message}`);
  }
  if (size > maxBytes) return fail(`file of ${size} bytes is larger than the limit of ${maxBytes} bytes (${expected})`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return fail(`cannot read: ${(e as Error).message}`);
  }
  let buf: Buffer;
  let len = 0;
  try {
    // The path may have been swapped for something else between stat and open: look again.
    const st = fstatSync(fd);
    if (!st.isFile()) return fail(`cannot read: ${kindOf(st)}, expected a regular file of ${expected}`);
    buf = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(st.size, 4096)) + 1);
    for (;;) {
      if (len === buf.length) {
        if (buf.length > maxBytes) break;
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
  } catch (e) {
    return fail(`cannot read: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
  if (len > maxBytes) return fail(`file grew beyond the limit of ${maxBytes} bytes while being read (${expected})`);
  const bytes = buf.subarray(0, len);
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    const { line, col } = lineCol(bytes, nul);
    return fail(`binary file (a NUL byte), expected ${expected}`, line, col);
  }
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes, 0, len);
    const { line, col } = lineCol(bytes, bad < 0 ? 0 : bad);
    return fail(`invalid UTF-8 (byte 0x${(bytes[bad < 0 ? 0 : bad] ?? 0).toString(16).padStart(2, '0')}): expected ${expected} in UTF-8`, line, col);
  }
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ok: true, text };
}
