/**
 * The counterexample of a failing run (TLC-style): for the first violation of a rule, the causal
 * slice — only the events that lead to it — numbered, one line each, in the field's words
 * (requester IDs as bb:dd.f, PASID, PRG index, L bit, queue names, kernel function names, PCIe
 * response codes; never the model's internal group or request numbers).
 *
 * The slice is built from the trace: the run is made again deterministically with a collecting
 * sink (the hot path of ordinary runs is untouched), and the events are read backwards from the
 * violation. The violation's subject (its triggering event, or the group/request/slot a deferred
 * check names) fixes one page request group *instance* of a (device, PRG index) slot: its page
 * requests back to the previous response for that slot, what the IOMMU queue, the driver thread,
 * the iopf core and the handler did with them, the responses of the slot, and the actions on the
 * same device and PASID since the PASID was bound (bind, flush, drain, detach, removal, PRI
 * control, overflow of the queue the requests went through).
 */
import { simulate, type SimulateOptions } from '../api.js';
import type { Violation as CheckerViolation, ViolationSubject } from '../check/monitor.js';
import { ruleById } from '../check/rules/index.js';
import type { TraceSink } from '../trace/tracer.js';
import { HandlerType, PciRespCode, PrFlag, RecvOutcome, RespSource, TraceKind, KIND_INFO, ridString } from '../trace/events.js';
import type { Scenario } from '../scenario/schema.js';
import type { Counterexample, CounterexampleStep, Lane } from '../report/counterexample.js';
export { LANES, formatCounterexample, type Counterexample, type CounterexampleStep, type Lane } from '../report/counterexample.js';

/** Longest slice kept (the latest steps before the violation). */
export const MAX_STEPS = 200;
/** Events kept by the collecting sink (a ring: the latest ones). */
const RING = 1 << 18;
const ROW = 8;

/** Collects trace events into a bounded ring (ordinal = position in the stream, 1-based). */
export class EventRing implements TraceSink {
  readonly rows = new Float64Array(RING * ROW);
  count = 0;
  constructor(private readonly stopAfter = Infinity) {}
  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    if (this.count >= this.stopAfter) return;
    const o = (this.count % RING) * ROW;
    const r = this.rows;
    r[o] = t;
    r[o + 1] = kind;
    r[o + 2] = f0;
    r[o + 3] = f1;
    r[o + 4] = f2;
    r[o + 5] = f3;
    r[o + 6] = f4;
    r[o + 7] = f5;
    this.count++;
  }
  /** First index still held. */
  get first(): number {
    return Math.max(0, this.count - RING);
  }
  t(i: number): number {
    return this.rows[(i % RING) * ROW]!;
  }
  kind(i: number): number {
    return this.rows[(i % RING) * ROW + 1]!;
  }
  f(i: number, k: number): number {
    return this.rows[(i % RING) * ROW + 2 + k]!;
  }
}

const K = TraceKind;
/** Kinds whose field 3 is a page request id. */
const REQ_KINDS: ReadonlySet<number> = new Set([K.PAGE_REQUEST, K.STOP_MARKER, K.QUEUE_WRITE, K.QUEUE_DROP, K.AUTO_RESPONSE, K.FAULT_REPORT, K.PARTIAL_ADD, K.PARTIAL_FREE]);
/** Kinds whose field 3 is a core group id. */
const GROUP_KINDS: ReadonlySet<number> = new Set([K.GROUP_FORM, K.HANDLER_START, K.HANDLER_END, K.RESPONSE_SEND]);
/** Kinds with a (dev, PRG index) in fields 0 and 2. */
const SLOT_KINDS: ReadonlySet<number> = new Set([
  K.PAGE_REQUEST,
  K.QUEUE_WRITE,
  K.QUEUE_DROP,
  K.AUTO_RESPONSE,
  K.FAULT_REPORT,
  K.PARTIAL_ADD,
  K.PARTIAL_FREE,
  K.GROUP_FORM,
  K.HANDLER_START,
  K.HANDLER_END,
  K.RESPONSE_SEND,
  K.RESPONSE_RECV,
]);
/** Events of the link and the IOMMU's queue: a rule they break is about requests in flight. */
const LINK_SIDE: ReadonlySet<number> = new Set([K.PAGE_REQUEST, K.STOP_MARKER, K.CREDIT_STALL, K.QUEUE_WRITE, K.QUEUE_DROP, K.QUEUE_OVERFLOW, K.AUTO_RESPONSE, K.RESPONSE_RECV]);
/** Response sources whose `group` field is a request id, not a core group. */
const NOT_A_GROUP: ReadonlySet<number> = new Set([RespSource.REPORT_ERROR, RespSource.DRIVER_CHECK, RespSource.HARDWARE]);

interface Focus {
  dev: number;
  pasid: number | undefined;
  prgi: number | undefined;
  group: number | undefined;
  req: number | undefined;
}

