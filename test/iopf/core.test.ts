import { describe, it, expect } from 'vitest';
import { FakeDriver, HoldingDomain, handleFor, makeHarness, mkFault, type Harness } from './harness.js';
import { REPORT_PENDING, ReportFlag, type IopfQueue } from '../../src/iopf/core.js';
import type { GroupWork, IopfDomain, IopfGroup } from '../../src/iopf/group.js';
import { RespCode } from '../../src/iopf/types.js';
import { PartialFree, RespSource, TraceKind } from '../../src/trace/events.js';
import { err, type KResult } from '../../src/sim/errno.js';

/** A domain whose handler queues the group on the workqueue and answers SUCCESS after `ns`. */
class WqDomain implements IopfDomain, GroupWork {
  readonly type = 'wq';
  readonly id = 7;
  readonly iopfHandler: (g: IopfGroup) => KResult;
  /** Like SVA's: in v6.7 the core's iopf_handler work runs it in place. */
  readonly work: GroupWork = this;
  private readonly kind: number;
  started = 0;
  constructor(h: Harness, ns = 5000) {
    this.kind = h.sim.registerKind('test:wq-finish', (_a, _b, p) => {
      const g = p as IopfGroup;
      const wq = g.param.queue.wq;
      h.core.groupResponse(g, RespCode.SUCCESS);
      h.core.freeGroup(g);
      wq.done(g.worker);
    });
    this.iopfHandler = (g) => {
      g.work = this;
      return g.param.queue.wq.queueWork(g) ? 0 : err('EBUSY');
    };
    this.ns = ns;
    this.h = h;
  }
  private readonly ns: number;
  private readonly h: Harness;
  runGroup(g: IopfGroup, worker: number): void {
    this.started++;
    g.worker = worker;
    this.h.sim.after(this.ns, this.kind, 0, 0, g);
  }
}

function setup(opts: Parameters<typeof makeHarness>[0] = {}): { h: Harness; q: IopfQueue; drv: FakeDriver; dom: HoldingDomain } {
  const h = makeHarness(opts);
  const q = h.core.queueAlloc('dmar0', 2);
  const drv = new FakeDriver();
  expect(h.core.addDevice(q, 0, drv)).toBe(0);
  const dom = new HoldingDomain();
  expect(h.core.attach(0, 1, handleFor(dom))).toBe(0);
  return { h, q, drv, dom };
}

function conserved(h: Harness): void {
  const s = h.core.stats;
  expect(s.reported).toBe(s.answeredFaults + s.droppedFaults + h.core.pendingFaults());
}

