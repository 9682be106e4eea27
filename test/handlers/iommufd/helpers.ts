import { FaultFlag, FaultPerm } from '../../../src/iopf/types.js';
import type { FaultRecord, RespCodeValue } from '../../../src/iopf/types.js';
import { FaultObject } from '../../../src/handlers/iommufd/fault-object.js';
import type { FaultObjectOptions, IommufdGroup } from '../../../src/handlers/iommufd/fault-object.js';

export interface TestGroup extends IommufdGroup {
  readonly id: number;
}

let nextId = 1;

/** A group of `n` page requests with PASID `attachId`, the last one flagged LAST_PAGE. */
export function mkGroup(attachId: number, n: number, devId = 7): TestGroup {
  const id = nextId++;
  const faults: FaultRecord[] = [];
  for (let i = 0; i < n; i++) {
    faults.push({
      flags: FaultFlag.PASID_VALID | (i === n - 1 ? FaultFlag.LAST_PAGE : 0),
      pasid: attachId,
      grpid: id & 0x1ff,
      perm: FaultPerm.READ | FaultPerm.WRITE,
      addr: 0x1000 * (id * 16 + i),
      privateData: 0,
      dev: devId,
      reqId: id * 100 + i,
    });
  }
  return { id, faults, attachId, devId };
}

/** A host recording every response; a second response to the same group fails the test. */
export class RecordingHost {
  readonly responses: { group: TestGroup; code: RespCodeValue }[] = [];
  respond(group: TestGroup, code: RespCodeValue): void {
    if (this.responses.some((r) => r.group === group)) throw new Error(`group ${group.id} answered twice`);
    this.responses.push({ group, code });
  }
  codeOf(group: TestGroup): RespCodeValue | undefined {
    return this.responses.find((r) => r.group === group)?.code;
  }
}

export function setup(options: FaultObjectOptions = {}): { fo: FaultObject<TestGroup>; host: RecordingHost } {
  const host = new RecordingHost();
  return { fo: new FaultObject<TestGroup>(host, options), host };
}
