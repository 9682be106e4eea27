/**
 * The trace schema: one event kind per observable step of a fault's life. Every event is
 * (time_ns, kind, six integer fields); each kind names its fields. The checker watches this stream
 * and nothing else, online during a run and offline over a file, so it sees what a trace of a real
 * system could show.
 *
 * Field conventions: `dev` is the model's device id (its requester ID is in the scenario), `pasid`
 * is -1 when the message has none, `req` is a page request's id, `group` a group's id.
 */

export const TraceKind = {
  /** Device sent a page request. flags: PR_FLAG_*; page = address >> 12. */
  PAGE_REQUEST: 0,
  /** Device sent a Stop Marker for a PASID (§1.2). */
  STOP_MARKER: 1,
  /** Device had a request to send but no credit (PRI.CREDIT.LIMIT). */
  CREDIT_STALL: 2,
  /** ATS translation: result 0 ATC hit, 1 translated, 2 not present (→ page request). */
  ATS: 3,
  /** Page request written into the IOMMU's hardware queue. */
  QUEUE_WRITE: 4,
  /** Page request (or stop marker) dropped at the hardware queue. */
  QUEUE_DROP: 5,
  /** Hardware answered a group itself (overflow with L=1, or a request failing its checks). */
  AUTO_RESPONSE: 6,
  /** Driver reported a fault to the iopf core; result is the core's return value. */
  FAULT_REPORT: 7,
  /** A non-last fault went onto the device's partial list. */
  PARTIAL_ADD: 8,
  /** A partial fault was freed without joining a group. reason: PARTIAL_FREE_*. */
  PARTIAL_FREE: 9,
  /** A last fault formed a group (count faults); aborted = 1 for the on-stack abort group. */
  GROUP_FORM: 10,
  /** A handler started on a group (handler: HANDLER_*; mm: the address space or -1 for SVA; for
   *  iommufd the index of the fault object the group is queued on, -1 if none is known). */
  HANDLER_START: 11,
  /** A handler finished with a group; code is the group's response code. */
  HANDLER_END: 12,
  /** Host sent a page group response (pasid -1 = no PASID in the response). */
  RESPONSE_SEND: 13,
  /** Device received a page group response; outcome: RECV_*. */
  RESPONSE_RECV: 14,
  /** A DMA access completed (failed = 1 when the translation was refused). */
  DMA_DONE: 15,
  FLUSH_BEGIN: 16,
  /** iopf_queue_flush_dev() returned `result`. */
  FLUSH_END: 17,
  /** iopf_queue_discard_partial() freed `count` partial faults. */
  DISCARD_PARTIAL: 18,
  DEVICE_ADD: 19,
  DEVICE_REMOVE: 20,
  /** SVA bind of a device to an mm, giving the mm's PASID. */
  BIND: 21,
  UNBIND: 22,
  /** The mm's PASID went back to the allocator (mm freed). */
  PASID_FREE: 23,
  DRAIN_BEGIN: 24,
  DRAIN_END: 25,
  /** PRI control write: op 0 enable, 1 disable, 2 reset. */
  PRI_CONTROL: 26,
  IOMMUFD_READ: 27,
  IOMMUFD_WRITE: 28,
  /** Hardware queue overflow bit set (1) or cleared by software (0). */
  QUEUE_OVERFLOW: 29,
  /** Process exit: the mm is exiting. */
  MM_EXIT: 30,
  /** The fault object's fd was closed (0), it was destroyed (1), or an attachment detached (2). */
  IOMMUFD_LIFECYCLE: 31,
  /** An in-kernel handler (SVA) resolved one fault of its group (req: that fault's page request;
   *  code: the core response code it gave). */
  HANDLER_FAULT: 32,
} as const;
export type TraceKindValue = (typeof TraceKind)[keyof typeof TraceKind];
export const TRACE_KIND_COUNT = 33;

/** Page request flags in trace events. */
export const PrFlag = {
  READ: 1,
  WRITE: 2,
  LAST: 4,
  EXEC: 8,
  PRIV: 16,
  PASID: 32,
} as const;

/** Why a partial fault was freed. */
/** ANSWERED: its group's last request found no handler and was answered with an error (reference). */
export const PartialFree = { DISCARD: 0, FLUSH: 1, REMOVE: 2, ENOMEM: 3, ANSWERED: 4 } as const;
/** Which handler took a group. */
export const HandlerType = { SVA: 1, IOMMUFD: 2 } as const;
/** Where a response came from (RESPONSE_SEND.source). */
export const RespSource = {
  GROUP: 0,
  /** Report path: no handler, or no fault parameters (error response). */
  REPORT_ERROR: 1,
  FLUSH: 2,
  REMOVE: 3,
  IOMMUFD_AUTO: 4,
  /** Driver's own checks before reporting (bad request). */
  DRIVER_CHECK: 5,
  ABORT: 6,
  /** iommufd: user space wrote a response record for the group (write() on the fault fd). */
  IOMMUFD_USER: 7,
  /** Hardware queue overflow or the hardware's own checks (auto-response sent as a response). */
  HARDWARE: 8,
} as const;
/** What the device did with a response (RESPONSE_RECV.outcome). */
export const RecvOutcome = { MATCHED: 0, UPRGI: 1, IGNORED_RF: 2, PASID_FORM_ERROR: 3 } as const;
/** PCIe response codes on the wire (§1.4). */
export const PciRespCode = { SUCCESS: 0, INVALID: 1, FAILURE: 15 } as const;

