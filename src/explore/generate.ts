/**
 * Scenario generation for swarm testing (`iopf explore --generate`): one seed draws a whole
 * scenario — IOMMU family and queue sizes, kernel profile, 1–4 PCIe functions with their PRI
 * capacity/allocation and PASID-required bit, processes, which handler each (device, process)
 * pair gets (SVA bind, iommufd fault object with a VMM of some speed and policy, a paging hwpt
 * without fault, or nothing), workloads, timed actions (standalone flushes among them) and fault-site probabilities.
 *
 * The generator builds the scenario *document* (what a user would write in YAML) and hands it to
 * the real loader: a generated scenario is valid by construction, and the loader proves it (a
 * rejection is a programmer error here). The same seed always gives the same document; nothing
 * reads a clock.
 *
 * Swarm testing (Groce et al., ISSTA 2012): each scenario switches whole features on or off
 * (families, handler kinds, actions, fault sites), so a feature that masks a bug is often absent.
 */
import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import { Rng } from '../sim/random.js';
import { assert } from '../sim/assert.js';
import { parseScenario } from '../scenario/loader.js';
import { iommuSchema, scenarioSchema, type Scenario, type ScenarioInput } from '../scenario/schema.js';

export interface GenerateOptions {
  /** Kernel profile of every generated scenario (default: drawn from the schema's profiles). */
  kernel?: string;
  /** Profiles not to draw (those that already contain a bug being looked for). */
  avoidKernels?: readonly string[];
  /** The IOMMU family of every generated scenario (a driver's bug is looked for behind it). */
  family?: 'vtd' | 'smmuv3' | 'amd';
}

export interface Generated {
  /** The document as a user would write it (serialised by `toYaml`). */
  doc: ScenarioInput;
  /** The loader's view of it. */
  scenario: Scenario;
}

/** Options of a zod enum, seen through defaults (so the generator follows the schema). */
function enumOptions(t: unknown): string[] {
  let cur = t as { def?: { type?: string; innerType?: unknown; entries?: Record<string, string> } };
  for (let i = 0; i < 8 && cur.def !== undefined; i++) {
    if (cur.def.entries !== undefined) return Object.values(cur.def.entries);
    cur = cur.def.innerType as typeof cur;
  }
  throw new Error('generate: expected an enum in the scenario schema');
}

/** Kernel profiles the scenario format accepts. */
export function kernelProfiles(): string[] {
  return enumOptions(scenarioSchema.shape.kernel);
}

/** Families with a page request queue the generated traffic can reach ('mock', the selftest's
 * mock IOMMU, takes faults from a uAPI script only). */
export function iommuFamilies(): string[] {
  return enumOptions(iommuSchema.def.innerType.shape.family).filter((f) => f !== 'mock');
}

class Draw {
  constructor(private readonly rng: Rng) {}
  int(lo: number, hi: number): number {
    return this.rng.int(lo, hi);
  }
  pick<T>(xs: readonly T[]): T {
    assert(xs.length > 0, 'generate: pick from nothing');
    return xs[this.rng.below(xs.length)]!;
  }
  chance(num: number, den: number): boolean {
    return this.rng.chance(num, den);
  }
  /** Weighted pick: [[weight, value], ...]. */
  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of xs) total += w;
    let r = this.rng.below(total);
    for (const [w, v] of xs) {
      if (r < w) return v;
      r -= w;
    }
    return xs[xs.length - 1]![1];
  }
}

type PairKind = 'sva' | 'iommufd' | 'iommufd-nofault' | 'none';
interface Pair {
  dev: string;
  proc: string;
  kind: PairKind;
  fault?: string;
}

const MiB = 1 << 20;

/** The timed action kinds the generator draws from the main stream. */
const ACTION_KINDS = ['exit', 'pri_disable', 'pri_reset', 'remove_device', 'unbind', 'bind', 'iommufd_detach', 'iommufd_replace', 'iommufd_close', 'iommufd_destroy'] as const;

