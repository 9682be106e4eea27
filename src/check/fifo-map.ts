/**
 * A map from numeric ids that keeps a bounded number of entries: at most `limit` live entries;
 * inserting one more forgets the oldest (deleted entries do not count against the bound). The checker
 * keys its per-id state by ids a trace chooses (request, group, PASID), so a hostile trace may name
 * a new one on every line; this keeps memory constant and every operation O(1).
 *
 * Why not a Map with `m.delete(m.keys().next().value)`: V8's ordered hash table leaves deleted
 * entries in place until it rehashes, and a fresh iterator walks over them from the start, so
 * evicting the oldest that way costs O(entries deleted so far) each time — quadratic on a long
 * trace. Here insertion order lives in a ring of keys; a deleted entry leaves a tombstone the ring
 * skips when its turn comes.
 */
export class FifoMap<V> implements Iterable<[number, V]> {
  /** Keys in insertion order from `head`; NaN marks an entry deleted since. */
  private readonly ring: Float64Array;
  /** Values by ring position. */
  private readonly vals: (V | undefined)[] = [];
  private head = 0;
  private used = 0;
  /** Live entries. */
  private count = 0;
  /**
   * Open-addressing index (linear probing, backward-shift deletion): ring position + 1 of each
   * key, 0 = empty; grown by doubling so that it is at most half full. A JS Map here reallocated
   * its table under the steady insert/evict churn of a long trace, and each entry carried a
   * wrapper object; both lived long enough to reach the old generation, so the offline checker's
   * memory grew with the trace until a major GC.
   */
  private table = new Int32Array(16);
  private mask = 15;

  constructor(
    readonly limit: number,
    /** Called with an entry the bound forgets (not with entries deleted by the caller). */
    private readonly onEvict?: (key: number, value: V) => void,
  ) {
    this.ring = new Float64Array(limit);
  }

  private bucket(key: number): number {
    const lo = key >>> 0;
    const hi = (key - lo) / 4294967296;
    let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi | 0, 0x85ebca6b);
    h ^= h >>> 16;
    return h & this.mask;
  }

  /** Bucket holding `key`, or -1. */
  private find(key: number): number {
    const t = this.table;
    let b = this.bucket(key);
    for (;;) {
      const e = t[b]!;
      if (e === 0) return -1;
      if (this.ring[e - 1] === key) return b;
      b = (b + 1) & this.mask;
    }
  }

  private place(pos: number): void {
    const t = this.table;
    let b = this.bucket(this.ring[pos]!);
    while (t[b] !== 0) b = (b + 1) & this.mask;
    t[b] = pos + 1;
  }

  private removeBucket(b: number): void {
    const t = this.table;
    const mask = this.mask;
    let hole = b;
    let j = b;
    for (;;) {
      j = (j + 1) & mask;
      const e = t[j]!;
      if (e === 0) break;
      const home = this.bucket(this.ring[e - 1]!);
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        t[hole] = e;
        hole = j;
      }
    }
    t[hole] = 0;
  }

  private growTable(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    this.mask = this.table.length - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.place(old[i]! - 1);
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  get(key: number): V | undefined {
    const b = this.find(key);
    return b < 0 ? undefined : this.vals[this.table[b]! - 1];
  }

  /** Insert, or replace the value of an existing key (which keeps its place in the order). */
  set(key: number, value: V): this {
    const b = this.find(key);
    if (b >= 0) {
      this.vals[this.table[b]! - 1] = value;
      return this;
    }
    if (this.used === this.limit) {
      // The ring also holds the tombstones of deleted entries: the bound is on live entries, so
      // with many tombstones the ring is compacted instead of forgetting a live entry (a group
      // user space holds for long while the device forms thousands of others must not be
      // forgotten). Compaction leaves at least a quarter of the ring free: amortised O(1).
      if (this.count <= (this.limit * 3) >> 2) this.compact();
      else {
        // Tombstones at the head go first; then the oldest live entry is forgotten.
        while (this.used > 0 && this.ring[this.head] !== this.ring[this.head]) this.advanceHead();
        if (this.used === this.limit) {
          const h = this.head;
          const old = this.ring[h]!;
          this.advanceHead();
          const gone = this.vals[h] as V;
          this.removeBucket(this.find(old));
          this.vals[h] = undefined;
          this.count--;
          this.onEvict?.(old, gone);
        }
      }
    }
    let pos = this.head + this.used;
    if (pos >= this.limit) pos -= this.limit;
    this.ring[pos] = key;
    this.vals[pos] = value;
    this.used++;
    this.count++;
    if (2 * this.count > this.table.length) this.growTable();
    this.place(pos);
    return this;
  }

  private advanceHead(): void {
    this.head = this.head + 1 === this.limit ? 0 : this.head + 1;
    this.used--;
  }

  /** Rewrite the ring with the live entries only, oldest first, and index them again. */
  private compact(): void {
    const keys: number[] = [];
    const vs: (V | undefined)[] = [];
    for (let i = 0, p = this.head; i < this.used; i++, p = p + 1 === this.limit ? 0 : p + 1) {
      const k = this.ring[p]!;
      if (k === k) {
        keys.push(k);
        vs.push(this.vals[p]);
      }
      this.vals[p] = undefined;
    }
    this.table.fill(0);
    for (let i = 0; i < keys.length; i++) {
      this.ring[i] = keys[i]!;
      this.vals[i] = vs[i];
      this.place(i);
    }
    this.head = 0;
    this.used = keys.length;
  }

  delete(key: number): boolean {
    const b = this.find(key);
    if (b < 0) return false;
    const pos = this.table[b]! - 1;
    this.removeBucket(b);
    this.ring[pos] = NaN;
    this.vals[pos] = undefined;
    this.count--;
    return true;
  }

  clear(): void {
    this.table.fill(0);
    this.vals.length = 0;
    this.head = 0;
    this.used = 0;
    this.count = 0;
  }

  /** Live entries oldest first (insertion order, as a Map iterates). */
  *entries(): IterableIterator<[number, V]> {
    for (let i = 0; i < this.used; i++) {
      let pos = this.head + i;
      if (pos >= this.limit) pos -= this.limit;
      const k = this.ring[pos]!;
      if (k === k) yield [k, this.vals[pos] as V];
    }
  }

  *keys(): IterableIterator<number> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }
}