/** The subject of a violation: its triggering event's fields, or what the deferred check named. */
function focusOf(ring: EventRing, v: CheckerViolation): Focus | undefined {
  const at = (v.seq ?? 0) - 1;
  if (v.events !== undefined && at >= ring.first && at < ring.count) {
    const kind = ring.kind(at);
    const info = KIND_INFO[kind]!;
    const field = (name: string): number | undefined => {
      const k = info.fields.indexOf(name);
      return k < 0 ? undefined : ring.f(at, k);
    };
    const dev = field('dev');
    if (dev === undefined || (dev < 0 && kind !== K.IOMMUFD_WRITE)) return undefined;
    let group = GROUP_KINDS.has(kind) ? ring.f(at, 3) : undefined;
    if (kind === K.RESPONSE_SEND && (group! < 0 || NOT_A_GROUP.has(ring.f(at, 5)))) group = undefined;
    const prgi = field('prgi');
    const f: Focus = { dev, pasid: field('pasid'), prgi: prgi === undefined ? undefined : prgi & 0x1ff, group, req: REQ_KINDS.has(kind) ? ring.f(at, 3) : undefined };
    // An event about the whole device (a remove) with a subject naming one group of it: follow the group.
    const s = v.subject;
    if (s !== undefined && s.dev === dev && f.group === undefined && f.req === undefined && f.prgi === undefined) return { dev, pasid: f.pasid ?? s.pasid, prgi: s.prgi, group: s.group, req: s.req };
    return f;
  }
  const s: ViolationSubject | undefined = v.subject;
  if (s?.dev === undefined) return undefined;
  return { dev: s.dev, pasid: s.pasid, prgi: s.prgi, group: s.group, req: s.req };
}

/** Naming of the scenario's things in the field's words. */
class Names {
  readonly queue: string;
  readonly thread: string;
  readonly pageResponse: string;
  readonly drain: string;
  constructor(readonly scenario: Scenario) {
    const fam = scenario.iommu.family;
    const name = scenario.iommu.name;
    this.queue = fam === 'vtd' ? `${name} PRQ` : fam === 'smmuv3' ? `${name} PRIQ` : `${name} PPR log`;
    this.thread = fam === 'vtd' ? 'prq_event_thread' : fam === 'smmuv3' ? 'arm_smmu_priq_thread' : 'amd_iommu_int_thread';
    this.pageResponse = fam === 'vtd' ? 'intel_iommu_page_response' : fam === 'smmuv3' ? 'arm_smmu_page_response' : 'amd_iommu_page_response';
    this.drain = fam === 'vtd' ? 'intel_drain_pasid_prq' : fam === 'smmuv3' ? 'arm_smmu PRIQ drain' : 'amd PPR log drain';
  }
  rid(dev: number): string {
    const d = this.scenario.devices[dev];
    return d === undefined ? `device #${dev}` : ridString(d.rid);
  }
  pasid(p: number): string {
    return p < 0 ? 'no PASID' : `PASID ${p}`;
  }
  mm(mm: number): string {
    const p = this.scenario.processes[mm];
    return p === undefined ? `mm #${mm}` : `mm of ${p.name}`;
  }
  fault(f: number): string {
    return this.scenario.iommufd.faults[f]?.name ?? `fault object #${f}`;
  }
}

function pciCode(c: number): string {
  if (c === PciRespCode.SUCCESS) return 'Success';
  if (c === PciRespCode.INVALID) return 'Invalid Request';
  if (c === PciRespCode.FAILURE) return 'Response Failure';
  return `reserved code ${c}`;
}
function coreCode(c: number): string {
  return c === 0 ? 'IOMMU_PAGE_RESP_SUCCESS' : c === 1 ? 'IOMMU_PAGE_RESP_INVALID' : c === 2 ? 'IOMMU_PAGE_RESP_FAILURE' : `code ${c}`;
}
function flagText(flags: number): string {
  const parts = [`L=${(flags & PrFlag.LAST) !== 0 ? 1 : 0}`];
  if ((flags & PrFlag.READ) !== 0) parts.push('R');
  if ((flags & PrFlag.WRITE) !== 0) parts.push('W');
  if ((flags & PrFlag.EXEC) !== 0) parts.push('X');
  if ((flags & PrFlag.PRIV) !== 0) parts.push('Priv');
  return parts.join(' ');
}
const SOURCE: Record<number, string> = {
  [RespSource.GROUP]: 'iopf_group_response',
  [RespSource.REPORT_ERROR]: 'iommu_report_device_fault (no handler: error response)',
  [RespSource.FLUSH]: 'iopf_queue_flush_dev',
  [RespSource.REMOVE]: 'iopf_queue_remove_device',
  [RespSource.IOMMUFD_AUTO]: 'iommufd_auto_response_faults',
  [RespSource.DRIVER_CHECK]: 'driver check of the request',
  [RespSource.ABORT]: 'iopf abort group',
  [RespSource.IOMMUFD_USER]: 'iommufd_fault_fops_write',
  [RespSource.HARDWARE]: 'IOMMU hardware',
};
const PARTIAL_REASON = ['iopf_queue_discard_partial', 'iopf_queue_flush_dev', 'iopf_queue_remove_device', '-ENOMEM', 'the error response to its group'];
const RECV = { [RecvOutcome.MATCHED]: 'matches the outstanding group', [RecvOutcome.UPRGI]: 'matches no outstanding group (UPRGI)', [RecvOutcome.IGNORED_RF]: 'ignored (Response Failure latched)', [RecvOutcome.PASID_FORM_ERROR]: 'PASID form does not match PRG Response PASID Required' } as Record<number, string>;