/**
 * Standalone flushes (iopf_queue_flush_dev outside a detach), from their own stream so the rest of
 * every seed's scenario is what it was before flushes were drawn. A flush keeps its caller's
 * contract by construction (the world stops what it flushes and waits for the function to be quiet
 * first), so it may come while the traffic runs or after it; other PASIDs of the device may still
 * fault — the flush must leave their partial and pending faults alone.
 */
function drawFlushes(f: Draw, pairs: readonly Pair[], pairSpans: ReadonlyMap<Pair, [number, number][]>, nDev: number, actions: Record<string, unknown>[]): void {
  if (!f.chance(2, 3)) return;
  const n = f.int(1, 3);
  const attached = pairs.filter((p) => p.kind !== 'none' && (pairSpans.get(p) ?? []).length > 0);
  // A flush of one PASID says most where the device has others (their faults must survive it).
  const weighted = attached.map((p) => [attached.some((q) => q !== p && q.dev === p.dev) ? 3 : 1, p] as const);
  /** While the traffic runs (the driver stops it first), or a little after its end. */
  const when = (spans: readonly [number, number][]): number => {
    let a = Number.MAX_SAFE_INTEGER;
    let b = 0;
    for (const [x, y] of spans) {
      a = Math.min(a, x);
      b = Math.max(b, y);
    }
    if (spans.length === 0) return f.int(0, 100_000);
    return f.chance(2, 3) ? f.int(a, Math.min(b, a + 50_000_000)) : b + f.int(1000, 200_000);
  };
  for (let i = 0; i < n; i++) {
    if (attached.length === 0 || f.chance(1, 5)) {
      const dev = `dev${f.int(0, nDev - 1)}`;
      const spans: [number, number][] = [];
      for (const [p, s] of pairSpans) if (p.dev === dev) spans.push(...s);
      actions.push({ op: 'flush', at_ns: when(spans), device: dev });
      continue;
    }
    const p = f.weighted(weighted);
    actions.push({ op: 'flush', at_ns: when(pairSpans.get(p)!), device: p.dev, process: p.proc });
  }
}

/**
 * A motif the independent draws above rarely line up (swarm testing finds a bug only where its
 * trigger is in the space with some weight): one PASID of a device torn down in the middle of a
 * group while another PASID of the same device has groups of its own in flight. Two fresh
 * workloads with large groups share a span of traffic; the teardown (iommufd detach or replace,
 * SVA unbind) comes inside it. What it reaches: the teardown's partial faults listed among the
 * other PASID's (the flush's partial walk, linux-iopf §5), and a PRG index the function reuses for
 * the other PASID while they are listed (gathering, §3 step 5). From its own stream, so the rest
 * of every seed's scenario is what it was without it.
 */
