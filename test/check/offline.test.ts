import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFtraceFile, checkJsonlFile } from '../../src/check/offline.js';
import { RULE_IDS, RULES } from '../../src/check/rules/index.js';
import { formatJsonlEvent } from '../../src/trace/jsonl.js';
import { BASE_OPTS, CASES, type Ev } from './cases.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'jsonl');
const FTRACE_FIX = join(import.meta.dirname, '..', 'fixtures', 'ftrace');
const UPDATE = process.env.UPDATE_FIXTURES === '1';

function jsonl(evs: Ev[]): string {
  return evs.map((e) => formatJsonlEvent(...e)).join('\n') + '\n';
}

/** The crafted fixtures, generated from the case table (UPDATE_FIXTURES=1 rewrites them). */
const FIXTURES: Record<string, string | Buffer> = {
  'good.jsonl': jsonl(CASES['VTD.DRAIN.COMPLETE']!.good),
  'unknown-kind.jsonl': '{"t":10,"ev":"device_add","dev":0,"result":0}\n{"t":20,"ev":"teleport","dev":0}\n{"t":30,"ev":"device_remove","dev":0}\n',
  'out-of-order.jsonl': '{"t":10,"ev":"device_add","dev":0,"result":0}\n{"t":30,"ev":"device_add","dev":1,"result":0}\n{"t":20,"ev":"device_remove","dev":0}\n',
  'truncated.jsonl': '{"t":10,"ev":"device_add","dev":0,"result":0}\n{"t":20,"ev":"device_remove","de',
  'binary.jsonl': Buffer.concat([
    Buffer.from('{"t":10,"ev":"device_add","dev":0,"result":0}\n'),
    Buffer.from([0x00, 0x13, 0x37, 0xfe, 0xff, 0x00, 0x0a]),
    Buffer.from('{"t":20,"ev":"device_remove","dev":0}\n'),
  ]),
  'bad-dev.jsonl': '{"t":10,"ev":"device_add","dev":4096,"result":0}\n',
};
for (const id of RULE_IDS) FIXTURES[`${id}.jsonl`] = jsonl(CASES[id]!.bad);

function optsFor(id: string): Parameters<typeof checkJsonlFile>[1] {
  const o = { ...BASE_OPTS, ...CASES[id]?.opts };
  const { mode: _m, inputs: _i, ...rest } = o;
  return rest;
}

describe('JSONL fixtures', () => {
  it('are in sync with the case table', () => {
    for (const [name, content] of Object.entries(FIXTURES)) {
      const path = join(FIX, name);
      if (UPDATE || !existsSync(path)) writeFileSync(path, content);
      expect(readFileSync(path).equals(Buffer.from(content)), name).toBe(true);
    }
  });
});

describe('checkJsonlFile', () => {
  it('good trace: clean, no diagnostics, rules exercised', async () => {
    const r = await checkJsonlFile(join(FIX, 'good.jsonl'), optsFor('VTD.DRAIN.COMPLETE'));
    expect(r.violations).toEqual([]);
    expect(r.diagnostics).toEqual([]);
    expect(r.errorCount).toBe(0);
    expect(r.rulesExercised).toContain('VTD.DRAIN.COMPLETE');
    expect(r.records).toBe(CASES['VTD.DRAIN.COMPLETE']!.good.length);
    expect(r.latency.count).toBe(2);
  });

  for (const id of RULE_IDS) {
    it(`${id}: the crafted fixture breaks it, with the line of the triggering event`, async () => {
      const path = join(FIX, `${id}.jsonl`);
      const r = await checkJsonlFile(path, optsFor(id));
      expect(r.diagnostics).toEqual([]);
      expect(Object.keys(r.violationsByRule)).toContain(id);
      const lines = readFileSync(path, 'utf8').split('\n');
      for (const v of r.violations) {
        if (v.line !== undefined) expect(lines[v.line - 1]).toBe(v.events);
      }
      // Rules checked at the end of the run carry no line; the others point at their event.
      const mine = r.violations.filter((v) => v.rule === id);
      expect(mine.length).toBeGreaterThan(0);
    });
  }

  it('unknown kind: diagnostic on line 2, the other events still checked', async () => {
    const r = await checkJsonlFile(join(FIX, 'unknown-kind.jsonl'));
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[2, 'unknown-kind']]);
    expect(r.errorCount).toBe(1);
    expect(r.records).toBe(2);
  });

  it('out-of-order timestamps: diagnostic on line 3', async () => {
    const r = await checkJsonlFile(join(FIX, 'out-of-order.jsonl'));
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[3, 'out-of-order']]);
  });

  it('truncated line: diagnostic on line 2', async () => {
    const r = await checkJsonlFile(join(FIX, 'truncated.jsonl'));
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[2, 'malformed']]);
  });

  it('binary garbage: diagnostic on line 2, line 3 still read', async () => {
    const r = await checkJsonlFile(join(FIX, 'binary.jsonl'));
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[2, 'binary']]);
    expect(r.records).toBe(2);
  });

  it('device id outside the table: diagnostic, not a crash', async () => {
    const r = await checkJsonlFile(join(FIX, 'bad-dev.jsonl'));
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[1, 'bad-field']]);
  });

  it('a 1 MB line: diagnostic with its line number, in bounded memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chk-'));
    const path = join(dir, 'long.jsonl');
    writeFileSync(path, `{"t":1,"ev":"device_add","dev":0,"result":0}\n{"t":2,"ev":"device_remove","dev":0,"x":"${'y'.repeat(1 << 20)}"}\n`);
    const r = await checkJsonlFile(path);
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[2, 'line-too-long']]);
  });

  it('caps stored diagnostics but counts them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chk-'));
    const path = join(dir, 'many.jsonl');
    writeFileSync(path, 'nope\n'.repeat(50));
    const r = await checkJsonlFile(path, { maxDiagnostics: 7 });
    expect(r.diagnostics).toHaveLength(7);
    expect(r.diagnosticCount).toBe(50);
    expect(r.errorCount).toBe(50);
  });
});

