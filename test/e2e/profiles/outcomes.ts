/**
 * Pinned outcomes of every shipped scenario under every kernel profile, seeds 1–3 (issue 11):
 * "EXIT RULE RULE…" — the exit code `iopf run NAME --kernel PROFILE --seed N` gives and the set
 * of rules it reports. `reference` is clean except where a scenario exists to show a liveness hole
 * (LIVENESS_SCENARIOS); the kernels show their defects where a scenario reaches them. A change
 * here is a change of what a kernel profile does: regenerate deliberately
 * (`UPDATE_OUTCOMES=1 npx vitest run test/e2e/profiles` prints the table) and say why.
 */
import { expect, it } from 'vitest';
import { loadScenario, shippedScenarios, simulate } from '../../../src/api.js';
import type { ProfileName } from '../../../src/scenario/profiles.js';
import type { Scenario } from '../../../src/scenario/schema.js';

const same = (x: string): [string, string, string] => [x, x, x];

/** Shipped scenarios that exist to show a hole the reference has too (issue 6: closing the fd
 * answers nothing). */
export const LIVENESS_SCENARIOS = ['iommufd-close-only'];

export const OUTCOMES: Record<string, Record<ProfileName, [string, string, string]>> = {
  amd: {
    reference: same('0'),
    mainline: same('1 CORE.PARTIAL.GATHERED'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'amd-multi-page': {
    reference: same('0'),
    mainline: same('1 CORE.PARTIAL.GATHERED'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'amd-no-pasid': {
    reference: same('0'),
    mainline: same(
      '1 CORE.PARTIAL.GATHERED HOST.RESP.CODE_DEFINED HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM',
    ),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  default: {
    reference: same('0'),
    mainline: same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    seed: same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.9': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.7': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
  },
  'flush-partial-interleaved': {
    reference: same('0'),
    mainline: ['1 CORE.GROUP.ONE_PASID', '1 CORE.GROUP.ONE_PASID', '0'],
    seed: [
      '1 CORE.FLUSH.NOTHING_PENDING CORE.GROUP.ONE_PASID CORE.RESP.LATE_IS_NOT_ERROR IOMMUFD.WRITE.ERROR_RETURNED',
      '1 CORE.RESP.LATE_IS_NOT_ERROR IOMMUFD.WRITE.ERROR_RETURNED',
      '1 CORE.RESP.LATE_IS_NOT_ERROR IOMMUFD.WRITE.ERROR_RETURNED',
    ],
    'v6.9': ['1 CORE.GROUP.ONE_PASID', '1 CORE.GROUP.ONE_PASID', '0'],
    'v6.7': ['1 CORE.GROUP.ONE_PASID', '1 CORE.GROUP.ONE_PASID', '0'],
  },
  'flush-pasid-reuse': {
    reference: same('0'),
    mainline: same('0'),
    seed: same('1 CORE.RESP.LATE_IS_NOT_ERROR IOMMUFD.WRITE.ERROR_RETURNED'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'gather-other-pasid': {
    reference: same('0'),
    mainline: [
      '1 CORE.GROUP.ONE_PASID HOST.RESP.ONE_PER_GROUP HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.UPRGI',
      '1 CORE.GROUP.ONE_PASID HOST.RESP.ONE_PER_GROUP HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.UPRGI',
      '1 CORE.GROUP.ONE_PASID HOST.RESP.ONE_PER_GROUP HOST.RESP.PASID_IFF_REQUIRED IOMMUFD.DETACH.AUTO_RESPONSE PRI.RESP.UPRGI',
    ],
    seed: same('1 CORE.GROUP.ONE_PASID'),
    // Their report path frees the partials of a last request it cannot queue (iommu_queue_iopf's
    // cleanup, by grpid): A's are gone before a group of B meets its PRG index.
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'iommufd-after-flush': {
    reference: same('0'),
    mainline: same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    seed: same(
      '1 CORE.RESP.LATE_IS_NOT_ERROR HOST.RESP.PASID_IFF_REQUIRED IOMMUFD.WRITE.ERROR_RETURNED PRI.RESP.PASID_FORM',
    ),
    'v6.9': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.7': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
  },
  'iommufd-bad-vmm': {
    reference: same('0'),
    mainline: same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    seed: same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.9': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.7': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
  },
  'iommufd-close-only': {
    reference: same('1 LIVENESS.ALL_ANSWERED'),
    mainline: same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED PRI.RESP.PASID_FORM'),
    seed: same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED PRI.RESP.PASID_FORM'),
    'v6.9': same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED PRI.RESP.PASID_FORM'),
    'v6.7': same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED PRI.RESP.PASID_FORM'),
  },
  'iommufd-replace': {
    reference: same('0'),
    mainline: same('1 IOMMUFD.DETACH.AUTO_RESPONSE LIVENESS.ALL_ANSWERED'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'iommufd-vs-sva': {
    reference: same('0'),
    mainline: same('0'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'no-handler-pasid': {
    reference: same('0'),
    mainline: same('1 HOST.RESP.ONE_PER_GROUP HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.UPRGI'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'remove-while-handling': {
    reference: same('0'),
    mainline: same('1 CORE.REMOVE.NO_LIVE_GROUP HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    seed: same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.9': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
    'v6.7': same('1 HOST.RESP.PASID_IFF_REQUIRED PRI.RESP.PASID_FORM'),
  },
  'smmuv3-pri': {
    reference: same('0'),
    mainline: same('0'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'smmuv3-stall': {
    reference: same('0'),
    mainline: same('0'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'uapi-selftest': {
    reference: same('0'),
    mainline: same('0'),
    seed: same('0'),
    'v6.9': same('1 SCRIPT.EXPECT'),
    'v6.7': same('1 SCRIPT.EXPECT'),
  },
  'v67-flush-vs-report': {
    reference: same('0'),
    mainline: same('0'),
    seed: same('0'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
  'vtd-concurrent-drains': {
    reference: same('0'),
    mainline: same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED LIVENESS.DRAIN_ENDS PRI.RESP.PASID_FORM'),
    seed: same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED LIVENESS.DRAIN_ENDS PRI.RESP.PASID_FORM'),
    'v6.9': same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED LIVENESS.DRAIN_ENDS PRI.RESP.PASID_FORM'),
    'v6.7': same('1 HOST.RESP.PASID_IFF_REQUIRED LIVENESS.ALL_ANSWERED LIVENESS.DRAIN_ENDS PRI.RESP.PASID_FORM'),
  },
  'vtd-abort': {
    reference: same('0'),
    mainline: same('1 HOST.RESP.CODE_DEFINED'),
    seed: same('1 HOST.RESP.CODE_DEFINED'),
    'v6.9': same('0'),
    'v6.7': same('0'),
  },
};

const cache = new Map<string, Scenario>();
function scenario(name: string): Scenario {
  let s = cache.get(name);
  if (s === undefined) {
    const l = loadScenario(name);
    if (!l.ok) throw new Error(`cannot load ${name}: ${l.errors.map((e) => e.message).join('; ')}`);
    s = l.value.scenario;
    cache.set(name, s);
  }
  return s;
}

/** "EXIT RULE…" of one run, as the CLI would end it (exit 1 on any violation). */
export function outcome(name: string, kernel: ProfileName, seed: number): string {
  const r = simulate(scenario(name), { seed, kernel, scenarioRef: name }).report;
  const rules = [...new Set(r.violations.map((v) => v.rule))].sort();
  return [r.violations_total > 0 ? '1' : '0', ...rules].join(' ');
}

/** One test per shipped scenario: its outcomes at seeds 1–3 under `kernel` match the table. */
export function pinOutcomes(kernel: ProfileName): void {
  it('the table names every shipped scenario', () => {
    expect(Object.keys(OUTCOMES).sort()).toEqual([...shippedScenarios()].sort());
  });
  for (const name of shippedScenarios()) {
    it(`${name}: seeds 1–3 under ${kernel}`, () => {
      const got = [1, 2, 3].map((seed) => outcome(name, kernel, seed));
      if (process.env.UPDATE_OUTCOMES) console.log(`${name} ${kernel}: ${JSON.stringify(got)}`);
      else expect(got).toEqual(OUTCOMES[name]?.[kernel]);
    });
  }
}
