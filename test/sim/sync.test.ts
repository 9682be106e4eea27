import { describe, expect, it } from 'vitest';
import { Sim } from '../../src/sim/engine.js';
import { Latency } from '../../src/sim/latency.js';
import { Rng } from '../../src/sim/random.js';
import { Mutex, Workqueue, type WorkItem } from '../../src/sim/sync.js';

describe('Mutex', () => {
  it('a contended lock queues the waiter and hands the lock over on unlock', () => {
    const sim = new Sim({ seed: 1 });
    const got: string[] = [];
    const m = new Mutex(sim, 'm');
    const k = sim.registerKind('cont', (a) => {
      got.push(`actor ${a} has lock at ${sim.now}`);
      expect(m.owner).toBe(a);
      m.unlock(a);
    });
    expect(m.lock(1, { kind: k, a: 1, b: 0 })).toBe(true);
    expect(m.lock(2, { kind: k, a: 2, b: 0 })).toBe(false);
    expect(m.contended).toBe(1);
    const u = sim.registerKind('unlock', () => m.unlock(1));
    sim.at(100, u);
    sim.run();
    expect(got).toEqual(['actor 2 has lock at 100']);
    expect(m.held).toBe(false);
  });
  it('unlock by a non-owner and recursive lock are programmer errors', () => {
    const sim = new Sim({ seed: 1 });
    const m = new Mutex(sim, 'm');
    m.lock(1, { kind: 0, a: 0, b: 0 });
    expect(() => m.unlock(2)).toThrow(/not the owner/);
    expect(() => m.lock(1, { kind: 0, a: 0, b: 0 })).toThrow(/recursive/);
  });
});

describe('Workqueue', () => {
  function setup(workers: number) {
    const sim = new Sim({ seed: 3 });
    const wq = new Workqueue(sim, 'iopf_queue/test', workers, new Latency({ dist: 'fixed', ns: 10 }), new Rng(3, 'wq'));
    const log: string[] = [];
    const doneKind = sim.registerKind('done', (w) => wq.done(w));
    const mk = (name: string, runNs: number): WorkItem => ({
      workQueued: false,
      workSeq: 0,
      runWork(w) {
        log.push(`${name} start ${sim.now}`);
        sim.after(runNs, doneKind, w);
      },
    });
    return { sim, wq, log, mk };
  }

  it('runs at most `workers` items at once (unbound, max_active)', () => {
    const { sim, wq, log, mk } = setup(2);
    for (const n of ['a', 'b', 'c']) wq.queueWork(mk(n, 100));
    sim.run();
    expect(log).toEqual(['a start 10', 'b start 10', 'c start 120']);
    expect(wq.busyHighWater).toBe(2);
  });

  it('queue_work of a pending item returns false', () => {
    const { wq, mk } = setup(1);
    const item = mk('a', 1);
    expect(wq.queueWork(item)).toBe(true);
    expect(wq.queueWork(item)).toBe(false);
  });

  it('flush_workqueue waits for items queued before it, not after', () => {
    const { sim, wq, log, mk } = setup(2);
    wq.queueWork(mk('a', 100));
    wq.queueWork(mk('b', 300));
    const flushed = sim.registerKind('flushed', () => log.push(`flush done ${sim.now}`));
    expect(wq.flush({ kind: flushed, a: 0, b: 0 })).toBe(false);
    wq.queueWork(mk('late', 1000));
    sim.run();
    expect(log).toContain('flush done 310');
    expect(log.indexOf('flush done 310')).toBeLessThan(log.length);
    expect(wq.flush({ kind: flushed, a: 0, b: 0 })).toBe(true);
  });
});
