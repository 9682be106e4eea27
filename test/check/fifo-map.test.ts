import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FifoMap } from '../../src/check/fifo-map.js';

/** The bound's semantics written plainly: insertion positions in a ring (deleted ones stay as
 *  holes), a Map for lookups; a full ring with at most 3/4 of it live is compacted, otherwise the
 *  holes at the head go and then the oldest live entry is forgotten (the bound counts live entries). */
class Reference {
  readonly map = new Map<number, { v: number; pos: number }>();
  readonly ring: number[] = [];
  head = 0;
  used = 0;
  readonly evicted: number[] = [];
  constructor(readonly limit: number) {}
  set(k: number, v: number): void {
    const e = this.map.get(k);
    if (e !== undefined) {
      e.v = v;
      return;
    }
    if (this.used === this.limit) {
      if (this.map.size <= (this.limit * 3) >> 2) {
        // Many holes: the ring is compacted (live keys in order from 0), nothing is forgotten.
        const live = [...this.map.keys()];
        this.ring.length = 0;
        live.forEach((key, i) => {
          this.ring[i] = key;
          this.map.get(key)!.pos = i;
        });
        this.head = 0;
        this.used = live.length;
      } else {
        // Holes at the head go first; then the oldest live entry is forgotten.
        while (this.used > 0 && Number.isNaN(this.ring[this.head]!)) {
          this.head = (this.head + 1) % this.limit;
          this.used--;
        }
        if (this.used === this.limit) {
          const old = this.ring[this.head]!;
          this.head = (this.head + 1) % this.limit;
          this.used--;
          this.map.delete(old);
          this.evicted.push(old);
        }
      }
    }
    const pos = (this.head + this.used) % this.limit;
    this.ring[pos] = k;
    this.used++;
    this.map.set(k, { v, pos });
  }
  delete(k: number): boolean {
    const e = this.map.get(k);
    if (e === undefined) return false;
    this.ring[e.pos] = NaN;
    this.map.delete(k);
    return true;
  }
}

describe('FifoMap', () => {
  it('CHECK.BOUNDED.FIFO_MAP: lookups, replacement in place, deletion and oldest-first eviction match the plain model (property, wide keys, table growth)', () => {
    const key = fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 20 }).map((x) => x * 2 ** 32 + 3), fc.integer({ min: -5, max: -1 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.array(fc.tuple(fc.constantFrom('set', 'set', 'set', 'del', 'get'), key, fc.integer()), { maxLength: 500 }),
        (limit, ops) => {
          const evicted: number[] = [];
          const m = new FifoMap<number>(limit, (k) => evicted.push(k));
          const r = new Reference(limit);
          for (const [op, k, v] of ops) {
            if (op === 'set') {
              m.set(k, v);
              r.set(k, v);
            } else if (op === 'del') expect(m.delete(k)).toBe(r.delete(k));
            else {
              expect(m.has(k)).toBe(r.map.has(k));
              expect(m.get(k)).toBe(r.map.get(k)?.v);
            }
            expect(m.size).toBe(r.map.size);
          }
          expect(evicted).toEqual(r.evicted);
          expect([...m]).toEqual([...r.map].map(([k, e]) => [k, e.v]));
          expect([...m.keys()]).toEqual([...r.map.keys()]);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
