/**
 * A process address space (struct mm_struct) reduced to what the I/O page fault path observes:
 * VMAs with permissions, per-page presence, the two reference counts, and the outcome of
 * handle_mm_fault(). Pure logic: no time, no scheduling; the engine adds latency for major faults.
 */
import { InvariantError } from '../sim/assert.js';
import { err, type KResult } from '../sim/errno.js';

/** Bytes per page; the model uses 4 KiB base pages only (no THP, no hugetlb). */
export const PAGE_SIZE = 4096;

/** Page number of a byte address. Addresses stay below 2^53, so division is exact. */
export function pageOf(addr: number): number {
  return Math.floor(addr / PAGE_SIZE);
}

export interface VmaPerms {
  read: boolean;
  write: boolean;
  exec: boolean;
}

/**
 * What backs a VMA. The first touch of an anonymous page is a zero-fill (minor fault); the first
 * touch of a file page reads it from storage (major fault) unless the page cache still holds it.
 */
export type VmaBacking = 'anon' | 'file';

/** Read-only view of a VMA handed out by the address space. */
export interface VmaView {
  readonly start: number;
  /** Exclusive end address. */
  readonly end: number;
  readonly size: number;
  readonly perms: Readonly<VmaPerms>;
  readonly backing: VmaBacking;
}

/** The access a fault asks for (FAULT_FLAG_WRITE / FAULT_FLAG_INSTRUCTION / FAULT_FLAG_USER). */
export interface FaultAccess {
  read: boolean;
  write: boolean;
  exec: boolean;
  /** User-mode access (an IOMMU request without PRIV). Recorded only: no VMA here is kernel-only. */
  user: boolean;
}

/**
 * handle_mm_fault() outcomes. `minor`/`major` leave the page present; the others are the
 * VM_FAULT_ERROR family (SIGSEGV, SIGBUS, OOM) and leave the page table unchanged.
 */
export type FaultOutcome =
  | {
      kind: 'minor';
      page: number;
      /** The PTE was already there (e.g. only the ATC missed it). */ alreadyPresent: boolean;
    }
  | { kind: 'major'; page: number }
  | { kind: 'sigsegv'; reason: 'no-vma' | 'access' }
  | { kind: 'sigbus' }
  | { kind: 'oom' };

export type FaultOutcomeKind = FaultOutcome['kind'];

/** handleFaultKind() results: the outcome of handle_mm_fault() as a number (nothing allocated). */
export const FaultKind = {
  /** minor, the PTE was already there */
  MINOR_PRESENT: 0,
  MINOR: 1,
  MAJOR: 2,
  SIGSEGV_NO_VMA: 3,
  SIGSEGV_ACCESS: 4,
  SIGBUS: 5,
  OOM: 6,
} as const;
export type FaultKindValue = (typeof FaultKind)[keyof typeof FaultKind];
const KIND_STAT = ['minor', 'minor', 'major', 'sigsegv', 'sigsegv', 'sigbus', 'oom'] as const;

/** The FaultOutcome record of a FaultKind for a fault at `addr`. */
export function faultOutcomeOf(k: FaultKindValue, addr: number): FaultOutcome {
  switch (k) {
    case FaultKind.MINOR_PRESENT:
      return { kind: 'minor', page: pageOf(addr), alreadyPresent: true };
    case FaultKind.MINOR:
      return { kind: 'minor', page: pageOf(addr), alreadyPresent: false };
    case FaultKind.MAJOR:
      return { kind: 'major', page: pageOf(addr) };
    case FaultKind.SIGSEGV_NO_VMA:
      return { kind: 'sigsegv', reason: 'no-vma' };
    case FaultKind.SIGSEGV_ACCESS:
      return { kind: 'sigsegv', reason: 'access' };
    case FaultKind.SIGBUS:
      return { kind: 'sigbus' };
    case FaultKind.OOM:
      return { kind: 'oom' };
  }
}

/** Why pages are zapped, which decides what the next touch costs. */
export type ZapReason =
  /** Reclaim: the content went to swap / back to the file; the next touch is a major fault. */
  | 'reclaim'
  /** MADV_DONTNEED-like discard: anon pages refill with zeroes, file pages stay in the page cache. */
  | 'discard';

/** Lifecycle as the fault path sees it. */
export type MmState =
  /** mm_users > 0: mmget_not_zero() succeeds. */
  | 'live'
  /** mm_users == 0 (mappings torn down) but mm_count > 0: someone still holds the struct (mmgrab). */
  | 'exiting'
  /** mm_count == 0: __mmdrop() ran; the PASID has been returned (mm_pasid_drop). */
  | 'freed';

