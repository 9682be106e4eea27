/**
 * The driver's per-PASID teardown for queues without VT-d's drain descriptors (SMMUv3, AMD): wait
 * until the hardware queue and the driver thread hold no entry of the PASID (re-checked each time
 * the thread consumes entries), then flush the iopf queue for it. DRAIN_BEGIN / DRAIN_END bracket
 * it in the trace; completion follows the continuation convention (b = result).
 */
import { assert } from '../../sim/assert.js';
import type { Continuation } from '../../sim/sync.js';
import { TraceKind } from '../../trace/events.js';
import type { ModelEnv } from '../../env/env.js';

export interface DrainWaiter {
  readonly dev: number;
  readonly rid: number;
  readonly pasid: number;
  readonly cont: Continuation;
  iterations: number;
  flushing: boolean;
}

export class PasidDrains {
  private readonly drains = new Map<number, DrainWaiter>();
  private next = 0;
  private readonly kCheck: number;
  private readonly kFlushed: number;

  /**
   * `quiet(d)`: no entry of d's PASID is left in the queue or in the thread. `flush`: the iopf
   * flush (deps.flushDev), or undefined when the driver does none (completes at once).
   */
  constructor(
    private readonly env: ModelEnv,
    name: string,
    private readonly quiet: (d: DrainWaiter) => boolean,
    private readonly flush: ((dev: number, pasid: number, cont: Continuation) => void) | undefined,
  ) {
    this.kCheck = env.sim.registerKind(`${name}:drain-check`, (id) => {
      this.check(id);
    });
    this.kFlushed = env.sim.registerKind(`${name}:drain-flushed`, (id, result) => {
      this.flushed(id, result);
    });
  }

  begin(dev: number, rid: number, pasid: number, cont: Continuation): void {
    const id = this.next++;
    this.drains.set(id, { dev, rid, pasid, cont, iterations: 0, flushing: false });
    this.env.tracer.emit(TraceKind.DRAIN_BEGIN, dev, pasid, 0, 0, 0, 0);
    this.env.sim.after(0, this.kCheck, id);
  }

  /** The thread consumed entries: re-check every drain in progress. */
  recheck(): void {
    if (this.drains.size === 0) return;
    for (const id of this.drains.keys()) this.check(id);
  }

  private check(id: number): void {
    const d = this.drains.get(id);
    if (d === undefined || d.flushing) return;
    d.iterations++;
    if (!this.quiet(d)) return;
    d.flushing = true;
    if (this.flush === undefined) this.env.sim.after(0, this.kFlushed, id, 0);
    else this.flush(d.dev, d.pasid, { kind: this.kFlushed, a: id, b: 0 });
  }

  private flushed(id: number, result: number): void {
    const d = this.drains.get(id);
    assert(d !== undefined, 'drain completion for an unknown drain');
    this.drains.delete(id);
    this.env.tracer.emit(TraceKind.DRAIN_END, d.dev, d.pasid, 0, 0, d.iterations, 0);
    this.env.sim.after(0, d.cont.kind, d.cont.a, result, d.cont.payload);
  }
}
