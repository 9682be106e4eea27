import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkFtraceFile, checkJsonlFile, parseScenario, simulate } from '../../src/api.js';
import { fitTrace, fittedScenario, jsonlRid } from '../../src/fit/index.js';
import { FtraceWriter } from '../../src/trace/ftrace-writer.js';
import { JsonlWriter } from '../../src/trace/jsonl.js';
import { formatPrqReport, formatQiSubmitPageGrpResp } from '../../src/io/ftrace.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

function text(lines: string[]): Readable {
  return Readable.from([lines.join('\n') + '\n']);
}

/** A prq_report line (seq#, rid 0x10, PASID 5 unless given). */
function req(tsNs: number, seq: number, prgi: number, last: boolean, o: { rid?: number; pasid?: number; write?: boolean } = {}): string {
  return formatPrqReport(
    { kind: 'page_request', tsNs, iommu: 'dmar0', device: '0000:00:02.0', seq, rid: o.rid ?? 0x10, pageNumber: 0x1000 + seq, read: true, write: o.write ?? false, exec: false, priv: false, last, pasid: o.pasid ?? 5, prgi },
    { nsTimestamps: true },
  );
}
function resp(tsNs: number, prgi: number, o: { rid?: number; pasid?: number; code?: number } = {}): string {
  return formatQiSubmitPageGrpResp(
    { kind: 'page_response', tsNs, iommu: 'dmar0', rid: o.rid ?? 0x10, pasidPresent: (o.pasid ?? 5) >= 0, pasid: Math.max(0, o.pasid ?? 5), code: o.code ?? 0, prgi, lpig: true },
    { nsTimestamps: true },
  );
}

