/**
 * From what a trace showed (src/fit/fit.ts) to a scenario that behaves like the traced machine, and
 * the short fit report.
 *
 * What the fitted scenario reproduces, and how:
 *  - devices: requester IDs, PASID use, whether responses carried the PASID (→ the function's
 *    "PRG Response PASID Required" bit), a PRI allocation large enough for what was outstanding;
 *  - traffic: one workload per (device, PASID) stream, every access a new page (sequential over a
 *    region as large as the trace needs, so each access becomes one page request group), with the
 *    measured gaps between group starts as an empirical `interarrival_ns` and the modal group size
 *    as `prg_pages`; ats_ns and page_request_ns are made fixed (at their default means) so that the
 *    device side shifts the measured gaps without blurring them;
 *  - host: the time from a group's last report to its response is what the trace sees of the host.
 *    In iopf's own ftrace (`run --ftrace`) prq_report is stamped when the request is written into
 *    the PRQ, so that time is irq_ns + the thread's decode_ns + wq_dispatch_ns + waiting for a
 *    worker + the handler. The whole measured distribution goes into latency.sva_group_ns (one
 *    service time per group inside the workqueue worker, so `--set iopf.workers=N` still changes
 *    queueing), and irq_ns, decode_ns and wq_dispatch_ns are set to 0: they are inside it.
 *    Deconvolving the sum into its parts is not possible from two timestamps per group.
 * Everything else keeps its default, and the YAML says so in comments.
 */
import { Document, isMap, isScalar, Scalar, type Node as YamlNode } from 'yaml';
import type { ScenarioInput } from '../scenario/schema.js';
import { applyOverrides, type Override } from '../scenario/overrides.js';
import { ridString } from '../trace/events.js';
import { DEFAULT_TABLE_ROWS, type Distribution, type DistributionSummary, type EmpiricalRow } from './distribution.js';
import type { DeviceFit, FitResult, StreamFit } from './fit.js';

/** Default stage means (src/scenario/schema.ts defaults) used as fixed device-side delays. */
const ATS_FIXED_NS = 650;
const PAGE_REQUEST_FIXED_NS = 350;
/** Largest VMA the scenario format accepts, in pages (loader: 2^24 pages). */
const MAX_VMA_PAGES = 1 << 24;
const VMA_BASE = 0x10000000;

export interface FittedScenarioOptions {
  /** Scenario name (default "fitted"). */
  readonly name?: string;
  /** Where the trace came from, for the description. */
  readonly source?: string;
  /** Rows of each empirical table (default 1000). */
  readonly tableRows?: number;
  /** `--set` overrides applied to the fitted scenario (validate them first with parseScenario). */
  readonly overrides?: readonly Override[];
}

export interface StageFit {
  readonly stage: string;
  readonly what: string;
  readonly summary: DistributionSummary;
  /** KS distance between the measured sample and the table written to the scenario. */
  readonly ksTable?: number;
  /** KS distance between the measured gaps and exponential gaps of the same mean (Poisson). */
  readonly ksExponential?: number;
  /** ns: a time; count: a number of things. */
  readonly unit: 'ns' | 'count';
}

export interface FittedScenario {
  /** The scenario as plain data (validates with the scenario schema). */
  readonly scenario: ScenarioInput;
  /** The same scenario as YAML with comments saying what was fitted and what was not. */
  readonly yaml: string;
  /** What was measured, per stage and stream, with goodness of fit. */
  readonly stages: StageFit[];
  /** Lines of the fit report. */
  readonly report: string[];
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A probability as the scenario's "num/den" (0 and 1 as numbers). */
function ratioOf(num: number, den: number): 0 | 1 | string {
  if (num <= 0 || den <= 0) return 0;
  if (num >= den) return 1;
  const g = gcd(num, den);
  return `${num / g}/${den / g}`;
}

function modalSize(s: StreamFit): number {
  let best = 1;
  for (let k = 1; k < s.groupSizes.length; k++) if (s.groupSizes[k]! > s.groupSizes[best]!) best = k;
  return Math.min(64, best);
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.:-]/g, '_');
}

