/**
 * Kernel concurrency primitives over the engine, for actors whose kernel functions are cut into
 * atomic steps at lock and wait points. A step that cannot proceed leaves a continuation (an event
 * kind with its arguments); the primitive schedules it when the step may proceed. Continuations
 * made runnable at the same time are ordered by the engine's Chooser, which is where races live.
 */
import { assert } from './assert.js';
import type { Sim } from './engine.js';
import type { Latency } from './latency.js';
import type { Rng } from './random.js';

/** What to run when a wait ends. */
export interface Continuation {
  kind: number;
  a: number;
  b: number;
  payload?: unknown;
}

/** A FIFO with a bound; exceeding the bound is an invariant failure (every queue has a limit). */
export class BoundedFifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  constructor(
    readonly name: string,
    readonly limit: number,
  ) {}
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    assert(this.length < this.limit, 'BoundedFifo: queue limit exceeded');
    this.items.push(x);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

/**
 * struct mutex: one owner; waiters queue and are handed the lock in FIFO order on unlock (the
 * kernel's handoff is not strictly FIFO; the Chooser still orders same-time wake-ups).
 */
export class Mutex {
  owner = -1;
  private readonly waiters: BoundedFifo<{ who: number; cont: Continuation }>;
  contended = 0;
  constructor(
    private readonly sim: Sim,
    readonly name: string,
    waiterLimit = 1 << 16,
  ) {
    this.waiters = new BoundedFifo(name, waiterLimit);
  }

  get held(): boolean {
    return this.owner !== -1;
  }

  /**
   * Take the lock for actor `who`. True: taken, the caller goes on in this step. False: `cont` runs
   * later, with the lock held by `who`.
   */
  lock(who: number, cont: Continuation): boolean {
    assert(who >= 0, 'Mutex.lock: actor id must be >= 0');
    assert(this.owner !== who, 'Mutex.lock: recursive lock (kernel mutexes are not recursive)');
    if (this.owner === -1) {
      this.owner = who;
      return true;
    }
    this.contended++;
    this.waiters.push({ who, cont });
    return false;
  }

  unlock(who: number): void {
    assert(this.owner === who, 'Mutex.unlock: not the owner');
    const next = this.waiters.shift();
    if (next === undefined) {
      this.owner = -1;
      return;
    }
    this.owner = next.who;
    const c = next.cont;
    this.sim.after(0, c.kind, c.a, c.b, c.payload);
  }
}

/** A work item (struct work_struct with its function). */
export interface WorkItem {
  /** Runs on `worker`; the item must call `wq.done(worker)` when its function returns. */
  runWork(worker: number): void;
  /** Model bookkeeping: set while queued or running (work_pending). */
  workQueued: boolean;
  /** Model bookkeeping: the flush generation the item was queued in. */
  workSeq: number;
}

/**
 * An unbound, unordered workqueue (alloc_workqueue(WQ_UNBOUND, max_active)): items may run out of
 * order and concurrently on up to `workers` workers. flush_workqueue() waits for every item queued
 * before the flush to finish.
 */
export class Workqueue {
  private readonly pending: BoundedFifo<WorkItem>;
  /** Workers that ran and went idle, most recent last (reused first). */
  private readonly idle: number[] = [];
  /** Workers [nextFresh, workers) never ran: handed out in order when `idle` is empty, so memory
   * follows the workers a run uses, not max_active. */
  private nextFresh = 0;
  private busyCount = 0;
  private readonly running: (WorkItem | undefined)[] = [];
  private queuedSeq = 0;
  /**
   * Items not yet finished, by queue generation: unfinishedAt[seq & mask] is 1 while the item
   * queued with `seq` has not finished; oldestSeq is the smallest such seq (queuedSeq + 1 when
   * none). A ring of flags instead of a Map keyed by ever-growing seqs: no allocation per item.
   */
  private unfinishedAt = new Uint8Array(64);
  private oldestSeq = 1;
  private readonly flushers: { upTo: number; cont: Continuation }[] = [];
  private readonly dispatchKind: number;
  queuedTotal = 0;
  busyHighWater = 0;
  pendingHighWater = 0;

