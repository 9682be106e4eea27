/**
 * Assertions for programmer errors and broken invariants. A failure stops the run with the seed,
 * the virtual time and the event count, so the run can be replayed (TigerBeetle style).
 */

/** What the engine tells assertions about the run in progress. */
export interface AssertContext {
  readonly seed: number;
  readonly now: number;
  readonly events: number;
}

let context: AssertContext | undefined;

/** The engine registers itself while it runs; outside a run the context is absent. */
export function setAssertContext(ctx: AssertContext | undefined): void {
  context = ctx;
}

export class InvariantError extends Error {
  override readonly name = 'InvariantError';
  readonly seed: number | undefined;
  readonly timeNs: number | undefined;
  readonly events: number | undefined;
  constructor(message: string) {
    const ctx = context;
    super(ctx === undefined ? message : `${message} (seed ${ctx.seed}, t=${ctx.now} ns, event ${ctx.events})`);
    this.seed = ctx?.seed;
    this.timeNs = ctx?.now;
    this.events = ctx?.events;
  }
}

/** Stop the run if `cond` is false. Keep `msg` a constant string on hot paths. */
export function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new InvariantError(msg);
}

/** For `switch` exhaustiveness on values the type system says cannot occur. */
export function unreachable(value: never, what: string): never {
  throw new InvariantError(`unreachable ${what}: ${String(value)}`);
}
