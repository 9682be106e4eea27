import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { makeHarness } from './harness.js';
import { PciFunction, MAX_RETRIES_PER_ACCESS, type TranslateResult } from '../../src/pcie/function.js';
import type { PageRequestMsg } from '../../src/pcie/messages.js';
import { TraceKind, PrFlag, RecvOutcome, PciRespCode } from '../../src/trace/events.js';
import { readPriStatus, PriStatusBit } from '../../src/pcie/registers.js';

interface SetupOpts {
  allocation?: number;
  pasidRequired?: boolean;
  atc?: number;
}

function setup(o: SetupOpts = {}) {
  const h = makeHarness({
    devices: [
      {
        name: 'd0',
        rid: 0x10,
        pri: {
          allocation: o.allocation ?? 256,
          capacity: 512,
          response_pasid_required: o.pasidRequired ?? true,
        },
        ats: { atc_entries: o.atc ?? 64 },
      },
    ],
  });
  const sent: PageRequestMsg[] = [];
  const present = new Set<string>();
  let translations = 0;
  const fn = new PciFunction(h.env, 0, h.env.scenario.devices[0]!, {
    sendPageRequest: (m) => sent.push(m),
    translate: (_d, pasid, page): TranslateResult => {
      translations++;
      return present.has(`${pasid}:${page}`) ? 'ok' : 'not-present';
    },
  });
  const respond = (prgi: number, code: number, pasid = 1) => {
    fn.onResponse({ dev: 0, rid: 0x10, prgi, code, pasid });
  };
  const dmaDone = () => h.of(TraceKind.DMA_DONE);
  const cont = (kind: number) => ({ kind, a: 0, b: 0 });
  return { h, fn, sent, present, respond, dmaDone, cont, translations: () => translations };
}

