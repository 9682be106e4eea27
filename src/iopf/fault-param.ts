/**
 * Per-device fault parameters (struct iommu_fault_param, reference linux-iopf §2) and the fault
 * queue (struct iopf_queue). Reference counted: the registration holds one reference, a reporter
 * takes one while it works, a group keeps the one its report took (§3 step 5).
 */
import { assert } from '../sim/assert.js';
import type { Sim } from '../sim/engine.js';
import { Mutex, type Workqueue } from '../sim/sync.js';
import type { IopfGroup } from './group.js';
import type { FaultRecord } from './types.js';

export class IopfQueue {
  /** Devices registered on this queue (list_add: newest first in kernel order). */
  readonly devices: FaultParam[] = [];
  freed = false;
  constructor(
    /** Model id (DISCARD_PARTIAL.iommu). */
    readonly id: number,
    readonly name: string,
    readonly wq: Workqueue,
  ) {}
}

export class FaultParam {
  /** iopf_param->lock. */
  readonly lock: Mutex;
  /** refcount `users`; 1 for the registration. */
  users = 1;
  /** Partial faults in arrival order (the kernel list is head-inserted: walk it backwards). */
  readonly partial: FaultRecord[] = [];
  /** Pending groups in insertion order (mainline list_add: kernel walk is backwards). */
  readonly pending: IopfGroup[] = [];
  /** Visible through dev->iommu->fault_param. */
  published = true;
  /** kfree_rcu ran: any use after this is a model bug (or the remove-frees-live-group bug). */
  freed = false;

  constructor(
    sim: Sim,
    readonly dev: number,
    readonly queue: IopfQueue,
  ) {
    this.lock = new Mutex(sim, `iopf_param->lock/${dev}`);
  }

  /** refcount_inc (the caller knows the count is not zero). */
  get(): void {
    assert(!this.freed && this.users > 0, 'FaultParam.get: use after free');
    this.users++;
  }

  /** iopf_put_dev_fault_param(): true when this dropped the last reference. */
  put(): boolean {
    assert(!this.freed && this.users > 0, 'FaultParam.put: reference count underflow');
    this.users--;
    if (this.users === 0) {
      this.freed = true;
      return true;
    }
    return false;
  }
}