function drawTeardownMidGroup(
  m: Draw,
  pairs: readonly Pair[],
  devices: readonly Record<string, unknown>[],
  iommu: Record<string, unknown>,
  workloads: Record<string, unknown>[],
  actions: Record<string, unknown>[],
  faultNames: readonly string[],
): boolean {
  if (!m.chance(1, 2)) return false;
  const handled = pairs.filter((p) => p.kind === 'sva' || p.kind === 'iommufd');
  const devs = [...new Set(handled.map((p) => p.dev))].filter((d) => handled.filter((p) => p.dev === d).length >= 2);
  if (devs.length === 0) return false;
  const dev = m.pick(devs);
  const on = handled.filter((p) => p.dev === dev);
  // The torn-down PASID is mostly a VMM's: its device keeps sending while iommufd detaches it (an
  // SVA user stops its device first, so its groups end whole).
  const a = m.weighted(on.map((p) => [p.kind === 'iommufd' ? 3 : 1, p] as const));
  const b = m.pick(on.filter((p) => p !== a));
  // A function with room for many groups in flight and a page request queue that does not
  // overflow (an overflow discards every partial fault: iopf_queue_discard_partial): both PASIDs'
  // groups stream instead of waiting for credits one at a time.
  const pri = devices[Number(dev.slice(3))]!.pri as { capacity: number; allocation: number };
  pri.capacity = 512;
  pri.allocation = m.pick([256, 512]);
  const q = (iommu.vtd ?? iommu.smmuv3 ?? iommu.amd) as Record<string, number>;
  if (iommu.vtd !== undefined) q.prq_entries = Math.max(q.prq_entries!, 2048);
  else if (iommu.smmuv3 !== undefined) q.priq_entries_log2 = Math.max(q.priq_entries_log2!, 10);
  else q.ppr_log_entries = Math.max(q.ppr_log_entries!, 1024);
  const sizes = [[1, 4], [2, 8], [3, 16], [1, 32]] as const;
  const start = m.int(0, 100_000);
  // A busy link: requests of both PASIDs interleave and groups arrive over many reports.
  const rate = m.pick([0.5, 1, 2]);
  const accesses = m.int(200, 800);
  for (const p of [a, b]) {
    workloads.push({ device: dev, process: p.proc, pattern: m.pick(['random', 'sequential', 'strided']), rate_per_us: rate, accesses, prg_pages: m.weighted(sizes), ...(start > 0 ? { start_ns: start } : {}) });
  }
  const span = Math.round((accesses / rate) * 1000);
  const at = start + m.int(Math.floor(span / 8), Math.floor(span / 2));
  if (a.kind === 'sva') actions.push({ op: 'unbind', at_ns: at, device: dev, process: a.proc });
  else {
    const op = m.weighted([[2, 'iommufd_detach'], [1, 'iommufd_replace']] as const);
    const act: Record<string, unknown> = { op, at_ns: at, device: dev, process: a.proc };
    if (op === 'iommufd_replace') {
      const others = faultNames.filter((f) => f !== a.fault);
      act.fault = others.length > 0 && m.chance(1, 2) ? m.pick(others) : null;
    }
    actions.push(act);
  }
  // A jittery link spreads a group's requests over several reports of the driver thread, so the
  // teardown often falls between two of them (the motif asks for it; no draw).
  return true;
}

/**
 * A second motif: a VMM tears down the PASIDs of two attachments at once — both on one fault
 * object, whose fd it closes and which it destroys (IOMMU_DESTROY detaches every user first, each
 * through the driver's drain) — just as each has a request on its way, and after every other
 * traffic of the scenario is over. Concurrent drains of one IOMMU, on a queue that then stays
 * quiet: what a drain waiting for the driver thread's next run needs to be woken by (VT-d
 * prq_complete). From its own stream; the attachments keep their traffic before it.
 */
function drawQuietTeardown(
  m: Draw,
  pairs: Pair[],
  allocation: readonly number[],
  faults: Record<string, unknown>[],
  workloads: Record<string, unknown>[],
  actions: Record<string, unknown>[],
  horizon: number,
): void {
  if (!m.chance(1, 2)) return;
  const ifd = pairs.filter((p) => p.kind === 'iommufd');
  if (ifd.length < 2) return;
  const a = m.pick(ifd);
  const b = m.pick(ifd.filter((p) => p !== a));
  const name = `fq${faults.length}`;
  faults.push({ name, read_batch: m.pick([1, 16]), policy: 'success' });
  a.fault = name;
  b.fault = name;
  // Well after the rest: every workload's span, stalls included, is over by then.
  const t = 4 * horizon + 2_000_000;
  for (const p of [a, b]) {
    const alloc = allocation[Number(p.dev.slice(3))]!;
    const sizes = [1, 2, 4, 8].filter((g) => g <= alloc);
    workloads.push({ device: p.dev, process: p.proc, rate_per_us: 1, accesses: m.int(1, 2), prg_pages: sizes.length > 0 ? m.pick(sizes) : 1, start_ns: t });
  }
  actions.push({ op: 'iommufd_close', at_ns: t, fault: name });
  actions.push({ op: 'iommufd_destroy', at_ns: t + m.int(1000, 3000), fault: name });
}

