/** The SVA handler's contract (linux-iopf §7): a fault is resolved in the mm it was sent for. */
import { HandlerType, TraceKind } from '../../trace/events.js';
import { MM_UNBOUND, MM_UNKNOWN } from '../state.js';
import { defineRule, groupName, type RuleDef } from './rule.js';

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
];
