import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scenarioSchema, type Scenario } from '../../src/scenario/schema.js';
import { HandlerType, PrFlag, RecvOutcome, TraceKind } from '../../src/trace/events.js';
import {
  nsToUsString,
  PERFETTO_PID_DEVICE_BASE,
  PERFETTO_PID_PRQ,
  PERFETTO_PID_WORKQUEUE,
  PerfettoWriter,
} from '../../src/trace/perfetto.js';

interface Ev {
  ph: string;
  ts?: number;
  pid?: number;
  tid?: number;
  name?: string;
  cat?: string;
  id?: number;
  s?: string;
  args?: Record<string, unknown>;
}

type Row = [number, number, number, number, number, number, number, number];

function scenario(workers = 2): Scenario {
  return scenarioSchema.parse({
    iommu: { name: 'dmar0' },
    iopf: { workers },
    devices: [
      { name: 'nic0', rid: '00:02.0' },
      { name: 'gpu1', rid: '3a:00.1' },
    ],
  });
}

function run(
  rows: readonly Row[],
  endT: number,
  s: Scenario = scenario(),
): { text: string; chunks: number; closed: number; events: Ev[] } {
  const parts: string[] = [];
  let closed = 0;
  const w = new PerfettoWriter(
    s,
    (c) => parts.push(c),
    () => closed++,
  );
  for (const r of rows) w.onEvent(...r);
  w.finish(endT);
  const text = parts.join('');
  const doc = JSON.parse(text) as { traceEvents: Ev[] };
  return { text, chunks: parts.length, closed, events: doc.traceEvents };
}

/** Per (pid, tid) track, or per async (cat, id), the timestamps must never go backwards. */
function expectTracksOrdered(events: readonly Ev[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    if (e.ph === 'M') continue;
    const key = e.ph === 'b' || e.ph === 'e' ? `async ${e.cat} ${e.id}` : `${e.pid}/${e.tid}`;
    const ts = e.ts!;
    expect(ts, `track ${key}`).toBeGreaterThanOrEqual(last.get(key) ?? 0);
    last.set(key, ts);
  }
}

const D0 = PERFETTO_PID_DEVICE_BASE;
const LAST = PrFlag.READ | PrFlag.PASID | PrFlag.LAST;
const NOT_LAST = PrFlag.READ | PrFlag.PASID;

/** One 2-request group (PASID 5, PRGI 3) on nic0, its handler run, a flush, a drop. */
const BASIC: Row[] = [
  [1500, TraceKind.PAGE_REQUEST, 0, 5, 3, 100, NOT_LAST, 0x1000],
  [1700, TraceKind.PAGE_REQUEST, 0, 5, 3, 101, LAST, 0x1001],
  [2000, TraceKind.QUEUE_WRITE, 0, 5, 3, 100, 0, 1],
  [2100, TraceKind.QUEUE_WRITE, 0, 5, 3, 101, 0, 2],
  [2200, TraceKind.QUEUE_DROP, 1, -1, 7, 200, 0, LAST],
  [3000, TraceKind.GROUP_FORM, 0, 5, 3, 9, 2, 0],
  [4000, TraceKind.HANDLER_START, 0, 5, 3, 9, HandlerType.SVA, 1],
  [9001, TraceKind.HANDLER_END, 0, 5, 3, 9, 0, 0],
  [9500, TraceKind.RESPONSE_SEND, 0, 5, 3, 9, 0, 0],
  [10_250, TraceKind.RESPONSE_RECV, 0, 5, 3, 0, 0, RecvOutcome.MATCHED],
  [20_000, TraceKind.FLUSH_BEGIN, 0, 5, -1, -1, 0, 0],
  [21_000, TraceKind.FLUSH_END, 0, 5, 0, 0, 0, 0],
];

describe('nsToUsString', () => {
  it('PERFETTO.TS_EXACT: integer ns print as exact decimal µs', () => {
    expect(nsToUsString(1500)).toBe('1.5');
    expect(nsToUsString(7)).toBe('0.007');
    expect(nsToUsString(2000)).toBe('2');
    expect(nsToUsString(10_250)).toBe('10.25');
    expect(nsToUsString(123_456_789_012_345)).toBe('123456789012.345');
    expect(() => nsToUsString(1.5)).toThrow(RangeError);
    expect(() => nsToUsString(-1)).toThrow(RangeError);
  });

  it('PERFETTO.TS_ROUNDTRIP: the decimal string is the ns value divided by 1000, digit for digit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (t) => {
        const s = nsToUsString(t);
        const [int, frac = ''] = s.split('.');
        expect(frac.length).toBeLessThanOrEqual(3);
        expect(frac.endsWith('0')).toBe(false);
        expect(BigInt(int!) * 1000n + BigInt(frac.padEnd(3, '0'))).toBe(BigInt(t));
      }),
    );
  });
});

