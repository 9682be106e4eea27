/**
 * The SMMUv3 PRI queue as hardware and driver see it: a ring of 2^log2 16-byte entries in memory
 * with a PROD register (written by the SMMU) and a CONS register (written by software). Both carry
 * an index, a wrap bit just above it, and bit 31: PROD.OVFLG, CONS.OVACKFLG (SMMUv3 spec §3.5 queue
 * conventions; pcie-iommu-hardware.md §3.1).
 *
 * Because of the wrap bit every one of the 2^log2 slots is usable: equal indices mean empty when the
 * wrap bits agree and full when they differ (Linux queue_empty/queue_full in arm-smmu-v3.c). The
 * queue is "in overflow" while OVFLG != OVACKFLG; software acknowledges by copying OVFLG into
 * OVACKFLG (Linux arm_smmu_priq_thread's final CONS write).
 */
import { assert } from '../../sim/assert.js';
import {
  SMMU_PRIQ_ENT_SIZE,
  decodePriqEntryInto,
  emptyPriqEntry,
  encodePriqEntryInto,
  type SmmuPriqEntry,
} from './codec.js';

/** Bit 31 of PROD (OVFLG) and CONS (OVACKFLG). */
const OVF_BIT = 0x8000_0000;

/**
 * PROD/CONS pointer arithmetic shared by the SMMUv3 output queues (PRI queue, event queue): index,
 * wrap bit at bit log2, overflow flag at bit 31.
 */
export class SmmuQueuePointers {
  readonly entries: number;
  /** *_PROD register value: OVFLG b31 | wrap b(log2) | index. */
  prod = 0;
  /** *_CONS register value: OVACKFLG b31 | wrap b(log2) | index. */
  cons = 0;
  private readonly mask2: number;

  constructor(readonly log2: number) {
    assert(Number.isInteger(log2) && log2 >= 1 && log2 <= 19, 'SmmuQueuePointers: log2 must be 1..19');
    this.entries = 1 << log2;
    this.mask2 = this.entries * 2 - 1;
  }

  idx(reg: number): number {
    return reg & (this.entries - 1);
  }
  private wrp(reg: number): number {
    return reg & this.entries;
  }
  /** Index + wrap incremented by one (the wrap bit toggles when the index wraps); OVF kept. */
  next(reg: number): number {
    return ((reg & OVF_BIT) | ((reg + 1) & this.mask2)) >>> 0;
  }
  isEmpty(): boolean {
    return this.idx(this.prod) === this.idx(this.cons) && this.wrp(this.prod) === this.wrp(this.cons);
  }
  isFull(): boolean {
    return this.idx(this.prod) === this.idx(this.cons) && this.wrp(this.prod) !== this.wrp(this.cons);
  }
  /** Entries written and not yet consumed (0..entries). */
  get count(): number {
    return ((this.prod & this.mask2) - (this.cons & this.mask2) + this.entries * 2) & this.mask2;
  }
  /** OVFLG != OVACKFLG: an overflow happened that software has not acknowledged. */
  get overflowPending(): boolean {
    return (this.prod & OVF_BIT) !== (this.cons & OVF_BIT);
  }
  /** Hardware: toggle OVFLG unless an overflow is already pending. Returns whether it toggled. */
  flagOverflow(): boolean {
    if (this.overflowPending) return false;
    this.prod = (this.prod ^ OVF_BIT) >>> 0;
    return true;
  }
  /** Software: OVACKFLG := OVFLG. Returns whether an overflow was pending. */
  ackOverflow(): boolean {
    if (!this.overflowPending) return false;
    this.cons = ((this.cons & ~OVF_BIT) | (this.prod & OVF_BIT)) >>> 0;
    return true;
  }
  advanceProd(): void {
    this.prod = this.next(this.prod);
  }
  advanceCons(): void {
    this.cons = this.next(this.cons);
  }
}

