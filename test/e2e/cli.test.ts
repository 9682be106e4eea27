/**
 * The CLI contract, end to end through the built binary (dist/, built by `npm test` before vitest):
 * exit codes, JSON fields, determinism by seed, diagnostics for bad input with no stack trace.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = 'dist/cli/main.js';
const tmp = mkdtempSync(join(tmpdir(), 'iopf-cli-'));

function iopf(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(BIN)) {
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build failed: ${b.stdout}${b.stderr}`);
  }
});

const noStack = (s: string): void => {
  expect(s).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
};

describe('iopf run', () => {
  it('runs the built-in default scenario and prints a summary (exit 0)', () => {
    const r = iopf('run');
    expect(r.code).toBe(0);
    expect(r.out).toContain('scenario "default"');
    expect(r.out).toMatch(/conservation/);
    expect(r.out).toContain('violations: none');
  });

  it('--json carries the contract fields', () => {
    const r = iopf('run', '--seed', '3', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    for (const k of ['seed', 'scenario', 'events', 'virtual_time_ns', 'trace_sha256', 'page_requests', 'groups', 'responses', 'auto_responses', 'dropped', 'violations', 'rules_exercised', 'latency_ns'])
      expect(j).toHaveProperty(k);
    expect(j.seed).toBe(3);
    expect(j.violations).toEqual([]);
    expect(j.latency_ns).toMatchObject({ p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) });
    expect((j.conservation as { unaccounted: number }).unaccounted).toBe(0);
  });

  it('seed 7 twice gives the same trace_sha256; seed 8 another', () => {
    const sha = (seed: string): string => (JSON.parse(iopf('run', '--seed', seed, '--json').out) as { trace_sha256: string }).trace_sha256;
    const a = sha('7');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(sha('7')).toBe(a);
    expect(sha('8')).not.toBe(a);
  });

  it('the trace hash does not depend on writing a trace file', () => {
    const plain = JSON.parse(iopf('run', '--seed', '4', '--json').out) as { trace_sha256: string };
    const traced = JSON.parse(iopf('run', '--seed', '4', '--json', '--trace', join(tmp, 't4.jsonl'), '--ftrace', join(tmp, 't4.ftrace')).out) as { trace_sha256: string };
    expect(traced.trace_sha256).toBe(plain.trace_sha256);
  });

  it('a violated rule exits 1, names the rule and prints the replay command', () => {
    const r = iopf('run', '--bug', 'vtd-response-pasid-always');
    expect(r.code).toBe(1);
    expect(r.out).toContain('HOST.RESP.PASID_IFF_REQUIRED');
    expect(r.out).toContain('replay: iopf run --seed 1 --bug vtd-response-pasid-always');
  });

  it('--until-ns stops at that virtual time', () => {
    const j = JSON.parse(iopf('run', '--until-ns', '1000000', '--json').out) as { virtual_time_ns: number; stop_reason: string };
    expect(j.virtual_time_ns).toBe(1_000_000);
    expect(j.stop_reason).toBe('max-time');
  });

  it('a recorded run replays to the same trace', () => {
    const choices = join(tmp, 'choices.json');
    const first = JSON.parse(iopf('run', '--seed', '5', '--json', '--record-choices', choices).out) as { trace_sha256: string };
    const again = JSON.parse(iopf('replay', choices, '--json').out) as { trace_sha256: string };
    expect(again.trace_sha256).toBe(first.trace_sha256);
  });
});

describe('bad input: exit 2, file:line:col and the field path, no stack trace', () => {
  it('wrong type', () => {
    const r = iopf('run', 'test/fixtures/scenarios/bad-type.yaml');
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('test/fixtures/scenarios/bad-type.yaml:6:19: devices[0].pri.allocation: expected a positive integer, got "many"');
    noStack(r.err);
  });
  it('unknown key', () => {
    const r = iopf('run', 'test/fixtures/scenarios/unknown-key.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toContain('test/fixtures/scenarios/unknown-key.yaml:5:27: devices[0].pri.allocaton: unknown key "allocaton"');
    noStack(r.err);
  });
  it('YAML syntax error', () => {
    const r = iopf('run', 'test/fixtures/scenarios/syntax-error.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^test\/fixtures\/scenarios\/syntax-error\.yaml:\d+:\d+: syntax error: /);
    noStack(r.err);
  });
  it('missing file, binary file, unknown bug, bad option value', () => {
    expect(iopf('run', 'no/such.yaml').code).toBe(2);
    const bin = join(tmp, 'bin.yaml');
    writeFileSync(bin, Buffer.from([0, 1, 2, 255, 0]));
    const b = iopf('run', bin);
    expect(b.code).toBe(2);
    expect(b.err).toContain('binary');
    const u = iopf('run', '--bug', 'no-such-bug');
    expect(u.code).toBe(2);
    expect(u.err).toContain('unknown behaviour switch "no-such-bug"');
    const s = iopf('run', '--seed', 'many');
    expect(s.code).toBe(2);
    noStack(s.err);
    expect(iopf('frobnicate').code).toBe(2);
  });
});

describe('other commands', () => {
  it('schema prints a JSON Schema of scenario files', () => {
    const r = iopf('schema');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { properties: Record<string, unknown> };
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['devices', 'workloads', 'iommu', 'kernel']));
  });

  it('list rules / bugs / scenarios', () => {
    const rules = JSON.parse(iopf('list', 'rules', '--json').out) as { id: string }[];
    expect(rules.map((r) => r.id)).toContain('HOST.RESP.PASID_IFF_REQUIRED');
    const bugs = JSON.parse(iopf('list', 'bugs', '--json').out) as { name: string; scenario: string; summary: string; source: string }[];
    for (const b of bugs) expect(Object.keys(b)).toEqual(expect.arrayContaining(['name', 'scenario', 'summary', 'source']));
    expect(iopf('list', 'scenarios').out).toContain('default');
    expect(iopf('list', 'nonsense').code).toBe(2);
  });

  it('PROFILE.LIST: list profiles --json prints the five profiles and, per behaviour, its kernel source and the profiles that have it', () => {
    const r = iopf('list', 'profiles', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as {
      profiles: { name: string; code: string; switches: string[] }[];
      behaviours: { name: string; kind: string; source: string; profiles: string[] }[];
    };
    expect(doc.profiles.map((p) => p.name)).toEqual(['reference', 'mainline', 'seed', 'v6.9', 'v6.7']);
    expect(doc.profiles[0]!.switches).toEqual([]);
    const names = new Set(doc.behaviours.map((b) => b.name));
    for (const p of doc.profiles) {
      expect(p.code.length).toBeGreaterThan(0);
      for (const sw of p.switches) expect(names.has(sw), `${p.name}: ${sw}`).toBe(true);
    }
    for (const b of doc.behaviours) {
      expect(['bug', 'form']).toContain(b.kind);
      // Each behaviour names the kernel file (drivers/…, a .c file) or the thread it comes from.
      expect(b.source, b.name).toMatch(/drivers\/iommu|\.c\b|seed (thread|patch)|uAPI/);
      for (const p of b.profiles)
        expect(doc.profiles.find((x) => x.name === p)?.switches, b.name).toContain(b.name);
    }
    expect(doc.behaviours.find((b) => b.name === 'vtd-response-pasid-always')?.profiles).toContain(
      'mainline',
    );
    const text = iopf('list', 'profiles').out;
    expect(text).toMatch(/behaviour\s+kind\s+reference\s+mainline\s+seed\s+v6\.9\s+v6\.7/);
  });

  it("PROFILE.KERNEL_OPTION: run --kernel mainline on the default scenario exits 1 naming mainline's defect; --kernel reference is clean; a bad name exits 2", () => {
    const m = iopf('run', '--kernel', 'mainline', '--seed', '1');
    expect(m.code).toBe(1);
    expect(m.out).toContain('kernel mainline');
    expect(m.out).toContain('HOST.RESP.PASID_IFF_REQUIRED');
    expect(m.out).toMatch(
      /known defects of kernel mainline reached[^\n]*\n\s+vtd-response-pasid-always\s+HOST\.RESP\.PASID_IFF_REQUIRED/,
    );
    expect(m.out).toContain('replay: iopf run --seed 1 --kernel mainline');
    const r = iopf('run', '--kernel', 'reference', '--seed', '1');
    expect(r.code).toBe(0);
    const bad = iopf('run', '--kernel', 'v4.2');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--kernel: unknown profile "v4.2"');
    const sw = iopf('sweep', 'vtd-abort', '--seeds', '1..2', '--kernel', 'mainline', '--json');
    expect(sw.code).toBe(1);
    expect((JSON.parse(sw.out) as { kernel: string; failing_seeds: number[] }).kernel).toBe('mainline');
    const ex = iopf('explore', 'vtd-abort', '--runs', '2', '--kernel', 'mainline', '--json');
    expect(ex.code).toBe(1);
    expect((JSON.parse(ex.out) as { found: { rules: string[] } }).found.rules).toContain(
      'HOST.RESP.CODE_DEFINED',
    );
  });

  it('check agrees with run on a clean trace (exit 0), and a broken trace exits 2 with a line number', () => {
    const trace = join(tmp, 'clean.jsonl');
    expect(iopf('run', '--seed', '2', '--trace', trace).code).toBe(0);
    const c = iopf('check', trace);
    expect(c.code).toBe(0);
    expect(c.out).toContain('violations: none');
    const lines = readFileSync(trace, 'utf8').split('\n');
    const broken = join(tmp, 'broken.jsonl');
    writeFileSync(broken, [lines[0], lines[1], '{"t": 5, "ev": "page_req', lines[2]].join('\n'));
    const b = iopf('check', broken);
    expect(b.code).toBe(2);
    expect(b.out).toMatch(/broken\.jsonl:3(:\d+)?: error: /);
    noStack(b.out + b.err);
  });

  it('check of an ftrace written by run --ftrace: the PASID bug is seen with a device hint', () => {
    const ft = join(tmp, 'bug.ftrace');
    expect(iopf('run', '--bug', 'vtd-response-pasid-always', '--ftrace', ft).code).toBe(1);
    const r = iopf('check', ft, '--device', '00:02.0:1', '--device', '03:00.0:0');
    expect(r.code).toBe(1);
    expect(r.out).toContain('HOST.RESP.PASID_IFF_REQUIRED');
    const clean = join(tmp, 'clean.ftrace');
    expect(iopf('run', '--ftrace', clean).code).toBe(0);
    expect(iopf('check', clean, '--device', '00:02.0:1', '--device', '03:00.0:0').code).toBe(0);
  });

  it('check --scenario takes the hints from the scenario: offline and online counts agree', () => {
    const trace = join(tmp, 'bug.jsonl');
    const online = JSON.parse(iopf('run', '--bug', 'vtd-response-pasid-always', '--trace', trace, '--json').out) as { violations_total: number };
    const offline = JSON.parse(iopf('check', trace, '--scenario', 'default', '--json').out) as { violationCount: number; violationsByRule: Record<string, number> };
    expect(offline.violationCount).toBe(online.violations_total);
    expect(Object.keys(offline.violationsByRule).sort()).toEqual(['HOST.RESP.PASID_IFF_REQUIRED', 'PRI.RESP.PASID_FORM']);
    const ft = join(tmp, 'bug2.ftrace');
    iopf('run', '--bug', 'vtd-response-pasid-always', '--ftrace', ft);
    expect(iopf('check', ft, '--scenario', 'default').out).toContain('HOST.RESP.PASID_IFF_REQUIRED');
  });

  it('explore: random schedules find a bug variant and print the replay command; a clean scenario exits 0', () => {
    const bad = iopf('explore', 'flush-partial-interleaved', '--bug', 'flush-partial-stops-early', '--runs', '3');
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('CORE.FLUSH.NOTHING_PENDING');
    expect(bad.out).toContain('replay: iopf run flush-partial-interleaved --seed 1 --bug flush-partial-stops-early');
    const ok = iopf('explore', 'test/fixtures/scenarios/tiny-ties.yaml', '--mode', 'exhaustive', '--runs', '20', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ mode: 'exhaustive', runs: 20, found: null });
  });

  it('sweep shards merge into the same totals as one sweep', () => {
    const a = join(tmp, 'a.json');
    const b = join(tmp, 'b.json');
    expect(iopf('sweep', 'amd', '--seeds', '1..4', '--shard', '0/2', '--out', a).code).toBe(0);
    expect(iopf('sweep', 'amd', '--seeds', '1..4', '--shard', '1/2', '--out', b).code).toBe(0);
    const merged = JSON.parse(iopf('merge', a, b, '--json').out) as { runs: number; page_requests: number; latency_ns: { count: number } };
    const whole = JSON.parse(iopf('sweep', 'amd', '--seeds', '1..4', '--json').out) as { runs: number; page_requests: number; latency_ns: { count: number } };
    expect(merged).toEqual(whole);
    expect(merged.runs).toBe(4);
  });
});