/** Draw one scenario document from `seed`. */
export function generateDoc(seed: number, opts: GenerateOptions = {}): ScenarioInput {
  const d = new Draw(new Rng(seed, 'generate'));
  // One draw either way: with a family given, the rest of the seed's draws keep their place.
  const drawn = d.pick(iommuFamilies()) as 'vtd' | 'smmuv3' | 'amd';
  const family = opts.family ?? drawn;
  const allowed = kernelProfiles().filter((k) => !(opts.avoidKernels ?? []).includes(k));
  // The reference is drawn most (one draw either way, so later draws keep their place): it is the
  // contract, and a variant shows best against it — the other profiles carry known defects of
  // their own that often break the same rule with or without the variant (no finding then).
  const kernelChoices = allowed.length > 0 ? allowed : kernelProfiles();
  const kernel = opts.kernel ?? d.weighted(kernelChoices.map((k) => [k === 'reference' ? 3 : 1, k] as const));
  const iommuName = family === 'vtd' ? 'dmar0' : family === 'smmuv3' ? 'smmu0' : 'amdvi0';
  const iommu: Record<string, unknown> = { family, name: iommuName };
  // Small queues too: overflow (PRO / PRIQ overflow / PPR log full) is a path of its own.
  if (family === 'vtd') iommu.vtd = { prq_entries: d.pick([128, 256, 2048]), prq_batch: d.pick([1, 8, 64]) };
  else if (family === 'smmuv3') {
    const priq = d.weighted([[2, 2], [2, 3], [1, 5], [1, 10]] as const);
    const policy = d.weighted([[7, 'handle'], [1, 'fail']] as const);
    // 'fail' is mainline's arm_smmu_handle_ppr (form smmuv3-pri-deny, which answers Stop Markers
    // too): a what-if of another kernel, not the reference's. Under the reference the profile's
    // own policy stands (the draw is kept so other seeds' scenarios do not move).
    iommu.smmuv3 = kernel === 'reference' && policy === 'fail' ? { priq_entries_log2: priq } : { priq_entries_log2: priq, pri_policy: policy };
  }
  // The AMD spec's PPR log is at least 256 entries (PPRLen 1000b).
  else iommu.amd = { ppr_log_entries: d.pick([256, 256, 512, 1024]) };

  const nDev = d.int(1, 4);
  const rids = new Set<string>();
  const devices: Record<string, unknown>[] = [];
  const allocation: number[] = [];
  for (let i = 0; i < nDev; i++) {
    let rid: string;
    do rid = `${d.int(0, 0xc2).toString(16).padStart(2, '0')}:${d.int(0, 31).toString(16).padStart(2, '0')}.${d.int(0, 7)}`;
    while (rids.has(rid));
    rids.add(rid);
    const capacity = d.pick([16, 64, 256, 512, 512]);
    // Mostly room for several groups in flight (PASIDs interleave); sometimes a tight allocation
    // (credit stalls, one group at a time).
    const alloc = d.weighted<number>([[3, capacity], [2, capacity / 2], [1, 4]]);
    allocation.push(alloc);
    devices.push({ name: `dev${i}`, rid, pri: { capacity, allocation: alloc, response_pasid_required: d.chance(1, 2) } });
  }

  const nProc = d.int(1, 4);
  const processes: Record<string, unknown>[] = [];
  for (let i = 0; i < nProc; i++) {
    processes.push({
      name: `p${i}`,
      vmas: [
        {
          start: 0x1000_0000 * (i + 1),
          size: d.pick([1, 2, 4, 16]) * MiB,
          // A read-only VMA makes write faults fail the SVA access check (INVALID responses).
          perms: d.weighted([[5, 'rw'], [1, 'r']] as const),
          // File-backed: major faults, so handlers hold groups long (races with teardown).
          backing: d.weighted([[3, 'anon'], [1, 'file']] as const),
        },
      ],
    });
  }

  // Which handler each (device, process) pair gets.
  const faults: Record<string, unknown>[] = [];
  const newFault = (): string => {
    const name = `fq${faults.length}`;
    faults.push({
      name,
      read_batch: d.pick([1, 4, 16, 64]),
      policy: d.weighted([[6, 'success'], [1, 'invalid'], [1, 'failure'], [1, 'drop-and-close']] as const),
      bad_buffer: d.weighted<0 | string>([[4, 0], [1, '1/4']]),
      guest: d.chance(1, 3),
    });
    return name;
  };
  const pairs: Pair[] = [];
  for (let i = 0; i < nDev; i++) {
    const k = d.int(1, Math.min(3, nProc));
    const first = d.int(0, nProc - 1);
    for (let j = 0; j < k; j++) {
      const proc = `p${(first + j) % nProc}`;
      const kind = d.weighted([[5, 'sva'], [4, 'iommufd'], [1, 'iommufd-nofault'], [1, 'none']] as const);
      const pair: Pair = { dev: `dev${i}`, proc, kind };
      if (kind === 'iommufd') pair.fault = faults.length > 0 && d.chance(1, 3) ? d.pick(faults).name as string : newFault();
      pairs.push(pair);
    }
  }

  const workloads: Record<string, unknown>[] = [];
  let horizon = 10_000;
  // One group-size class per scenario (swarm: large groups everywhere make partial faults of
  // several PASIDs coexist on a device, which per-workload draws rarely do).
  // Large groups most (one draw either way): they stay partial longest, so faults of several
  // PASIDs interleave on a device's partial list and teardown cuts groups in half.
  const sizes = d.weighted([[1, [1, 2]], [1, [1, 2, 4, 8, 16, 32]], [2, [8, 16, 32]]] as const);
  /** Active spans of the workloads: actions land where traffic is. */
  const spans: [number, number][] = [];
  const pairSpans = new Map<Pair, [number, number][]>();
  for (const p of pairs) {
    pairSpans.set(p, []);
    const n = d.weighted([[4, 1], [1, 2]] as const);
    const devIdx = Number(p.dev.slice(3));
    for (let j = 0; j < n; j++) {
      const rate = d.pick([0.01, 0.05, 0.2, 0.5, 2]);
      const accesses = d.weighted([[3, d.int(1, 40)], [2, d.int(40, 200)], [1, d.int(200, 400)]] as const);
      const start = d.chance(1, 3) ? d.int(0, 200_000) : 0;
      const fit = sizes.filter((g) => g <= allocation[devIdx]!);
      const prg = fit.length > 0 ? d.pick(fit) : 1;
      const w: Record<string, unknown> = {
        device: p.dev,
        process: p.proc,
        pattern: d.pick(['sequential', 'random', 'zipf', 'strided', 'burst']),
        rate_per_us: rate,
        accesses,
        prg_pages: prg,
        access: { write: d.pick([0, '1/3', '1/2', 1]) },
      };
      if (start > 0) w.start_ns = start;
      if (d.chance(1, 6)) w.with_pasid = false;
      if (w.pattern === 'burst') {
        w.burst_accesses = d.pick([4, 16, 64]);
        w.burst_gap_ns = d.pick([1000, 50_000]);
      }
      workloads.push(w);
      const end = start + Math.round((accesses / rate) * 1000);
      spans.push([start, end]);
      pairSpans.get(p)!.push([start, end]);
      horizon = Math.max(horizon, end);
    }
  }

  // Timed actions, over the traffic's span.
  const at = (): number => {
    if (spans.length > 0 && d.chance(2, 3)) {
      const [a, b] = d.pick(spans);
      return d.int(a, Math.min(b, a + 50_000_000));
    }
    return d.int(0, Math.min(horizon, 50_000_000));
  };
  /** A time while the pair's own traffic runs (mostly): teardown races with its groups. */
  const atFor = (p: Pair): number => {
    const own = pairSpans.get(p) ?? [];
    if (own.length > 0 && d.chance(3, 4)) {
      const [a, b] = d.pick(own);
      return d.int(a, Math.min(b, a + 50_000_000));
    }
    return at();
  };
  const actions: Record<string, unknown>[] = [];
  const follow = new Draw(new Rng(seed, 'generate/follow'));
  // Swarm testing over action kinds (Groce et al.): each kind is in this scenario's mix or not,
  // from its own stream.
  const sw = new Draw(new Rng(seed, 'generate/swarm'));
  const swarm = new Set<string>(ACTION_KINDS.filter(() => sw.chance(1, 2)));
  const nAct = d.weighted([[2, 0], [3, 1], [3, 2], [2, 3], [1, 4]] as const);
  const faultNames = faults.map((f) => f.name as string);
  for (let i = 0; i < nAct; i++) {
    const sva = pairs.filter((p) => p.kind === 'sva' || p.kind === 'none');
    const ifd = pairs.filter((p) => p.kind === 'iommufd' || p.kind === 'iommufd-nofault');
    const choices: [number, string][] = [[2, 'exit'], [1, 'pri_disable'], [1, 'pri_reset'], [2, 'remove_device']];
    if (sva.length > 0) choices.push([4, 'unbind'], [2, 'bind']);
    if (ifd.length > 0) choices.push([4, 'iommufd_detach']);
    if (pairs.some((p) => p.kind === 'iommufd')) choices.push([3, 'iommufd_replace']);
    if (faultNames.length > 0) choices.push([1, 'iommufd_close'], [1, 'iommufd_destroy']);
    // Swarm: the kinds this scenario leaves out weigh nothing (still one draw: later draws keep
    // their place), so the kinds it keeps come up more often; all left out → all kept.
    const kept = choices.filter(([, c]) => swarm.has(c));
    const op = d.weighted(kept.length > 0 ? kept : choices);
    const t = at();
    switch (op) {
      case 'exit': {
        // A process exits once (the loader refuses a second exit); the draw is kept so the
        // scenarios behind other seeds do not move.
        const process = `p${d.int(0, nProc - 1)}`;
        if (!actions.some((a) => a.op === 'exit' && a.process === process)) actions.push({ op, at_ns: t, process });
        break;
      }
      case 'pri_disable':
      case 'pri_reset':
      case 'remove_device': {
        const dev = `dev${d.int(0, nDev - 1)}`;
        actions.push({ op, at_ns: t, device: dev });
        // A disabled PRI is often enabled again later.
        if (op === 'pri_disable' && d.chance(1, 2)) actions.push({ op: 'pri_enable', at_ns: t + d.int(1000, 100_000), device: dev });
        break;
      }
      case 'unbind':
      case 'bind': {
        const p = d.pick(sva);
        const tp = op === 'unbind' ? atFor(p) : t;
        actions.push({ op, at_ns: tp, device: p.dev, process: p.proc });
        // Rebind after an unbind: the PASID may be reused by the same mm.
        if (op === 'unbind' && d.chance(1, 2)) actions.push({ op: 'bind', at_ns: tp + d.int(1000, 200_000), device: p.dev, process: p.proc });
        break;
      }
      case 'iommufd_detach':
      case 'iommufd_replace': {
        const p = d.pick(op === 'iommufd_replace' ? pairs.filter((q) => q.kind === 'iommufd') : ifd);
        const a: Record<string, unknown> = { op, at_ns: atFor(p), device: p.dev, process: p.proc };
        // Replace onto the same fault object, another one, or a hwpt without one.
        if (op === 'iommufd_replace') {
          const to = d.weighted<string>([[1, 'same'], [1, 'none'], [1, 'other']]);
          if (to === 'none') a.fault = null;
          else if (to === 'other') {
            // Another fault object: one the pair does not already use (none left: a hwpt without one).
            const others = faultNames.filter((f) => f !== p.fault);
            a.fault = others.length > 0 ? d.pick(others) : null;
          }
        }
        actions.push(a);
        // A VMM that moved the PASID off its fault object often closes that object's fd next
        // (nothing it knows of uses it any more): from its own stream, so the draws above keep
        // their place.
        if (op === 'iommufd_replace' && a.fault !== undefined && p.fault !== undefined && a.fault !== p.fault && follow.chance(1, 2)) {
          const closeAt = (a.at_ns as number) + follow.int(1, 50_000);
          actions.push({ op: 'iommufd_close', at_ns: closeAt, fault: p.fault });
          // ...and destroys it (no draw): closing alone is the liveness finding of issue 6.
          actions.push({ op: 'iommufd_destroy', at_ns: closeAt + 50_000, fault: p.fault });
        }
        break;
      }
      default: {
        const fault = d.pick(faultNames);
        actions.push({ op, at_ns: t, fault });
        if (op === 'iommufd_close') {
          // Closing the fd answers nothing (linux-iopf §9): a scenario that only closes is a
          // liveness finding by design (issue 6, iommufd-close-only), not something to search
          // for. The object is destroyed after the close — soon (drawn, as before) or 50 µs
          // later (no draw: other seeds' scenarios do not move).
          const soon = d.chance(1, 2) ? d.int(1, 50_000) : 50_000;
          actions.push({ op: 'iommufd_destroy', at_ns: t + soon, fault });
        }
        break;
      }
    }
  }
  drawFlushes(new Draw(new Rng(seed, 'generate/flush')), pairs, pairSpans, nDev, actions);
  const midGroup = drawTeardownMidGroup(new Draw(new Rng(seed, 'generate/midgroup')), pairs, devices, iommu, workloads, actions, faultNames);
  // One motif per scenario: the mid-group one, else perhaps the quiet teardown.
  if (!midGroup) drawQuietTeardown(new Draw(new Rng(seed, 'generate/quiet-teardown')), pairs, allocation, faults, workloads, actions, horizon);
  // A drop-and-close VMM closes its fd on its first read, whenever that is; its fault object is
  // destroyed after the traffic (no draw), so what it abandoned is answered by
  // iommufd_fault_destroy(). IOMMU_DESTROY is refused (-EBUSY) while the fd is open, so the VMM
  // tries again later (traffic stalled behind abandoned groups may run long past the horizon).
  for (const f of faults) {
    if (f.policy !== 'drop-and-close') continue;
    for (const k of [1, 2, 4, 8, 16, 64]) actions.push({ op: 'iommufd_destroy', at_ns: k * horizon + 1_000_000, fault: f.name });
  }
  actions.sort((a, b) => (a.at_ns as number) - (b.at_ns as number));

  // VMM speed: fast, the reference's default, or slow (user space holds groups long).
  const vmmDrawn = d.pick(['fast', 'default', 'slow'] as const);
  // The mid-group motif needs traffic that keeps flowing: a VMM that keeps up (a slow one holds
  // the function's PRI credits, and its groups then arrive one at a time, whole).
  const vmm = midGroup ? 'fast' : vmmDrawn;
  const latency: Record<string, unknown> = {};
  if (vmm === 'fast') {
    latency.vmm_wake_ns = { dist: 'uniform', min_ns: 200, max_ns: 1000 };
    latency.vmm_service_ns = { dist: 'uniform', min_ns: 100, max_ns: 1000 };
  } else if (vmm === 'slow') {
    latency.vmm_wake_ns = { dist: 'uniform', min_ns: 10_000, max_ns: 100_000 };
    latency.vmm_service_ns = { dist: 'uniform', min_ns: 100_000, max_ns: 1_000_000 };
  }
  // A wide link latency interleaves the requests of concurrent groups.
  if (d.chance(1, 2) || midGroup) latency.page_request_ns = { dist: 'uniform', min_ns: 200, max_ns: 20_000 };

  const doc: Record<string, unknown> = {
    name: `generated-${seed}`,
    description: `iopf explore --generate, generator seed ${seed}`,
    kernel,
    iommu,
    iopf: { workers: d.pick([1, 2, 4, 8]) },
    devices,
    processes,
  };
  const binds = pairs.filter((p) => p.kind === 'sva' && d.chance(5, 6)).map((p) => ({ device: p.dev, process: p.proc }));
  if (binds.length > 0) doc.binds = binds;
  const attach = pairs
    .filter((p) => p.kind === 'iommufd' || p.kind === 'iommufd-nofault')
    .map((p) => (p.fault !== undefined ? { device: p.dev, process: p.proc, fault: p.fault } : { device: p.dev, process: p.proc }));
  if (faults.length > 0 || attach.length > 0) doc.iommufd = { faults, attach };
  doc.workloads = workloads;
  if (actions.length > 0) doc.actions = actions;
  if (Object.keys(latency).length > 0) doc.latency = latency;
  const fs: Record<string, unknown> = {};
  const alloc = d.weighted<0 | string>([[3, 0], [1, '1/50'], [2, '1/8']]);
  if (alloc !== 0) fs.alloc_failure = alloc;
  if (d.chance(1, 4)) fs.slow_handler = '1/10';
  if (d.chance(1, 6)) fs.mm_fault_error = '1/20';
  if (Object.keys(fs).length > 0) doc.faults = fs;
  return doc as ScenarioInput;
}

