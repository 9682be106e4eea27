/**
 * SVA PASIDs: the global PASID allocator (iommu_alloc_global_pasid / iommu_free_global_pasid in
 * drivers/iommu/iommu.c, an IDA handing out the lowest free id) and the per-mm PASID that
 * iommu_alloc_mm_data() assigns on the first bind and mm_pasid_drop() returns when the mm is freed.
 */
import { InvariantError } from '../../sim/assert.js';
import type { AddressSpace } from '../../mm/address-space.js';
import { err } from '../../sim/errno.js';

/** IOMMU_NO_PASID: PASID 0 is reserved for DMA without PASID (VT-d RID_PASID). */
export const IOMMU_NO_PASID = 0;
/** IOMMU_FIRST_GLOBAL_PASID: the global allocator starts at 1. */
export const IOMMU_FIRST_GLOBAL_PASID = 1;
/** PCIe PASIDs are at most 20 bits wide. */
export const PCIE_MAX_PASID_BITS = 20;

function invariant(cond: boolean, msg: string): asserts cond {
  if (!cond) fail(msg);
}

/** Throw with a message built only when the check already failed (no string building per call). */
function fail(msg: string): never {
  throw new InvariantError(`pasid: ${msg}`);
}

/**
 * dev->iommu->max_pasids for a function whose PASID capability reports `bits` (pci_max_pasids()
 * returns 1 << width), capped by the IOMMU's own limit (dev_iommu_get_max_pasids takes the min).
 * Width 0 gives 1: only PASID 0, so SVA allocation fails.
 */
export function maxPasidsForWidth(bits: number, iommuMaxPasids: number = 2 ** PCIE_MAX_PASID_BITS): number {
  if (!(Number.isInteger(bits) && bits >= 0 && bits <= PCIE_MAX_PASID_BITS)) fail(`bad PASID width ${bits}`);
  return Math.min(2 ** bits, iommuMaxPasids);
}

/** Binary min-heap of numbers (freed ids below the high-water mark). */
class MinHeap {
  readonly #a: number[] = [];

  get size(): number {
    return this.#a.length;
  }

  peek(): number | undefined {
    return this.#a[0];
  }

  push(x: number): void {
    const a = this.#a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  pop(): number | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]! < a[l]! ? r : l;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * An IDA over [min, max]: `alloc(limit)` returns the lowest free id in [min, limit]
 * (ida_alloc_range), or -ENOSPC when that range is full.
 */
export class PasidAllocator {
  readonly min: number;
  readonly max: number;
  readonly #inUse = new Set<number>();
  /** Every id >= hwm is free; every free id < hwm is in #freed. */
  #hwm: number;
  readonly #freed = new MinHeap();

  constructor(opts: { min?: number; max?: number } = {}) {
    this.min = opts.min ?? IOMMU_FIRST_GLOBAL_PASID;
    this.max = opts.max ?? 2 ** PCIE_MAX_PASID_BITS - 1;
    invariant(Number.isSafeInteger(this.min) && this.min >= 0, 'bad min');
    invariant(Number.isSafeInteger(this.max) && this.max >= this.min, 'bad max');
    this.#hwm = this.min;
  }

  /** Ids currently allocated. */
  get inUse(): number {
    return this.#inUse.size;
  }

  isAllocated(id: number): boolean {
    return this.#inUse.has(id);
  }

  /**
   * Lowest free id in [min, limit] (limit inclusive, clamped to max); -ENOSPC if none.
   * The kernel passes the binding device's max_pasids - 1 as the limit.
   */
  alloc(limit: number = this.max): number {
    const hi = Math.min(limit, this.max);
    const lowest = this.#freed.peek() ?? this.#hwm;
    if (lowest > hi) return err('ENOSPC');
    if (this.#freed.size > 0) this.#freed.pop();
    else this.#hwm++;
    this.#inUse.add(lowest);
    return lowest;
  }

  /** ida_free(); freeing an id that is not allocated is a programmer error (the IDA WARNs). */
  free(id: number): void {
    if (!(this.#inUse.has(id))) fail(`free of PASID ${id} which is not allocated`);
    this.#inUse.delete(id);
    this.#freed.push(id);
  }
}

/**
 * Per-mm PASIDs (struct iommu_mm_data): one PASID per mm, shared by every device the mm is bound
 * to, assigned on the first bind and returned to the allocator only when the mm is freed
 * (__mmdrop → mm_pasid_drop), not at unbind. Hence PASID reuse: once A's mm is freed, the next
 * mm to bind gets A's PASID.
 */
export class SvaMmPasids {
  readonly allocator: PasidAllocator;
  readonly #byMm = new Map<AddressSpace, number>();
  readonly #byPasid = new Map<number, AddressSpace>();

  constructor(allocator: PasidAllocator = new PasidAllocator()) {
    this.allocator = allocator;
  }

  /**
   * iommu_alloc_mm_data(): the mm's PASID for a device with `maxPasids` (dev->iommu->max_pasids).
   * An mm that already has one keeps it: -EOVERFLOW if it does not fit this device (pasid >=
   * maxPasids). Otherwise allocate the lowest free id in [1, maxPasids - 1]: -ENOSPC if none.
   * The caller must hold a user reference on the mm (iommu_sva_bind_device's contract).
   */
  assign(mm: AddressSpace, maxPasids: number): number {
    if (!(Number.isSafeInteger(maxPasids) && maxPasids >= 0)) fail(`bad maxPasids ${maxPasids}`);
    if (mm.isExiting) fail(`bind of mm ${mm.id} without a user reference`);
    const existing = this.#byMm.get(mm);
    if (existing !== undefined) return existing >= maxPasids ? err('EOVERFLOW') : existing;
    // max_pasids == 0 (no PASID support) makes iommu_alloc_global_pasid fail too: -ENOSPC.
    if (maxPasids === 0) return err('ENOSPC');
    const pasid = this.allocator.alloc(maxPasids - 1);
    if (pasid < 0) return pasid;
    this.#byMm.set(mm, pasid);
    this.#byPasid.set(pasid, mm);
    mm.onFree(() => {
      this.#drop(mm);
    });
    return pasid;
  }

  /** assign() for a device whose PASID capability is `bits` wide. */
  assignForWidth(mm: AddressSpace, bits: number): number {
    return this.assign(mm, maxPasidsForWidth(bits));
  }

  /** The mm's PASID, if one is assigned (mm_get_enqcmd_pasid). */
  pasidOf(mm: AddressSpace): number | undefined {
    return this.#byMm.get(mm);
  }

  /** The mm currently owning `pasid`, if any. */
  mmOf(pasid: number): AddressSpace | undefined {
    return this.#byPasid.get(pasid);
  }

  get size(): number {
    return this.#byMm.size;
  }

  /** mm_pasid_drop(): return the PASID when the mm is freed. */
  #drop(mm: AddressSpace): void {
    const pasid = this.#byMm.get(mm);
    if (!(pasid !== undefined)) fail(`mm ${mm.id} freed twice`);
    this.#byMm.delete(mm);
    this.#byPasid.delete(pasid);
    this.allocator.free(pasid);
  }
}
