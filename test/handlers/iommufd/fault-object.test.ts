import { describe, it, expect } from 'vitest';
import { EBADF } from '../../../src/handlers/iommufd/fault-object.js';
import { decodePgfaults, encodePageResponses, PGFAULT_SIZE } from '../../../src/handlers/iommufd/abi.js';
import { RespCode } from '../../../src/iopf/types.js';
import { mkGroup, setup } from './helpers.js';

const ESPIPE = -29;
const EINVAL = -22;
const EFAULT = -14;
const EBUSY = -16;
const ENOENT = -2;
const REC = PGFAULT_SIZE;

describe('FaultObject read()', () => {
  it('IOMMUFD.READ.ESPIPE_OFFSET: a non-zero file position is -ESPIPE', () => {
    const { fo } = setup();
    fo.deliver(mkGroup(1, 1));
    expect(fo.read(REC, 40).result).toBe(ESPIPE);
    expect(fo.queued()).toHaveLength(1);
  });

  it('IOMMUFD.READ.ESPIPE_LENGTH: a length not a multiple of 40 is -ESPIPE', () => {
    const { fo } = setup();
    fo.deliver(mkGroup(1, 1));
    for (const len of [1, 8, 39, 41, 79]) expect(fo.read(len, 0).result).toBe(ESPIPE);
    expect(fo.counters.read).toBe(0);
    expect(fo.awaitingResponse()).toEqual([]);
  });

  it('IOMMUFD.READ.EMPTY: nothing queued or a zero-length buffer reads 0', () => {
    const { fo } = setup();
    expect(fo.read(400, 0)).toMatchObject({ result: 0, groups: [] });
    fo.deliver(mkGroup(1, 1));
    expect(fo.read(0, 0).result).toBe(0);
    expect(fo.queued()).toHaveLength(1);
  });

  it('IOMMUFD.READ.ZERO_WHEN_FIRST_DOES_NOT_FIT: a multiple-of-40 buffer too small for the first group returns 0', () => {
    const { fo } = setup();
    const g = mkGroup(1, 3);
    fo.deliver(g);
    const r = fo.read(2 * REC, 0);
    expect(r.result).toBe(0);
    expect(r.bytes.length).toBe(0);
    expect(fo.queued()).toEqual([g]);
    expect(fo.cookieOf(g)).toBeUndefined();
    expect(fo.pollReadable()).toBe(true);
  });

  it('IOMMUFD.READ.WHOLE_GROUPS: a partial read returns only whole groups, the rest stays at the head', () => {
    const { fo } = setup();
    const a = mkGroup(1, 1);
    const b = mkGroup(1, 2);
    const c = mkGroup(1, 1);
    [a, b, c].forEach((g) => fo.deliver(g));
    const r1 = fo.read(2 * REC, 0); // a fits, b (80 bytes) does not fit in the 40 left
    expect(r1.result).toBe(REC);
    expect(r1.groups.map((x) => x.group)).toEqual([a]);
    expect(fo.queued()).toEqual([b, c]);
    const r2 = fo.read(5 * REC, 0);
    expect(r2.result).toBe(3 * REC);
    expect(r2.groups.map((x) => x.group)).toEqual([b, c]);
    expect(fo.queued()).toEqual([]);
    expect(fo.pollReadable()).toBe(false);
  });

  it('IOMMUFD.READ.STOP_AT_NON_FITTING: reading stops at a group that does not fit even if a later one would', () => {
    const { fo } = setup();
    const a = mkGroup(1, 1);
    const big = mkGroup(1, 3);
    const small = mkGroup(1, 1);
    [a, big, small].forEach((g) => fo.deliver(g));
    const r = fo.read(2 * REC, 0);
    expect(r.groups.map((x) => x.group)).toEqual([a]);
    expect(fo.queued()).toEqual([big, small]);
  });

  it('IOMMUFD.READ.GROUP_ATOMICITY: every record of a group is copied, in order, all with its cookie and dev_id', () => {
    const { fo } = setup();
    const g = mkGroup(5, 3, 42);
    fo.deliver(g);
    const r = fo.read(3 * REC, 0);
    expect(r.result).toBe(3 * REC);
    const recs = decodePgfaults(r.bytes);
    expect(recs).toHaveLength(3);
    const cookie = fo.cookieOf(g);
    expect(cookie).toBe(1);
    recs.forEach((rec, i) => {
      const f = g.faults[i]!;
      expect(rec).toEqual({
        flags: f.flags,
        devId: 42,
        pasid: 5,
        grpid: f.grpid,
        perm: f.perm,
        reserved: 0,
        addr: BigInt(f.addr),
        length: 0,
        cookie,
      });
    });
    expect(recs[2]!.flags & 2).toBe(2); // LAST_PAGE on the last record only
    expect(recs[0]!.flags & 2).toBe(0);
  });

  it('IOMMUFD.READ.FIFO: groups come out in delivery order', () => {
    const { fo } = setup();
    const gs = [mkGroup(1, 1), mkGroup(2, 1), mkGroup(1, 1)];
    gs.forEach((g) => fo.deliver(g));
    expect(fo.read(10 * REC, 0).groups.map((x) => x.group)).toEqual(gs);
  });

  it('IOMMUFD.READ.EFAULT_PARTIAL: a copy fault in the second record of a 2-record group returns the 40 bytes of the first; the group goes back without its cookie (linux-iopf §12 item 7)', () => {
    const { fo } = setup();
    const g = mkGroup(1, 2);
    fo.deliver(g);
    const r = fo.read(2 * REC, 0, { userFaultAtRecord: 1 });
    expect(r.result).toBe(REC);
    expect(r.hung).toBe(false);
    expect(r.groups).toEqual([]);
    expect(decodePgfaults(r.bytes).map((x) => x.cookie)).toEqual([1]);
    expect(fo.queued()).toEqual([g]);
    expect(fo.awaitingResponse()).toEqual([]);
    // The cookie the partial record carries was released: answering it is -EINVAL.
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0)).toBe(EINVAL);
    expect(fo.read(4 * REC, 0).groups).toEqual([{ cookie: 1, group: g }]);
  });

  it('IOMMUFD.READ.EFAULT_LATER: a copy fault after whole groups returns their bytes and the records copied of the failing group', () => {
    const { fo } = setup();
    const a = mkGroup(1, 1);
    const b = mkGroup(1, 2);
    fo.deliver(a);
    fo.deliver(b);
    const r = fo.read(3 * REC, 0, { userFaultAtRecord: 2 });
    expect(r.result).toBe(2 * REC);
    expect(r.hung).toBe(false);
    expect(r.groups.map((x) => x.group)).toEqual([a]);
    expect(fo.queued()).toEqual([b]);
    expect(fo.awaitingResponse().map((x) => x.group)).toEqual([a]);
  });

  it('IOMMUFD.READ.EFAULT_RETRY_HANG: the kernel as read retries the group it put back; when it still fits, its first record faults again and read() never returns', () => {
    const { fo } = setup();
    const g = mkGroup(1, 2);
    fo.deliver(g);
    const r = fo.read(4 * REC, 0, { userFaultAtRecord: 1 });
    expect(r.hung).toBe(true);
    expect(r.result).toBe(REC);
    expect(fo.queued()).toEqual([g]);
    const one = mkGroup(1, 1);
    const { fo: fo2 } = setup();
    fo2.deliver(one);
    const r2 = fo2.read(REC, 0, { userFaultAtRecord: 0 });
    expect(r2.hung).toBe(true);
    expect(r2.result).toBe(EFAULT);
  });

  it("IOMMUFD.READ.EBUSY: a full response table stops reading with xa_alloc's -EBUSY, the group stays queued", () => {
    const { fo } = setup({ cookieLimit: 1 });
    const a = mkGroup(1, 1);
    const b = mkGroup(1, 1);
    fo.deliver(a);
    fo.deliver(b);
    expect(fo.read(REC * 2, 0).groups).toEqual([{ cookie: 1, group: a }]);
    expect(fo.read(REC * 2, 0).result).toBe(EBUSY);
    expect(fo.queued()).toEqual([b]);
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0)).toBe(8);
    expect(fo.read(REC * 2, 0).groups).toEqual([{ cookie: 1, group: b }]);
  });
});

