import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AmdPprLog } from '../../../src/iommu/amd/ppr.js';
import {
  AmdPprFlag,
  decodePprLogEntry,
  emptyPprLogEntry,
  type AmdPprLogEntry,
} from '../../../src/iommu/amd/codec.js';

function entry(i: number, over: Partial<AmdPprLogEntry> = {}): AmdPprLogEntry {
  return {
    deviceId: 0x100,
    pasid: 1 + (i & 0xff),
    prgIndex: i & 0x1ff,
    last: (i & 1) === 1,
    flags: AmdPprFlag.GN | AmdPprFlag.READ | AmdPprFlag.US,
    type: 1,
    address: (0x1000 + i) * 4096,
    ...over,
  };
}

describe('AmdPprLog', () => {
  it('AMD.PPR.FULL_N_MINUS_1: a log of N entries holds N−1; head and tail are byte offsets', () => {
    const log = new AmdPprLog(8);
    for (let i = 0; i < 7; i++) expect(log.write(entry(i), i, 0)).toBe('written');
    expect(log.isFull()).toBe(true);
    expect(log.count).toBe(7);
    expect(log.tail).toBe(7 * 16);
    expect(log.head).toBe(0);
    expect(log.write(entry(7), 7, 0)).toBe('overflow');
    expect(log.overflow).toBe(true);
    expect(log.lost).toBe(1);
    expect(log.highWater).toBe(7);
  });

  it('AMD.PPR.OVERFLOW: while the overflow bit is set nothing is logged, even with free space', () => {
    const log = new AmdPprLog(8);
    for (let i = 0; i < 8; i++) log.write(entry(i), i, 0);
    const out = emptyPprLogEntry();
    expect(log.read(out)?.reqId).toBe(0);
    expect(log.isFull()).toBe(false);
    expect(log.write(entry(9), 9, 0)).toBe('stopped');
    expect(log.lost).toBe(2);
    expect(log.overflows).toBe(1);
    // Recovery: the driver drains, then restarts logging (clears the bit); writes resume.
    while (log.read(out) !== undefined);
    expect(log.restart()).toBe(true);
    expect(log.restart()).toBe(false);
    expect(log.write(entry(10), 10, 0)).toBe('written');
  });

  it('read() decodes at head, zeroes the slot and advances head modulo the log size', () => {
    const log = new AmdPprLog(8);
    const out = emptyPprLogEntry();
    for (let i = 0; i < 7; i++) {
      log.write(entry(i), i, 3);
      log.read(out);
    }
    log.write(entry(40, { last: true }), 40, 3);
    // Slot 7 (byte 112) holds the codec layout; writing wraps the tail to 0.
    expect(decodePprLogEntry(log.bytes, 112)).toEqual(entry(40, { last: true }));
    expect(log.tail).toBe(0);
    expect(log.read(out)).toEqual({ reqId: 40, dev: 3 });
    expect(out).toEqual(entry(40, { last: true }));
    expect(Array.from(log.bytes.subarray(112, 128)).every((b) => b === 0)).toBe(true);
    expect(log.head).toBe(0);
    expect(log.isEmpty()).toBe(true);
  });

  it('AMD.PPR.FULL_N_MINUS_1: matches a reference bounded FIFO (N−1) under any sequence', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 200 }),
        (n, ops) => {
          const log = new AmdPprLog(n);
          const ref: number[] = [];
          let overflow = false;
          let lost = 0;
          const out = emptyPprLogEntry();
          let next = 0;
          for (const op of ops) {
            if (op === 0) {
              const r = log.write(entry(next), next, 0);
              if (overflow) expect(r).toBe('stopped');
              else if (ref.length === n - 1) {
                expect(r).toBe('overflow');
                overflow = true;
              } else {
                expect(r).toBe('written');
                ref.push(next);
              }
              if (r !== 'written') lost++;
              next++;
            } else if (op === 1) {
              expect(log.read(out)?.reqId).toBe(ref.shift());
            } else {
              expect(log.restart()).toBe(overflow);
              overflow = false;
            }
            expect(log.count).toBe(ref.length);
            expect(log.lost).toBe(lost);
            expect(log.overflow).toBe(overflow);
          }
        },
      ),
    );
  });

  it('holds() finds unconsumed entries of a device and PASID', () => {
    const log = new AmdPprLog(8);
    log.write(entry(0, { pasid: 9 }), 0, 0);
    const s = emptyPprLogEntry();
    expect(log.holds(0x100, 9, s, AmdPprFlag.GN)).toBe(true);
    expect(log.holds(0x100, 8, s, AmdPprFlag.GN)).toBe(false);
    expect(log.holds(0x101, 9, s, AmdPprFlag.GN)).toBe(false);
    log.read(s);
    expect(log.holds(0x100, 9, s, AmdPprFlag.GN)).toBe(false);
  });
});
