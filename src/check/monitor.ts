/**
 * The online monitor: a TraceSink that runs the rule catalogue (rules/) over the event stream,
 * during a run or over a trace file (offline.ts feeds it the same way). It sees only trace events,
 * never model internals.
 *
 * The monitor itself holds no rule: for each event it lets the shared state (state.ts) validate
 * the ids and work out the facts rules share, calls the checks subscribed to the event's kind
 * (one array per kind, built once), then lets the state take the event in. Checks on what an
 * operation left behind (flush, discard, remove) run at the end of the virtual instant, so the
 * order of events inside one instant does not matter. It records which rules were exercised and
 * the violations, with the triggering event; several violations found on one event are listed in
 * catalogue order.
 */
import { TRACE_KIND_COUNT, ridString } from '../trace/events.js';
import type { TraceSink } from '../trace/tracer.js';
import { formatJsonlEvent } from '../trace/jsonl.js';
import type { MonitorMode, MonitorOptions } from './options.js';
import { RULES, RULE_DEFS, type RuleCheck, type Verdict } from './rules/index.js';
import type { ViolationSubject } from './rules/rule.js';
import { CheckState, type Balance, type Deferrable } from './state.js';

export type { MonitorMode, MonitorOptions } from './options.js';
export { LATE_IGNORED, type Balance } from './state.js';

export interface Violation {
  readonly rule: string;
  readonly time_ns: number;
  readonly detail: string;
  /** The triggering event as canonical JSONL, when there is one. */
  readonly events?: string;
  /** Line of the triggering event in an offline trace. */
  readonly line?: number;
  /** Ordinal (1-based) of the event being processed when the rule broke: the triggering event
   * when `events` is set, else the event whose instant's deferred or end-of-run check found it
   * (the counterexample's slice ends there). */
  readonly seq?: number;
  /** What a check without a triggering event was about (deferred and end-of-run checks). */
  readonly subject?: ViolationSubject;
}

export type { ViolationSubject } from './rules/rule.js';

export interface LatencyStats {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const NR = RULES.length;

/** One rule's handle into the monitor (its verdicts land in the monitor's tables). */
class RuleVerdict implements Verdict {
  check: RuleCheck | undefined;
  constructor(
    private readonly m: Monitor,
    private readonly st: CheckState,
    private readonly rule: number,
  ) {}
  mark(): void {
    this.m.exercised[this.rule] = 1;
  }
  violate(detail: string, withEvent = true, subject?: ViolationSubject): void {
    this.m.record(this.rule, detail, withEvent, subject);
  }
  defer(kind: number, a: number, b: number): void {
    const c = this.check;
    if (c?.deferred === undefined) throw new Error(`rule ${RULES[this.rule]!.id} defers a check but has no deferred()`);
    this.st.defer(c as Deferrable, kind, a, b);
  }
}

export class Monitor implements TraceSink {
  readonly mode: MonitorMode;
  private readonly maxViolations: number;
  private readonly st: CheckState;
  /** Checks subscribed to each event kind, in catalogue order. */
  private readonly subs: RuleCheck[][] = [];
  private readonly finishers: RuleCheck[] = [];

  private readonly stored: Violation[] = [];
  private total = 0;
  private readonly perRule = new Float64Array(NR);
  /** Rules some event tested (1), by catalogue index. */
  readonly exercised = new Uint8Array(NR);
  /** Line of the event being processed (offline). */
  line: number | undefined;
  private cur: [number, number, number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0, 0, 0];
  private finished = false;

  constructor(opts: MonitorOptions) {
    this.mode = opts.mode;
    this.maxViolations = opts.maxViolations ?? 1000;
    this.st = new CheckState(opts);
    for (let k = 0; k < TRACE_KIND_COUNT; k++) this.subs.push([]);
    if (opts.mode === 'off') return;
    for (let i = 0; i < NR; i++) {
      const def = RULE_DEFS[i]!;
      // A cheap monitor runs the cheap rules; host-only inputs cannot test device-side rules.
      if (def.mode === 'full' && !this.st.full) continue;
      if (def.deviceOnly === true && this.st.hostOnly) continue;
      const verdict = new RuleVerdict(this, this.st, i);
      const check = def.check(this.st, verdict);
      verdict.check = check;
      for (const k of def.on) this.subs[k]!.push(check);
      if (check.finish !== undefined) {
        this.finishers.push(check);
        this.finisherIsLiveness.push(def.id.startsWith('LIVENESS.'));
      }
    }
  }