describe('FaultObject cookies', () => {
  it('IOMMUFD.COOKIE.ALLOC_AT_READ: cookies are allocated at read, from 1, ascending', () => {
    const { fo } = setup();
    const gs = [mkGroup(1, 1), mkGroup(1, 2), mkGroup(1, 1)];
    gs.forEach((g) => fo.deliver(g));
    for (const g of gs) expect(fo.cookieOf(g)).toBeUndefined();
    const r = fo.read(10 * REC, 0);
    expect(r.groups.map((x) => x.cookie)).toEqual([1, 2, 3]);
  });

  it('IOMMUFD.COOKIE.FREED_ON_RESPONSE_REUSED_LOWEST: a response frees the cookie; the next read takes the lowest free one', () => {
    const { fo, host } = setup();
    const gs = [mkGroup(1, 1), mkGroup(1, 1), mkGroup(1, 1)];
    gs.forEach((g) => fo.deliver(g));
    fo.read(3 * REC, 0); // cookies 1, 2, 3
    expect(
      fo.write(
        encodePageResponses([
          { cookie: 3, code: 0 },
          { cookie: 1, code: 0 },
        ]),
        0,
      ),
    ).toBe(16);
    expect(host.responses.map((r) => r.group)).toEqual([gs[2], gs[0]]);
    expect(fo.cookieOf(gs[0]!)).toBeUndefined();
    const d = mkGroup(1, 1);
    const e = mkGroup(1, 1);
    const f = mkGroup(1, 1);
    [d, e, f].forEach((g) => fo.deliver(g));
    expect(fo.read(3 * REC, 0).groups.map((x) => x.cookie)).toEqual([1, 3, 4]);
  });
});