export interface AddressSpaceOptions {
  /** Upper bound on a single VMA's page count (keeps per-VMA bitmaps small). Default 1 << 20. */
  maxVmaPages?: number;
  /** Resident page budget; a fault that would exceed it returns `oom`. Default unlimited. */
  maxResidentPages?: number;
}

export interface MmStats {
  faults: number;
  minor: number;
  major: number;
  sigsegv: number;
  sigbus: number;
  oom: number;
  /** Faults taken with `user` set (requests without PRIV). */
  userFaults: number;
  /** Pages that were present and got zapped (reclaim, discard, munmap, exit). */
  zappedPages: number;
}

/** Per-page state byte in a VMA's page array. */
const PageState = {
  /** Never touched (or discarded anon): anon → zero-fill minor, file → major read. */
  Absent: 0,
  Present: 1,
  /** Reclaimed: content is in swap or back in the file; the next touch is major. */
  Evicted: 2,
  /** File page unmapped but still in the page cache: the next touch is minor. */
  Cached: 3,
} as const;
type PageState = (typeof PageState)[keyof typeof PageState];

const CHUNK_SHIFT = 12;
const CHUNK_PAGES = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_PAGES - 1;

/**
 * A VMA's page states, sparse: one byte per page in chunks of 4096 pages, a chunk allocated on the
 * first page that leaves Absent. Memory follows the pages a run touches, not the VMA's size (a
 * 64 GiB VMA costs a 4096-slot chunk table until pages fault in), and range walks (zap, split,
 * exit) visit allocated chunks only.
 */
class PageStates {
  readonly length: number;
  private readonly chunks: (Uint8Array | undefined)[];

  constructor(length: number) {
    this.length = length;
    this.chunks = new Array<Uint8Array | undefined>((length + CHUNK_MASK) >>> CHUNK_SHIFT);
  }

  get(i: number): PageState {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    return (c === undefined ? PageState.Absent : c[i & CHUNK_MASK]!) as PageState;
  }

  set(i: number, st: PageState): void {
    const k = i >>> CHUNK_SHIFT;
    let c = this.chunks[k];
    if (c === undefined) {
      if (st === PageState.Absent) return;
      c = new Uint8Array(CHUNK_PAGES);
      this.chunks[k] = c;
    }
    c[i & CHUNK_MASK] = st;
  }

  /** Calls `f(i, state)` for every page in [from, to) that is not Absent, in page order. */
  forEachTouched(from: number, to: number, f: (i: number, st: PageState) => void): void {
    const chunks = this.chunks;
    for (let k = from >>> CHUNK_SHIFT; k < chunks.length && k << CHUNK_SHIFT < to; k++) {
      const c = chunks[k];
      if (c === undefined) continue;
      const base = k << CHUNK_SHIFT;
      const lo = Math.max(from, base) - base;
      const hi = Math.min(to, base + CHUNK_PAGES) - base;
      for (let j = lo; j < hi; j++) if (c[j] !== PageState.Absent) f(base + j, c[j] as PageState);
    }
  }

  /** The states of pages [from, to) as a new store. */
  slice(from: number, to: number = this.length): PageStates {
    const out = new PageStates(to - from);
    this.forEachTouched(from, to, (i, st) => {
      out.set(i - from, st);
    });
    return out;
  }
}

interface Vma extends VmaView {
  start: number;
  end: number;
  size: number;
  perms: VmaPerms;
  backing: VmaBacking;
  firstPage: number;
  state: PageStates;
}

function invariant(cond: boolean, msg: string): asserts cond {
  if (!cond) fail(msg);
}

/** Throw with a message built only when the check already failed (no string building per call). */
function fail(msg: string): never {
  throw new InvariantError(`AddressSpace: ${msg}`);
}

function isPageAligned(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0 && x % PAGE_SIZE === 0;
}

export type InvalidateListener = (firstPage: number, pageCount: number) => void;
export type FreeListener = (mm: AddressSpace) => void;

/**
 * One mm. Reference counting follows the kernel: `users` (mm_users: mmget/mmput) pins the
 * mappings, `count` (mm_count: mmgrab/mmdrop) pins the structure; all users together hold one
 * count. The owning process holds the initial user reference and drops it in `exit()`.
 */
export class AddressSpace {
  readonly id: number;
  readonly stats: MmStats = {
    faults: 0,
    minor: 0,
    major: 0,
    sigsegv: 0,
    sigbus: 0,
    oom: 0,
    userFaults: 0,
    zappedPages: 0,
  };

