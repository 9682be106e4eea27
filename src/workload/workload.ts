/**
 * A workload: one device's stream of DMA accesses into one region of an address space
 * (scenario `workloads[]`). Accesses arrive with exponential inter-arrival times at `rate_per_us`,
 * or with gaps drawn from `interarrival_ns` when the scenario gives that distribution (a calibrated
 * arrival process, `iopf fit`); bursts: `burst_accesses` back to back at that rate, then
 * `burst_gap_ns` of quiet. Each access
 * covers `prg_pages` pages and carries access bits drawn by the scenario's ratios. One event kind
 * per workload; the event carries no payload, so the hot loop allocates nothing.
 */
import { assert } from '../sim/assert.js';
import { Latency } from '../sim/latency.js';
import type { Rng } from '../sim/random.js';
import type { ModelEnv } from '../model/env.js';
import type { WorkloadConfig } from '../scenario/schema.js';
import { PrFlag } from '../trace/events.js';
import {
  RandomPattern,
  SequentialPattern,
  StridedPattern,
  ZipfPattern,
  type AddressPattern,
} from './patterns.js';

/** Where a workload's accesses go (the lead wires a PciFunction and the current bind). */
export interface WorkloadTarget {
  /** PciFunction.dma. */
  dma(accessId: number, pasid: number, firstPage: number, pages: number, flags: number): void;
  /** The PASID the traffic uses now, or null while the process is not bound (the access is skipped). */
  currentPasid(): number | null;
}

/** The pages the workload may touch. */
export interface WorkloadRegion {
  firstPage: number;
  pages: number;
}

export class Workload {
  private readonly rng: Rng;
  private readonly pattern: AddressPattern;
  private readonly span: number;
  private readonly meanGapNs: number;
  /** Gaps from the scenario's distribution instead of exponential ones (undefined: exponential). */
  private readonly interarrival: Latency | undefined;
  private readonly kind: number;
  private issued = 0;
  private inBurst = 0;
  private stopped = false;
  private started = false;
  /** Accesses skipped because the process was not bound. */
  skipped = 0;

  constructor(
    private readonly env: ModelEnv,
    readonly index: number,
    readonly cfg: WorkloadConfig,
    private readonly target: WorkloadTarget,
    readonly region: WorkloadRegion,
  ) {
    assert(region.pages >= 1, 'Workload: empty region');
    assert(index >= 0 && index < 2 ** 20, 'Workload: index out of range');
    this.rng = env.stream(`workload:${index}`);
    this.span = Math.min(cfg.prg_pages, region.pages);
    const slots = Math.max(1, Math.floor(region.pages / this.span));
    const positions = region.pages - this.span + 1;
    switch (cfg.pattern) {
      case 'sequential':
      case 'burst':
        this.pattern = new SequentialPattern(slots, this.span);
        break;
      case 'random':
        this.pattern = new RandomPattern(slots, this.span);
        break;
      case 'zipf':
        this.pattern = new ZipfPattern(slots, this.span, cfg.zipf_s);
        break;
      case 'strided':
        this.pattern = new StridedPattern(positions, cfg.stride_pages);
        break;
    }
    this.meanGapNs = 1000 / cfg.rate_per_us;
    this.interarrival = cfg.interarrival_ns === undefined ? undefined : new Latency(cfg.interarrival_ns);
    this.kind = env.sim.registerKind(`workload:${index}:next`, () => {
      this.step();
    });
  }

  /** Accesses issued so far. */
  get count(): number {
    return this.issued;
  }

  get done(): boolean {
    return this.stopped || this.issued >= this.cfg.accesses;
  }

  /** Schedule the first access at `start_ns` (or now, if that has passed). */
  start(): void {
    assert(!this.started, 'Workload.start: already started');
    this.started = true;
    if (this.cfg.accesses === 0) return;
    const t = Math.max(this.env.sim.now, this.cfg.start_ns);
    this.env.sim.at(t, this.kind, 0, 0);
  }

  /** No further accesses (a timed action, or the end of the run). */
  stop(): void {
    this.stopped = true;
  }

  /** Inter-arrival gap in integer ns: the scenario's distribution, else exponential. */
  private gap(): number {
    if (this.interarrival !== undefined) return this.interarrival.sample(this.rng);
    const u = 1 - this.rng.float();
    return Math.round(-Math.log(u) * this.meanGapNs);
  }

  /** Access bits by the scenario's ratios; always three draws, so the stream stays aligned. */
  private drawFlags(): number {
    const c = this.cfg.access;
    const w = this.rng.chance(c.write.num, c.write.den);
    const x = this.rng.chance(c.exec.num, c.exec.den);
    const p = this.rng.chance(c.priv.num, c.priv.den);
    // A DMA write asks for W; execute needs read (PCIe: Execute Requested only with R).
    let f = w ? PrFlag.WRITE : PrFlag.READ;
    if (x) f |= PrFlag.EXEC | PrFlag.READ;
    if (p) f |= PrFlag.PRIV;
    return f;
  }

  private step(): void {
    if (this.done) return;
    const i = this.issued++;
    const off = this.pattern.next(i, this.rng);
    const flags = this.drawFlags();
    const cur = this.target.currentPasid();
    if (cur === null) this.skipped++;
    else {
      const pasid = this.cfg.with_pasid ? cur : -1;
      this.target.dma(this.index * 2 ** 32 + i, pasid, this.region.firstPage + off, this.span, flags);
    }
    if (this.done) return;
    let delay = this.gap();
    if (this.cfg.pattern === 'burst' && ++this.inBurst >= this.cfg.burst_accesses) {
      this.inBurst = 0;
      delay += this.cfg.burst_gap_ns;
    }
    this.env.sim.after(delay, this.kind, 0, 0);
  }
}
