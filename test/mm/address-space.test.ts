import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AddressSpace, PAGE_SIZE, pageOf, type FaultAccess } from '../../src/mm/address-space.js';
import { err } from '../../src/sim/errno.js';

const RW = { read: true, write: true, exec: false };
const RO = { read: true, write: false, exec: false };
const READ: FaultAccess = { read: true, write: false, exec: false, user: true };
const WRITE: FaultAccess = { read: false, write: true, exec: false, user: true };
const EXEC: FaultAccess = { read: false, write: false, exec: true, user: true };
const P = PAGE_SIZE;

describe('AddressSpace layout', () => {
  it('addVma rejects misaligned, empty and too large ranges', () => {
    const mm = new AddressSpace(1, { maxVmaPages: 4 });
    expect(mm.addVma(100, P, RW)).toBe(err('EINVAL'));
    expect(mm.addVma(0, 100, RW)).toBe(err('EINVAL'));
    expect(mm.addVma(0, 0, RW)).toBe(err('EINVAL'));
    expect(mm.addVma(0, 5 * P, RW)).toBe(err('ENOMEM'));
    expect(mm.addVma(0, 4 * P, RW)).toBe(0);
    expect(mm.vmas).toHaveLength(1);
  });

  it('addVma refuses an overlap with -EEXIST but accepts an adjacent range', () => {
    const mm = new AddressSpace(1);
    expect(mm.addVma(4 * P, 4 * P, RW)).toBe(0);
    expect(mm.addVma(7 * P, 2 * P, RW)).toBe(err('EEXIST'));
    expect(mm.addVma(2 * P, 3 * P, RW)).toBe(err('EEXIST'));
    expect(mm.addVma(0, 4 * P, RW)).toBe(0);
    expect(mm.addVma(8 * P, P, RW)).toBe(0);
    expect(mm.vmas.map((v) => v.start)).toEqual([0, 4 * P, 8 * P]);
  });

  it('findVma returns the covering VMA and nothing in holes or past the end', () => {
    const mm = new AddressSpace(1);
    mm.addVma(P, 2 * P, RW);
    mm.addVma(10 * P, P, RO, 'file');
    expect(mm.findVma(0)).toBeUndefined();
    expect(mm.findVma(P)?.start).toBe(P);
    expect(mm.findVma(3 * P - 1)?.start).toBe(P);
    expect(mm.findVma(3 * P)).toBeUndefined();
    expect(mm.findVma(10 * P + 5)?.backing).toBe('file');
    expect(mm.findVma(11 * P)).toBeUndefined();
  });

  it('munmap of the middle of a VMA splits it and zaps the unmapped pages', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 6 * P, RW);
    for (let i = 0; i < 6; i++) mm.handleFault(i * P, WRITE);
    const invalidated: [number, number][] = [];
    mm.onInvalidate((a, n) => invalidated.push([a, n]));
    expect(mm.removeVma(2 * P, 2 * P)).toBe(0);
    expect(mm.vmas.map((v) => [v.start, v.size])).toEqual([
      [0, 2 * P],
      [4 * P, 2 * P],
    ]);
    expect(mm.isPresent(1)).toBe(true);
    expect(mm.isPresent(2)).toBe(false);
    expect(mm.isPresent(4)).toBe(true);
    expect(mm.residentPages).toBe(4);
    expect(invalidated).toEqual([[2, 2]]);
    expect(mm.findVma(3 * P)).toBeUndefined();
  });

  it('munmap across a hole unmaps every VMA in range', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, P, RW);
    mm.addVma(5 * P, P, RW);
    mm.addVma(9 * P, P, RW);
    expect(mm.removeVma(0, 6 * P)).toBe(0);
    expect(mm.vmas.map((v) => v.start)).toEqual([9 * P]);
  });

  it('mprotect splits, keeps pages present, and invalidates the range', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 4 * P, RW);
    mm.handleFault(P, WRITE);
    const inv: [number, number][] = [];
    mm.onInvalidate((a, n) => inv.push([a, n]));
    expect(mm.mprotect(P, P, RO)).toBe(0);
    expect(mm.vmas).toHaveLength(3);
    expect(mm.findVma(P)?.perms).toEqual(RO);
    expect(mm.findVma(0)?.perms).toEqual(RW);
    expect(mm.isPresent(1)).toBe(true);
    expect(inv).toEqual([[1, 1]]);
    expect(mm.handleFault(P, WRITE)).toEqual({ kind: 'sigsegv', reason: 'access' });
    expect(mm.handleFault(2 * P, WRITE).kind).toBe('minor');
  });

  it('mprotect over an unmapped hole fails with -ENOMEM and changes nothing', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 2 * P, RW);
    mm.addVma(3 * P, P, RW);
    expect(mm.mprotect(P, 3 * P, RO)).toBe(err('ENOMEM'));
    expect(mm.vmas).toHaveLength(2);
    expect(mm.findVma(P)?.perms).toEqual(RW);
  });
});

