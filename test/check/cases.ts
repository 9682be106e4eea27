/**
 * Hand-crafted event sequences, one pair per rule: `good` exercises the rule and is clean for every
 * rule, `bad` breaks it. Used by the unit tests (fed to the Monitor directly) and to generate the
 * JSONL fixtures under test/fixtures/jsonl/ (one per broken rule).
 */
import { HandlerType, KIND_BY_NAME, KIND_INFO, PrFlag, RecvOutcome, RespSource } from '../../src/trace/events.js';
import type { MonitorOptions } from '../../src/check/monitor.js';
import { LATE_IGNORED } from '../../src/check/monitor.js';

export type Ev = readonly [number, number, number, number, number, number, number, number];

/** One event by name; fields not given are 0. */
export function E(t: number, name: string, fields: Record<string, number> = {}): Ev {
  const kind = KIND_BY_NAME.get(name);
  if (kind === undefined) throw new Error(`unknown kind ${name}`);
  const f = [0, 0, 0, 0, 0, 0];
  for (const [k, v] of Object.entries(fields)) {
    const i = KIND_INFO[kind]!.fields.indexOf(k);
    if (i < 0) throw new Error(`${name} has no field ${k}`);
    f[i] = v;
  }
  return [t, kind, f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!];
}

const R = PrFlag.READ;
const L = PrFlag.LAST;
const P = PrFlag.PASID;

export interface GroupSpec {
  dev?: number;
  pasid?: number;
  prgi: number;
  /** Request ids; the last one has L=1. */
  reqs: number[];
  group: number;
  handler?: number;
  mm?: number;
  code?: number;
  /** Respond with PASID (default: iff pasid >= 0, i.e. device requires it). */
  respPasid?: number;
  source?: number;
  /** Leave out the response (and its receipt). */
  noResponse?: boolean;
}

/** A clean page request group, from the device's requests to the device receiving the response. */
export function group(t0: number, g: GroupSpec): Ev[] {
  const dev = g.dev ?? 0;
  const pasid = g.pasid ?? 1;
  const out: Ev[] = [];
  let t = t0;
  g.reqs.forEach((req, i) => {
    const last = i === g.reqs.length - 1;
    const flags = R | (last ? L : 0) | (pasid >= 0 ? P : 0);
    out.push(E(t++, 'page_request', { dev, pasid, prgi: g.prgi, req, flags, page: 100 + req }));
    out.push(E(t++, 'queue_write', { dev, pasid, prgi: g.prgi, req, iommu: 0, depth: 1 }));
    out.push(E(t++, 'fault_report', { dev, pasid, prgi: g.prgi, req, result: 0, flags }));
    if (!last) out.push(E(t++, 'partial_add', { dev, pasid, prgi: g.prgi, req }));
  });
  const handler = g.handler ?? HandlerType.SVA;
  out.push(E(t++, 'group_form', { dev, pasid, prgi: g.prgi, group: g.group, count: g.reqs.length, aborted: 0 }));
  out.push(E(t++, 'handler_start', { dev, pasid, prgi: g.prgi, group: g.group, handler, mm: g.mm ?? -1 }));
  if (handler === HandlerType.SVA) {
    // iommu_sva_handle_iopf resolves the faults in order and stops at the first failure.
    for (const req of g.code === undefined || g.code === 0 ? g.reqs : g.reqs.slice(0, 1)) {
      out.push(E(t++, 'handler_fault', { dev, pasid, prgi: g.prgi, group: g.group, req, code: g.code ?? 0 }));
    }
  }
  out.push(E(t++, 'handler_end', { dev, pasid, prgi: g.prgi, group: g.group, code: g.code ?? 0 }));
  if (g.noResponse !== true) {
    const rp = g.respPasid ?? pasid;
    out.push(E(t++, 'response_send', { dev, pasid: rp, prgi: g.prgi, group: g.group, code: g.code ?? 0, source: g.source ?? RespSource.GROUP }));
    out.push(E(t++, 'response_recv', { dev, pasid: rp, prgi: g.prgi, code: g.code ?? 0, outcome: RecvOutcome.MATCHED }));
  }
  return out;
}

/**
 * A partial fault of `pasid` on PRG index 3 (request 1) whose PRG's last request (2) the IOMMU
 * dropped and answered itself (`code`): the partial stays listed, its PRG index free again.
 */
