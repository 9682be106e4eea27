/**
 * PCIe PRI rules: the function's side (PRI.*, hardware ref §1.3) and the host's side of the page
 * request protocol (HOST.RESP.*, HOST.STOP.*, hardware ref §1.6).
 */
import { PciRespCode, RecvOutcome, TraceKind } from '../../trace/events.js';
import { D_CLOSED, D_IDLE, D_OPEN, H_COMPLETE, H_PARTIAL, Resp, dpKey, fifoMap } from '../state.js';
import { defineRule, pasidName, type RuleDef } from './rule.js';

const T = TraceKind;

/** A PCIe wire code the spec defines for a PRG Response (Success, Invalid Request, Response Failure). */
function definedCode(code: number): boolean {
  return code === PciRespCode.SUCCESS || code === PciRespCode.INVALID || code === PciRespCode.FAILURE;
}

export const PCIE_RULES: readonly RuleDef[] = [
  defineRule({
    id: 'PRI.ENABLE.REQUIRED',
    side: 'device',
    source: 'PCIe Base 10.5.2 PRI Control (Enable); hardware ref §1.3',
    statement: 'The function sends page requests only while PRI Enable is set.',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.PAGE_REQUEST],
    check: (st, v) => ({
      onEvent(_k, dev) {
        v.mark();
        if (st.priDisabled[dev] === 1) v.violate(`device ${dev} sent a page request with PRI Enable clear`);
      },
    }),
  }),
  defineRule({
    id: 'PRI.CREDIT.LIMIT',
    side: 'device',
    source: 'PCIe Base 10.5.2 Outstanding Page Request Allocation; hardware ref §1.3',
    statement: 'Outstanding page requests (every request of every unanswered group) never exceed the allocation.',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.PAGE_REQUEST, T.CREDIT_STALL],
    check: (st, v) => {
      /** Allocation learned from credit_stall (-1: unknown, ask the hints). */
      const alloc = new Int32Array(st.maxDev).fill(-1);
      return {
        onEvent(kind, dev, _f1, _f2, _f3, f4, f5) {
          if (kind === T.CREDIT_STALL) {
            const outstanding = f4;
            const allocation = f5;
            if (allocation >= 0) alloc[dev] = allocation;
            v.mark();
            if (outstanding > allocation) v.violate(`device ${dev} reports ${outstanding} outstanding with allocation ${allocation}`);
            return;
          }
          const a = alloc[dev]! >= 0 ? alloc[dev]! : (st.opts.creditAllocation?.(dev) ?? -1);
          if (a >= 0) {
            v.mark();
            if (st.dOut[dev]! + 1 > a) v.violate(`device ${dev} has ${st.dOut[dev]! + 1} page requests outstanding, allocation ${a}`);
          }
        },
      };
    },
  }),
  defineRule({
    id: 'PRI.PRGI.NO_REUSE',
    side: 'device',
    source: 'PCIe Base 10.4.1 Page Request Group Index; hardware ref §1.3',
    statement: 'A PRG index is not used for a new group (another PASID) while a group with that index is outstanding.',
    mode: 'cheap',
    ftrace: true,
    on: [T.PAGE_REQUEST],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, prgi) {
        const s = st.slot;
        v.mark();
        if (st.dState[s] === D_OPEN && st.dPasid[s] !== pasid) {
          v.violate(
            `device ${dev} started a group of PASID ${pasid} under PRG index ${prgi} while one of PASID ${st.dPasid[s]!} is outstanding`,
          );
        }
      },
    }),
  }),
  defineRule({
    id: 'PRI.GROUP.LAST_CLOSES',
    side: 'device',
    source: 'PCIe Base 10.4.1 Last Request in PRG; hardware ref §1.3',
    statement: 'After the L=1 request of a group the function sends nothing more under that index until it is answered.',
    mode: 'cheap',
    ftrace: true,
    on: [T.PAGE_REQUEST],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, prgi) {
        v.mark();
        if (st.dState[st.slot] === D_CLOSED) {
          v.violate(`device ${dev} sent a page request of ${pasidName(pasid)} under PRG index ${prgi} after the group's L=1 request, before its response`);
        }
      },
    }),
  }),
  defineRule({
    id: 'PRI.STOP.NO_CREDIT',
    side: 'device',
    source: 'PCIe Base 10.4.1.2 Stop Marker; hardware ref §1.3',
    statement: 'A Stop Marker consumes no page request credit (the outstanding count the function reports excludes it).',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.CREDIT_STALL],
    check: (st, v) => ({
      onEvent(_k, dev, _f1, _f2, _f3, outstanding) {
        v.mark();
        if (outstanding > st.dOut[dev]!) {
          v.violate(
            `device ${dev} counts ${outstanding} outstanding but only ${st.dOut[dev]!} page requests are unanswered (Stop Markers charged?)`,
          );
        }
      },
    }),
  }),
  defineRule({
    id: 'PRI.STOP.AFTER_QUIESCE',
    side: 'device',
    source: 'PCIe Base 10.4.1.2 Stop Marker; hardware ref §1.3',
    statement: 'After a Stop Marker for a PASID the function sends no page request of that PASID until it is bound again.',
    mode: 'full',
    ftrace: false,
    on: [T.STOP_MARKER, T.PAGE_REQUEST, T.BIND],
    check: (st, v) => {
      /** (device, PASID) pairs that sent a Stop Marker and were not bound again. */
      const stopped = fifoMap<number>();
      return {
        onEvent(kind, dev, pasid, _f2, _f3, f4) {
          if (kind === T.STOP_MARKER) {
            // Host-only traces (ftrace) have no bind events, so a PASID reused after its Stop
            // Marker cannot be told from a function that broke the rule: not armed there.
            if (st.hostOnly) return;
            // Armed: the requests that follow are tested against it.
            v.mark();
            stopped.set(dpKey(dev, pasid), 1);
          } else if (kind === T.BIND) {
            if (f4 === 0) stopped.delete(dpKey(dev, pasid));
          } else if (stopped.size > 0) {
            v.mark();
            if (stopped.has(dpKey(dev, pasid))) v.violate(`device ${dev} sent a page request of PASID ${pasid} after its Stop Marker`);
          }
        },
      };
    },
  }),
  defineRule({
    id: 'PRI.RESP.UPRGI',
    side: 'device',
    source: 'PCIe Base 10.5.2 PRI Status (UPRGI); hardware ref §1.3',
    statement: 'A response matching no outstanding group is flagged UPRGI and ignored; one matching a group is not.',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.RESPONSE_RECV],
    check: (st, v) => ({
      onEvent(_k, dev, _pasid, prgi, _f3, _code, outcome) {
        if (outcome === RecvOutcome.IGNORED_RF) return;
        const d = st.dState[st.slot]!;
        v.mark();
        if (d === D_IDLE && outcome !== RecvOutcome.UPRGI && outcome !== RecvOutcome.PASID_FORM_ERROR) {
          v.violate(`device ${dev} accepted a response for PRG index ${prgi} with no group outstanding`);
        } else if (d !== D_IDLE && outcome === RecvOutcome.UPRGI) {
          v.violate(`device ${dev} flagged UPRGI for PRG index ${prgi} although a group is outstanding`);
        }
      },
    }),
  }),
  defineRule({
    id: 'PRI.RESP.PASID_FORM',
    side: 'device',
    source: 'PCIe Base 10.5.2 PRG Response PASID Required; hardware ref §1.3',
    statement: 'A response reaching the function carries a PASID iff the request had one and PRG Response PASID Required is set.',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.RESPONSE_RECV],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, _prgi, _f3, _code, outcome) {
        const s = st.slot;
        if (outcome === RecvOutcome.IGNORED_RF || st.dState[s] === D_IDLE) return;
        const req = st.required(dev);
        if (req === undefined) return;
        v.mark();
        const expect = st.dPasid[s]! >= 0 && req;
        if (expect !== pasid >= 0) {
          v.violate(
            `device ${dev} (PASID required: ${req}) got a response ${pasid >= 0 ? 'with' : 'without'} PASID for a request ${st.dPasid[s]! >= 0 ? 'with' : 'without'} PASID`,
          );
        }
      },
    }),
  }),
  defineRule({
    id: 'PRI.RESP.FAILURE_DISABLES',
    side: 'device',
    source: 'PCIe Base 10.4.2 Response Failure (and reserved codes); hardware ref §1.3',
    statement: 'After a Response Failure (or reserved code) the function sends no page request until PRI is reset.',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.PAGE_REQUEST],
    check: (st, v) => ({
      onEvent(_k, dev) {
        v.mark();
        if (st.rf[dev] === 1) v.violate(`device ${dev} sent a page request after a Response Failure without a PRI reset`);
      },
    }),
  }),
  // --- Host (hardware ref §1.6) ---
  defineRule({
    id: 'HOST.RESP.ONE_PER_GROUP',
    side: 'host',
    source: 'PCIe Base 10.4.2; hardware ref §1.6',
    statement: 'A page request group that reached the host gets at most one response (software or hardware); none names a group that is not there.',
    mode: 'cheap',
    ftrace: true,
    on: [T.RESPONSE_SEND, T.AUTO_RESPONSE],
    check: (st, v) => ({
      onEvent(kind, dev, _f1, prgi) {
        const r = st.resp;
        if (r === Resp.NONE) return;
        v.mark();
        if (r === Resp.COMPLETE_AGAIN || r === Resp.PARTIAL_AGAIN || r === Resp.ANSWERED_AGAIN) {
          const who = kind === T.AUTO_RESPONSE ? 'hardware' : 'software';
          v.violate(`${who} response #${st.hResp[st.slot]! + 1} for the group of device ${dev} PRG index ${prgi}`);
        } else if (r === Resp.NONE_NO_GROUP) {
          v.violate(`response for device ${dev} PRG index ${prgi} names no group at the host`);
        }
      },
    }),
  }),
  defineRule({
    id: 'HOST.RESP.AFTER_LAST',
    side: 'host',
    source: 'PCIe Base 10.4.2; hardware ref §1.6',
    statement: 'A group is answered only after its L=1 request arrived at the host (not while it is still in flight).',
    mode: 'cheap',
    ftrace: false,
    deviceOnly: true,
    on: [T.RESPONSE_SEND, T.AUTO_RESPONSE],
    check: (st, v) => ({
      onEvent(_k, dev, _f1, prgi) {
        const r = st.resp;
        if (r === Resp.NONE) return;
        v.mark();
        if (r === Resp.PARTIAL_BEFORE_LAST) {
          v.violate(`response for device ${dev} PRG index ${prgi} before the group's L=1 request reached the host`);
        } else if (r === Resp.NONE_BEFORE_LAST) {
          v.violate(`response for device ${dev} PRG index ${prgi} before any request of the group reached the host`);
        }
      },
    }),
  }),
  defineRule({
    id: 'HOST.RESP.NO_PARTIAL',
    side: 'host',
    source: 'hardware ref §1.6; linux-iopf §3 step 2 (error response for a non-last request)',
    statement: 'No response names a group whose L=1 request has not been sent (a response to L=0 requests only).',
    mode: 'cheap',
    ftrace: true,
    on: [T.RESPONSE_SEND, T.AUTO_RESPONSE],
    check: (st, v) => ({
      onEvent(_k, dev, _f1, prgi) {
        const r = st.resp;
        if (r === Resp.NONE) return;
        v.mark();
        if (r === Resp.PARTIAL_NO_LAST || r === Resp.NONE_NO_LAST) {
          v.violate(`response for device ${dev} PRG index ${prgi} whose group has no L=1 request`);
        }
      },
    }),
  }),
  defineRule({
    id: 'HOST.RESP.PASID_IFF_REQUIRED',
    side: 'host',
    source: 'PCIe Base 10.5.2 PRG Response PASID Required; linux-iopf §8 (intel_iommu_page_response)',
    statement: "A software response carries the request's PASID iff the request had one and the function requires it.",
    mode: 'cheap',
    ftrace: true,
    on: [T.RESPONSE_SEND],
    check: (st, v) => ({
      onEvent(_k, dev, pasid, _prgi, _group, code) {
        if (code < 0) return;
        // Judged against the PASID the group's L=1 (or first) request carried.
        const s = st.slot;
        const hs = st.hState[s]!;
        const reqPasid = hs === H_PARTIAL || hs === H_COMPLETE ? st.hPasid[s]! : st.dState[s] !== D_IDLE ? st.dPasid[s]! : -2;
        const required = st.required(dev);
        if (reqPasid === -2 || required === undefined) return;
        v.mark();
        const expect = reqPasid >= 0 && required;
        if (expect !== pasid >= 0) {
          v.violate(
            `response to device ${dev} (PASID required: ${required}) ${pasid >= 0 ? 'carries' : 'lacks'} a PASID; the request ${reqPasid >= 0 ? `had PASID ${reqPasid}` : 'had none'}`,
          );
        } else if (pasid >= 0 && pasid !== reqPasid) {
          v.violate(`response to device ${dev} carries PASID ${pasid}, the request had ${reqPasid}`);
        }
      },
    }),
  }),
  defineRule({
    id: 'HOST.RESP.CODE_DEFINED',
    side: 'host',
    source: 'PCIe Base 10.4.2 Response Code; hardware ref §1.4',
    statement: 'Only Success (0), Invalid Request (1) and Response Failure (0xF) are sent.',
    mode: 'cheap',
    ftrace: true,
    on: [T.RESPONSE_SEND, T.AUTO_RESPONSE],
    check: (_st, v) => ({
      onEvent(kind, dev, _f1, prgi, _f3, code) {
        if (kind === T.AUTO_RESPONSE) {
          v.mark();
          if (!definedCode(code)) v.violate(`hardware auto-response with undefined code ${code}`);
          return;
        }
        if (code < 0) return;
        v.mark();
        if (!definedCode(code)) v.violate(`response with undefined code ${code} for device ${dev} PRG index ${prgi}`);
      },
    }),
  }),
  defineRule({
    id: 'HOST.STOP.NO_RESPONSE',
    side: 'host',
    source: 'PCIe Base 10.4.1.2 Stop Marker; hardware ref §1.6, §2.4 (PRQ thread bad-request path)',
    statement: 'The host never answers a Stop Marker (neither software nor a hardware auto-response).',
    mode: 'cheap',
    ftrace: true,
    on: [T.QUEUE_WRITE, T.AUTO_RESPONSE, T.RESPONSE_SEND],
    check: (st, v) => ({
      onEvent(kind, dev, pasid) {
        if (kind === T.QUEUE_WRITE) {
          if (st.stopReq) v.mark();
        } else if (kind === T.AUTO_RESPONSE) {
          v.mark();
          if (st.stopReq) v.violate(`hardware answered the Stop Marker of device ${dev} ${pasidName(pasid)}`);
        } else if (st.resp === Resp.STOP) {
          v.mark();
          v.violate(`software answered the Stop Marker of device ${dev} ${pasidName(pasid)}`);
        }
      },
    }),
  }),
];