export class SmmuPriq {
  readonly log2: number;
  /** Number of entries, 2^log2: all usable thanks to the wrap bit. */
  readonly entries: number;
  /** The queue memory, entries × 16 bytes, little-endian as the SMMU writes it. */
  readonly bytes: Uint8Array;
  readonly q: SmmuQueuePointers;
  /** Model-only bookkeeping per slot: the PCIe request's id and the device (not in the entry). */
  private readonly slotReq: Float64Array;
  private readonly slotDev: Int32Array;
  private readonly scratch: SmmuPriqEntry = emptyPriqEntry();
  highWater = 0;
  writes = 0;

  constructor(log2: number) {
    assert(
      Number.isInteger(log2) && log2 >= 1 && log2 <= 19,
      'SmmuPriq: log2 must be 1..19 (PRIQ holds up to 2^19 entries)',
    );
    this.log2 = log2;
    this.q = new SmmuQueuePointers(log2);
    this.entries = this.q.entries;
    this.bytes = new Uint8Array(this.entries * SMMU_PRIQ_ENT_SIZE);
    this.slotReq = new Float64Array(this.entries);
    this.slotDev = new Int32Array(this.entries);
  }

  get prod(): number {
    return this.q.prod;
  }
  get cons(): number {
    return this.q.cons;
  }
  isEmpty(): boolean {
    return this.q.isEmpty();
  }
  isFull(): boolean {
    return this.q.isFull();
  }
  get count(): number {
    return this.q.count;
  }
  get overflowPending(): boolean {
    return this.q.overflowPending;
  }
  flagOverflow(): boolean {
    return this.q.flagOverflow();
  }
  ackOverflow(): boolean {
    return this.q.ackOverflow();
  }

  /**
   * Hardware: write one entry at PROD and advance it. Returns false (nothing written) when full —
   * the caller applies the overflow rules.
   */
  write(entry: SmmuPriqEntry, reqId: number, dev: number): boolean {
    if (this.q.isFull()) return false;
    const slot = this.q.idx(this.q.prod);
    encodePriqEntryInto(entry, this.bytes, slot * SMMU_PRIQ_ENT_SIZE);
    this.slotReq[slot] = reqId;
    this.slotDev[slot] = dev;
    this.q.advanceProd();
    this.writes++;
    const n = this.q.count;
    if (n > this.highWater) this.highWater = n;
    return true;
  }

  /**
   * A raw 16-byte PRI queue entry written at PROD as the SMMU writes it (byte-level vectors).
   * Returns false when full.
   */
  writeRaw(bytes: Uint8Array, reqId: number, dev: number): boolean {
    assert(bytes.length === SMMU_PRIQ_ENT_SIZE, 'SmmuPriq.writeRaw: a PRI queue entry is 16 bytes');
    if (this.q.isFull()) return false;
    const slot = this.q.idx(this.q.prod);
    this.bytes.set(bytes, slot * SMMU_PRIQ_ENT_SIZE);
    this.slotReq[slot] = reqId;
    this.slotDev[slot] = dev;
    this.q.advanceProd();
    this.writes++;
    const n = this.q.count;
    if (n > this.highWater) this.highWater = n;
    return true;
  }

  /**
   * Software (queue_remove_raw): decode the entry at CONS into `out` and advance CONS. Returns the
   * model bookkeeping of the slot, or undefined when the queue is empty.
   */
  read(out: SmmuPriqEntry): { reqId: number; dev: number } | undefined {
    if (this.q.isEmpty()) return undefined;
    const slot = this.q.idx(this.q.cons);
    decodePriqEntryInto(this.bytes, slot * SMMU_PRIQ_ENT_SIZE, out);
    const meta = { reqId: this.slotReq[slot]!, dev: this.slotDev[slot]! };
    this.q.advanceCons();
    return meta;
  }

  /** Whether an unconsumed entry matches StreamID `sid` and SubstreamID `ssid` (-1: no SSV). */
  holds(sid: number, ssid: number): boolean {
    let c = this.q.cons;
    const n = this.q.count;
    const e = this.scratch;
    for (let i = 0; i < n; i++) {
      decodePriqEntryInto(this.bytes, this.q.idx(c) * SMMU_PRIQ_ENT_SIZE, e);
      if (e.sid === sid && (ssid < 0 ? !e.ssv : e.ssv && e.ssid === ssid)) return true;
      c = this.q.next(c);
    }
    return false;
  }
}
