/**
 * `iopf fit`: measure what a trace shows of a machine, in constant memory, so that a scenario can
 * be written that behaves like it (src/fit/scenario.ts).
 *
 * The trace is read as two host-side observations, the same for both formats:
 *  - a page request reported by the PRQ thread (ftrace `intel_iommu:prq_report`; in iopf JSONL the
 *    `queue_write` of a request, which is where `iopf run --ftrace` stamps prq_report);
 *  - a page group response submitted (`qi_submit page_grp_resp`; JSONL `response_send` with a code).
 * From them: per (device, PASID) stream the arrival process (gaps between group starts and between
 * requests), group sizes and access bits; per device whether responses carried the PASID and the
 * most requests outstanding; the host time from the report of a group's last request (L=1) to the
 * response for the same requester ID and PRG index; the PRQ thread's batches (runs of consecutive
 * `seq#` numbers reported close together).
 *
 * Memory is fixed: HDR histograms of fixed precision, a bounded table of open groups (the oldest is
 * expired when it is full), at most `maxStreams` streams and 256 requester IDs. Bad lines give the
 * same diagnostics as `iopf check`.
 */
import type { Readable } from 'node:stream';
import { readFtraceBatches } from '../io/ftrace.js';
import { readJsonl, type JsonlDiagnostic, type JsonlSink } from '../trace/jsonl.js';
import { PrFlag, TraceKind, ridString } from '../trace/events.js';
import { jsonlEventDiagnostic, type OfflineDiagnostic } from '../check/offline.js';
import { Distribution } from './distribution.js';

export interface FitOptions {
  /** 'auto' (default): `.jsonl` is iopf JSONL, anything else Linux ftrace text. */
  readonly format?: 'auto' | 'jsonl' | 'ftrace';
  /** Longest line accepted (bytes). Default 1 MiB. */
  readonly maxLineBytes?: number;
  /** Diagnostics kept. Default 1000. */
  readonly maxDiagnostics?: number;
  /** Two reports with consecutive seq# at most this far apart belong to one PRQ thread run. Default 2000 ns. */
  readonly batchGapNs?: number;
  /** (device, PASID) streams tracked; requests of further streams are counted, not fitted. Default 64. */
  readonly maxStreams?: number;
  /** Groups open at once (partial or awaiting a response) before the oldest is expired. Default 65536. */
  readonly maxOpenGroups?: number;
  /**
   * Workers assumed to serve groups (the fault workqueue's max_active, which a trace does not show;
   * default 4, the scenario default). The host time of each group is split into waiting for one of
   * them and service, as a first-in first-out queue with that many servers would have it.
   */
  readonly workers?: number;
}

/** Most requester IDs tracked (as `iopf check` of ftrace). */
export const FIT_MAX_DEVICES = 256;
/**
 * Bytes read at a time. Smaller than the line reader's 1 MiB default: each chunk's lines and events
 * are garbage a moment later, and with 256 KiB they die young instead of being promoted, which on
 * a 300 MB JSONL trace took peak RSS from 144 MB to 88 MB and was not slower.
 */
const READ_CHUNK = 1 << 18;
/** Largest group size counted one by one (PCIe allows any; the model's prg_pages goes to 64). */
const MAX_GROUP_SIZE = 512;

/** One (device, PASID) stream of page requests. */
export interface StreamFit {
  readonly rid: number;
  /** -1: requests without PASID. */
  readonly pasid: number;
  requests: number;
  groups: number;
  firstNs: number;
  lastNs: number;
  /** Gap between the first requests of consecutive groups (the access arrival process). */
  readonly groupGap: Distribution;
  /** Gap between consecutive requests. */
  readonly requestGap: Distribution;
  /** groupSizes[k] = groups of k requests (k ≤ 512; larger ones counted at 512). */
  readonly groupSizes: Float64Array;
  reads: number;
  writes: number;
  execs: number;
  privs: number;
  /** Internal: time of the last request and of the last group start (-1: none yet). */
  lastRequestNs: number;
  lastGroupStartNs: number;
}