describe('iopf core: reporting (§3)', () => {
  it('report: a non-last fault goes on the partial list and is not answered', () => {
    const { h, drv } = setup();
    const f = mkFault({ last: false });
    expect(h.core.reportDeviceFault(0, f)).toBe(0);
    expect(h.core.partialFaults(0)).toEqual([f]);
    expect(drv.sent).toHaveLength(0);
    expect(h.rec.of(TraceKind.PARTIAL_ADD)).toHaveLength(1);
    expect(h.core.faultParam(0)!.users).toBe(1); // the reporter's reference was dropped
    conserved(h);
  });

  it("report: last page gathers only its own group's partial faults", () => {
    const { h, dom } = setup();
    const a1 = mkFault({ grpid: 1, last: false });
    const b1 = mkFault({ grpid: 2, last: false });
    const a2 = mkFault({ grpid: 1, last: false });
    const al = mkFault({ grpid: 1 });
    for (const f of [a1, b1, a2, al]) expect(h.core.reportDeviceFault(0, f)).toBe(0);
    expect(dom.groups).toHaveLength(1);
    const g = dom.groups[0]!;
    expect(g.faults).toEqual([a1, a2, al]); // partials in arrival order, last at the end
    expect(h.core.partialFaults(0)).toEqual([b1]);
    const form = h.rec.of(TraceKind.GROUP_FORM)[0]!;
    expect(form.f).toEqual([0, 1, 1, al.reqId, 3, 0]);
    conserved(h);
  });

  it('report: a group gathers the partials of its own PRG only — same grpid and PASID (contract)', () => {
    const { h, dom } = setup();
    h.core.attach(0, 2, handleFor(new HoldingDomain()));
    const other = mkFault({ pasid: 2, grpid: 5, last: false });
    const own = mkFault({ pasid: 1, grpid: 5, last: false });
    const last = mkFault({ pasid: 1, grpid: 5 });
    for (const f of [other, own, last]) expect(h.core.reportDeviceFault(0, f)).toBe(0);
    expect(dom.groups[0]!.faults).toEqual([own, last]);
    expect(h.core.partialFaults(0)).toEqual([other]);
    expect(h.rec.of(TraceKind.GROUP_FORM)[0]!.f[4]).toBe(2);
    conserved(h);
  });

  it('report with bug gather-ignores-pasid: partials of another PASID with the same grpid are merged (observation b)', () => {
    const { h, dom } = setup({ bugs: ['gather-ignores-pasid'] });
    h.core.attach(0, 2, handleFor(new HoldingDomain()));
    const other = mkFault({ pasid: 2, grpid: 5, last: false });
    const last = mkFault({ pasid: 1, grpid: 5 });
    h.core.reportDeviceFault(0, other);
    h.core.reportDeviceFault(0, last);
    expect(dom.groups[0]!.faults).toEqual([other, last]);
    expect(h.core.partialFaults(0)).toHaveLength(0);
  });

  it("report: the error response to a handler-less PRG frees that PRG's partials, not another PASID's with its grpid", () => {
    const { h, drv } = setup();
    h.core.attach(0, 2, handleFor(new HoldingDomain()));
    const own = mkFault({ pasid: 1, grpid: 6, last: false });
    const other = mkFault({ pasid: 2, grpid: 6, last: false });
    for (const f of [own, other]) expect(h.core.reportDeviceFault(0, f)).toBe(0);
    // PASID 1 loses its handler (a replace onto a domain without one) before its last request.
    h.core.detach(0, 1);
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 1, grpid: 6 }))).toBe(err('EINVAL'));
    expect(drv.sent).toHaveLength(1);
    expect(h.core.partialFaults(0)).toEqual([other]);
    const freed = h.rec.of(TraceKind.PARTIAL_FREE);
    expect(freed.map((e) => [e.f[1], e.f[4]])).toEqual([[1, PartialFree.ANSWERED]]);
    conserved(h);
  });

  it('report with bug gather-ignores-pasid: the error response leaves the PRG\'s partials listed', () => {
    const { h } = setup({ bugs: ['gather-ignores-pasid'] });
    const own = mkFault({ pasid: 1, grpid: 6, last: false });
    expect(h.core.reportDeviceFault(0, own)).toBe(0);
    h.core.detach(0, 1);
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 1, grpid: 6 }))).toBe(err('EINVAL'));
    expect(h.core.partialFaults(0)).toEqual([own]);
    expect(h.rec.of(TraceKind.PARTIAL_FREE)).toHaveLength(0);
  });

  it("response: a late answer is traced with the 9-bit PRG index, also for AMD's 10-bit grpid (bug amd-grpid-last-bit: the last bit above it)", () => {
    const { h, dom } = setup();
    expect(h.core.reportDeviceFault(0, mkFault({ grpid: 0x205 }))).toBe(0);
    const g = dom.groups[0]!;
    h.core.groupResponse(g, RespCode.SUCCESS);
    h.core.groupResponse(g, RespCode.SUCCESS); // late: the group is no longer pending
    const sent = h.rec.of(TraceKind.RESPONSE_SEND);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent[sent.length - 1]!.f[2]).toBe(5);
  });

  it('report: a group is linked pending and the group holds a reference on the fault parameters', () => {
    const { h, dom } = setup();
    h.core.reportDeviceFault(0, mkFault());
    const g = dom.groups[0]!;
    expect(g.pendingLinked).toBe(true);
    expect(h.core.pendingGroups(0)).toEqual([g]);
    expect(h.core.faultParam(0)!.users).toBe(2);
    h.core.groupResponse(g, RespCode.SUCCESS);
    h.core.freeGroup(g);
    expect(h.core.faultParam(0)!.users).toBe(1);
    conserved(h);
  });

  it('report: no handler answers INVALID for the last request only by default (non-last dropped)', () => {
    const { h, drv } = setup();
    const p = mkFault({ pasid: 9, last: false });
    const l = mkFault({ pasid: 9 });
    expect(h.core.reportDeviceFault(0, p)).toBe(err('EINVAL'));
    expect(h.core.reportDeviceFault(0, l)).toBe(err('EINVAL'));
    expect(drv.sent).toHaveLength(1);
    expect(drv.sent[0]!.resp).toEqual({ pasid: 9, grpid: 1, code: RespCode.INVALID });
    expect(drv.sent[0]!.source).toBe(RespSource.REPORT_ERROR);
    expect(h.core.partialFaults(0)).toHaveLength(0);
    conserved(h);
  });

  it('report: no handler answers INVALID per request with bug error-response-per-request (observation a)', () => {
    const { h, drv } = setup({ bugs: ['error-response-per-request'] });
    h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 3, last: false }));
    h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 3, last: false }));
    h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 3 }));
    // Three responses for one PRG index.
    expect(drv.sent.filter((s) => s.resp.grpid === 3)).toHaveLength(3);
    conserved(h);
  });

  it('report: a domain without an iopf handler counts as no handler', () => {
    const { h, drv } = setup();
    h.core.attach(0, 4, handleFor({ id: 1, type: 'paging' }));
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 4 }))).toBe(err('EINVAL'));
    expect(drv.sent[0]!.resp.code).toBe(RespCode.INVALID);
  });

  it('report: a fault without PASID goes to the handle attached without PASID', () => {
    const { h, dom } = setup();
    const np = new HoldingDomain(5);
    h.core.attach(0, -1, handleFor(np));
    h.core.reportDeviceFault(0, mkFault({ pasid: null }));
    expect(np.groups).toHaveLength(1);
    expect(dom.groups).toHaveLength(0);
    expect(h.rec.of(TraceKind.GROUP_FORM)[0]!.f[1]).toBe(-1);
  });

  it('report: a PASID fault falls back to a nested no-PASID domain when the driver keeps a user PASID table', () => {
    const { h, drv } = setup();
    const nested = new HoldingDomain(6, true);
    h.core.attach(0, -1, handleFor(nested));
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 33 }))).toBe(err('EINVAL'));
    expect(drv.sent).toHaveLength(1);
    h.core.setUserPasidTable(0, true);
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 33 }))).toBe(0);
    expect(nested.groups).toHaveLength(1);
  });

  it('report: without fault parameters the fault gets an error response and -EINVAL', () => {
    const h = makeHarness();
    const drv = new FakeDriver();
    h.core.setDriverOps(3, drv);
    h.core.attach(3, 1, handleFor(new HoldingDomain()));
    expect(h.core.reportDeviceFault(3, mkFault({ dev: 3 }))).toBe(err('EINVAL'));
    expect(drv.sent).toHaveLength(1);
    expect(h.env.metrics.get('iopf.warn.no_fault_param')).toBe(1);
  });

  it('report: a handler that refuses the group aborts it with FAILURE and frees it', () => {
    const { h, dom, drv } = setup();
    dom.result = err('EBUSY');
    const p = mkFault({ last: false });
    const l = mkFault();
    h.core.reportDeviceFault(0, p);
    expect(h.core.reportDeviceFault(0, l)).toBe(0);
    expect(drv.sent).toHaveLength(1);
    expect(drv.sent[0]!.resp.code).toBe(RespCode.FAILURE);
    expect(drv.sent[0]!.source).toBe(RespSource.ABORT);
    expect(h.core.pendingGroups(0)).toHaveLength(0);
    expect(h.core.faultParam(0)!.users).toBe(1);
    conserved(h);
  });

  it('report: allocation failure of a non-last fault loses it (-ENOMEM, no response)', () => {
    const { h, drv } = setup({ faults: { alloc_failure: 1 } });
    const f = mkFault({ last: false });
    expect(h.core.reportDeviceFault(0, f)).toBe(err('ENOMEM'));
    expect(drv.sent).toHaveLength(0);
    expect(h.core.partialFaults(0)).toHaveLength(0);
    const pf = h.rec.of(TraceKind.PARTIAL_FREE)[0]!;
    expect(pf.f[3]).toBe(f.reqId);
    expect(pf.f[4]).toBe(PartialFree.ENOMEM);
    expect(h.core.faultParam(0)!.users).toBe(1);
    conserved(h);
  });

  it('report: allocation failure of the last fault uses the abort group, answered FAILURE with its partials', () => {
    const h = makeHarness({ faults: { alloc_failure: '1/2' }, seed: 3 });
    const q = h.core.queueAlloc('q', 1);
    const drv = new FakeDriver();
    h.core.addDevice(q, 0, drv);
    const dom = new HoldingDomain();
    h.core.attach(0, 1, handleFor(dom));
    // Report until one last fault hits the failure; partials that fail are lost, others join.
    let aborted = false;
    for (let i = 0; i < 40 && !aborted; i++) {
      h.core.reportDeviceFault(0, mkFault({ grpid: i, last: false }));
      h.core.reportDeviceFault(0, mkFault({ grpid: i }));
      aborted = h.core.stats.abortedGroups > 0;
    }
    expect(aborted).toBe(true);
    const form = h.rec.of(TraceKind.GROUP_FORM).find((r) => r.f[5] === 1)!;
    const resp = drv.sent.find((s) => s.fault.reqId === form.f[3])!;
    expect(resp.resp.code).toBe(RespCode.FAILURE);
    expect(h.core.partialFaults(0).filter((f) => f.grpid === form.f[2])).toHaveLength(0);
    conserved(h);
  });

  it('DRIVER_ANSWERS_REPORT_ERRORS (v6.9): non-last requests of a handler-less PASID go on the partial list; the last frees them, -EINVAL, no core response', () => {
    const { h, drv } = setup({ kernel: 'v6.9' });
    expect(h.core.reportAnswersErrors).toBe(false);
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 4, last: false }))).toBe(0);
    expect(h.core.partialFaults(0)).toHaveLength(1);
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 4 }))).toBe(err('EINVAL'));
    expect(h.core.partialFaults(0)).toHaveLength(0);
    expect(drv.sent).toHaveLength(0);
    conserved(h);
  });

  it('LOOKUP_IN_WORK (v6.7): no domain lookup at report — a last request of a PASID with nothing attached is queued (0); its work finds no domain and answers INVALID through the pending copy', () => {
    const { h, drv } = setup({ kernel: 'v6.7' });
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 4, last: false }))).toBe(0);
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 9, grpid: 4 }))).toBe(0);
    expect(h.core.partialFaults(0)).toHaveLength(0); // gathered into the group
    expect(h.core.pendingGroups(0)).toHaveLength(1);
    expect(drv.sent).toHaveLength(0);
    h.sim.run();
    expect(drv.sent).toHaveLength(1);
    expect(drv.sent[0]!.resp.code).toBe(RespCode.INVALID);
    expect(drv.sent[0]!.source).toBe(RespSource.GROUP);
    expect(h.core.pendingGroups(0)).toHaveLength(0);
    expect(h.env.metrics.get('iopf.work_no_domain')).toBe(1);
    conserved(h);
  });

  it('LOOKUP_IN_WORK (v6.7): the work uses the domain attached when it runs, not the one attached at report', () => {
    const { h, dom } = setup({ kernel: 'v6.7' });
    expect(h.core.reportDeviceFault(0, mkFault({ pasid: 1, grpid: 2 }))).toBe(0);
    expect(dom.groups).toHaveLength(0); // nothing looked up yet
    const later = new HoldingDomain(7);
    h.core.detach(0, 1);
    h.core.attach(0, 1, handleFor(later));
    h.sim.run();
    expect(dom.groups).toHaveLength(0);
    expect(later.groups).toHaveLength(1);
    expect(later.groups[0]!.handle.domain).toBe(later);
  });

  it('v6.7 report: group allocation failure returns -ENOMEM and frees the partials of the grpid', () => {
    // alloc draws: partial (ok), pending copy (ok), group (fail): search a seed where that happens.
    for (let seed = 1; seed < 200; seed++) {
      const { h } = setup({ kernel: 'v6.7', faults: { alloc_failure: '1/2' }, seed });
      const r1 = h.core.reportDeviceFault(0, mkFault({ grpid: 2, last: false }));
      if (r1 !== 0) continue;
      const r2 = h.core.reportDeviceFault(0, mkFault({ grpid: 2 }));
      if (r2 === err('ENOMEM') && h.rec.of(TraceKind.PARTIAL_FREE).length === 1) {
        expect(h.core.partialFaults(0)).toHaveLength(0);
        expect(h.rec.of(TraceKind.PARTIAL_FREE)[0]!.f[4]).toBe(PartialFree.ENOMEM);
        conserved(h);
        return;
      }
    }
    throw new Error('no seed produced a group allocation failure');
  });

  it('report: the FAULT_REPORT event carries the result', () => {
    const { h } = setup();
    const f = mkFault({ pasid: 8 });
    h.core.reportDeviceFault(0, f);
    const ev = h.rec.of(TraceKind.FAULT_REPORT)[0]!;
    expect(ev.f.slice(0, 5)).toEqual([0, 8, 1, f.reqId, err('EINVAL')]);
  });
});

