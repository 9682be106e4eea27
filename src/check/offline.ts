/**
 * Offline check of trace files: iopf's own JSONL, and Linux ftrace text of the VT-d page-fault
 * tracepoints. Both stream through the same Monitor as a live run, in constant memory (one read
 * chunk, fixed-size monitor tables, capped lists of violations and diagnostics).
 *
 * ftrace carries host-side events only: `prq_report` is a page request read from the PRQ (arrival at
 * the host), `qi_submit page_grp_resp` a response sent. The monitor runs with `inputs: 'host'`, so
 * rules that need device or core events are not exercised, and the result says which were.
 */
import type { Readable } from 'node:stream';
import { readFtraceBatches, type FtraceDiagnostic } from '../io/ftrace.js';
import { KIND_INFO, PrFlag, RespSource, TraceKind } from '../trace/events.js';
import { readJsonl, type JsonlDiagnostic, type JsonlSink } from '../trace/jsonl.js';
import { Monitor, type Balance, type LatencyStats, type MonitorOptions, type Violation } from './monitor.js';

export interface OfflineDiagnostic {
  readonly lineNo: number;
  readonly column?: number;
  readonly message: string;
  readonly code: string;
  readonly severity: 'error' | 'warning';
}

export interface OfflineResult {
  readonly format: 'jsonl' | 'ftrace';
  /** Events (JSONL) or event lines (ftrace) read. */
  readonly records: number;
  readonly violations: readonly Violation[];
  readonly violationCount: number;
  readonly violationsByRule: Record<string, number>;
  readonly rulesExercised: readonly string[];
  /** First `maxDiagnostics` diagnostics; `diagnosticCount`/`errorCount` count them all. */
  readonly diagnostics: readonly OfflineDiagnostic[];
  readonly diagnosticCount: number;
  /** Diagnostics of severity error (a trace with any is bad input: exit 2). */
  readonly errorCount: number;
  /** Arrival of a group's L=1 request at the IOMMU → its response, in ns. */
  readonly latency: LatencyStats;
  readonly balance: Balance;
  /** Time of the last event (ns). */
  readonly endTimeNs: number;
}

export interface OfflineOptions {
  readonly mode?: 'cheap' | 'full';
  /** Longest line accepted (bytes). Default 1 MiB. */
  readonly maxLineBytes?: number;
  /** Diagnostics kept. Default 1000. */
  readonly maxDiagnostics?: number;
  readonly maxViolations?: number;
}

export interface JsonlCheckOptions extends OfflineOptions {
  readonly queueCapacity?: MonitorOptions['queueCapacity'];
  readonly overflowAutoResponse?: MonitorOptions['overflowAutoResponse'];
  readonly pageDrain?: MonitorOptions['pageDrain'];
  readonly deviceRequiresPasid?: MonitorOptions['deviceRequiresPasid'];
  readonly creditAllocation?: MonitorOptions['creditAllocation'];
  readonly flushContract?: MonitorOptions['flushContract'];
  readonly deviceRid?: MonitorOptions['deviceRid'];
  readonly maxDevices?: number;
}

export interface FtraceCheckOptions extends OfflineOptions {
  /** Per requester ID: whether the function sets PRG Response PASID Required (`--device RID:pasid-required`). */
  readonly devices?: ReadonlyMap<number, { readonly pasidRequired: boolean }>;
  /** Treat PASID 0 as "no PASID" (the kernel does not print the PASID Present bit). Default true. */
  readonly inferPasidPresent?: boolean;
}

class Diagnostics {
  readonly list: OfflineDiagnostic[] = [];
  count = 0;
  errors = 0;
  constructor(private readonly max: number) {}
  add(d: OfflineDiagnostic | JsonlDiagnostic | FtraceDiagnostic): void {
    this.count++;
    if (d.severity === 'error') this.errors++;
    if (this.list.length < this.max) this.list.push(d);
  }
}

function result(
  format: 'jsonl' | 'ftrace',
  records: number,
  m: Monitor,
  diags: Diagnostics,
  endTimeNs: number,
): OfflineResult {
  return {
    format,
    records,
    violations: m.violations(),
    violationCount: m.violationCount(),
    violationsByRule: m.violationsByRule(),
    rulesExercised: m.rulesExercised(),
    diagnostics: diags.list,
    diagnosticCount: diags.count,
    errorCount: diags.errors,
    latency: m.latency(),
    balance: m.balance(),
    endTimeNs,
  };
}

const DEV_INDEX: readonly number[] = KIND_INFO.map((k) => k.fields.indexOf('dev'));
const PRGI_INDEX: readonly number[] = KIND_INFO.map((k) => k.fields.indexOf('prgi'));
/**
 * Bound of the `prgi` field: kernel-side events (fault_report … handler_end) carry the core's
 * grpid, which AMD's driver fills with the 10-bit PPR tag (PRG index | last << 9); the rest carry
 * a 9-bit PCIe PRG index.
 */
