import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AddressSpace } from '../../../src/mm/address-space.js';
import {
  IOMMU_FIRST_GLOBAL_PASID,
  PasidAllocator,
  SvaMmPasids,
  maxPasidsForWidth,
} from '../../../src/handlers/sva/pasid-allocator.js';
import { err } from '../../../src/sim/errno.js';

describe('global PASID allocator (iommu_alloc_global_pasid)', () => {
  it('starts at 1: PASID 0 is reserved (IOMMU_NO_PASID)', () => {
    const a = new PasidAllocator();
    expect(IOMMU_FIRST_GLOBAL_PASID).toBe(1);
    expect(a.alloc()).toBe(1);
    expect(a.alloc()).toBe(2);
  });

  it('hands out the lowest free id after frees', () => {
    const a = new PasidAllocator();
    for (let i = 0; i < 5; i++) a.alloc();
    a.free(4);
    a.free(2);
    expect(a.alloc()).toBe(2);
    expect(a.alloc()).toBe(4);
    expect(a.alloc()).toBe(6);
  });

  it('returns -ENOSPC when [min, limit] is full, even if higher ids are free', () => {
    const a = new PasidAllocator({ max: 100 });
    expect(a.alloc(3)).toBe(1);
    expect(a.alloc(3)).toBe(2);
    expect(a.alloc(3)).toBe(3);
    expect(a.alloc(3)).toBe(err('ENOSPC'));
    expect(a.alloc()).toBe(4);
    expect(a.alloc(0)).toBe(err('ENOSPC'));
  });

  it('returns -ENOSPC at the allocator max', () => {
    const a = new PasidAllocator({ max: 2 });
    a.alloc();
    a.alloc();
    expect(a.alloc()).toBe(err('ENOSPC'));
    a.free(1);
    expect(a.alloc()).toBe(1);
  });

  it('double free is a programmer error', () => {
    const a = new PasidAllocator();
    const id = a.alloc();
    a.free(id);
    expect(() => {
      a.free(id);
    }).toThrow();
    expect(() => {
      a.free(0);
    }).toThrow();
  });

  it('PASID.ALLOC.LOWEST_FREE: never hands out an id in use, and always the lowest free in range (property)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('alloc' as const), limit: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ t: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const a = new PasidAllocator({ max: 32 });
        const used = new Set<number>();
        for (const o of ops) {
          if (o.t === 'alloc') {
            let expected: number = err('ENOSPC');
            for (let id = 1; id <= Math.min(o.limit, 32); id++) {
              if (!used.has(id)) {
                expected = id;
                break;
              }
            }
            const got = a.alloc(o.limit);
            expect(got).toBe(expected);
            if (got > 0) {
              expect(used.has(got)).toBe(false);
              used.add(got);
            }
          } else if (used.size > 0) {
            const ids = [...used].sort((x, y) => x - y);
            const id = ids[o.pick % ids.length]!;
            a.free(id);
            used.delete(id);
          }
          expect(a.inUse).toBe(used.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('per-mm PASID (iommu_alloc_mm_data / mm_pasid_drop)', () => {
  it('maxPasidsForWidth is 1 << bits, capped by the IOMMU limit', () => {
    expect(maxPasidsForWidth(20)).toBe(1 << 20);
    expect(maxPasidsForWidth(5)).toBe(32);
    expect(maxPasidsForWidth(0)).toBe(1);
    expect(maxPasidsForWidth(20, 1 << 16)).toBe(1 << 16);
    expect(() => maxPasidsForWidth(21)).toThrow();
  });

  it('the first bind assigns a PASID; later binds (any device that fits) share it', () => {
    const s = new SvaMmPasids();
    const mm = new AddressSpace(1);
    const p = s.assignForWidth(mm, 20);
    expect(p).toBe(1);
    expect(s.assignForWidth(mm, 8)).toBe(1);
    expect(s.pasidOf(mm)).toBe(1);
    expect(s.mmOf(1)).toBe(mm);
    expect(s.allocator.inUse).toBe(1);
  });

  it('pasid width overflow returns -EOVERFLOW', () => {
    const s = new SvaMmPasids();
    const mms = [1, 2, 3, 4].map((i) => new AddressSpace(i));
    for (const mm of mms) s.assignForWidth(mm, 20);
    // mms[3] has PASID 4; a 2-bit device covers PASIDs 0..3 only.
    expect(s.pasidOf(mms[3]!)).toBe(4);
    expect(s.assignForWidth(mms[3]!, 2)).toBe(err('EOVERFLOW'));
    expect(s.assignForWidth(mms[2]!, 2)).toBe(3);
    expect(s.pasidOf(mms[3]!)).toBe(4); // failure leaves the mm's PASID alone
  });

  it('a narrow device gets -ENOSPC when its range is exhausted, while a wide one still allocates', () => {
    const s = new SvaMmPasids();
    const a = new AddressSpace(1);
    const b = new AddressSpace(2);
    expect(s.assignForWidth(a, 1)).toBe(1); // width 1: PASIDs 0..1, only 1 allocatable
    expect(s.assignForWidth(b, 1)).toBe(err('ENOSPC'));
    expect(s.pasidOf(b)).toBeUndefined();
    expect(s.assignForWidth(b, 20)).toBe(2);
  });

  it('width 0 or no PASID support (max_pasids 0) cannot allocate: -ENOSPC', () => {
    const s = new SvaMmPasids();
    expect(s.assignForWidth(new AddressSpace(1), 0)).toBe(err('ENOSPC'));
    expect(s.assign(new AddressSpace(2), 0)).toBe(err('ENOSPC'));
    expect(s.allocator.inUse).toBe(0);
  });

  it('PASID reuse: freed PASID of an exited mm is handed to the next mm', () => {
    const s = new SvaMmPasids();
    const a = new AddressSpace(1);
    const pa = s.assignForWidth(a, 20);
    a.grab(); // bind: the SVA domain mmgrab()s the mm
    a.exit();
    // Exited but the domain still holds the mm: the PASID is not returned yet.
    const b = new AddressSpace(2);
    expect(s.assignForWidth(b, 20)).toBe(pa + 1);
    a.drop(); // unbind frees the domain → mmdrop → __mmdrop → mm_pasid_drop
    expect(s.pasidOf(a)).toBeUndefined();
    expect(s.mmOf(pa)).toBeUndefined();
    const c = new AddressSpace(3);
    expect(s.assignForWidth(c, 20)).toBe(pa);
    expect(s.mmOf(pa)).toBe(c);
  });

  it('the PASID is kept across unbind while the process lives (freed only with the mm)', () => {
    const s = new SvaMmPasids();
    const a = new AddressSpace(1);
    const p = s.assignForWidth(a, 20);
    a.grab();
    a.drop(); // bind + unbind
    expect(s.pasidOf(a)).toBe(p);
    expect(s.assignForWidth(a, 20)).toBe(p);
    a.exit();
    expect(a.isFreed).toBe(true);
    expect(s.allocator.isAllocated(p)).toBe(false);
  });

  it('binding an exiting mm is a programmer error (caller must hold mm_users)', () => {
    const s = new SvaMmPasids();
    const a = new AddressSpace(1);
    a.grab();
    a.exit();
    expect(() => s.assignForWidth(a, 20)).toThrow();
  });
});