export interface KindInfo {
  readonly name: string;
  /** JSON names of fields 0..5; null = unused. */
  readonly fields: readonly [string | null, string | null, string | null, string | null, string | null, string | null];
}

export const KIND_INFO: readonly KindInfo[] = [
  { name: 'page_request', fields: ['dev', 'pasid', 'prgi', 'req', 'flags', 'page'] },
  { name: 'stop_marker', fields: ['dev', 'pasid', null, 'req', null, null] },
  { name: 'credit_stall', fields: ['dev', null, null, null, 'outstanding', 'allocation'] },
  { name: 'ats', fields: ['dev', 'pasid', null, 'access', 'result', 'page'] },
  { name: 'queue_write', fields: ['dev', 'pasid', 'prgi', 'req', 'iommu', 'depth'] },
  { name: 'queue_drop', fields: ['dev', 'pasid', 'prgi', 'req', 'iommu', 'flags'] },
  { name: 'auto_response', fields: ['dev', 'pasid', 'prgi', 'req', 'code', 'resp_pasid'] },
  { name: 'fault_report', fields: ['dev', 'pasid', 'prgi', 'req', 'result', 'flags'] },
  { name: 'partial_add', fields: ['dev', 'pasid', 'prgi', 'req', null, null] },
  { name: 'partial_free', fields: ['dev', 'pasid', 'prgi', 'req', 'reason', null] },
  { name: 'group_form', fields: ['dev', 'pasid', 'prgi', 'group', 'count', 'aborted'] },
  { name: 'handler_start', fields: ['dev', 'pasid', 'prgi', 'group', 'handler', 'mm'] },
  { name: 'handler_end', fields: ['dev', 'pasid', 'prgi', 'group', 'code', null] },
  { name: 'response_send', fields: ['dev', 'pasid', 'prgi', 'group', 'code', 'source'] },
  { name: 'response_recv', fields: ['dev', 'pasid', 'prgi', null, 'code', 'outcome'] },
  { name: 'dma_done', fields: ['dev', 'pasid', null, 'access', 'failed', 'page'] },
  { name: 'flush_begin', fields: ['dev', 'pasid', null, null, null, null] },
  { name: 'flush_end', fields: ['dev', 'pasid', null, null, 'result', null] },
  { name: 'discard_partial', fields: [null, null, null, null, 'iommu', 'count'] },
  { name: 'device_add', fields: ['dev', null, null, null, 'result', null] },
  { name: 'device_remove', fields: ['dev', null, null, null, null, null] },
  { name: 'bind', fields: ['dev', 'pasid', null, 'mm', 'result', null] },
  { name: 'unbind', fields: ['dev', 'pasid', null, 'mm', null, null] },
  { name: 'pasid_free', fields: [null, 'pasid', null, 'mm', null, null] },
  { name: 'drain_begin', fields: ['dev', 'pasid', null, null, null, null] },
  { name: 'drain_end', fields: ['dev', 'pasid', null, null, 'iterations', null] },
  { name: 'pri_control', fields: ['dev', null, null, null, 'op', null] },
  { name: 'iommufd_read', fields: ['dev', null, null, 'fault', 'bytes', 'result'] },
  { name: 'iommufd_write', fields: ['dev', null, null, 'fault', 'bytes', 'result'] },
  { name: 'queue_overflow', fields: [null, null, null, null, 'iommu', 'set'] },
  { name: 'mm_exit', fields: [null, null, null, 'mm', null, null] },
  { name: 'iommufd_lifecycle', fields: ['dev', 'pasid', null, 'fault', 'op', null] },
  { name: 'handler_fault', fields: ['dev', 'pasid', 'prgi', 'group', 'req', 'code'] },
];

export const KIND_BY_NAME: ReadonlyMap<string, number> = new Map(KIND_INFO.map((k, i) => [k.name, i]));

/** `,"name":value` for each field a kind uses, in KIND_INFO order (names precomputed). */
const FIELD_PREFIXES: readonly (readonly (string | null)[])[] = KIND_INFO.map((k) =>
  k.fields.map((f) => (f === null ? null : `,"${f}":`)),
);

/**
 * A kind's used fields as JSON members, each with a leading comma: the one formatter behind the
 * JSONL lines and the Perfetto event args. Throws RangeError for an unknown kind.
 */
export function kindFieldsJson(kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): string {
  const p = FIELD_PREFIXES[kind];
  if (p === undefined) throw new RangeError(`unknown trace kind ${kind}`);
  let s = '';
  if (p[0] !== null) s += `${p[0]!}${f0}`;
  if (p[1] !== null) s += `${p[1]!}${f1}`;
  if (p[2] !== null) s += `${p[2]!}${f2}`;
  if (p[3] !== null) s += `${p[3]!}${f3}`;
  if (p[4] !== null) s += `${p[4]!}${f4}`;
  if (p[5] !== null) s += `${p[5]!}${f5}`;
  return s;
}

/** "bb:dd.f" of a requester ID (bus << 8 | device << 3 | function). */
export function ridString(rid: number): string {
  const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
  return `${hex2((rid >> 8) & 0xff)}:${hex2((rid >> 3) & 0x1f)}.${rid & 7}`;
}
