/**
 * The iopf core's per-fault-group and attachment data (struct iopf_group, struct
 * iommu_attach_handle, the iopf side of struct iommu_domain), reference linux-iopf §2.
 * Plain data: the behaviour lives in core.ts.
 */
import type { AddressSpace } from '../mm/address-space.js';
import type { KResult } from '../sim/errno.js';
import type { WorkItem } from '../sim/sync.js';
import type { FaultParam } from './fault-param.js';
import type { FaultRecord, RespCodeValue } from './types.js';

/**
 * The iopf part of an iommu_domain. `iopfHandler` is domain->iopf_handler: 0 means the handler
 * took the group (it must answer and free it); non-zero makes the core abort the group (§3 step 6).
 * A domain without a handler counts as no handler (§3 step 1).
 */
export interface IopfDomain {
  readonly id: number;
  /** 'sva', 'iommufd', 'paging', 'nested', … (messages only). */
  readonly type: string;
  iopfHandler?: ((group: IopfGroup) => KResult) | undefined;
  /** A nested domain attached without PASID serves PASID faults when the driver keeps a
   * user-managed PASID table (§3 step 1). */
  readonly nested?: boolean | undefined;
  /** v6.7 (lookup-in-work): the domain's fault handler as it runs inside the core's own work
   * (iopf_handler calls domain->iopf_handler per fault); unset: the handler is called after it. */
  readonly work?: GroupWork | undefined;
}

/** struct iommu_attach_handle: what is attached to (device, PASID). */
export interface AttachHandle {
  /** Model id of the attachment (iommufd records' attachment). */
  readonly id: number;
  readonly domain: IopfDomain;
  /** SVA: the address space the domain serves (domain->mm); null otherwise. */
  readonly mm: AddressSpace | null;
  /** iommufd device object id (struct iommu_hwpt_pgfault.dev_id); defaults to the model device. */
  readonly devId?: number | undefined;
}

/** What runs a queued group on a workqueue worker (the group's work_struct function). */
export interface GroupWork {
  runGroup(group: IopfGroup, worker: number): void;
}

/** The handle of a group formed before any domain was looked up (v6.7: the work looks it up). */
export const UNRESOLVED_HANDLE: AttachHandle = { id: 0, domain: { id: 0, type: 'unresolved' }, mm: null };

let nextSerial = 1;

/**
 * struct iopf_group. Identity in the trace (`group` field) is the model request id of the last
 * fault, so the driver glue can name the group in RESPONSE_SEND from the fault it is handed.
 * The group is its own work item (the kernel embeds work_struct in the group).
 */
export class IopfGroup implements WorkItem {
  /** Trace id: lastFault.reqId. */
  readonly id: number;
  /** Model-unique serial (ids above may repeat across tests). */
  readonly serial: number;
  readonly dev: number;
  /** The last fault (group->last_fault). */
  readonly lastFault: FaultRecord;
  /** Partials first in arrival order, the last fault at the end (§2). */
  readonly faults: FaultRecord[];
  /** The fault parameters this group holds a reference on. */
  readonly param: FaultParam;
  /** The attach handle found at report time (the handler and, for SVA, the mm come from it);
   * v6.7 (lookup-in-work): UNRESOLVED_HANDLE until the work looks the domain up. */
  handle: AttachHandle;
  /** The on-stack abort group of §3 step 5. */
  readonly aborted: boolean;
  /** Virtual time the group was formed. */
  readonly formedAt: number;
  /** Pending node linked on param.pending (not yet answered). */
  pendingLinked = false;
  /** iopf_free_group() ran (or remove freed it, bug remove-frees-live-group). */
  freed = false;
  /** The core answered this group (through its own pending node). */
  answered = false;
  /** Set by a handler that runs the group as work. */
  work: GroupWork | null = null;
  workQueued = false;
  workSeq = 0;
  /** Handler scratch (SVA: next fault index, code so far, worker). */
  cursor = 0;
  code: RespCodeValue = 0;
  worker = -1;
  /** Handler-private data (iommufd cookie, …). */
  priv: unknown = undefined;

  constructor(
    dev: number,
    lastFault: FaultRecord,
    param: FaultParam,
    handle: AttachHandle,
    aborted: boolean,
    formedAt: number,
  ) {
    this.id = lastFault.reqId;
    this.serial = nextSerial++;
    this.dev = dev;
    this.lastFault = lastFault;
    this.faults = [lastFault];
    this.param = param;
    this.handle = handle;
    this.aborted = aborted;
    this.formedAt = formedAt;
  }

  get faultCount(): number {
    return this.faults.length;
  }

  /** IommufdGroup: the attachment the group came through. */
  get attachId(): number {
    return this.handle.id;
  }

  /** IommufdGroup: iommufd device object id. */
  get devId(): number {
    return this.handle.devId ?? this.dev;
  }

  runWork(worker: number): void {
    const w = this.work;
    if (w === null) throw new Error('IopfGroup.runWork: queued without a work function');
    w.runGroup(this, worker);
  }
}