describe('iopf core: answering (§4)', () => {
  it("group response: answers through the driver with the group's last fault", () => {
    const { h, dom, drv } = setup();
    const l = mkFault({ grpid: 7 });
    h.core.reportDeviceFault(0, mkFault({ grpid: 7, last: false }));
    h.core.reportDeviceFault(0, l);
    expect(h.core.groupResponse(dom.groups[0]!, RespCode.SUCCESS)).toBe(0);
    expect(drv.sent).toHaveLength(1);
    expect(drv.sent[0]!.fault).toBe(l);
    expect(drv.sent[0]!.resp).toEqual({ pasid: 1, grpid: 7, code: RespCode.SUCCESS });
    expect(drv.sent[0]!.source).toBe(RespSource.GROUP);
    conserved(h);
  });

  it('group response twice: second is rejected', () => {
    const { h, dom, drv } = setup();
    h.core.reportDeviceFault(0, mkFault());
    const g = dom.groups[0]!;
    h.core.groupResponse(g, RespCode.SUCCESS);
    expect(h.core.groupResponse(g, RespCode.INVALID)).toBe(0); // mainline: silently nothing
    expect(drv.sent).toHaveLength(1);
    expect(h.core.stats.lateResponses).toBe(1);
  });

  it('group response after the flush answered it: no-op in mainline, -EINVAL with bug no-pending-warning-response', () => {
    for (const bugs of [[], ['no-pending-warning-response']]) {
      const { h, dom, drv } = setup({ bugs });
      h.core.reportDeviceFault(0, mkFault());
      h.core.flushDev(0, 1, h.cont());
      h.sim.run();
      expect(drv.sent).toHaveLength(1);
      const rc = h.core.groupResponse(dom.groups[0]!, RespCode.SUCCESS);
      expect(rc).toBe(bugs.length === 0 ? 0 : err('EINVAL'));
      expect(drv.sent).toHaveLength(1);
    }
  });

  it("PENDING_COPIES (v6.9): group response with no pending copy is 'no pending PRQ', -EINVAL", () => {
    const { h, dom, drv } = setup({ kernel: 'v6.9' });
    h.core.reportDeviceFault(0, mkFault());
    const g = dom.groups[0]!;
    expect(h.core.groupResponse(g, RespCode.SUCCESS)).toBe(0);
    expect(h.core.groupResponse(g, RespCode.SUCCESS)).toBe(err('EINVAL'));
    expect(drv.sent).toHaveLength(1);
    expect(h.env.metrics.get('iopf.warn.no_pending_prq')).toBe(1);
  });

  it("PENDING_COPIES (v6.9): without 'response needs PASID' the search matches by grpid and may answer another group", () => {
    const { h, drv } = setup({ kernel: 'v6.9' });
    const d2 = new HoldingDomain(2);
    h.core.attach(0, 2, handleFor(d2));
    const a = mkFault({ pasid: 1, grpid: 5, needsPasid: false });
    const b = mkFault({ pasid: 2, grpid: 5, needsPasid: false });
    h.core.reportDeviceFault(0, a);
    h.core.reportDeviceFault(0, b);
    const gb = d2.groups[0]!;
    h.core.groupResponse(gb, RespCode.SUCCESS);
    // B's answer consumed A's pending copy (the first with grpid 5), with the PASID cleared.
    expect(drv.sent[0]!.fault).toBe(a);
    expect(drv.sent[0]!.resp.pasid).toBe(0);
    expect(h.core.pendingGroups(0)).toEqual([gb]);
  });
});