export interface DeviceFit {
  readonly rid: number;
  /** The device as the trace names it (`0000:00:02.0`), or `devN` for JSONL. */
  readonly name: string;
  readonly streams: StreamFit[];
  /** Responses to PASID groups that carried the PASID, and those that did not. */
  respWithPasid: number;
  respWithoutPasid: number;
  responses: number;
  success: number;
  invalid: number;
  failure: number;
  otherCode: number;
  /** Requests sent whose group was not answered yet; its maximum over the trace. */
  outstanding: number;
  maxOutstanding: number;
  /** Requests in streams beyond maxStreams (not fitted). */
  untracked: number;
}

export interface FitResult {
  readonly format: 'jsonl' | 'ftrace';
  /** Events (JSONL) or event lines (ftrace) read. */
  records: number;
  readonly diagnostics: OfflineDiagnostic[];
  diagnosticCount: number;
  /** Diagnostics of severity error: the trace is bad input (exit 2). */
  errorCount: number;
  readonly iommus: string[];
  readonly devices: DeviceFit[];
  /** Report of a group's L=1 request → its response (same RID and PRG index). */
  readonly hostLatency: Distribution;
  /** The same time less the wait for one of `workers` workers (FIFO): the service time fitted. */
  readonly hostService: Distribution;
  readonly workers: number;
  /** Groups whose measured time was shorter than their wait under `workers` workers (more workers likely). */
  serviceInconsistent: number;
  /** Reports per PRQ thread run (ftrace; see batchGapNs). */
  readonly batchSize: Distribution;
  /** Gap between consecutive reports of one run (the thread's per-entry time). */
  readonly batchGap: Distribution;
  readonly batchGapNs: number;
  /** seq# numbers skipped (reports lost by the trace buffer). */
  seqGaps: number;
  stopMarkers: number;
  /** Responses for which no open group was known. */
  unmatchedResponses: number;
  /** Groups still open (partial or unanswered) at the end of the trace. */
  unansweredGroups: number;
  /** Groups dropped from the bounded table while still open. */
  expiredGroups: number;
  /** Most groups reported but not yet answered at one time (≥ workers suggests worker queueing). */
  maxInService: number;
  startNs: number;
  endNs: number;
}

class Fitter {
  readonly res: FitResult;
  private readonly byRid = new Map<number, DeviceFit>();
  private readonly streams = new Map<number, StreamFit>();
  private streamCount = 0;
  /** Open partial groups: key rid·512 + prgi → requests so far. */
  private readonly open = new Map<number, number>();
  /** Groups whose last request was reported: key → slot in the arrival ring, and → size·2 + had PASID. */
  private readonly pendingAt = new Map<number, number>();
  /**
   * Groups in report order, for the FIFO split of host time into wait and service: report time and
   * response time (NaN: not answered yet; -1: will never be, skip) per slot; `head` is the oldest
   * group not yet served, `tail` the next free slot (both count up; index modulo the ring size).
   */
  private readonly ringAt: Float64Array;
  private readonly ringDone: Float64Array;
  private head = 0;
  private tail = 0;
  /** When each assumed worker becomes free. */
  private readonly freeAt: Float64Array;
  private readonly pendingInfo = new Map<number, number>();
  private readonly tooMany = new Set<number>();
  private lastSeq = -1;
  private lastReportNs = -1;
  private curBatch = 0;
  private readonly maxDiagnostics: number;

  constructor(
    format: 'jsonl' | 'ftrace',
    private readonly maxStreams: number,
    private readonly maxOpen: number,
    batchGapNs: number,
    maxDiagnostics: number,
    workers: number,
  ) {
    this.maxDiagnostics = maxDiagnostics;
    this.ringAt = new Float64Array(maxOpen);
    this.ringDone = new Float64Array(maxOpen);
    this.freeAt = new Float64Array(workers).fill(-Infinity);
    this.res = {
      format,
      records: 0,
      diagnostics: [],
      diagnosticCount: 0,
      errorCount: 0,
      iommus: [],
      devices: [],
      hostLatency: new Distribution(),
      hostService: new Distribution(),
      workers,
      serviceInconsistent: 0,
      batchSize: new Distribution(),
      batchGap: new Distribution(),
      batchGapNs,
      seqGaps: 0,
      stopMarkers: 0,
      unmatchedResponses: 0,
      unansweredGroups: 0,
      expiredGroups: 0,
      maxInService: 0,
      startNs: -1,
      endNs: 0,
    };
  }

