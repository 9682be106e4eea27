/**
 * Online and offline checking agree (issue 7 acceptance): the default scenario at seed 1 is run
 * once with the online monitor and two trace writers (canonical JSONL, Linux ftrace text); the
 * offline checker then reads each file. JSONL carries every event, so it must give the same
 * violations (by rule and count) and the same rules exercised. ftrace carries host-side events
 * only (prq_report, qi_submit page_grp_resp): it must agree on the rules marked `ftrace: true`.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RULES, checkFtraceFile, checkJsonlFile, simulate } from '../../src/api.js';
import { TraceKind } from '../../src/trace/events.js';
import { loadScenario } from '../../src/scenario/files.js';
import type { Scenario } from '../../src/scenario/schema.js';
import { JsonlWriter } from '../../src/trace/jsonl.js';
import { FtraceWriter } from '../../src/trace/ftrace-writer.js';
import type { OfflineResult } from '../../src/check/offline.js';
import { Monitor, type MonitorOptions } from '../../src/check/monitor.js';

const tmp = mkdtempSync(join(tmpdir(), 'iopf-online-offline-'));
const FTRACE_RULES = new Set(RULES.filter((r) => r.ftrace).map((r) => r.id));

function fileWriter(path: string): { write: (s: string) => void; close: () => void } {
  const fd = openSync(path, 'w');
  return { write: (s) => writeSync(fd, s), close: () => closeSync(fd) };
}

function byRule(vs: readonly { rule: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vs) out[v.rule] = (out[v.rule] ?? 0) + 1;
  return out;
}

function only(rec: Record<string, number>, keep: Set<string>): Record<string, number> {
  return Object.fromEntries(Object.entries(rec).filter(([k]) => keep.has(k)));
}

interface Runs {
  online: ReturnType<typeof simulate>['report'];
  /** A second online monitor, as simulate() builds it but storing every violation: per-rule counts. */
  counts: Record<string, number>;
  jsonl: OfflineResult;
  ftrace: OfflineResult;
}

async function runBoth(name: string, bugs: string[]): Promise<Runs> {
  const l = loadScenario('default');
  if (!l.ok) throw new Error('default scenario does not load');
  const sc: Scenario = l.value.scenario;
  const jpath = join(tmp, `${name}.jsonl`);
  const fpath = join(tmp, `${name}.ftrace`);
  const jw = fileWriter(jpath);
  const fw = fileWriter(fpath);
  const devs = sc.devices.map((d) => ({ rid: d.rid, name: d.name }));
  // What the online monitor knows from the scenario (as simulate() builds it); the offline
  // checker gets the same hints.
  const hints = {
    queueCapacity: new Map([[0, 2 ** (sc.iommu.vtd.prq_order + 7)]]),
    overflowAutoResponse: new Map([[0, true]]),
    deviceRequiresPasid: (dev: number) => sc.devices[dev]?.pri.response_pasid_required,
    creditAllocation: (dev: number) => sc.devices[dev]?.pri.allocation,
  } satisfies Partial<MonitorOptions>;
  const counter = new Monitor({ mode: 'full', maxViolations: 1_000_000, flushContract: 'workqueue', ...hints });
  const online = simulate(sc, {
    seed: 1,
    bugs,
    check: 'full',
    sinks: [counter, new JsonlWriter(jw.write, { close: jw.close }), new FtraceWriter(sc.iommu.name, devs, fw.write, fw.close)],
  }).report;
  const jsonl = await checkJsonlFile(jpath, { mode: 'full', maxViolations: 1_000_000, ...hints });
  const ftrace = await checkFtraceFile(fpath, {
    mode: 'full',
    maxViolations: 1_000_000,
    devices: new Map(sc.devices.map((d) => [d.rid, { pasidRequired: d.pri.response_pasid_required }])),
  });
  // The second monitor is the online one's twin: same verdict, same coverage.
  expect(counter.violationCount()).toBe(online.violations_total);
  expect(counter.rulesExercised()).toEqual(online.rules_exercised);
  return { online, counts: counter.violationsByRule(), jsonl, ftrace };
}