describe('PerfettoWriter', () => {
  it('PERFETTO.JSON_VALID: the output is one JSON object with traceEvents, closed once', () => {
    const { text, closed, events } = run(BASIC, 30_000);
    expect(text.startsWith('{"traceEvents":[')).toBe(true);
    expect(text.trimEnd().endsWith(']}')).toBe(true);
    // Perfetto reads "displayTimeUnit":"ns" as the unit of ts, which would break µs timestamps.
    expect(text).not.toContain('displayTimeUnit');
    expect(closed).toBe(1);
    expect(events.length).toBeGreaterThan(10);
  });

  it('PERFETTO.METADATA: processes for each device, the PRQ and the workqueue; PASID and worker threads', () => {
    const { events } = run(BASIC, 30_000);
    const meta = events.filter((e) => e.ph === 'M');
    const procName = (pid: number) =>
      meta.find((e) => e.name === 'process_name' && e.pid === pid)?.args?.name;
    const threadName = (pid: number, tid: number) =>
      meta.find((e) => e.name === 'thread_name' && e.pid === pid && e.tid === tid)?.args?.name;
    expect(procName(D0)).toBe('nic0 (rid 00:02.0)');
    expect(procName(D0 + 1)).toBe('gpu1 (rid 3a:00.1)');
    expect(procName(PERFETTO_PID_PRQ)).toBe('dmar0 PRQ');
    expect(procName(PERFETTO_PID_WORKQUEUE)).toBe('iopf_queue/dmar0');
    expect(threadName(PERFETTO_PID_WORKQUEUE, 1)).toBe('worker 1');
    expect(threadName(PERFETTO_PID_WORKQUEUE, 2)).toBe('worker 2');
    expect(threadName(PERFETTO_PID_WORKQUEUE, 3)).toBeUndefined();
    expect(threadName(D0, 6)).toBe('PASID 0x5');
    // Every thread is named once only.
    const keys = meta.filter((e) => e.name === 'thread_name').map((e) => `${e.pid}/${e.tid}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('PERFETTO.GROUP_SLICE: a group is one async slice from its first page request to response_recv', () => {
    const { events } = run(BASIC, 30_000);
    const b = events.filter((e) => e.ph === 'b');
    const e = events.filter((x) => x.ph === 'e');
    expect(b).toHaveLength(1);
    expect(e).toHaveLength(1);
    expect(b[0]).toMatchObject({ ts: 1.5, pid: D0, tid: 6, cat: 'prg', id: 3, name: 'PRG PASID 0x5' });
    expect(e[0]).toMatchObject({ ts: 10.25, pid: D0, tid: 6, cat: 'prg', id: 3, name: 'PRG PASID 0x5' });
    expect(e[0]!.args).toMatchObject({ requests: 2, code: 0, outcome: 'matched' });
  });

  it('PERFETTO.HANDLER_SLICE: a handler run is a B/E slice on a worker lane of the workqueue', () => {
    const { events } = run(BASIC, 30_000);
    const hs = events.filter((e) => e.pid === PERFETTO_PID_WORKQUEUE && (e.ph === 'B' || e.ph === 'E'));
    expect(hs.map((e) => [e.ph, e.ts, e.tid, e.name])).toEqual([
      ['B', 4, 1, 'sva'],
      ['E', 9.001, 1, 'sva'],
    ]);
  });

  it('PERFETTO.FLUSH_SLICE: a flush is a B/E slice on the device PASID track', () => {
    const { events } = run(BASIC, 30_000);
    const fs = events.filter((e) => e.name === 'flush');
    expect(fs.map((e) => [e.ph, e.ts, e.pid, e.tid])).toEqual([
      ['B', 20, D0, 6],
      ['E', 21, D0, 6],
    ]);
  });

  it('PERFETTO.COUNTERS: PRQ depth at each queue write; device credits up per request, down by the group at the response', () => {
    const { events } = run(BASIC, 30_000);
    const depth = events.filter((e) => e.ph === 'C' && e.name === 'PRQ depth');
    expect(depth.map((e) => [e.ts, e.pid, e.args?.entries])).toEqual([
      [2, PERFETTO_PID_PRQ, 1],
      [2.1, PERFETTO_PID_PRQ, 2],
    ]);
    const credits = events.filter((e) => e.ph === 'C' && e.name === 'credits');
    expect(credits.map((e) => [e.ts, e.pid, e.args?.outstanding])).toEqual([
      [1.5, D0, 1],
      [1.7, D0, 2],
      [10.25, D0, 0],
    ]);
  });

  it('PERFETTO.INSTANTS: a queue drop is an instant on the PRQ track', () => {
    const { events } = run(BASIC, 30_000);
    const drops = events.filter((e) => e.ph === 'i' && e.name === 'queue_drop');
    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatchObject({
      ts: 2.2,
      pid: PERFETTO_PID_PRQ,
      s: 't',
      args: { dev: 1, pasid: -1, prgi: 7, req: 200 },
    });
  });

  it('PERFETTO.TRACK_ORDER: events on each track are in non-decreasing ts', () => {
    expectTracksOrdered(run(BASIC, 30_000).events);
  });

  it('PERFETTO.FINISH_CLOSES: open groups and handler runs end at the finish time', () => {
    const rows: Row[] = [
      [100, TraceKind.PAGE_REQUEST, 1, -1, 4, 1, PrFlag.READ | PrFlag.LAST, 7],
      [200, TraceKind.HANDLER_START, 1, -1, 4, 1, HandlerType.IOMMUFD, -1],
    ];
    const { events } = run(rows, 5000);
    const e = events.filter((x) => x.ph === 'e');
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({
      ts: 5,
      pid: D0 + 1,
      tid: 0,
      id: 512 + 4,
      name: 'PRG no PASID',
      args: { unfinished: 1 },
    });
    const E = events.filter((x) => x.ph === 'E');
    expect(E).toHaveLength(1);
    expect(E[0]).toMatchObject({ ts: 5, pid: PERFETTO_PID_WORKQUEUE, tid: 1, name: 'iommufd' });
  });

  it('PERFETTO.PRI_RESET: a PRI reset ends the open groups and clears the credits', () => {
    const rows: Row[] = [
      [100, TraceKind.PAGE_REQUEST, 0, 1, 0, 1, NOT_LAST, 7],
      [300, TraceKind.PRI_CONTROL, 0, 0, 0, 0, 2, 0],
    ];
    const { events } = run(rows, 400);
    expect(events.find((e) => e.ph === 'e')).toMatchObject({ ts: 0.3, args: { pri_reset: 1 } });
    expect(events.filter((e) => e.name === 'credits').map((e) => e.args?.outstanding)).toEqual([1, 0]);
    expect(events.some((e) => e.ph === 'i' && e.name === 'pri reset')).toBe(true);
  });

  it('PERFETTO.LANES: concurrent handlers take distinct lanes; beyond max_active an extra lane is named', () => {
    const rows: Row[] = [
      [10, TraceKind.HANDLER_START, 0, 1, 0, 1, HandlerType.SVA, 1],
      [20, TraceKind.HANDLER_START, 0, 1, 1, 2, HandlerType.SVA, 1],
      [30, TraceKind.HANDLER_END, 0, 1, 0, 1, 0, 0],
      [40, TraceKind.HANDLER_START, 0, 1, 2, 3, HandlerType.SVA, 1],
      [50, TraceKind.HANDLER_START, 0, 1, 3, 4, HandlerType.SVA, 1],
    ];
    const { events } = run(rows, 100);
    const begins = events.filter((e) => e.ph === 'B').map((e) => [e.ts, e.tid]);
    expect(begins).toEqual([
      [0.01, 1],
      [0.02, 2],
      [0.04, 1],
      [0.05, 3],
    ]);
    const extra = events.find(
      (e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === PERFETTO_PID_WORKQUEUE && e.tid === 3,
    );
    expect(extra?.args?.name).toBe('worker 3 (over max_active)');
  });

  it('PERFETTO.CHUNKED: a long run is written in ~64 KiB chunks and stays valid JSON', () => {
    const rows: Row[] = [];
    for (let i = 0; i < 3000; i++) {
      const t = 1000 * i;
      rows.push([t, TraceKind.PAGE_REQUEST, 0, 1, i % 512, i, LAST, i]);
      rows.push([t + 100, TraceKind.QUEUE_WRITE, 0, 1, i % 512, i, 0, 1]);
      rows.push([t + 500, TraceKind.RESPONSE_RECV, 0, 1, i % 512, 0, 0, RecvOutcome.MATCHED]);
    }
    const { chunks, text, events } = run(rows, 3_000_000);
    expect(chunks).toBeGreaterThan(2);
    expect(text.length / chunks).toBeLessThan(70_000);
    expect(events.filter((e) => e.ph === 'b')).toHaveLength(3000);
    expectTracksOrdered(events);
  });

  it('PERFETTO.BALANCED: for any event sequence, slices balance and tracks stay ordered', () => {
    const evArb = fc.oneof(
      fc.record({
        k: fc.constant(TraceKind.PAGE_REQUEST),
        dev: fc.integer({ min: 0, max: 1 }),
        pasid: fc.integer({ min: -1, max: 2 }),
        prgi: fc.integer({ min: 0, max: 3 }),
        last: fc.boolean(),
      }),
      fc.record({
        k: fc.constant(TraceKind.RESPONSE_RECV),
        dev: fc.integer({ min: 0, max: 1 }),
        pasid: fc.integer({ min: -1, max: 2 }),
        prgi: fc.integer({ min: 0, max: 3 }),
        last: fc.boolean(),
      }),
      fc.record({
        k: fc.constantFrom(TraceKind.HANDLER_START, TraceKind.HANDLER_END),
        dev: fc.constant(0),
        pasid: fc.constant(1),
        prgi: fc.integer({ min: 0, max: 5 }),
        last: fc.boolean(),
      }),
      fc.record({
        k: fc.constantFrom(
          TraceKind.FLUSH_BEGIN,
          TraceKind.FLUSH_END,
          TraceKind.DRAIN_BEGIN,
          TraceKind.DRAIN_END,
        ),
        dev: fc.integer({ min: 0, max: 1 }),
        pasid: fc.integer({ min: -1, max: 1 }),
        prgi: fc.constant(0),
        last: fc.boolean(),
      }),
      fc.record({
        k: fc.constant(TraceKind.PRI_CONTROL),
        dev: fc.integer({ min: 0, max: 1 }),
        pasid: fc.constant(0),
        prgi: fc.constant(0),
        last: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), evArb), { maxLength: 60 }), (seq) => {
        let t = 0;
        const rows: Row[] = seq.map(([dt, e]) => {
          t += dt;
          switch (e.k) {
            case TraceKind.PAGE_REQUEST:
              return [t, e.k, e.dev, e.pasid, e.prgi, 0, e.last ? LAST : NOT_LAST, 0];
            case TraceKind.RESPONSE_RECV:
              return [t, e.k, e.dev, e.pasid, e.prgi, 0, 0, e.last ? RecvOutcome.MATCHED : RecvOutcome.UPRGI];
            case TraceKind.HANDLER_START:
            case TraceKind.HANDLER_END:
              return [t, e.k, 0, 1, e.prgi, e.prgi, HandlerType.SVA, 0];
            case TraceKind.PRI_CONTROL:
              return [t, e.k, e.dev, 0, 0, 0, e.last ? 2 : 1, 0];
            case TraceKind.FLUSH_BEGIN:
            case TraceKind.FLUSH_END:
            case TraceKind.DRAIN_BEGIN:
            case TraceKind.DRAIN_END:
              return [t, e.k, e.dev, e.pasid, 0, 0, 0, 0];
          }
        });
        const { events } = run(rows, t + 1);
        expectTracksOrdered(events);
        // Async: every b has exactly one later e with the same (cat, id); no e without b.
        const open = new Map<number, string>();
        // Thread slices: every E closes the innermost B of its thread with the same name.
        const stacks = new Map<string, string[]>();
        for (const e of events) {
          if (e.ph === 'b') {
            expect(open.has(e.id!)).toBe(false);
            open.set(e.id!, e.name!);
          } else if (e.ph === 'e') {
            expect(open.get(e.id!)).toBe(e.name);
            open.delete(e.id!);
          } else if (e.ph === 'B') {
            const k = `${e.pid}/${e.tid}`;
            stacks.set(k, [...(stacks.get(k) ?? []), e.name!]);
          } else if (e.ph === 'E') {
            const st = stacks.get(`${e.pid}/${e.tid}`) ?? [];
            expect(st.pop()).toBe(e.name);
          }
        }
        expect(open.size).toBe(0);
        for (const st of stacks.values()) expect(st).toHaveLength(0);
        // Credits never go negative.
        for (const e of events)
          if (e.name === 'credits') expect(e.args?.outstanding as number).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 200 },
    );
  });
});
