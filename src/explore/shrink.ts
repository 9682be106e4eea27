/**
 * Shrinking (Hypothesis/QuickCheck style): a failing (scenario, seed, choices) is reduced to a
 * smaller one that still breaks the same rule. Every step edits the scenario *document*, reloads
 * it through the real loader and re-runs it with the same seed; a step is kept only when the rule
 * still breaks (and, with known-bug variants on, still does not break without them: the failure
 * stays the bug's). Passes, in order: drop devices, processes, fault objects, attachments, binds,
 * workloads and actions; cut accesses and group sizes; move actions and workloads earlier; shrink
 * queue sizes; drop fault sites and tuning; then shorten the scheduler's choice list. Passes repeat
 * until none makes progress or the run budget is spent. No clock, no randomness: the same input
 * gives the same output.
 */
import { simulate, type SimulateOptions } from '../api.js';
import { ReplayChooser, RandomChooser, Rng } from '../sim/random.js';
import type { Scenario, ScenarioInput } from '../scenario/schema.js';
import { loadDoc } from './generate.js';

export interface ShrinkInput {
  doc: ScenarioInput;
  seed: number;
  bugs: readonly string[];
  /** The rule to keep breaking (default: the first violation's rule of the input). */
  rule?: string;
  /** A recorded choice list to start from (default: the seed's own schedule). */
  choices?: readonly number[];
  /** Re-runs allowed (default 2000). */
  maxRuns?: number;
  /** Stop each run at this virtual time. */
  untilNs?: number;
}

export interface ShrinkResult {
  doc: ScenarioInput;
  scenario: Scenario;
  seed: number;
  bugs: readonly string[];
  rule: string;
  /** Set when the run needs a choice list (shortened) to fail; replay with `iopf replay`. */
  choices: number[] | undefined;
  /** Runs made while shrinking. */
  runs: number;
  /** Accepted steps. */
  steps: number;
  /** Size measure before and after (devices + processes + workloads + actions + accesses). */
  size: { before: number; after: number };
}

type Doc = Record<string, unknown>;
type Arr = Record<string, unknown>[];

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const arr = (d: Doc, k: string): Arr => (Array.isArray(d[k]) ? (d[k] as Arr) : []);
function iommufd(d: Doc): { faults: Arr; attach: Arr } {
  const i = (d.iommufd ?? {}) as Doc;
  return { faults: arr(i, 'faults'), attach: arr(i, 'attach') };
}
function setIommufd(d: Doc, faults: Arr, attach: Arr): void {
  const n: Doc = {};
  if (faults.length > 0) n.faults = faults;
  if (attach.length > 0) n.attach = attach;
  if (Object.keys(n).length === 0) delete d.iommufd;
  else d.iommufd = n;
}
function setArr(d: Doc, k: string, v: Arr): void {
  if (v.length === 0 && k !== 'devices') Reflect.deleteProperty(d, k);
  else d[k] = v;
}

/** A measure of a scenario's size: what the shrinker drives down. */
export function docSize(doc: ScenarioInput): number {
  const d = doc as Doc;
  let n = arr(d, 'devices').length + arr(d, 'processes').length + arr(d, 'actions').length + arr(d, 'binds').length;
  const i = iommufd(d);
  n += i.faults.length + i.attach.length;
  for (const w of arr(d, 'workloads')) n += 1 + Number(w.accesses ?? 0) * Number(w.prg_pages ?? 1);
  return n;
}

function withoutDevice(d: Doc, name: string): Doc | undefined {
  const devices = arr(d, 'devices').filter((x) => x.name !== name);
  if (devices.length === 0) return undefined;
  const n = clone(d);
  n.devices = devices;
  setArr(n, 'workloads', arr(n, 'workloads').filter((x) => x.device !== name));
  setArr(n, 'binds', arr(n, 'binds').filter((x) => x.device !== name));
  setArr(n, 'actions', arr(n, 'actions').filter((x) => x.device !== name));
  const i = iommufd(n);
  setIommufd(n, i.faults, i.attach.filter((x) => x.device !== name));
  return n;
}