describe('AddressSpace faults (handle_mm_fault)', () => {
  it('first touch of an anon page is a minor zero-fill and makes it present', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0x10000, 4 * P, RW);
    expect(mm.isPresent(pageOf(0x10000))).toBe(false);
    expect(mm.handleFault(0x10000 + 8, READ)).toEqual({ kind: 'minor', page: 0x10, alreadyPresent: false });
    expect(mm.isPresent(0x10)).toBe(true);
    expect(mm.residentPages).toBe(1);
  });

  it('a fault on a present page is minor and flagged alreadyPresent', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, P, RW);
    mm.handleFault(0, READ);
    expect(mm.handleFault(0, WRITE)).toEqual({ kind: 'minor', page: 0, alreadyPresent: true });
    expect(mm.residentPages).toBe(1);
  });

  it('first touch of a file-backed page is a major fault, the second is minor', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 2 * P, RO, 'file');
    expect(mm.handleFault(0, READ)).toEqual({ kind: 'major', page: 0 });
    expect(mm.handleFault(0, READ).kind).toBe('minor');
    expect(mm.stats.major).toBe(1);
  });

  it('no VMA is SIGSEGV no-vma; a disallowed access is SIGSEGV access; neither maps a page', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, P, RO);
    expect(mm.handleFault(P, READ)).toEqual({ kind: 'sigsegv', reason: 'no-vma' });
    expect(mm.handleFault(0, WRITE)).toEqual({ kind: 'sigsegv', reason: 'access' });
    expect(mm.handleFault(0, EXEC)).toEqual({ kind: 'sigsegv', reason: 'access' });
    expect(mm.isPresent(0)).toBe(false);
    expect(mm.stats.sigsegv).toBe(3);
  });

  it('exceeding the resident budget is OOM and leaves the page absent', () => {
    const mm = new AddressSpace(1, { maxResidentPages: 1 });
    mm.addVma(0, 2 * P, RW);
    expect(mm.handleFault(0, WRITE).kind).toBe('minor');
    expect(mm.handleFault(P, WRITE)).toEqual({ kind: 'oom' });
    expect(mm.isPresent(1)).toBe(false);
    // Touching the already-present page needs no memory.
    expect(mm.handleFault(0, READ).kind).toBe('minor');
  });

  it('injected errors fail the next allocating faults once each', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 4 * P, RW);
    mm.injectFaultError('sigbus');
    mm.injectFaultError('oom');
    expect(mm.handleFault(0, READ)).toEqual({ kind: 'sigbus' });
    expect(mm.handleFault(0, READ)).toEqual({ kind: 'oom' });
    expect(mm.handleFault(0, READ).kind).toBe('minor');
    expect(mm.stats).toMatchObject({ sigbus: 1, oom: 1, minor: 1, faults: 3 });
  });

  it('reclaim zap makes the next touch major (swap-in), discard of anon makes it a minor zero-fill', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 2 * P, RW);
    mm.handleFault(0, WRITE);
    mm.handleFault(P, WRITE);
    expect(mm.zap(0, 1, 'reclaim')).toBe(1);
    expect(mm.zap(1, 1, 'discard')).toBe(1);
    expect(mm.isPresent(0)).toBe(false);
    expect(mm.handleFault(0, READ).kind).toBe('major');
    expect(mm.handleFault(P, READ)).toEqual({ kind: 'minor', page: 1, alreadyPresent: false });
  });

  it('discarded file pages stay in the page cache: the next touch is minor', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, P, RO, 'file');
    mm.handleFault(0, READ);
    mm.zap(0, 1, 'discard');
    expect(mm.handleFault(0, READ).kind).toBe('minor');
  });

  it('zap counts only present pages, ignores unmapped ones, and reports one invalidation per VMA', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 2 * P, RW);
    mm.addVma(4 * P, 2 * P, RW);
    mm.handleFault(0, READ);
    mm.handleFault(5 * P, READ);
    const inv: [number, number][] = [];
    mm.onInvalidate((a, n) => inv.push([a, n]));
    expect(mm.zap(0, 10)).toBe(2);
    expect(mm.zap(0, 10)).toBe(0);
    expect(inv).toEqual([
      [0, 2],
      [4, 2],
    ]);
    expect(mm.residentPages).toBe(0);
    expect(mm.stats.zappedPages).toBe(2);
  });

  it('counts user faults (requests without PRIV)', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, P, RW);
    mm.handleFault(0, { read: true, write: false, exec: false, user: false });
    mm.handleFault(0, READ);
    expect(mm.stats.userFaults).toBe(1);
  });
});

