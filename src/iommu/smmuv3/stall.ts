/**
 * The SMMUv3 stall model (pcie-iommu-hardware.md §3.2; SMMUv3 spec "Stall model", §4.7 CMD_RESUME /
 * CMD_STALL_TERM, ch. 7 event queue): a faulting transaction of a stall-enabled stream is held in
 * the SMMU and reported through the event queue with a stall tag (STAG). Software releases it with
 * CMD_RESUME (retry or abort) naming the STAG; CMD_STALL_TERM releases every stalled transaction of
 * a StreamID.
 *
 * Two structures, deliberately separate:
 * - the stalled-transaction table (by STAG): hardware state that is never lost while stall is
 *   enabled — a transaction leaves it only through CMD_RESUME or CMD_STALL_TERM (SMMU.STALL.ONE_RESUME);
 * - the event queue: a ring of 32-byte records with wrap bits and an overflow flag, like the PRI
 *   queue. A full event queue loses the *record* (SMMU.EVTQ.OVERFLOW) but not the stall: such a
 *   transaction stays held until CMD_STALL_TERM, since software never learns its STAG.
 */
import { assert } from '../../sim/assert.js';
import {
  SMMU_EVT_SIZE,
  decodeEventRecordInto,
  emptyEventRecord,
  encodeEventRecordInto,
  type SmmuEventRecord,
} from './codec.js';
import { SmmuQueuePointers } from './priq.js';

/** 16-bit STAG space. */
const STAG_SPACE = 1 << 16;

/** A transaction held in the SMMU (model view; the hardware keeps the transaction itself). */
export interface StalledTxn {
  stag: number;
  /** StreamID (= requester ID). */
  sid: number;
  /** Model device id. */
  dev: number;
  /** PASID of the transaction, or -1. */
  pasid: number;
  /** The PCIe-side PRG index the device model used for this one-page group. */
  prgi: number;
  reqId: number;
  /** PrFlag bits of the originating request. */
  flags: number;
  page: number;
  /** Virtual time the transaction stalled (ns). */
  since: number;
  /** Whether its event record reached the event queue (false: lost to overflow). */
  recorded: boolean;
}

export class SmmuStallUnit {
  /** Event queue pointers (PROD/CONS with wrap and overflow bits). */
  readonly q: SmmuQueuePointers;
  /** Event queue memory, entries × 32 bytes. */
  readonly bytes: Uint8Array;
  /** Model-only: the STAG's transaction id per event slot (to find dev/reqId of a record). */
  private readonly slotReq: Float64Array;
  private readonly slotDev: Int32Array;
  private readonly stalled = new Map<number, StalledTxn>();
  private nextStag = 0;
  private readonly scratch: SmmuEventRecord = emptyEventRecord();
  /** Counters for stats and tests. */
  stalls = 0;
  resumedRetry = 0;
  resumedAbort = 0;
  terminated = 0;
  /** Event records lost to a full event queue. */
  eventsLost = 0;
  /** CMD_RESUME naming a STAG that is not stalled (ignored by the SMMU). */
  unmatchedResumes = 0;
  heldNsTotal = 0;
  heldNsMax = 0;
  highWater = 0;

  constructor(evtqLog2: number) {
    this.q = new SmmuQueuePointers(evtqLog2);
    this.bytes = new Uint8Array(this.q.entries * SMMU_EVT_SIZE);
    this.slotReq = new Float64Array(this.q.entries);
    this.slotDev = new Int32Array(this.q.entries);
  }

  /** Transactions currently held. */
  get stalledCount(): number {
    return this.stalled.size;
  }

  /** The held transaction with this STAG, if any. */
  get(stag: number): StalledTxn | undefined {
    return this.stalled.get(stag);
  }

