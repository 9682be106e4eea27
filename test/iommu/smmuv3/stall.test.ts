import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SmmuStallUnit, type StalledTxn } from '../../../src/iommu/smmuv3/stall.js';
import { decodeEventRecord, emptyEventRecord } from '../../../src/iommu/smmuv3/codec.js';

function txn(i: number, sid = 0x10, since = 0): Omit<StalledTxn, 'stag' | 'recorded'> {
  return { sid, dev: 0, pasid: 3, prgi: i & 0x1ff, reqId: i, flags: 5, page: 0x100 + i, since };
}

function rec() {
  const r = emptyEventRecord();
  r.eventId = 0x10;
  r.sid = 0x10;
  r.ssv = true;
  r.ssid = 3;
  return r;
}

describe('SmmuStallUnit', () => {
  it('records a stalled event with STALL and its STAG in the event queue', () => {
    const u = new SmmuStallUnit(3);
    const r = u.stall(txn(1), rec());
    expect(r.written).toBe(true);
    const e = decodeEventRecord(u.bytes, 0);
    expect(e.stall).toBe(true);
    expect(e.stag).toBe(r.txn.stag);
    const out = emptyEventRecord();
    expect(u.readEvent(out)).toEqual({ reqId: 1, dev: 0 });
    expect(out.stag).toBe(r.txn.stag);
    expect(u.readEvent(out)).toBeUndefined();
  });

  it('SMMU.STALL.ONE_RESUME: a STAG is released once; a second CMD_RESUME or a wrong StreamID is ignored', () => {
    const u = new SmmuStallUnit(3);
    const a = u.stall(txn(1), rec()).txn;
    const b = u.stall(txn(2), rec()).txn;
    expect(a.stag).not.toBe(b.stag);
    expect(u.resume(0x99, a.stag, true, 10)).toBeUndefined();
    expect(u.resume(0x10, a.stag, true, 10)).toBe(a);
    expect(u.resume(0x10, a.stag, true, 20)).toBeUndefined();
    expect(u.resume(0x10, b.stag, false, 20)).toBe(b);
    expect(u.resumedRetry).toBe(1);
    expect(u.resumedAbort).toBe(1);
    expect(u.unmatchedResumes).toBe(2);
    expect(u.stalledCount).toBe(0);
  });

  it('SMMU.STALL.ONE_RESUME: STAGs are 16-bit and unique among held transactions', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 300 }), (ops) => {
        const u = new SmmuStallUnit(10);
        const held: number[] = [];
        let i = 0;
        for (const op of ops) {
          if (op < 6 || held.length === 0) {
            const t = u.stall(txn(i++), rec()).txn;
            expect(t.stag).toBeGreaterThanOrEqual(0);
            expect(t.stag).toBeLessThan(1 << 16);
            expect(held).not.toContain(t.stag);
            held.push(t.stag);
          } else {
            const stag = held.splice(op % held.length, 1)[0]!;
            expect(u.resume(0x10, stag, true, 0)?.stag).toBe(stag);
          }
          expect(u.stalledCount).toBe(held.length);
        }
      }),
    );
  });

  it('SMMU.EVTQ.OVERFLOW: a full event queue loses the record but never the stall; only STALL_TERM releases it', () => {
    const u = new SmmuStallUnit(1);
    const r1 = u.stall(txn(1), rec());
    const r2 = u.stall(txn(2), rec());
    const r3 = u.stall(txn(3), rec());
    const r4 = u.stall(txn(4), rec());
    expect([r1.written, r2.written, r3.written, r4.written]).toEqual([true, true, false, false]);
    expect(r3.overflowToggled).toBe(true);
    expect(r4.overflowToggled).toBe(false);
    expect(u.eventsLost).toBe(2);
    expect(u.stalledCount).toBe(4);
    expect(r3.txn.recorded).toBe(false);
    // Software drains the two records it can see and resumes them.
    const out = emptyEventRecord();
    while (u.readEvent(out) !== undefined) u.resume(0x10, out.stag, true, 5);
    expect(u.stalledCount).toBe(2);
    expect(u.q.ackOverflow()).toBe(true);
    // The lost ones are still held; CMD_STALL_TERM of the stream releases them.
    const term = u.terminateStream(0x10, 9);
    expect(term.map((t) => t.reqId).sort()).toEqual([3, 4]);
    expect(u.terminated).toBe(2);
    expect(u.stalledCount).toBe(0);
  });

  it('SMMU.STALL.HOLDS: held time is accounted on release', () => {
    const u = new SmmuStallUnit(3);
    const a = u.stall(txn(1, 0x10, 100), rec()).txn;
    const b = u.stall(txn(2, 0x10, 150), rec()).txn;
    u.resume(0x10, a.stag, true, 1100);
    u.terminateStream(0x10, 5150);
    expect(b.stag).not.toBe(a.stag);
    expect(u.heldNsTotal).toBe(1000 + 5000);
    expect(u.heldNsMax).toBe(5000);
  });

  it('holdsEvent() sees unconsumed records of a SubstreamID', () => {
    const u = new SmmuStallUnit(2);
    u.stall(txn(1), rec());
    expect(u.holdsEvent(0x10, 3)).toBe(true);
    expect(u.holdsEvent(0x10, 4)).toBe(false);
    u.readEvent(emptyEventRecord());
    expect(u.holdsEvent(0x10, 3)).toBe(false);
  });
});
