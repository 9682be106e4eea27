/**
 * PRG index allocator (PCIe §10.4.1, reference PRI.PRGI.NO_REUSE): 9-bit indices, lowest free
 * first, an index stays taken until its group's response arrives (or PRI is reset). The model keeps
 * indices unique per function across PASIDs, as Linux's grouping by grpid assumes.
 */
export const PRGI_COUNT = 512;

export class PrgiAllocator {
  private readonly used = new Uint8Array(PRGI_COUNT);
  private inUse = 0;

  get outstanding(): number {
    return this.inUse;
  }

  get full(): boolean {
    return this.inUse === PRGI_COUNT;
  }

  /** Lowest free index, or -1 when all 512 are outstanding. */
  alloc(): number {
    if (this.inUse === PRGI_COUNT) return -1;
    const u = this.used;
    for (let i = 0; i < PRGI_COUNT; i++) {
      if (u[i] === 0) {
        u[i] = 1;
        this.inUse++;
        return i;
      }
    }
    return -1;
  }

  isOutstanding(prgi: number): boolean {
    return prgi >= 0 && prgi < PRGI_COUNT && this.used[prgi] === 1;
  }

  /** Free an outstanding index; false if it was not outstanding. */
  free(prgi: number): boolean {
    if (!this.isOutstanding(prgi)) return false;
    this.used[prgi] = 0;
    this.inUse--;
    return true;
  }

  reset(): void {
    this.used.fill(0);
    this.inUse = 0;
  }
}
