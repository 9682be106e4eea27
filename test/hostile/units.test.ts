/**
 * The fixes behind issue 13 at unit level: the event heap's slot accounting, the engine's time
 * horizon, the checker's bounded per-id maps, replay mismatches as values, percentiles never above
 * the maximum.
 */
import { describe, expect, it } from 'vitest';
import { EventHeap } from '../../src/sim/heap.js';
import { Sim, TIME_HORIZON_NS } from '../../src/sim/engine.js';
import { PrefixChooser, ReplayChooser } from '../../src/sim/random.js';
import { DeviceIndexed, FifoMap } from '../../src/check/fifo-map.js';
import { Metrics, decodeHistogram, percentileAtMost } from '../../src/report/metrics.js';
import { Monitor } from '../../src/check/monitor.js';
import { TraceKind, PrFlag } from '../../src/trace/events.js';
import { parseJsonlText } from '../../src/trace/jsonl.js';
import { escapeText, formatPath, quote } from '../../src/scenario/diagnostics.js';

describe('engine', () => {
  it('HEAP.GROW_BY_FREE_SLOTS: slots popped but not yet released count as used when the heap grows', () => {
    const h = new EventHeap(16);
    for (let i = 0; i < 16; i++) h.push(0, i, i, 0, 0, -1);
    // Take 8 off without releasing them (the engine's same-time tie buffer does this).
    const held: number[] = [];
    for (let i = 0; i < 8; i++) held.push(h.pop());
    for (let i = 16; i < 40; i++) h.push(1, i, i, 0, 0, -1);
    expect(held.map((s) => h.kind[s])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const s of held) h.release(s);
    const kinds: number[] = [];
    while (h.size > 0) {
      const s = h.pop();
      kinds.push(h.kind[s]!);
      h.release(s);
    }
    expect(kinds).toEqual(Array.from({ length: 32 }, (_, i) => i + 8));
  });

  it('SIM.TIME_HORIZON: a step later than 2^52 ns never runs; the run ends at its last step with reason time-horizon', () => {
    const sim = new Sim({ seed: 1 });
    const ran: number[] = [];
    const k = sim.registerKind('t', (a) => {
      ran.push(a);
      if (a === 1) sim.after(2 ** 53 + 12345, k, 2);
      if (a === 3) sim.after(Infinity, k, 4);
    });
    sim.at(10, k, 1);
    sim.at(20, k, 3);
    const r = sim.run();
    expect(ran).toEqual([1, 3]);
    expect(r.reason).toBe('time-horizon');
    expect(r.nowNs).toBe(20);
    expect(TIME_HORIZON_NS).toBe(2 ** 52);
    // An explicit limit below the horizon keeps its own reason.
    const s2 = new Sim({ seed: 1 });
    const k2 = s2.registerKind('t', () => undefined);
    s2.at(100, k2);
    expect(s2.run({ maxTimeNs: 50 }).reason).toBe('max-time');
  });

  it('REPLAY.MISMATCH_IS_INPUT: an out-of-range recorded choice is kept as a mismatch, not an assertion', () => {
    const r = new ReplayChooser([1, 7, 0]);
    expect(r.choose(2)).toBe(1);
    expect(r.choose(3)).toBe(0);
    expect(r.mismatch).toEqual({ at: 1, choice: 7, n: 3 });
    const c = new ReplayChooser([5]);
    expect(c.chance(1, 2)).toBe(false);
    expect(c.mismatch).toEqual({ at: 0, choice: 5, n: 2 });
    const p = new PrefixChooser([4]);
    expect(p.choose(2)).toBe(0);
    expect(p.mismatch).toEqual({ at: 0, choice: 4, n: 2 });
  });
});