/** One event as a step: lane(s) and a line of text. */
function describe(ring: EventRing, i: number, n: Names, handlerOf: ReadonlyMap<number, number>): { lane: Lane; to?: Lane; text: string } {
  const kind = ring.kind(i);
  const f = (k: number): number => ring.f(i, k);
  const dev = f(0);
  const at = (): string => `${n.rid(dev)} ${n.pasid(f(1))}`;
  switch (kind) {
    case K.PAGE_REQUEST:
      return { lane: 'function', to: 'IOMMU hardware', text: `${n.rid(dev)} sends Page Request ${n.pasid(f(1))} PRG index ${f(2)} ${flagText(f(4))} addr 0x${(f(5) * 4096).toString(16)}` };
    case K.STOP_MARKER:
      return { lane: 'function', to: 'IOMMU hardware', text: `${n.rid(dev)} sends a Stop Marker for ${n.pasid(f(1))}` };
    case K.CREDIT_STALL:
      return { lane: 'function', text: `${n.rid(dev)} waits for a page request credit (${f(4)} outstanding, allocation ${f(5)})` };
    case K.ATS:
      return { lane: 'function', to: 'IOMMU hardware', text: `${at()} ATS translation of addr 0x${(f(5) * 4096).toString(16)}: ${['ATC hit', 'translated', 'not present'][f(4)] ?? f(4)}` };
    case K.QUEUE_WRITE:
      return { lane: 'IOMMU hardware', to: 'driver thread', text: `${n.queue}: entry for ${at()} PRG index ${f(2)} written, ${f(5)} pending` };
    case K.QUEUE_DROP:
      return { lane: 'IOMMU hardware', text: `${n.queue}: request of ${at()} PRG index ${f(2)} (${flagText(f(5))}) dropped (queue full or refused by the hardware's checks)` };
    case K.AUTO_RESPONSE:
      return { lane: 'IOMMU hardware', to: 'function', text: `${n.queue}: hardware answers ${at()} PRG index ${f(2)} itself: ${pciCode(f(4))}` };
    case K.FAULT_REPORT:
      return { lane: 'driver thread', to: 'iopf core', text: `${n.thread} → iommu_report_device_fault(${at()} PRG index ${f(2)} ${flagText(f(5))}) = ${f(4)}` };
    case K.PARTIAL_ADD:
      return { lane: 'iopf core', text: `iommu_report_device_fault: ${at()} PRG index ${f(2) & 0x1ff} (L=0) kept on the partial list` };
    case K.PARTIAL_FREE:
      return { lane: 'iopf core', text: `partial fault ${at()} PRG index ${f(2) & 0x1ff} freed by ${PARTIAL_REASON[f(4)] ?? `reason ${f(4)}`}` };
    case K.GROUP_FORM:
      return f(5) === 1
        ? { lane: 'iopf core', text: `iommu_report_device_fault: ${at()} PRG index ${f(2) & 0x1ff}: no memory for the group, the on-stack abort group answers it` }
        : { lane: 'iopf core', text: `iommu_report_device_fault: L=1 for ${at()} PRG index ${f(2) & 0x1ff} forms an iopf_group of ${f(4)} fault${f(4) === 1 ? '' : 's'}` };
    case K.HANDLER_START:
      return f(4) === HandlerType.IOMMUFD
        ? { lane: 'iopf core', to: 'VMM', text: `iommufd_fault_iopf_handler queues the group of ${at()} PRG index ${f(2)} for user space` }
        : { lane: 'iopf core', to: 'workqueue/handler', text: `iopf_handler (workqueue) → iommu_sva_handle_iopf for ${at()} PRG index ${f(2)}${f(5) >= 0 ? ` against the ${n.mm(f(5))}` : ''}` };
    case K.HANDLER_END:
      return handlerOf.get(f(3)) === HandlerType.IOMMUFD
        ? { lane: 'iopf core', text: `iommufd_fault_iopf_handler returns ${f(4)}: the group of ${at()} PRG index ${f(2)} waits for user space` }
        : { lane: 'workqueue/handler', text: `iommu_sva_handle_iopf done with ${at()} PRG index ${f(2)}: ${coreCode(f(4))}` };
    case K.RESPONSE_SEND: {
      const src = SOURCE[f(5)] ?? `source ${f(5)}`;
      const from: Lane = f(5) === RespSource.HARDWARE ? 'IOMMU hardware' : f(5) === RespSource.IOMMUFD_USER ? 'VMM' : f(5) === RespSource.DRIVER_CHECK ? 'driver thread' : 'iopf core';
      if (f(4) < 0) return { lane: from, text: `${src}: response for ${n.rid(dev)} PRG index ${f(2)} not sent, the group is no longer pending (${f(4) === -4096 ? 'ignored' : `returns ${f(4)}`})` };
      return { lane: from, to: 'IOMMU hardware', text: `${src} → ${n.pageResponse}: Page Group Response to ${n.rid(dev)} ${f(1) < 0 ? 'without PASID' : `PASID ${f(1)}`} PRG index ${f(2)}: ${pciCode(f(4))}` };
    }
    case K.RESPONSE_RECV:
      return { lane: 'IOMMU hardware', to: 'function', text: `${n.rid(dev)} receives the response for PRG index ${f(2)} (${f(1) < 0 ? 'no PASID' : `PASID ${f(1)}`}): ${pciCode(f(4))}, ${RECV[f(5)] ?? `outcome ${f(5)}`}` };
    case K.DMA_DONE:
      return { lane: 'function', text: `${at()} DMA to addr 0x${(f(5) * 4096).toString(16)} ${f(4) === 0 ? 'completes' : 'fails (translation refused)'}` };
    case K.FLUSH_BEGIN:
      return { lane: 'iopf core', text: `iopf_queue_flush_dev(${at()}) begins` };
    case K.FLUSH_END:
      return { lane: 'iopf core', text: `iopf_queue_flush_dev(${at()}) returns ${f(4)}` };
    case K.DISCARD_PARTIAL:
      return { lane: 'iopf core', text: `iopf_queue_discard_partial frees ${f(5)} partial fault${f(5) === 1 ? '' : 's'}` };
    case K.DEVICE_ADD:
      return { lane: 'iopf core', text: `iopf_queue_add_device(${n.rid(dev)}) = ${f(4)}` };
    case K.DEVICE_REMOVE:
      return { lane: 'iopf core', text: `iopf_queue_remove_device(${n.rid(dev)}) returns` };
    case K.BIND:
      return { lane: 'workqueue/handler', to: 'iopf core', text: `${n.rid(dev)} attaches ${n.pasid(f(1))} to the ${n.mm(f(3))}${f(4) !== 0 ? ` — fails ${f(4)}` : ''}` };
    case K.UNBIND:
      return { lane: 'workqueue/handler', to: 'iopf core', text: `${n.rid(dev)} detaches ${n.pasid(f(1))} from the ${n.mm(f(3))}` };
    case K.PASID_FREE:
      return { lane: 'workqueue/handler', text: `PASID ${f(1)} goes back to the allocator (the ${n.mm(f(3))} is freed)` };
    case K.DRAIN_BEGIN:
      return { lane: 'driver thread', text: `${n.drain}(${at()}) begins` };
    case K.DRAIN_END:
      return { lane: 'driver thread', text: `${n.drain}(${at()}) ends` };
    case K.PRI_CONTROL:
      return { lane: 'function', text: `${n.rid(dev)} PRI Control: ${['Enable set', 'Enable cleared', 'Reset'][f(4)] ?? f(4)}` };
    case K.IOMMUFD_READ:
      return { lane: 'VMM', to: 'iopf core', text: `VMM read() on ${n.fault(f(3))}: ${f(4)} bytes asked, returns ${f(5)}` };
    case K.IOMMUFD_WRITE:
      return { lane: 'VMM', to: 'iopf core', text: `VMM write() on ${n.fault(f(3))}: ${f(4)} bytes, returns ${f(5)}` };
    case K.QUEUE_OVERFLOW:
      return { lane: 'IOMMU hardware', text: `${n.queue}: overflow ${f(5) === 1 ? 'set (requests are dropped)' : 'cleared by software'}` };
    case K.MM_EXIT:
      return { lane: 'workqueue/handler', text: `the process of the ${n.mm(f(3))} exits` };
    case K.IOMMUFD_LIFECYCLE:
      return { lane: 'VMM', to: 'iopf core', text: [`VMM closes the fd of ${n.fault(f(3))}`, `IOMMU_DESTROY of ${n.fault(f(3))}`, `iommufd detach of ${at()} from ${n.fault(f(3))}`, `IOMMU_HWPT_REPLACE of ${at()} on ${n.fault(f(3))}`][f(4)] ?? `iommufd op ${f(4)}` };
    case K.HANDLER_FAULT:
      return { lane: 'workqueue/handler', text: `iommu_sva_handle_iopf resolves a fault of ${at()} PRG index ${f(2) & 0x1ff}: ${coreCode(f(5))}` };
    default:
      return { lane: 'iopf core', text: KIND_INFO[kind]?.name ?? `event ${kind}` };
  }
}