describe('AddressSpace lifecycle (mm_users / mm_count)', () => {
  it('tryGetUser succeeds while live and fails once the mm is exiting', () => {
    const mm = new AddressSpace(1);
    expect(mm.tryGetUser()).toBe(true);
    mm.putUser();
    mm.grab(); // an SVA domain pins the struct
    mm.exit();
    expect(mm.state).toBe('exiting');
    expect(mm.tryGetUser()).toBe(false);
    expect(mm.isFreed).toBe(false);
  });

  it('exit tears the mappings down; the mm is freed when the last grab is dropped', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, 2 * P, RW);
    mm.handleFault(0, READ);
    const inv: [number, number][] = [];
    mm.onInvalidate((a, n) => inv.push([a, n]));
    const freed: number[] = [];
    mm.onFree((m) => freed.push(m.id));
    mm.grab();
    mm.exit();
    expect(mm.vmas).toHaveLength(0);
    expect(mm.residentPages).toBe(0);
    expect(inv).toEqual([[0, 2]]);
    expect(mm.findVma(0)).toBeUndefined();
    expect(freed).toEqual([]);
    mm.drop();
    expect(mm.state).toBe('freed');
    expect(freed).toEqual([1]);
  });

  it('an mm nobody grabbed is freed at exit', () => {
    const mm = new AddressSpace(7);
    let freed = false;
    mm.onFree(() => (freed = true));
    mm.exit();
    expect(freed).toBe(true);
    expect(mm.state).toBe('freed');
  });

  it('a user reference held across exit delays the teardown to its mmput', () => {
    const mm = new AddressSpace(1);
    mm.addVma(0, P, RW);
    expect(mm.tryGetUser()).toBe(true); // e.g. the SVA handler mid-fault
    mm.exit();
    expect(mm.ownerExited).toBe(true);
    expect(mm.state).toBe('live');
    expect(mm.findVma(0)).toBeDefined();
    mm.putUser();
    expect(mm.state).toBe('freed');
    expect(mm.vmas).toHaveLength(0);
  });

  it('misuse is a programmer error: double exit, put without get, drop after free, fault without user', () => {
    const mm = new AddressSpace(1);
    mm.grab();
    mm.exit();
    expect(() => {
      mm.exit();
    }).toThrow();
    expect(() => {
      mm.putUser();
    }).toThrow();
    expect(() => mm.handleFault(0, READ)).toThrow();
    expect(() => mm.addVma(0, P, RW)).toThrow();
    mm.drop();
    expect(() => {
      mm.drop();
    }).toThrow();
    expect(() => {
      mm.grab();
    }).toThrow();
  });
});

describe('AddressSpace properties', () => {
  it('resident count equals the number of present pages after any sequence of faults, zaps and munmaps', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('fault' as const), page: fc.nat(31), write: fc.boolean() }),
      fc.record({ t: fc.constant('zap' as const), page: fc.nat(31), n: fc.nat(8), reclaim: fc.boolean() }),
      fc.record({ t: fc.constant('munmap' as const), page: fc.nat(31), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ t: fc.constant('mmap' as const), page: fc.nat(31), n: fc.integer({ min: 1, max: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const mm = new AddressSpace(1);
        mm.addVma(0, 32 * P, RW);
        for (const o of ops) {
          switch (o.t) {
            case 'fault':
              mm.handleFault(o.page * P, o.write ? WRITE : READ);
              break;
            case 'zap':
              mm.zap(o.page, o.n, o.reclaim ? 'reclaim' : 'discard');
              break;
            case 'munmap':
              mm.removeVma(o.page * P, o.n * P);
              break;
            case 'mmap':
              mm.addVma(o.page * P, o.n * P, RW);
              break;
          }
        }
        let present = 0;
        for (let p = 0; p < 40; p++) if (mm.isPresent(p)) present++;
        expect(mm.residentPages).toBe(present);
        // VMAs stay sorted and disjoint.
        for (let i = 1; i < mm.vmas.length; i++)
          expect(mm.vmas[i - 1]!.end).toBeLessThanOrEqual(mm.vmas[i]!.start);
      }),
      { numRuns: 200 },
    );
  });
});
