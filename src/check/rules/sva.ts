/** The SVA handler's contract (linux-iopf §7): a fault is resolved in the mm it was sent for. */
import { HandlerType, TraceKind } from '../../trace/events.js';
import { MM_UNBOUND, MM_UNKNOWN, dpKey, fifoMap } from '../state.js';
import { defineRule, groupName, type RuleDef } from './rule.js';

const T = TraceKind;

export const SVA_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'SVA.PASID.NO_STALE_MM',
    side: 'kernel',
    source: 'iommu-sva.c PASID lifetime; linux-iopf §7',
    statement: 'A fault sent while PASID p belonged to mm A is never handled against another mm after p is reused.',
    mode: 'full',
    ftrace: false,
    on: [TraceKind.HANDLER_START],
    check: (st, v) => ({
      onEvent(_k, _f0, _f1, _f2, group, handler, mm) {
        const g = st.groups.get(group);
        if (g === undefined || handler !== HandlerType.SVA || mm < 0 || g.sendMm === MM_UNKNOWN) return;
        v.mark();
        if (g.sendMm !== mm) {
          v.violate(
            g.sendMm === MM_UNBOUND
              ? `${groupName(g.dev, g.pasid, g.prgi)} was sent while its PASID was unbound and is handled against mm ${mm}`
              : `${groupName(g.dev, g.pasid, g.prgi)} was sent for mm ${g.sendMm} and is handled against mm ${mm}`,
          );
        }
      },
    }),
  }),
  defineRule({
    id: 'SVA.PASID.NO_EARLY_REUSE',
    side: 'kernel',
    source:
      'iommu-sva.c iommu_sva_bind_device / mm_pasid_drop (a PASID returns to the global allocator only when its mm is freed, after every attach is gone); iopf_queue_flush_dev(dev, pasid) before the PASID is released (seed v4 09/10); linux-iopf §5, §7',
    statement:
      'A PASID is not given to another address space while its previous owner still has it attached to a device or has a group of it pending (queued, held by a handler or by user space).',
    mode: 'full',
    ftrace: false,
    on: [T.BIND, T.UNBIND],
    check: (st, v) => {
      /** PASID → the address space it was last given to. */
      const owner = fifoMap<number>();
      /** (device, PASID) attached → 1; PASID → how many devices have it attached. */
      const attached = fifoMap<number>();
      const attaches = fifoMap<number>();
      return {
        onEvent(kind, dev, pasid, _f2, mm, result) {
          if (kind === T.UNBIND) {
            if (attached.delete(dpKey(dev, pasid))) attaches.set(pasid, Math.max(0, (attaches.get(pasid) ?? 1) - 1));
            return;
          }
          if (result !== 0 || pasid < 0) return;
          const prev = owner.get(pasid);
          if (prev !== undefined && prev !== mm) {
            // The PASID changes hands: nothing of its previous owner may remain.
            v.mark();
            const n = attaches.get(pasid) ?? 0;
            if (n > 0) v.violate(`PASID ${pasid} was given to mm ${mm} while still attached to ${n} device(s) for mm ${prev}`);
            for (const [, g] of st.groups) {
              if (g.pasid === pasid && g.sendMm === prev) {
                v.violate(`PASID ${pasid} was given to mm ${mm} while ${groupName(g.dev, pasid, g.prgi)}, sent for mm ${prev}, is still pending`, true, { dev: g.dev, pasid, prgi: g.prgi });
              }
            }
          }
          if (prev !== mm) owner.set(pasid, mm);
          const k = dpKey(dev, pasid);
          if (!attached.has(k)) {
            attached.set(k, 1);
            attaches.set(pasid, (attaches.get(pasid) ?? 0) + 1);
          }
        },
      };
    },
  }),
];