describe('checker state', () => {
  it('CHECK.FIFO_MAP: at most `limit` entries, oldest insertion forgotten first, deletes leave no debt', () => {
    const evicted: number[] = [];
    const m = new FifoMap<number>(4, (k) => evicted.push(k));
    for (let i = 0; i < 6; i++) m.set(i, i * 10);
    expect([...m.keys()]).toEqual([2, 3, 4, 5]);
    expect(evicted).toEqual([0, 1]);
    m.delete(3);
    m.set(6, 60);
    m.set(7, 70);
    expect([...m.keys()]).toEqual([4, 5, 6, 7]);
    expect(evicted).toEqual([0, 1, 2]);
    m.set(5, 55);
    expect(m.get(5)).toBe(55);
    // A million inserts into a full map stay O(1) each (no walk over deleted entries).
    const big = new FifoMap<number>(1 << 16);
    const t = performance.now();
    for (let i = 0; i < 1_000_000; i++) big.set(i, i);
    expect(big.size).toBe(1 << 16);
    expect(performance.now() - t).toBeLessThan(10_000);
  });

  it('CHECK.FIFO_MAP: a long-lived entry survives any number of short-lived ones (deleted entries do not count against the bound)', () => {
    // A group user space holds while the device forms and answers thousands of others (generated
    // seed 1174 under reference: the checker forgot it and called its answer a second one).
    const evicted: number[] = [];
    const m = new FifoMap<number>(8, (k) => evicted.push(k));
    m.set(-1, 0);
    for (let i = 0; i < 10_000; i++) {
      m.set(i, i);
      m.delete(i);
    }
    expect(m.get(-1)).toBe(0);
    expect(evicted).toEqual([]);
    // Live entries still obey the bound, oldest first.
    for (let i = 0; i < 8; i++) m.set(100 + i, i);
    expect(evicted).toEqual([-1]);
    expect(m.size).toBe(8);
  });

  it('CHECK.DEVICE_INDEXED: records are bounded per device and walked per device', () => {
    const forgotten: number[] = [];
    const d = new DeviceIndexed<{ dev: number }>(100, 3, (id) => forgotten.push(id));
    for (let i = 0; i < 5; i++) d.set(i, { dev: 0 });
    d.set(10, { dev: 1 });
    expect([...d.ofDevice(0)].map(([id]) => id)).toEqual([2, 3, 4]);
    expect([...d.ofDevice(1)].map(([id]) => id)).toEqual([10]);
    expect([...d.ofDevice(7)]).toEqual([]);
    expect(forgotten).toEqual([0, 1]);
    expect(d.size).toBe(4);
    d.delete(3);
    expect([...d.ofDevice(0)].map(([id]) => id)).toEqual([2, 4]);
  });
});

describe('small things a user saw (issue 13 item 4)', () => {
  it('PERCENTILE.AT_MOST_MAX: HDR-rounded percentiles are clamped to the recorded maximum', () => {
    const m = new Metrics();
    m.record('group_latency_ns', 130_000);
    const s = m.summary('group_latency_ns');
    expect(s.max).toBe(130_000);
    expect(s.p99).toBeLessThanOrEqual(s.max);
    expect(s.p50).toBeLessThanOrEqual(s.max);
    expect(percentileAtMost(m.hist.group_latency_ns, 99.99)).toBe(130_000);
    // The offline checker's latency figures too.
    const mon = new Monitor({ mode: 'full', inputs: 'host' });
    mon.onEvent(0, TraceKind.PAGE_REQUEST, 0, 1, 3, 1, PrFlag.READ | PrFlag.LAST | PrFlag.PASID, 5);
    mon.onEvent(130_000, TraceKind.RESPONSE_SEND, 0, 1, 3, -1, 0, 0);
    mon.finish(130_000);
    const l = mon.latency();
    expect(l.max).toBe(130_000);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(l.p90).toBeLessThanOrEqual(l.max);
  });

  it('HIST.DECODE_CHECKED: a histogram string from a file is checked before the library decodes it', () => {
    const m = new Metrics();
    m.record('sva_ns', 1234);
    const good = m.encode().sva_ns;
    expect(decodeHistogram(good).ok).toBe(true);
    for (const bad of ['', 'AAAA', '!!!', good.slice(0, 20), Buffer.from('x'.repeat(40)).toString('base64')]) {
      const d = decodeHistogram(bad);
      expect(d.ok, bad).toBe(false);
    }
    expect(m.mergeChecked({ sva_ns: 'AAAA' })).toMatch(/^sva_ns: /);
  });

  it('DIAG.ESCAPED: diagnostics quote and escape user text', () => {
    expect(escapeText('a\nb\u001b[1m\u202e\u2028')).toBe('a\\nb\\u001b[1m\\u202e\\u2028');
    expect(quote('x"y\\z')).toBe('"x\\"y\\\\z"');
    expect(quote('a'.repeat(100)).length).toBeLessThan(70);
    expect(formatPath(['devices', 0, 'a.b', 'x\ny', 'name'])).toBe('devices[0]["a.b"]["x\\ny"].name');
  });
});

describe('JSONL diagnostics stay one line', () => {
  it('FUZZ.JSONL.CR_IN_LINE: a malformed line holding a CR gets a one-line diagnostic (JSON.parse quotes the raw text; npm run fuzz seed 1192768254)', () => {
    const items = parseJsonlText('{"t":3,"ev":"ats",\r"prgi":,"req":1}\n{"t":4,\u001b"ev":}');
    expect(items).toHaveLength(2);
    for (const it of items) {
      expect(it.type).toBe('diagnostic');
      if (it.type === 'diagnostic') {
        expect(it.diagnostic.message).not.toMatch(/[\n\r]/);
        expect(it.diagnostic.message.includes('\u001b')).toBe(false);
      }
    }
  });
});
