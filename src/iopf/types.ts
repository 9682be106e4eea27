/**
 * The iopf core's data, named as in include/linux/iommu.h (struct iommu_fault_page_request,
 * struct iommu_page_response). These records cross layers: the driver glue builds a fault,
 * the core groups faults, handlers answer groups, the driver turns the answer into a device response.
 */

/** IOMMU_FAULT_PAGE_REQUEST_* flags of a fault record (prm.flags). */
export const FaultFlag = {
  PASID_VALID: 1 << 0,
  LAST_PAGE: 1 << 1,
  /** Mainline numbering (after the 2024 removal of PRIV_DATA renumbered it down from bit 3). */
  RESPONSE_NEEDS_PASID: 1 << 2,
  /** Private data present: removed from mainline in 2024 ("iommu/vt-d: Remove private data from
   * page fault message"); the model keeps it as a model-only bit for the `v6.7` profile. */
  PRIV_DATA: 1 << 3,
} as const;

/** IOMMU_FAULT_PERM_* bits of a fault record (prm.perm). */
export const FaultPerm = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  EXEC: 1 << 2,
  PRIV: 1 << 3,
} as const;

/** enum iommu_page_response_code. */
export const RespCode = {
  SUCCESS: 0,
  INVALID: 1,
  FAILURE: 2,
} as const;
export type RespCodeValue = (typeof RespCode)[keyof typeof RespCode];

export function respCodeName(code: number): 'SUCCESS' | 'INVALID' | 'FAILURE' | 'UNKNOWN' {
  switch (code) {
    case 0:
      return 'SUCCESS';
    case 1:
      return 'INVALID';
    case 2:
      return 'FAILURE';
    default:
      return 'UNKNOWN';
  }
}

/**
 * One page request as the driver reports it (struct iommu_fault, page request part).
 * `addr` is a byte address; the model keeps page-aligned addresses below 2^53 so they are exact.
 * `reqId` is the model's identity of the originating PCIe page request (for conservation and
 * tracing); the kernel has no such field.
 */
export interface FaultRecord {
  flags: number;
  pasid: number;
  /** PRG index (grpid). */
  grpid: number;
  perm: number;
  addr: number;
  /** Private data (VT-d descriptor dwords 2/3), 0 when absent. */
  privateData: number;
  /** Model-only: the device (by model id) that sent the request. */
  dev: number;
  /** Model-only: the page request's id in the trace. */
  reqId: number;
}

/** struct iommu_page_response (mainline: no flags, no version). */
export interface PageResponse {
  pasid: number;
  grpid: number;
  code: RespCodeValue;
}