describe('FaultObject write()', () => {
  function readOne(n = 1) {
    const s = setup();
    const g = mkGroup(1, n);
    s.fo.deliver(g);
    s.fo.read(n * REC, 0);
    return { ...s, g };
  }

  it('IOMMUFD.WRITE.ANSWERS: a response answers the group through the core with its code', () => {
    const { fo, host, g } = readOne(2);
    expect(fo.write(encodePageResponses([{ cookie: 1, code: RespCode.SUCCESS }]), 0)).toBe(8);
    expect(host.responses).toEqual([{ group: g, code: RespCode.SUCCESS }]);
    expect(fo.counters.userAnswered).toBe(1);
    expect(fo.outstanding()).toBe(0);
  });

  it('IOMMUFD.WRITE.ESPIPE: a non-zero position or a length not a multiple of 8 is -ESPIPE', () => {
    const { fo, host } = readOne();
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 8)).toBe(ESPIPE);
    for (const len of [1, 7, 9, 12]) expect(fo.write(new Uint8Array(len), 0)).toBe(ESPIPE);
    expect(host.responses).toEqual([]);
  });

  it('IOMMUFD.WRITE.EMPTY: a zero-length write returns 0', () => {
    const { fo } = readOne();
    expect(fo.write(new Uint8Array(0), 0)).toBe(0);
  });

  it('IOMMUFD.WRITE.UNKNOWN_COOKIE: a cookie not in the table is -EINVAL (0 is never allocated)', () => {
    const { fo, host } = readOne();
    expect(fo.write(encodePageResponses([{ cookie: 2, code: 0 }]), 0)).toBe(EINVAL);
    expect(fo.write(encodePageResponses([{ cookie: 0, code: 0 }]), 0)).toBe(EINVAL);
    expect(host.responses).toEqual([]);
  });

  it('IOMMUFD.WRITE.BAD_CODE: a code other than SUCCESS/INVALID is -EINVAL and checked before the cookie, which stays valid', () => {
    const { fo, host, g } = readOne();
    for (const code of [2, 3, 0xffff_ffff]) {
      expect(fo.write(encodePageResponses([{ cookie: 1, code }]), 0)).toBe(EINVAL);
    }
    expect(fo.cookieOf(g)).toBe(1);
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 1 }]), 0)).toBe(8);
    expect(host.codeOf(g)).toBe(RespCode.INVALID);
  });

  it('IOMMUFD.WRITE.PARTIAL: records before an error stay done and the bytes consumed are returned', () => {
    const { fo, host } = setup();
    const gs = [mkGroup(1, 1), mkGroup(1, 1), mkGroup(1, 1)];
    gs.forEach((g) => fo.deliver(g));
    fo.read(3 * REC, 0);
    const n = fo.write(
      encodePageResponses([
        { cookie: 1, code: 0 },
        { cookie: 2, code: 1 },
        { cookie: 9, code: 0 },
        { cookie: 3, code: 0 },
      ]),
      0,
    );
    expect(n).toBe(16);
    expect(host.responses.map((r) => r.group)).toEqual([gs[0], gs[1]]);
    expect(fo.cookieOf(gs[2]!)).toBe(3);
  });

  it('IOMMUFD.WRITE.DUPLICATE_IN_ONE_WRITE: the second response to a cookie is -EINVAL after the first is done', () => {
    const { fo, host, g } = readOne();
    expect(
      fo.write(
        encodePageResponses([
          { cookie: 1, code: 0 },
          { cookie: 1, code: 0 },
        ]),
        0,
      ),
    ).toBe(8);
    expect(host.responses).toEqual([{ group: g, code: 0 }]);
  });

  it('IOMMUFD.WRITE.POSITIVE_COUNT: a fully accepted write returns its whole length', () => {
    const { fo } = setup();
    const gs = [mkGroup(1, 1), mkGroup(1, 1)];
    gs.forEach((g) => fo.deliver(g));
    fo.read(2 * REC, 0);
    expect(
      fo.write(
        encodePageResponses([
          { cookie: 2, code: 0 },
          { cookie: 1, code: 0 },
        ]),
        0,
      ),
    ).toBe(16);
  });

  it('IOMMUFD.WRITE.EFAULT: a failed copy from user space is -EFAULT, or the bytes done if some were', () => {
    const { fo, host, g } = readOne();
    const buf = encodePageResponses([{ cookie: 1, code: 0 }]);
    expect(fo.write(buf, 0, { userFaultAtRecord: 0 })).toBe(EFAULT);
    expect(host.responses).toEqual([]);
    const two = encodePageResponses([
      { cookie: 1, code: 0 },
      { cookie: 1, code: 0 },
    ]);
    expect(fo.write(two, 0, { userFaultAtRecord: 1 })).toBe(8);
    expect(host.codeOf(g)).toBe(RespCode.SUCCESS);
  });

  it('IOMMUFD.BUG.WRITE_COUNT: with iommufd-write-count a failed copy returns a positive count and answers nothing', () => {
    const { fo, host } = setup({ writeCountBug: true });
    const g = mkGroup(1, 1);
    fo.deliver(g);
    fo.read(REC, 0);
    const r = fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0, { userFaultAtRecord: 0 });
    expect(r).toBeGreaterThan(0);
    expect(r).toBe(8);
    expect(host.responses).toEqual([]);
    expect(fo.cookieOf(g)).toBe(1);
  });

  it('IOMMUFD.BUG.ACCEPTS_FAILURE: with iommufd-accepts-failure FAILURE reaches the core; other codes stay -EINVAL', () => {
    const { fo, host } = setup({ acceptsFailure: true });
    const g = mkGroup(1, 1);
    fo.deliver(g);
    fo.read(REC, 0);
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 3 }]), 0)).toBe(EINVAL);
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 2 }]), 0)).toBe(8);
    expect(host.responses).toEqual([{ group: g, code: RespCode.FAILURE }]);
    expect(fo.counters.answered.FAILURE).toBe(1);
  });
});