  diagnostic(d: OfflineDiagnostic): void {
    const r = this.res;
    r.diagnosticCount++;
    if (d.severity === 'error') r.errorCount++;
    if (r.diagnostics.length < this.maxDiagnostics) r.diagnostics.push(d);
  }

  private lastIommu = '';
  iommu(name: string): void {
    // Almost every line names the IOMMU of the line before.
    if (name === this.lastIommu) return;
    this.lastIommu = name;
    if (this.res.iommus.length < 16 && !this.res.iommus.includes(name)) this.res.iommus.push(name);
  }

  time(t: number): void {
    const r = this.res;
    if (r.startNs < 0 || t < r.startNs) r.startNs = t;
    if (t > r.endNs) r.endNs = t;
  }

  /** The device of `rid`, if seen already. */
  known(rid: number): DeviceFit | undefined {
    return this.byRid.get(rid);
  }
  device(rid: number, name: string, lineNo: number): DeviceFit | undefined {
    const d = this.byRid.get(rid);
    if (d !== undefined) return d;
    if (this.byRid.size >= FIT_MAX_DEVICES) {
      if (!this.tooMany.has(rid)) {
        this.tooMany.add(rid);
        this.diagnostic({ lineNo, message: `expected at most ${FIT_MAX_DEVICES} requester IDs got rid=0x${rid.toString(16)}`, code: 'too-many-devices', severity: 'error' });
      }
      return undefined;
    }
    const nd: DeviceFit = {
      rid,
      name,
      streams: [],
      respWithPasid: 0,
      respWithoutPasid: 0,
      responses: 0,
      success: 0,
      invalid: 0,
      failure: 0,
      otherCode: 0,
      outstanding: 0,
      maxOutstanding: 0,
      untracked: 0,
    };
    this.byRid.set(rid, nd);
    this.res.devices.push(nd);
    return nd;
  }

  private stream(d: DeviceFit, pasid: number): StreamFit | undefined {
    const key = d.rid * 2 ** 21 + (pasid + 1);
    const s = this.streams.get(key);
    if (s !== undefined) return s;
    if (this.streamCount >= this.maxStreams) return undefined;
    this.streamCount++;
    const ns: StreamFit = {
      rid: d.rid,
      pasid,
      requests: 0,
      groups: 0,
      firstNs: -1,
      lastNs: 0,
      groupGap: new Distribution(),
      requestGap: new Distribution(),
      groupSizes: new Float64Array(MAX_GROUP_SIZE + 1),
      reads: 0,
      writes: 0,
      execs: 0,
      privs: 0,
      lastRequestNs: -1,
      lastGroupStartNs: -1,
    };
    this.streams.set(key, ns);
    d.streams.push(ns);
    return ns;
  }

