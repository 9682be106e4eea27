import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Tracer } from '../../src/trace/tracer.js';

/** The canonical encoding as the README defines it, written independently of the tracer. */
function reference(events: readonly (readonly number[])[]): string {
  const words: number[] = [];
  const f64 = new Float64Array(1);
  const w = new Int32Array(f64.buffer);
  let last = 0;
  for (const [t, kind, ...f] of events) {
    const vals = [t! - last, ...f];
    last = t!;
    if (vals.every((v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31)) words.push(kind!, ...vals);
    else {
      words.push(kind! | 0x100);
      for (const v of vals) {
        f64[0] = v;
        words.push(w[0]!, w[1]!);
      }
    }
  }
  const buf = Buffer.alloc(words.length * 4);
  words.forEach((x, i) => buf.writeInt32LE(x, i * 4));
  return createHash('sha256').update(buf).digest('hex');
}

describe('trace_sha256', () => {
  it('TRACE.SHA256.ENCODING: narrow rows (kind, dt, six int32 fields) and wide rows (kind|0x100, seven doubles), hashed in order', () => {
    const clock = { now: 0 };
    const tr = new Tracer(clock);
    const events: number[][] = [
      [0, 19, 0, -1, -1, -1, 0, 0],
      [1500, 0, 1, 3, 17, 256 * 9 + 1, 37, 0x10234],
      // A page beyond 2^31 and a request id beyond 2^31: a wide row.
      [1500, 4, 1, 3, 17, 2 ** 40 + 1, 0, 2 ** 36 + 5],
      // A time step beyond 2^31 ns: wide.
      [1500 + 2 ** 33, 13, 0, -1, 5, -1, 1, 2],
      [2 ** 33 + 2000, 14, 0, -1, 5, 0, 1, 0],
    ];
    // Enough rows to cross the hash buffer's flush point several times.
    for (let i = 0; i < 40_000; i++) events.push([2 ** 33 + 3000 + i * 10, i % 32, i & 3, i % 7 === 0 ? 2 ** 35 + i : i, -1, i * 256, 0, i]);
    for (const [t, kind, ...f] of events) {
      clock.now = t!;
      tr.emit(kind!, f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!);
    }
    expect(tr.finish()).toBe(reference(events));
    // One changed field changes the hash; so does the same field moved to another event.
    const t2 = new Tracer({ now: 0 });
    t2.emit(19, 0, -1, -1, -1, 0, 1);
    const t3 = new Tracer({ now: 0 });
    t3.emit(19, 0, -1, -1, -1, 0, 0);
    expect(t2.finish()).not.toBe(t3.finish());
  });
});