/** Indices of the events in the causal slice of a violation (ascending). */
function slice(ring: EventRing, v: CheckerViolation, focus: Focus, scenario: Scenario): { idx: number[]; focus: Focus } {
  const end = Math.min(ring.count, v.seq ?? ring.count) - 1;
  const first = ring.first;
  const keep = new Set<number>();
  if (v.events !== undefined && end >= first) keep.add(end);
  let { pasid, prgi, group } = focus;
  const req = focus.req;
  let dev = focus.dev;
  // A request or group subject gives the slot; an iommufd write() gives the groups it answered.
  if (v.events !== undefined && ring.kind(end) === K.IOMMUFD_WRITE) {
    for (let i = end - 1; i >= first && ring.t(i) === ring.t(end) && ring.kind(i) === K.RESPONSE_SEND; i--) {
      keep.add(i);
      group = ring.f(i, 3);
    }
    if (group === undefined) {
      // A write() that took nothing: the story is the last group the fault object delivered.
      const fault = ring.f(end, 3);
      const name = scenario.iommufd.faults[fault]?.name;
      const devs = new Set(scenario.iommufd.attach.filter((a) => a.fault === name).map((a) => scenario.devices.findIndex((d) => d.name === a.device)));
      for (let i = end - 1; i >= first; i--) {
        const k = ring.kind(i);
        if ((k === K.IOMMUFD_READ || k === K.IOMMUFD_WRITE) && ring.f(i, 3) === fault) keep.add(i);
        if (k === K.HANDLER_START && ring.f(i, 4) === HandlerType.IOMMUFD && devs.has(ring.f(i, 0))) {
          group = ring.f(i, 3);
          break;
        }
      }
    }
  }
  let anchor = end;
  if (group !== undefined) {
    for (let i = end; i >= first; i--) {
      if (ring.kind(i) === K.GROUP_FORM && ring.f(i, 3) === group) {
        anchor = i;
        dev = ring.f(i, 0);
        prgi = ring.f(i, 2) & 0x1ff;
        pasid = ring.f(i, 1);
        break;
      }
    }
  } else if (req !== undefined) {
    for (let i = end; i >= first; i--) {
      if ((ring.kind(i) === K.PAGE_REQUEST || ring.kind(i) === K.STOP_MARKER) && ring.f(i, 3) === req) {
        anchor = i;
        prgi = ring.f(i, 2);
        pasid = ring.f(i, 1);
        break;
      }
    }
  }
  const isSlot = (i: number): boolean => prgi !== undefined && SLOT_KINDS.has(ring.kind(i)) && ring.f(i, 0) === dev && (ring.f(i, 2) & 0x1ff) === prgi;
  // The group instance: the slot's page requests back to the response that ended the previous one.
  let start = anchor;
  const reqs = new Set<number>();
  if (req !== undefined) reqs.add(req);
  if (prgi !== undefined) {
    let seenRequest = false;
    for (let i = anchor; i >= first; i--) {
      if (!isSlot(i)) continue;
      const k = ring.kind(i);
      if (k === K.PAGE_REQUEST) {
        seenRequest = true;
        reqs.add(ring.f(i, 3));
        start = i;
        pasid = ring.f(i, 1);
      } else if (seenRequest && (k === K.RESPONSE_RECV || k === K.AUTO_RESPONSE || (k === K.RESPONSE_SEND && ring.f(i, 4) >= 0))) break;
    }
  }
  // A rule broken on the host's side of the link (a report, a response, a group, a flush…): the
  // instance's requests still on their way then — sent, perhaps written to the queue, but never
  // reported, refused or answered by the IOMMU before it broke — took no part in it and are left
  // out (a group of 16 requests answered twice at its first two tells its story in those two).
  if (v.events !== undefined && end >= first && !LINK_SIDE.has(ring.kind(end)) && reqs.size > 1) {
    const reached = new Set<number>();
    // Through the violation's instant: a report is traced when it returns, after its response.
    let last = end;
    while (last + 1 < ring.count && ring.t(last + 1) === ring.t(end)) last++;
    for (let i = start; i <= last; i++) {
      const k = ring.kind(i);
      if ((k === K.FAULT_REPORT || k === K.QUEUE_DROP || k === K.AUTO_RESPONSE) && ring.f(i, 0) === dev && reqs.has(ring.f(i, 3))) reached.add(ring.f(i, 3));
    }
    if (reached.size > 0) for (const r of [...reqs]) if (!reached.has(r) && r !== req) reqs.delete(r);
  }
  // The instance ends at the first answer the function sees after the anchor (its PRG index may
  // then serve another group): later slot events belong to other instances.
  let close = end;
  if (prgi !== undefined) {
    for (let i = anchor + 1; i < end; i++) {
      if (isSlot(i) && (ring.kind(i) === K.RESPONSE_RECV || ring.kind(i) === K.AUTO_RESPONSE)) {
        close = i;
        break;
      }
    }
  }
  // Context from the last bind of the PASID on this device before the instance.
  let ctx = start;
  let mm = -1;
  for (let i = start; i >= first; i--) {
    if (ring.kind(i) === K.BIND && ring.f(i, 0) === dev && (pasid === undefined || ring.f(i, 1) === pasid)) {
      ctx = i;
      mm = ring.f(i, 3);
      break;
    }
    if (i === first) ctx = first;
  }
  // Partial faults the group gathered from an earlier PRG on its grpid (another PASID's, under a
  // core that matches grpid alone: CORE.GROUP.ONE_PASID): their PRG's requests and answers, and
  // the actions on their PASID, belong to the story too.
  const joined = gatheredFromElsewhere(ring, anchor, reqs);
  const otherPasids = new Set<number>();
  let loopFrom = ctx;
  if (joined !== undefined && joined.reqs.size > 0) {
    const closing = new Set<number>();
    for (let i = joined.from; i < start; i++) {
      const k = ring.kind(i);
      if (!SLOT_KINDS.has(k) && !REQ_KINDS.has(k)) continue;
      if (ring.f(i, 0) !== dev || !joined.pasids.has(ring.f(i, 1))) continue;
      if (REQ_KINDS.has(k) && joined.reqs.has(ring.f(i, 3))) keep.add(i);
      else if (isSlot(i)) {
        // The PRG's closing request and the answer that freed its PRG index for the group's.
        if (k === K.AUTO_RESPONSE || k === K.RESPONSE_RECV || (k === K.RESPONSE_SEND && ring.f(i, 4) >= 0)) keep.add(i);
        else if (k === K.PAGE_REQUEST && (ring.f(i, 4) & PrFlag.LAST) !== 0) {
          closing.add(ring.f(i, 3));
          keep.add(i);
        } else if ((k === K.QUEUE_WRITE || k === K.QUEUE_DROP || k === K.FAULT_REPORT) && closing.has(ring.f(i, 3))) keep.add(i);
      }
    }
    for (const p of joined.pasids) otherPasids.add(p);
    loopFrom = Math.min(ctx, joined.from);
    // A violation about one gathered partial (its subject names it): the group's own partial
    // faults are not its story — the group's closing request is.
    const named = v.subject?.req;
    if (named !== undefined && joined.reqs.has(named)) {
      for (const r of [...reqs]) if (r !== req && !lastOf(ring, r, start, end)) reqs.delete(r);
    }
  }
  const groups = new Set<number>();
  if (group !== undefined) groups.add(group);
  for (let i = loopFrom; i <= end; i++) {
    const k = ring.kind(i);
    const d = ring.f(i, 0);
    if (i >= start) {
      if (REQ_KINDS.has(k) && d === dev && reqs.has(ring.f(i, 3))) {
        keep.add(i);
        continue;
      }
      if (k === K.GROUP_FORM && isSlot(i)) {
        groups.add(ring.f(i, 3));
        keep.add(i);
        continue;
      }
      if (GROUP_KINDS.has(k) && d === dev && groups.has(ring.f(i, 3)) && !(k === K.RESPONSE_SEND && NOT_A_GROUP.has(ring.f(i, 5)))) {
        keep.add(i);
        continue;
      }
      if ((k === K.RESPONSE_SEND || k === K.RESPONSE_RECV || k === K.AUTO_RESPONSE) && isSlot(i) && i <= close) {
        keep.add(i);
        continue;
      }
      if (k === K.QUEUE_OVERFLOW || k === K.DISCARD_PARTIAL) {
        keep.add(i);
        continue;
      }
    }
    switch (k) {
      case K.BIND:
      case K.UNBIND:
      case K.FLUSH_BEGIN:
      case K.FLUSH_END:
      case K.DRAIN_BEGIN:
      case K.DRAIN_END:
      case K.STOP_MARKER:
      case K.IOMMUFD_LIFECYCLE:
        if ((d === dev || d === -1) && (pasid === undefined || ring.f(i, 1) === pasid || ring.f(i, 1) === -1 || (otherPasids.has(ring.f(i, 1)) && k !== K.BIND && i >= loopFrom))) keep.add(i);
        break;
      case K.DEVICE_REMOVE:
      case K.DEVICE_ADD:
      case K.PRI_CONTROL:
        if (d === dev) keep.add(i);
        break;
      case K.MM_EXIT:
        if (mm >= 0 && ring.f(i, 3) === mm) keep.add(i);
        break;
      case K.PASID_FREE:
        if (pasid !== undefined && ring.f(i, 1) === pasid) keep.add(i);
        break;
      default:
        break;
    }
  }
  // The newest partial fault of another PASID still listed at the violation: where a walk of the
  // device's partial list (newest first, as the flush does) starts.
  for (let i = end; i > start; i--) {
    if (ring.kind(i) !== K.PARTIAL_ADD || ring.f(i, 0) !== dev || reqs.has(ring.f(i, 3)) || ring.f(i, 1) === pasid) continue;
    const r = ring.f(i, 3);
    const pg = ring.f(i, 2);
    let gone = false;
    for (let j = i + 1; j <= end && !gone; j++) {
      const k = ring.kind(j);
      gone = (k === K.PARTIAL_FREE && ring.f(j, 3) === r) || (k === K.GROUP_FORM && ring.f(j, 0) === dev && ring.f(j, 2) === pg);
    }
    if (!gone) keep.add(i);
    break;
  }
  // The rest of the violation's instant: the operation whose step broke the rule is traced when it
  // returns (device_remove, flush_end, …), and the driver's report call after the core's answer.
  if (end >= first) {
    for (let i = end + 1; i < ring.count && ring.t(i) === ring.t(end); i++) {
      const k = ring.kind(i);
      const d = ring.f(i, 0);
      if ((k === K.DEVICE_REMOVE || k === K.PRI_CONTROL) && d === dev) keep.add(i);
      else if ((k === K.FLUSH_END || k === K.DRAIN_END || k === K.UNBIND || k === K.IOMMUFD_LIFECYCLE) && d === dev && (pasid === undefined || ring.f(i, 1) === pasid)) keep.add(i);
      else if (k === K.FAULT_REPORT && d === dev && reqs.has(ring.f(i, 3))) keep.add(i);
    }
  }
  // A finding about a (device, PASID) without a group (a drain that never ended): the teardowns
  // running beside it — every drain and iommufd teardown of the IOMMU since the PASID was bound
  // (another drain may have taken the driver thread's one wake-up) — then the PASID's own events.
  if (prgi === undefined && group === undefined && pasid !== undefined && v.events === undefined) {
    for (let i = ctx; i <= end; i++) {
      const k = ring.kind(i);
      if (k === K.DRAIN_BEGIN || k === K.DRAIN_END || k === K.IOMMUFD_LIFECYCLE) keep.add(i);
    }
    for (let i = end; i >= first && keep.size < 30; i--) if (ring.f(i, 0) === dev && KIND_INFO[ring.kind(i)]!.fields[0] === 'dev' && KIND_INFO[ring.kind(i)]!.fields[1] === 'pasid' && ring.f(i, 1) === pasid) keep.add(i);
  }
  // Without a slot (a device-wide finding): the device's last events.
  if (prgi === undefined && group === undefined) {
    for (let i = end; i >= first && keep.size < 30; i--) if (ring.f(i, 0) === dev && KIND_INFO[ring.kind(i)]!.fields[0] === 'dev') keep.add(i);
  }
  return { idx: [...keep].sort((a, b) => a - b), focus: { dev, pasid, prgi, group, req } };
}

