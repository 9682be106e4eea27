/**
 * The deterministic discrete-event engine. Virtual time is integer nanoseconds; events are totally
 * ordered by (time, seq) with seq a global insertion counter. When several events are ready at the
 * same time on different channels, the Chooser picks which runs first — that is where the model's
 * concurrency (and the explorer's search space) lives. Handlers are registered once per event kind;
 * an event is (kind, a, b, payload?) so the hot loop allocates nothing.
 */
import { assert, setAssertContext, type AssertContext } from './assert.js';
import { EventHeap } from './heap.js';
import { Rng, type Chooser, RandomChooser } from './random.js';

/** An event handler: called with the event's two integer arguments and its payload (or undefined). */
export type EventHandler = (a: number, b: number, payload: unknown) => void;

export interface Limits {
  /** Stop after this many events (a clean stop, not a hang). */
  maxEvents: number;
  /** Do not run events later than this virtual time. */
  maxTimeNs: number;
  /** Most events pending at once. */
  maxPending: number;
}

/**
 * The end of virtual time: 2^52 ns (about 52 days). A step scheduled later than this — a latency
 * drawn from a heavy tail, a start time near 2^53 — never runs; the run ends at the horizon with
 * stop reason 'time-horizon'. Keeping every time at or below 2^52 also keeps `now + delay` exact
 * for any delay up to 2^52, so time stays a safe integer.
 */
export const TIME_HORIZON_NS = 2 ** 52;

export const DEFAULT_LIMITS: Limits = {
  maxEvents: 2_000_000_000,
  maxTimeNs: TIME_HORIZON_NS,
  maxPending: 1 << 24,
};

export type StopReason = 'drained' | 'max-events' | 'max-time' | 'time-horizon' | 'stopped';

export interface RunResult {
  reason: StopReason;
  events: number;
  nowNs: number;
  /** Set when `stop(message)` ended the run. */
  message: string | undefined;
}

export interface SimOptions {
  seed: number;
  /** Scheduling choices; defaults to a random chooser on the stream "scheduler". */
  chooser?: Chooser;
  /** 'chooser' (default): same-time events of distinct channels are ordered by the Chooser;
   * 'seq': always insertion order. */
  tieBreak?: 'chooser' | 'seq';
  limits?: Partial<Limits>;
}

/** Most same-time events gathered for one choice; past this the rest wait for the next pick. */
const MAX_TIE_SET = 32;

export class Sim implements AssertContext {
  readonly seed: number;
  readonly chooser: Chooser;
  readonly limits: Limits;
  now = 0;
  events = 0;
  private seqCounter = 0;
  private readonly heap: EventHeap;
  private readonly handlers: EventHandler[] = [];
  readonly kindNames: string[] = [];
  private readonly payloads: unknown[] = [];
  private readonly freePayloads: number[] = [];
  private readonly tieBreak: 'chooser' | 'seq';
  private stopMessage: string | undefined;
  private stopped = false;
  private readonly tieSlots = new Int32Array(MAX_TIE_SET);
  private readonly tieCand = new Int32Array(MAX_TIE_SET);
  /** How many same-time choices the run made (exploration depth). */
  tieChoices = 0;

  constructor(opts: SimOptions) {
    assert(Number.isSafeInteger(opts.seed), 'Sim: seed must be a safe integer');
    this.seed = opts.seed;
    this.chooser = opts.chooser ?? new RandomChooser(new Rng(opts.seed, 'scheduler'));
    this.tieBreak = opts.tieBreak ?? 'chooser';
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.heap = new EventHeap(1024, this.limits.maxPending);
  }

  /** A named random stream forked from the run's seed. */
  stream(name: string): Rng {
    return new Rng(this.seed, name);
  }

  /** Register a handler for a new event kind; returns the kind's number. Done at setup, not per event. */
  registerKind(name: string, handler: EventHandler): number {
    this.handlers.push(handler);
    this.kindNames.push(name);
    return this.handlers.length - 1;
  }

  get pending(): number {
    return this.heap.size + this.tieN;
  }

  /** Schedule an event at absolute time `time` (integer ns, not in the past). */
  at(time: number, kind: number, a = 0, b = 0, payload?: unknown, channel = -1): void {
    // Beyond the horizon (Infinity included): parked just past it, where no run reaches.
    if (time > TIME_HORIZON_NS) time = TIME_HORIZON_NS + 1;
    assert(Number.isSafeInteger(time), 'Sim.at: time must be a safe integer (ns)');
    assert(time >= this.now, 'Sim.at: time is in the past');
    assert(kind >= 0 && kind < this.handlers.length, 'Sim.at: unknown event kind');
    let p = -1;
    if (payload !== undefined) {
      p = this.freePayloads.length > 0 ? this.freePayloads.pop()! : this.payloads.length;
      this.payloads[p] = payload;
    }
    this.heap.push(time, this.seqCounter++, kind, a, b, p, channel);
  }