  readonly #maxVmaPages: number;
  readonly #maxResident: number;
  /** Sorted by start, non-overlapping. */
  #vmas: Vma[] = [];
  #users = 1;
  #count = 1;
  #ownerExited = false;
  #resident = 0;
  #injected: ('oom' | 'sigbus')[] = [];
  readonly #invalidateListeners: InvalidateListener[] = [];
  readonly #freeListeners: FreeListener[] = [];

  constructor(id: number, opts: AddressSpaceOptions = {}) {
    const maxVmaPages = opts.maxVmaPages ?? 1 << 20;
    const maxResident = opts.maxResidentPages ?? Number.POSITIVE_INFINITY;
    invariant(Number.isSafeInteger(maxVmaPages) && maxVmaPages > 0, 'maxVmaPages must be a positive integer');
    invariant(maxResident >= 0, 'maxResidentPages must be >= 0');
    this.id = id;
    this.#maxVmaPages = maxVmaPages;
    this.#maxResident = maxResident;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  get users(): number {
    return this.#users;
  }

  get refCount(): number {
    return this.#count;
  }

  get state(): MmState {
    if (this.#count === 0) return 'freed';
    return this.#users === 0 ? 'exiting' : 'live';
  }

  /** mm_users reached zero: no new user reference can be taken. */
  get isExiting(): boolean {
    return this.#users === 0;
  }

  get isFreed(): boolean {
    return this.#count === 0;
  }

  /** The owning process has exited (its user reference is gone; others may still hold some). */
  get ownerExited(): boolean {
    return this.#ownerExited;
  }

  /** mmget_not_zero(): take a user reference unless the mm is already exiting. */
  tryGetUser(): boolean {
    if (this.#users === 0) return false;
    this.#users++;
    return true;
  }

  /**
   * mmput(): drop a user reference. The last one tears the mappings down (exit_mmap) and drops
   * the users' collective structure reference.
   */
  putUser(): void {
    if (!(this.#users > 0)) fail(`mm ${this.id}: putUser without a user reference`);
    this.#users--;
    if (this.#users === 0) {
      this.#teardown();
      this.drop();
    }
  }

  /** Process exit (exit_mm): the owner drops its user reference, once. */
  exit(): void {
    if (this.#ownerExited) fail(`mm ${this.id}: exit() twice`);
    this.#ownerExited = true;
    this.putUser();
  }

  /** mmgrab(): pin the structure (an SVA domain does this for its mm). */
  grab(): void {
    if (!(this.#count > 0)) fail(`mm ${this.id}: grab after free`);
    this.#count++;
  }

  /** mmdrop(): the last structure reference frees the mm (__mmdrop → mm_pasid_drop). */
  drop(): void {
    if (!(this.#count > 0)) fail(`mm ${this.id}: drop after free`);
    this.#count--;
    if (this.#count === 0) {
      if (!(this.#users === 0)) fail(`mm ${this.id}: freed with users`);
      for (const l of this.#freeListeners.splice(0)) l(this);
    }
  }

  /** Called once when the mm is freed (used to return its PASID, as mm_pasid_drop does). */
  onFree(listener: FreeListener): void {
    if (!(this.#count > 0)) fail(`mm ${this.id}: onFree after free`);
    this.#freeListeners.push(listener);
  }

  /**
   * Called whenever present translations go away or lose permissions (the mmu_notifier
   * invalidate_range hook SVA drivers use to flush IOTLB/ATC). Returns an unsubscribe function.
   */
  onInvalidate(listener: InvalidateListener): () => void {
    this.#invalidateListeners.push(listener);
    return () => {
      const i = this.#invalidateListeners.indexOf(listener);
      if (i >= 0) this.#invalidateListeners.splice(i, 1);
    };
  }

  // ---- mappings --------------------------------------------------------------------------------

  get vmas(): readonly VmaView[] {
    return this.#vmas;
  }

  /** Pages currently present (RSS). */
  get residentPages(): number {
    return this.#resident;
  }

  /**
   * mmap(MAP_FIXED_NOREPLACE)-like: -EINVAL for a misaligned or empty range, -ENOMEM beyond the
   * per-VMA page bound, -EEXIST if it overlaps an existing mapping.
   */
  addVma(start: number, size: number, perms: VmaPerms, backing: VmaBacking = 'anon'): KResult {
    this.#assertMappable('addVma');
    if (!isPageAligned(start) || !isPageAligned(size) || size === 0) return err('EINVAL');
    if (!Number.isSafeInteger(start + size)) return err('EINVAL');
    const pages = size / PAGE_SIZE;
    if (pages > this.#maxVmaPages) return err('ENOMEM');
    const end = start + size;
    const i = this.#insertionIndex(start);
    const prev = this.#vmas[i - 1];
    const next = this.#vmas[i];
    if ((prev !== undefined && prev.end > start) || (next !== undefined && next.start < end))
      return err('EEXIST');
    this.#vmas.splice(i, 0, {
      start,
      end,
      size,
      perms: { ...perms },
      backing,
      firstPage: start / PAGE_SIZE,
      state: new PageStates(pages),
    });
    return 0;
  }

  /**
   * munmap(): unmap [start, start+size), splitting VMAs at the edges; holes are fine.
   * Present pages are zapped (with invalidation). -EINVAL for a misaligned or empty range.
   */
  removeVma(start: number, size: number): KResult {
    this.#assertMappable('removeVma');
    if (!isPageAligned(start) || !isPageAligned(size) || size === 0) return err('EINVAL');
    const end = start + size;
    this.#splitAt(start);
    this.#splitAt(end);
    const kept: Vma[] = [];
    for (const v of this.#vmas) {
      if (v.start >= start && v.end <= end) this.#zapVma(v, 0, v.state.length, 'discard');
      else kept.push(v);
    }
    this.#vmas = kept;
    return 0;
  }

  /**
   * mprotect(): change permissions of [start, start+size), splitting VMAs at the edges.
   * -EINVAL if misaligned/empty, -ENOMEM if any part of the range is unmapped (nothing changes).
   * Pages stay present; translations in the range are invalidated since cached permissions
   * (IOTLB/ATC) may now be too wide.
   */
  mprotect(start: number, size: number, perms: VmaPerms): KResult {
    this.#assertMappable('mprotect');
    if (!isPageAligned(start) || !isPageAligned(size) || size === 0) return err('EINVAL');
    const end = start + size;
    // Check coverage before splitting so a failing call leaves the layout untouched.
    let cursor = start;
    for (const v of this.#vmas) {
      if (v.end <= cursor) continue;
      if (v.start > cursor) break;
      cursor = v.end;
      if (cursor >= end) break;
    }
    if (cursor < end) return err('ENOMEM');
    this.#splitAt(start);
    this.#splitAt(end);
    for (const v of this.#vmas) {
      if (v.start >= start && v.end <= end) v.perms = { ...perms };
    }
    this.#notifyInvalidate(start / PAGE_SIZE, size / PAGE_SIZE);
    return 0;
  }

  /** vma_lookup(): the VMA containing `addr`, if any. */
  findVma(addr: number): VmaView | undefined {
    return this.#lookup(addr);
  }

  /** Whether the page (by page number) is mapped and present. */
  isPresent(page: number): boolean {
    const v = this.#lookup(page * PAGE_SIZE);
    return v !== undefined && v.state.get(page - v.firstPage) === PageState.Present;
  }

  /**
   * Zap pages [firstPage, firstPage+pageCount) (reclaim or discard): present pages become not
   * present, with invalidation. Unmapped pages in the range are skipped. Returns how many were
   * present.
   */
  zap(firstPage: number, pageCount: number, reason: ZapReason = 'reclaim'): number {
    invariant(Number.isSafeInteger(firstPage) && firstPage >= 0, 'zap: bad first page');
    invariant(Number.isSafeInteger(pageCount) && pageCount >= 0, 'zap: bad page count');
    const endPage = firstPage + pageCount;
    let zapped = 0;
    for (const v of this.#vmas) {
      const vEnd = v.firstPage + v.state.length;
      if (vEnd <= firstPage || v.firstPage >= endPage) continue;
      const from = Math.max(firstPage, v.firstPage) - v.firstPage;
      const to = Math.min(endPage, vEnd) - v.firstPage;
      zapped += this.#zapVma(v, from, to, reason);
    }
    return zapped;
  }

  /**
   * Fail the next `count` faults that would otherwise succeed with `kind` (fault injection for
   * scenarios: an OOM or a SIGBUS from the filesystem).
   */
  injectFaultError(kind: 'oom' | 'sigbus', count = 1): void {
    invariant(Number.isSafeInteger(count) && count >= 0, 'injectFaultError: bad count');
    for (let i = 0; i < count; i++) this.#injected.push(kind);
  }

  /**
   * handle_mm_fault() with the access check a CPU fault would do. The caller must hold a user
   * reference (as the SVA handler does through mmget_not_zero()).
   */
  handleFault(addr: number, access: FaultAccess): FaultOutcome {
    return faultOutcomeOf(this.handleFaultKind(addr, access.read, access.write, access.exec, access.user), addr);
  }

  /** handleFault() returning the outcome as a FaultKind number (the SVA handler's hot path). */
  handleFaultKind(addr: number, read: boolean, write: boolean, exec: boolean, user: boolean): FaultKindValue {
    if (!(this.#users > 0)) fail(`mm ${this.id}: handleFault without a user reference`);
    this.stats.faults++;
    if (user) this.stats.userFaults++;
    const v = this.#lookup(addr);
    if (v === undefined) return this.#tally(FaultKind.SIGSEGV_NO_VMA);
    if ((read && !v.perms.read) || (write && !v.perms.write) || (exec && !v.perms.exec)) {
      return this.#tally(FaultKind.SIGSEGV_ACCESS);
    }
    const idx = pageOf(addr) - v.firstPage;
    const st = v.state.get(idx);
    if (st === PageState.Present) return this.#tally(FaultKind.MINOR_PRESENT);
    const injected = this.#injected.shift();
    if (injected !== undefined) return this.#tally(injected === 'oom' ? FaultKind.OOM : FaultKind.SIGBUS);
    if (this.#resident + 1 > this.#maxResident) return this.#tally(FaultKind.OOM);
    const major = st === PageState.Evicted || (st === PageState.Absent && v.backing === 'file');
    v.state.set(idx, PageState.Present);
    this.#resident++;
    return this.#tally(major ? FaultKind.MAJOR : FaultKind.MINOR);
  }

  // ---- internals -------------------------------------------------------------------------------

  #tally(k: FaultKindValue): FaultKindValue {
    this.stats[KIND_STAT[k]]++;
    return k;
  }

  #assertMappable(op: string): void {
    // Only the live process changes its own layout; after exit_mmap there is nobody to call this.
    if (!(this.#users > 0)) fail(`mm ${this.id}: ${op} on an exiting mm`);
  }

  /** Index of the first VMA whose start is >= addr. */
  #insertionIndex(addr: number): number {
    let lo = 0;
    let hi = this.#vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#vmas[mid]!.start < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #lookup(addr: number): Vma | undefined {
    if (this.#users === 0) return undefined;
    // The candidate is the last VMA starting at or before addr.
    let lo = 0;
    let hi = this.#vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#vmas[mid]!.start <= addr) lo = mid + 1;
      else hi = mid;
    }
    const v = this.#vmas[lo - 1];
    return v !== undefined && addr < v.end ? v : undefined;
  }

  /** Split the VMA straddling `addr` (page aligned) into two, if any. */
  #splitAt(addr: number): void {
    const v = this.#lookup(addr);
    if (v === undefined || v.start === addr) return;
    const k = (addr - v.start) / PAGE_SIZE;
    const right: Vma = {
      start: addr,
      end: v.end,
      size: v.end - addr,
      perms: { ...v.perms },
      backing: v.backing,
      firstPage: addr / PAGE_SIZE,
      state: v.state.slice(k),
    };
    v.state = v.state.slice(0, k);
    v.end = addr;
    v.size = addr - v.start;
    this.#vmas.splice(this.#vmas.indexOf(v) + 1, 0, right);
  }

  #zapVma(v: Vma, from: number, to: number, reason: ZapReason): number {
    let zapped = 0;
    const after =
      reason === 'reclaim' ? PageState.Evicted : v.backing === 'file' ? PageState.Cached : PageState.Absent;
    const discardAnon = reason === 'discard' && v.backing === 'anon';
    const states = v.state;
    states.forEachTouched(from, to, (i, st) => {
      if (st === PageState.Present) {
        states.set(i, after);
        zapped++;
      } else if (discardAnon) {
        // Discarded anon memory is gone, swapped copy included.
        states.set(i, PageState.Absent);
      }
    });
    if (zapped > 0) {
      this.#resident -= zapped;
      this.stats.zappedPages += zapped;
      this.#notifyInvalidate(v.firstPage + from, to - from);
    }
    return zapped;
  }

  #notifyInvalidate(firstPage: number, pageCount: number): void {
    for (const l of [...this.#invalidateListeners]) l(firstPage, pageCount);
  }

  /** exit_mmap(): unmap everything. */
  #teardown(): void {
    for (const v of this.#vmas) this.#zapVma(v, 0, v.state.length, 'discard');
    this.#vmas = [];
  }
}