describe('FaultObject detach / replace', () => {
  it('IOMMUFD.DETACH.AUTO_RESPONSE_ORDER: every group of the attachment, queued or awaiting a response, is answered INVALID', () => {
    const { fo, host } = setup();
    const a1 = mkGroup(1, 1);
    const b1 = mkGroup(2, 1);
    const a2 = mkGroup(1, 2);
    const b2 = mkGroup(2, 1);
    const a3 = mkGroup(1, 1);
    [a1, b1, a2, b2].forEach((g) => fo.deliver(g));
    fo.read(3 * REC, 0); // a1 (cookie 1), b1 (cookie 2); a2 does not fit
    fo.deliver(a3);
    expect(fo.detach(1)).toBe(3);
    // Queued ones first, newest first (each moved to the head of a free list), then those
    // awaiting a response (cookie order) — linux-iopf §12 item 7.
    expect(host.responses).toEqual([
      { group: a3, code: RespCode.INVALID },
      { group: a2, code: RespCode.INVALID },
      { group: a1, code: RespCode.INVALID },
    ]);
    expect(fo.pendingGroups()).toEqual([b2, b1]);
    expect(fo.counters.autoAnswered).toBe(3);
    // The freed cookie is unknown to a late response.
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0)).toBe(EINVAL);
    expect(fo.detach(1)).toBe(0);
  });

  it("IOMMUFD.REPLACE.AUTO_RESPONSE: replace answers the old attachment's groups like detach", () => {
    const { fo, host } = setup();
    const a = mkGroup(4, 1);
    const b = mkGroup(5, 1);
    fo.deliver(a);
    fo.deliver(b);
    fo.read(REC, 0);
    expect(fo.replace(4)).toBe(1);
    expect(host.responses).toEqual([{ group: a, code: RespCode.INVALID }]);
    expect(fo.queued()).toEqual([b]);
  });
});

