import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Atc } from '../../src/pcie/atc.js';
import { PrgiAllocator } from '../../src/pcie/prgi.js';

describe('Atc', () => {
  it('evicts the least recently used entry', () => {
    const a = new Atc(2);
    a.insert(1, 10);
    a.insert(1, 11);
    expect(a.lookup(1, 10)).toBe(true);
    a.insert(1, 12);
    expect(a.has(1, 11)).toBe(false);
    expect(a.has(1, 10)).toBe(true);
    expect(a.has(1, 12)).toBe(true);
    expect(a.evictions).toBe(1);
  });

  it('invalidates a PASID range only', () => {
    const a = new Atc(8);
    for (let p = 0; p < 4; p++) a.insert(1, p);
    a.insert(2, 1);
    expect(a.invalidate(1, 1, 2)).toBe(2);
    expect([0, 1, 2, 3].map((p) => a.has(1, p))).toEqual([true, false, false, true]);
    expect(a.has(2, 1)).toBe(true);
    expect(a.size).toBe(3);
  });

  it('matches a reference LRU model under random operations (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.tuple(
            fc.constantFrom('ins', 'look', 'inv'),
            fc.integer({ min: 0, max: 2 }),
            fc.integer({ min: 0, max: 9 }),
          ),
          { maxLength: 80 },
        ),
        (cap, ops) => {
          const a = new Atc(cap);
          let ref: string[] = []; // most recent last
          for (const [op, pasid, page] of ops) {
            const key = `${pasid}:${page}`;
            if (op === 'ins') {
              ref = ref.filter((k) => k !== key);
              ref.push(key);
              if (ref.length > cap) ref.shift();
              a.insert(pasid, page);
            } else if (op === 'look') {
              const hit = ref.includes(key);
              if (hit) {
                ref = ref.filter((k) => k !== key);
                ref.push(key);
              }
              expect(a.lookup(pasid, page)).toBe(hit);
            } else {
              ref = ref.filter(
                (k) =>
                  !(
                    k.startsWith(`${pasid}:`) &&
                    Number(k.split(':')[1]) >= page &&
                    Number(k.split(':')[1]) < page + 3
                  ),
              );
              a.invalidate(pasid, page, 3);
            }
            expect(a.size).toBe(ref.length);
            for (const k of ref) {
              const [p, g] = k.split(':').map(Number);
              expect(a.has(p!, g!)).toBe(true);
            }
          }
        },
      ),
    );
  });

  it('ATC.INDEX: the (PASID, page) index stays exact through growth, collisions, evictions and invalidations (property, wide pages)', () => {
    // Pages beyond 2^32 and PASIDs -1..3; capacities past the first table size so the index is
    // rebuilt while full of entries, and small enough that evictions and probing runs are common.
    const pageArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 40 }).map((x) => 2 ** 32 * x + 7), fc.constant(2 ** 52 - 1));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 150 }),
        fc.array(fc.tuple(fc.constantFrom('ins', 'ins', 'ins', 'look', 'inv'), fc.integer({ min: -1, max: 3 }), pageArb), { maxLength: 400 }),
        (cap, ops) => {
          const a = new Atc(cap);
          const ref = new Map<string, [number, number]>(); // insertion order = LRU order, most recent last
          const touch = (k: string, v: [number, number]): void => {
            ref.delete(k);
            ref.set(k, v);
          };
          for (const [op, pasid, page] of ops) {
            const key = `${pasid}:${page}`;
            if (op === 'ins') {
              touch(key, [pasid, page]);
              if (ref.size > cap) ref.delete(ref.keys().next().value!);
              a.insert(pasid, page);
            } else if (op === 'look') {
              const hit = ref.has(key);
              if (hit) touch(key, [pasid, page]);
              expect(a.lookup(pasid, page)).toBe(hit);
            } else {
              let n = 0;
              for (const [k, [p, g]] of [...ref]) {
                if (p === pasid && g >= page && g < page + 50) {
                  ref.delete(k);
                  n++;
                }
              }
              expect(a.invalidate(pasid, page, 50)).toBe(n);
            }
            expect(a.size).toBe(ref.size);
          }
          for (const [p, g] of ref.values()) expect(a.has(p, g)).toBe(true);
          expect(a.has(-1, 2 ** 52 - 2)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('PrgiAllocator', () => {
  it('PRI.PRGI.NO_REUSE: 512 indices, lowest free first, none reused while outstanding', () => {
    const p = new PrgiAllocator();
    const got = Array.from({ length: 512 }, () => p.alloc());
    expect(got).toEqual(Array.from({ length: 512 }, (_, i) => i));
    expect(p.alloc()).toBe(-1);
    expect(p.free(300)).toBe(true);
    expect(p.free(300)).toBe(false);
    expect(p.alloc()).toBe(300);
  });
});
