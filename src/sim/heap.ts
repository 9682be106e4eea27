/**
 * The event queue: a 4-ary min-heap ordered by (time, seq), in typed arrays. Event data lives in
 * slot-indexed columns; the heap orders slot numbers, with each entry's (time, seq) key copied
 * beside it in heap order, so a sift compares keys without chasing slots (cache-friendly) and a
 * level of the tree is half as deep as a binary heap's. Time and seq are compared separately (never
 * packed into one double, which would lose precision). (time, seq) is a total order, so the pop
 * order — and every trace — is the same as with any other correct priority queue.
 */
import { assert } from './assert.js';

export class EventHeap {
  time: Float64Array;
  seq: Float64Array;
  kind: Int32Array;
  a: Int32Array;
  b: Int32Array;
  /** Payload slot: index into `payloads`, or -1. */
  p: Int32Array;
  /** Ordering channel: same-time events of one channel keep FIFO order; -1 = none. */
  ch: Int32Array;
  /** heap[i] = slot at heap position i; hTime[i], hSeq[i] = its key. */
  private heap: Int32Array;
  private hTime: Float64Array;
  private hSeq: Float64Array;
  private freeSlots: Int32Array;
  private freeTop = 0;
  private nextSlot = 0;
  size = 0;
  private capacity: number;
  private readonly maxCapacity: number;

  constructor(initialCapacity = 1024, maxCapacity = 1 << 26) {
    this.capacity = Math.max(16, initialCapacity);
    this.maxCapacity = maxCapacity;
    this.time = new Float64Array(this.capacity);
    this.seq = new Float64Array(this.capacity);
    this.kind = new Int32Array(this.capacity);
    this.a = new Int32Array(this.capacity);
    this.b = new Int32Array(this.capacity);
    this.p = new Int32Array(this.capacity);
    this.ch = new Int32Array(this.capacity);
    this.heap = new Int32Array(this.capacity);
    this.hTime = new Float64Array(this.capacity);
    this.hSeq = new Float64Array(this.capacity);
    this.freeSlots = new Int32Array(this.capacity);
  }

  private grow(): void {
    const cap = this.capacity * 2;
    assert(cap <= this.maxCapacity, 'EventHeap: pending-event limit reached');
    const g = <T extends Float64Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const n = make(cap);
      n.set(old);
      return n;
    };
    this.time = g(this.time, (n) => new Float64Array(n));
    this.seq = g(this.seq, (n) => new Float64Array(n));
    this.kind = g(this.kind, (n) => new Int32Array(n));
    this.a = g(this.a, (n) => new Int32Array(n));
    this.b = g(this.b, (n) => new Int32Array(n));
    this.p = g(this.p, (n) => new Int32Array(n));
    this.ch = g(this.ch, (n) => new Int32Array(n));
    this.heap = g(this.heap, (n) => new Int32Array(n));
    this.hTime = g(this.hTime, (n) => new Float64Array(n));
    this.hSeq = g(this.hSeq, (n) => new Float64Array(n));
    this.freeSlots = g(this.freeSlots, (n) => new Int32Array(n));
    this.capacity = cap;
  }

  /** Insert; returns the slot. */
  push(time: number, seq: number, kind: number, a: number, b: number, p: number, ch = -1): number {
    // Grow when no slot is free. Not `size === capacity`: slots popped but not yet released (the
    // engine's same-time tie buffer holds up to 32) are in use while no longer counted in `size`.
    if (this.freeTop === 0 && this.nextSlot === this.capacity) this.grow();
    const slot = this.freeTop > 0 ? this.freeSlots[--this.freeTop]! : this.nextSlot++;
    this.time[slot] = time;
    this.seq[slot] = seq;
    this.kind[slot] = kind;
    this.a[slot] = a;
    this.b[slot] = b;
    this.p[slot] = p;
    this.ch[slot] = ch;
    this.siftUp(slot);
    return slot;
  }

  /** Place `slot` at the end of the heap and move it up to its (time, seq) position. */
  private siftUp(slot: number): void {
    const heap = this.heap;
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const t = this.time[slot]!;
    const q = this.seq[slot]!;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const pt = hTime[parent]!;
      if (t > pt || (t === pt && q >= hSeq[parent]!)) break;
      heap[i] = heap[parent]!;
      hTime[i] = pt;
      hSeq[i] = hSeq[parent]!;
      i = parent;
    }
    heap[i] = slot;
    hTime[i] = t;
    hSeq[i] = q;
  }

  /** Slot of the minimum, or -1 when empty. */
  peek(): number {
    return this.size === 0 ? -1 : this.heap[0]!;
  }

  /**
   * Remove the minimum and return its slot. The slot's columns stay readable until `release(slot)`;
   * the caller releases it after reading.
   */
  pop(): number {
    assert(this.size > 0, 'EventHeap.pop on empty heap');
    const heap = this.heap;
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const top = heap[0]!;
    const n = --this.size;
    if (n > 0) {
      // Sift the last entry down from the root: at each level, the least of up to four children.
      const last = heap[n]!;
      const lt = hTime[n]!;
      const lq = hSeq[n]!;
      let i = 0;
      for (;;) {
        const first = 4 * i + 1;
        if (first >= n) break;
        let c = first;
        let ct = hTime[first]!;
        let cq = hSeq[first]!;
        const end = first + 4 < n ? first + 4 : n;
        for (let k = first + 1; k < end; k++) {
          const kt = hTime[k]!;
          if (kt < ct || (kt === ct && hSeq[k]! < cq)) {
            c = k;
            ct = kt;
            cq = hSeq[k]!;
          }
        }
        if (lt < ct || (lt === ct && lq < cq)) break;
        heap[i] = heap[c]!;
        hTime[i] = ct;
        hSeq[i] = cq;
        i = c;
      }
      heap[i] = last;
      hTime[i] = lt;
      hSeq[i] = lq;
    }
    return top;
  }

  release(slot: number): void {
    this.freeSlots[this.freeTop++] = slot;
  }
}
