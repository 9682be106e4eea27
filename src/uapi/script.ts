/**
 * The `script:` section of a scenario: one user-space actor making iommufd uAPI calls (and the
 * selftest's trigger, and raw descriptor injection) at given virtual times, one after the other —
 * a step starts at its `at_ns` or when the previous step returned, whichever is later. Each step's
 * `expect:` is compared with what the call returned; a mismatch is a violation with rule id
 * SCRIPT.EXPECT naming the step's file:line, so the run exits 1.
 */
import type { Violation } from '../report/run-report.js';
import type { ScriptExpect, ScriptStep } from '../scenario/schema.js';
import { encodePageResponses, type HwptPgfault } from '../handlers/iommufd/abi.js';
import { HwptAllocFlag } from '../handlers/iommufd/ctx.js';
import { errnoName } from '../sim/errno.js';
import { respCodeName } from '../iopf/types.js';
import type { PreparedRun } from '../api.js';
import { IommufdOps, retValue, type DriverResponse } from './session.js';

export const SCRIPT_EXPECT = 'SCRIPT.EXPECT';

/** What a step returned, flattened for expectations and for `as:` names. */
interface StepOutcome {
  ret: number;
  values: Record<string, number>;
  records?: HwptPgfault[];
  readable?: boolean;
  writable?: boolean;
  hung?: boolean;
}

const PERM_BITS: Record<string, number> = { R: 1, W: 2, X: 4, PRIV: 8 };
const CODE_NAMES: Record<string, number> = { SUCCESS: 0, INVALID: 1, FAILURE: 2 };

