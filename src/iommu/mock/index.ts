/**
 * The iommufd selftest's mock IOMMU (drivers/iommu/iommufd/selftest.c, mock_ops): no hardware
 * queue at all. Faults enter the iopf core only through IOMMU_TEST_OP_TRIGGER_IOPF
 * (iommufd_test_trigger_iopf → iommu_report_device_fault), and the driver's page_response op
 * (mock_domain_page_response) takes the core's answer and sends nothing anywhere. The model keeps
 * each answer it received so a test can see them, which the kernel's selftests cannot.
 */
import type { KResult } from '../../sim/errno.js';
import type { Continuation } from '../../sim/sync.js';
import type { ModelEnv } from '../../env/env.js';
import type { FaultRecord, PageResponse } from '../../iopf/types.js';
import type { PageRequestMsg } from '../../pcie/messages.js';
import type { IommuFrontend } from '../frontend.js';

/** One call of the mock driver's page_response op. */
export interface MockPageResponse {
  /** Virtual time of the call. */
  readonly t: number;
  /** Model device index. */
  readonly dev: number;
  /** What the core passed: pasid, grpid, code (enum iommu_page_response_code). */
  readonly pasid: number;
  readonly grpid: number;
  readonly code: number;
  /** The flags of the fault it answers (PASID_VALID, LAST_PAGE, ...). */
  readonly faultFlags: number;
  /** RespSource of the call (which core path answered). */
  readonly source: number;
}

export class MockIommu implements IommuFrontend {
  readonly family = 'mock';
  /** Every page_response call, in order. */
  readonly responses: MockPageResponse[] = [];

  constructor(private readonly env: ModelEnv) {}

  /** The mock has no page request path: a PCIe page request cannot reach it (scenario check). */
  receivePageRequest(msg: PageRequestMsg): void {
    throw new Error(`mock IOMMU: a page request from device ${msg.dev} (the mock has no page request queue)`);
  }

  /** mock_domain_page_response(): records, sends nothing. */
  pageResponse(dev: number, fault: FaultRecord, resp: PageResponse, source: number): KResult {
    this.responses.push({
      t: this.env.sim.now,
      dev,
      pasid: resp.pasid,
      grpid: resp.grpid,
      code: resp.code,
      faultFlags: fault.flags,
      source,
    });
    return 0;
  }

  /** The mock's PASID removal has nothing to drain. */
  drainPasid(_dev: number, _pasid: number, cont: Continuation): void {
    this.env.sim.after(0, cont.kind, cont.a, 0, cont.payload);
  }

  /** The mock has no hardware queue: triggered faults are reported at once. */
  holdsRequests(_dev: number, _pasid: number): boolean {
    return false;
  }

  stats(): Record<string, number> {
    return { page_responses: this.responses.length };
  }
}
