/**
 * Known-bug variants: historic or current kernel behaviours that break a rule, switchable per run
 * (`--bug NAME` or `bugs:` in a scenario). Each must be caught by the checker on its scenario; a
 * variant the checker misses is a hole in the checker (the canary test asserts this).
 */
export interface BugVariant {
  name: string;
  summary: string;
  /** Where the behaviour comes from. */
  source: string;
  /** Shipped scenario (path relative to the package root) on which `--seed 1 --bug NAME` exits 1. */
  scenario: string;
  /** The rule the checker reports. */
  rule: string;
  /** The IOMMU family whose driver has the bug (unset: the core or iommufd, every family). */
  family?: 'vtd' | 'smmuv3' | 'amd';
  /** Where a kernel profile that contains the variant reaches it by another path than
   * `scenario` (path as `scenario`; profiles not named use `scenario`). */
  profileScenarios?: Readonly<Record<string, string>>;
  /** Switches (forms) under which the variant's code does not run at all: a profile with one of
   * them shows nothing of it (`explore --generate --bug` does not draw such profiles). */
  inertWith?: readonly string[];
}

export const BUGS: readonly BugVariant[] = [
  {
    name: 'vtd-response-pasid-always',
    summary: 'VT-d page group response carries a PASID whenever the request had one, ignoring the PRG Response PASID Required bit',
    source: 'seed thread (intel_svm_prq_report); mainline intel_iommu_page_response as read in 2026 (reference linux-iopf §8)',
    scenario: 'default',
    rule: 'HOST.RESP.PASID_IFF_REQUIRED',
    family: 'vtd',
  },
  {
    name: 'flush-ignores-pasid',
    summary: 'iopf_queue_flush_dev() only waits for the workqueue: partial and pending faults of the PASID survive it',
    source: 'drivers/iommu/io-pgfault.c iopf_queue_flush_dev before the seed (flush_workqueue only), in a kernel whose out-of-core handler has no auto-response of its own (reference linux-iopf §5)',
    scenario: 'scenarios/flush-pasid-reuse.yaml',
    rule: 'CORE.FLUSH.NOTHING_PENDING',
  },
  {
    name: 'flush-partial-stops-early',
    summary: "the seed's flush stops its partial-list walk at the first fault of another PASID",
    source: 'seed patch v4 09/10, drivers/iommu/io-pgfault.c iopf_queue_flush_dev(dev, pasid): the partial-list walk breaks at the first other PASID (reference linux-iopf §5)',
    scenario: 'scenarios/flush-partial-interleaved.yaml',
    rule: 'CORE.FLUSH.NOTHING_PENDING',
    // A flush that only waits for the workqueue walks no partial list.
    inertWith: ['flush-workqueue-only'],
  },
  {
    name: 'no-pending-warning-response',
    summary: 'a response for a group already answered by a flush is an error ("no pending PRQ, drop response", -EINVAL)',
    source: 'drivers/iommu/iommu.c iommu_page_response (v6.7 and the seed\'s base): "no pending PRQ, drop response" (reference linux-iopf §4, §5)',
    scenario: 'scenarios/iommufd-after-flush.yaml',
    rule: 'CORE.RESP.LATE_IS_NOT_ERROR',
  },
  {
    name: 'error-response-per-request',
    summary: 'the report path answers INVALID for every request of a PASID without handler, not once per group',
    source: 'mainline drivers/iommu/io-pgfault.c iommu_report_device_fault → iopf_error_response for any request (reference linux-iopf §3 step 2, observation a)',
    scenario: 'scenarios/no-handler-pasid.yaml',
    rule: 'HOST.RESP.ONE_PER_GROUP',
  },
  {
    name: 'iommufd-write-count',
    summary: 'iommufd fault write() returns a positive count after a failed copy from user space',
    source: 'drivers/iommu/iommufd/eventq.c iommufd_fault_fops_write before the 2026 fix (Fixes: 07838f7fd529) (reference linux-iopf §9)',
    scenario: 'scenarios/iommufd-bad-vmm.yaml',
    rule: 'IOMMUFD.WRITE.ERROR_RETURNED',
  },
  {
    name: 'iommufd-accepts-failure',
    summary: 'user space may answer FAILURE, which disables PRI for the whole function',
    source: 'early iommufd fault uAPI: drivers/iommu/iommufd/fault.c iommufd_fault_fops_write took any code (reference linux-iopf §9)',
    scenario: 'scenarios/iommufd-bad-vmm.yaml',
    rule: 'IOMMUFD.RESP.NO_FAILURE',
  },
  {
    name: 'remove-frees-live-group',
    summary: 'iopf_queue_remove_device() frees a group a handler still holds',
    source: 'mainline drivers/iommu/io-pgfault.c iopf_queue_remove_device: answers and frees every pending group (reference linux-iopf §6)',
    scenario: 'scenarios/remove-while-handling.yaml',
    rule: 'CORE.REMOVE.NO_LIVE_GROUP',
  },
  {
    name: 'amd-complete-ppr-raw',
    summary:
      'AMD answers with the core\'s response code as the COMPLETE_PPR status (FAILURE goes out as 2, a reserved PCIe code), sets GN/PASID from the device\'s PASID-required bit even when the request had no PASID, and answers every refused entry ("nobody cared"), not only its group\'s last',
    source:
      'mainline drivers/iommu/amd/iommu.c amd_iommu_page_response/amd_iommu_complete_ppr/build_complete_ppr; ppr.c iommu_call_iopf_notifier ("nobody cared" FAILURE for entries without GN)',
    scenario: 'scenarios/amd-no-pasid.yaml',
    rule: 'HOST.RESP.CODE_DEFINED',
    family: 'amd',
  },
  {
    name: 'vtd-resp-code-raw',
    summary:
      'VT-d puts the core\'s response code into the page group response as it is: FAILURE goes out as 2, a reserved PCIe code (the function treats it as Response Failure)',
    source:
      'mainline drivers/iommu/intel/prq.c intel_iommu_page_response and v6.7 svm.c intel_svm_page_response (QI_PGRP_RESP_CODE(msg->code)); include/linux/iommu.h enum iommu_page_response_code (FAILURE = 2)',
    scenario: 'scenarios/vtd-abort.yaml',
    rule: 'HOST.RESP.CODE_DEFINED',
    family: 'vtd',
  },
  {
    name: 'amd-grpid-last-bit',
    summary:
      'AMD reports grpid = the 10-bit PPR tag (PRG index | last << 9): a group\'s non-last faults never match its last fault, which forms the group alone, and stay on the partial list for ever',
    source: 'mainline drivers/iommu/amd/ppr.c iommu_call_iopf_notifier (fault.prm.grpid = PPR_TAG), amd_iommu_types.h PPR_TAG',
    scenario: 'scenarios/amd-multi-page.yaml',
    rule: 'CORE.PARTIAL.GATHERED',
    family: 'amd',
  },
  {
    name: 'gather-ignores-pasid',
    summary:
      'the core keys partial faults by grpid alone: a group gathers the listed partials of another PASID with its PRG index, and the partials of a group answered at report time (its PASID lost its handler) stay listed for a later group of that index to gather',
    source:
      'drivers/iommu/io-pgfault.c iopf_group_alloc (mainline; v6.7 iommu_queue_iopf): partials matched on prm.grpid only; iommu_report_device_fault\'s error response leaves the partial list alone (reference linux-iopf §3 step 5, observation b)',
    scenario: 'scenarios/gather-other-pasid.yaml',
    rule: 'CORE.GROUP.ONE_PASID',
    // v6.9/v6.7 free a handler-less PRG's partials at its last request (iommu_queue_iopf's
    // cleanup); theirs are left by a detach whose flush only waits for the workqueue.
    profileScenarios: { 'v6.9': 'scenarios/flush-partial-interleaved.yaml', 'v6.7': 'scenarios/flush-partial-interleaved.yaml' },
  },
  {
    name: 'vtd-drain-wakes-one',
    summary:
      'prq_event_thread wakes one waiter of prq_complete per run (complete(), not complete_all()): of two PASID drains of one IOMMU waiting at once, the other sleeps until the next page request — on a quiet IOMMU its detach never returns',
    source:
      'drivers/iommu/intel/prq.c prq_event_thread ("if (!completion_done(&iommu->prq_complete)) complete(...)") and intel_drain_pasid_prq (wait_for_completion in prq_retry); v6.7 svm.c the same',
    scenario: 'scenarios/vtd-concurrent-drains.yaml',
    rule: 'LIVENESS.DRAIN_ENDS',
    family: 'vtd',
  },
  {
    name: 'iommufd-replace-new-hwpt',
    summary:
      'iommufd replace answers the old attachment\'s groups through the new hwpt\'s fault object: onto a hwpt without one, or with another one, they are never answered',
    source:
      'drivers/iommu/iommufd/device.c iommufd_hwpt_replace_device() → iommufd_auto_response_faults(hwpt, old_handle) since "iommufd: Make attach_handle generic than fault specific", until the July 2026 fix (reference linux-iopf §12 item 8)',
    scenario: 'scenarios/iommufd-replace.yaml',
    rule: 'IOMMUFD.DETACH.AUTO_RESPONSE',
  },
];

export const BUG_NAMES: readonly string[] = BUGS.map((b) => b.name);

/** The shipped scenario on which kernel profile `profile` (containing `b`) shows it. */
export function bugScenarioFor(b: BugVariant, profile: string): string {
  return b.profileScenarios?.[profile] ?? b.scenario;
}