describe('online monitor vs offline check of the same run (default scenario, seed 1)', () => {
  it('clean run: JSONL gives the same violations (none) and the same rules exercised', async () => {
    const { online, jsonl } = await runBoth('clean', []);
    expect(online.violations_total).toBe(0);
    expect(jsonl.errorCount).toBe(0);
    expect(jsonl.violationCount).toBe(0);
    expect(jsonl.rulesExercised).toEqual(online.rules_exercised);
    expect(jsonl.records).toBeGreaterThan(online.page_requests);
  });

  it('clean run: ftrace is clean too and exercises only host-visible rules the online run exercised', async () => {
    const { online, ftrace } = await runBoth('clean-f', []);
    expect(ftrace.errorCount).toBe(0);
    expect(ftrace.violationCount).toBe(0);
    expect(ftrace.rulesExercised.length).toBeGreaterThan(0);
    for (const id of ftrace.rulesExercised) {
      expect(FTRACE_RULES.has(id), `${id} is an ftrace rule`).toBe(true);
      expect(online.rules_exercised).toContain(id);
    }
    // Every host-visible rule the model run exercised is exercised from its ftrace as well, except
    // what only Stop Markers exercise: prq_event_thread drops them before trace_prq_report, so a
    // kernel's trace (and the model's, written the same way) never shows one.
    const STOP_ONLY = new Set(['HOST.STOP.NO_RESPONSE']);
    expect(online.rules_exercised.filter((id) => FTRACE_RULES.has(id) && !STOP_ONLY.has(id))).toEqual([...ftrace.rulesExercised]);
  });

  it('--bug vtd-response-pasid-always: JSONL agrees by rule and count; ftrace agrees on the ftrace rules', async () => {
    const { online, counts, jsonl, ftrace } = await runBoth('pasid-always', ['vtd-response-pasid-always']);
    const onlineByRule = counts;
    expect(byRule(online.violations)).toHaveProperty('HOST.RESP.PASID_IFF_REQUIRED');
    expect(onlineByRule['HOST.RESP.PASID_IFF_REQUIRED']).toBeGreaterThan(0);
    expect(jsonl.violationCount).toBe(online.violations_total);
    expect(jsonl.violationsByRule).toEqual(onlineByRule);
    expect(jsonl.rulesExercised).toEqual(online.rules_exercised);
    expect(ftrace.errorCount).toBe(0);
    expect(ftrace.violationsByRule).toEqual(only(onlineByRule, FTRACE_RULES));
    expect(Object.keys(ftrace.violationsByRule)).toContain('HOST.RESP.PASID_IFF_REQUIRED');
  });
});

describe('the model ftrace writer traces what a VT-d kernel traces (prq.c prq_event_thread)', () => {
  it('FTRACE.WRITER.KERNEL_POINTS: prq_report at the fault_report, numbered from 0, none for a Stop Marker or a dropped request', () => {
    const l = loadScenario('default');
    if (!l.ok) throw new Error('default scenario does not load');
    const sc: Scenario = l.value.scenario;
    const devs = sc.devices.map((d) => ({ rid: d.rid, name: d.name }));
    let text = '';
    /** Every event, to compare against (time, kind, fields). */
    const events: number[][] = [];
    const recorder = {
      onEvent: (t: number, k: number, f0: number, f1: number, f2: number, f3: number, f4: number, f5: number) => {
        events.push([t, k, f0, f1, f2, f3, f4, f5]);
      },
      finish: () => undefined,
    };
    simulate(sc, { seed: 1, check: 'off', sinks: [recorder, new FtraceWriter(sc.iommu.name, devs, (s) => void (text += s))] });
    const reports = text.split('\n').filter((x) => x.includes('prq_report:'));
    const faultReports = events.filter((e) => e[1] === TraceKind.FAULT_REPORT);
    const stopMarkers = events.filter((e) => e[1] === TraceKind.STOP_MARKER);
    expect(stopMarkers.length, 'the default scenario sends Stop Markers').toBeGreaterThan(0);
    // One prq_report per report to the core, in order, at its time, seq# from 0.
    expect(reports.length).toBe(faultReports.length);
    reports.forEach((line, i) => {
      const m = /\s(\d+)\.(\d{9}): prq_report: \S+ seq# (\d+): .* ([r-][w-][x-][p-][l-]) pasid=0x[0-9a-f]+ index=0x([0-9a-f]+)$/.exec(line);
      expect(m, line).not.toBeNull();
      const e = faultReports[i]!;
      expect(Number(m![1]) * 1e9 + Number(m![2])).toBe(e[0]);
      expect(Number(m![3])).toBe(i);
      expect(parseInt(m![5]!, 16)).toBe(e[4]! & 0x1ff);
      // A Stop Marker (L=1, R=W=0) is never traced.
      expect(m![4]!.startsWith('--') && m![4]!.endsWith('l')).toBe(false);
    });
  });
});
