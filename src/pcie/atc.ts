/**
 * The function's address translation cache (ATC, PCIe ch. 10 §1.5 of the reference): a fixed
 * number of (PASID, page) entries with least-recently-used replacement. Slots live in typed arrays
 * with an intrusive doubly linked LRU list; a per-PASID map finds a page's slot. Lookups and
 * inserts allocate nothing once a PASID has been seen. The slot arrays grow by doubling up to
 * `capacity` as entries are inserted (slots stay dense), so a large configured ATC costs memory
 * only for the translations a run caches.
 */
import { assert } from '../sim/assert.js';

const NIL = -1;

export class Atc {
  private pasidOf: Int32Array;
  private pageOf: Float64Array;
  private prev: Int32Array;
  private next: Int32Array;
  /** Most recently used slot, least recently used slot. */
  private mru = NIL;
  private lru = NIL;
  private used = 0;
  private readonly index = new Map<number, Map<number, number>>();
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
    const m = this.index.get(pasid);
    if (m === undefined) return NIL;
    const s = m.get(page);
    return s === undefined ? NIL : s;
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
      this.index.get(this.pasidOf[s]!)?.delete(this.pageOf[s]!);
      this.evictions++;
    }
    this.pasidOf[s] = pasid;
    this.pageOf[s] = page;
    let m = this.index.get(pasid);
    if (m === undefined) {
      m = new Map();
      this.index.set(pasid, m);
    }
    m.set(page, s);
    this.pushFront(s);
  }

  /**
   * ATS invalidation: drop the entries of `pasid` with page in [first, first + count). Returns how
   * many were dropped. Freed slots are compacted by moving the last used slot into the hole.
   */
  invalidate(pasid: number, first = 0, count = Number.POSITIVE_INFINITY): number {
    const m = this.index.get(pasid);
    if (m === undefined) return 0;
    let dropped = 0;
    const end = first + count;
    // Snapshot the pages: compaction below rewrites slot numbers inside the map.
    for (const page of [...m.keys()]) {
      if (page < first || page >= end) continue;
      const s = m.get(page)!;
      m.delete(page);
      this.unlink(s);
      dropped++;
      // Move the last used slot into the hole so slots [0, used) stay dense.
      const last = --this.used;
      if (s !== last) {
        const lp = this.pasidOf[last]!;
        const lg = this.pageOf[last]!;
        const wasMru = this.mru === last;
        const p = this.prev[last]!;
        const n = this.next[last]!;
        this.pasidOf[s] = lp;
        this.pageOf[s] = lg;
        this.prev[s] = p;
        this.next[s] = n;
        if (p !== NIL) this.next[p] = s;
        if (n !== NIL) this.prev[n] = s;
        if (wasMru) this.mru = s;
        if (this.lru === last) this.lru = s;
        this.index.get(lp)!.set(lg, s);
        this.prev[last] = NIL;
        this.next[last] = NIL;
      }
    }
    if (m.size === 0) this.index.delete(pasid);
    return dropped;
  }

  /** Drop everything (function reset). */
  clear(): void {
    this.index.clear();
    this.prev.fill(NIL);
    this.next.fill(NIL);
    this.mru = NIL;
    this.lru = NIL;
    this.used = 0;
  }
}
