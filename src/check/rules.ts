/**
 * The rule catalogue: every property the checker watches, with its ID, the side that must keep it,
 * where it comes from, and a one-line statement. IDs follow the hardware reference
 * (pcie-iommu-hardware.md §1.3, §1.6, §2.3, §2.4) and, for the kernel's contract, our own
 * CORE.* / SVA.* / IOMMUFD.* / LIVENESS.* names (linux-iopf.md §3-§9).
 *
 * `mode`: 'cheap' rules cost O(1) per event and keep only fixed-size counters (per device or per
 * (device, PRG index) slot); 'full' rules also track groups, partial faults and (device, PASID)
 * state in maps. `ftrace`: the rule can be checked from the kernel's own tracepoints
 * (intel_iommu:prq_report + qi_submit page_grp_resp), i.e. from host-side events alone.
 */

export type RuleSide = 'device' | 'host' | 'kernel';
export type RuleMode = 'cheap' | 'full';

export interface Rule {
  readonly id: string;
  readonly side: RuleSide;
  /** Spec section or kernel function the rule comes from. */
  readonly source: string;
  /** One line. */
  readonly statement: string;
  readonly mode: RuleMode;
  /** Checkable from Linux ftrace text (host-side events only). */
  readonly ftrace: boolean;
}

export const RULES: readonly Rule[] = [
  // --- PCIe function (pcie-iommu-hardware.md §1.3) ---
  {
    id: 'PRI.ENABLE.REQUIRED',
    side: 'device',
    source: 'PCIe Base 10.5.2 PRI Control (Enable); hardware ref §1.3',
    statement: 'The function sends page requests only while PRI Enable is set.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'PRI.CREDIT.LIMIT',
    side: 'device',
    source: 'PCIe Base 10.5.2 Outstanding Page Request Allocation; hardware ref §1.3',
    statement: 'Outstanding page requests (every request of every unanswered group) never exceed the allocation.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'PRI.PRGI.NO_REUSE',
    side: 'device',
    source: 'PCIe Base 10.4.1 Page Request Group Index; hardware ref §1.3',
    statement: 'A PRG index is not used for a new group (another PASID) while a group with that index is outstanding.',
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'PRI.GROUP.LAST_CLOSES',
    side: 'device',
    source: 'PCIe Base 10.4.1 Last Request in PRG; hardware ref §1.3',
    statement: 'After the L=1 request of a group the function sends nothing more under that index until it is answered.',
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'PRI.STOP.NO_CREDIT',
    side: 'device',
    source: 'PCIe Base 10.4.1.2 Stop Marker; hardware ref §1.3',
    statement: 'A Stop Marker consumes no page request credit (the outstanding count the function reports excludes it).',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'PRI.STOP.AFTER_QUIESCE',
    side: 'device',
    source: 'PCIe Base 10.4.1.2 Stop Marker; hardware ref §1.3',
    statement: 'After a Stop Marker for a PASID the function sends no page request of that PASID until it is bound again.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'PRI.RESP.UPRGI',
    side: 'device',
    source: 'PCIe Base 10.5.2 PRI Status (UPRGI); hardware ref §1.3',
    statement: 'A response matching no outstanding group is flagged UPRGI and ignored; one matching a group is not.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'PRI.RESP.PASID_FORM',
    side: 'device',
    source: 'PCIe Base 10.5.2 PRG Response PASID Required; hardware ref §1.3',
    statement: 'A response reaching the function carries a PASID iff the request had one and PRG Response PASID Required is set.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'PRI.RESP.FAILURE_DISABLES',
    side: 'device',
    source: 'PCIe Base 10.4.2 Response Failure (and reserved codes); hardware ref §1.3',
    statement: 'After a Response Failure (or reserved code) the function sends no page request until PRI is reset.',
    mode: 'cheap',
    ftrace: false,
  },
  // --- Host (hardware ref §1.6) ---
  {
    id: 'HOST.RESP.ONE_PER_GROUP',
    side: 'host',
    source: 'PCIe Base 10.4.2; hardware ref §1.6',
    statement: 'A page request group that reached the host gets at most one response (software or hardware); none names a group that is not there.',
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'HOST.RESP.AFTER_LAST',
    side: 'host',
    source: 'PCIe Base 10.4.2; hardware ref §1.6',
    statement: 'A group is answered only after its L=1 request arrived at the host (not while it is still in flight).',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'HOST.RESP.NO_PARTIAL',
    side: 'host',
    source: 'hardware ref §1.6; linux-iopf §3 step 2 (error response for a non-last request)',
    statement: 'No response names a group whose L=1 request has not been sent (a response to L=0 requests only).',
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'HOST.RESP.PASID_IFF_REQUIRED',
    side: 'host',
    source: 'PCIe Base 10.5.2 PRG Response PASID Required; linux-iopf §8 (intel_iommu_page_response)',
    statement: "A software response carries the request's PASID iff the request had one and the function requires it.",
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'HOST.RESP.CODE_DEFINED',
    side: 'host',
    source: 'PCIe Base 10.4.2 Response Code; hardware ref §1.4',
    statement: 'Only Success (0), Invalid Request (1) and Response Failure (0xF) are sent.',
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'HOST.STOP.NO_RESPONSE',
    side: 'host',
    source: 'PCIe Base 10.4.1.2 Stop Marker; hardware ref §1.6, §2.4 (PRQ thread bad-request path)',
    statement: 'The host never answers a Stop Marker (neither software nor a hardware auto-response).',
    mode: 'cheap',
    ftrace: true,
  },
  {
    id: 'HOST.CONSERVATION',
    side: 'host',
    source: 'hardware ref §1.6',
    statement: 'Every page request sent reaches the IOMMU queue or is dropped there with accounting; nothing vanishes in transit.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'LIVENESS.ALL_ANSWERED',
    side: 'host',
    source: 'hardware ref §1.6 HOST.RESP.ONE_PER_GROUP (exactly one); issue 7',
    statement: 'By the end of the run every group whose L=1 reached the host is answered, unless dropped with accounting or PRI was reset/disabled.',
    mode: 'cheap',
    ftrace: true,
  },
  // --- IOMMU queues (hardware ref §2.3, §2.4) ---
  {
    id: 'VTD.PRQ.FULL_N_MINUS_1',
    side: 'host',
    source: 'VT-d 7.5.1 page request queue (PQH/PQT); hardware ref §2.3',
    statement: 'A queue of N entries never holds more than N-1 pending page requests.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'VTD.PRQ.OVERFLOW_AUTORESP',
    side: 'host',
    source: 'VT-d 7.5.1 overflow; SMMUv3 PRIQ overflow; hardware ref §2.3, §3.1',
    statement: 'A request with L=1 dropped at a full queue (not a Stop Marker) gets a hardware response; a dropped L=0 request gets none.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'VTD.DRAIN.COMPLETE',
    side: 'kernel',
    source: 'VT-d 7.10 draining; Linux intel_drain_pasid_prq(); hardware ref §2.4',
    statement: 'After the drain of (device, PASID) returns no page request of that PASID is queued, reported or arrives until it is bound again.',
    mode: 'full',
    ftrace: false,
  },
  // --- Kernel contract (linux-iopf §3-§9) ---
  {
    id: 'CORE.FLUSH.NOTHING_PENDING',
    side: 'kernel',
    source: "iopf_queue_flush_dev() (seed v4 09/10); linux-iopf §5",
    statement: 'After flush(dev, pasid) returns 0 nothing of that PASID is partial or pending and no handler for it runs (flush(dev): no handler runs).',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.FLUSH.NO_NEW_FAULTS',
    side: 'kernel',
    source: 'iopf_queue_flush_dev() caller contract; linux-iopf §5',
    statement: 'No fault of the PASID is reported between the start and the end of its flush (the driver stopped and drained them first).',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.RESP.AT_MOST_ONCE',
    side: 'kernel',
    source: 'iopf_group_response() pending-node check; linux-iopf §4',
    statement: 'The core sends at most one response per group it formed.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.RESP.LATE_IS_NOT_ERROR',
    side: 'kernel',
    source: 'seed review (drop "no pending PRQ" warning); linux-iopf §4, §5',
    statement: 'A response attempt for a group already answered (e.g. by a flush) is ignored, not returned as an error.',
    mode: 'cheap',
    ftrace: false,
  },
  {
    id: 'CORE.REMOVE.NO_LIVE_GROUP',
    side: 'kernel',
    source: 'iopf_queue_remove_device(); linux-iopf §6',
    statement: 'A device is not removed while a handler still holds one of its groups.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.REMOVE.NOTHING_LEFT',
    side: 'kernel',
    source: 'iopf_queue_remove_device(); linux-iopf §6',
    statement: 'After remove_device no pending group of the device remains and no new partial or group appears until it is added again.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.PARTIAL.FREED',
    side: 'kernel',
    source: 'iopf_queue_discard_partial(), iopf_queue_remove_device(); linux-iopf §6',
    statement: "After discard_partial (of the device's IOMMU) or remove_device no partial fault of that device survives.",
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.PARTIAL.GATHERED',
    side: 'kernel',
    source: 'iommu_report_device_fault() step 5 (partials gathered by grpid); AMD ppr.c iommu_call_iopf_notifier (grpid = PPR_TAG); linux-iopf §3',
    statement: 'When a group forms for PRG index p of a device, every partial fault of (device, p) still listed joins it; none is left behind on the partial list.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'CORE.GROUP.ONE_PASID',
    side: 'kernel',
    source: 'iommu_report_device_fault() step 5 (partials gathered by grpid, PASID not compared); linux-iopf §3 observation (b)',
    statement: "Every fault gathered into a group has the group's PASID (no partial of another PASID joins it).",
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'SVA.PASID.NO_STALE_MM',
    side: 'kernel',
    source: 'iommu-sva.c PASID lifetime; linux-iopf §7',
    statement: 'A fault sent while PASID p belonged to mm A is never handled against another mm after p is reused.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'IOMMUFD.WRITE.ERROR_RETURNED',
    side: 'kernel',
    source: 'iommufd eventq.c fault write() (Fixes: 07838f7fd529); linux-iopf §9',
    statement: 'write() on the fault fd returns 8 x the responses it took, or an error when it took none; never more than asked.',
    mode: 'full',
    ftrace: false,
  },
  {
    id: 'IOMMUFD.RESP.NO_FAILURE',
    side: 'kernel',
    source: 'uapi iommu_hwpt_page_response (FAILURE removed); linux-iopf §9',
    statement: 'A group delivered through iommufd is never answered Response Failure on behalf of user space.',
    mode: 'full',
    ftrace: false,
  },
];

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

const BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));

export function ruleById(id: string): Rule | undefined {
  return BY_ID.get(id);
}

/** Index of a rule in RULES; throws for an unknown ID (a typo in the checker is a programmer error). */
export function ruleIndex(id: string): number {
  const i = RULE_IDS.indexOf(id);
  if (i < 0) throw new Error(`unknown rule ${id}`);
  return i;
}
