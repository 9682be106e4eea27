import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AddressSpace, PAGE_SIZE } from '../../../src/mm/address-space.js';
import { resolveFault, resolveFaultDetailed, resolveGroup } from '../../../src/handlers/sva/resolve.js';
import { FaultFlag, FaultPerm, RespCode, type FaultRecord } from '../../../src/iopf/types.js';

const P = PAGE_SIZE;
const BASE = 0x40_0000;
const R = FaultPerm.READ;
const W = FaultPerm.WRITE;
const X = FaultPerm.EXEC;

function fault(addr: number, perm: number, extra: Partial<FaultRecord> = {}): FaultRecord {
  return {
    flags: FaultFlag.PASID_VALID | FaultFlag.LAST_PAGE,
    pasid: 1,
    grpid: 3,
    perm,
    addr,
    privateData: 0,
    dev: 0,
    reqId: 0,
    ...extra,
  };
}

function mmWith(
  perms: { read: boolean; write: boolean; exec: boolean },
  backing: 'anon' | 'file' = 'anon',
): AddressSpace {
  const mm = new AddressSpace(1);
  expect(mm.addVma(BASE, 8 * P, perms, backing)).toBe(0);
  return mm;
}

const RW = { read: true, write: true, exec: false };
const RO = { read: true, write: false, exec: false };

describe('sva resolve (iommu_sva_handle_mm)', () => {
  it('sva resolve: read of an anon page in an RW VMA is SUCCESS and maps the page', () => {
    const mm = mmWith(RW);
    const r = resolveFaultDetailed(mm, fault(BASE, R));
    expect(r).toMatchObject({ code: RespCode.SUCCESS, major: false, reason: 'ok' });
    expect(mm.isPresent(BASE / P)).toBe(true);
    expect(mm.users).toBe(1); // the handler's mmget was put back
  });

  it('sva resolve: write to read-only VMA is INVALID', () => {
    const mm = mmWith(RO);
    expect(resolveFaultDetailed(mm, fault(BASE, R | W))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'access',
    });
    expect(mm.isPresent(BASE / P)).toBe(false);
    expect(mm.stats.faults).toBe(0); // rejected before handle_mm_fault
  });

  it('sva resolve: no PASID (PASID_VALID clear) is INVALID even when the page is mappable', () => {
    const mm = mmWith(RW);
    expect(resolveFaultDetailed(mm, fault(BASE, R, { flags: FaultFlag.LAST_PAGE }))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'no-pasid',
    });
    expect(mm.isPresent(BASE / P)).toBe(false);
  });

  it('sva resolve: missing mm is INVALID', () => {
    expect(resolveFaultDetailed(undefined, fault(BASE, R))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'no-mm',
    });
  });

  it('sva resolve: exiting mm (mmget_not_zero fails) is INVALID', () => {
    const mm = mmWith(RW);
    mm.grab(); // the SVA domain keeps the struct alive
    mm.exit();
    expect(resolveFaultDetailed(mm, fault(BASE, R))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'mm-exiting',
    });
    expect(mm.state).toBe('exiting');
  });

  it('sva resolve: address outside every VMA is INVALID', () => {
    const mm = mmWith(RW);
    expect(resolveFaultDetailed(mm, fault(BASE + 8 * P, R))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'no-vma',
    });
    expect(resolveFaultDetailed(mm, fault(BASE - P, W))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'no-vma',
    });
  });

  it('sva resolve: EXEC needs only VM_EXEC (an exec-only VMA serves EXEC, not READ)', () => {
    const mm = mmWith({ read: false, write: false, exec: true });
    expect(resolveFault(mm, fault(BASE, X))).toBe(RespCode.SUCCESS);
    expect(resolveFault(mm, fault(BASE + P, R | X))).toBe(RespCode.INVALID);
  });

  it('sva resolve: EXEC on a non-exec VMA is INVALID', () => {
    const mm = mmWith(RW);
    expect(resolveFaultDetailed(mm, fault(BASE, R | X))).toMatchObject({
      code: RespCode.INVALID,
      reason: 'access',
    });
  });

  it('sva resolve: PRIV does not widen the VMA permissions; without PRIV the access counts as user', () => {
    const mm = mmWith(RO);
    expect(resolveFault(mm, fault(BASE, W | FaultPerm.PRIV))).toBe(RespCode.INVALID);
    expect(resolveFault(mm, fault(BASE, R | FaultPerm.PRIV))).toBe(RespCode.SUCCESS);
    expect(mm.stats.userFaults).toBe(0);
    expect(resolveFault(mm, fault(BASE + P, R))).toBe(RespCode.SUCCESS);
    expect(mm.stats.userFaults).toBe(1);
  });

  it('sva resolve: a request with no R/W/X bit passes the check and is handled as a read fault', () => {
    const mm = mmWith({ read: false, write: false, exec: false });
    expect(resolveFault(mm, fault(BASE, 0))).toBe(RespCode.SUCCESS);
    expect(mm.isPresent(BASE / P)).toBe(true);
  });

  it('sva resolve: first touch of a file-backed page is SUCCESS and major', () => {
    const mm = mmWith(RO, 'file');
    expect(resolveFaultDetailed(mm, fault(BASE, R))).toMatchObject({ code: RespCode.SUCCESS, major: true });
    expect(resolveFaultDetailed(mm, fault(BASE, R))).toMatchObject({ code: RespCode.SUCCESS, major: false });
  });

  it('sva resolve: a VM_FAULT_ERROR from the fault handler (OOM, SIGBUS) is INVALID', () => {
    const mm = mmWith(RW);
    mm.injectFaultError('oom');
    mm.injectFaultError('sigbus');
    const a = resolveFaultDetailed(mm, fault(BASE, W));
    expect(a).toMatchObject({ code: RespCode.INVALID, reason: 'fault-error', outcome: { kind: 'oom' } });
    const b = resolveFaultDetailed(mm, fault(BASE, W));
    expect(b).toMatchObject({ code: RespCode.INVALID, reason: 'fault-error', outcome: { kind: 'sigbus' } });
    expect(mm.isPresent(BASE / P)).toBe(false);
  });

  it('sva resolve: an already-present page (only the ATC missed) is SUCCESS', () => {
    const mm = mmWith(RW);
    resolveFault(mm, fault(BASE, W));
    const r = resolveFaultDetailed(mm, fault(BASE, R));
    expect(r).toMatchObject({ code: RespCode.SUCCESS, outcome: { kind: 'minor', alreadyPresent: true } });
  });

  it('sva resolve: faults still resolve while a user reference outlives the owner exit, and are INVALID after the last mmput', () => {
    const mm = mmWith(RW);
    mm.grab();
    expect(mm.tryGetUser()).toBe(true);
    mm.exit();
    // Another user reference (not the handler's) is still held, so the handler can get one.
    expect(resolveFault(mm, fault(BASE, R))).toBe(RespCode.SUCCESS);
    mm.putUser();
    expect(mm.state).toBe('exiting');
    expect(resolveFault(mm, fault(BASE, R))).toBe(RespCode.INVALID);
  });
});