const PFX = '  irq/140-dmar0-p-812     [003] .....';
const RFX = '    kworker/u8:2-97      [001] .....';
const prq = (ts: string, seq: number, perms: string, pasid: number, idx: number, rid = 0x50): string =>
  `${PFX}  ${ts}: prq_report: dmar0/0000:00:0a.0 seq# ${seq}: rid=0x${rid.toString(16)} addr=0x1000${seq} ${perms} pasid=0x${pasid.toString(16)} index=0x${idx.toString(16)}`;
/** qi_submit page_grp_resp for rid 0x50. */
const resp = (ts: string, pasid: number | null, code: number, idx: number, rid = 0x50): string => {
  const w0 = (9 | (pasid !== null ? 1 << 4 : 0) | (code << 12) | (rid << 16)) >>> 0;
  const qw0 = (BigInt(pasid ?? 0) << 32n) | BigInt(w0);
  return `${RFX}  ${ts}: qi_submit: page_grp_resp dmar0: 0x${qw0.toString(16)} 0x${(idx << 3).toString(16)} 0x0 0x0`;
};

async function ftrace(lines: string[], devices = new Map([[0x50, { pasidRequired: true }]])) {
  const dir = mkdtempSync(join(tmpdir(), 'ft-'));
  const path = join(dir, 't.trace');
  writeFileSync(path, '# tracer: nop\n#\n' + lines.join('\n') + '\n');
  return checkFtraceFile(path, { devices });
}

describe('checkFtraceFile', () => {
  it('the shipped clean samples are clean (devices: 0x50 requires PASID, 0x58 has no PASID)', async () => {
    const devices = new Map([
      [0x50, { pasidRequired: true }],
      [0x58, { pasidRequired: false }],
    ]);
    for (const f of ['clean.trace', 'clean-trace-cmd.txt']) {
      const r = await checkFtraceFile(join(FTRACE_FIX, f), { devices });
      expect(r.violations, f).toEqual([]);
      expect(r.errorCount, f).toBe(0);
      expect(r.latency.count, f).toBe(4);
      expect(r.rulesExercised).toContain('HOST.RESP.PASID_IFF_REQUIRED');
    }
  });

  it('exercises only rules marked checkable from ftrace', async () => {
    const r = await checkFtraceFile(join(FTRACE_FIX, 'clean.trace'), { devices: new Map([[0x50, { pasidRequired: true }]]) });
    const ok = new Set(RULES.filter((x) => x.ftrace).map((x) => x.id));
    for (const id of r.rulesExercised) expect(ok.has(id), id).toBe(true);
  });

  it('HOST.RESP.ONE_PER_GROUP: a second response for a group (line 5)', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r---l', 2, 1), resp('100.000010', 2, 0, 1), resp('100.000020', 2, 0, 1)]);
    expect(r.violations.map((v) => [v.rule, v.line])).toEqual([['HOST.RESP.ONE_PER_GROUP', 5]]);
  });

  it('HOST.RESP.NO_PARTIAL: response to L=0 requests only', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r----', 2, 1), resp('100.000010', 2, 1, 1)]);
    expect(r.violations.map((v) => [v.rule, v.line])).toEqual([['HOST.RESP.NO_PARTIAL', 4]]);
  });

  it('HOST.RESP.PASID_IFF_REQUIRED: PASID sent to a device that does not require it', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r---l', 2, 1), resp('100.000010', 2, 0, 1)], new Map([[0x50, { pasidRequired: false }]]));
    expect(r.violations.map((v) => v.rule)).toEqual(['HOST.RESP.PASID_IFF_REQUIRED']);
  });

  it('HOST.RESP.CODE_DEFINED: reserved code 3', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r---l', 2, 1), resp('100.000010', 2, 3, 1)]);
    expect(r.violations.map((v) => v.rule)).toEqual(['HOST.RESP.CODE_DEFINED']);
  });

  it('HOST.STOP.NO_RESPONSE: a Stop Marker answered', async () => {
    const r = await ftrace([prq('100.000001', 1, '----l', 2, 7), resp('100.000010', 2, 1, 7)]);
    expect(r.violations.map((v) => v.rule)).toEqual(['HOST.STOP.NO_RESPONSE']);
  });

  it('PRI.GROUP.LAST_CLOSES: a request under a closed, unanswered index', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r---l', 2, 1), prq('100.000002', 2, 'r---l', 2, 1), resp('100.000010', 2, 0, 1)]);
    expect(r.violations.map((v) => [v.rule, v.line])).toEqual([['PRI.GROUP.LAST_CLOSES', 4]]);
  });

  it('LIVENESS.ALL_ANSWERED: a group never answered', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r---l', 2, 1)]);
    expect(r.violations.map((v) => v.rule)).toEqual(['LIVENESS.ALL_ANSWERED']);
  });

  it('malformed lines are diagnostics with line numbers', async () => {
    const r = await ftrace([prq('100.000001', 1, 'r---l', 2, 1), `${PFX}  100.000002: prq_report: dmar0/x seq# 2: rid=0xZZ`, resp('100.000010', 2, 0, 1)]);
    expect(r.diagnostics.map((d) => [d.lineNo, d.code])).toEqual([[4, 'malformed']]);
    expect(r.violations).toEqual([]);
  });
});