export function strandedPartial(pasid: number, code = 0): Ev[] {
  return [
    E(0, 'page_request', { dev: 0, pasid, prgi: 3, req: 1, flags: R | P }),
    E(0, 'queue_write', { dev: 0, pasid, prgi: 3, req: 1, iommu: 0, depth: 1 }),
    E(0, 'fault_report', { dev: 0, pasid, prgi: 3, req: 1, result: 0, flags: R | P }),
    E(0, 'partial_add', { dev: 0, pasid, prgi: 3, req: 1 }),
    E(0, 'page_request', { dev: 0, pasid, prgi: 3, req: 2, flags: R | P | L }),
    E(0, 'queue_drop', { dev: 0, pasid, prgi: 3, req: 2, iommu: 0, flags: R | P | L }),
    E(0, 'auto_response', { dev: 0, pasid, prgi: 3, req: 2, code, resp_pasid: pasid }),
    E(0, 'response_recv', { dev: 0, pasid, prgi: 3, code, outcome: 0 }),
  ];
}

/** Same virtual instant as the event before (in `seq`). */
export const SAME = -1;

/** Renumber times (10 ns apart) so a concatenation of pieces is in order; t = SAME keeps the instant. */
export function seq(...parts: (Ev | Ev[])[]): Ev[] {
  const flat: Ev[] = [];
  for (const p of parts) {
    if (typeof p[0] === 'number') flat.push(p as Ev);
    else flat.push(...(p as Ev[]));
  }
  let t = 0;
  return flat.map((e) => {
    if (e[0] !== SAME) t += 10;
    return [t, e[1], e[2], e[3], e[4], e[5], e[6], e[7]] as const;
  });
}

export const BASE_OPTS: MonitorOptions = {
  mode: 'full',
  deviceRequiresPasid: (dev) => (dev === 0 ? true : dev === 1 ? false : undefined),
  queueCapacity: new Map([[0, 4]]),
  overflowAutoResponse: new Map([[0, true], [1, false]]),
  creditAllocation: () => 8,
};

export interface RuleCase {
  readonly opts?: Partial<MonitorOptions>;
  readonly good: Ev[];
  readonly bad: Ev[];
}

const g1 = (over: Partial<GroupSpec> = {}): Ev[] => group(0, { prgi: 3, reqs: [1, 2], group: 1, ...over });