describe('FaultObject close / destroy', () => {
  it('IOMMUFD.CLOSE.ANSWERS_NOTHING: closing the fd answers nothing; read/write then fail with -EBADF', () => {
    const { fo, host } = setup();
    const a = mkGroup(1, 1);
    const b = mkGroup(1, 1);
    fo.deliver(a);
    fo.deliver(b);
    fo.read(REC, 0);
    expect(fo.close()).toBe(0);
    expect(host.responses).toEqual([]);
    expect(fo.outstanding()).toBe(2);
    expect(fo.read(REC, 0).result).toBe(-EBADF);
    expect(fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0)).toBe(-EBADF);
    expect(fo.close()).toBe(-EBADF);
    // The hwpt still exists: the handler keeps queueing.
    expect(fo.deliver(mkGroup(1, 1))).toBe(0);
    expect(fo.outstanding()).toBe(3);
  });

  it('IOMMUFD.DESTROY.BEFORE_CLOSE: destroy while the fd is open is -EBUSY and answers nothing', () => {
    const { fo, host } = setup();
    fo.deliver(mkGroup(1, 1));
    expect(fo.destroy()).toBe(EBUSY);
    expect(host.responses).toEqual([]);
    expect(fo.isDestroyed()).toBe(false);
  });

  it('IOMMUFD.DESTROY.HWPT_USER: destroy while a hwpt uses the object is -EBUSY', () => {
    const { fo } = setup();
    fo.addHwptUser();
    fo.close();
    expect(fo.destroy()).toBe(EBUSY);
    fo.removeHwptUser();
    expect(fo.destroy()).toBe(0);
  });

  it('IOMMUFD.DESTROY.AUTO_RESPONSE: destroy after close answers every remaining group INVALID', () => {
    const { fo, host } = setup();
    const a = mkGroup(1, 1);
    const b = mkGroup(2, 1);
    const c = mkGroup(3, 1);
    [a, b, c].forEach((g) => fo.deliver(g));
    fo.read(2 * REC, 0);
    fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0);
    fo.close();
    expect(fo.destroy()).toBe(0);
    expect(host.responses).toEqual([
      { group: a, code: RespCode.SUCCESS },
      { group: c, code: RespCode.INVALID },
      { group: b, code: RespCode.INVALID },
    ]);
    expect(fo.outstanding()).toBe(0);
    expect(fo.destroy()).toBe(ENOENT);
    expect(() => fo.deliver(mkGroup(1, 1))).toThrow();
    expect(() => fo.detach(1)).toThrow();
  });
});

describe('FaultObject poll and invariants', () => {
  it('IOMMUFD.POLL: always writable; readable while the deliver list is not empty', () => {
    const { fo } = setup();
    expect(fo.pollWritable()).toBe(true);
    expect(fo.pollReadable()).toBe(false);
    fo.deliver(mkGroup(1, 1));
    expect(fo.pollReadable()).toBe(true);
    fo.read(REC, 0);
    expect(fo.pollReadable()).toBe(false);
    expect(fo.pollWritable()).toBe(true);
  });

  it('IOMMUFD.DELIVER.NEVER_FAILS: the handler returns 0 and queues at the tail', () => {
    const { fo } = setup();
    const a = mkGroup(1, 1);
    const b = mkGroup(1, 1);
    expect(fo.deliver(a)).toBe(0);
    expect(fo.deliver(b)).toBe(0);
    expect(fo.queued()).toEqual([a, b]);
    expect(fo.counters.delivered).toBe(2);
  });

  it('IOMMUFD.ONCE: a group is never delivered twice or answered twice', () => {
    const { fo } = setup();
    const a = mkGroup(1, 1);
    fo.deliver(a);
    expect(() => fo.deliver(a)).toThrow(/twice/);
    fo.detach(1);
    expect(fo.isAnswered(a)).toBe(true);
    expect(fo.detach(1)).toBe(0);
    expect(() => fo.deliver(mkGroup(1, 0))).toThrow();
  });

  it('IOMMUFD.CONSERVATION: delivered = answered + outstanding', () => {
    const { fo } = setup();
    const gs = [mkGroup(1, 1), mkGroup(2, 2), mkGroup(1, 1), mkGroup(3, 1)];
    gs.forEach((g) => fo.deliver(g));
    fo.read(2 * REC, 0);
    fo.write(encodePageResponses([{ cookie: 1, code: 0 }]), 0);
    fo.detach(2);
    const c = fo.counters;
    const answered = c.answered.SUCCESS + c.answered.INVALID + c.answered.FAILURE;
    expect(answered).toBe(c.userAnswered + c.autoAnswered);
    expect(c.delivered).toBe(answered + fo.outstanding());
    expect(fo.pendingGroups()).toHaveLength(fo.outstanding());
  });
});
