/**
 * What the iopf core needs from an IOMMU driver (struct iommu_ops::page_response, and the
 * driver's knowledge of the device). Implemented by the driver glue of each family.
 */
import type { KResult } from '../sim/errno.js';
import type { FaultRecord, PageResponse } from './types.js';

export interface IommuDriverOps {
  /** Family name for messages: "vtd", "smmuv3", "amd". */
  readonly family: string;
  /**
   * The driver's page_response op: answer the group whose last fault is `fault` with `resp`.
   * The driver decides the response's form (PASID present or not) from the fault and the device.
   * `source` is model bookkeeping for the trace (RespSource).
   */
  pageResponse(dev: number, fault: FaultRecord, resp: PageResponse, source: number): KResult;
}