function withoutProcess(d: Doc, name: string): Doc {
  const n = clone(d);
  setArr(n, 'processes', arr(n, 'processes').filter((x) => x.name !== name));
  setArr(n, 'workloads', arr(n, 'workloads').filter((x) => x.process !== name));
  setArr(n, 'binds', arr(n, 'binds').filter((x) => x.process !== name));
  setArr(n, 'actions', arr(n, 'actions').filter((x) => x.process !== name));
  const i = iommufd(n);
  setIommufd(n, i.faults, i.attach.filter((x) => x.process !== name));
  return n;
}

function withoutFault(d: Doc, name: string): Doc {
  const n = clone(d);
  const i = iommufd(n);
  setIommufd(n, i.faults.filter((x) => x.name !== name), i.attach.filter((x) => x.fault !== name));
  setArr(n, 'actions', arr(n, 'actions').filter((x) => x.fault !== name));
  return n;
}

function withoutAt(d: Doc, key: string, i: number): Doc {
  const n = clone(d);
  const a = arr(n, key);
  a.splice(i, 1);
  setArr(n, key, a);
  return n;
}

function withoutAttach(d: Doc, i: number): Doc {
  const n = clone(d);
  const f = iommufd(n);
  f.attach.splice(i, 1);
  setIommufd(n, f.faults, f.attach);
  return n;
}

/**
 * Smaller values to try for an integer, smallest first: the floor, then a ladder closing in on v
 * (v − d/2, v − d/4, …, v − 1), so a value that will not halve still shrinks in log steps.
 */
function smaller(v: number, floor: number): number[] {
  const out: number[] = [];
  if (v <= floor) return out;
  out.push(floor);
  for (let gap = Math.floor((v - floor) / 2); gap >= 1; gap = Math.floor(gap / 2)) {
    const c = v - gap;
    if (c > floor && !out.includes(c)) out.push(c);
  }
  return out;
}

function setField(d: Doc, key: string, i: number, field: string, v: unknown): Doc {
  const n = clone(d);
  const o = arr(n, key)[i]!;
  if (v === undefined) Reflect.deleteProperty(o, field);
  else o[field] = v;
  return n;
}

/** The document with its traffic ended and its actions dropped after `ns` (undefined: no change). */
function truncated(d: Doc, ns: number): Doc | undefined {
  const n = clone(d);
  let changed = false;
  const ws = arr(n, 'workloads').filter((w) => {
    const start = Number(w.start_ns ?? 0);
    if (start > ns) {
      changed = true;
      return false;
    }
    const expected = ((ns - start) / 1000) * Number(w.rate_per_us);
    const cap = Math.ceil(2 * expected) + 8;
    if (w.burst_accesses === undefined && w.interarrival_ns === undefined && cap < Number(w.accesses)) {
      w.accesses = cap;
      changed = true;
    }
    return true;
  });
  const as = arr(n, 'actions').filter((a) => Number(a.at_ns) <= ns);
  if (as.length !== arr(n, 'actions').length) changed = true;
  if (!changed || ws.length === 0) return undefined;
  setArr(n, 'workloads', ws);
  setArr(n, 'actions', as);
  return n;
}

/** Candidate edits of one pass, in order (each a whole new document). */
type Pass = (d: Doc) => Generator<Doc>;

