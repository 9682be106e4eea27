/**
 * The function's address translation cache (ATC, PCIe ch. 10 §1.5 of the reference): a fixed
 * number of (PASID, page) entries with least-recently-used replacement. Slots live in typed arrays
 * with an intrusive doubly linked LRU list; an open-addressing hash table over typed arrays (linear
 * probing, backward-shift deletion) finds a (PASID, page)'s slot. Lookups, inserts and evictions
 * allocate nothing: a JS Map churned by every insert and eviction reallocated its backing store
 * over and over, which was most of the model's allocation per page request after the fault
 * records. The slot arrays and the table grow by doubling up to `capacity` as entries are inserted
 * (slots stay dense), so a large configured ATC costs memory only for the translations a run caches.
 */
import { assert } from '../sim/assert.js';

const NIL = -1;

/** Hash table size for `slots` entries: a power of two at least twice as large. */
function tableSize(slots: number): number {
  let n = 16;
  while (n < 2 * slots) n *= 2;
  return n;
}

export class Atc {
  private pasidOf: Int32Array;
  private pageOf: Float64Array;
  private prev: Int32Array;
  private next: Int32Array;
  /** Most recently used slot, least recently used slot. */
  private mru = NIL;
  private lru = NIL;
  private used = 0;
  /** Hash table: slot of each bucket (NIL = empty); the key is read from pasidOf/pageOf. */
  private table: Int32Array;
  private mask: number;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, 'Atc: capacity must be a positive integer');
    const initial = Math.min(capacity, 64);
    this.pasidOf = new Int32Array(initial);
    this.pageOf = new Float64Array(initial);
    this.prev = new Int32Array(initial).fill(NIL);
    this.next = new Int32Array(initial).fill(NIL);
    const n = tableSize(initial);
    this.table = new Int32Array(n).fill(NIL);
    this.mask = n - 1;
  }

  /** Bucket of a key: a multiplicative mix of PASID and page (page may exceed 2^32). */
  private bucket(pasid: number, page: number): number {
    const lo = page >>> 0;
    const hi = (page - lo) / 4294967296;
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(pasid + 1, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Rebuild the table for the slot arrays' size (load factor stays at most 1/2). */
  private rehash(): void {
    const n = tableSize(this.pasidOf.length);
    this.table = new Int32Array(n).fill(NIL);
    this.mask = n - 1;
    for (let s = 0; s < this.used; s++) this.tableInsert(s);
  }

  private tableInsert(s: number): void {
    const t = this.table;
    let b = this.bucket(this.pasidOf[s]!, this.pageOf[s]!);
    while (t[b] !== NIL) b = (b + 1) & this.mask;
    t[b] = s;
  }

  /** Bucket holding slot `s` (which must be in the table). */
  private bucketOfSlot(s: number): number {
    const t = this.table;
    let b = this.bucket(this.pasidOf[s]!, this.pageOf[s]!);
    while (t[b] !== s) b = (b + 1) & this.mask;
    return b;
  }

  /** Remove bucket `b` and shift the following run back (linear probing, no tombstones). */
  private tableRemoveAt(b: number): void {
    const t = this.table;
    const mask = this.mask;
    let hole = b;
    let j = b;
    for (;;) {
      j = (j + 1) & mask;
      const s = t[j]!;
      if (s === NIL) break;
      const home = this.bucket(this.pasidOf[s]!, this.pageOf[s]!);
      // Move s into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        t[hole] = s;
        hole = j;
      }
    }
    t[hole] = NIL;
  }

  /** Double the slot arrays (never beyond capacity); slots [0, used) keep their contents. */
  private grow(): void {
    const n = Math.min(this.capacity, this.pasidOf.length * 2);
    const pasidOf = new Int32Array(n);
    pasidOf.set(this.pasidOf);
    const pageOf = new Float64Array(n);
    pageOf.set(this.pageOf);
    const prev = new Int32Array(n).fill(NIL);
    prev.set(this.prev);
    const next = new Int32Array(n).fill(NIL);
    next.set(this.next);
    this.pasidOf = pasidOf;
    this.pageOf = pageOf;
    this.prev = prev;
    this.next = next;
    this.rehash();
  }

  get size(): number {
    return this.used;
  }

  private unlink(s: number): void {
    const p = this.prev[s]!;
    const n = this.next[s]!;
    if (p !== NIL) this.next[p] = n;
    else this.mru = n;
    if (n !== NIL) this.prev[n] = p;
    else this.lru = p;
    this.prev[s] = NIL;
    this.next[s] = NIL;
  }

  private pushFront(s: number): void {
    this.prev[s] = NIL;
    this.next[s] = this.mru;
    if (this.mru !== NIL) this.prev[this.mru] = s;
    this.mru = s;
    if (this.lru === NIL) this.lru = s;
  }

  private slotOf(pasid: number, page: number): number {
    const t = this.table;
    let b = this.bucket(pasid, page);
    for (;;) {
      const s = t[b]!;
      if (s === NIL) return NIL;
      if (this.pageOf[s] === page && this.pasidOf[s] === pasid) return s;
      b = (b + 1) & this.mask;
    }
  }

  /** Translation cached? A hit makes the entry most recently used. */
  lookup(pasid: number, page: number): boolean {
    const s = this.slotOf(pasid, page);
    if (s === NIL) {
      this.misses++;
      return false;
    }
    this.hits++;
    if (this.mru !== s) {
      this.unlink(s);
      this.pushFront(s);
    }
    return true;
  }

  /** Whether an entry exists, without touching the LRU order (for tests and checks). */
  has(pasid: number, page: number): boolean {
    return this.slotOf(pasid, page) !== NIL;
  }

  /** Cache a translation, evicting the least recently used entry when full. */
  insert(pasid: number, page: number): void {
    const existing = this.slotOf(pasid, page);
    if (existing !== NIL) {
      if (this.mru !== existing) {
        this.unlink(existing);
        this.pushFront(existing);
      }
      return;
    }
    let s: number;
    if (this.used < this.capacity) {
      if (this.used === this.pasidOf.length) this.grow();
      s = this.used++;
    } else {
      s = this.lru;
      this.unlink(s);
      this.tableRemoveAt(this.bucketOfSlot(s));
      this.evictions++;
    }
    this.pasidOf[s] = pasid;
    this.pageOf[s] = page;
    this.tableInsert(s);
    this.pushFront(s);
  }

  /**
   * ATS invalidation: drop the entries of `pasid` with page in [first, first + count). Returns how
   * many were dropped. Freed slots are compacted by moving the last used slot into the hole.
   */
  invalidate(pasid: number, first = 0, count = Number.POSITIVE_INFINITY): number {
    let dropped = 0;
    const end = first + count;
    // Downwards: the last used slot, moved into a hole below, has been looked at already.
    for (let s = this.used - 1; s >= 0; s--) {
      const page = this.pageOf[s]!;
      if (this.pasidOf[s] !== pasid || page < first || page >= end) continue;
      this.tableRemoveAt(this.bucketOfSlot(s));
      this.unlink(s);
      dropped++;
      // Move the last used slot into the hole so slots [0, used) stay dense.
      const last = --this.used;
      if (s !== last) {
        const b = this.bucketOfSlot(last);
        const wasMru = this.mru === last;
        const p = this.prev[last]!;
        const n = this.next[last]!;
        this.pasidOf[s] = this.pasidOf[last]!;
        this.pageOf[s] = this.pageOf[last]!;
        this.prev[s] = p;
        this.next[s] = n;
        if (p !== NIL) this.next[p] = s;
        if (n !== NIL) this.prev[n] = s;
        if (wasMru) this.mru = s;
        if (this.lru === last) this.lru = s;
        this.table[b] = s;
        this.prev[last] = NIL;
        this.next[last] = NIL;
      }
    }
    return dropped;
  }

  /** Drop everything (function reset). */
  clear(): void {
    this.table.fill(NIL);
    this.prev.fill(NIL);
    this.next.fill(NIL);
    this.mru = NIL;
    this.lru = NIL;
    this.used = 0;
  }
}
