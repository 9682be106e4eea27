import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FaultObject } from '../../../src/handlers/iommufd/fault-object.js';
import { PGFAULT_SIZE, decodePgfaults, encodePageResponses } from '../../../src/handlers/iommufd/abi.js';
import type { RespCodeValue } from '../../../src/iopf/types.js';
import { mkGroup } from './helpers.js';
import type { TestGroup } from './helpers.js';

/**
 * Model-based test: a plain reference model (queue + cookie map with lowest-free allocation) runs
 * alongside the FaultObject. Every command compares results; after every command the real object
 * must satisfy conservation (delivered = answered + outstanding) and no group is answered twice.
 */
interface Model {
  queue: TestGroup[];
  table: Map<number, TestGroup>;
  answered: Map<TestGroup, RespCodeValue>;
  delivered: number;
}

interface Real {
  fo: FaultObject<TestGroup>;
  /** How many times the host was asked to answer each group, and the last code. */
  responses: Map<TestGroup, number>;
  codes: Map<TestGroup, RespCodeValue>;
}

function lowestFree(table: Map<number, TestGroup>): number {
  let c = 1;
  while (table.has(c)) c++;
  return c;
}

function checkInvariants(m: Model, r: Real): void {
  const c = r.fo.counters;
  const answered = c.answered.SUCCESS + c.answered.INVALID + c.answered.FAILURE;
  expect(c.delivered).toBe(m.delivered);
  expect(c.delivered).toBe(answered + r.fo.outstanding());
  expect(answered).toBe(r.responses.size);
  for (const n of r.responses.values()) expect(n).toBe(1);
  expect(r.codes).toEqual(m.answered);
  expect(r.fo.queued()).toEqual(m.queue);
  expect(r.fo.awaitingResponse()).toEqual(
    [...m.table.entries()].sort((a, b) => a[0] - b[0]).map(([cookie, group]) => ({ cookie, group })),
  );
}

class DeliverCmd implements fc.Command<Model, Real> {
  constructor(
    readonly attach: number,
    readonly n: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const g = mkGroup(this.attach, this.n);
    expect(r.fo.deliver(g)).toBe(0);
    m.queue.push(g);
    m.delivered++;
    checkInvariants(m, r);
  }
  toString(): string {
    return `deliver(attach=${this.attach}, n=${this.n})`;
  }
}

class ReadCmd implements fc.Command<Model, Real> {
  constructor(
    readonly slots: number,
    readonly faultAt: number | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const res = r.fo.read(
      this.slots * PGFAULT_SIZE,
      0,
      this.faultAt === undefined ? {} : { userFaultAtRecord: this.faultAt },
    );
    // Reference (eventq.c iommufd_fault_fops_read as read, linux-iopf §12 item 7): whole groups
    // from the head while they fit; a fault on a slot keeps the records copied before it, puts
    // the group back without a cookie and goes on; a retry that fits lands on the same slot again
    // and never ends (hung).
    let used = 0;
    let rc = 0;
    let failedAt = -1;
    let hung = false;
    const got: { cookie: number; group: TestGroup }[] = [];
    for (;;) {
      const g = m.queue[0];
      if (g === undefined || used + g.faults.length > this.slots) break;
      if (failedAt === used) {
        hung = true;
        break;
      }
      const cookie = lowestFree(m.table);
      if (this.faultAt !== undefined && this.faultAt >= used && this.faultAt < used + g.faults.length) {
        rc = -14;
        used = this.faultAt;
        failedAt = used;
        continue;
      }
      m.table.set(cookie, g);
      m.queue.shift();
      got.push({ cookie, group: g });
      used += g.faults.length;
    }
    expect(res.result).toBe(used === 0 ? rc : used * PGFAULT_SIZE);
    expect(res.hung).toBe(hung);
    expect(res.groups).toEqual(got);
    const recs = decodePgfaults(res.bytes);
    const whole = got.flatMap((x) => x.group.faults.map(() => x.cookie));
    expect(recs.slice(0, whole.length).map((x) => x.cookie)).toEqual(whole);
    checkInvariants(m, r);
  }
  toString(): string {
    return `read(${this.slots} slots${this.faultAt === undefined ? '' : `, fault@${this.faultAt}`})`;
  }
}

