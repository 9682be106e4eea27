/**
 * Writes a run as Chrome Trace Event Format JSON (`{"traceEvents":[...]}`) for ui.perfetto.dev and
 * chrome://tracing, streamed in chunks of about 64 KiB so a long run is never held in memory.
 *
 * Layout (see also the PERFETTO_* constants):
 * - one process per device, "<name> (rid bb:dd.f)", with one thread per PASID ("PASID 0x..",
 *   tid = pasid + 1; tid 0 = requests without PASID). Page request groups are async slices
 *   ('b'/'e', cat "prg", id = dev*512 + prgi) from the group's first page_request to the device's
 *   response_recv; Perfetto puts async slices on process tracks merged by name, so each slice is
 *   named after its PASID ("PRG PASID 0x..") and the groups of a PASID share one track (with lanes
 *   when groups overlap); chrome://tracing shows them under the PASID thread. Flushes and drains
 *   are 'B'/'E' slices on the PASID thread; the outstanding-requests counter ("credits") is a
 *   process counter.
 * - one process "<iommu> PRQ" for the hardware queue: "PRQ depth" counter at each queue_write,
 *   instants for drops, auto-responses and overflow.
 * - one process "iopf_queue/<iommu>" for the core's workqueue: handler runs are 'B'/'E' slices on
 *   worker lanes. A handler takes the lowest free lane; lanes 1..iopf.workers are "worker N". If
 *   more handlers run at once than max_active allows (a model bug), extra lanes named
 *   "worker N (over max_active)" appear rather than overlapping slices on one lane.
 *
 * Timestamps: `ts` is in microseconds, printed exactly from the integer ns (decimal point
 * inserted, never a float product). There is deliberately no "displayTimeUnit" key: Perfetto's
 * JSON importer reads "displayTimeUnit":"ns" as the unit of `ts` (JsonTracker::SetTimeUnit in
 * google/perfetto src/trace_processor/importers/json), which would shrink a µs trace 1000×, while
 * chrome://tracing always reads `ts` as µs; without the key both read µs.
 *
 * Process ids start at PERFETTO_PID_DEVICE_BASE, above every possible tid (pasid + 1 <= 2^20):
 * Perfetto creates a main thread with tid = pid for each process and names threads by tid alone
 * on 'M' events, so a pid equal to some tid could get another process's thread name.
 */
import type { Scenario } from '../scenario/schema.js';
import { HandlerType, KIND_INFO, PrFlag, RecvOutcome, TraceKind, kindFieldsJson, ridString } from './events.js';
import type { TraceSink } from './tracer.js';

/** pid of device `dev` is PERFETTO_PID_DEVICE_BASE + dev. */
export const PERFETTO_PID_DEVICE_BASE = 0x200000;
/** pid of the IOMMU hardware page request queue. */
export const PERFETTO_PID_PRQ = 0x300000;
/** pid of the iopf core workqueue. */
export const PERFETTO_PID_WORKQUEUE = 0x300001;
/** pid of the counterexample's process (a failing run's causal slice, one thread per lane). */
export const PERFETTO_PID_COUNTEREXAMPLE = 0x300002;
/** tid of the counterexample's violation marker. */
export const PERFETTO_TID_VIOLATION = 1;
/** cat of the counterexample's flow events (ph s/t/f, one chain id). */
export const PERFETTO_FLOW_CAT = 'counterexample';
/** tid of the PRQ's single thread. */
export const PERFETTO_TID_PRQ = 1;
/** tid of a device's track for requests without a PASID (PASID p has tid p + 1). */
export const PERFETTO_TID_NO_PASID = 0;

/** PRGI is 9 bits (PCIe Page Request Message), so dev*512+prgi names a group slot uniquely. */
const PRGI_SPAN = 512;
const CHUNK_CHARS = 1 << 16;

/** Integer ns as an exact decimal µs string: 1500 → "1.5", 7 → "0.007", 2000 → "2". */
export function nsToUsString(t: number): string {
  if (!Number.isSafeInteger(t) || t < 0)
    throw new RangeError(`perfetto: timestamp must be a non-negative integer ns, got ${t}`);
  const r = t % 1000;
  const q = (t - r) / 1000;
  if (r === 0) return `${q}`;
  if (r % 100 === 0) return `${q}.${r / 100}`;
  if (r % 10 === 0) return `${q}.${r < 100 ? '0' : ''}${r / 10}`;
  return `${q}.${r < 10 ? '00' : r < 100 ? '0' : ''}${r}`;
}