describe('iopf core: flushing (§5)', () => {
  it('flush(dev, pasid): pending groups of that PASID answered INVALID, others untouched', () => {
    const { h, drv } = setup();
    h.core.attach(0, 2, handleFor(new HoldingDomain(2)));
    const a = mkFault({ pasid: 1, grpid: 1 });
    const b = mkFault({ pasid: 2, grpid: 2 });
    const c = mkFault({ pasid: 1, grpid: 3 });
    for (const f of [a, b, c]) h.core.reportDeviceFault(0, f);
    h.core.flushDev(0, 1, h.cont(42));
    h.sim.run();
    expect(h.done).toEqual([{ a: 42, b: 0 }]);
    expect(drv.sent.map((s) => s.fault)).toEqual([c, a]); // kernel list order: newest first
    expect(drv.sent.every((s) => s.resp.code === RespCode.INVALID && s.source === RespSource.FLUSH)).toBe(true);
    expect(h.core.pendingGroups(0).map((g) => g.lastFault)).toEqual([b]);
    const kinds = h.rec.rows.map((r) => r.kind);
    expect(kinds.indexOf(TraceKind.FLUSH_BEGIN)).toBeLessThan(kinds.indexOf(TraceKind.FLUSH_END));
    conserved(h);
  });

  it("seed flush(dev, pasid): pending faults answered oldest first (the seed's list is tail-inserted)", () => {
    const { h, drv } = setup({ kernel: 'seed' });
    h.core.attach(0, 2, handleFor(new HoldingDomain(2)));
    const a = mkFault({ pasid: 1, grpid: 1 });
    const b = mkFault({ pasid: 2, grpid: 2 });
    const c = mkFault({ pasid: 1, grpid: 3 });
    for (const f of [a, b, c]) h.core.reportDeviceFault(0, f);
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    expect(drv.sent.map((s) => s.fault)).toEqual([a, c]);
    expect(h.core.pendingGroups(0).map((g) => g.lastFault)).toEqual([b]);
    conserved(h);
  });

  it('flush(dev, pasid): partial faults of that PASID are freed, others kept', () => {
    const { h } = setup();
    const mine = [mkFault({ pasid: 1, last: false }), mkFault({ pasid: 1, grpid: 2, last: false })];
    h.core.attach(0, 2, handleFor(new HoldingDomain(2)));
    const other = mkFault({ pasid: 2, last: false });
    h.core.reportDeviceFault(0, mine[0]!);
    h.core.reportDeviceFault(0, other);
    h.core.reportDeviceFault(0, mine[1]!);
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    expect(h.core.partialFaults(0)).toEqual([other]);
    const freed = h.rec.of(TraceKind.PARTIAL_FREE);
    expect(freed.map((r) => r.f[4])).toEqual([PartialFree.FLUSH, PartialFree.FLUSH]);
    conserved(h);
  });

  it('flush with bug flush-partial-stops-early: the walk stops at the first fault of another PASID', () => {
    const { h } = setup({ bugs: ['flush-partial-stops-early'] });
    h.core.attach(0, 2, handleFor(new HoldingDomain(2)));
    const old = mkFault({ pasid: 1, last: false });
    const other = mkFault({ pasid: 2, last: false });
    const newest = mkFault({ pasid: 1, grpid: 2, last: false });
    for (const f of [old, other, newest]) h.core.reportDeviceFault(0, f);
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    expect(h.core.partialFaults(0)).toEqual([old, other]); // `old` survives the flush
  });

  it('flush with bug flush-ignores-pasid: only waits for the workqueue', () => {
    const { h, drv } = setup({ bugs: ['flush-ignores-pasid'] });
    expect(h.core.flushSemantics).toBe('workqueue');
    h.core.reportDeviceFault(0, mkFault({ last: false }));
    h.core.reportDeviceFault(0, mkFault({ grpid: 9 }));
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    expect(drv.sent).toHaveLength(0);
    expect(h.core.partialFaults(0)).toHaveLength(1);
    expect(h.core.pendingGroups(0)).toHaveLength(1);
  });

  it('flush(dev, pasid): waits for work queued before it, then answers what is left', () => {
    const h = makeHarness();
    const q = h.core.queueAlloc('q', 1);
    const drv = new FakeDriver();
    h.core.addDevice(q, 0, drv);
    const wd = new WqDomain(h, 5000);
    h.core.attach(0, 1, handleFor(wd));
    h.core.reportDeviceFault(0, mkFault({ grpid: 1 }));
    h.core.reportDeviceFault(0, mkFault({ grpid: 2 }));
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    // Both groups ran through the handler and were answered SUCCESS before the flush finished.
    expect(drv.sent.map((s) => s.resp.code)).toEqual([RespCode.SUCCESS, RespCode.SUCCESS]);
    const end = h.rec.of(TraceKind.FLUSH_END)[0]!;
    expect(end.t).toBeGreaterThanOrEqual(10_000);
    expect(h.done[0]!.b).toBe(0);
  });

  it('flush: stops answering at the first driver error and returns it', () => {
    const { h, drv } = setup();
    h.core.reportDeviceFault(0, mkFault({ grpid: 1 }));
    h.core.reportDeviceFault(0, mkFault({ grpid: 2 }));
    drv.failNext = 1;
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    expect(h.done[0]!.b).toBe(-5);
    expect(h.core.pendingGroups(0)).toHaveLength(2);
    expect(h.rec.of(TraceKind.FLUSH_END)[0]!.f[4]).toBe(-5);
  });

  it('flush: -ENODEV without fault parameters', () => {
    const h = makeHarness();
    h.core.flushDev(5, 1, h.cont());
    h.sim.run();
    expect(h.done[0]!.b).toBe(err('ENODEV'));
  });

  it('flush: a report of the flushed PASID afterwards is a recorded driver contract breach, until re-attached', () => {
    const { h, dom } = setup();
    h.core.flushDev(0, 1, h.cont());
    h.sim.run();
    h.core.reportDeviceFault(0, mkFault());
    expect(h.core.stats.contractBreaches).toBe(1);
    const ev = h.rec.of(TraceKind.FAULT_REPORT)[0]!;
    expect(ev.f[5] & ReportFlag.AFTER_FLUSH).toBe(ReportFlag.AFTER_FLUSH);
    h.core.detach(0, 1);
    h.core.attach(0, 1, handleFor(dom));
    h.core.reportDeviceFault(0, mkFault());
    expect(h.core.stats.contractBreaches).toBe(1);
  });

  it('FLUSH_UNDER_DEV_LOCK (v6.7): the flush holds dev->iommu->lock across flush_workqueue, a report meanwhile waits', () => {
    const h = makeHarness({ kernel: 'v6.7' });
    const q = h.core.queueAlloc('q', 1);
    const drv = new FakeDriver();
    h.core.addDevice(q, 0, drv);
    h.core.attach(0, 1, handleFor(new WqDomain(h, 5000)));
    h.core.attach(0, 2, handleFor(new HoldingDomain(2)));
    h.core.reportDeviceFault(0, mkFault({ grpid: 1 }));
    h.core.flushDev(0, 1, h.cont(1));
    expect(h.core.canReport(0)).toBe(false);
    const rc = h.core.reportDeviceFaultStep(0, mkFault({ pasid: 2, grpid: 3 }), h.cont(2));
    expect(rc).toBe(REPORT_PENDING);
    h.sim.run();
    expect(h.done.map((d) => d.a).sort()).toEqual([1, 2]);
    expect(h.done.find((d) => d.a === 2)!.b).toBe(0);
    // The blocked report ran only after the flush released the lock.
    const kinds = h.rec.rows.map((r) => r.kind);
    expect(kinds.lastIndexOf(TraceKind.FAULT_REPORT)).toBeGreaterThan(kinds.indexOf(TraceKind.FLUSH_END));
    expect(h.rec.of(TraceKind.FAULT_REPORT)[1]!.t).toBeGreaterThanOrEqual(5000);
    expect(h.core.pendingGroups(0)).toHaveLength(1);
  });
});

