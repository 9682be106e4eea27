/**
 * Kernel profiles as data (reference linux-iopf §0): a profile is the body of kernel code it names,
 * bugs included, written down as the set of behaviour switches that are on in it. A switch is
 * either a known bug (src/scenario/bugs.ts: breaks a rule, has a scenario the checker catches it
 * on) or a *form*: a structural choice of one kernel generation that is not a defect by itself
 * (where the pending list lives, who answers a failed report, when the domain is looked up…).
 * `reference` has no switch on: it is the contract the checker's rules demand.
 *
 * Adding a switch: one entry in FORMS (or BUGS), its name in the `switches` of the profiles whose
 * code has it, and the code that reads `env.behaviours.has(NAME)` in the layer it changes.
 * `iopf list profiles` prints the matrix from these tables; `--bug NAME` adds any switch to any
 * profile.
 */
import { BUGS } from './bugs.js';

export const PROFILE_NAMES = ['reference', 'mainline', 'seed', 'v6.9', 'v6.7'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** A structural choice of a kernel generation (not a rule breach by itself). */
export interface Form {
  name: string;
  summary: string;
  /** Kernel file and function the behaviour comes from. */
  source: string;
}

/** Names of the forms, for the code that reads them (a typo is a type error). */
export const Forms = {
  FLUSH_WORKQUEUE_ONLY: 'flush-workqueue-only',
  FLUSH_UNDER_DEV_LOCK: 'flush-under-dev-lock',
  PENDING_COPIES: 'pending-copies',
  LOOKUP_IN_WORK: 'lookup-in-work',
  DRIVER_ANSWERS_REPORT_ERRORS: 'driver-answers-report-errors',
  REMOVE_BUSY_WHILE_PENDING: 'remove-busy-while-pending',
  VTD_SVM_PAGE_RESPONSE: 'vtd-svm-page-response',
  NO_IOMMUFD_AUTO_RESPONSE: 'no-iommufd-auto-response',
  SMMUV3_PRI_DENY: 'smmuv3-pri-deny',
  AMD_REMOVE_PASID_NO_FLUSH: 'amd-remove-pasid-no-flush',
  SMMUV3_REMOVE_PASID_NO_FLUSH: 'smmuv3-remove-pasid-no-flush',
} as const;

export const FORMS: readonly Form[] = [
  {
    name: Forms.FLUSH_WORKQUEUE_ONLY,
    summary:
      'iopf_queue_flush_dev(dev) only waits for the fault workqueue; partial and pending faults of the PASID stay (the owner of out-of-core groups answers them: iommufd detach/replace/destroy, remove_device). The checker holds such a flush to that contract only (no in-kernel handler of the PASID still runs)',
    source:
      'drivers/iommu/io-pgfault.c iopf_queue_flush_dev (mainline; v6.7/v6.9 the same, without a PASID argument)',
  },
  {
    name: Forms.FLUSH_UNDER_DEV_LOCK,
    summary:
      'the flush holds dev->iommu->lock across flush_workqueue(); a report meeting it waits (the VT-d PRQ thread blocks in its report)',
    source:
      'v6.7 drivers/iommu/io-pgfault.c iopf_queue_flush_dev (mutex_lock(&param->lock) around flush_workqueue); reference §12 item 10',
  },
  {
    name: Forms.PENDING_COPIES,
    summary:
      'the pending list holds copies of each last fault; a group response searches it by grpid (and PASID when the fault needs one in the response) and answers the first match — possibly another group of the same index; nothing found → "no pending PRQ, drop response", -EINVAL',
    source:
      'v6.7 drivers/iommu/iommu.c iommu_report_device_fault/iommu_page_response; v6.9 drivers/iommu/io-pgfault.c iommu_page_response (reference §0, §4)',
  },
  {
    name: Forms.LOOKUP_IN_WORK,
    summary:
      'no domain lookup at report: every last request forms a group that is queued; the work (iopf_handler) looks the domain of the PASID up when it runs and answers INVALID from the workqueue when there is none',
    source:
      'v6.7 drivers/iommu/io-pgfault.c iommu_queue_iopf/iopf_handler (iommu_get_domain_for_dev_pasid in the work)',
  },
  {
    name: Forms.DRIVER_ANSWERS_REPORT_ERRORS,
    summary:
      'a failed report is not answered by the core: the IOMMU driver answers it (VT-d handle_bad_prq_event: Invalid for the last request of a group or one with private data)',
    source:
      'v6.7/v6.9 drivers/iommu/intel/svm.c prq_event_thread → handle_bad_prq_event when intel_svm_prq_report fails',
  },
  {
    name: Forms.REMOVE_BUSY_WHILE_PENDING,
    summary: 'iopf_queue_remove_device() returns -EBUSY and removes nothing while a group is pending',
    source: 'v6.9 drivers/iommu/io-pgfault.c iopf_queue_remove_device (reference §0)',
  },
  {
    name: Forms.VTD_SVM_PAGE_RESPONSE,
    summary:
      'VT-d page responses through intel_svm_page_response: refused (-EINVAL) without a PASID or for PASID 0/out of range; nothing is sent unless the request closed its group (LPIG) or carried private data, which the response echoes',
    source: 'v6.7/v6.9 drivers/iommu/intel/svm.c intel_svm_page_response (before prq.c)',
  },
  {
    name: Forms.NO_IOMMUFD_AUTO_RESPONSE,
    summary:
      "the seed's series predates iommufd's auto-response: a detach leaves the groups user space holds to the flush in the driver's PASID drain (iopf_queue_flush_dev(dev, pasid)); user space's own answers then come late",
    source:
      'seed thread, patch v4 09/10 (iommu_page_response "no pending PRQ" to be removed "given iommufd responses after this flush")',
  },
  {
    name: Forms.SMMUV3_PRI_DENY,
    summary:
      'SMMUv3 reports no PRI page request to the iopf core: the PRI queue thread logs "unexpected PRI request received" and answers every request that closes its group (Stop Markers included) with DENY. A scenario\'s iommu.smmuv3.pri_policy overrides it',
    source: 'drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c arm_smmu_handle_ppr (CMDQ_PRI_1_RESP_DENY)',
  },
  {
    name: Forms.AMD_REMOVE_PASID_NO_FLUSH,
    summary:
      'AMD removes a PASID without flushing the fault queue: a queued work item of the PASID may outlive the unbind',
    source:
      'drivers/iommu/amd/pasid.c amd_iommu_remove_dev_pasid (no iopf_queue_flush_dev; reference §12 item 5)',
  },
  {
    name: Forms.SMMUV3_REMOVE_PASID_NO_FLUSH,
    summary:
      'SMMUv3 removes a PASID without flushing the fault queue (the stall model assumes the device driver completed its DMA first): a queued work item of the PASID may outlive the detach; only the removal of the last iopf domain (arm_smmu_disable_iopf → iopf_queue_remove_device) cleans up',
    source:
      'drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c arm_smmu_remove_dev_pasid, arm_smmu_disable_iopf (no iopf_queue_flush_dev); seed thread ("The SMMUv3 driver doesn\'t use it")',
  },
];

export interface Profile {
  name: ProfileName;
  /** The body of code it reproduces. */
  code: string;
  summary: string;
  /** Behaviour switches on (bug and form names). */
  switches: readonly string[];
}

export const PROFILES: readonly Profile[] = [
  {
    name: 'reference',
    code: 'none: every known bug fixed',
    summary:
      "what the checker's rules demand: the seed's per-PASID flush with its walk fixed, partial faults gathered by (PASID, PRG index), one error response per group, responses by the group's own pending node, PASID in responses per the device's bit, codes mapped to PCIe codes",
    switches: [],
  },
  {
    name: 'mainline',
    code: 'mainline as read in 2026 (v6.10+ io-pgfault.c, intel/prq.c, amd/ppr.c, arm-smmu-v3.c, iommufd/eventq.c)',
    summary:
      'per-group pending node, handler found at report time, core answers report errors for every request, flush only waits for the workqueue, iommufd answers leftovers on detach',
    switches: [
      'error-response-per-request',
      'remove-frees-live-group',
      'vtd-response-pasid-always',
      'vtd-resp-code-raw',
      'vtd-drain-wakes-one',
      'amd-complete-ppr-raw',
      'amd-grpid-last-bit',
      'iommufd-replace-new-hwpt',
      'gather-ignores-pasid',
      Forms.FLUSH_WORKQUEUE_ONLY,
      Forms.SMMUV3_PRI_DENY,
      Forms.SMMUV3_REMOVE_PASID_NO_FLUSH,
      Forms.AMD_REMOVE_PASID_NO_FLUSH,
    ],
  },
  {
    name: 'seed',
    code: "the seed's series as posted (v4, 2023, iopf_queue_flush_dev(dev, pasid)) on its own base",
    summary:
      "per-PASID flush as posted (partial walk stops early), the late-response warning the review asked to drop, the base's VT-d response (PASID whenever the request had one, raw code)",
    switches: [
      'flush-partial-stops-early',
      'no-pending-warning-response',
      'vtd-response-pasid-always',
      'vtd-resp-code-raw',
      'gather-ignores-pasid',
      'vtd-drain-wakes-one',
      Forms.NO_IOMMUFD_AUTO_RESPONSE,
      Forms.SMMUV3_PRI_DENY,
      Forms.SMMUV3_REMOVE_PASID_NO_FLUSH,
    ],
  },
  {
    name: 'v6.9',
    code: "the merged form of the seed's series (v6.8/v6.9 io-pgfault.c, intel/svm.c)",
    summary:
      'pending copies of the last fault, responses matched by grpid (+PASID), handler looked up at report time, remove_device -EBUSY while pending, flush only waits for the workqueue',
    // vtd-resp-code-raw is in this code too (QI_PGRP_RESP_CODE(msg->code)) but no path of these
    // kernels answers FAILURE (no abort group, no iommufd), so it is not a defect they show.
    switches: [
      'vtd-response-pasid-always',
      'gather-ignores-pasid',
      'vtd-drain-wakes-one',
      Forms.FLUSH_WORKQUEUE_ONLY,
      Forms.PENDING_COPIES,
      Forms.DRIVER_ANSWERS_REPORT_ERRORS,
      Forms.REMOVE_BUSY_WHILE_PENDING,
      Forms.VTD_SVM_PAGE_RESPONSE,
      Forms.SMMUV3_PRI_DENY,
      Forms.SMMUV3_REMOVE_PASID_NO_FLUSH,
    ],
  },
  {
    name: 'v6.7',
    code: 'v6.2–v6.8 iommu_queue_iopf (io-pgfault.c, iommu.c, intel/svm.c)',
    summary:
      'every last request queued, the domain looked up by the work (INVALID from the workqueue when none), pending copies, flush under dev->iommu->lock, remove without the pending check',
    switches: [
      'vtd-response-pasid-always',
      'gather-ignores-pasid',
      'vtd-drain-wakes-one',
      Forms.FLUSH_WORKQUEUE_ONLY,
      Forms.FLUSH_UNDER_DEV_LOCK,
      Forms.PENDING_COPIES,
      Forms.LOOKUP_IN_WORK,
      Forms.DRIVER_ANSWERS_REPORT_ERRORS,
      Forms.VTD_SVM_PAGE_RESPONSE,
      Forms.SMMUV3_PRI_DENY,
      Forms.SMMUV3_REMOVE_PASID_NO_FLUSH,
    ],
  },
];

/** Every switch: bugs first (iopf list bugs), then forms. */
export const SWITCHES: readonly { name: string; kind: 'bug' | 'form'; summary: string; source: string }[] = [
  ...BUGS.map((b) => ({ name: b.name, kind: 'bug' as const, summary: b.summary, source: b.source })),
  ...FORMS.map((f) => ({ name: f.name, kind: 'form' as const, summary: f.summary, source: f.source })),
];
export const SWITCH_NAMES: readonly string[] = SWITCHES.map((s) => s.name);

export function profileByName(name: ProfileName): Profile {
  const p = PROFILES.find((x) => x.name === name);
  if (p === undefined) throw new Error(`unknown kernel profile ${name}`);
  return p;
}

/** The switches on in a run: the profile's plus the extra ones (scenario `bugs:`, `--bug`). */
export function behavioursOf(name: ProfileName, extra: readonly string[] = []): ReadonlySet<string> {
  return new Set([...profileByName(name).switches, ...extra]);
}

/** The profiles that contain a switch. */
export function profilesWith(sw: string): ProfileName[] {
  return PROFILES.filter((p) => p.switches.includes(sw)).map((p) => p.name);
}
