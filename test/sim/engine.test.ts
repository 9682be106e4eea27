import { describe, expect, it } from 'vitest';
import { Sim } from '../../src/sim/engine.js';
import { ReplayChooser, RandomChooser, Rng } from '../../src/sim/random.js';
import { InvariantError, assert } from '../../src/sim/assert.js';

function traceOf(seed: number, tieBreak: 'chooser' | 'seq' = 'chooser'): string[] {
  const sim = new Sim({ seed, tieBreak });
  const log: string[] = [];
  const k = sim.registerKind('step', (a, b) => {
    log.push(`${sim.now}:${a}:${b}`);
    if (b < 3) sim.after(a % 2 === 0 ? 10 : 0, k, a, b + 1);
  });
  for (let a = 0; a < 6; a++) sim.at(0, k, a, 0);
  sim.run();
  return log;
}

describe('Sim', () => {
  it('same seed gives the same event order; the order is a total order by (time, seq) with chooser ties', () => {
    expect(traceOf(7)).toEqual(traceOf(7));
  });

  it('different seeds order same-time events differently (the Chooser picks)', () => {
    const orders = new Set([1, 2, 3, 4, 5, 6].map((s) => traceOf(s).join(',')));
    expect(orders.size).toBeGreaterThan(1);
  });

  it("tieBreak 'seq' runs same-time events in insertion order", () => {
    const log = traceOf(1, 'seq');
    expect(log.slice(0, 6)).toEqual(['0:0:0', '0:1:0', '0:2:0', '0:3:0', '0:4:0', '0:5:0']);
  });

  it('a channel keeps FIFO order among same-time events', () => {
    for (let seed = 0; seed < 20; seed++) {
      const sim = new Sim({ seed });
      const got: number[] = [];
      const k = sim.registerKind('msg', (a) => got.push(a));
      for (let i = 0; i < 8; i++) sim.at(5, k, i, 0, undefined, 42);
      sim.at(5, k, 100);
      sim.run();
      expect(got.filter((x) => x < 100)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('limits stop the run cleanly: max-events and max-time', () => {
    const sim = new Sim({ seed: 1 });
    const k = sim.registerKind('loop', () => sim.after(5, k));
    sim.at(0, k);
    expect(sim.run({ maxEvents: 100 }).reason).toBe('max-events');
    const r = sim.run({ maxTimeNs: 10_000, maxEvents: 1e9 });
    expect(r.reason).toBe('max-time');
    expect(sim.now).toBe(10_000);
  });

  it('rejects non-integer and past times', () => {
    const sim = new Sim({ seed: 1 });
    const k = sim.registerKind('x', () => undefined);
    expect(() => sim.at(1.5, k)).toThrow(InvariantError);
    sim.at(10, k);
    sim.run();
    expect(() => sim.at(5, k)).toThrow(/past/);
  });

  it('an assertion inside a handler carries seed, time and event count', () => {
    const sim = new Sim({ seed: 99 });
    const k = sim.registerKind('boom', () => assert(false, 'invariant broken'));
    sim.at(1234, k);
    expect(() => sim.run()).toThrow(/invariant broken \(seed 99, t=1234 ns, event 1\)/);
  });

  it('stop() ends the run after the current event', () => {
    const sim = new Sim({ seed: 1 });
    let n = 0;
    const k = sim.registerKind('x', () => {
      n++;
      if (n === 3) sim.stop('enough');
      sim.after(1, k);
    });
    sim.at(0, k);
    const r = sim.run();
    expect(r).toMatchObject({ reason: 'stopped', message: 'enough', events: 3 });
  });

  it('a recorded run replays with ReplayChooser to the same order', () => {
    const run = (chooser: RandomChooser | ReplayChooser): string => {
      const sim = new Sim({ seed: 5, chooser });
      const log: number[] = [];
      const k = sim.registerKind('s', (a) => log.push(a));
      for (let i = 0; i < 10; i++) sim.at(0, k, i);
      sim.run();
      return log.join(',');
    };
    const rec = new RandomChooser(new Rng(5, 'scheduler'), true);
    const first = run(rec);
    expect(run(new ReplayChooser(rec.recorded!))).toBe(first);
  });
});