interface Pick {
  known: boolean;
  index: number;
  code: number;
}

class WriteCmd implements fc.Command<Model, Real> {
  constructor(
    readonly picks: Pick[],
    readonly faultAt: number | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const cookies = [...m.table.keys()].sort((a, b) => a - b);
    const resps = this.picks.map((p) => ({
      cookie: p.known && cookies.length > 0 ? cookies[p.index % cookies.length]! : 1000 + p.index,
      code: p.code,
    }));
    const res = r.fo.write(
      encodePageResponses(resps),
      0,
      this.faultAt === undefined ? {} : { userFaultAtRecord: this.faultAt },
    );
    let done = 0;
    let rc = 0;
    for (const [i, resp] of resps.entries()) {
      if (this.faultAt === i) {
        rc = -14;
        break;
      }
      if (resp.code !== 0 && resp.code !== 1) {
        rc = -22;
        break;
      }
      const g = m.table.get(resp.cookie);
      if (g === undefined) {
        rc = -22;
        break;
      }
      m.table.delete(resp.cookie);
      m.answered.set(g, resp.code === 0 ? 0 : 1);
      done += 8;
    }
    expect(res).toBe(done === 0 ? rc : done);
    checkInvariants(m, r);
  }
  toString(): string {
    return `write(${JSON.stringify(this.picks)}${this.faultAt === undefined ? '' : `, fault@${this.faultAt}`})`;
  }
}

class DetachCmd implements fc.Command<Model, Real> {
  constructor(readonly attach: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const n = r.fo.detach(this.attach);
    let expected = 0;
    m.queue = m.queue.filter((g) => {
      if (g.attachId !== this.attach) return true;
      m.answered.set(g, 1);
      expected++;
      return false;
    });
    // (Order is pinned by the unit test IOMMUFD.DETACH.AUTO_RESPONSE_ORDER.)
    for (const [cookie, g] of [...m.table.entries()]) {
      if (g.attachId !== this.attach) continue;
      m.table.delete(cookie);
      m.answered.set(g, 1);
      expected++;
    }
    expect(n).toBe(expected);
    checkInvariants(m, r);
  }
  toString(): string {
    return `detach(${this.attach})`;
  }
}

const attach = fc.integer({ min: 1, max: 3 });
const commands = [
  fc.tuple(attach, fc.integer({ min: 1, max: 3 })).map(([a, n]) => new DeliverCmd(a, n)),
  fc
    .tuple(
      fc.integer({ min: 0, max: 6 }),
      fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined, freq: 4 }),
    )
    .map(([s, f]) => new ReadCmd(s, f)),
  fc
    .tuple(
      fc.array(
        fc.record({
          known: fc.boolean(),
          index: fc.integer({ min: 0, max: 7 }),
          code: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 3 })),
        }),
        { maxLength: 4 },
      ),
      fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined, freq: 4 }),
    )
    .map(([p, f]) => new WriteCmd(p, f)),
  attach.map((a) => new DetachCmd(a)),
];

describe('FaultObject model-based', () => {
  it('IOMMUFD.MODEL: deliver/read/write/detach agree with the reference; each group answered at most once; delivered = answered + outstanding', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40, size: 'max' }), (cmds) => {
        const responses = new Map<TestGroup, number>();
        const codes = new Map<TestGroup, RespCodeValue>();
        const fo = new FaultObject<TestGroup>({
          respond(group: TestGroup, code: RespCodeValue) {
            responses.set(group, (responses.get(group) ?? 0) + 1);
            codes.set(group, code);
          },
        });
        const m: Model = { queue: [], table: new Map(), answered: new Map(), delivered: 0 };
        fc.modelRun(() => ({ model: m, real: { fo, responses, codes } }), cmds);
        // Finally: close + destroy answers everything left, still once each.
        expect(fo.close()).toBe(0);
        expect(fo.destroy()).toBe(0);
        expect(fo.outstanding()).toBe(0);
        expect(responses.size).toBe(m.delivered);
        for (const n of responses.values()) expect(n).toBe(1);
        for (const g of m.answered.keys()) expect(fo.isAnswered(g)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