  /** One reported page request; `flags` are PrFlag bits, `seq` the report's seq# or -1. */
  request(t: number, d: DeviceFit, pasid: number, prgi: number, flags: number, seq: number): void {
    this.time(t);
    const last = (flags & PrFlag.LAST) !== 0;
    const rw = flags & (PrFlag.READ | PrFlag.WRITE);
    this.batch(t, seq);
    if (last && rw === 0 && pasid >= 0) {
      // A Stop Marker (L=1, R=W=0, with a PASID): no group, no response.
      this.res.stopMarkers++;
      return;
    }
    d.outstanding++;
    if (d.outstanding > d.maxOutstanding) d.maxOutstanding = d.outstanding;
    const s = this.stream(d, pasid);
    const key = d.rid * 512 + prgi;
    let size = this.open.get(key);
    const starts = size === undefined;
    if (size === undefined) size = 0;
    size++;
    if (s === undefined) d.untracked++;
    else {
      s.requests++;
      if (s.firstNs < 0) s.firstNs = t;
      s.lastNs = t;
      if (s.lastRequestNs >= 0) s.requestGap.record(t - s.lastRequestNs);
      s.lastRequestNs = t;
      if (starts) {
        if (s.lastGroupStartNs >= 0) s.groupGap.record(t - s.lastGroupStartNs);
        s.lastGroupStartNs = t;
      }
      if ((flags & PrFlag.READ) !== 0) s.reads++;
      if ((flags & PrFlag.WRITE) !== 0) s.writes++;
      if ((flags & PrFlag.EXEC) !== 0) s.execs++;
      if ((flags & PrFlag.PRIV) !== 0) s.privs++;
    }
    if (!last) {
      if (starts) this.bound(this.open);
      this.open.set(key, size);
      return;
    }
    if (!starts) this.open.delete(key);
    if (s !== undefined) {
      s.groups++;
      s.groupSizes[Math.min(size, MAX_GROUP_SIZE)]!++;
    }
    const older = this.pendingAt.get(key);
    if (older !== undefined) {
      // The PRG index is reused before its response (a rule breach `iopf check` reports): the older
      // group can no longer be matched.
      this.res.expiredGroups++;
      this.pendingAt.delete(key);
      this.pendingInfo.delete(key);
      this.skip(older);
    } else if (this.pendingAt.size >= this.maxOpen) {
      const oldest = this.pendingAt.keys().next().value as number;
      this.skip(this.pendingAt.get(oldest)!);
      this.pendingAt.delete(oldest);
      this.pendingInfo.delete(oldest);
      this.res.expiredGroups++;
    }
    const size0 = this.ringAt.length;
    if (this.tail - this.head >= size0) {
      // The oldest unanswered group holds every later one back: give up on it.
      this.ringDone[this.head % size0] = -1;
      this.serve(true);
    }
    const slot = this.tail++;
    this.ringAt[slot % size0] = t;
    this.ringDone[slot % size0] = NaN;
    this.pendingAt.set(key, slot);
    this.pendingInfo.set(key, size * 2 + (pasid >= 0 ? 1 : 0));
    if (this.pendingAt.size > this.res.maxInService) this.res.maxInService = this.pendingAt.size;
  }

  /** Keep a table of open groups within maxOpen by expiring the oldest. */
  private bound(m: Map<number, number>): void {
    if (m.size < this.maxOpen) return;
    const oldest = m.keys().next().value as number;
    m.delete(oldest);
    this.res.expiredGroups++;
  }

  /** A group that will never be answered: its slot no longer holds the others back. */
  private skip(slot: number): void {
    if (slot < this.head) return;
    this.ringDone[slot % this.ringAt.length] = -1;
    this.serve(false);
  }

  /**
   * Serve groups in report order as a FIFO queue with `workers` servers would (Kiefer–Wolfowitz):
   * a group starts when it was reported or when the first worker is free, whichever is later; its
   * service is response − start. Stops at the first group not answered yet unless `all`.
   */
  private serve(all: boolean): void {
    const n = this.ringAt.length;
    const free = this.freeAt;
    while (this.head < this.tail) {
      const i = this.head % n;
      const done = this.ringDone[i]!;
      if (Number.isNaN(done) && !all) return;
      this.head++;
      if (!(done >= 0)) continue;
      let w = 0;
      for (let k = 1; k < free.length; k++) if (free[k]! < free[w]!) w = k;
      const start = Math.max(this.ringAt[i]!, free[w]!);
      let service = done - start;
      if (service < 0) {
        this.res.serviceInconsistent++;
        service = 0;
      }
      this.res.hostService.record(service);
      free[w] = Math.max(done, start);
    }
  }

