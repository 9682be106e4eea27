/**
 * What the checker needs to know of the hardware and kernel that a trace does not say: each
 * function's "PRG Response PASID Required" bit and credit allocation, the VT-d queue size, whether
 * the IOMMU auto-responds on overflow, and what the kernel profile's flush promises. Taken from the
 * scenario — the same hints for the online monitor and for `iopf check --scenario`.
 */
import type { Scenario } from '../scenario/schema.js';
import type { MonitorOptions } from './monitor.js';
import { Forms, profileByName } from '../scenario/profiles.js';

export type ScenarioHints = Pick<MonitorOptions, 'queueCapacity' | 'overflowAutoResponse' | 'pageDrain' | 'deviceRequiresPasid' | 'creditAllocation' | 'flushContract' | 'deviceRid'>;

export function hintsFromScenario(scenario: Scenario): Required<ScenarioHints> {
  const fam = scenario.iommu.family;
  const queueCapacity = new Map<number, number>();
  // VTD.PRQ.FULL_N_MINUS_1 is a VT-d rule: the SMMUv3 PRI queue uses all N entries (wrap bit).
  if (fam === 'vtd') queueCapacity.set(0, 2 ** (scenario.iommu.vtd.prq_order + 7));
  return {
    queueCapacity,
    overflowAutoResponse: new Map([[0, fam !== 'amd' || scenario.iommu.amd.overflow_autoresp]]),
    pageDrain: new Map([[0, fam === 'vtd']]),
    deviceRequiresPasid: (dev) => scenario.devices[dev]?.pri.response_pasid_required,
    creditAllocation: (dev) => scenario.devices[dev]?.pri.allocation,
    deviceRid: (dev) => scenario.devices[dev]?.rid,
    // What the profile's own flush promises (a --bug on top does not change the contract): the
    // seed's and the reference's answer the PASID's pending groups and drop its partials; a
    // flush-workqueue-only kernel (mainline, v6.9, v6.7) only waits for the workqueue.
    flushContract: profileByName(scenario.kernel).switches.includes(Forms.FLUSH_WORKQUEUE_ONLY)
      ? 'workqueue'
      : 'seed',
  };
}

/** Per requester ID, for ftrace input. */
export function ftraceDevicesFromScenario(scenario: Scenario): Map<number, { pasidRequired: boolean }> {
  return new Map(scenario.devices.map((d) => [d.rid, { pasidRequired: d.pri.response_pasid_required }]));
}
