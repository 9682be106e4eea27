/** The iommufd fault uAPI's contract (linux-iopf §9): write() accounting, no Response Failure from user space, detach/replace answer the attachment's groups. */
import { HandlerType, PciRespCode, RespSource, TraceKind } from '../../trace/events.js';
import { LATE_IGNORED, fifoMap } from '../state.js';
import { defineRule, groupName, type RuleDef } from './rule.js';

const T = TraceKind;

export const IOMMUFD_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'IOMMUFD.WRITE.ERROR_RETURNED',
    side: 'kernel',
    source: 'iommufd eventq.c fault write() (Fixes: 07838f7fd529); linux-iopf §9',
    statement:
      'write() on the fault fd returns 8 x the responses it took, or an error when it took none; never more than asked.',
    mode: 'full',
    ftrace: false,
    on: [T.RESPONSE_SEND, T.IOMMUFD_WRITE],
    check: (st, v) => {
      /** Responses user space handed in since the last write() returned (iommufd_write follows them). */
      let taken = 0;
      return {
        onEvent(kind, _f0, _f1, _f2, _f3, f4, f5) {
          if (kind === T.RESPONSE_SEND) {
            const code = f4;
            const source = f5;
            if (source !== RespSource.GROUP) return;
            if (
              code < 0
                ? code === LATE_IGNORED
                : st.group !== undefined && st.group.handler === HandlerType.IOMMUFD
            )
              taken++;
            return;
          }
          const bytes = f4;
          const result = f5;
          const n = taken;
          taken = 0;
          v.mark();
          if (result > bytes) {
            v.violate(`iommufd write() of ${bytes} bytes returned ${result}`);
          } else if (result > 0 && result !== 8 * n) {
            v.violate(`iommufd write() returned ${result} bytes but took ${n} responses`);
          } else if (result <= 0 && n > 0) {
            v.violate(`iommufd write() took ${n} responses but returned ${result}`);
          }
        },
      };
    },
  }),
  defineRule({
    id: 'IOMMUFD.RESP.NO_FAILURE',
    side: 'kernel',
    source: 'uapi iommu_hwpt_page_response (FAILURE removed); linux-iopf §9',
    statement:
      'A group delivered through iommufd is never answered Response Failure on behalf of user space.',
    mode: 'full',
    ftrace: false,
    on: [T.RESPONSE_SEND],
    check: (st, v) => ({
      onEvent(_k, dev, _pasid, _prgi, _group, code, source) {
        const g = st.group;
        if (g === undefined || g.handler !== HandlerType.IOMMUFD || source !== RespSource.GROUP) return;
        v.mark();
        if (code === PciRespCode.FAILURE)
          v.violate(
            `${groupName(dev, g.pasid, g.prgi)}, delivered through iommufd, was answered Response Failure from user space`,
          );
      },
    }),
  }),
  defineRule({
    id: 'IOMMUFD.DETACH.AUTO_RESPONSE',
    side: 'kernel',
    source:
      'iommufd device.c iommufd_hwpt_detach_device / iommufd_hwpt_replace_device → eventq.c iommufd_auto_response_faults(old hwpt, old handle) (July 2026 fix of the replace path); linux-iopf §9, §12 item 8',
    statement:
      'When a detach or replace of an iommufd attachment returns, every group of that (device, PASID) handed to iommufd before it — queued or awaiting user space — has been answered.',
    mode: 'full',
    ftrace: false,
    on: [T.IOMMUFD_LIFECYCLE],
    check: (st, v) => {
      /** Groups already reported (a later detach of the same PASID does not report them again). */
      const reported = fifoMap<number>();
      return {
        onEvent(_k, dev, pasid, _f2, _fault, op) {
          // op 2: detach, 3: replace (world.ts); a fault object's close (0) or destroy (1) names no attachment.
          if ((op !== 2 && op !== 3) || dev < 0 || !st.devOk(dev)) return;
          v.defer(op, dev, pasid);
        },
        deferred(op, dev, pasid, seq) {
          v.mark();
          for (const [id, g] of st.groups.ofDevice(dev)) {
            if (g.handler === HandlerType.IOMMUFD && g.pasid === pasid && g.seq < seq && !reported.has(id)) {
              reported.set(id, 1);
              v.violate(
                `${groupName(dev, pasid, g.prgi)} was left unanswered by the ${op === 3 ? 'replace' : 'detach'} of its attachment`,
                false,
                { dev, pasid, prgi: g.prgi },
              );
            }
          }
        },
      };
    },
  }),
];