describe('iopf fit: measurement', () => {
  it('FIT.GROUP_LATENCY: L=1 report → response of the same RID and PRG index; group sizes and gaps per stream', async () => {
    const r = await fitTrace(
      text([req(1000, 1, 3, false), req(1100, 2, 3, true), req(5000, 3, 4, true), resp(6100, 3), resp(9000, 4), req(20000, 4, 3, true), resp(20500, 3)]),
      { format: 'ftrace' },
    );
    expect(r.errorCount).toBe(0);
    expect(r.hostLatency.count).toBe(3);
    expect(r.hostLatency.summary().max).toBe(5000);
    expect(r.hostLatency.summary().min).toBe(500);
    const d = r.devices[0]!;
    expect(d.rid).toBe(0x10);
    expect(d.streams).toHaveLength(1);
    const s = d.streams[0]!;
    expect(s.pasid).toBe(5);
    expect(s.groups).toBe(3);
    expect(s.requests).toBe(4);
    expect([s.groupSizes[1], s.groupSizes[2]]).toEqual([2, 1]);
    // Group starts at 1000, 5000, 20000.
    expect(s.groupGap.count).toBe(2);
    expect(s.groupGap.summary().min).toBe(4000);
    expect(s.groupGap.summary().max).toBe(15000);
    expect(d.respWithPasid).toBe(3);
    expect(d.maxOutstanding).toBe(3);
    expect(d.outstanding).toBe(0);
  });

  it('FIT.SERVICE.FIFO: the wait for a worker is taken out of the host time (Kiefer–Wolfowitz recursion)', async () => {
    // Three groups reported together, answered 10 µs apart: one worker serving each for 10 µs.
    const lines = [req(0, 1, 1, true), req(0, 2, 2, true), req(0, 3, 3, true), resp(10000, 1), resp(20000, 2), resp(30000, 3)];
    const one = await fitTrace(text(lines), { format: 'ftrace', workers: 1 });
    expect(one.hostLatency.summary()).toMatchObject({ n: 3, min: 10000, max: 30000 });
    expect(one.hostService.summary()).toMatchObject({ n: 3, min: 10000, max: 10000 });
    expect(one.serviceInconsistent).toBe(0);
    // With 4 workers all three started at once: their service is their whole host time.
    const four = await fitTrace(text(lines), { format: 'ftrace', workers: 4 });
    expect(four.hostService.summary()).toMatchObject({ min: 10000, max: 30000 });
    // Answered out of order: group 2 first. FIFO with one worker still serves 1 before 2.
    const ooo = await fitTrace(text([req(0, 1, 1, true), req(0, 2, 2, true), resp(5000, 2), resp(12000, 1)]), { format: 'ftrace', workers: 1 });
    expect(ooo.serviceInconsistent).toBe(1);
    expect(ooo.hostService.count).toBe(2);
  });

  it('FIT.DEVICE.RESPONSE_PASID: responses without the PASID of a PASID request mean the function does not require it', async () => {
    const r = await fitTrace(join(FIXTURES, 'ftrace', 'clean.trace'));
    const s = fittedScenario(r);
    const devs = s.scenario.devices;
    expect(devs.map((d) => d.rid)).toEqual(['00:0a.0', '00:0b.0']);
    // 0a.0 answered with its PASID; 0b.0 sent no PASID at all (default: required).
    expect(devs[0]!.pri?.response_pasid_required).toBe(true);
    const r2 = await fitTrace(text([req(0, 1, 1, true, { rid: 0x58, pasid: 3 }), resp(100, 1, { rid: 0x58, pasid: -1 })]), { format: 'ftrace' });
    expect(fittedScenario(r2).scenario.devices[0]!.pri?.response_pasid_required).toBe(false);
    expect(s.scenario.workloads?.find((w) => w.device === '0000:00:0b.0')?.with_pasid).toBe(false);
  });

  it('FIT.PRQ.BATCH: runs of consecutive seq# reported close together; missing seq# counted as lost reports', async () => {
    const r = await fitTrace(
      text([req(0, 10, 1, true), req(300, 11, 2, true), req(600, 12, 3, true), req(100000, 13, 4, true), req(100200, 17, 5, true)]),
      { format: 'ftrace', batchGapNs: 1000 },
    );
    expect(r.batchSize.count).toBe(3);
    expect(r.batchSize.summary()).toMatchObject({ max: 3, min: 1 });
    expect(r.seqGaps).toBe(3);
    expect(r.batchGap.summary()).toMatchObject({ n: 2, min: 300, max: 300 });
  });

  it('FIT.BOUNDED: open groups live in a table of fixed size; the oldest is expired when it is full', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) lines.push(req(i * 10, i + 1, i, true));
    const r = await fitTrace(text(lines), { format: 'ftrace', maxOpenGroups: 64 });
    expect(r.expiredGroups).toBe(500 - 64);
    expect(r.unansweredGroups).toBe(64);
    expect(r.maxInService).toBe(64);
  });

  it('FIT.STOP_MARKER: Stop Markers are counted, not traffic', async () => {
    const stop = formatPrqReport(
      { kind: 'page_request', tsNs: 50, iommu: 'dmar0', device: 'x', seq: 2, rid: 0x10, pageNumber: 0, read: false, write: false, exec: false, priv: false, last: true, pasid: 5, prgi: 0 },
      { nsTimestamps: true },
    );
    const r = await fitTrace(text([req(0, 1, 1, true), stop, resp(90, 1)]), { format: 'ftrace' });
    expect(r.stopMarkers).toBe(1);
    expect(r.devices[0]!.streams[0]!.requests).toBe(1);
  });

  it('FIT.JSONL_EQUALS_FTRACE: the JSONL and the ftrace of one run fit to the same figures', async () => {
    const p = parseScenario(
      `
devices: [{ name: gpu0, rid: "00:02.0" }]
processes: [{ name: p0, vmas: [{ start: 0x10000000, size: 16MiB, perms: rw }] }]
binds: [{ device: gpu0, process: p0 }]
workloads: [{ device: gpu0, process: p0, pattern: random, rate_per_us: 0.2, accesses: 800, prg_pages: 2 }]
`,
      'j.yaml',
    );
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const s = p.value;
    const jl: string[] = [];
    const ft: string[] = [];
    simulate(s, { seed: 3, sinks: [new JsonlWriter((c) => jl.push(c)), new FtraceWriter(s.iommu.name, [{ rid: jsonlRid(0), name: 'gpu0' }], (c) => ft.push(c))] });
    const a = await fitTrace(Readable.from([jl.join('')]), { format: 'jsonl' });
    const b = await fitTrace(Readable.from([ft.join('')]), { format: 'ftrace' });
    expect(a.errorCount + b.errorCount).toBe(0);
    expect(a.hostLatency.count).toBeGreaterThan(100);
    expect(a.hostLatency.summary()).toEqual(b.hostLatency.summary());
    expect(a.hostService.summary()).toEqual(b.hostService.summary());
    const sa = a.devices[0]!.streams[0]!;
    const sb = b.devices[0]!.streams[0]!;
    expect([sa.groups, sa.requests, sa.writes]).toEqual([sb.groups, sb.requests, sb.writes]);
    expect(sa.groupGap.summary()).toEqual(sb.groupGap.summary());
  });
});

describe('iopf fit: the held-in fixtures', () => {
  const cases = [
    ...readdirSync(join(FIXTURES, 'ftrace')).filter((f) => !f.endsWith('.md')).map((f) => ['ftrace', f] as const),
    ...readdirSync(join(FIXTURES, 'jsonl')).map((f) => ['jsonl', f] as const),
  ];
  for (const [fmt, file] of cases) {
    it(`FIT.FIXTURE: ${fmt}/${file}: the same diagnostics as iopf check; a clean trace gives a loadable scenario`, async () => {
      const path = join(FIXTURES, fmt, file);
      const fit = await fitTrace(path, { format: fmt });
      const chk = fmt === 'jsonl' ? await checkJsonlFile(path) : await checkFtraceFile(path);
      expect(fit.diagnostics).toEqual(chk.diagnostics);
      expect(fit.errorCount).toBe(chk.errorCount);
      expect(fit.records).toBe(chk.records);
      if (fit.errorCount > 0) return;
      const fs = fittedScenario(fit, { source: file });
      const loaded = parseScenario(fs.yaml, `${file}.yaml`);
      expect(loaded.ok, JSON.stringify(loaded.ok ? '' : loaded.errors)).toBe(true);
      if (loaded.ok && loaded.value.workloads.length > 0) {
        const run = simulate(loaded.value, { seed: 1 });
        expect(run.invariant).toBeUndefined();
        expect(run.report.groups).toBeGreaterThan(0);
      }
    });
  }
});