export const CASES: Record<string, RuleCase> = {
  'PRI.ENABLE.REQUIRED': {
    good: seq(E(0, 'pri_control', { dev: 0, op: 0 }), g1()),
    bad: seq(E(0, 'pri_control', { dev: 0, op: 1 }), g1()),
  },
  'PRI.CREDIT.LIMIT': {
    opts: { creditAllocation: () => 2 },
    good: seq(g1()),
    bad: seq(g1({ reqs: [1, 2, 3] })),
  },
  'PRI.PRGI.NO_REUSE': {
    good: seq(g1(), g1({ pasid: 2, reqs: [3, 4], group: 2 })),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'page_request', { dev: 0, pasid: 2, prgi: 3, req: 2, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 2, prgi: 3, req: 2, iommu: 0, depth: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 2, prgi: 3, group: -1, code: 1, source: RespSource.REPORT_ERROR }),
      E(0, 'response_recv', { dev: 0, pasid: 2, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'PRI.GROUP.LAST_CLOSES': {
    good: seq(g1(), g1({ reqs: [3, 4], group: 2 })),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 2, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 2, iommu: 0, depth: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
  },
  'PRI.STOP.NO_CREDIT': {
    opts: { creditAllocation: () => 1 },
    good: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'stop_marker', { dev: 0, pasid: 1, req: 2 }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 4, req: 2, iommu: 0, depth: 2 }),
      E(0, 'credit_stall', { dev: 0, outstanding: 1, allocation: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'stop_marker', { dev: 0, pasid: 1, req: 2 }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 4, req: 2, iommu: 0, depth: 2 }),
      E(0, 'credit_stall', { dev: 0, outstanding: 2, allocation: 2 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
  },
  'PRI.STOP.AFTER_QUIESCE': {
    good: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      g1({ mm: 7 }),
      E(0, 'stop_marker', { dev: 0, pasid: 1, req: 9 }),
      E(0, 'queue_drop', { dev: 0, pasid: 1, prgi: 5, req: 9, iommu: 0, flags: L | P }),
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      g1({ reqs: [3, 4], group: 2, mm: 7 }),
    ),
    bad: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      E(0, 'stop_marker', { dev: 0, pasid: 1, req: 9 }),
      E(0, 'queue_drop', { dev: 0, pasid: 1, prgi: 5, req: 9, iommu: 0, flags: L | P }),
      g1({ reqs: [3, 4], group: 2, mm: 7 }),
    ),
  },
  'PRI.RESP.UPRGI': {
    good: seq(g1(), E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: RecvOutcome.UPRGI })),
    bad: seq(g1({ noResponse: true }), E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0, source: 0 }), E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: RecvOutcome.UPRGI })),
  },
  'PRI.RESP.PASID_FORM': {
    good: seq(g1({ dev: 1, respPasid: -1 })),
    bad: seq(g1({ dev: 1 })),
  },
  'PRI.RESP.FAILURE_DISABLES': {
    good: seq(g1({ code: 15 }), E(0, 'pri_control', { dev: 0, op: 1 }), E(0, 'pri_control', { dev: 0, op: 2 }), E(0, 'pri_control', { dev: 0, op: 0 }), g1({ reqs: [3, 4], group: 2 })),
    bad: seq(g1({ code: 15 }), g1({ reqs: [3, 4], group: 2 })),
  },
  'HOST.RESP.ONE_PER_GROUP': {
    good: seq(g1()),
    bad: seq(g1({ noResponse: true }), E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 1, source: 1 }), E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 1, source: 1 })),
  },
  'HOST.RESP.AFTER_LAST': {
    good: seq(g1()),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 2, flags: R | P | L }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 1, source: RespSource.REPORT_ERROR }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 2, iommu: 0, depth: 1 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'HOST.RESP.NO_PARTIAL': {
    good: seq(g1()),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 1, source: RespSource.REPORT_ERROR }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'HOST.RESP.PASID_IFF_REQUIRED': {
    good: seq(g1({ dev: 1, respPasid: -1 }), g1({ dev: 0, reqs: [3, 4], group: 2 })),
    bad: seq(g1({ dev: 1 })),
  },
  'HOST.RESP.CODE_DEFINED': {
    good: seq(g1({ code: 1 })),
    bad: seq(g1({ code: 2 })),
  },
  'HOST.STOP.NO_RESPONSE': {
    good: seq(g1(), E(0, 'stop_marker', { dev: 0, pasid: 1, req: 9 }), E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 7, req: 9, iommu: 0, depth: 1 })),
    bad: seq(
      E(0, 'stop_marker', { dev: 0, pasid: 1, req: 9 }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 7, req: 9, iommu: 0, depth: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 7, group: -1, code: 1, source: RespSource.DRIVER_CHECK }),
    ),
  },
  'HOST.CONSERVATION': {
    good: seq(g1()),
    bad: seq(g1(), E(0, 'page_request', { dev: 0, pasid: 1, prgi: 4, req: 5, flags: R | P })),
  },
  'LIVENESS.ALL_ANSWERED': {
    good: seq(g1()),
    bad: seq(g1({ noResponse: true })),
  },
  'VTD.PRQ.FULL_N_MINUS_1': {
    good: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 3 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 4 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
  },
  'VTD.PRQ.OVERFLOW_AUTORESP': {
    good: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_drop', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, flags: R | P | L }),
      E(0, 'auto_response', { dev: 0, pasid: 1, prgi: 3, req: 1, code: 0, resp_pasid: 1 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_drop', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, flags: R | P | L }),
    ),
  },
  'VTD.DRAIN.COMPLETE': {
    good: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      g1({ mm: 7 }),
      E(0, 'drain_begin', { dev: 0, pasid: 1 }),
      E(0, 'drain_end', { dev: 0, pasid: 1, iterations: 1 }),
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      g1({ reqs: [3, 4], group: 2, mm: 7 }),
    ),
    bad: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'drain_begin', { dev: 0, pasid: 1 }),
      E(0, 'drain_end', { dev: 0, pasid: 1, iterations: 1 }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'fault_report', { dev: 0, pasid: 1, prgi: 3, req: 1, result: 0, flags: R | P | L }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: -1, code: 1, source: RespSource.REPORT_ERROR }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'CORE.FLUSH.NOTHING_PENDING': {
    good: seq(
      g1({ noResponse: true, handler: HandlerType.IOMMUFD }),
      E(0, 'flush_begin', { dev: 0, pasid: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.FLUSH }),
      E(0, 'flush_end', { dev: 0, pasid: 1, result: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
    bad: seq(
      g1({ noResponse: true, handler: HandlerType.IOMMUFD }),
      E(0, 'flush_begin', { dev: 0, pasid: 1 }),
      E(0, 'flush_end', { dev: 0, pasid: 1, result: 0 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'CORE.FLUSH.NO_NEW_FAULTS': {
    good: seq(g1(), E(0, 'flush_begin', { dev: 0, pasid: 1 }), E(0, 'flush_end', { dev: 0, pasid: 1, result: 0 }), g1({ reqs: [3, 4], group: 2 })),
    bad: seq(E(0, 'flush_begin', { dev: 0, pasid: 1 }), g1(), E(0, 'flush_end', { dev: 0, pasid: 1, result: 0 })),
  },
  'CORE.RESP.AT_MOST_ONCE': {
    good: seq(g1()),
    bad: seq(g1(), E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.FLUSH })),
  },
  'CORE.RESP.LATE_IS_NOT_ERROR': {
    good: seq(g1(), E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: LATE_IGNORED, source: RespSource.GROUP })),
    bad: seq(g1(), E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: -22, source: RespSource.GROUP })),
  },
  'CORE.REMOVE.NO_LIVE_GROUP': {
    good: seq(
      g1({ noResponse: true }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.REMOVE }),
      E(0, 'device_remove', { dev: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
    bad: seq(
      g1({ noResponse: true }).filter((e) => e[1] !== KIND_BY_NAME.get('handler_end')),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.REMOVE }),
      E(0, 'device_remove', { dev: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
      E(0, 'handler_end', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0 }),
    ),
  },
  'CORE.REMOVE.NOTHING_LEFT': {
    // device_remove before its responses, in the same instant: order inside an instant is free.
    good: seq(
      g1({ noResponse: true }),
      E(0, 'device_remove', { dev: 0 }),
      E(SAME, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.REMOVE }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
    bad: seq(
      g1({ noResponse: true }),
      E(0, 'device_remove', { dev: 0 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'CORE.PARTIAL.FREED': {
    good: seq(
      ...strandedPartial(1),
      E(0, 'partial_free', { dev: 0, pasid: 1, prgi: 3, req: 1, reason: 0 }),
      E(0, 'discard_partial', { iommu: 0, count: 1 }),
    ),
    bad: seq(
      ...strandedPartial(1),
      E(0, 'discard_partial', { iommu: 0, count: 0 }),
    ),
  },
  'CORE.PARTIAL.GATHERED': {
    // A two-request group. Good: its L=0 fault (grpid 3) joins the group its L=1 fault forms.
    // Bad (AMD mainline, grpid = PPR tag): the L=1 fault's grpid is 3 | 1 << 9, so the group forms
    // alone (count 1) and the L=0 fault stays on the partial list; the device is answered anyway.
    good: seq(g1()),
    bad: seq(
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'fault_report', { dev: 0, pasid: 1, prgi: 3, req: 1, result: 0, flags: R | P }),
      E(0, 'partial_add', { dev: 0, pasid: 1, prgi: 3, req: 1 }),
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 2, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 2, iommu: 0, depth: 1 }),
      E(0, 'fault_report', { dev: 0, pasid: 1, prgi: 0x203, req: 2, result: 0, flags: R | P | L }),
      E(0, 'group_form', { dev: 0, pasid: 1, prgi: 0x203, group: 1, count: 1, aborted: 0 }),
      E(0, 'handler_start', { dev: 0, pasid: 1, prgi: 0x203, group: 1, handler: HandlerType.SVA, mm: -1 }),
      E(0, 'handler_end', { dev: 0, pasid: 1, prgi: 0x203, group: 1, code: 0 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: RecvOutcome.MATCHED }),
    ),
  },
  'CORE.FLUSH.ONLY_ITS_PASID': {
    // seed: flush(dev 0, PASID 1) answers PASID 1's pending group. Bad: it also answers PASID 2's
    // group and frees PASID 2's partial (a flush that reaches beyond its PASID).
    good: seq(
      g1({ noResponse: true }),
      E(0, 'flush_begin', { dev: 0, pasid: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.FLUSH }),
      E(0, 'flush_end', { dev: 0, pasid: 1, result: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: 0 }),
    ),
    bad: seq(
      g1({ pasid: 2, noResponse: true }),
      E(0, 'flush_begin', { dev: 0, pasid: 1 }),
      E(0, 'response_send', { dev: 0, pasid: 2, prgi: 3, group: 1, code: 1, source: RespSource.FLUSH }),
      E(0, 'flush_end', { dev: 0, pasid: 1, result: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 2, prgi: 3, code: 1, outcome: 0 }),
    ),
  },
  'CORE.GROUP.EVERY_REQUEST': {
    // Bad: two partial faults of grpid 3 are listed, the group forms with one of them only (the
    // other vanishes: neither gathered nor freed with a reason).
    good: seq(group(0, { prgi: 3, reqs: [1, 2, 3], group: 1 })),
    bad: seq(
      group(0, { prgi: 3, reqs: [1, 2, 3], group: 1 }).map((e) =>
        e[1] === KIND_BY_NAME.get('group_form') ? E(e[0], 'group_form', { dev: 0, pasid: 1, prgi: 3, group: 1, count: 2, aborted: 0 }) : e,
      ),
    ),
  },
  'CORE.REMOVE.ANSWERED_ONCE': {
    // A group user space holds when the device is removed. Good: remove_device answers it INVALID
    // (once). Bad: remove_device returns and it was never answered (v6.7's pending copies).
    good: seq(
      g1({ handler: HandlerType.IOMMUFD, noResponse: true }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.REMOVE }),
      E(SAME, 'device_remove', { dev: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: RecvOutcome.MATCHED }),
    ),
    bad: seq(g1({ handler: HandlerType.IOMMUFD, noResponse: true }), E(0, 'device_remove', { dev: 0 })),
  },
  'CORE.HANDLER.EACH_FAULT_ONCE': {
    // The SVA handler of a 2-fault group resolves each once. Bad: it resolves the first twice.
    good: seq(g1()),
    bad: seq(
      g1().flatMap((e) => (e[1] === KIND_BY_NAME.get('handler_fault') && e[6] === 1 ? [e, e] : [e])),
    ),
  },
  'SVA.PASID.NO_EARLY_REUSE': {
    // PASID 1 of mm 7, then of mm 8. Good: mm 7's group was answered, the PASID unbound and freed
    // first. Bad: mm 7's group is still pending when PASID 1 goes to mm 8.
    good: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      g1({ mm: 7 }),
      E(0, 'unbind', { dev: 0, pasid: 1, mm: 7 }),
      E(0, 'pasid_free', { pasid: 1, mm: 7 }),
      E(0, 'bind', { dev: 0, pasid: 1, mm: 8, result: 0 }),
    ),
    bad: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      g1({ handler: HandlerType.IOMMUFD, noResponse: true }),
      E(0, 'unbind', { dev: 0, pasid: 1, mm: 7 }),
      E(0, 'pasid_free', { pasid: 1, mm: 7 }),
      E(0, 'bind', { dev: 0, pasid: 1, mm: 8, result: 0 }),
    ),
  },
  'LIVENESS.DRAIN_ENDS': {
    // The drain of PASID 1 ends before the run does. Bad: a second drain of PASID 2 begins and the
    // run ends with it still waiting (bug vtd-drain-wakes-one).
    good: seq(E(0, 'drain_begin', { dev: 0, pasid: 1 }), E(0, 'drain_end', { dev: 0, pasid: 1, iterations: 1 })),
    bad: seq(
      E(0, 'drain_begin', { dev: 0, pasid: 1 }),
      E(0, 'drain_begin', { dev: 0, pasid: 2 }),
      E(0, 'drain_end', { dev: 0, pasid: 1, iterations: 1 }),
    ),
  },
  'CORE.GROUP.ONE_PASID': {
    // A partial of PASID 2 is left behind (its L=1 dropped and auto-answered); the same PRG index
    // then carries a group of PASID 1. Good: the overflow's discard_partial frees it first.
    good: seq(
      ...strandedPartial(2),
      E(0, 'partial_free', { dev: 0, pasid: 2, prgi: 3, req: 1, reason: 0 }),
      E(SAME, 'discard_partial', { iommu: 0, count: 1 }),
      group(0, { prgi: 3, reqs: [3], group: 1 }),
    ),
    bad: seq(
      ...strandedPartial(2),
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 3, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 3, iommu: 0, depth: 1 }),
      E(0, 'fault_report', { dev: 0, pasid: 1, prgi: 3, req: 3, result: 0, flags: R | P | L }),
      E(0, 'group_form', { dev: 0, pasid: 1, prgi: 3, group: 1, count: 2, aborted: 0 }),
      E(0, 'handler_start', { dev: 0, pasid: 1, prgi: 3, group: 1, handler: HandlerType.SVA, mm: -1 }),
      E(0, 'handler_end', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0, source: RespSource.GROUP }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
  },
  'SVA.PASID.NO_STALE_MM': {
    good: seq(E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }), g1({ mm: 7 })),
    bad: seq(
      E(0, 'bind', { dev: 0, pasid: 1, mm: 7, result: 0 }),
      E(0, 'page_request', { dev: 0, pasid: 1, prgi: 3, req: 1, flags: R | P | L }),
      E(0, 'queue_write', { dev: 0, pasid: 1, prgi: 3, req: 1, iommu: 0, depth: 1 }),
      E(0, 'unbind', { dev: 0, pasid: 1, mm: 7 }),
      E(0, 'pasid_free', { pasid: 1, mm: 7 }),
      E(0, 'bind', { dev: 0, pasid: 1, mm: 8, result: 0 }),
      E(0, 'fault_report', { dev: 0, pasid: 1, prgi: 3, req: 1, result: 0, flags: R | P | L }),
      E(0, 'group_form', { dev: 0, pasid: 1, prgi: 3, group: 1, count: 1, aborted: 0 }),
      E(0, 'handler_start', { dev: 0, pasid: 1, prgi: 3, group: 1, handler: HandlerType.SVA, mm: 8 }),
      E(0, 'handler_end', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0 }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 0, source: 0 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 0, outcome: 0 }),
    ),
  },
  'IOMMUFD.WRITE.ERROR_RETURNED': {
    good: seq(g1({ handler: HandlerType.IOMMUFD }).slice(0, -1), E(0, 'iommufd_write', { dev: 0, fault: 1, bytes: 16, result: 8 }), g1({ handler: HandlerType.IOMMUFD }).slice(-1)),
    bad: seq(g1({ handler: HandlerType.IOMMUFD }), E(0, 'iommufd_write', { dev: 0, fault: 1, bytes: 8, result: 8 }), E(0, 'iommufd_write', { dev: 0, fault: 1, bytes: 8, result: 8 })),
  },
  'IOMMUFD.RESP.NO_FAILURE': {
    good: seq(g1({ handler: HandlerType.IOMMUFD, code: 1 })),
    bad: seq(g1({ handler: HandlerType.IOMMUFD, code: 15 })),
  },
  'IOMMUFD.DETACH.AUTO_RESPONSE': {
    // A group queued on fault object 0 for user space; the attachment of (device 0, PASID 1) is
    // detached (iommufd_lifecycle op 2). Good: iommufd_auto_response_faults answers it first. Bad:
    // the detach returns with the group still unanswered (a replace that looked on the new hwpt).
    good: seq(
      g1({ handler: HandlerType.IOMMUFD, mm: 0, noResponse: true }),
      E(0, 'response_send', { dev: 0, pasid: 1, prgi: 3, group: 1, code: 1, source: RespSource.IOMMUFD_AUTO }),
      E(SAME, 'iommufd_lifecycle', { dev: 0, pasid: 1, fault: 0, op: 2 }),
      E(0, 'response_recv', { dev: 0, pasid: 1, prgi: 3, code: 1, outcome: RecvOutcome.MATCHED }),
    ),
    bad: seq(g1({ handler: HandlerType.IOMMUFD, mm: 0, noResponse: true }), E(0, 'iommufd_lifecycle', { dev: 0, pasid: 1, fault: 0, op: 3 })),
  },
};
