/**
 * The AMD-Vi PPR log (pcie-iommu-hardware.md §4; AMD IOMMU spec "Peripheral Page Service Request
 * log"): a ring of `entries` × 16-byte entries in memory, with head and tail MMIO registers holding
 * *byte offsets* (Linux amd_iommu_poll_ppr_log advances head by PPRLOG_ENTRY_SIZE modulo the log
 * size). The IOMMU writes at tail, software consumes at head.
 *
 * Without a wrap bit, head == tail means empty, so the hardware can fill at most entries − 1 slots:
 * a write that would make tail catch up with head finds "no usable entry" and overflows. On
 * overflow the status register's PPR overflow bit is set and, while it is set, nothing more is
 * logged (the spec's text for the log overflow bits, quoted in Linux commit "iommu/amd: Recover
 * from event log overflow"); software restarts logging by clearing the bit (W1C) with the log
 * disabled and re-enabling it (amd_iommu_restart_log in drivers/iommu/amd/init.c).
 */
import { assert } from '../../sim/assert.js';
import {
  AMD_PPR_ENTRY_SIZE,
  decodePprLogEntryInto,
  encodePprLogEntryInto,
  type AmdPprLogEntry,
} from './codec.js';

export type PprWriteResult = 'written' | 'overflow' | 'stopped';

export class AmdPprLog {
  readonly entries: number;
  /** Log size in bytes (entries × 16). */
  readonly size: number;
  readonly bytes: Uint8Array;
  /** MMIO PPR log head (byte offset), written by software. */
  head = 0;
  /** MMIO PPR log tail (byte offset), written by the IOMMU. */
  tail = 0;
  /** Status register PPROverflow bit. */
  overflow = false;
  private readonly slotReq: Float64Array;
  private readonly slotDev: Int32Array;
  highWater = 0;
  writes = 0;
  /** Messages lost: at the moment of overflow and while the overflow bit stayed set. */
  lost = 0;
  overflows = 0;

  constructor(entries: number) {
    assert(Number.isInteger(entries) && entries >= 2, 'AmdPprLog: needs at least 2 entries');
    this.entries = entries;
    this.size = entries * AMD_PPR_ENTRY_SIZE;
    this.bytes = new Uint8Array(this.size);
    this.slotReq = new Float64Array(entries);
    this.slotDev = new Int32Array(entries);
  }

  isEmpty(): boolean {
    return this.head === this.tail;
  }

  /** No usable entry: one more write would make tail equal head. */
  isFull(): boolean {
    return (this.tail + AMD_PPR_ENTRY_SIZE) % this.size === this.head;
  }

  /** Entries logged and not yet consumed (0..entries − 1). */
  get count(): number {
    return ((this.tail - this.head + this.size) % this.size) / AMD_PPR_ENTRY_SIZE;
  }

  /**
   * Hardware: log one request. `overflow`: this write found the log full and set the overflow bit;
   * `stopped`: the overflow bit was already set, so logging is off. Both lose the request.
   */
  write(entry: AmdPprLogEntry, reqId: number, dev: number): PprWriteResult {
    if (this.overflow) {
      this.lost++;
      return 'stopped';
    }
    if (this.isFull()) {
      this.overflow = true;
      this.overflows++;
      this.lost++;
      return 'overflow';
    }
    const slot = this.tail / AMD_PPR_ENTRY_SIZE;
    encodePprLogEntryInto(entry, this.bytes, this.tail);
    this.slotReq[slot] = reqId;
    this.slotDev[slot] = dev;
    this.tail = (this.tail + AMD_PPR_ENTRY_SIZE) % this.size;
    this.writes++;
    if (this.count > this.highWater) this.highWater = this.count;
    return 'written';
  }

  /**
   * A raw 16-byte PPR log entry written at the tail as the IOMMU writes it (byte-level vectors).
   * Returns false when the log is full or stopped by an overflow.
   */
  writeRaw(bytes: Uint8Array, reqId: number, dev: number): boolean {
    assert(bytes.length === AMD_PPR_ENTRY_SIZE, 'AmdPprLog.writeRaw: a PPR log entry is 16 bytes');
    if (this.overflow || this.isFull()) return false;
    const slot = this.tail / AMD_PPR_ENTRY_SIZE;
    this.bytes.set(bytes, this.tail);
    this.slotReq[slot] = reqId;
    this.slotDev[slot] = dev;
    this.tail = (this.tail + AMD_PPR_ENTRY_SIZE) % this.size;
    this.writes++;
    if (this.count > this.highWater) this.highWater = this.count;
    return true;
  }

  /**
   * Software (amd_iommu_poll_ppr_log): copy the entry at head, zero it (the errata-733 check the
   * driver does on non-SNP systems), advance head. Undefined when empty.
   */
  read(out: AmdPprLogEntry): { reqId: number; dev: number } | undefined {
    if (this.isEmpty()) return undefined;
    const slot = this.head / AMD_PPR_ENTRY_SIZE;
    decodePprLogEntryInto(this.bytes, this.head, out);
    this.bytes.fill(0, this.head, this.head + AMD_PPR_ENTRY_SIZE);
    const meta = { reqId: this.slotReq[slot]!, dev: this.slotDev[slot]! };
    this.head = (this.head + AMD_PPR_ENTRY_SIZE) % this.size;
    return meta;
  }

  /**
   * Software (amd_iommu_restart_ppr_log): if logging stopped on overflow, clear the overflow bit and
   * re-enable logging. Returns whether it restarted.
   */
  restart(): boolean {
    if (!this.overflow) return false;
    this.overflow = false;
    return true;
  }

  /** Whether an unconsumed entry names device ID `devId` and PASID `pasid` (with GN). */
  holds(devId: number, pasid: number, scratch: AmdPprLogEntry, gnFlag: number): boolean {
    let h = this.head;
    while (h !== this.tail) {
      decodePprLogEntryInto(this.bytes, h, scratch);
      if (
        scratch.deviceId === devId &&
        (pasid < 0
          ? (scratch.flags & gnFlag) === 0
          : (scratch.flags & gnFlag) !== 0 && scratch.pasid === pasid)
      ) {
        return true;
      }
      h = (h + AMD_PPR_ENTRY_SIZE) % this.size;
    }
    return false;
  }
}