/** Whether request `r`'s Page Request, between `from` and `to`, closes its group (L=1). */
function lastOf(ring: EventRing, r: number, from: number, to: number): boolean {
  for (let i = from; i <= to; i++) if (ring.kind(i) === K.PAGE_REQUEST && ring.f(i, 3) === r) return (ring.f(i, 4) & PrFlag.LAST) !== 0;
  return false;
}

/**
 * The listed partial faults of other PASIDs that the group formed at `anchor` gathered, replayed
 * from the trace as the checker reads it (CheckState.groupForm): a group holds the listed partials
 * of its PASID and grpid, or, when its size says so, those of every PASID with its grpid.
 */
function gatheredFromElsewhere(ring: EventRing, anchor: number, own: ReadonlySet<number>): { reqs: Set<number>; pasids: Set<number>; from: number } | undefined {
  if (anchor < ring.first || ring.kind(anchor) !== K.GROUP_FORM) return undefined;
  const dev = ring.f(anchor, 0);
  const grpid = ring.f(anchor, 2);
  /** req → [PASID, ordinal of its PARTIAL_ADD] of the partials listed for (dev, grpid). */
  const listed = new Map<number, [number, number]>();
  const take = (pasid: number, count: number): number[] => {
    let same = 0;
    let other = 0;
    for (const [p] of listed.values()) if (p === pasid) same++;
    else other++;
    const all = other > 0 && count === same + other + 1;
    const out: number[] = [];
    for (const [r, [p]] of listed) if (all || p === pasid) out.push(r);
    return out;
  };
  for (let i = ring.first; i < anchor; i++) {
    const k = ring.kind(i);
    if (ring.f(i, 0) !== dev) continue;
    if (k === K.PARTIAL_ADD && ring.f(i, 2) === grpid) listed.set(ring.f(i, 3), [ring.f(i, 1), i]);
    else if (k === K.PARTIAL_FREE) listed.delete(ring.f(i, 3));
    else if (k === K.GROUP_FORM && ring.f(i, 2) === grpid) for (const r of take(ring.f(i, 1), ring.f(i, 4))) listed.delete(r);
  }
  const pasid = ring.f(anchor, 1);
  const reqs = new Set<number>();
  const pasids = new Set<number>();
  let from = anchor;
  for (const r of take(pasid, ring.f(anchor, 4))) {
    const [p, at] = listed.get(r)!;
    if (p === pasid || own.has(r)) continue;
    reqs.add(r);
    pasids.add(p);
    // Back to the request's own Page Request (the partial was listed after it).
    for (let i = at; i >= ring.first; i--) {
      if (ring.kind(i) === K.PAGE_REQUEST && ring.f(i, 3) === r) {
        from = Math.min(from, i);
        break;
      }
    }
    from = Math.min(from, at);
  }
  return { reqs, pasids, from };
}