function pasidTid(pasid: number): number {
  return pasid < 0 ? PERFETTO_TID_NO_PASID : pasid + 1;
}

function pasidLabel(pasid: number): string {
  return pasid < 0 ? 'no PASID' : `PASID 0x${pasid.toString(16)}`;
}

/** `{"name":value,...}` of a kind's used fields, in KIND_INFO order. */
function kindArgs(kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): string {
  return `{${kindFieldsJson(kind, f0, f1, f2, f3, f4, f5).slice(1)}}`;
}

const OUTCOME_NAMES: Record<number, string> = {
  [RecvOutcome.MATCHED]: 'matched',
  [RecvOutcome.UPRGI]: 'uprgi',
  [RecvOutcome.IGNORED_RF]: 'ignored_rf',
  [RecvOutcome.PASID_FORM_ERROR]: 'pasid_form_error',
};
const PRI_OPS = ['enable', 'disable', 'reset'];

/**
 * A failing run's counterexample as the export needs it (structurally the report layer's
 * Counterexample, which lives above this layer): numbered steps on lanes, and the violation.
 */
export interface PerfettoFlowChain {
  rule: string;
  /** The violation, in the field's words. */
  detail: string;
  time_ns: number;
  steps: readonly { n: number; time_ns: number; lane: string; to?: string; text: string }[];
}

export interface PerfettoOptions {
  /**
   * finish() leaves the JSON open: the caller appends the counterexample (known only once the
   * run is over and explained) with close(chain). Without it finish() closes the file.
   */
  holdOpen?: boolean;
}

/** One page request group as the device sees it, from first request to response. */
interface OpenGroup {
  pasid: number;
  /** Requests sent so far (the credits the response gives back). */
  count: number;
  /** The L=1 request was sent: a further request with this PRGI starts a new group. */
  last: boolean;
}

/**
 * A TraceSink writing Chrome Trace Event JSON for the Perfetto UI through `write` in ~64 KiB
 * chunks; `finish()` closes still-open slices at the end time, terminates the JSON and calls
 * `close`.
 */
export class PerfettoWriter implements TraceSink {
  private buf: string[] = [];
  private chars = 0;
  private sep = '';
  private done = false;
  private lastT = 0;
  /** (pid, tid) pairs whose thread_name was written, as pid * 2^22 + tid. */
  private readonly namedThreads = new Set<number>();
  private readonly namedDevices = new Set<number>();
  /** dev*512+prgi → the open group. */
  private readonly groups = new Map<number, OpenGroup>();
  /** Outstanding page requests per device (the PRI credits in use). */
  private readonly credits = new Map<number, number>();
  /** group id → lane index (0-based; tid = lane + 1). */
  private readonly groupLane = new Map<number, number>();
  /** laneBusy[i]: lane i runs a handler. */
  private readonly laneBusy: boolean[] = [];
  /** (pid, tid) → names of the 'B' slices open on that thread, innermost last. */
  private readonly stacks = new Map<number, string[]>();
  private readonly workers: number;
  private readonly prqName: string;