const PASSES: readonly { name: string; pass: Pass }[] = [
  {
    // Big steps first: every workload's traffic cut at once makes each later run cheaper.
    name: 'scale traffic',
    pass: function* (d) {
      const ws = arr(d, 'workloads');
      for (const div of [16, 2]) {
        if (!ws.some((w) => Number(w.accesses) > 1)) return;
        const n = clone(d);
        for (const w of arr(n, 'workloads')) w.accesses = Math.max(1, Math.floor(Number(w.accesses) / div));
        yield n;
      }
    },
  },
  {
    name: 'drop device',
    pass: function* (d) {
      for (const x of arr(d, 'devices')) {
        const n = withoutDevice(d, x.name as string);
        if (n !== undefined) yield n;
      }
    },
  },
  {
    name: 'drop process',
    pass: function* (d) {
      for (const x of arr(d, 'processes')) yield withoutProcess(d, x.name as string);
    },
  },
  {
    name: 'drop fault object',
    pass: function* (d) {
      for (const x of iommufd(d).faults) yield withoutFault(d, x.name as string);
    },
  },
  {
    name: 'drop workload',
    pass: function* (d) {
      for (let i = 0; i < arr(d, 'workloads').length; i++) yield withoutAt(d, 'workloads', i);
    },
  },
  {
    name: 'drop action',
    pass: function* (d) {
      for (let i = 0; i < arr(d, 'actions').length; i++) yield withoutAt(d, 'actions', i);
    },
  },
  {
    name: 'drop attachment',
    pass: function* (d) {
      for (let i = 0; i < iommufd(d).attach.length; i++) yield withoutAttach(d, i);
    },
  },
  {
    name: 'drop bind',
    pass: function* (d) {
      for (let i = 0; i < arr(d, 'binds').length; i++) yield withoutAt(d, 'binds', i);
    },
  },
  {
    name: 'cut accesses',
    pass: function* (d) {
      const ws = arr(d, 'workloads');
      for (let i = 0; i < ws.length; i++) for (const v of smaller(Number(ws[i]!.accesses), 1)) yield setField(d, 'workloads', i, 'accesses', v);
    },
  },
  {
    name: 'smaller groups',
    pass: function* (d) {
      const ws = arr(d, 'workloads');
      for (let i = 0; i < ws.length; i++) for (const v of smaller(Number(ws[i]!.prg_pages ?? 1), 1)) yield setField(d, 'workloads', i, 'prg_pages', v);
    },
  },
  {
    name: 'move actions earlier',
    pass: function* (d) {
      const as = arr(d, 'actions');
      for (let i = 0; i < as.length; i++) {
        const prev = i > 0 ? Number(as[i - 1]!.at_ns) : 0;
        const at = Number(as[i]!.at_ns);
        // Keep the order of actions: an action moves back towards its predecessor, not past it.
        for (const v of smaller(at, prev)) yield setField(d, 'actions', i, 'at_ns', v);
      }
    },
  },
  {
    name: 'start workloads earlier',
    pass: function* (d) {
      const ws = arr(d, 'workloads');
      for (let i = 0; i < ws.length; i++) {
        const s = Number(ws[i]!.start_ns ?? 0);
        if (s > 0) for (const v of smaller(s, 0)) yield setField(d, 'workloads', i, 'start_ns', v === 0 ? undefined : v);
      }
    },
  },
  {
    // A group that must arrive after some action (a detach, a destroy) keeps its size when cut
    // alone, because a smaller group arrives earlier: start the workload just after the action and
    // cut its groups in one step.
    name: 'smaller groups, started after an action',
    pass: function* (d) {
      const ws = arr(d, 'workloads');
      const as = arr(d, 'actions');
      for (let i = 0; i < ws.length; i++) {
        const prg = Number(ws[i]!.prg_pages ?? 1);
        if (prg <= 1) continue;
        const start = Number(ws[i]!.start_ns ?? 0);
        for (const a of as) {
          const at = Number(a.at_ns) + 1;
          if (at <= start) continue;
          for (const v of smaller(prg, 1)) {
            const n = setField(d, 'workloads', i, 'prg_pages', v);
            (arr(n, 'workloads')[i] as Doc).start_ns = at;
            yield n;
          }
        }
      }
    },
  },
  {
    name: 'smaller queues',
    pass: function* (d) {
      const io = (d.iommu ?? {}) as Doc;
      const vtd = io.vtd as Doc | undefined;
      if (vtd?.prq_entries !== undefined && Number(vtd.prq_entries) > 128) {
        const n = clone(d);
        ((n.iommu as Doc).vtd as Doc).prq_entries = 128;
        yield n;
      }
      const smmu = io.smmuv3 as Doc | undefined;
      if (smmu?.priq_entries_log2 !== undefined && Number(smmu.priq_entries_log2) > 1) {
        for (const v of smaller(Number(smmu.priq_entries_log2), 1)) {
          const n = clone(d);
          ((n.iommu as Doc).smmuv3 as Doc).priq_entries_log2 = v;
          yield n;
        }
      }
      const amd = io.amd as Doc | undefined;
      if (amd?.ppr_log_entries !== undefined && Number(amd.ppr_log_entries) > 8) {
        const n = clone(d);
        ((n.iommu as Doc).amd as Doc).ppr_log_entries = 8;
        yield n;
      }
    },
  },
  {
    name: 'drop fault sites and tuning',
    pass: function* (d) {
      for (const k of ['faults', 'latency']) {
        const o = d[k] as Doc | undefined;
        if (o === undefined) continue;
        for (const f of Object.keys(o)) {
          const n = clone(d);
          Reflect.deleteProperty(n[k] as Doc, f);
          if (Object.keys(n[k] as Doc).length === 0) Reflect.deleteProperty(n, k);
          yield n;
        }
      }
      const ws = arr(d, 'workloads');
      for (let i = 0; i < ws.length; i++) {
        for (const f of ['pattern', 'burst_accesses', 'burst_gap_ns', 'access']) if (ws[i]![f] !== undefined) yield setField(d, 'workloads', i, f, undefined);
      }
      const fs = iommufd(d).faults;
      for (let i = 0; i < fs.length; i++) {
        for (const f of ['bad_buffer', 'guest', 'read_batch']) {
          if (fs[i]![f] === undefined) continue;
          const n = clone(d);
          const nf = iommufd(n).faults;
          Reflect.deleteProperty(nf[i]!, f);
          yield n;
        }
      }
      const io = d.iopf as Doc | undefined;
      if (io?.workers !== undefined && Number(io.workers) > 1) {
        const n = clone(d);
        (n.iopf as Doc).workers = 1;
        yield n;
      }
    },
  },
];

