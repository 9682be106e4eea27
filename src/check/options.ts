/** How a Monitor is set up: its mode and what it knows of the hardware that a trace does not say. */

export type MonitorMode = 'off' | 'cheap' | 'full';

export interface MonitorOptions {
  readonly mode: MonitorMode;
  /** Entries N of each IOMMU's page request queue (by iommu id); VTD.PRQ.FULL_N_MINUS_1 checks depth <= N-1. */
  readonly queueCapacity?: ReadonlyMap<number, number>;
  /** Whether each IOMMU answers an L=1 request dropped on overflow (VT-d, SMMUv3: true; AMD: scenario switch). */
  readonly overflowAutoResponse?: ReadonlyMap<number, boolean>;
  /**
   * Whether each IOMMU's PASID drain also drains the requests still on their way from the function
   * (VT-d: the Page-Drain wait descriptor, spec §7.10: true). The SMMUv3 and AMD drains can only
   * wait until their queue holds nothing of the PASID (false). Unknown: as VT-d.
   */
  readonly pageDrain?: ReadonlyMap<number, boolean>;
  /** PRG Response PASID Required of a device; undefined = unknown (PASID-form rules skip it). */
  readonly deviceRequiresPasid?: (dev: number) => boolean | undefined;
  /** Requester ID of a device, if known: violation texts name devices by RID (bb:dd.f). */
  readonly deviceRid?: (dev: number) => number | undefined;
  /** Outstanding Page Request Allocation of a device, if known (also learned from credit_stall). */
  readonly creditAllocation?: (dev: number) => number | undefined;
  /**
   * 'host' for inputs with host-side events only (Linux ftrace): page_request/queue_write are the
   * same arrival and response_send implies its receipt; device-only rules are not exercised.
   */
  readonly inputs?: 'model' | 'host';
  /**
   * What iopf_queue_flush_dev(dev, pasid) promises (CORE.FLUSH.NOTHING_PENDING): 'seed' (default)
   * — nothing of the PASID partial or pending after it; 'workqueue' — mainline and v6.7, where the
   * flush only waits for the workqueue: no in-kernel (SVA) handler of the PASID still runs.
   */
  readonly flushContract?: 'seed' | 'workqueue';
  /** Violations stored (all are counted). Default 1000. */
  readonly maxViolations?: number;
  /** Device ids must be below this. Default 256. */
  readonly maxDevices?: number;
}