/** "01 02 0a…" → bytes. */
export function hexBytes(hex: string): Uint8Array {
  const clean = hex.replace(/[\s_]/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fmtRet(v: number): string {
  return v < 0 ? errnoName(v) : String(v);
}

/** Schedule the scenario's script steps on the prepared run's engine. */
export function installScript(p: PreparedRun): void {
  const world = p.world;
  const sim = world.sim;
  const steps = p.scenario.script;
  const src = p.scenario.scriptSource;
  const ops = new IommufdOps(world);
  const saved = new Map<string, Record<string, number>>();
  let index = 0;

  const where = (i: number): string => {
    const line = src?.lines[i];
    return src !== undefined && line !== undefined ? `${src.file}:${line}` : `script[${i}]`;
  };
  const violate = (i: number, msg: string): void => {
    const s = steps[i]!;
    p.extraViolations.push({ rule: SCRIPT_EXPECT, time_ns: sim.now, detail: `${where(i)}: step ${i + 1} (${s.op}): ${msg}` } satisfies Violation);
  };

  /** A reference: a number, "$name" (its id) or "$name.field". */
  const ref = (v: number | string | undefined): number | undefined => {
    if (v === undefined || typeof v === 'number') return v;
    const [name, field] = v.slice(1).split('.') as [string, string | undefined];
    return saved.get(name)?.[field ?? 'id'];
  };

  const kStep = sim.registerKind('script:step', () => {
    runStep(index);
  });

  const next = (): void => {
    index++;
    const s = steps[index];
    if (s !== undefined) sim.at(Math.max(sim.now, s.at_ns ?? sim.now), kStep);
  };

  const finish = (i: number, out: StepOutcome, respFrom: number): void => {
    const s = steps[i]!;
    if (s.expect !== undefined) check(i, s.expect, out, world.driverResponses.slice(respFrom));
    if (s.as !== undefined) saved.set(s.as, { ...out.values, ret: out.ret });
    if (out.hung === true) {
      // The kernel as read spins in this read() for ever holding fault->mutex: the actor never
      // comes back, so nothing after this step runs.
      if (s.expect?.hung === undefined) violate(i, 'read() never returns: a failed copy put back a group that still fits and its retry faults again (eventq.c iommufd_fault_fops_read)');
      if (i + 1 < steps.length) violate(i, `the actor is stuck in this read(): step${i + 2 < steps.length ? `s ${i + 2}..${steps.length}` : ` ${i + 2}`} never run`);
      return;
    }
    next();
  };

  const check = (i: number, e: ScriptExpect, out: StepOutcome, resps: DriverResponse[]): void => {
    if (e.ret !== undefined) {
      const want = retValue(e.ret);
      if (want !== out.ret) violate(i, `expected ${typeof e.ret === 'number' ? fmtRet(e.ret) : e.ret}, got ${fmtRet(out.ret)}`);
    }
    for (const key of ['id', 'fd', 'fault_id', 'hwpt_id', 'stdev_id', 'idev_id'] as const) {
      const w = e[key];
      if (w === undefined) continue;
      const want = ref(w);
      if (want !== out.values[key]) violate(i, `expected ${key} ${want ?? String(w)}, got ${out.values[key] ?? 'none'}`);
    }
    for (const key of ['readable', 'writable', 'hung'] as const) {
      const w = e[key];
      if (w !== undefined && w !== (out[key] ?? false)) violate(i, `expected ${key} ${w}, got ${out[key] ?? false}`);
    }
    if (e.records !== undefined) {
      const got = out.records ?? [];
      if (got.length !== e.records.length) violate(i, `expected ${e.records.length} record(s), got ${got.length}`);
      e.records.forEach((m, k) => {
        const r = got[k];
        if (r === undefined) return;
        const fields: [string, number | bigint | undefined, number | bigint][] = [
          ['flags', m.flags, r.flags],
          ['dev_id', ref(m.dev_id), r.devId],
          ['pasid', m.pasid, r.pasid],
          ['grpid', m.grpid, r.grpid],
          ['perm', m.perm, r.perm],
          ['addr', m.addr === undefined ? undefined : BigInt(m.addr), r.addr],
          ['length', m.length, r.length],
          ['cookie', ref(m.cookie), r.cookie],
        ];
        for (const [name, want, have] of fields) {
          if (want === undefined && (name === 'dev_id' || name === 'cookie') && m[name] !== undefined) {
            violate(i, `record ${k}: ${name} refers to ${String(m[name])}, which no earlier step set`);
          } else if (want !== undefined && want !== have) violate(i, `record ${k}: expected ${name} ${String(want)}, got ${String(have)}`);
        }
      });
    }
    if (e.responses !== undefined) {
      if (resps.length !== e.responses.length) violate(i, `expected ${e.responses.length} page response(s) at the driver, got ${resps.length}`);
      e.responses.forEach((m, k) => {
        const r = resps[k];
        if (r === undefined) return;
        if (m.device !== undefined && world.scenario.devices[r.dev]?.name !== m.device) violate(i, `response ${k}: expected device ${m.device}, got ${world.scenario.devices[r.dev]?.name}`);
        if (m.pasid !== undefined && m.pasid !== r.pasid) violate(i, `response ${k}: expected pasid ${m.pasid}, got ${r.pasid}`);
        if (m.grpid !== undefined && m.grpid !== r.grpid) violate(i, `response ${k}: expected grpid ${m.grpid}, got ${r.grpid}`);
        const code = typeof m.code === 'string' ? CODE_NAMES[m.code] : m.code;
        if (code !== undefined && code !== r.code) violate(i, `response ${k}: expected code ${respCodeName(code)}, got ${respCodeName(r.code)}`);
      });
    }
  };

  const runStep = (i: number): void => {
    const s = steps[i]!;
    const respFrom = world.driverResponses.length;
    const done = (out: StepOutcome): void => {
      finish(i, out, respFrom);
    };
    const need = (v: number | string | undefined, what: string): number | undefined => {
      const r = ref(v);
      if (r === undefined) violate(i, `${what} ${String(v)} was not set by an earlier step (did it fail?)`);
      return r;
    };
    const skip = (): void => {
      next();
    };
    runOp(s, ops, need, done, skip);
  };

  if (steps.length > 0) sim.at(steps[0]!.at_ns ?? 0, kStep);
}

/** One step's call. `need` resolves a reference (undefined: the step cannot run, skip). */
function runOp(
  s: ScriptStep,
  ops: IommufdOps,
  need: (v: number | string | undefined, what: string) => number | undefined,
  done: (o: StepOutcome) => void,
  skip: () => void,
): void {
  switch (s.op) {
    case 'ioas_alloc': {
      const r = ops.ioasAlloc();
      done({ ret: r.ret, values: { id: r.id } });
      return;
    }
    case 'bind': {
      const r = ops.bind(s.device);
      done({ ret: r.ret, values: { id: r.id, idev_id: r.id } });
      return;
    }
    case 'mock_domain': {
      const pt = need(s.pt, 'pt');
      if (pt === undefined) {
        skip();
        return;
      }
      const r = ops.mockDomain(s.device, pt);
      done({ ret: r.ret, values: { id: r.idevId, stdev_id: r.stdevId, idev_id: r.idevId, hwpt_id: r.hwptId } });
      return;
    }
    case 'fault_alloc': {
      const r = ops.faultQueueAlloc(s.flags);
      done({ ret: r.ret, values: { id: r.faultId, fault_id: r.faultId, fd: r.fd } });
      return;
    }
    case 'hwpt_alloc': {
      const dev = need(s.device, 'device');
      const pt = need(s.pt, 'pt');
      const fault = s.fault === undefined ? 0 : need(s.fault, 'fault');
      if (dev === undefined || pt === undefined || fault === undefined) {
        skip();
        return;
      }
      const flags = typeof s.flags === 'number' ? s.flags : s.flags.reduce((a, f) => a | HwptAllocFlag[f], 0);
      const r = ops.hwptAlloc({ deviceId: dev, ptId: pt, flags, faultId: fault, data: s.data });
      done({ ret: r.ret, values: { id: r.id, hwpt_id: r.id } });
      return;
    }
    case 'attach':
    case 'replace': {
      const dev = need(s.device, 'device');
      const pt = need(s.pt, 'pt');
      if (dev === undefined || pt === undefined) {
        skip();
        return;
      }
      const r = s.op === 'attach' ? ops.attach(dev, pt, s.pasid) : ops.replace(dev, pt, s.pasid);
      done({ ret: r.ret, values: { id: r.id, hwpt_id: r.id } });
      return;
    }
    case 'detach': {
      const dev = need(s.device, 'device');
      if (dev === undefined) {
        skip();
        return;
      }
      ops.detach(dev, s.pasid, (r) => {
        done({ ret: r.ret, values: {} });
      });
      return;
    }
    case 'destroy': {
      const id = need(s.id, 'id');
      if (id === undefined) {
        skip();
        return;
      }
      done({ ret: ops.destroy(id).ret, values: {} });
      return;
    }
    case 'trigger_iopf': {
      const dev = need(s.device, 'device');
      if (dev === undefined) {
        skip();
        return;
      }
      const perm = typeof s.perm === 'number' ? s.perm : s.perm.reduce((a, x) => a | PERM_BITS[x]!, 0);
      const r = ops.triggerIopf({ deviceId: dev, ...(s.pasid !== undefined ? { pasid: s.pasid } : {}), grpid: s.grpid, perm, addr: s.addr, last: s.last });
      done({ ret: r.ret, values: {} });
      return;
    }
    case 'read': {
      const fd = need(s.fd, 'fd');
      if (fd === undefined) {
        skip();
        return;
      }
      const r = ops.read(fd, s.count, s.fault_at_record);
      const values: Record<string, number> = { bytes: Math.max(r.ret, 0) };
      if (r.records[0] !== undefined) values.cookie = r.records[0].cookie;
      done({ ret: r.ret, values, records: r.records, hung: r.hung });
      return;
    }
    case 'write': {
      const fd = need(s.fd, 'fd');
      if (fd === undefined) {
        skip();
        return;
      }
      const resps: { cookie: number; code: number }[] = [];
      for (const x of s.responses) {
        const c = need(x.cookie, 'cookie');
        if (c === undefined) {
        skip();
        return;
      }
        resps.push({ cookie: c, code: x.code });
      }
      done({ ret: ops.write(fd, encodePageResponses(resps), s.fault_at_record).ret, values: {} });
      return;
    }
    case 'poll': {
      const fd = need(s.fd, 'fd');
      if (fd === undefined) {
        skip();
        return;
      }
      const r = ops.poll(fd);
      done({ ret: r.ret, values: {}, readable: r.readable, writable: r.writable });
      return;
    }
    case 'close': {
      const fd = need(s.fd, 'fd');
      if (fd === undefined) {
        skip();
        return;
      }
      done({ ret: ops.close(fd).ret, values: {} });
      return;
    }
    case 'inject_raw': {
      done({ ret: ops.injectRaw(hexBytes(s.hex)).ret, values: {} });
      return;
    }
  }
}
