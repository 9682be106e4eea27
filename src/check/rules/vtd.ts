/**
 * IOMMU page request queue rules (hardware ref §2.3, §2.4). The VTD.* names come from VT-d; the
 * overflow rule also holds for the SMMUv3 PRI queue (and AMD's PPR log when the scenario says it
 * auto-responds).
 */
import { PrFlag, TraceKind } from '../../trace/events.js';
import { NOT_DROPPED, dpKey, fifoMap } from '../state.js';
import { defineRule, requestName, type RuleDef } from './rule.js';

const T = TraceKind;

export const VTD_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'VTD.PRQ.FULL_N_MINUS_1',
    side: 'host',
    source: 'VT-d 7.5.1 page request queue (PQH/PQT); hardware ref §2.3',
    statement: 'A queue of N entries never holds more than N-1 pending page requests.',
    mode: 'cheap',
    ftrace: false,
    on: [T.QUEUE_WRITE],
    check: (st, v) => ({
      onEvent(_k, _dev, _pasid, _prgi, _req, iommu, depth) {
        if (st.stopReq || st.hostOnly) return;
        const cap = st.opts.queueCapacity?.get(iommu);
        if (cap === undefined || depth < 0) return;
        v.mark();
        if (depth > cap - 1) v.violate(`IOMMU ${iommu} queue holds ${depth} entries, capacity ${cap} allows ${cap - 1}`);
      },
    }),
  }),
  defineRule({
    id: 'VTD.PRQ.OVERFLOW_AUTORESP',
    side: 'host',
    source: 'VT-d 7.5.1 overflow; SMMUv3 PRIQ overflow; hardware ref §2.3, §3.1',
    statement: 'A request with L=1 dropped at a full queue (not a Stop Marker) gets a hardware response; a dropped L=0 request gets none.',
    mode: 'full',
    ftrace: false,
    on: [T.QUEUE_DROP, T.AUTO_RESPONSE],
    check: (st, v) => {
      /** Dropped L=1 requests still owed a hardware response. */
      const owed = fifoMap<{ dev: number; pasid: number; prgi: number; t: number }>();
      return {
        onEvent(kind, dev, pasid, prgi, req, iommu, flags) {
          if (st.stopReq) return;
          if (kind === T.QUEUE_DROP) {
            if ((flags & PrFlag.LAST) !== 0 && st.opts.overflowAutoResponse?.get(iommu) === true && (flags & (PrFlag.READ | PrFlag.WRITE)) !== 0) {
              v.mark();
              owed.set(req, { dev, pasid, prgi, t: st.now });
            }
          } else if (owed.delete(req)) {
            v.mark();
          } else if (st.droppedFlags !== NOT_DROPPED && (st.droppedFlags & PrFlag.LAST) === 0) {
            v.violate(`hardware answered ${requestName(dev, pasid, prgi)}, a dropped L=0 request`);
          }
        },
        finish() {
          for (const [req, o] of owed) {
            v.violate(`${requestName(o.dev, o.pasid, o.prgi)} (L=1, dropped at ${o.t} ns) never got a hardware response`, false, { dev: o.dev, prgi: o.prgi, req });
          }
        },
      };
    },
  }),
  defineRule({
    id: 'VTD.DRAIN.COMPLETE',
    side: 'kernel',
    source: 'VT-d 7.10 draining; Linux intel_drain_pasid_prq(); hardware ref §2.4',
    statement:
      'After the drain of (device, PASID) returns, no page request of that PASID sent before it returned is still queued, reported or on its way (a request sent later is new traffic, which the device driver must have stopped; an IOMMU without a Page-Drain — SMMUv3, AMD — only answers for the requests its queue held when the drain began).',
    mode: 'full',
    ftrace: false,
    on: [T.PAGE_REQUEST, T.DRAIN_BEGIN, T.DRAIN_END, T.QUEUE_WRITE, T.FAULT_REPORT, T.BIND],
    check: (st, v) => {
      /** Id of the last page request each device sent (ids grow in send order per device). */
      const lastSent = new Float64Array(st.maxDev).fill(-1);
      /** (device, PASID) drained and not bound again → the last request id sent before the drain returned. */
      const drained = fifoMap<number>();
      /** (device, PASID) being drained → the last request id the device had sent when it began. */
      const begun = fifoMap<number>();
      /** Requests that reached the queue while their (device, PASID) was being drained. */
      const duringDrain = fifoMap<number>();
      /** Drained pairs whose IOMMU drains only its queue, not what is on its way (no Page-Drain). */
      const queueOnly = fifoMap<number>();
      /** Requests already judged at queue time (not again when the driver reports them). */
      const reported = fifoMap<number>();
      /** Sent before the drain of its (device, PASID) returned. */
      const before = (dev: number, pasid: number, req: number): boolean => {
        const b = drained.get(dpKey(dev, pasid));
        return b !== undefined && req <= b;
      };
      return {
        onEvent(kind, dev, pasid, f2, req, f4) {
          switch (kind) {
            case T.PAGE_REQUEST:
              lastSent[dev] = req;
              break;
            case T.DRAIN_BEGIN:
              begun.set(dpKey(dev, pasid), lastSent[dev]!);
              break;
            case T.DRAIN_END: {
              v.mark();
              const k = dpKey(dev, pasid);
              // A queue-only drain (no Page-Drain) answers for what was sent before it began: a
              // request sent while it runs is traffic the device driver should have stopped, and
              // may land in the queue after its last look.
              if (st.pageDrainOf(dev) === false) {
                queueOnly.set(k, 1);
                drained.set(k, begun.get(k) ?? lastSent[dev]!);
              } else {
                queueOnly.delete(k);
                drained.set(k, lastSent[dev]!);
              }
              begun.delete(k);
              break;
            }
            case T.BIND:
              if (f4 === 0) drained.delete(dpKey(dev, pasid));
              break;
            case T.QUEUE_WRITE:
              if (st.stopReq || st.hostOnly) return;
              if (begun.size > 0 && begun.has(dpKey(dev, pasid))) duringDrain.set(req, 1);
              if (drained.size === 0) return;
              v.mark();
              if (before(dev, pasid, req)) {
                if (!queueOnly.has(dpKey(dev, pasid))) v.violate(`${requestName(dev, pasid, f2)} was queued after its drain returned`);
                reported.set(req, 1);
              }
              break;
            case T.FAULT_REPORT: {
              // A request still in the queue when the drain returned is reported afterwards. A
              // queue-only drain answers only for what its queue held when it began: one that
              // was still on the link then may land while it runs.
              const late = duringDrain.size > 0 && duringDrain.delete(req);
              if (drained.size === 0) return;
              v.mark();
              if (before(dev, pasid, req) && !reported.delete(req) && !(late && queueOnly.has(dpKey(dev, pasid)))) {
                v.violate(`${requestName(dev, pasid, f2)} was reported after its drain returned`);
              }
              break;
            }
          }
        },
      };
    },
  }),
];