/** Replace the checker's internal numbers (device index, group, request ids) by field names. */
function fieldWords(detail: string, ring: EventRing, end: number, n: Names): string {
  const groupSlot = new Map<number, string>();
  const reqSlot = new Map<number, string>();
  const lo = ring.first;
  for (let i = Math.min(end, ring.count - 1); i >= lo; i--) {
    const k = ring.kind(i);
    if (k === K.GROUP_FORM && !groupSlot.has(ring.f(i, 3))) groupSlot.set(ring.f(i, 3), `the group of ${n.rid(ring.f(i, 0))} ${n.pasid(ring.f(i, 1))} PRG index ${ring.f(i, 2) & 0x1ff}`);
    if (k === K.PAGE_REQUEST && !reqSlot.has(ring.f(i, 3))) reqSlot.set(ring.f(i, 3), `the request of ${n.rid(ring.f(i, 0))} ${n.pasid(ring.f(i, 1))} PRG index ${ring.f(i, 2)} (${flagText(ring.f(i, 4))})`);
  }
  // The checker names a device by index or, in newer messages, by its RID (bb:dd.f).
  return detail
    .replace(/\bgroup (\d+)(?: of device (?:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]|\d+))?(?: PASID -?\d+)?/g, (m, g: string) => groupSlot.get(Number(g)) ?? 'a group')
    .replace(/\b(?:partial fault|fault|page request|request|req|L=1 request) (\d+)(?: of device (?:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]|\d+))?(?: PASID -?\d+)?/g, (m, r: string) => reqSlot.get(Number(r)) ?? 'a request')
    // A device index, not the start of a RID the checker already wrote (`device 1c:0b.5`).
    .replace(/\bdevice (\d+)(?![\da-f]*:)/g, (_m, d: string) => n.rid(Number(d)))
    .replace(/\bIOMMU (\d+)/g, () => n.scenario.iommu.name);
}