function ns(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(3)} s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(3)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)} µs`;
  return `${v} ns`;
}

function stageLine(s: StageFit): string {
  const m = s.summary;
  const gof: string[] = [];
  if (s.ksTable !== undefined) gof.push(`KS(table) ${s.ksTable.toFixed(4)}`);
  if (s.ksExponential !== undefined) gof.push(`KS(exponential) ${s.ksExponential.toFixed(3)}`);
  if (m.cv > 0) gof.push(`cv ${m.cv}`);
  const f = s.unit === 'ns' ? ns : (v: number): string => String(v);
  return `  ${s.stage.padEnd(34)} n=${m.n}  p50 ${f(m.p50)}  p99 ${f(m.p99)}  max ${f(m.max)}${gof.length > 0 ? `  ${gof.join(', ')}` : ''}`;
}

function tableFit(d: Distribution, rows: number): { table: EmpiricalRow[]; ks: number } {
  const table = d.toTable(rows);
  return { table, ks: d.ksAgainstTable(table) };
}

function streamName(dev: DeviceFit, s: StreamFit): string {
  return `${safeName(dev.name)}${s.pasid >= 0 ? `-pasid${s.pasid}` : '-nopasid'}`;
}

/** Build the fitted scenario and its report from a fit result. */
export function fittedScenario(res: FitResult, opts: FittedScenarioOptions = {}): FittedScenario {
  const rows = opts.tableRows ?? DEFAULT_TABLE_ROWS;
  const stages: StageFit[] = [];
  const report: string[] = [];
  const comments = new Map<string, string>();
  const note = (path: string, text: string): void => {
    comments.set(path, text);
  };

  const host = tableFit(res.hostService, rows);
  stages.push({ stage: 'host: L=1 report → response', what: 'measured', summary: res.hostLatency.summary(), unit: 'ns' });
  stages.push({ stage: `host service (FIFO, ${res.workers} workers)`, what: 'latency.sva_group_ns', summary: res.hostService.summary(), ksTable: host.ks, unit: 'ns' });
  if (res.batchSize.count > 0) {
    stages.push({ stage: 'PRQ thread run: reports per run', what: 'reported only', summary: res.batchSize.summary(), unit: 'count' });
    if (res.batchGap.count > 0) stages.push({ stage: 'PRQ thread: gap between reports', what: 'reported only', summary: res.batchGap.summary(), unit: 'ns' });
  }

  const devices: ScenarioInput['devices'] = [];
  const processes: NonNullable<ScenarioInput['processes']> = [];
  const binds: NonNullable<ScenarioInput['binds']> = [];
  const workloads: NonNullable<ScenarioInput['workloads']> = [];
  let invalid = 0;
  let answered = 0;
  // Devices that sent groups; if none did, every device seen (a scenario without traffic).
  const withGroups = res.devices.filter((d) => d.streams.some((s) => s.groups > 0));
  const fittedDevices = withGroups.length > 0 ? withGroups : res.devices;
  fittedDevices.forEach((d, di) => {
    const name = safeName(d.name);
    // Responses to PASID requests that carried the PASID: the function requires it (VT-d answers
    // with the PASID iff the device's bit says so under response_pasid: required).
    const required = d.respWithoutPasid === 0 ? true : d.respWithPasid === 0 ? false : d.respWithPasid >= d.respWithoutPasid;
    const largest = Math.max(...d.streams.map((s) => modalSize(s)));
    const allocation = Math.max(256, d.maxOutstanding, largest);
    devices.push({
      name,
      rid: ridString(d.rid),
      pri: { capacity: Math.max(512, allocation), allocation, response_pasid_required: required },
    });
    const why =
      d.respWithPasid + d.respWithoutPasid === 0
        ? 'no answered PASID group seen: default'
        : `${d.respWithPasid} responses to PASID groups carried the PASID, ${d.respWithoutPasid} did not`;
    note(`devices.${di}.pri.response_pasid_required`, why);
    note(`devices.${di}.pri.allocation`, `most requests outstanding at once in the trace: ${d.maxOutstanding}`);
    invalid += d.invalid + d.failure;
    answered += d.responses;
    for (const s of d.streams) {
      if (s.groups === 0) continue;
      const pname = streamName(d, s);
      const prg = modalSize(s);
      const pages = Math.min(MAX_VMA_PAGES, Math.max(1, s.groups * prg));
      processes.push({ name: pname, vmas: [{ start: VMA_BASE, size: pages * 4096, perms: 'rw' }] });
      binds.push({ device: name, process: pname });
      const spanNs = s.lastNs - s.firstNs;
      const rate = spanNs > 0 && s.groups > 1 ? ((s.groups - 1) * 1000) / spanNs : 1;
      const w: NonNullable<ScenarioInput['workloads']>[number] = {
        device: name,
        process: pname,
        pattern: 'sequential',
        rate_per_us: Number(rate.toPrecision(6)),
        accesses: s.groups,
        start_ns: Math.max(0, s.firstNs - res.startNs),
        prg_pages: prg,
        with_pasid: s.pasid >= 0,
        access: {
          write: ratioOf(s.writes, s.requests),
          ...(s.pasid >= 0 ? { exec: ratioOf(s.execs, s.requests), priv: ratioOf(s.privs, s.requests) } : {}),
        },
      };
      const wi = workloads.length;
      if (s.groupGap.count > 0) {
        const g = tableFit(s.groupGap, rows);
        w.interarrival_ns = { dist: 'empirical', table: g.table };
        stages.push({
          stage: `arrivals ${pname}: gap between groups`,
          what: `workloads[${wi}].interarrival_ns`,
          summary: s.groupGap.summary(),
          unit: 'ns',
          ksTable: g.ks,
          ksExponential: s.groupGap.ksAgainstExponential(),
        });
        note(
          `workloads.${wi}.interarrival_ns`,
          `measured gaps between group starts (n=${s.groupGap.count}, cv ${s.groupGap.summary().cv}; cv 1 = Poisson)`,
        );
      }
      if (s.requestGap.count > 0) stages.push({ stage: `arrivals ${pname}: gap between requests`, what: 'reported only', summary: s.requestGap.summary(), unit: 'ns' });
      const sizes: string[] = [];
      for (let k = 1; k < s.groupSizes.length && sizes.length < 6; k++) if (s.groupSizes[k]! > 0) sizes.push(`${k}:${s.groupSizes[k]}`);
      note(`workloads.${wi}.prg_pages`, `most common group size; sizes seen (size:groups) ${sizes.join(' ')}`);
      if (s.groups * prg > MAX_VMA_PAGES) note(`workloads.${wi}.accesses`, `more groups than one VMA holds pages: accesses past ${MAX_VMA_PAGES} pages revisit pages and fault less`);
      workloads.push(w);
    }
  });

  const latency: NonNullable<ScenarioInput['latency']> = {
    ats_ns: { dist: 'fixed', ns: ATS_FIXED_NS },
    page_request_ns: { dist: 'fixed', ns: PAGE_REQUEST_FIXED_NS },
    irq_ns: { dist: 'fixed', ns: 0 },
    decode_ns: { dist: 'fixed', ns: 0 },
    wq_dispatch_ns: { dist: 'fixed', ns: 0 },
  };
  if (host.table.length > 0) latency.sva_group_ns = { dist: 'empirical', table: host.table };

  const iommuName = res.iommus[0] ?? 'dmar0';
  const scenario: ScenarioInput = {
    name: opts.name ?? 'fitted',
    description: `Fitted by iopf fit from ${opts.source ?? 'a trace'} (${res.format}, ${res.records} records, ${ns(Math.max(0, res.endNs - res.startNs))} of trace)`,
    // The contract (kernel profiles, iopf list profiles): `--kernel mainline` replays the same
    // machine on the kernel's code as read, known defects included.
    kernel: 'reference',
    iommu: { family: 'vtd', name: safeName(iommuName), vtd: { response_pasid: 'required' } },
    iopf: { workers: res.workers },
    devices: devices.length > 0 ? devices : [{ name: 'dev0', rid: '00:00.0' }],
    processes,
    binds,
    workloads,
    latency,
  };
  if (invalid > 0 && answered > 0) scenario.faults = { mm_fault_error: ratioOf(invalid, answered) };

  const overrides = opts.overrides ?? [];
  if (overrides.length > 0) applyOverrides(scenario, overrides);

  // ---- the YAML, with what was and was not fitted said next to each value -----------------------
  const doc = new Document(scenario);
  doc.commentBefore = [
    ` Fitted by \`iopf fit\` (${res.format}, ${res.records} records). Values marked "fitted" come from the`,
    ' trace; the rest are the scenario defaults, which a trace of prq_report/qi_submit cannot show.',
    ' Try a what-if with `iopf run THIS.yaml --set iommu.vtd.prq_order=2 --set iopf.workers=1`.',
  ].join('\n');
  const keyNote = (path: (string | number)[], text: string): void => {
    const parentPath = path.slice(0, -1);
    const parent = (parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true)) as YamlNode | null;
    if (parent === null || !isMap(parent)) return;
    const pair = (parent).items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
    if (pair !== undefined && isScalar(pair.key)) pair.key.commentBefore = ` ${text.replace(/\n/g, '\n ')}`;
  };
  const flowAll = (path: (string | number)[]): void => {
    const n = doc.getIn(path, true) as YamlNode | undefined;
    if (n !== undefined && isMap(n)) (n).flow = true;
  };
  keyNote(['kernel'], 'not visible in a trace: default profile');
  keyNote(['iommu'], `VT-d (the tracepoints are intel_iommu's); name fitted${res.iommus.length > 1 ? ` (trace has ${res.iommus.join(', ')}: the first is modelled)` : ''}.\nprq_order: not visible (default 4, 2048 entries). PRQ thread runs are reported by the fit, not modelled.`);
  keyNote(
    ['iopf'],
    [
      `workers: not visible in a trace; assumed ${res.workers} (iopf fit --workers N), and the measured host time`,
      `split into waiting for one of them and service accordingly. Most groups awaiting a response at once: ${res.maxInService}`,
      ...(res.serviceInconsistent > 0 ? [`${res.serviceInconsistent} groups were answered sooner than ${res.workers} workers allow: the machine likely has more`] : []),
    ].join('\n'),
  );
  keyNote(['devices'], 'fitted: requester IDs, PASID use, PASID in responses, outstanding requests');
  keyNote(['workloads'], 'fitted: one stream per (device, PASID); each access is one new page request group');
  keyNote(['latency'], [
    `fitted: sva_group_ns = the measured L=1 report → response time of each group less its wait for`,
    `one of ${res.workers} workers (FIFO) — the service time (empirical).`,
    'irq_ns, decode_ns, wq_dispatch_ns = 0: their time is inside that measurement.',
    'ats_ns, page_request_ns fixed at their default means: device-side delays that would blur the',
    'fitted arrival gaps. Not visible in the trace, defaults kept: minor_fault_ns, major_fault_ns',
    '(replaced by sva_group_ns for SVA), response_ns, dma_ns, vmm_wake_ns, vmm_service_ns,',
    'guest_round_trip_ns.',
  ].join('\n'));
  if (scenario.faults !== undefined) keyNote(['faults'], `fitted: share of responses that were Invalid or Failure (${invalid} of ${answered})`);
  for (const [path, text] of comments) {
    const p = path.split('.').map((x) => (/^\d+$/.test(x) ? Number(x) : x));
    keyNote(p, text);
  }
  for (const o of overrides) keyNote([...o.path], `--set ${o.text}`);
  for (const k of Object.keys(scenario.latency ?? {})) flowAll(['latency', k]);
  const flowTable = (path: (string | number)[]): void => {
    const spec = doc.getIn(path, true) as YamlNode | undefined;
    if (spec === undefined || !isMap(spec)) return;
    (spec).flow = false;
    const t = doc.getIn([...path, 'table'], true) as YamlNode | undefined;
    if (t !== undefined && 'items' in t) for (const r of (t as unknown as { items: YamlNode[] }).items) if (isMap(r)) (r).flow = true;
  };
  flowTable(['latency', 'sva_group_ns']);
  workloads.forEach((_, i) => {
    flowAll(['workloads', i, 'access']);
    flowTable(['workloads', i, 'interarrival_ns']);
  });
  devices.forEach((_, i) => {
    const rid = doc.getIn(['devices', i, 'rid'], true);
    if (rid instanceof Scalar) rid.type = 'QUOTE_DOUBLE';
  });
  processes.forEach((_, i) => { flowAll(['processes', i, 'vmas', 0]); });
  binds.forEach((_, i) => { flowAll(['binds', i]); });
  const yaml = doc.toString({ lineWidth: 0 });

  // ---- the report ---------------------------------------------------------------------------------
  report.push(`fit: ${res.records.toLocaleString('en-US')} records (${res.format}), ${fittedDevices.length} device(s), ${workloads.length} stream(s), ${ns(Math.max(0, res.endNs - res.startNs))} of trace`);
  for (const s of stages) report.push(stageLine(s));
  for (const d of fittedDevices) {
    report.push(
      `  device ${d.name} rid ${ridString(d.rid)}: ${d.responses} responses (success ${d.success}, invalid ${d.invalid}, failure ${d.failure}), PASID in responses ${d.respWithPasid}/${d.respWithPasid + d.respWithoutPasid}, max outstanding ${d.maxOutstanding}${d.untracked > 0 ? `, ${d.untracked} requests in streams beyond the limit (not fitted)` : ''}`,
    );
  }
  const extra: string[] = [];
  if (workloads.length === 0) extra.push('no page request group in the trace: the scenario has no traffic');
  if (res.stopMarkers > 0) extra.push(`${res.stopMarkers} stop markers (not traffic)`);
  if (res.seqGaps > 0) extra.push(`${res.seqGaps} seq# numbers missing (reports lost by the trace)`);
  if (res.unmatchedResponses > 0) extra.push(`${res.unmatchedResponses} responses without a reported group`);
  if (res.unansweredGroups > 0) extra.push(`${res.unansweredGroups} groups unanswered at the end`);
  if (res.expiredGroups > 0) extra.push(`${res.expiredGroups} groups expired from the bounded table`);
  extra.push(`at most ${res.maxInService} groups awaiting a response at once`);
  if (res.serviceInconsistent > 0) extra.push(`${res.serviceInconsistent} groups answered sooner than ${res.workers} FIFO workers allow (try --workers with more)`);
  report.push(`  ${extra.join('; ')}`);
  report.push('  goodness of fit: KS(table) = largest CDF distance between the measured sample and the table written; KS(exponential) = distance to Poisson arrivals of the same rate');
  return { scenario, yaml, stages, report };
}
