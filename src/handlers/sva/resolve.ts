/**
 * The SVA fault resolution, as drivers/iommu/iommu-sva.c does it in the workqueue:
 * iommu_sva_handle_mm() for one fault and the group loop of iommu_sva_handle_iopf().
 * Pure logic over an AddressSpace; the caller (workqueue actor) sends the group response.
 */
import { FaultKind, faultOutcomeOf, type AddressSpace, type FaultKindValue, type FaultOutcome } from '../../mm/address-space.js';
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

const REASONS: readonly ResolveReason[] = ['ok', 'no-pasid', 'no-mm', 'mm-exiting', 'no-vma', 'access', 'fault-error'];
const R_NO_PASID = 1 << 3;
const R_NO_MM = 2 << 3;
const R_MM_EXITING = 3 << 3;
const R_NO_VMA = 4 << 3;
const R_ACCESS = 5 << 3;
const R_FAULT_ERROR = 6 << 3;
const MAJOR_BIT = 4;

/** The response code of a packed resolution (resolveFaultPacked). */
export function packedCode(p: number): RespCodeValue {
  return (p & 3) as RespCodeValue;
}

/** Whether a packed resolution was a major fault. */
export function packedMajor(p: number): boolean {
  return (p & MAJOR_BIT) !== 0;
}

/**
 * iommu_sva_handle_mm(): resolve one page request against `mm`.
 * INVALID when: no PASID; no mm or the mm is exiting (no user reference); no VMA covers the
 * address; any requested access (READ→read, WRITE→write, EXEC→exec; each checked on its own, so
 * EXEC does not imply READ) is missing from the VMA; or the fault handler fails. A request without
 * PRIV is a user access; PRIV does not widen what the VMA allows. Otherwise the page is made
 * present and the answer is SUCCESS. A request with no R/W/X bit passes the check trivially and
 * is handled as a read fault, as in the kernel.
 *
 * The result is packed in one number so that the SVA handler's hot path allocates nothing: the
 * response code (bits 0–1, packedCode), major fault (bit 2, packedMajor), the reason (bits 3–5,
 * an index into ResolveReason) and handle_mm_fault()'s FaultKind + 1 (bits 6–8, 0 when it was not
 * called). resolveFaultDetailed() unpacks it.
 */
export function resolveFaultPacked(mm: AddressSpace | undefined, fault: FaultRecord): number {
  if ((fault.flags & FaultFlag.PASID_VALID) === 0) return RespCode.INVALID | R_NO_PASID;
  if (mm === undefined) return RespCode.INVALID | R_NO_MM;
  if (!mm.tryGetUser()) return RespCode.INVALID | R_MM_EXITING;
  try {
    const vma = mm.findVma(fault.addr);
    if (vma === undefined) return RespCode.INVALID | R_NO_VMA;
    const read = (fault.perm & FaultPerm.READ) !== 0;
    const write = (fault.perm & FaultPerm.WRITE) !== 0;
    const exec = (fault.perm & FaultPerm.EXEC) !== 0;
    // The kernel tests "access_flags & ~vm_flags": every requested bit must be in the VMA.
    if ((read && !vma.perms.read) || (write && !vma.perms.write) || (exec && !vma.perms.exec)) {
      return RespCode.INVALID | R_ACCESS;
    }
    const user = (fault.perm & FaultPerm.PRIV) === 0;
    const k = mm.handleFaultKind(fault.addr, read, write, exec, user);
    const kb = (k + 1) << 6;
    if (k === FaultKind.MINOR || k === FaultKind.MINOR_PRESENT) return RespCode.SUCCESS | kb;
    if (k === FaultKind.MAJOR) return RespCode.SUCCESS | MAJOR_BIT | kb;
    return RespCode.INVALID | R_FAULT_ERROR | kb;
  } finally {
    // mmput(): if the owner exited meanwhile, this may be the last user and tear the mm down.
    mm.putUser();
  }
}

/** resolveFaultPacked() as a record (tests, observers). */
export function resolveFaultDetailed(mm: AddressSpace | undefined, fault: FaultRecord): ResolveResult {
  const p = resolveFaultPacked(mm, fault);
  const r: ResolveResult = { code: packedCode(p), major: packedMajor(p), reason: REASONS[(p >> 3) & 7]! };
  const k = (p >> 6) & 7;
  if (k !== 0) r.outcome = faultOutcomeOf((k - 1) as FaultKindValue, fault.addr);
  return r;
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
