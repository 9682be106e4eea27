import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventHeap } from '../../src/sim/heap.js';

describe('EventHeap', () => {
  it('pops in (time, seq) order: property against a sorted reference', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('push' as const), t: fc.nat(50) }), fc.constant({ op: 'pop' as const })), {
          maxLength: 400,
        }),
        (ops) => {
          const heap = new EventHeap(16);
          const ref: { t: number; seq: number }[] = [];
          let seq = 0;
          for (const o of ops) {
            if (o.op === 'push') {
              heap.push(o.t, seq, 0, seq, 0, -1);
              ref.push({ t: o.t, seq });
              seq++;
            } else if (ref.length > 0) {
              ref.sort((x, y) => x.t - y.t || x.seq - y.seq);
              const want = ref.shift()!;
              const slot = heap.pop();
              expect([heap.time[slot], heap.seq[slot], heap.a[slot]]).toEqual([want.t, want.seq, want.seq]);
              heap.release(slot);
            }
          }
          expect(heap.size).toBe(ref.length);
        },
      ),
    );
  });

  it('keeps seq order for equal times beyond 2^53 / 2 seq values (time and seq never packed)', () => {
    const heap = new EventHeap(4);
    const big = Number.MAX_SAFE_INTEGER - 10;
    heap.push(big, 5, 0, 1, 0, -1);
    heap.push(big, 3, 0, 2, 0, -1);
    heap.push(big - 1, 9, 0, 3, 0, -1);
    const order = [heap.pop(), heap.pop(), heap.pop()].map((s) => heap.a[s]);
    expect(order).toEqual([3, 2, 1]);
  });

  it('grows past its initial capacity and refuses past its limit', () => {
    const heap = new EventHeap(16, 64);
    for (let i = 0; i < 64; i++) heap.push(64 - i, i, 0, i, 0, -1);
    expect(heap.size).toBe(64);
    expect(() => heap.push(0, 65, 0, 0, 0, -1)).toThrow(/limit/);
  });
});