  /** A STAG not in use: 16 bits, unique while stalled; cycles so a freed STAG is not reused soon. */
  private allocStag(): number {
    assert(this.stalled.size < STAG_SPACE, 'SmmuStallUnit: all 65536 STAGs are stalled');
    let s = this.nextStag;
    while (this.stalled.has(s)) s = (s + 1) & (STAG_SPACE - 1);
    this.nextStag = (s + 1) & (STAG_SPACE - 1);
    return s;
  }

  /**
   * Hardware: hold a faulting transaction and try to record it. `rec` is filled with the STAG and
   * written to the event queue if there is room. Returns the transaction and whether the record was
   * written, and whether this loss toggled the overflow flag.
   */
  stall(
    txn: Omit<StalledTxn, 'stag' | 'recorded'>,
    rec: SmmuEventRecord,
  ): { txn: StalledTxn; written: boolean; overflowToggled: boolean } {
    const stag = this.allocStag();
    const t: StalledTxn = { ...txn, stag, recorded: false };
    this.stalled.set(stag, t);
    this.stalls++;
    rec.stag = stag;
    rec.stall = true;
    if (this.q.isFull()) {
      this.eventsLost++;
      return { txn: t, written: false, overflowToggled: this.q.flagOverflow() };
    }
    const slot = this.q.idx(this.q.prod);
    encodeEventRecordInto(rec, this.bytes, slot * SMMU_EVT_SIZE);
    this.slotReq[slot] = t.reqId;
    this.slotDev[slot] = t.dev;
    this.q.advanceProd();
    t.recorded = true;
    if (this.q.count > this.highWater) this.highWater = this.q.count;
    return { txn: t, written: true, overflowToggled: false };
  }

  /** Software (queue_remove_raw): decode the record at CONS and advance. Undefined when empty. */
  readEvent(out: SmmuEventRecord): { reqId: number; dev: number } | undefined {
    if (this.q.isEmpty()) return undefined;
    const slot = this.q.idx(this.q.cons);
    decodeEventRecordInto(this.bytes, slot * SMMU_EVT_SIZE, out);
    const meta = { reqId: this.slotReq[slot]!, dev: this.slotDev[slot]! };
    this.q.advanceCons();
    return meta;
  }

  private release(t: StalledTxn, now: number): void {
    this.stalled.delete(t.stag);
    const held = now - t.since;
    this.heldNsTotal += held;
    if (held > this.heldNsMax) this.heldNsMax = held;
  }

  /**
   * Hardware executes CMD_RESUME(sid, stag, action). Returns the released transaction, or undefined
   * when no transaction of that StreamID holds the STAG (the SMMU ignores such a command).
   */
  resume(sid: number, stag: number, retry: boolean, now: number): StalledTxn | undefined {
    const t = this.stalled.get(stag);
    if (t === undefined || t.sid !== sid) {
      this.unmatchedResumes++;
      return undefined;
    }
    this.release(t, now);
    if (retry) this.resumedRetry++;
    else this.resumedAbort++;
    return t;
  }

  /** Hardware executes CMD_STALL_TERM(sid): every stalled transaction of the stream is terminated. */
  terminateStream(sid: number, now: number): StalledTxn[] {
    const out: StalledTxn[] = [];
    for (const t of this.stalled.values()) if (t.sid === sid) out.push(t);
    for (const t of out) {
      this.release(t, now);
      this.terminated++;
    }
    return out;
  }

  /** Whether an unconsumed event record names StreamID `sid` and SubstreamID `ssid` (-1: none). */
  holdsEvent(sid: number, ssid: number): boolean {
    let c = this.q.cons;
    const n = this.q.count;
    const e = this.scratch;
    for (let i = 0; i < n; i++) {
      decodeEventRecordInto(this.bytes, this.q.idx(c) * SMMU_EVT_SIZE, e);
      if (e.sid === sid && (ssid < 0 ? !e.ssv : e.ssv && e.ssid === ssid)) return true;
      c = this.q.next(c);
    }
    return false;
  }
}