export interface CounterexampleOptions extends Omit<SimulateOptions, 'sinks'> {
  /** The rule whose first violation to explain (default: the run's first violation). */
  rule?: string;
}

/**
 * Re-run `scenario` with `opts` (deterministically: same seed, same choices) collecting the trace,
 * and explain the first violation of `rule`. Undefined when the run does not break it. A chooser in
 * `opts` must be fresh (not yet used): pass a factory's product.
 */
export function counterexample(scenario: Scenario, opts: CounterexampleOptions): Counterexample | undefined {
  const ring = new EventRing();
  const { rule: wanted, ...simOpts } = opts;
  const r = simulate(scenario, { ...simOpts, noHistograms: true, sinks: [ring] });
  return explain(scenario, ring, r.checkerViolations, r.violationsByRule, wanted);
}

/** Explain the first violation of `wanted` (or the first one) from a collected trace. */
export function explain(
  scenario: Scenario,
  ring: EventRing,
  violations: readonly CheckerViolation[],
  counts: Readonly<Record<string, number>>,
  wanted?: string,
): Counterexample | undefined {
  const v = wanted === undefined ? violations[0] : violations.find((x) => x.rule === wanted);
  if (v === undefined) return undefined;
  const names = new Names(scenario);
  const rule = ruleById(v.rule);
  const byRule: { rule: string; count: number }[] = [];
  for (const x of violations) if (!byRule.some((b) => b.rule === x.rule)) byRule.push({ rule: x.rule, count: counts[x.rule] ?? 1 });
  const found = focusOf(ring, v);
  const sl = found === undefined ? undefined : slice(ring, v, found, scenario);
  const idx = sl?.idx ?? [];
  const focus = sl?.focus;
  const handlerOf = new Map<number, number>();
  for (const i of idx) if (ring.kind(i) === K.HANDLER_START) handlerOf.set(ring.f(i, 3), ring.f(i, 4));
  const omitted = Math.max(0, idx.length - MAX_STEPS);
  const shown = idx.slice(omitted);
  const steps: CounterexampleStep[] = shown.map((i, j) => {
    const d = describe(ring, i, names, handlerOf);
    const s: CounterexampleStep = { n: j + 1, time_ns: ring.t(i), kind: KIND_INFO[ring.kind(i)]!.name, lane: d.lane, text: d.text };
    if (d.to !== undefined && d.to !== d.lane) s.to = d.to;
    return s;
  });
  const where =
    focus === undefined
      ? ''
      : [names.rid(focus.dev), focus.pasid !== undefined ? names.pasid(focus.pasid) : undefined, focus.prgi !== undefined ? `PRG index ${focus.prgi}` : undefined].filter((x) => x !== undefined).join(' ');
  return {
    rule: v.rule,
    statement: rule?.statement ?? '',
    source: rule?.source ?? '',
    time_ns: v.time_ns,
    where,
    detail: fieldWords(v.detail, ring, (v.seq ?? ring.count) - 1, names),
    count: byRule.find((b) => b.rule === v.rule)?.count ?? 1,
    steps,
    omitted,
    by_rule: byRule,
  };
}