describe('sva group loop (iommu_sva_handle_iopf)', () => {
  it('sva group: all faults SUCCESS answers SUCCESS and maps every page', () => {
    const mm = mmWith(RW);
    const g = resolveGroup(mm, [fault(BASE, R), fault(BASE + P, W), fault(BASE + 2 * P, R)]);
    expect(g.code).toBe(RespCode.SUCCESS);
    expect(g.results).toHaveLength(3);
    expect([0, 1, 2].every((i) => mm.isPresent(BASE / P + i))).toBe(true);
  });

  it('sva group: stops at the first non-SUCCESS fault and answers with its code; later faults are untouched', () => {
    const mm = mmWith(RO);
    const g = resolveGroup(mm, [fault(BASE, R), fault(BASE + P, W), fault(BASE + 2 * P, R)]);
    expect(g.code).toBe(RespCode.INVALID);
    expect(g.results.map((r) => r.reason)).toEqual(['ok', 'access']);
    expect(mm.isPresent(BASE / P)).toBe(true);
    expect(mm.isPresent(BASE / P + 2)).toBe(false);
  });

  it('sva group: counts major faults among the resolved ones', () => {
    const mm = mmWith(RO, 'file');
    const g = resolveGroup(mm, [fault(BASE, R), fault(BASE, R), fault(BASE + P, R)]);
    expect(g).toMatchObject({ code: RespCode.SUCCESS, majors: 2 });
  });

  it('sva group: an empty group is a programmer error', () => {
    expect(() => resolveGroup(mmWith(RW), [])).toThrow();
  });

  it('sva group: the code is SUCCESS iff every fault would resolve on its own (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ page: fc.nat(11), perm: fc.constantFrom(R, W, R | W, X, R | X) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (reqs) => {
          const mk = () => {
            const mm = new AddressSpace(1);
            mm.addVma(BASE, 4 * P, RW);
            mm.addVma(BASE + 4 * P, 4 * P, RO);
            return mm;
          };
          const faults = reqs.map((q) => fault(BASE + q.page * P, q.perm));
          const g = resolveGroup(mk(), faults);
          const solo = mk();
          const allOk = faults.every((f) => resolveFault(solo, f) === RespCode.SUCCESS);
          expect(g.code === RespCode.SUCCESS).toBe(allOk);
          // Resolved up to and including the first failure, never beyond.
          const firstBad = g.results.findIndex((r) => r.code !== RespCode.SUCCESS);
          expect(
            firstBad === -1 ? g.results.length === faults.length : firstBad === g.results.length - 1,
          ).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