const GRPID_KINDS: ReadonlySet<string> = new Set(['fault_report', 'partial_add', 'partial_free', 'group_form', 'handler_start', 'handler_end']);
const PRGI_LIMIT: readonly number[] = KIND_INFO.map((k) => (GRPID_KINDS.has(k.name) ? 1024 : 512));

/**
 * The field bounds the offline checker enforces on a decoded JSONL event (a `dev` the tables can
 * hold, a `prgi` of its width): a diagnostic, or undefined when the event is in range. Shared with
 * `iopf fit`, so a bad trace gets the same diagnostics from both commands.
 */
export function jsonlFieldDiagnostic(
  kind: number,
  f: ArrayLike<number>,
  lineNo: number,
  maxDevices: number,
): OfflineDiagnostic | undefined {
  const di = DEV_INDEX[kind]!;
  if (di >= 0 && !(f[di]! >= 0 && f[di]! < maxDevices)) {
    return { lineNo, message: `expected "dev" in 0..${maxDevices - 1} got ${f[di]!}`, code: 'bad-field', severity: 'error' };
  }
  const pi = PRGI_INDEX[kind]!;
  const plim = PRGI_LIMIT[kind]!;
  if (pi >= 0 && !(f[pi]! >= 0 && f[pi]! < plim)) {
    return { lineNo, message: `expected "prgi" in 0..${plim - 1} got ${f[pi]!}`, code: 'bad-field', severity: 'error' };
  }
  return undefined;
}

const EVENT_FIELDS = new Float64Array(6);

/** jsonlFieldDiagnostic for an event handed over field by field (the byte path's sinks; no allocation). */
export function jsonlEventDiagnostic(
  kind: number,
  lineNo: number,
  maxDevices: number,
  f0: number,
  f1: number,
  f2: number,
  f3: number,
  f4: number,
  f5: number,
): OfflineDiagnostic | undefined {
  const f = EVENT_FIELDS;
  f[0] = f0;
  f[1] = f1;
  f[2] = f2;
  f[3] = f3;
  f[4] = f4;
  f[5] = f5;
  return jsonlFieldDiagnostic(kind, f, lineNo, maxDevices);
}

/** Feeds decoded JSONL events to the monitor after the field bounds (no allocation per event). */
class JsonlCheckSink implements JsonlSink {
  records = 0;
  end = 0;
  constructor(
    private readonly m: Monitor,
    readonly diags: Diagnostics,
    private readonly maxDevices: number,
  ) {}
  diagnostic(d: JsonlDiagnostic): void {
    this.diags.add(d);
  }
  event(lineNo: number, t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    const bad = jsonlEventDiagnostic(kind, lineNo, this.maxDevices, f0, f1, f2, f3, f4, f5);
    if (bad !== undefined) {
      this.diags.add(bad);
      return;
    }
    this.records++;
    if (t > this.end) this.end = t;
    this.m.line = lineNo;
    this.m.onEvent(t, kind, f0, f1, f2, f3, f4, f5);
  }
}

/** Check an iopf JSONL trace (path or byte stream). */
export async function checkJsonl(source: string | Readable, opts: JsonlCheckOptions = {}): Promise<OfflineResult> {
  const maxDevices = opts.maxDevices ?? 256;
  const mopts: { -readonly [K in keyof MonitorOptions]: MonitorOptions[K] } = {
    mode: opts.mode ?? 'full',
    maxDevices,
  };
  if (opts.queueCapacity !== undefined) mopts.queueCapacity = opts.queueCapacity;
  if (opts.overflowAutoResponse !== undefined) mopts.overflowAutoResponse = opts.overflowAutoResponse;
  if (opts.pageDrain !== undefined) mopts.pageDrain = opts.pageDrain;
  if (opts.deviceRequiresPasid !== undefined) mopts.deviceRequiresPasid = opts.deviceRequiresPasid;
  if (opts.creditAllocation !== undefined) mopts.creditAllocation = opts.creditAllocation;
  if (opts.flushContract !== undefined) mopts.flushContract = opts.flushContract;
  if (opts.deviceRid !== undefined) mopts.deviceRid = opts.deviceRid;
  if (opts.maxViolations !== undefined) mopts.maxViolations = opts.maxViolations;
  const m = new Monitor(mopts);
  const sink = new JsonlCheckSink(m, new Diagnostics(opts.maxDiagnostics ?? 1000), maxDevices);
  const readOpts = opts.maxLineBytes === undefined ? {} : { maxLineBytes: opts.maxLineBytes };
  await readJsonl(source, sink, readOpts);
  const end = sink.end;
  const diags = sink.diags;
  const records = sink.records;
  m.line = undefined;
  m.finish(end);
  return result('jsonl', records, m, diags, end);
}

