/** Liveness: what must have happened by the end of a run. */
import { HandlerType, TraceKind } from '../../trace/events.js';
import { H_COMPLETE, PRGI_COUNT, dpKey, fifoMap, prgiOfGrpid } from '../state.js';
import { defineRule, groupName, pasidName, type RuleDef } from './rule.js';

const T = TraceKind;
/** iommufd_lifecycle ops (world.ts): fd closed, object destroyed, attachment detached, replaced. */
const FD_CLOSED = 0;
const DESTROYED = 1;
const DETACHED = 2;
const REPLACED = 3;

export const LIVENESS_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'LIVENESS.DRAIN_ENDS',
    side: 'kernel',
    source:
      "the IOMMU driver's PASID drain (VT-d intel_drain_pasid_prq: wait_for_completion(&iommu->prq_complete) until the PRQ holds none of the PASID's requests) returns; the teardown that calls it (detach, unbind, remove_dev_pasid) cannot finish otherwise; linux-iopf §1",
    statement: 'By the end of a run that drained, every PASID drain that began has ended (the teardown that called it returned).',
    mode: 'cheap',
    ftrace: false,
    on: [T.DRAIN_BEGIN, T.DRAIN_END],
    check: (st, v) => {
      /** (device, PASID) → drains begun and not ended, and when the oldest began. */
      const open = fifoMap<{ dev: number; pasid: number; n: number; t: number }>();
      return {
        onEvent(kind, dev, pasid) {
          const k = dpKey(dev, pasid);
          const o = open.get(k);
          if (kind === T.DRAIN_BEGIN) {
            if (o === undefined) open.set(k, { dev, pasid, n: 1, t: st.now });
            else o.n++;
            return;
          }
          v.mark();
          if (o === undefined) return;
          if (--o.n === 0) open.delete(k);
        },
        finish() {
          // Judged where drains were seen (a Linux ftrace carries none: not exercised there).
          for (const o of open.values()) {
            v.mark();
            v.violate(`the drain of device ${o.dev} ${pasidName(o.pasid)} (begun at ${o.t} ns) never ended: the teardown that called it never returned`, false, { dev: o.dev, pasid: o.pasid });
          }
        },
      };
    },
  }),
  defineRule({
    id: 'LIVENESS.ALL_ANSWERED',
    side: 'host',
    source:
      'hardware ref §1.6 HOST.RESP.ONE_PER_GROUP (exactly one); issue 7; iommufd eventq.c (no timeout: iommufd_auto_response_faults on detach/replace, iommufd_fault_destroy; release answers nothing)',
    statement:
      'By the end of the run every group whose L=1 reached the host is answered, unless dropped with accounting, PRI was reset/disabled, or user space still holds it through a fault fd that is open (closing the fd without destroying the object leaves it unanswered: a violation).',
    mode: 'cheap',
    ftrace: true,
    on: [T.HANDLER_START, T.RESPONSE_SEND, T.AUTO_RESPONSE, T.IOMMUFD_LIFECYCLE],
    check: (st, v) => {
      const ns = st.maxDev * PRGI_COUNT;
      /** Per slot: the fault object the slot's group waits on in user space (-1: none). */
      const heldBy = new Int32Array(ns).fill(-1);
      /** Per slot: the PASID of that group (a detach or replace of (device, PASID) hands it back to the kernel). */
      const heldPasid = new Int32Array(ns);
      /** Fault objects whose fd was closed or which were destroyed (user space can no longer answer). */
      const gone = new Set<number>();
      return {
        onEvent(kind, dev, pasid, prgi, _f3, f4, f5) {
          switch (kind) {
            case T.HANDLER_START: {
              if (f4 !== HandlerType.IOMMUFD || f5 < 0) return;
              const s = st.slotOf(dev, prgiOfGrpid(prgi));
              heldBy[s] = f5;
              heldPasid[s] = pasid;
              break;
            }
            case T.RESPONSE_SEND:
              if (f4 >= 0) heldBy[st.slot] = -1;
              break;
            case T.AUTO_RESPONSE:
              heldBy[st.slot] = -1;
              break;
            case T.IOMMUFD_LIFECYCLE:
              if (f4 === FD_CLOSED || f4 === DESTROYED) gone.add(_f3);
              else if ((f4 === DETACHED || f4 === REPLACED) && dev >= 0 && st.devOk(dev)) {
                // iommufd_auto_response_faults(): the kernel answers the attachment's groups now.
                const base = dev * PRGI_COUNT;
                for (let p = 0; p < PRGI_COUNT; p++) if (heldBy[base + p]! >= 0 && heldPasid[base + p] === pasid) heldBy[base + p] = -1;
              }
              break;
          }
        },
        finish() {
          v.mark();
          for (let s = 0; s < ns; s++) {
            if (st.hState[s] === H_COMPLETE && st.hExcused[s] === 0 && st.hDroppedLast[s] === 0 && st.hResp[s] === 0) {
              // User space holds it and may still answer: the kernel has nothing to do yet.
              const f = heldBy[s]!;
              if (f >= 0 && !gone.has(f)) continue;
              const dev = Math.floor(s / PRGI_COUNT);
              const prgi = s % PRGI_COUNT;
              v.violate(`${groupName(dev, st.hPasid[s]!, prgi)} (L=1 at the host since ${st.hLastT[s]!} ns) was never answered`, false, { dev, prgi });
            }
          }
        },
      };
    },
  }),
];