describe('PciFunction', () => {
  it('ATS: an ATC hit needs no translation request; a translated page is cached', () => {
    const s = setup();
    s.present.add('1:100');
    s.fn.dma(1, 1, 100, 1, PrFlag.READ);
    s.h.sim.run();
    s.fn.dma(2, 1, 100, 1, PrFlag.READ);
    s.h.sim.run();
    const ats = s.h.of(TraceKind.ATS);
    expect(ats.map((e) => e.result)).toEqual([1, 0]);
    expect(s.translations()).toBe(1);
    expect(s.dmaDone().map((e) => e.failed)).toEqual([0, 0]);
    expect(s.sent).toHaveLength(0);
  });

  it('PRI.GROUP.LAST_CLOSES: the pages of one DMA that miss form one group, only the last has L=1', () => {
    const s = setup();
    s.present.add('1:11');
    s.fn.dma(7, 1, 10, 4, PrFlag.WRITE);
    s.h.sim.run();
    expect(s.sent.map((m) => m.page)).toEqual([10, 12, 13]);
    expect(new Set(s.sent.map((m) => m.prgi)).size).toBe(1);
    expect(s.sent.map((m) => (m.flags & PrFlag.LAST) !== 0)).toEqual([false, false, true]);
    for (const m of s.sent) expect(m.flags & (PrFlag.WRITE | PrFlag.PASID)).toBe(PrFlag.WRITE | PrFlag.PASID);
    expect(s.fn.outstanding).toBe(3);
    expect(s.h.of(TraceKind.PAGE_REQUEST)).toHaveLength(3);
  });

  it('PRI.CREDIT.LIMIT: outstanding requests never exceed Allocation; a group without credit waits', () => {
    const s = setup({ allocation: 4 });
    s.fn.dma(1, 1, 0, 2, PrFlag.READ);
    s.fn.dma(2, 1, 10, 2, PrFlag.READ);
    s.fn.dma(3, 1, 20, 2, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent).toHaveLength(4);
    expect(s.fn.outstanding).toBe(4);
    expect(s.fn.stalled).toBe(1);
    const stall = s.h.of(TraceKind.CREDIT_STALL);
    expect(stall).toEqual([{ t: 100, dev: 0, outstanding: 4, allocation: 4 }]);
    s.h.advanceTo(1000);
    s.respond(s.sent[0]!.prgi, PciRespCode.INVALID);
    expect(s.sent).toHaveLength(6);
    expect(s.fn.outstanding).toBe(4);
    expect(s.h.env.metrics.summary('credit_stall_ns').max).toBe(900);
  });

  it('PRI.CREDIT.LIMIT (property): any mix of accesses and responses keeps outstanding <= Allocation and indices unique', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('dma' as const), pages: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant('resp' as const), code: fc.constantFrom(0, 1) }),
          ),
          { maxLength: 40 },
        ),
        (alloc, ops) => {
          const s = setup({ allocation: Math.max(alloc, 4) });
          let n = 0;
          for (const op of ops) {
            if (op.op === 'dma') s.fn.dma(n++, 1, n * 8, op.pages, PrFlag.READ);
            else {
              const open = [...new Set(s.sent.map((m) => m.prgi))].filter((p) =>
                s.fn['prgis'].isOutstanding(p),
              );
              if (open.length > 0) s.respond(open[0]!, op.code);
            }
            s.h.sim.run({ maxTimeNs: s.h.sim.now + 1000 });
            expect(s.fn.outstanding).toBeLessThanOrEqual(Math.max(alloc, 4));
            // Each outstanding index names exactly one group.
            const byPrgi = new Map<number, number>();
            for (const m of s.sent)
              if (s.fn['prgis'].isOutstanding(m.prgi)) byPrgi.set(m.prgi, (byPrgi.get(m.prgi) ?? 0) + 1);
            let total = 0;
            for (const v of byPrgi.values()) total += v;
            expect(total).toBeGreaterThanOrEqual(s.fn.outstanding);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('PRI.PRGI.NO_REUSE: an index is not reused while outstanding; the lowest free index is taken', () => {
    const s = setup();
    s.fn.dma(1, 1, 0, 1, PrFlag.READ);
    s.fn.dma(2, 1, 1, 1, PrFlag.READ);
    s.fn.dma(3, 1, 2, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent.map((m) => m.prgi)).toEqual([0, 1, 2]);
    s.respond(1, PciRespCode.INVALID);
    s.fn.dma(4, 1, 3, 1, PrFlag.READ);
    s.fn.dma(5, 1, 4, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent.slice(3).map((m) => m.prgi)).toEqual([1, 3]);
  });

  it('PRI.RESP.UPRGI: a response for an index with nothing outstanding sets UPRGI and is discarded', () => {
    const s = setup();
    s.respond(42, PciRespCode.SUCCESS);
    expect(s.fn.regs.pri.unexpectedPrgIndex).toBe(true);
    expect(readPriStatus(s.fn.regs.pri) & PriStatusBit.UPRGI).toBe(PriStatusBit.UPRGI);
    expect(s.h.of(TraceKind.RESPONSE_RECV)[0]!.outcome).toBe(RecvOutcome.UPRGI);
  });

  it('PRI.RESP.SUCCESS_RETRIES / ATS.RETRY.AFTER_SUCCESS: Success frees credits and index, then re-translates', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    const prgi = s.sent[0]!.prgi;
    s.present.add('1:5');
    s.respond(prgi, PciRespCode.SUCCESS);
    expect(s.fn.outstanding).toBe(0);
    expect(s.fn.outstandingGroups).toBe(0);
    s.h.sim.run();
    expect(s.h.of(TraceKind.ATS).map((e) => e.result)).toEqual([2, 1]);
    expect(s.dmaDone()).toEqual([{ t: expect.any(Number), dev: 0, pasid: 1, access: 1, failed: 0, page: 5 }]);
    expect(s.h.env.metrics.summary('group_latency_ns').count).toBe(1);
  });

  it('PRI.RESP.SUCCESS_RETRIES: a page still not present is requested again; retries are bounded', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    for (let i = 0; i <= MAX_RETRIES_PER_ACCESS; i++) {
      const last = s.sent[s.sent.length - 1]!;
      s.respond(last.prgi, PciRespCode.SUCCESS);
      s.h.sim.run();
    }
    expect(s.sent).toHaveLength(MAX_RETRIES_PER_ACCESS + 1);
    expect(s.dmaDone()).toHaveLength(1);
    expect(s.dmaDone()[0]!.failed).toBe(1);
    expect(s.fn.counters.retryExhausted).toBe(1);
  });

  it('PRI.RESP.INVALID_ERRORS: Invalid Request frees the group and fails the DMA without retry', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 2, PrFlag.READ);
    s.h.sim.run();
    s.respond(s.sent[0]!.prgi, PciRespCode.INVALID);
    s.h.sim.run();
    expect(s.fn.outstanding).toBe(0);
    expect(s.dmaDone()[0]!.failed).toBe(1);
    expect(s.h.of(TraceKind.ATS)).toHaveLength(2);
  });

  it('PRI.RESP.FAILURE_DISABLES: Response Failure sets RF, stops page requests, later responses are ignored', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.fn.dma(2, 1, 6, 1, PrFlag.READ);
    s.h.sim.run();
    s.respond(0, PciRespCode.FAILURE);
    expect(s.fn.regs.pri.responseFailure).toBe(true);
    s.respond(1, PciRespCode.SUCCESS);
    expect(s.h.of(TraceKind.RESPONSE_RECV).map((e) => e.outcome)).toEqual([
      RecvOutcome.MATCHED,
      RecvOutcome.IGNORED_RF,
    ]);
    s.fn.dma(3, 1, 7, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent).toHaveLength(2);
    expect(s.dmaDone().filter((e) => e.access === 3)[0]!.failed).toBe(1);
  });

  it('PRI.RESP.RESERVED: a reserved code is handled as Response Failure', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    s.respond(0, 5);
    expect(s.fn.regs.pri.responseFailure).toBe(true);
    expect(s.fn.canRequest).toBe(false);
  });

  it('PRI.RESET.CLEARS: Reset drops outstanding requests and clears RF, UPRGI and the credit count', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 2, PrFlag.READ);
    s.fn.dma(2, 1, 9, 1, PrFlag.READ);
    s.h.sim.run();
    s.respond(0, PciRespCode.FAILURE);
    s.respond(77, PciRespCode.SUCCESS);
    expect(s.fn.outstanding).toBe(1);
    s.fn.priControl('reset');
    expect(s.fn.regs.pri.responseFailure).toBe(false);
    expect(s.fn.regs.pri.unexpectedPrgIndex).toBe(false);
    expect(s.fn.outstanding).toBe(0);
    expect(s.fn.outstandingGroups).toBe(0);
    expect(s.fn.regs.pri.stopped).toBe(true);
    expect(s.dmaDone().map((e) => e.failed)).toEqual([1, 1]);
    expect(s.h.of(TraceKind.PRI_CONTROL)[0]!.op).toBe(2);
    s.fn.priControl('enable');
    s.fn.dma(3, 1, 20, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent[s.sent.length - 1]!.prgi).toBe(0);
  });

  it('PRI.STOPPED: with Enable clear, Stopped reads 1 once no request is outstanding', () => {
    const s = setup();
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    s.fn.priControl('disable');
    expect(s.fn.regs.pri.stopped).toBe(false);
    s.respond(0, PciRespCode.INVALID);
    expect(s.fn.regs.pri.stopped).toBe(true);
    expect(readPriStatus(s.fn.regs.pri) & PriStatusBit.STOPPED).toBe(PriStatusBit.STOPPED);
  });

  it('PRI.ENABLE.REQUIRED: with Enable clear no page request is sent and the access fails', () => {
    const s = setup();
    s.fn.priControl('disable');
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent).toHaveLength(0);
    expect(s.dmaDone()[0]!.failed).toBe(1);
  });

  it('PRI.RESP.PASID_FORM: a PASID on a response to a function whose bit is clear is a protocol error, still processed', () => {
    const s = setup({ pasidRequired: false });
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.fn.dma(2, 1, 6, 1, PrFlag.READ);
    s.h.sim.run();
    s.respond(0, PciRespCode.INVALID, 1);
    s.respond(1, PciRespCode.INVALID, -1);
    expect(s.h.of(TraceKind.RESPONSE_RECV).map((e) => e.outcome)).toEqual([
      RecvOutcome.PASID_FORM_ERROR,
      RecvOutcome.MATCHED,
    ]);
    expect(s.fn.outstanding).toBe(0);
    expect(s.fn.counters.pasidFormErrors).toBe(1);
  });

  it('PRI.RESP.PASID_FORM: with the bit set, a response without the PASID is the other wrong form', () => {
    const s = setup({ pasidRequired: true });
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.fn.dma(2, -1, 6, 1, PrFlag.READ);
    s.h.sim.run();
    s.respond(0, PciRespCode.INVALID, -1);
    s.respond(1, PciRespCode.INVALID, -1);
    expect(s.h.of(TraceKind.RESPONSE_RECV).map((e) => e.outcome)).toEqual([
      RecvOutcome.PASID_FORM_ERROR,
      RecvOutcome.MATCHED,
    ]);
  });

  it('PRI.STOP.AFTER_QUIESCE: the Stop Marker follows the last answer of the PASID; the stop completes then', () => {
    const s = setup();
    let quiesced = -1;
    const k = s.h.sim.registerKind('t:quiesced', () => {
      quiesced = s.h.sim.now;
    });
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    s.fn.stopPasid(1, true, s.cont(k));
    s.h.sim.run();
    expect(quiesced).toBe(-1);
    expect(s.sent.filter((m) => m.stopMarker)).toHaveLength(0);
    s.fn.dma(2, 1, 6, 1, PrFlag.READ);
    expect(s.dmaDone().find((e) => e.access === 2)!.failed).toBe(1);
    s.h.advanceTo(5000);
    s.respond(0, PciRespCode.INVALID);
    s.h.sim.run();
    const marker = s.sent[s.sent.length - 1]!;
    expect(marker.stopMarker).toBe(true);
    expect(marker.flags).toBe(PrFlag.LAST | PrFlag.PASID);
    expect(marker.pasid).toBe(1);
    expect(quiesced).toBe(5000);
    expect(s.h.of(TraceKind.STOP_MARKER)).toHaveLength(1);
  });

  it('PRI.STOP.NO_CREDIT: a Stop Marker is sent with every credit in use and consumes none', () => {
    const s = setup({ allocation: 2 });
    const k = s.h.sim.registerKind('t:q', () => {});
    s.fn.dma(1, 2, 0, 2, PrFlag.READ);
    s.h.sim.run();
    expect(s.fn.outstanding).toBe(2);
    s.fn.stopPasid(1, true, s.cont(k));
    s.h.sim.run();
    expect(s.sent.filter((m) => m.stopMarker)).toHaveLength(1);
    expect(s.fn.outstanding).toBe(2);
  });

  it('stopPasid without marker quiesces silently; startPasid allows the PASID again', () => {
    const s = setup();
    const k = s.h.sim.registerKind('t:q', () => {});
    s.fn.stopPasid(3, false, s.cont(k));
    s.h.sim.run();
    expect(s.sent).toHaveLength(0);
    expect(s.fn.isStopped(3)).toBe(true);
    s.fn.startPasid(3);
    s.fn.dma(1, 3, 0, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent).toHaveLength(1);
  });

  it('ATS.INVALIDATE.COMPLETES: an invalidation completes only after in-flight translations of the PASID', () => {
    const s = setup();
    s.present.add('1:5');
    s.present.add('1:6');
    s.fn.dma(1, 1, 5, 1, PrFlag.READ);
    s.h.sim.run();
    expect(s.fn.atc.has(1, 5)).toBe(true);
    let doneAt = -1;
    const k = s.h.sim.registerKind('t:inv', () => {
      doneAt = s.h.sim.now;
    });
    const t0 = s.h.sim.now;
    s.fn.dma(2, 1, 6, 1, PrFlag.READ); // translation in flight for 100 ns, then 50 ns of DMA
    s.fn.invalidate(1, s.cont(k));
    s.h.sim.run();
    expect(doneAt).toBe(t0 + 100 + 50 + 100);
    expect(s.fn.atc.has(1, 5)).toBe(false);
    expect(s.fn.atc.has(1, 6)).toBe(false);
  });

  it('credits: a group larger than Allocation fails rather than deadlocking', () => {
    const s = setup({ allocation: 2 });
    s.fn.dma(1, 1, 0, 3, PrFlag.READ);
    s.h.sim.run();
    expect(s.sent).toHaveLength(0);
    expect(s.dmaDone()[0]!.failed).toBe(1);
  });

  it('Execute and Privileged are dropped without a PASID prefix', () => {
    const s = setup();
    s.fn.dma(1, -1, 0, 1, PrFlag.READ | PrFlag.EXEC | PrFlag.PRIV);
    s.h.sim.run();
    expect(s.sent[0]!.flags).toBe(PrFlag.READ | PrFlag.LAST);
    expect(s.sent[0]!.pasid).toBe(-1);
  });
});
