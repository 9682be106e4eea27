/** The io-pgfault core's contract (linux-iopf §3-§6): flush, responses, remove, partial faults, groups. */
import { HandlerType, PartialFree, RespSource, TraceKind } from '../../trace/events.js';
import { FifoMap } from '../fifo-map.js';
import { LATE_IGNORED, dpKey, fifoMap, prgiOfGrpid } from '../state.js';
import { defineRule, groupName, pasidName, partialName, type RuleDef } from './rule.js';

/** RESPONSE_SEND.source in words (violation texts). */
const SOURCE_NAME: Record<number, string> = {
  [RespSource.GROUP]: 'iopf_group_response',
  [RespSource.REPORT_ERROR]: 'iommu_report_device_fault error response',
  [RespSource.FLUSH]: 'iopf_queue_flush_dev',
  [RespSource.REMOVE]: 'iopf_queue_remove_device',
  [RespSource.IOMMUFD_AUTO]: 'iommufd auto-response',
  [RespSource.DRIVER_CHECK]: "the driver's own checks",
  [RespSource.ABORT]: 'the abort group',
  [RespSource.IOMMUFD_USER]: 'iommufd write()',
  [RespSource.HARDWARE]: 'the hardware',
};

const T = TraceKind;

export const CORE_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'CORE.FLUSH.NOTHING_PENDING',
    side: 'kernel',
    source: 'iopf_queue_flush_dev() (seed v4 09/10); linux-iopf §5',
    statement: 'After flush(dev, pasid) returns 0 nothing of that PASID is partial or pending and no handler for it runs (flush(dev): no handler runs).',
    mode: 'full',
    ftrace: false,
    on: [T.FLUSH_END],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, _f2, _f3, result) {
        if (result !== 0) return;
        v.mark();
        const wqOnly = pasid < 0 || st.opts.flushContract === 'workqueue';
        for (const [, g] of st.groups.ofDevice(dev)) {
          // iommufd's handler only queues the group for user space: user space holding it is not a
          // handler still running (the 'seed' contract's pending check below covers it).
          if (g.live && (pasid < 0 || g.pasid === pasid) && g.handler !== HandlerType.IOMMUFD && (!wqOnly || g.handler === HandlerType.SVA)) {
            v.violate(`the handler of ${groupName(dev, g.pasid, g.prgi)} still runs after the flush`);
          }
        }
        if (!wqOnly) v.defer(T.FLUSH_END, dev, pasid);
      },
      // What the flush left behind, judged once the instant is over.
      deferred(_k, dev, pasid, seq) {
        // Each leftover is reported once (a later flush does not report it again): the check
        // stays linear in the trace however many flushes find the same leftovers.
        for (const [id, g] of st.groups.ofDevice(dev)) {
          if (g.pasid === pasid && g.seq < seq && g.flushReported !== true) {
            g.flushReported = true;
            v.violate(`${groupName(dev, pasid, g.prgi)} is still pending after the flush`, false, { dev, pasid, group: id });
          }
        }
        for (const [req, p] of st.partials.ofDevice(dev)) {
          if (p.pasid === pasid && p.seq < seq && p.flushReported !== true) {
            // Still tracked: a group may gather it later (CORE.GROUP.ONE_PASID).
            p.flushReported = true;
            v.violate(`${partialName(dev, pasid, p.prgi)} survived the flush`, false, { dev, pasid, req });
          }
        }
      },
    }),
  }),
  defineRule({
    id: 'CORE.FLUSH.NO_NEW_FAULTS',
    side: 'kernel',
    source: 'iopf_queue_flush_dev() caller contract; linux-iopf §5',
    statement:
      'No fault of the PASID is reported between the start and the end of its flush (the driver stopped and drained them first; behind an IOMMU without a Page-Drain — SMMUv3, AMD — only what its queue held when the flush began).',
    mode: 'full',
    ftrace: false,
    on: [T.FLUSH_BEGIN, T.FLUSH_END, T.QUEUE_WRITE, T.FAULT_REPORT],
    check: (st, v) => {
      /** (device, PASID) pairs being flushed; PASID -1 for a whole-device flush. */
      const flushing = fifoMap<number>();
      /** Requests that reached a queue-only IOMMU during their PASID's flush: nothing drained them. */
      const arrivedDuring = fifoMap<number>();
      const covered = (dev: number, pasid: number): boolean => flushing.has(dpKey(dev, pasid)) || flushing.has(dpKey(dev, -1));
      return {
        onEvent(kind, dev, pasid, _f2, req) {
          if (kind === T.FLUSH_BEGIN) {
            v.mark();
            flushing.set(dpKey(dev, pasid), 1);
          } else if (kind === T.FLUSH_END) {
            flushing.delete(dpKey(dev, pasid));
          } else if (flushing.size === 0) {
            return;
          } else if (kind === T.QUEUE_WRITE) {
            if (!st.stopReq && covered(dev, pasid) && st.pageDrainOf(dev) === false) arrivedDuring.set(req, 1);
          } else {
            v.mark();
            if (covered(dev, pasid) && !arrivedDuring.delete(req)) {
              v.violate(`a fault of device ${dev} ${pasidName(pasid)} was reported during its flush`);
            }
          }
        },
      };
    },
  }),
  defineRule({
    id: 'CORE.RESP.AT_MOST_ONCE',
    side: 'kernel',
    source: 'iopf_group_response() pending-node check; linux-iopf §4',
    statement: 'The core sends at most one response per group it formed.',
    mode: 'full',
    ftrace: false,
    on: [T.RESPONSE_SEND],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, prgi, group, _code, source) {
        if (!st.coreGroup) return;
        v.mark();
        if (st.group === undefined) {
          v.violate(
            group <= st.maxGroup
              ? `${groupName(dev, pasid, prgi)} answered again (by ${SOURCE_NAME[source] ?? `source ${source}`})`
              : `a response for ${groupName(dev, pasid, prgi)}, which the core never formed`,
          );
        }
      },
    }),
  }),
  defineRule({
    id: 'CORE.RESP.LATE_IS_NOT_ERROR',
    side: 'kernel',
    source: 'seed review (drop "no pending PRQ" warning); linux-iopf §4, §5',
    statement: 'A response attempt for a group already answered (e.g. by a flush) is ignored, not returned as an error.',
    mode: 'cheap',
    ftrace: false,
    on: [T.RESPONSE_SEND],
    check: (_st, v) => ({
      onEvent(_k, dev, pasid, prgi, _group, code) {
        // A late attempt for a group that is no longer pending: not a response on the wire.
        if (code >= 0) return;
        v.mark();
        if (code !== LATE_IGNORED) v.violate(`a late response for ${groupName(dev, pasid, prgi)} returned error ${code} to its caller`);
      },
    }),
  }),
  defineRule({
    id: 'CORE.REMOVE.NO_LIVE_GROUP',
    side: 'kernel',
    source: 'iopf_queue_remove_device(); linux-iopf §6',
    statement: 'A device is not removed while a handler still holds one of its groups.',
    mode: 'full',
    ftrace: false,
    on: [T.RESPONSE_SEND, T.DEVICE_REMOVE],
    check: (st, v) => ({
      onEvent(kind, dev, _pasid, _prgi, _group, _code, source) {
        if (kind === T.DEVICE_REMOVE) {
          v.mark();
          for (const [id, g] of st.groups.ofDevice(dev)) {
            // The subject names the group, so a counterexample follows that group, not the whole device.
            if (g.live) v.violate(`device ${dev} removed while a handler holds ${groupName(dev, g.pasid, g.prgi)}`, true, { dev, pasid: g.pasid, group: id });
          }
          return;
        }
        const g = st.group;
        if (g === undefined || source !== RespSource.REMOVE) return;
        v.mark();
        if (g.live) v.violate(`remove_device freed ${groupName(dev, g.pasid, g.prgi)} while its handler runs`);
      },
    }),
  }),
  defineRule({
    id: 'CORE.REMOVE.NOTHING_LEFT',
    side: 'kernel',
    source: 'iopf_queue_remove_device(); linux-iopf §6',
    statement: 'After remove_device no pending group of the device remains and no new partial or group appears until it is added again.',
    mode: 'full',
    ftrace: false,
    on: [T.DEVICE_ADD, T.DEVICE_REMOVE, T.PARTIAL_ADD, T.GROUP_FORM],
    check: (st, v) => {
      const removed = new Uint8Array(st.maxDev);
      return {
        onEvent(kind, dev, pasid, f2, _f3, f4) {
          switch (kind) {
            case T.DEVICE_ADD:
              if (f4 === 0) removed[dev] = 0;
              break;
            case T.DEVICE_REMOVE:
              removed[dev] = 1;
              v.defer(T.DEVICE_REMOVE, dev, 0);
              break;
            case T.PARTIAL_ADD:
              if (removed[dev] === 1) v.violate(`${partialName(dev, pasid, f2)} was added after the device was removed`);
              break;
            case T.GROUP_FORM:
              if (removed[dev] === 1) v.violate(`${groupName(dev, pasid, f2)} was formed after the device was removed`);
              break;
          }
        },
        deferred(_k, dev, _b, seq) {
          v.mark();
          for (const [id, g] of st.groups.ofDevice(dev)) {
            if (g.seq < seq) v.violate(`${groupName(dev, g.pasid, g.prgi)} is still pending after remove_device`, false, { dev, group: id });
          }
        },
      };
    },
  }),
  defineRule({
    id: 'CORE.PARTIAL.FREED',
    side: 'kernel',
    source: 'iopf_queue_discard_partial(), iopf_queue_remove_device(); linux-iopf §6',
    statement: "After discard_partial (of the device's IOMMU) or remove_device no partial fault of that device survives.",
    mode: 'full',
    ftrace: false,
    on: [T.DEVICE_REMOVE, T.DISCARD_PARTIAL],
    check: (st, v) => ({
      onEvent(kind, dev, _f1, _f2, _f3, iommu) {
        if (kind === T.DEVICE_REMOVE) v.defer(kind, dev, 0);
        else v.defer(kind, iommu, 0);
      },
      deferred(kind, a, _b, seq) {
        v.mark();
        if (kind === T.DEVICE_REMOVE) {
          for (const [req, p] of st.partials.ofDevice(a)) {
            if (p.seq < seq) v.violate(`${partialName(a, p.pasid, p.prgi)} survived remove_device`, false, { dev: a, req });
          }
        } else {
          // The devices behind that IOMMU only, reported in the order the partials arrived.
          const left: [number, { dev: number; pasid: number; prgi: number; seq: number }][] = [];
          for (let dev = 0; dev < st.devIommu.length; dev++) {
            if (st.devIommu[dev] !== a) continue;
            for (const [req, p] of st.partials.ofDevice(dev)) if (p.seq < seq) left.push([req, p]);
          }
          left.sort((x, y) => x[1].seq - y[1].seq);
          for (const [req, p] of left) v.violate(`${partialName(p.dev, p.pasid, p.prgi)} survived discard_partial of IOMMU ${a}`, false, { dev: p.dev, req });
        }
      },
    }),
  }),
  defineRule({
    id: 'CORE.PARTIAL.GATHERED',
    side: 'kernel',
    source: 'iommu_report_device_fault() step 5 (partials gathered by grpid); AMD ppr.c iommu_call_iopf_notifier (grpid = PPR_TAG); linux-iopf §3',
    statement: 'When a group forms for PRG index p of a device, every partial fault of (device, p) still listed joins it; none is left behind on the partial list.',
    mode: 'full',
    ftrace: false,
    on: [T.GROUP_FORM],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, grpid) {
        v.mark();
        const set = st.partialsBySlot.get(st.slot);
        if (set === undefined) return;
        const prgi = prgiOfGrpid(grpid);
        for (const req of set) {
          const p = st.partials.get(req);
          // Same PRG index, another grpid: the core does not gather it, and once this group is
          // answered the index is reused, so nothing ever will (AMD's PPR tag as grpid). It stays
          // on the core's list (a flush or discard may still free it), reported once.
          if (p !== undefined && p.dev === dev && p.prgi === prgi && p.grpid !== grpid) {
            v.violate(`${groupName(dev, pasid, prgi)} (grpid ${grpid}) leaves ${partialName(dev, p.pasid, p.prgi)} (grpid ${p.grpid}) on the partial list`);
          }
        }
      },
    }),
  }),
  defineRule({
    id: 'CORE.FLUSH.ONLY_ITS_PASID',
    side: 'kernel',
    source: 'iopf_queue_flush_dev(dev, pasid) (seed v4 09/10: the partial and pending walks compare the PASID); linux-iopf §5',
    statement: "flush(dev, pasid) answers and frees only that PASID's pending groups and partial faults (flush(dev): any of the device's).",
    mode: 'full',
    ftrace: false,
    on: [T.FLUSH_BEGIN, T.FLUSH_END, T.RESPONSE_SEND, T.PARTIAL_FREE],
    check: (st, v) => {
      /** Flushes in progress per (device, PASID) (PASID -1: the whole device). */
      const flushing = new Map<number, number>();
      const busy = new Int32Array(st.maxDev);
      const covered = (dev: number, pasid: number): boolean => flushing.has(dpKey(dev, pasid)) || flushing.has(dpKey(dev, -1));
      return {
        onEvent(kind, dev, pasid, f2, _f3, f4, f5) {
          switch (kind) {
            case T.FLUSH_BEGIN: {
              const k = dpKey(dev, pasid);
              flushing.set(k, (flushing.get(k) ?? 0) + 1);
              busy[dev]!++;
              break;
            }
            case T.FLUSH_END: {
              const k = dpKey(dev, pasid);
              const n = (flushing.get(k) ?? 1) - 1;
              if (n <= 0) flushing.delete(k);
              else flushing.set(k, n);
              if (busy[dev]! > 0) busy[dev]!--;
              break;
            }
            case T.RESPONSE_SEND: {
              // f4 code, f5 source; the response's own PASID field may be absent
              // (PRG Response PASID Required clear): the group's PASID is the one that counts.
              if (f5 !== RespSource.FLUSH || f4 < 0) return;
              const g = st.group;
              if (g === undefined) return;
              v.mark();
              if (busy[dev] === 0) v.violate(`${groupName(dev, g.pasid, g.prgi)} was answered by a flush outside any flush of the device`);
              else if (!covered(dev, g.pasid)) v.violate(`a flush of device ${dev} answered ${groupName(dev, g.pasid, g.prgi)}, whose PASID it does not flush`);
              break;
            }
            case T.PARTIAL_FREE:
              // f2 PRG index, f4 reason.
              if (f4 !== PartialFree.FLUSH) return;
              v.mark();
              if (!covered(dev, pasid)) v.violate(`a flush of device ${dev} freed ${partialName(dev, pasid, f2)}, whose PASID it does not flush`);
              break;
          }
        },
      };
    },
  }),
  defineRule({
    id: 'CORE.GROUP.EVERY_REQUEST',
    side: 'kernel',
    source: 'iommu_report_device_fault() steps 4-5 (partial list, group gathered from it); linux-iopf §3',
    statement:
      "Every request that reached the core is, per group, handled in its group, answered, or dropped with a reason: a group formed for (device, PASID, grpid) holds its last request and every partial fault of that PASID and grpid still listed — no more, no fewer (a core that matches grpid alone may add the listed ones of other PASIDs, all of them: CORE.GROUP.ONE_PASID's matter).",
    mode: 'full',
    ftrace: false,
    on: [T.GROUP_FORM],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, grpid, _group, count) {
        v.mark();
        // The partials listed for this PRG, seen before the shared state moves them into the group.
        const { same, other } = st.gatherable(dev, pasid, grpid);
        if (count === same + 1 || (other > 0 && count === same + other + 1)) return;
        v.violate(
          count < same + 1
            ? `${groupName(dev, pasid, grpid)} (grpid ${grpid}) holds ${count} faults: ${same + 1 - count} of its ${same} listed partial faults neither joined it nor were freed with a reason`
            : `${groupName(dev, pasid, grpid)} (grpid ${grpid}) holds ${count} faults, but only ${same} partial faults were listed for it${other > 0 ? ` (and ${other} of other PASIDs with its grpid)` : ''}`,
        );
      },
    }),
  }),
  defineRule({
    id: 'CORE.GROUP.ONE_PASID',
    side: 'kernel',
    source: 'iommu_report_device_fault() step 5 (every kernel gathers partials by grpid, PASID not compared); linux-iopf §3 observation (b)',
    statement: "Every fault gathered into a group has the group's PASID (no partial of another PASID joins it).",
    mode: 'full',
    ftrace: false,
    on: [T.GROUP_FORM],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, grpid, _group, count) {
        v.mark();
        // Listed partials of another PASID with this grpid joined iff the group holds them all
        // (linux-iopf §3 step 5, observation b); the contract leaves them listed.
        const { same, other } = st.gatherable(dev, pasid, grpid);
        if (other === 0 || count !== same + other + 1) return;
        const set = st.partialsBySlot.get(st.slot);
        if (set === undefined) return;
        const prgi = prgiOfGrpid(grpid);
        for (const req of set) {
          const p = st.partials.get(req);
          if (p !== undefined && p.dev === dev && p.prgi === prgi && p.grpid === grpid && p.pasid !== pasid) {
            // The subject names the partial that joined (the counterexample follows its PRG).
            v.violate(`${groupName(dev, pasid, prgi)} gathers ${partialName(dev, p.pasid, p.prgi)}`, true, { dev, pasid: p.pasid, prgi, req });
          }
        }
      },
    }),
  }),
  defineRule({
    id: 'CORE.REMOVE.ANSWERED_ONCE',
    side: 'kernel',
    source: 'iopf_queue_remove_device() (answers each pending group INVALID and unlinks it; kernel-doc: "respond to all outstanding faults"); linux-iopf §6',
    statement:
      'When remove_device returns, every group the core formed for the device was answered exactly once: none left unanswered, and remove answers none that was answered already.',
    mode: 'full',
    ftrace: false,
    on: [T.GROUP_FORM, T.RESPONSE_SEND, T.DEVICE_REMOVE],
    check: (st, v) => {
      /** Per device: group id → [PASID, PRG index, seq of its formation, answers so far]. */
      const perDev: (FifoMap<Int32Array> | undefined)[] = [];
      return {
        onEvent(kind, dev, pasid, prgi, group, code, source) {
          if (kind === T.GROUP_FORM) {
            let m = perDev[dev];
            if (m === undefined) {
              m = new FifoMap<Int32Array>(4096);
              perDev[dev] = m;
            }
            const r = new Int32Array(4);
            r[0] = pasid;
            r[1] = prgiOfGrpid(prgi);
            r[2] = st.seq;
            m.set(group, r);
          } else if (kind === T.RESPONSE_SEND) {
            // Answers of a core group (not the report path's, a driver check's or the hardware's).
            if (group < 0 || source === RespSource.REPORT_ERROR || source === RespSource.DRIVER_CHECK || source === RespSource.HARDWARE) return;
            const r = perDev[dev]?.get(group);
            if (r === undefined) return;
            // A late attempt puts nothing on the wire; it still ends a group nobody had answered
            // (an SMMUv3 CMD_RESUME after CMD_STALL_TERM).
            if (code < 0) {
              if (r[3] === 0) r[3] = 1;
              return;
            }
            r[3]!++;
            if (source === RespSource.REMOVE) {
              v.mark();
              if (r[3]! > 1) v.violate(`remove_device answered ${groupName(dev, r[0]!, r[1]!)} again`, true, { dev, pasid: r[0]!, prgi: r[1]! });
            }
          } else {
            v.defer(kind, dev, 0);
          }
        },
        deferred(_k, dev, _b, seq) {
          v.mark();
          const m = perDev[dev];
          if (m === undefined) return;
          const done: number[] = [];
          for (const [id, r] of m) {
            if (r[2]! >= seq) continue;
            if (r[3] === 0) v.violate(`${groupName(dev, r[0]!, r[1]!)} was never answered when remove_device returned`, false, { dev, pasid: r[0]!, prgi: r[1]! });
            done.push(id);
          }
          for (const id of done) m.delete(id);
        },
      };
    },
  }),
  defineRule({
    id: 'CORE.HANDLER.EACH_FAULT_ONCE',
    side: 'kernel',
    source: 'iommu_sva_handle_iopf() walks group->faults, which iommu_report_device_fault() step 5 built (the partials of the grpid, then the last fault); linux-iopf §3, §7',
    statement:
      'An in-kernel (SVA) handler resolves only faults of its own group, each at most once, and — when it answers Success — every one of them.',
    mode: 'full',
    ftrace: false,
    on: [T.GROUP_FORM, T.HANDLER_START, T.HANDLER_FAULT, T.HANDLER_END],
    check: (st, v) => {
      /** Partial fault (request id) → the group it was gathered into. */
      const memberOf = fifoMap<number>();
      /** Request ids the handler resolved → the group. */
      const resolved = fifoMap<number>();
      /** SVA groups: faults in the group, faults resolved, resolved faults that were not a gathered partial (at most its last). */
      const count = fifoMap<number>();
      const seen = fifoMap<number>();
      const extra = fifoMap<number>();
      return {
        onEvent(kind, dev, pasid, prgi, group, f4) {
          switch (kind) {
            case T.GROUP_FORM: {
              // The partials the core lists for this grpid join the group (seen before the shared
              // state moves them).
              const list = st.partialsBySlot.get(st.slot);
              if (list !== undefined) {
                for (const req of list) {
                  const p = st.partials.get(req);
                  if (p !== undefined && p.dev === dev && p.grpid === prgi) memberOf.set(req, group);
                }
              }
              count.set(group, f4);
              break;
            }
            case T.HANDLER_START:
              if (f4 === HandlerType.SVA) {
                seen.set(group, 0);
                extra.set(group, 0);
              }
              break;
            case T.HANDLER_FAULT: {
              const n = seen.get(group);
              if (n === undefined) return;
              v.mark();
              const req = f4;
              const what = groupName(dev, pasid, prgi);
              if (resolved.get(req) === group) {
                v.violate(`the handler of ${what} resolved one of its faults twice`, true, { dev, pasid, prgi });
                return;
              }
              resolved.set(req, group);
              seen.set(group, n + 1);
              const m = memberOf.get(req);
              if (m !== undefined && m !== group) v.violate(`the handler of ${what} resolved a fault gathered into another group`, true, { dev, pasid, prgi });
              else if (m === undefined) {
                const x = (extra.get(group) ?? 0) + 1;
                extra.set(group, x);
                if (x > 1) v.violate(`the handler of ${what} resolved a fault that is not in its group`, true, { dev, pasid, prgi });
              }
              break;
            }
            case T.HANDLER_END: {
              const n = seen.get(group);
              if (n === undefined) return;
              seen.delete(group);
              extra.delete(group);
              const c = count.get(group);
              count.delete(group);
              v.mark();
              // f4: the group's core response code; SUCCESS means every fault was resolved. A trace
              // without handler_fault events (older, or another handler's) says nothing here.
              if (f4 === 0 && c !== undefined && n > 0 && n !== c) {
                v.violate(`the handler of ${groupName(dev, pasid, prgi)} answered Success after resolving ${n} of its ${c} faults`, true, { dev, pasid, prgi });
              }
              break;
            }
          }
        },
      };
    },
  }),
];