/** Same as checkJsonl on a file path. */
export function checkJsonlFile(path: string, opts: JsonlCheckOptions = {}): Promise<OfflineResult> {
  return checkJsonl(path, opts);
}

/** Check Linux ftrace text (trace file or `trace-cmd report` output; path or byte stream). */
export async function checkFtrace(source: string | Readable, opts: FtraceCheckOptions = {}): Promise<OfflineResult> {
  const maxDevices = 256;
  const rids: number[] = [];
  const devOf = new Map<number, number>();
  const iommuOf = new Map<string, number>();
  const devices = opts.devices;
  const mopts: { -readonly [K in keyof MonitorOptions]: MonitorOptions[K] } = {
    mode: opts.mode ?? 'full',
    inputs: 'host',
    maxDevices,
    deviceRequiresPasid: (dev) => {
      const rid = rids[dev];
      return rid === undefined ? undefined : devices?.get(rid)?.pasidRequired;
    },
    deviceRid: (dev) => rids[dev],
  };
  if (opts.maxViolations !== undefined) mopts.maxViolations = opts.maxViolations;
  const m = new Monitor(mopts);
  const diags = new Diagnostics(opts.maxDiagnostics ?? 1000);
  const tooMany = new Set<number>();
  let records = 0;
  let end = 0;
  let req = 0;

  const dev = (rid: number, lineNo: number): number => {
    const d = devOf.get(rid);
    if (d !== undefined) return d;
    if (rids.length >= maxDevices) {
      if (!tooMany.has(rid)) {
        tooMany.add(rid);
        diags.add({ lineNo, message: `expected at most ${maxDevices} requester IDs got rid=0x${rid.toString(16)}`, code: 'too-many-devices', severity: 'error' });
      }
      return -1;
    }
    rids.push(rid);
    devOf.set(rid, rids.length - 1);
    return rids.length - 1;
  };
  const iommu = (name: string): number => {
    let i = iommuOf.get(name);
    if (i === undefined) {
      i = iommuOf.size;
      iommuOf.set(name, i);
    }
    return i;
  };

  const readOpts = {
    inferPasidPresent: opts.inferPasidPresent ?? true,
    ...(opts.maxLineBytes === undefined ? {} : { maxLineBytes: opts.maxLineBytes }),
  };
  for await (const batch of readFtraceBatches(source, readOpts)) {
    for (const item of batch) {
      if (item.type === 'diagnostic') {
        diags.add(item.diagnostic);
        continue;
      }
      const r = item.record;
      records++;
      const t = r.tsNs;
      if (t > end) end = t;
      m.line = item.lineNo;
      if (r.kind === 'page_request') {
        const d = dev(r.rid, item.lineNo);
        if (d < 0) continue;
        const hasPasid = r.pasidPresent ?? r.pasid !== 0;
        const pasid = hasPasid ? r.pasid : -1;
        const id = ++req;
        if (!r.read && !r.write && r.last && hasPasid) {
          // Stop Marker (§1.2): L=1, R=W=0, with a PASID.
          m.onEvent(t, TraceKind.STOP_MARKER, d, pasid, 0, id, 0, 0);
          m.onEvent(t, TraceKind.QUEUE_WRITE, d, pasid, r.prgi, id, iommu(r.iommu), -1);
        } else {
          const flags =
            (r.read ? PrFlag.READ : 0) |
            (r.write ? PrFlag.WRITE : 0) |
            (r.exec ? PrFlag.EXEC : 0) |
            (r.priv ? PrFlag.PRIV : 0) |
            (r.last ? PrFlag.LAST : 0) |
            (hasPasid ? PrFlag.PASID : 0);
          m.onEvent(t, TraceKind.PAGE_REQUEST, d, pasid, r.prgi, id, flags, r.pageNumber);
        }
      } else if (r.kind === 'page_response') {
        const d = dev(r.rid, item.lineNo);
        if (d < 0) continue;
        m.onEvent(t, TraceKind.RESPONSE_SEND, d, r.pasidPresent ? r.pasid : -1, r.prgi, -1, r.code, RespSource.GROUP);
      }
      // io_page_fault (unrecoverable) and other events pass through.
    }
  }
  m.line = undefined;
  m.finish(end);
  return result('ftrace', records, m, diags, end);
}

/** Same as checkFtrace on a file path. */
export function checkFtraceFile(path: string, opts: FtraceCheckOptions = {}): Promise<OfflineResult> {
  return checkFtrace(path, opts);
}
