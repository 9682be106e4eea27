/** The shape of a rule: its catalogue entry and its check, defined together (see index.ts). */
import type { TraceKindValue } from '../../trace/events.js';
import type { CheckState, Deferrable } from '../state.js';

export type RuleSide = 'device' | 'host' | 'kernel';
export type RuleMode = 'cheap' | 'full';

/** A rule as the catalogue lists it (`iopf list rules`). */
export interface Rule {
  readonly id: string;
  readonly side: RuleSide;
  /** Spec section or kernel function the rule comes from. */
  readonly source: string;
  /** One line. */
  readonly statement: string;
  /**
   * 'cheap' rules cost O(1) per event and keep only fixed-size counters (per device or per
   * (device, PRG index) slot); 'full' rules also track groups, partial faults and (device, PASID)
   * state in maps. A monitor in 'cheap' mode runs only the cheap ones.
   */
  readonly mode: RuleMode;
  /** Checkable from Linux ftrace text (intel_iommu:prq_report + qi_submit page_grp_resp: host-side events only). */
  readonly ftrace: boolean;
}

/** The group, request or slot a violation is about, in trace field values. */
export interface ViolationSubject {
  readonly dev?: number;
  readonly pasid?: number;
  readonly prgi?: number;
  readonly group?: number;
  readonly req?: number;
}

/** How a check reports: each rule gets its own verdict handle from the monitor. */
export interface Verdict {
  /** Some event tested the rule (whether or not it held). */
  mark(): void;
  /**
   * The rule broke; `withEvent` attaches the current event (false for end-of-instant/run checks,
   * which say what they were about in `subject`: the counterexample's slice starts from it).
   */
  violate(detail: string, withEvent?: boolean, subject?: ViolationSubject): void;
  /** Call the check's `deferred(kind, a, b, seq)` once the current virtual instant is over. */
  defer(kind: number, a: number, b: number): void;
}

/** One monitor's instance of a rule's check, with its private bookkeeping. */
export interface RuleCheck extends Partial<Deferrable> {
  /**
   * An event of a subscribed kind, seen before the shared state takes it in (fields as in
   * trace/events.ts KIND_INFO). Must not allocate unless it reports a violation.
   */
  onEvent(kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void;
  /** End of run (after the last deferred checks). */
  finish?(): void;
}

export interface RuleDef extends Rule {
  /** Event kinds the check is called for. */
  readonly on: readonly TraceKindValue[];
  /** Needs device-side events: not run on host-only inputs (Linux ftrace). */
  readonly deviceOnly?: boolean;
  /** Make the check for one monitor: `st` is read-only for it, `v` is how it reports. */
  readonly check: (st: CheckState, v: Verdict) => RuleCheck;
}

/** Identity, for type checking a rule definition in place. */
export function defineRule(def: RuleDef): RuleDef {
  return def;
}

// How violation texts name what they are about: in the field's words (device by RID — the monitor
// rewrites `device N` —, PASID, PRG index), never by the model's internal group or request numbers,
// which mean nothing to a reader of a bug report (issue 13 item 4).

/** `PASID p`, or `no PASID` for a request without a PASID prefix (-1 in the trace). */
export function pasidName(pasid: number): string {
  return pasid < 0 ? 'no PASID' : `PASID ${pasid}`;
}

/** The page request group of (device, PASID, PRG index); AMD's grpid bit 9 (last) is not part of the index. */
export function groupName(dev: number, pasid: number, prgi: number): string {
  return `the group of device ${dev} ${pasidName(pasid)} PRG index ${prgi & 0x1ff}`;
}

/** A partial fault (an L=0 page request the core holds on its partial list). */
export function partialName(dev: number, pasid: number, prgi: number): string {
  return `the partial fault of device ${dev} ${pasidName(pasid)} PRG index ${prgi & 0x1ff}`;
}

/** A page request as the device sent it. */
export function requestName(dev: number, pasid: number, prgi: number): string {
  return `the page request of device ${dev} ${pasidName(pasid)} PRG index ${prgi & 0x1ff}`;
}