const NONE: readonly [number, never][] = [];

/**
 * Per-id records that belong to a device (groups, partial faults): bounded per device and in all,
 * and walkable per device, so a check about one device visits that device's records only.
 */
export class DeviceIndexed<R extends { readonly dev: number }> implements Iterable<[number, R]> {
  private readonly all: FifoMap<R>;
  private readonly byDev: (FifoMap<R> | undefined)[] = [];

  constructor(
    totalLimit: number,
    private readonly perDeviceLimit: number,
    /** Called with a record the bounds forget. */
    private readonly onForget?: (id: number, r: R) => void,
  ) {
    this.all = new FifoMap<R>(totalLimit, (id, r) => {
      this.byDev[r.dev]?.delete(id);
      this.onForget?.(id, r);
    });
  }

  get size(): number {
    return this.all.size;
  }

  has(id: number): boolean {
    return this.all.has(id);
  }

  get(id: number): R | undefined {
    return this.all.get(id);
  }

  /** Insert (an id seen again replaces its record and becomes the newest). */
  set(id: number, r: R): this {
    this.delete(id);
    let m = this.byDev[r.dev];
    if (m === undefined) {
      m = new FifoMap<R>(this.perDeviceLimit, (eid, er) => {
        this.all.delete(eid);
        this.onForget?.(eid, er);
      });
      this.byDev[r.dev] = m;
    }
    m.set(id, r);
    this.all.set(id, r);
    return this;
  }

  delete(id: number): boolean {
    const r = this.all.get(id);
    if (r === undefined) return false;
    this.all.delete(id);
    this.byDev[r.dev]?.delete(id);
    return true;
  }

  /** The records of one device, oldest first. */
  ofDevice(dev: number): Iterable<[number, R]> {
    return this.byDev[dev] ?? NONE;
  }

  values(): IterableIterator<R> {
    return this.all.values();
  }

  [Symbol.iterator](): IterableIterator<[number, R]> {
    return this.all.entries();
  }
}
