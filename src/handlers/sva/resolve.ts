/**
 * The SVA fault resolution, as drivers/iommu/iommu-sva.c does it in the workqueue:
 * iommu_sva_handle_mm() for one fault and the group loop of iommu_sva_handle_iopf().
 * Pure logic over an AddressSpace; the caller (workqueue actor) sends the group response.
 */
import type { AddressSpace, FaultOutcome } from '../../mm/address-space.js';
import { FaultFlag, FaultPerm, RespCode, type FaultRecord, type RespCodeValue } from '../../iopf/types.js';

/** Why a fault got the code it got (for traces and metrics; the kernel does not report this). */
export type ResolveReason =
  | 'ok'
  /** PASID_VALID clear: SVA only serves PASID-tagged requests. */
  | 'no-pasid'
  /** No mm to resolve against (the model's stand-in for a missing domain->mm). */
  | 'no-mm'
  /** mmget_not_zero() failed: the process is exiting. */
  | 'mm-exiting'
  /** vma_lookup() found nothing. */
  | 'no-vma'
  /** The requested access is not a subset of the VMA's permissions. */
  | 'access'
  /** handle_mm_fault() returned a VM_FAULT_ERROR (SIGSEGV, SIGBUS, OOM). */
  | 'fault-error';

export interface ResolveResult {
  code: RespCodeValue;
  /** The fault was resolved with a major fault (the engine adds I/O latency). */
  major: boolean;
  reason: ResolveReason;
  /** handle_mm_fault()'s outcome, when it was called. */
  outcome?: FaultOutcome;
}

function invalid(reason: ResolveReason, outcome?: FaultOutcome): ResolveResult {
  return outcome === undefined
    ? { code: RespCode.INVALID, major: false, reason }
    : { code: RespCode.INVALID, major: false, reason, outcome };
}

/**
 * iommu_sva_handle_mm(): resolve one page request against `mm`.
 * INVALID when: no PASID; no mm or the mm is exiting (no user reference); no VMA covers the
 * address; any requested access (READ→read, WRITE→write, EXEC→exec; each checked on its own, so
 * EXEC does not imply READ) is missing from the VMA; or the fault handler fails. A request without
 * PRIV is a user access; PRIV does not widen what the VMA allows. Otherwise the page is made
 * present and the answer is SUCCESS. A request with no R/W/X bit passes the check trivially and
 * is handled as a read fault, as in the kernel.
 */
export function resolveFaultDetailed(mm: AddressSpace | undefined, fault: FaultRecord): ResolveResult {
  if ((fault.flags & FaultFlag.PASID_VALID) === 0) return invalid('no-pasid');
  if (mm === undefined) return invalid('no-mm');
  if (!mm.tryGetUser()) return invalid('mm-exiting');
  try {
    const vma = mm.findVma(fault.addr);
    if (vma === undefined) return invalid('no-vma');
    const read = (fault.perm & FaultPerm.READ) !== 0;
    const write = (fault.perm & FaultPerm.WRITE) !== 0;
    const exec = (fault.perm & FaultPerm.EXEC) !== 0;
    // The kernel tests "access_flags & ~vm_flags": every requested bit must be in the VMA.
    if ((read && !vma.perms.read) || (write && !vma.perms.write) || (exec && !vma.perms.exec)) {
      return invalid('access');
    }
    const user = (fault.perm & FaultPerm.PRIV) === 0;
    const outcome = mm.handleFault(fault.addr, { read, write, exec, user });
    switch (outcome.kind) {
      case 'minor':
        return { code: RespCode.SUCCESS, major: false, reason: 'ok', outcome };
      case 'major':
        return { code: RespCode.SUCCESS, major: true, reason: 'ok', outcome };
      case 'sigsegv':
      case 'sigbus':
      case 'oom':
        return invalid('fault-error', outcome);
    }
  } finally {
    // mmput(): if the owner exited meanwhile, this may be the last user and tear the mm down.
    mm.putUser();
  }
}

/** iommu_sva_handle_mm() returning just the response code. */
export function resolveFault(mm: AddressSpace | undefined, fault: FaultRecord): RespCodeValue {
  return resolveFaultDetailed(mm, fault).code;
}

export interface GroupResolveResult {
  /** The code the whole group is answered with. */
  code: RespCodeValue;
  /** Per-fault results, in order, up to and including the first non-SUCCESS one. */
  results: ResolveResult[];
  /** How many of `results` were major faults. */
  majors: number;
}

/**
 * iommu_sva_handle_iopf()'s loop: resolve the group's faults in list order (partials first, the
 * last fault at the end) and stop at the first that is not SUCCESS; the group is answered with
 * that code. Faults after it are not touched.
 */
export function resolveGroup(
  mm: AddressSpace | undefined,
  faults: readonly FaultRecord[],
): GroupResolveResult {
  if (faults.length === 0)
    throw new Error('resolveGroup: a fault group always holds at least its last fault');
  const results: ResolveResult[] = [];
  let code: RespCodeValue = RespCode.SUCCESS;
  let majors = 0;
  for (const f of faults) {
    if (code !== RespCode.SUCCESS) break;
    const r = resolveFaultDetailed(mm, f);
    results.push(r);
    if (r.major) majors++;
    code = r.code;
  }
  return { code, results, majors };
}