  constructor(
    private readonly sim: Sim,
    readonly name: string,
    readonly workers: number,
    private readonly dispatchLatency: Latency,
    private readonly rng: Rng,
    pendingLimit = 1 << 22,
  ) {
    assert(workers >= 1, 'Workqueue: needs at least one worker');
    this.pending = new BoundedFifo(name, pendingLimit);
    this.dispatchKind = sim.registerKind(`wq:${name}:dispatch`, (worker) => {
      this.dispatch(worker);
    });
  }

  get busy(): number {
    return this.busyCount;
  }
  get queued(): number {
    return this.pending.length;
  }

  /** queue_work(): false when the item is already pending (the kernel's return of false). */
  queueWork(item: WorkItem): boolean {
    if (item.workQueued) return false;
    item.workQueued = true;
    const seq = ++this.queuedSeq;
    item.workSeq = seq;
    if (seq - this.oldestSeq >= this.unfinishedAt.length) this.growUnfinished();
    this.unfinishedAt[seq & (this.unfinishedAt.length - 1)] = 1;
    this.queuedTotal++;
    this.pending.push(item);
    if (this.pending.length > this.pendingHighWater) this.pendingHighWater = this.pending.length;
    this.kick();
    return true;
  }

  private kick(): void {
    while (this.busyCount < this.workers && this.pending.length > 0) {
      // The same worker order as a stack holding every worker, lowest number on top.
      const w = this.idle.length > 0 ? this.idle.pop()! : this.nextFresh++;
      this.busyCount++;
      // Reserve the worker now; the item starts after the dispatch latency (wake-up, scheduling).
      this.running[w] = this.pending.shift()!;
      if (this.busy > this.busyHighWater) this.busyHighWater = this.busy;
      this.sim.after(this.dispatchLatency.sample(this.rng), this.dispatchKind, w, 0);
    }
  }

  private dispatch(worker: number): void {
    const item = this.running[worker];
    assert(item !== undefined, 'Workqueue.dispatch: no item on worker');
    item.runWork(worker);
  }

  /** The item on `worker` returned from its function. */
  done(worker: number): void {
    const item = this.running[worker];
    assert(item !== undefined, 'Workqueue.done: worker is idle');
    this.running[worker] = undefined;
    item.workQueued = false;
    const ring = this.unfinishedAt;
    const mask = ring.length - 1;
    ring[item.workSeq & mask] = 0;
    while (this.oldestSeq <= this.queuedSeq && ring[this.oldestSeq & mask] === 0) this.oldestSeq++;
    this.idle.push(worker);
    this.busyCount--;
    this.releaseFlushers();
    this.kick();
  }

  /** The item currently on `worker` (for checks: which handler runs). */
  itemOn(worker: number): WorkItem | undefined {
    return this.running[worker];
  }

  private oldestUnfinished(): number {
    return this.oldestSeq <= this.queuedSeq ? this.oldestSeq : Infinity;
  }

  /** Double the flag ring (seqs oldestSeq..queuedSeq keep their flags). */
  private growUnfinished(): void {
    const old = this.unfinishedAt;
    const ring = new Uint8Array(old.length * 2);
    for (let q = this.oldestSeq; q < this.queuedSeq; q++) ring[q & (ring.length - 1)] = old[q & (old.length - 1)]!;
    this.unfinishedAt = ring;
  }

  private releaseFlushers(): void {
    if (this.flushers.length === 0) return;
    const oldest = this.oldestUnfinished();
    for (let i = 0; i < this.flushers.length; ) {
      const f = this.flushers[i]!;
      if (oldest > f.upTo) {
        this.flushers.splice(i, 1);
        this.sim.after(0, f.cont.kind, f.cont.a, f.cont.b, f.cont.payload);
      } else i++;
    }
  }

  /**
   * flush_workqueue(): true if nothing queued before now is unfinished (the caller goes on);
   * otherwise `cont` runs once all of it has finished.
   */
  flush(cont: Continuation): boolean {
    const upTo = this.queuedSeq;
    if (this.oldestUnfinished() > upTo) return true;
    this.flushers.push({ upTo, cont });
    return false;
  }
}