  /** Per finisher: a liveness rule (what must have happened by the end of a run). */
  private readonly finisherIsLiveness: boolean[] = [];
  /**
   * The run was stopped before it drained (--until-ns, an event or time limit): what had not
   * happened yet may still have been going to — liveness rules are not judged at finish().
   */
  private cutShort = false;
  stoppedEarly(): void {
    this.cutShort = true;
  }
  /** Whether finish() judged the liveness rules (false after stoppedEarly()). */
  get livenessJudged(): boolean {
    return !this.cutShort;
  }

  // -------------------------------------------------------------------------------------------
  // Results

  /** Violations kept (at most maxViolations), in the order found. */
  violations(): readonly Violation[] {
    return this.stored;
  }

  /** All violations found, including those not stored. */
  violationCount(): number {
    return this.total;
  }

  /** Violations per rule ID (only rules with at least one). */
  violationsByRule(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < NR; i++) if (this.perRule[i]! > 0) out[RULES[i]!.id] = this.perRule[i]!;
    return out;
  }

  /** Rules that some event tested (whether or not they held), in catalogue order. */
  rulesExercised(): string[] {
    const out: string[] = [];
    for (let i = 0; i < NR; i++) if (this.exercised[i] === 1) out.push(RULES[i]!.id);
    return out;
  }

  /** HOST.CONSERVATION numbers: sent = answered + autoAnswered + dropped + lostByReset + outstanding + inTransit. */
  balance(): Balance {
    return this.st.balance();
  }

  /** Host latency: arrival of a group's L=1 request at the IOMMU → its response (software or hardware). */
  latency(): LatencyStats {
    const h = this.st.hist;
    const count = h.totalCount;
    if (count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    return {
      count,
      min: h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue,
      mean: h.mean,
      // HDR buckets round up: never print a percentile above the maximum actually recorded.
      p50: Math.min(h.getValueAtPercentile(50), h.maxValue),
      p90: Math.min(h.getValueAtPercentile(90), h.maxValue),
      p99: Math.min(h.getValueAtPercentile(99), h.maxValue),
      max: h.maxValue,
    };
  }

  /**
   * A violation text as a user reads it: devices by requester ID (bb:dd.f) rather than the
   * checker's internal device number, when the RID is known (scenario hints, ftrace input). Only
   * stored violations are rewritten, so the hot path builds nothing.
   */
  private named(detail: string): string {
    const rid = this.st.opts.deviceRid;
    if (rid === undefined) return detail;
    return detail.replace(/\bdevice (\d+)\b/g, (all, n: string) => {
      const r = rid(Number(n));
      return r === undefined ? all : `device ${ridString(r)}`;
    });
  }

  /** A violation of rule (catalogue index); the triggering event is attached when `withEvent`. */
  record(rule: number, detail: string, withEvent: boolean, subject?: ViolationSubject): void {
    this.exercised[rule] = 1;
    this.total++;
    this.perRule[rule]!++;
    if (this.stored.length >= this.maxViolations) return;
    const c = this.cur;
    const v: { rule: string; time_ns: number; detail: string; events?: string; line?: number; seq: number; subject?: ViolationSubject } = {
      rule: RULES[rule]!.id,
      time_ns: this.st.now,
      detail: this.named(detail),
      seq: this.st.seq,
    };
    if (subject !== undefined) v.subject = subject;
    if (withEvent) v.events = formatJsonlEvent(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    if (withEvent && this.line !== undefined) v.line = this.line;
    this.stored.push(v);
  }

  // -------------------------------------------------------------------------------------------
  // The event stream

  onEvent(t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    if (this.mode === 'off') return;
    const st = this.st;
    if (st.deferredDue(t)) st.runDeferred();
    st.now = t;
    st.seq++;
    const c = this.cur;
    c[0] = t;
    c[1] = kind;
    c[2] = f0;
    c[3] = f1;
    c[4] = f2;
    c[5] = f3;
    c[6] = f4;
    c[7] = f5;
    st.pre(kind, f0, f1, f2, f3, f4, f5);
    const subs = this.subs[kind];
    if (subs !== undefined) for (let i = 0; i < subs.length; i++) subs[i]!.onEvent(kind, f0, f1, f2, f3, f4, f5);
    st.apply(kind, f0, f1, f2, f3, f4, f5);
  }

  /** End of run: deferred checks, then each rule's end-of-run check (liveness, conservation, owed responses). */
  finish(t: number): void {
    if (this.mode === 'off' || this.finished) return;
    this.finished = true;
    const st = this.st;
    st.runDeferred();
    st.now = Math.max(st.now, t);
    for (let i = 0; i < this.finishers.length; i++) if (!(this.cutShort && this.finisherIsLiveness[i]!)) this.finishers[i]!.finish!();
  }
}
