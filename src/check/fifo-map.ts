/**
 * A map from numeric ids that keeps a bounded number of entries: once `limit` insertions have
 * happened since an entry was inserted, inserting another forgets it (oldest first). The checker
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
  private readonly map = new Map<number, { v: V; pos: number }>();
  /** Keys in insertion order from `head`; NaN marks an entry deleted since. */
  private readonly ring: Float64Array;
  private head = 0;
  private used = 0;

  constructor(
    readonly limit: number,
    /** Called with an entry the bound forgets (not with entries deleted by the caller). */
    private readonly onEvict?: (key: number, value: V) => void,
  ) {
    this.ring = new Float64Array(limit);
  }

  get size(): number {
    return this.map.size;
  }

  has(key: number): boolean {
    return this.map.has(key);
  }

  get(key: number): V | undefined {
    return this.map.get(key)?.v;
  }

  /** Insert, or replace the value of an existing key (which keeps its place in the order). */
  set(key: number, value: V): this {
    const e = this.map.get(key);
    if (e !== undefined) {
      e.v = value;
      return this;
    }
    if (this.used === this.limit) {
      const old = this.ring[this.head]!;
      this.head = this.head + 1 === this.limit ? 0 : this.head + 1;
      this.used--;
      if (old === old) {
        const gone = this.map.get(old);
        this.map.delete(old);
        if (gone !== undefined) this.onEvict?.(old, gone.v);
      }
    }
    let pos = this.head + this.used;
    if (pos >= this.limit) pos -= this.limit;
    this.ring[pos] = key;
    this.used++;
    this.map.set(key, { v: value, pos });
    return this;
  }

  delete(key: number): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.ring[e.pos] = NaN;
    this.map.delete(key);
    return true;
  }

  clear(): void {
    this.map.clear();
    this.head = 0;
    this.used = 0;
  }

  *keys(): IterableIterator<number> {
    yield* this.map.keys();
  }

  *values(): IterableIterator<V> {
    for (const e of this.map.values()) yield e.v;
  }

  *entries(): IterableIterator<[number, V]> {
    for (const [k, e] of this.map) yield [k, e.v];
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
