import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SmmuPriq, SmmuQueuePointers } from '../../../src/iommu/smmuv3/priq.js';
import { decodePriqEntry, emptyPriqEntry, type SmmuPriqEntry } from '../../../src/iommu/smmuv3/codec.js';

function entry(i: number, over: Partial<SmmuPriqEntry> = {}): SmmuPriqEntry {
  return {
    sid: 0x100 + (i & 0xff),
    ssid: i & 0xfffff,
    ssv: true,
    priv: false,
    exec: false,
    read: true,
    write: (i & 1) === 1,
    last: (i & 2) === 2,
    prgIndex: i & 0x1ff,
    pageNum: 0x1000 + i,
    ...over,
  };
}

describe('SmmuPriq', () => {
  it('SMMU.PRIQ.WRAP_FULL: all 2^log2 entries are usable; full and empty differ only by the wrap bit', () => {
    const q = new SmmuPriq(3);
    expect(q.isEmpty()).toBe(true);
    for (let i = 0; i < 8; i++) expect(q.write(entry(i), 1000 + i, 7)).toBe(true);
    expect(q.isFull()).toBe(true);
    expect(q.count).toBe(8);
    // Same index, different wrap bit.
    expect(q.prod & 7).toBe(q.cons & 7);
    expect(q.prod & 8).not.toBe(q.cons & 8);
    expect(q.write(entry(99), 0, 0)).toBe(false);
    expect(q.highWater).toBe(8);
    const out = emptyPriqEntry();
    for (let i = 0; i < 8; i++) {
      const meta = q.read(out);
      expect(meta).toEqual({ reqId: 1000 + i, dev: 7 });
      expect(out).toEqual(entry(i));
    }
    expect(q.read(out)).toBeUndefined();
    expect(q.isEmpty()).toBe(true);
    // After one full lap both wrap bits are set and equal.
    expect(q.prod).toBe(8);
    expect(q.cons).toBe(8);
  });

  it('SMMU.PRIQ.WRAP_FULL: the queue memory holds the codec layout at the PROD slot', () => {
    const q = new SmmuPriq(2);
    const out = emptyPriqEntry();
    // Move the pointers to slot 3 first.
    for (let i = 0; i < 3; i++) {
      q.write(entry(i), i, 0);
      q.read(out);
    }
    q.write(entry(42), 42, 0);
    expect(decodePriqEntry(q.bytes, 3 * 16)).toEqual(entry(42));
    q.write(entry(43), 43, 0);
    // Wrapped to slot 0, wrap bit (bit 2) toggled.
    expect(decodePriqEntry(q.bytes, 0)).toEqual(entry(43));
    expect(q.prod).toBe(0b101);
  });

  it('SMMU.PRIQ.WRAP_FULL: matches a reference FIFO under any write/read sequence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.boolean(), { maxLength: 200 }), (log2, ops) => {
        const q = new SmmuPriq(log2);
        const ref: number[] = [];
        const out = emptyPriqEntry();
        let next = 0;
        for (const isWrite of ops) {
          if (isWrite) {
            const ok = q.write(entry(next), next, 0);
            expect(ok).toBe(ref.length < 1 << log2);
            if (ok) ref.push(next);
            next++;
          } else {
            const meta = q.read(out);
            const want = ref.shift();
            expect(meta?.reqId).toBe(want);
            if (want !== undefined) expect(out.pageNum).toBe(0x1000 + want);
          }
          expect(q.count).toBe(ref.length);
          expect(q.isEmpty()).toBe(ref.length === 0);
          expect(q.isFull()).toBe(ref.length === 1 << log2);
        }
      }),
    );
  });

  it('SMMU.PRIQ.OVERFLOW: OVFLG toggles once per unacknowledged overflow; CONS.OVACKFLG acknowledges', () => {
    const q = new SmmuPriq(1);
    q.write(entry(0), 0, 0);
    q.write(entry(1), 1, 0);
    expect(q.overflowPending).toBe(false);
    expect(q.flagOverflow()).toBe(true);
    expect(q.prod >>> 31).toBe(1);
    expect(q.overflowPending).toBe(true);
    // A second loss while pending does not toggle again.
    expect(q.flagOverflow()).toBe(false);
    expect(q.prod >>> 31).toBe(1);
    expect(q.ackOverflow()).toBe(true);
    expect(q.cons >>> 31).toBe(1);
    expect(q.overflowPending).toBe(false);
    expect(q.ackOverflow()).toBe(false);
    // The next overflow toggles OVFLG back to 0 (it is a toggle, not a set).
    expect(q.flagOverflow()).toBe(true);
    expect(q.prod >>> 31).toBe(0);
    expect(q.overflowPending).toBe(true);
    // The overflow bit does not disturb index/wrap arithmetic.
    expect(q.isFull()).toBe(true);
    expect(q.count).toBe(2);
  });

  it('holds() finds unconsumed entries by StreamID and SubstreamID', () => {
    const q = new SmmuPriq(2);
    q.write(entry(0, { sid: 5, ssid: 9 }), 0, 0);
    q.write(entry(1, { sid: 5, ssv: false, ssid: 0 }), 1, 0);
    expect(q.holds(5, 9)).toBe(true);
    expect(q.holds(5, -1)).toBe(true);
    expect(q.holds(5, 8)).toBe(false);
    expect(q.holds(6, 9)).toBe(false);
    q.read(emptyPriqEntry());
    expect(q.holds(5, 9)).toBe(false);
  });

  it('SmmuQueuePointers rejects sizes beyond 2^19', () => {
    expect(() => new SmmuQueuePointers(20)).toThrow();
    expect(() => new SmmuQueuePointers(0)).toThrow();
    expect(new SmmuQueuePointers(19).entries).toBe(1 << 19);
  });
});