/** Validate a document through the real loader (the same path a file takes). */
export function loadDoc(doc: ScenarioInput, file: string): ReturnType<typeof parseScenario> {
  return parseScenario(JSON.stringify(doc), file);
}

/** Draw one scenario; the loader must accept it (a rejection is a generator bug). */
export function generateScenario(seed: number, opts: GenerateOptions = {}): Generated {
  const doc = generateDoc(seed, opts);
  const r = loadDoc(doc, `generated-${seed}`);
  if (!r.ok) {
    const first = r.errors[0]!;
    assert(false, `generate: seed ${seed} drew a scenario the loader rejects: ${first.path}: ${first.message}`);
    throw new Error('unreachable');
  }
  return { doc, scenario: r.value };
}

/**
 * A scenario document as YAML, written the way the shipped scenarios are: one line per device,
 * VMA, workload or action (flow mappings of scalars), addresses in hex.
 */
export function toYaml(doc: ScenarioInput, header?: string): string {
  const d = new Document(doc);
  visit(d, {
    Map(_k, node) {
      // Leaf-ish mappings (scalars, or small flow mappings inside) print on one line.
      if (node.items.every((p) => isScalar(p.value) || (isMap(p.value) && p.value.flow === true)) && node.items.length > 0) node.flow = true;
    },
    Pair(_k, pair) {
      if (isScalar(pair.key) && pair.key.value === 'start' && isScalar(pair.value) && typeof pair.value.value === 'number') pair.value.format = 'HEX';
    },
  });
  visit(d, {
    Seq(_k, node) {
      if (node.items.every((i) => isScalar(i))) node.flow = true;
    },
    Map(_k, node) {
      if (node.flow !== true && node.items.every((p) => isScalar(p.value) || isMap(p.value) || isSeq(p.value)) && node.items.some((p) => isMap(p.value) && p.value.flow === true)) {
        // A device: name, rid and its capability mappings still fit one line each.
        const flat = node.items.every((p) => isScalar(p.value) || (isMap(p.value) && p.value.flow === true));
        if (flat && String(node).length <= 160) node.flow = true;
      }
    },
  });
  const body = d.toString({ lineWidth: 0, flowCollectionPadding: true });
  return header === undefined ? body : `${header.split('\n').map((l) => `# ${l}`).join('\n')}\n${body}`;
}