export class Shrinker {
  runs = 0;
  private readonly maxRuns: number;
  constructor(
    private readonly input: ShrinkInput,
    readonly rule: string,
  ) {
    this.maxRuns = input.maxRuns ?? 2000;
  }

  private opts(extra: Partial<SimulateOptions>): SimulateOptions {
    const o: SimulateOptions = { seed: this.input.seed, noHistograms: true, ...extra };
    if (this.input.untilNs !== undefined) o.untilNs = this.input.untilNs;
    return o;
  }

  /** Does (doc, choices) still break the rule (and not without the bugs)? */
  fails(doc: Doc, choices: readonly number[] | undefined): Scenario | undefined {
    if (this.runs >= this.maxRuns) return undefined;
    const r = loadDoc(doc as ScenarioInput, 'shrink');
    if (!r.ok) return undefined;
    this.runs++;
    const chooser = choices !== undefined ? { chooser: new ReplayChooser(choices) } : {};
    const rep = simulate(r.value, this.opts({ bugs: this.input.bugs, ...chooser })).report;
    const hit = rep.violations.find((v) => v.rule === this.rule);
    if (hit === undefined) return undefined;
    if (this.input.bugs.length > 0) {
      this.runs++;
      const chooser2 = choices !== undefined ? { chooser: new ReplayChooser(choices) } : {};
      const clean = simulate(r.value, this.opts({ bugs: [], ...chooser2 })).report;
      if (clean.violations.some((v) => v.rule === this.rule)) return undefined;
    }
    this.violationNs = hit.time_ns;
    return r.value;
  }

  /** When the rule first broke in the last failing run. */
  violationNs = 0;

  /** The seed's own schedule of `doc`, as a choice list. */
  recordChoices(scenario: Scenario): number[] {
    const rec = new RandomChooser(new Rng(this.input.seed, 'scheduler'), true);
    simulate(scenario, this.opts({ bugs: this.input.bugs, chooser: rec }));
    return rec.recorded ?? [];
  }

  get exhausted(): boolean {
    return this.runs >= this.maxRuns;
  }
}

