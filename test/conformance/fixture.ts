/**
 * The kernel selftests' fixtures, as sessions on the model: a machine with the iommufd selftest's
 * mock IOMMU (iommu.family mock) and mock devices, driven through the iommufd uAPI.
 *
 * FIXTURE_SETUP(iommufd_ioas) with a mock domain variant: an IOAS (id 1), then
 * IOMMU_TEST_OP_MOCK_DOMAIN on it — selftest object (2), device object (3), auto domain hwpt (4) —
 * as in tools/testing/selftests/iommu/iommufd.c.
 */
import { parseScenario } from '../../src/scenario/loader.js';
import { openSession, type IommufdSession } from '../../src/api.js';
import type { Scenario } from '../../src/scenario/schema.js';

export function mockScenario(devices = 2, extra = '', kernel = 'reference'): Scenario {
  const devs = Array.from({ length: devices }, (_, i) => `  - { name: mock${i}, rid: ${i + 1} }`).join('\n');
  const p = parseScenario(`name: selftest-mock\nkernel: ${kernel}\niommu: { family: mock, name: mock_iommu }\ndevices:\n${devs}\n${extra}`, 'mock.yaml');
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
}

export interface IoasFixture {
  s: IommufdSession;
  ioasId: number;
  stdevId: number;
  deviceId: number;
  hwptId: number;
}

/** FIXTURE_SETUP(iommufd_ioas), mock_domain variant. */
export function ioasFixture(opts: { bugs?: string[]; devices?: number; kernel?: string } = {}): IoasFixture {
  const s = openSession(mockScenario(opts.devices ?? 2, '', opts.kernel), { seed: 1, bugs: opts.bugs ?? [] });
  const ioasId = s.ioasAlloc().id;
  const m = s.mockDomain('mock0', ioasId);
  if (m.ret !== 0) throw new Error(`mock_domain failed: ${m.ret}`);
  return { s, ioasId, stdevId: m.stdevId, deviceId: m.idevId, hwptId: m.hwptId };
}