  constructor(
    private readonly scenario: Scenario,
    private readonly write: (chunk: string) => void,
    private readonly close?: () => void,
    private readonly options: PerfettoOptions = {},
  ) {
    this.workers = scenario.iopf.workers;
    this.prqName = `${scenario.iommu.name} PRQ`;
    this.buf.push('{"traceEvents":[\n');
    const n = scenario.devices.length;
    for (let d = 0; d < n; d++) this.nameDevice(d);
    this.meta(PERFETTO_PID_PRQ, 0, 'process_name', this.prqName);
    this.meta(PERFETTO_PID_PRQ, 0, 'process_sort_index', n);
    this.nameThread(PERFETTO_PID_PRQ, PERFETTO_TID_PRQ, this.prqName);
    this.meta(PERFETTO_PID_WORKQUEUE, 0, 'process_name', `iopf_queue/${scenario.iommu.name}`);
    this.meta(PERFETTO_PID_WORKQUEUE, 0, 'process_sort_index', n + 1);
    for (let i = 0; i < this.workers; i++) {
      this.laneBusy.push(false);
      this.nameThread(PERFETTO_PID_WORKQUEUE, i + 1, `worker ${i + 1}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------------------------

  private push(ev: string): void {
    const s = this.sep + ev;
    this.sep = ',\n';
    this.buf.push(s);
    this.chars += s.length;
    if (this.chars >= CHUNK_CHARS) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    this.write(this.buf.join(''));
    this.buf = [];
    this.chars = 0;
  }

  /** Metadata at ts 0: Perfetto sorts by ts, so names are applied before any event creates a
   * thread with the same tid in another process. */
  private meta(pid: number, tid: number, name: string, value: string | number): void {
    const args = name.endsWith('sort_index')
      ? `{"sort_index":${value}}`
      : `{"name":${JSON.stringify(value)}}`;
    this.push(`{"ph":"M","ts":0,"pid":${pid},"tid":${tid},"name":"${name}","args":${args}}`);
  }

  private nameThread(pid: number, tid: number, name: string): void {
    const key = pid * 0x400000 + tid;
    if (this.namedThreads.has(key)) return;
    this.namedThreads.add(key);
    this.meta(pid, tid, 'thread_name', name);
  }

  private nameDevice(dev: number): void {
    if (this.namedDevices.has(dev)) return;
    this.namedDevices.add(dev);
    const d = this.scenario.devices[dev];
    const name = d === undefined ? `dev${dev}` : `${d.name} (rid ${ridString(d.rid)})`;
    const pid = PERFETTO_PID_DEVICE_BASE + dev;
    this.meta(pid, 0, 'process_name', name);
    this.meta(pid, 0, 'process_sort_index', dev);
  }

  /** The device's PASID thread, named on first use. */
  private devTrack(dev: number, pasid: number): string {
    this.nameDevice(dev);
    const pid = PERFETTO_PID_DEVICE_BASE + dev;
    const tid = pasidTid(pasid);
    this.nameThread(pid, tid, pasidLabel(pasid));
    return `"pid":${pid},"tid":${tid}`;
  }

  private instant(
    ts: string,
    track: string,
    scope: 't' | 'p' | 'g',
    cat: string,
    name: string,
    args: string,
  ): void {
    this.push(`{"ph":"i","ts":${ts},${track},"s":"${scope}","cat":"${cat}","name":"${name}","args":${args}}`);
  }

  private counter(ts: string, pid: number, tid: number, name: string, key: string, value: number): void {
    this.push(`{"ph":"C","ts":${ts},"pid":${pid},"tid":${tid},"name":"${name}","args":{"${key}":${value}}}`);
  }

  // -------------------------------------------------------------------------------------------
  // Page request groups (async slices) and credits
  // -------------------------------------------------------------------------------------------

  private groupName(pasid: number): string {
    return `PRG ${pasidLabel(pasid)}`;
  }

  private endGroup(ts: string, dev: number, key: number, g: OpenGroup, args: string): void {
    this.groups.delete(key);
    this.push(
      `{"ph":"e","ts":${ts},${this.devTrack(dev, g.pasid)},"cat":"prg","id":${key},"name":"${this.groupName(g.pasid)}","args":${args}}`,
    );
  }

  private setCredits(ts: string, dev: number, n: number): void {
    this.credits.set(dev, n);
    this.nameDevice(dev);
    this.counter(ts, PERFETTO_PID_DEVICE_BASE + dev, PERFETTO_TID_NO_PASID, 'credits', 'outstanding', n);
  }

  private pageRequest(
    ts: string,
    dev: number,
    pasid: number,
    prgi: number,
    req: number,
    flags: number,
    page: number,
  ): void {
    const key = dev * PRGI_SPAN + prgi;
    let g = this.groups.get(key);
    if (g !== undefined && g.last) {
      // The device reused a PRGI whose group was complete but never answered (PRI.RESP.UPRGI
      // territory): close the old slice here so the new group gets its own.
      this.endGroup(ts, dev, key, g, '{"superseded":1}');
      g = undefined;
    }
    if (g === undefined) {
      g = { pasid, count: 0, last: false };
      this.groups.set(key, g);
      this.push(
        `{"ph":"b","ts":${ts},${this.devTrack(dev, pasid)},"cat":"prg","id":${key},"name":"${this.groupName(pasid)}",` +
          `"args":{"dev":${dev},"prgi":${prgi},"first_req":${req},"page":${page}}}`,
      );
    }
    g.count++;
    if ((flags & PrFlag.LAST) !== 0) g.last = true;
    this.setCredits(ts, dev, (this.credits.get(dev) ?? 0) + 1);
  }

  private responseRecv(
    ts: string,
    dev: number,
    pasid: number,
    prgi: number,
    code: number,
    outcome: number,
  ): void {
    const key = dev * PRGI_SPAN + prgi;
    const g = this.groups.get(key);
    // The device frees the group's credits on a matched response, and also when the response's
    // PASID form is wrong (PciFunction.onResponse ends the group in both cases).
    const ends = outcome === RecvOutcome.MATCHED || outcome === RecvOutcome.PASID_FORM_ERROR;
    const oname = OUTCOME_NAMES[outcome] ?? `${outcome}`;
    if (g === undefined || !ends) {
      this.instant(
        ts,
        this.devTrack(dev, g?.pasid ?? pasid),
        't',
        'prg',
        'response_recv',
        `{"prgi":${prgi},"pasid":${pasid},"code":${code},"outcome":"${oname}"}`,
      );
      return;
    }
    this.endGroup(ts, dev, key, g, `{"requests":${g.count},"code":${code},"outcome":"${oname}"}`);
    this.setCredits(ts, dev, Math.max(0, (this.credits.get(dev) ?? 0) - g.count));
  }

  /** PRI Reset drops every outstanding request and clears the credits (PRI.RESET.CLEARS). */
  private priReset(ts: string, dev: number): void {
    for (let prgi = 0; prgi < PRGI_SPAN; prgi++) {
      const key = dev * PRGI_SPAN + prgi;
      const g = this.groups.get(key);
      if (g !== undefined) this.endGroup(ts, dev, key, g, '{"pri_reset":1}');
    }
    if ((this.credits.get(dev) ?? 0) !== 0) this.setCredits(ts, dev, 0);
  }

  // -------------------------------------------------------------------------------------------
  // Thread slices: flush / drain (device PASID threads), handlers (worker lanes)
  // -------------------------------------------------------------------------------------------

  private begin(ts: string, pid: number, tid: number, cat: string, name: string, args: string): void {
    const k = pid * 0x400000 + tid;
    let st = this.stacks.get(k);
    if (st === undefined) {
      st = [];
      this.stacks.set(k, st);
    }
    st.push(name);
    this.push(
      `{"ph":"B","ts":${ts},"pid":${pid},"tid":${tid},"cat":"${cat}","name":"${name}","args":${args}}`,
    );
  }

  /** Ends `name` if it is the innermost open slice of the thread; otherwise (an end without a
   * begin, or crossing slices) writes an instant, since 'E' always closes the innermost slice. */
  private end(ts: string, pid: number, tid: number, cat: string, name: string, args: string): void {
    const st = this.stacks.get(pid * 0x400000 + tid);
    if (st !== undefined && st[st.length - 1] === name) {
      st.pop();
      this.push(
        `{"ph":"E","ts":${ts},"pid":${pid},"tid":${tid},"cat":"${cat}","name":"${name}","args":${args}}`,
      );
      return;
    }
    this.instant(ts, `"pid":${pid},"tid":${tid}`, 't', cat, `${name} end (unpaired)`, args);
  }

  private handlerStart(ts: string, group: number, handler: number, args: string): void {
    let lane = this.laneBusy.indexOf(false);
    if (lane < 0) {
      lane = this.laneBusy.length;
      this.laneBusy.push(false);
      this.nameThread(PERFETTO_PID_WORKQUEUE, lane + 1, `worker ${lane + 1} (over max_active)`);
    }
    this.laneBusy[lane] = true;
    this.groupLane.set(group, lane);
    const name =
      handler === HandlerType.SVA
        ? 'sva'
        : handler === HandlerType.IOMMUFD
          ? 'iommufd'
          : `handler ${handler}`;
    this.begin(ts, PERFETTO_PID_WORKQUEUE, lane + 1, 'iopf', name, args);
  }

  private handlerEnd(ts: string, group: number, args: string): void {
    const lane = this.groupLane.get(group);
    if (lane === undefined) {
      this.instant(
        ts,
        `"pid":${PERFETTO_PID_WORKQUEUE},"tid":0`,
        'p',
        'iopf',
        'handler_end (no start)',
        args,
      );
      return;
    }
    this.groupLane.delete(group);
    this.laneBusy[lane] = false;
    const st = this.stacks.get(PERFETTO_PID_WORKQUEUE * 0x400000 + lane + 1);
    this.end(ts, PERFETTO_PID_WORKQUEUE, lane + 1, 'iopf', st?.[st.length - 1] ?? 'handler', args);
  }

  // -------------------------------------------------------------------------------------------
  // TraceSink
  // -------------------------------------------------------------------------------------------

  onEvent(
    t: number,
    kind: number,
    f0: number,
    f1: number,
    f2: number,
    f3: number,
    f4: number,
    f5: number,
  ): void {
    if (this.done) throw new Error('PerfettoWriter: event after finish()');
    const ts = nsToUsString(t);
    this.lastT = t;
    switch (kind) {
      case TraceKind.PAGE_REQUEST:
        this.pageRequest(ts, f0, f1, f2, f3, f4, f5);
        break;
      case TraceKind.RESPONSE_RECV:
        this.responseRecv(ts, f0, f1, f2, f4, f5);
        break;
      case TraceKind.QUEUE_WRITE: {
        const name = f4 === 0 ? 'PRQ depth' : `PRQ${f4} depth`;
        this.counter(ts, PERFETTO_PID_PRQ, PERFETTO_TID_PRQ, name, 'entries', f5);
        break;
      }
      case TraceKind.QUEUE_DROP:
      case TraceKind.AUTO_RESPONSE:
      case TraceKind.QUEUE_OVERFLOW:
        this.instant(
          ts,
          `"pid":${PERFETTO_PID_PRQ},"tid":${PERFETTO_TID_PRQ}`,
          't',
          'prq',
          KIND_INFO[kind]!.name,
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      case TraceKind.HANDLER_START:
        this.handlerStart(ts, f3, f4, kindArgs(kind, f0, f1, f2, f3, f4, f5));
        break;
      case TraceKind.HANDLER_END:
        this.handlerEnd(ts, f3, kindArgs(kind, f0, f1, f2, f3, f4, f5));
        break;
      case TraceKind.FLUSH_BEGIN:
      case TraceKind.DRAIN_BEGIN:
        this.devTrack(f0, f1);
        this.begin(
          ts,
          PERFETTO_PID_DEVICE_BASE + f0,
          pasidTid(f1),
          'iopf',
          kind === TraceKind.FLUSH_BEGIN ? 'flush' : 'drain',
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      case TraceKind.FLUSH_END:
      case TraceKind.DRAIN_END:
        this.devTrack(f0, f1);
        this.end(
          ts,
          PERFETTO_PID_DEVICE_BASE + f0,
          pasidTid(f1),
          'iopf',
          kind === TraceKind.FLUSH_END ? 'flush' : 'drain',
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      case TraceKind.STOP_MARKER:
      case TraceKind.BIND:
      case TraceKind.UNBIND:
        this.instant(
          ts,
          this.devTrack(f0, f1),
          't',
          'dev',
          KIND_INFO[kind]!.name,
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      case TraceKind.CREDIT_STALL:
      case TraceKind.DEVICE_ADD:
      case TraceKind.DEVICE_REMOVE:
        this.nameDevice(f0);
        this.instant(
          ts,
          `"pid":${PERFETTO_PID_DEVICE_BASE + f0},"tid":0`,
          'p',
          'dev',
          KIND_INFO[kind]!.name,
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      case TraceKind.PRI_CONTROL: {
        this.nameDevice(f0);
        const op = PRI_OPS[f4] ?? `op ${f4}`;
        this.instant(
          ts,
          `"pid":${PERFETTO_PID_DEVICE_BASE + f0},"tid":0`,
          'p',
          'dev',
          `pri ${op}`,
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        if (f4 === 2) this.priReset(ts, f0);
        break;
      }
      case TraceKind.DISCARD_PARTIAL:
        this.instant(
          ts,
          `"pid":${PERFETTO_PID_WORKQUEUE},"tid":0`,
          'p',
          'iopf',
          KIND_INFO[kind]!.name,
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      case TraceKind.PASID_FREE:
      case TraceKind.MM_EXIT:
        this.instant(
          ts,
          `"pid":${PERFETTO_PID_WORKQUEUE},"tid":0`,
          'g',
          'mm',
          KIND_INFO[kind]!.name,
          kindArgs(kind, f0, f1, f2, f3, f4, f5),
        );
        break;
      default:
        // ATS lookups, DMA completions and the core's internal steps are left out: they are the
        // bulk of a trace and the slices above already show where time goes.
        return;
    }
  }

  finish(t?: number): void {
    if (this.done) return;
    this.done = true;
    // Still-open slices end at the end of the run (a group never answered, a handler still
    // running), so the UI does not stretch them to the end of the last chunk.
    const ts = nsToUsString(Math.max(t ?? 0, this.lastT));
    for (const [key, g] of this.groups) {
      const dev = Math.floor(key / PRGI_SPAN);
      this.push(
        `{"ph":"e","ts":${ts},${this.devTrack(dev, g.pasid)},"cat":"prg","id":${key},"name":"${this.groupName(g.pasid)}","args":{"unfinished":1,"requests":${g.count}}}`,
      );
    }
    this.groups.clear();
    for (const [k, st] of this.stacks) {
      const pid = Math.floor(k / 0x400000);
      const tid = k - pid * 0x400000;
      while (st.length > 0) {
        const name = st.pop()!;
        this.push(`{"ph":"E","ts":${ts},"pid":${pid},"tid":${tid},"name":"${name}","args":{"unfinished":1}}`);
      }
    }
    if (this.options.holdOpen !== true) this.terminate();
    else this.flush();
  }

  private terminated = false;

  private terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.buf.push('\n]}\n');
    this.flush();
    this.close?.();
  }

  /**
   * Close a file held open (options.holdOpen), with the counterexample when the run failed: a
   * process "counterexample: RULE" with one thread per lane, each step a 1 ns slice "n. text" on
   * its lane, a flow (ph s → t … → f, one id, cat "counterexample") through the steps in order,
   * ending at an instant marker named after the rule (args.violation = the violation text) on the
   * "violation" thread at the violation's time. Flow ends bind to their enclosing slice ("bp":"e";
   * Perfetto imports a thread instant as a zero-length slice), so each arrow joins two steps.
   */
  closeWith(chain?: PerfettoFlowChain): void {
    if (!this.done) this.finish();
    if (this.terminated) return;
    if (chain !== undefined && chain.steps.length > 0) this.flowChain(chain);
    this.terminate();
  }

  private flowChain(c: PerfettoFlowChain): void {
    const pid = PERFETTO_PID_COUNTEREXAMPLE;
    const lanes = new Map<string, number>();
    this.meta(pid, 0, 'process_name', `counterexample: ${c.rule}`);
    this.meta(pid, 0, 'process_sort_index', -1);
    this.nameThread(pid, PERFETTO_TID_VIOLATION, 'violation');
    const laneTid = (lane: string): number => {
      let t = lanes.get(lane);
      if (t === undefined) {
        t = PERFETTO_TID_VIOLATION + 1 + lanes.size;
        lanes.set(lane, t);
        this.nameThread(pid, t, lane);
      }
      return t;
    };
    const name = JSON.stringify(c.rule);
    c.steps.forEach((st, i) => {
      const ts = nsToUsString(st.time_ns);
      const tid = laneTid(st.lane);
      const label = JSON.stringify(`${st.n}. ${st.text}`);
      const args = `{"step":${st.n},"lane":${JSON.stringify(st.lane)}${st.to !== undefined ? `,"to":${JSON.stringify(st.to)}` : ''},"text":${JSON.stringify(st.text)}}`;
      this.push(`{"ph":"X","ts":${ts},"dur":0.001,"pid":${pid},"tid":${tid},"cat":"${PERFETTO_FLOW_CAT}","name":${label},"args":${args}}`);
      const ph = i === 0 ? 's' : 't';
      this.push(`{"ph":"${ph}","ts":${ts},"pid":${pid},"tid":${tid},"cat":"${PERFETTO_FLOW_CAT}","name":${name},"id":1${ph === 't' ? ',"bp":"e"' : ''}}`);
    });
    const vts = nsToUsString(c.time_ns);
    this.instant(vts, `"pid":${pid},"tid":${PERFETTO_TID_VIOLATION}`, 't', PERFETTO_FLOW_CAT, c.rule.replace(/["\\]/g, ''), `{"violation":${JSON.stringify(c.detail)}}`);
    this.push(`{"ph":"f","ts":${vts},"pid":${pid},"tid":${PERFETTO_TID_VIOLATION},"cat":"${PERFETTO_FLOW_CAT}","name":${name},"id":1,"bp":"e"}`);
  }
}
