/**
 * An IOMMU command queue (SMMUv3 CMDQ, AMD command buffer): software issues commands, the IOMMU
 * executes them in issue order `latency` later. Each consume event executes the oldest command, so
 * same-time events cannot reorder them, and no command completes before an earlier one.
 */
import { assert } from '../../sim/assert.js';
import type { Sim } from '../../sim/engine.js';
import type { Latency } from '../../sim/latency.js';
import type { Rng } from '../../sim/random.js';

export class OrderedCommandQueue<T> {
  private readonly q: (T | undefined)[] = [];
  private head = 0;
  private lastAt = 0;
  private readonly kind: number;

  constructor(
    private readonly sim: Sim,
    name: string,
    private readonly latency: Latency,
    private readonly rng: Rng,
    private readonly execute: (cmd: T) => void,
  ) {
    this.kind = sim.registerKind(`${name}:cmd`, () => {
      this.consume();
    });
  }

  /** Queue a command; it executes after the latency, never before an earlier command. */
  issue(cmd: T): void {
    this.q.push(cmd);
    const at = Math.max(this.sim.now + this.latency.sample(this.rng), this.lastAt);
    this.lastAt = at;
    this.sim.at(at, this.kind);
  }

  get pending(): number {
    return this.q.length - this.head;
  }

  private consume(): void {
    const cmd = this.q[this.head];
    assert(cmd !== undefined, 'command queue underflow');
    this.q[this.head++] = undefined;
    if (this.head === this.q.length) {
      this.q.length = 0;
      this.head = 0;
    }
    this.execute(cmd);
  }
}