  private batch(t: number, seq: number): void {
    if (seq < 0) return;
    const r = this.res;
    if (this.lastSeq >= 0 && seq > this.lastSeq + 1) r.seqGaps += seq - this.lastSeq - 1;
    if (this.lastSeq >= 0 && seq === this.lastSeq + 1 && t - this.lastReportNs <= r.batchGapNs) {
      this.curBatch++;
      r.batchGap.record(t - this.lastReportNs);
    } else {
      if (this.curBatch > 0) r.batchSize.record(this.curBatch);
      this.curBatch = 1;
    }
    this.lastSeq = seq;
    this.lastReportNs = t;
  }

  /** One page group response; `pasid` -1 when the response carried none. */
  response(t: number, d: DeviceFit, pasid: number, prgi: number, code: number): void {
    this.time(t);
    d.responses++;
    if (code === 0) d.success++;
    else if (code === 1) d.invalid++;
    else if (code === 0xf) d.failure++;
    else d.otherCode++;
    const key = d.rid * 512 + prgi;
    const slot = this.pendingAt.get(key);
    if (slot === undefined) {
      this.res.unmatchedResponses++;
      return;
    }
    const info = this.pendingInfo.get(key)!;
    this.pendingAt.delete(key);
    this.pendingInfo.delete(key);
    const n = this.ringAt.length;
    if (slot >= this.head) {
      this.res.hostLatency.record(t - this.ringAt[slot % n]!);
      this.ringDone[slot % n] = t;
      this.serve(false);
    }
    d.outstanding -= Math.floor(info / 2);
    if ((info & 1) !== 0) {
      if (pasid >= 0) d.respWithPasid++;
      else d.respWithoutPasid++;
    }
  }

  finish(): FitResult {
    if (this.curBatch > 0) this.res.batchSize.record(this.curBatch);
    this.curBatch = 0;
    this.res.unansweredGroups = this.open.size + this.pendingAt.size;
    this.serve(true);
    if (this.res.startNs < 0) this.res.startNs = 0;
    return this.res;
  }
}

/** The RID iopf gives a JSONL device index (JSONL carries model indices, not requester IDs). */
export function jsonlRid(dev: number): number {
  return ((dev >> 5) << 8) | ((dev & 31) << 3);
}

/**
 * Feeds decoded JSONL events to the fitter: the offline checker's byte path (no string and no
 * object per canonical line), with the same field bounds, so both commands agree on a bad trace.
 */
class JsonlFitSink implements JsonlSink {
  /** req → PrFlag bits of its page request, until it is written into the queue or dropped. */
  private readonly flagsOf = new Map<number, number>();
  private readonly names: string[] = [];
  constructor(private readonly fit: Fitter) {}
  diagnostic(d: JsonlDiagnostic): void {
    this.fit.diagnostic(d);
  }
  private dev(i: number, lineNo: number): DeviceFit | undefined {
    return this.fit.device(jsonlRid(i), (this.names[i] ??= `dev${i}`), lineNo);
  }
  event(lineNo: number, t: number, kind: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number): void {
    const bad = jsonlEventDiagnostic(kind, lineNo, FIT_MAX_DEVICES, f0, f1, f2, f3, f4, f5);
    if (bad !== undefined) {
      this.fit.diagnostic(bad);
      return;
    }
    this.fit.res.records++;
    const flagsOf = this.flagsOf;
    // What a VT-d kernel's ftrace shows of a request (prq_event_thread): the moment its report to
    // the core returns (trace_prq_report follows intel_prq_report). Stop Markers and requests the
    // driver refuses are never traced, dropped ones never reach the thread: the JSONL of a run and
    // its ftrace fit to the same figures.
    switch (kind) {
      case TraceKind.PAGE_REQUEST:
        // Bounded: a request never reported nor dropped (a truncated trace, a refused L=0
        // request) is forgotten oldest first.
        if (flagsOf.size >= 1 << 20) flagsOf.delete(flagsOf.keys().next().value as number);
        flagsOf.set(f3, f4);
        break;
      case TraceKind.QUEUE_DROP:
        flagsOf.delete(f3);
        break;
      case TraceKind.FAULT_REPORT: {
        const fl = flagsOf.get(f3);
        if (fl === undefined) break;
        flagsOf.delete(f3);
        const d = this.dev(f0, lineNo);
        if (d !== undefined) this.fit.request(t, d, f1, f2 & 0x1ff, fl, -1);
        break;
      }
      case TraceKind.RESPONSE_SEND: {
        // As `iopf run --ftrace` writes it: a late attempt the core ignored submits nothing.
        if (f4 < 0) break;
        const d = this.dev(f0, lineNo);
        if (d !== undefined) this.fit.response(t, d, f1, f2, f4);
        break;
      }
      default:
        break;
    }
  }
}