  /** Schedule an event `delay` ns from now. */
  after(delay: number, kind: number, a = 0, b = 0, payload?: unknown, channel = -1): void {
    this.at(this.now + delay, kind, a, b, payload, channel);
  }

  /** End the run after the current event, with a message (a rule or limit said so). */
  stop(message: string): void {
    this.stopped = true;
    this.stopMessage = message;
  }

  /** Same-time events already taken off the heap, in seq order, all at time `now`. */
  private tieN = 0;

  /**
   * Pick the next slot: the (time, seq) minimum, or — when several events of distinct channels are
   * ready at the same time — the Chooser's pick among the first event of each channel. Events taken
   * off the heap for a choice wait in the tie buffer (never pushed back), so each event is popped
   * once however many ties there are.
   */
  private nextSlot(): number {
    const heap = this.heap;
    const slots = this.tieSlots;
    let n = this.tieN;
    if (n === 0) {
      const first = heap.pop();
      if (this.tieBreak === 'seq' || heap.size === 0 || heap.time[heap.peek()]! !== heap.time[first]!) return first;
      slots[0] = first;
      n = 1;
    }
    const t = heap.time[slots[0]!]!;
    // Later-scheduled events at t have larger seq than everything buffered: appending keeps order.
    while (n < MAX_TIE_SET && heap.size > 0 && heap.time[heap.peek()]! === t) slots[n++] = heap.pop();
    let pick = 0;
    if (n > 1) {
      // Candidates: the first event of each channel (a channel keeps FIFO order).
      const cand = this.tieCand;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const ch = heap.ch[slots[i]!]!;
        let seen = false;
        if (ch !== -1) {
          for (let j = 0; j < i; j++) {
            if (heap.ch[slots[j]!]! === ch) {
              seen = true;
              break;
            }
          }
        }
        if (!seen) cand[m++] = i;
      }
      if (m > 1) {
        pick = cand[this.chooser.choose(m)]!;
        this.tieChoices++;
      }
    }
    const chosen = slots[pick]!;
    slots.copyWithin(pick, pick + 1, n);
    this.tieN = n - 1;
    return chosen;
  }

  /** Events waiting to run (heap plus tie buffer). */
  private hasNext(): boolean {
    return this.tieN > 0 || this.heap.size > 0;
  }

  /** Time of the next event; only when hasNext(). */
  private nextTime(): number {
    return this.tieN > 0 ? this.heap.time[this.tieSlots[0]!]! : this.heap.time[this.heap.peek()]!;
  }

  /** Run until the queue drains, a limit is reached, or `stop()` is called. */
  run(limits: Partial<Limits> = {}): RunResult {
    const maxEvents = limits.maxEvents ?? this.limits.maxEvents;
    const maxTime = Math.min(limits.maxTimeNs ?? this.limits.maxTimeNs, TIME_HORIZON_NS);
    const heap = this.heap;
    const handlers = this.handlers;
    const payloads = this.payloads;
    this.stopped = false;
    this.stopMessage = undefined;
    setAssertContext(this);
    let reason: StopReason = 'drained';
    try {
      while (this.hasNext()) {
        if (this.events >= maxEvents) {
          reason = 'max-events';
          break;
        }
        if (this.nextTime() > maxTime) {
          if (maxTime === TIME_HORIZON_NS) {
            // Only steps parked past the horizon are left: the run ends at its last step.
            reason = 'time-horizon';
          } else {
            this.now = maxTime;
            reason = 'max-time';
          }
          break;
        }
        const slot = this.nextSlot();
        this.now = heap.time[slot]!;
        const kind = heap.kind[slot]!;
        const a = heap.a[slot]!;
        const b = heap.b[slot]!;
        const p = heap.p[slot]!;
        heap.release(slot);
        let payload: unknown;
        if (p !== -1) {
          payload = payloads[p];
          payloads[p] = undefined;
          this.freePayloads.push(p);
        }
        this.events++;
        handlers[kind]!(a, b, payload);
        if (this.stopped) {
          reason = 'stopped';
          break;
        }
      }
    } finally {
      setAssertContext(undefined);
    }
    return { reason, events: this.events, nowNs: this.now, message: this.stopMessage };
  }
}