/** The first violation's rule of a run, or undefined when it is clean. */
export function firstRule(scenario: Scenario, seed: number, bugs: readonly string[], choices?: readonly number[]): string | undefined {
  const r = simulate(scenario, { seed, bugs, ...(choices !== undefined ? { chooser: new ReplayChooser(choices) } : {}) }).report;
  return r.violations[0]?.rule;
}

/** Shrink a failing input. Throws if the input does not fail as described (a usage error upstream). */
export function shrink(input: ShrinkInput): ShrinkResult {
  const first = loadDoc(input.doc, 'shrink');
  if (!first.ok) throw new ShrinkError(`the scenario does not load: ${first.errors[0]!.path}: ${first.errors[0]!.message}`);
  const rule = input.rule ?? firstRule(first.value, input.seed, input.bugs, input.choices);
  if (rule === undefined) throw new ShrinkError(`seed ${input.seed} does not fail: nothing to shrink`);
  const s = new Shrinker(input, rule);
  let doc = clone(input.doc) as Doc;
  const choices = input.choices !== undefined ? [...input.choices] : undefined;
  let scenario = s.fails(doc, choices);
  if (scenario === undefined) {
    throw new ShrinkError(
      input.bugs.length > 0
        ? `seed ${input.seed} does not break ${rule} with ${input.bugs.join(', ')} but not without them`
        : `seed ${input.seed} does not break ${rule}`,
    );
  }
  const before = docSize(input.doc);
  let steps = 0;
  // What happens after the rule broke is not part of the failure: end the traffic there (every
  // workload keeps the accesses it can have made by then, with room to spare — arrivals are
  // exponential, credit stalls only delay them — so the run up to the violation is the same) and
  // drop later actions. Every later run is then short.
  const cut = truncated(doc, s.violationNs);
  if (cut !== undefined) {
    const sc = s.fails(cut, choices);
    if (sc !== undefined) {
      doc = cut;
      scenario = sc;
      steps++;
    }
  }
  // Scenario passes, to a fixed point.
  for (let progress = true; progress && !s.exhausted; ) {
    progress = false;
    for (const { pass } of PASSES) {
      for (let again = true; again && !s.exhausted; ) {
        again = false;
        for (const cand of pass(doc)) {
          const sc = s.fails(cand, choices);
          if (sc !== undefined) {
            doc = cand;
            scenario = sc;
            steps++;
            progress = again = true;
            break;
          }
          if (s.exhausted) break;
        }
      }
    }
  }
  // Then the choice list: the seed's schedule made explicit, cut short (past its end every choice
  // is 0: the first ready step, no fault fires), then single choices set to 0.
  const full = choices ?? s.recordChoices(scenario);
  let best: number[] | undefined = choices;
  let lo = 0;
  let hi = full.length;
  // Smallest prefix length that still fails (bisection; the predicate need not be monotone, the
  // result is only kept if it fails).
  while (lo < hi && !s.exhausted) {
    const mid = Math.floor((lo + hi) / 2);
    if (s.fails(doc, full.slice(0, mid)) !== undefined) hi = mid;
    else lo = mid + 1;
  }
  if (hi < full.length && s.fails(doc, full.slice(0, hi)) !== undefined) {
    best = full.slice(0, hi);
    steps++;
  }
  if (best !== undefined) {
    let cur: number[] = best;
    for (let i = cur.length - 1; i >= 0 && !s.exhausted; i--) {
      if (cur[i] === 0) continue;
      const cand: number[] = [...cur];
      cand[i] = 0;
      if (s.fails(doc, cand) !== undefined) {
        cur = cand;
        steps++;
      }
    }
    while (cur.length > 0 && cur[cur.length - 1] === 0) cur.pop();
    best = cur;
  }
  return { doc: doc as ScenarioInput, scenario, seed: input.seed, bugs: input.bugs, rule, choices: best, runs: s.runs, steps, size: { before, after: docSize(doc as ScenarioInput) } };
}

/** The input cannot be shrunk as asked (it does not fail, or not as described). */
export class ShrinkError extends Error {}