async function fitJsonl(source: string | Readable, f: Fitter, maxLineBytes: number | undefined): Promise<void> {
  await readJsonl(source, new JsonlFitSink(f), { highWaterMark: READ_CHUNK, ...(maxLineBytes === undefined ? {} : { maxLineBytes }) });
}

async function fitFtrace(source: string | Readable, f: Fitter, maxLineBytes: number | undefined): Promise<void> {
  const opts = { inferPasidPresent: true, highWaterMark: READ_CHUNK, ...(maxLineBytes === undefined ? {} : { maxLineBytes }) };
  for await (const batch of readFtraceBatches(source, opts)) {
    for (const item of batch) {
      if (item.type === 'diagnostic') {
        f.diagnostic(item.diagnostic);
        continue;
      }
      const r = item.record;
      f.res.records++;
      if (r.kind === 'page_request') {
        f.iommu(r.iommu);
        const d = f.device(r.rid, r.device, item.lineNo);
        if (d === undefined) continue;
        const hasPasid = r.pasidPresent ?? r.pasid !== 0;
        const flags =
          (r.read ? PrFlag.READ : 0) |
          (r.write ? PrFlag.WRITE : 0) |
          (r.exec ? PrFlag.EXEC : 0) |
          (r.priv ? PrFlag.PRIV : 0) |
          (r.last ? PrFlag.LAST : 0) |
          (hasPasid ? PrFlag.PASID : 0);
        f.request(r.tsNs, d, hasPasid ? r.pasid : -1, r.prgi, flags, r.seq);
      } else if (r.kind === 'page_response') {
        f.iommu(r.iommu);
        // The name is built only for a device not seen before (no string per response line).
        const d = f.known(r.rid) ?? f.device(r.rid, `0000:${ridString(r.rid)}`, item.lineNo);
        if (d === undefined) continue;
        f.response(r.tsNs, d, r.pasidPresent ? r.pasid : -1, r.prgi, r.code);
      }
    }
  }
}

/** Format a path is read as: `.jsonl` is iopf JSONL, anything else ftrace text (as `iopf check`). */
export function traceFormat(path: string, format: FitOptions['format'] = 'auto'): 'jsonl' | 'ftrace' {
  return format === 'auto' ? (path.endsWith('.jsonl') ? 'jsonl' : 'ftrace') : format;
}

/**
 * Measure a trace (a path or a byte stream) for fitting. Streams in constant memory; bad lines come
 * back as diagnostics (errorCount > 0 means bad input), never as exceptions.
 */
export async function fitTrace(source: string | Readable, opts: FitOptions = {}): Promise<FitResult> {
  const format = typeof source === 'string' ? traceFormat(source, opts.format) : opts.format === 'jsonl' ? 'jsonl' : 'ftrace';
  const workers = opts.workers ?? 4;
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > 1 << 16) throw new RangeError(`fitTrace: workers must be 1..65536, got ${workers}`);
  const f = new Fitter(format, opts.maxStreams ?? 64, opts.maxOpenGroups ?? 1 << 16, opts.batchGapNs ?? 2000, opts.maxDiagnostics ?? 1000, workers);
  if (format === 'jsonl') await fitJsonl(source, f, opts.maxLineBytes);
  else await fitFtrace(source, f, opts.maxLineBytes);
  return f.finish();
}