describe('iopf core: queue operations (§6)', () => {
  it('discard_partial frees partials without responses', () => {
    const { h, drv, q } = setup();
    h.core.reportDeviceFault(0, mkFault({ last: false }));
    h.core.reportDeviceFault(0, mkFault({ grpid: 2, last: false }));
    expect(h.core.discardPartial(q)).toBe(0);
    expect(h.core.partialFaults(0)).toHaveLength(0);
    expect(drv.sent).toHaveLength(0);
    expect(h.rec.of(TraceKind.DISCARD_PARTIAL)[0]!.f[5]).toBe(2);
    expect(h.rec.of(TraceKind.PARTIAL_FREE).every((r) => r.f[4] === PartialFree.DISCARD)).toBe(true);
    conserved(h);
  });

  it('discard_partial without a queue is -EINVAL', () => {
    const h = makeHarness();
    expect(h.core.discardPartial(null)).toBe(err('EINVAL'));
  });

  it('add_device twice is -EBUSY', () => {
    const { h, q, drv } = setup();
    expect(h.core.addDevice(q, 0, drv)).toBe(err('EBUSY'));
    expect(h.rec.of(TraceKind.DEVICE_ADD).map((r) => r.f[4])).toEqual([0, err('EBUSY')]);
  });

  it('remove_device answers pending and frees partials', () => {
    const { h, q, drv, dom } = setup();
    h.core.reportDeviceFault(0, mkFault({ grpid: 3, last: false }));
    h.core.reportDeviceFault(0, mkFault({ grpid: 1 }));
    expect(h.core.removeDevice(q, 0)).toBe(0);
    expect(drv.sent).toHaveLength(1);
    expect(drv.sent[0]!.resp.code).toBe(RespCode.INVALID);
    expect(drv.sent[0]!.source).toBe(RespSource.REMOVE);
    expect(h.rec.of(TraceKind.PARTIAL_FREE)[0]!.f[4]).toBe(PartialFree.REMOVE);
    expect(h.rec.of(TraceKind.DEVICE_REMOVE)).toHaveLength(1);
    expect(h.core.faultParam(0)).toBeNull();
    // The handler still holds its group: its response is a no-op, its free drops the last reference.
    const g = dom.groups[0]!;
    expect(g.param.freed).toBe(false);
    expect(h.core.groupResponse(g, RespCode.SUCCESS)).toBe(0);
    expect(drv.sent).toHaveLength(1);
    h.core.freeGroup(g);
    expect(g.param.freed).toBe(true);
    conserved(h);
  });

  it('remove_device with bug remove-frees-live-group: the handler uses a freed group (counted, not a crash)', () => {
    const { h, q, dom } = setup({ bugs: ['remove-frees-live-group'] });
    h.core.reportDeviceFault(0, mkFault());
    h.core.removeDevice(q, 0);
    const g = dom.groups[0]!;
    expect(g.freed).toBe(true);
    h.core.groupResponse(g, RespCode.SUCCESS);
    h.core.freeGroup(g);
    expect(h.core.stats.useAfterFree).toBe(2);
    expect(h.env.metrics.get('iopf.use_after_free')).toBe(2);
  });

  it('remove_device: a report afterwards finds no fault parameters (error response)', () => {
    const { h, q, drv } = setup();
    h.core.removeDevice(q, 0);
    expect(h.core.reportDeviceFault(0, mkFault())).toBe(err('EINVAL'));
    expect(drv.sent).toHaveLength(1);
    expect(drv.sent[0]!.source).toBe(RespSource.REPORT_ERROR);
  });

  it('remove_device of an unregistered device or on another queue fails', () => {
    const { h } = setup();
    const q2 = h.core.queueAlloc('other', 1);
    expect(h.core.removeDevice(q2, 0)).toBe(err('EINVAL'));
    expect(h.core.removeDevice(q2, 4)).toBe(err('ENODEV'));
  });

  it('REMOVE_BUSY_WHILE_PENDING: v6.9 iopf_queue_remove_device is -EBUSY while a fault is pending', () => {
    const { h, q, dom } = setup({ kernel: 'v6.9' });
    h.core.reportDeviceFault(0, mkFault());
    expect(h.core.removeDevice(q, 0)).toBe(err('EBUSY'));
    h.core.groupResponse(dom.groups[0]!, RespCode.SUCCESS);
    h.core.freeGroup(dom.groups[0]!);
    expect(h.core.removeDevice(q, 0)).toBe(0);
  });

  it('v6.7 iopf_queue_remove_device has no pending check: partials freed, the pending copy stays and its late response still goes out', () => {
    const { h, q, drv } = setup({ kernel: 'v6.7' });
    h.core.reportDeviceFault(0, mkFault({ last: false, grpid: 2 }));
    h.core.reportDeviceFault(0, mkFault());
    expect(h.core.partialFaults(0).length).toBe(1);
    const pending = [...h.core.pendingGroups(0)];
    expect(pending.length).toBe(1);
    expect(h.core.removeDevice(q, 0)).toBe(0);
    expect(h.core.faultParam(0)).toBeNull();
    expect(drv.sent.length).toBe(0); // nothing answered by the remove
    expect(h.core.groupResponse(pending[0]!, RespCode.SUCCESS)).toBe(0);
    expect(drv.sent.length).toBe(1);
  });

  it('CORE.REMOVE.NO_LIVE_GROUP: removeDeviceStep waits for running handlers; with the bug it does not', () => {
    for (const bug of [false, true]) {
      const h = makeHarness(bug ? { bugs: ['remove-frees-live-group'] } : {});
      const q = h.core.queueAlloc('q', 1);
      h.core.addDevice(q, 0, new FakeDriver());
      const wd = new WqDomain(h, 5000);
      h.core.attach(0, 1, handleFor(wd));
      h.core.reportDeviceFault(0, mkFault());
      h.sim.run({ maxTimeNs: 1000 }); // the handler is running
      expect(wd.started).toBe(1);
      h.core.removeDeviceStep(q, 0, h.cont());
      h.sim.run();
      expect(h.done[0]!.b).toBe(0);
      expect(h.core.stats.useAfterFree > 0).toBe(bug);
      const removeAt = h.rec.of(TraceKind.DEVICE_REMOVE)[0]!.t;
      expect(removeAt >= 5100).toBe(!bug);
    }
  });

  it('queue_free removes the remaining devices', () => {
    const { h, q } = setup();
    h.core.queueFree(q);
    expect(h.core.faultParam(0)).toBeNull();
    expect(q.freed).toBe(true);
  });
});
