/**
 * Issue 13's seventeen defects, each fed its reproducer (titles HOSTILE.NN.<what>): bad input is
 * exit 2 with a located one-line message, a valid scenario runs, the checker stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario } from '../../src/scenario/loader.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { loadScenario, simulate } from '../../src/api.js';
import { checkFtrace, checkJsonl } from '../../src/check/offline.js';
import { parseJsonlText } from '../../src/trace/jsonl.js';
import { cli, smallScenario, spawnCli, STACK_LINE, tempDir } from './harness.js';

const tmp = tempDir('hostile');

function load(s: unknown, file = 'x.json') {
  return parseScenario(typeof s === 'string' ? s : JSON.stringify(s), file);
}

/** The scenario is refused with a located error whose text matches. */
function refused(s: unknown, what: RegExp): string {
  const r = load(s);
  expect(r.ok, 'expected the scenario to be refused').toBe(false);
  if (r.ok) return '';
  const lines = r.errors.map(formatDiagnostic);
  expect(lines.join('\n')).toMatch(what);
  for (const l of lines) expect(l).not.toContain('\n');
  return lines.join('\n');
}

/** The scenario loads and runs without a broken invariant. */
function runsClean(s: unknown, opts: { maxEvents?: number } = {}) {
  const r = load(s);
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  const res = simulate(r.value, { seed: 1, ...(opts.maxEvents !== undefined ? { maxEvents: opts.maxEvents } : {}) });
  expect(res.invariant?.message).toBeUndefined();
  return res;
}

// A scenario document being mutated: any shape goes (that is the point).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

function with_(mutate: (s: Doc) => void): Doc {
  const s = smallScenario() as Doc;
  mutate(s);
  return s;
}

describe('issue 13 reproducers', () => {
  it('HOSTILE.01.TRUNCATED_NUMBER: a JSONL line ending inside a number is a located error, not a hang', async () => {
    for (const line of ['{"t":1', '{"t":12345', '{"t":1,"ev":"ats","dev":0,"pasid":1,"prgi":0,"req":5,"result":0,"page":7']) {
      const items = parseJsonlText(line);
      expect(items).toHaveLength(1);
      expect(items[0]!.type).toBe('diagnostic');
      const r = await checkJsonl(Readable.from([Buffer.from(line)]));
      expect(r.errorCount).toBe(1);
      expect(r.diagnostics[0]!.lineNo).toBe(1);
    }
    const f = join(tmp, 'trunc.jsonl');
    writeFileSync(f, '{"t":1');
    const c = await cli('check', f);
    expect(c.code).toBe(2);
    expect(c.out).toMatch(/trunc\.jsonl:1:\d+: error: expected a complete JSON object/);
  });

  it('HOSTILE.02.NON_REGULAR_FILE: /dev/zero, a directory, a FIFO and an oversized file are refused before reading', async () => {
    const zero = loadScenario('/dev/zero');
    expect(zero.ok).toBe(false);
    if (!zero.ok) expect(zero.errors[0]!.message).toMatch(/character device, expected a regular file/);
    const dir = loadScenario(tmp);
    expect(!dir.ok && dir.errors[0]!.message).toMatch(/a directory/);
    const fifo = join(tmp, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      const r = loadScenario(fifo);
      expect(!r.ok && r.errors[0]!.message).toMatch(/a FIFO/);
    }
    const big = join(tmp, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, 64 << 20);
    const b = loadScenario(big);
    expect(!b.ok && b.errors[0]!.message).toMatch(/larger than the limit of 16777216 bytes/);
    expect((await cli('run', '/dev/zero')).code).toBe(2);
    expect((await cli('check', join(tmp, 'none.jsonl'), '--scenario', '/dev/zero')).code).toBe(2);
    const choices = join(tmp, 'zero-choices.json');
    writeFileSync(choices, JSON.stringify({ scenario: '/dev/zero', seed: 1, bugs: [], until_ns: null, choices: [] }));
    const rp = await cli('replay', choices);
    expect(rp.code).toBe(2);
    expect(rp.err).toMatch(/character device/);
    expect((await cli('replay', '/dev/zero')).code).toBe(2);
    expect((await cli('report', '/dev/zero')).code).toBe(2);
    expect((await cli('merge', '/dev/zero')).code).toBe(2);
  });

  it('HOSTILE.03.ALIAS_BOMB: a YAML billion-laughs document is a located error (exit 2)', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`);
    }
    const text = `${levels.join('\n')}\ndevices: [{ name: d, rid: 1 }]\n`;
    const out = refused(text, /aliases expand beyond 100 nodes/);
    expect(out).toMatch(/^x\.json:2:\d+: /);
    const f = join(tmp, 'bomb.yaml');
    writeFileSync(f, text);
    const c = await cli('run', f);
    expect(c.code).toBe(2);
    expect(c.err).not.toMatch(/internal error/);
  });

  it('HOSTILE.04.LINEAR_LOADER: many unknown keys load in time linear in their number', () => {
    const doc = (n: number): string => {
      const parts = ['devices: [{ name: d, rid: "00:01.0" }]'];
      for (let i = 0; i < n; i++) parts.push(`k${i}: 1`);
      return `${parts.join('\n')}\n`;
    };
    const time = (n: number): number => {
      const text = doc(n);
      const t = performance.now();
      const r = parseScenario(text, 'k.yaml');
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors).toHaveLength(n);
      return performance.now() - t;
    };
    time(2000); // warm-up
    const small = time(10_000);
    const large = time(40_000);
    // Quadratic would be 16x; allow noise on a busy machine.
    expect(large).toBeLessThan(8 * small + 1000);
    // Duplicate keys are still found (now by the loader, one hash set per mapping).
    refused('devices: [{ name: d, rid: 1 }]\nname: a\nname: b\n', /x\.json:3:1: syntax error: map keys must be unique \(key "name" appears twice\)/);
  });

  it('HOSTILE.05.ACCEPTED_THEN_INTERNAL_ERROR: each is refused with a location, or runs', () => {
    refused(with_((s) => (s.latency = { ats_ns: { dist: 'empirical', table: [{ ns: 5, weight: 0 }] } })), /latency\.ats_ns\.table: expected at least one row with a positive weight/);
    refused(with_((s) => s.processes[0].vmas.push({ start: 0x10000000, size: 4096, perms: 'r' })), /processes\[0\]\.vmas\[1\]\.start: VMA overlaps vmas\[0\]/);
    refused(with_((s) => (s.iommufd = { faults: [{ name: 'f' }], attach: [{ device: 'd', process: 'p', fault: 'f' }] })), /iommufd\.attach\[0\]: device "d" and process "p" are SVA-bound by binds\[0\]/);
    refused(with_((s) => (s.devices[0].ats = { atc_entries: 2 ** 28 })), /devices\[0\]\.ats\.atc_entries: expected at most 16777216/);
    refused(with_((s) => (s.devices[0].ats = { atc_entries: 2 ** 53 - 1 })), /atc_entries: expected at most/);
    refused(with_((s) => (s.iopf = { workers: 1e9 })), /iopf\.workers: expected at most 2048 \(WQ_MAX_ACTIVE/);
    // Inside the bounds, memory follows use, not the configured count.
    const before = process.memoryUsage().heapUsed;
    runsClean(with_((s) => {
      s.devices[0].ats = { atc_entries: 1 << 24 };
      s.iopf = { workers: 2048 };
    }));
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(256 << 20);
    // Three processes of 64 x 64 GiB VMAs (the documented limits) run.
    runsClean(with_((s) => {
      s.processes = ['p', 'q', 'r'].map((name) => ({ name, vmas: Array.from({ length: 64 }, (_, j) => ({ start: (j + 1) * 2 ** 36, size: '64GiB', perms: 'rw' })) }));
      s.workloads = [{ device: 'd', process: 'q', vma: 63, pattern: 'random', accesses: 200 }];
    }));
  });

  it('HOSTILE.06.ACCEPTED_THEN_INVARIANT: validation bounds what the model can run', () => {
    refused(with_((s) => (s.latency = { irq_ns: { dist: 'lognormal', median_ns: 1000, sigma: 1e300 } })), /latency\.irq_ns\.sigma: expected a sigma of at most 10/);
    refused(with_((s) => (s.workloads[0].rate_per_us = 1e-300)), /workloads\[0\]\.rate_per_us: expected at least 1e-9/);
    refused(with_((s) => (s.latency = { irq_ns: { dist: 'fixed', ns: 2 ** 53 - 10 } })), /latency\.irq_ns\.ns: expected at most 2\^48 ns/);
    refused(with_((s) => (s.workloads[0].start_ns = 2 ** 53 - 10)), /workloads\[0\]\.start_ns: expected at most 2\^48 ns/);
    refused(with_((s) => (s.actions = [{ op: 'unbind', at_ns: 2 ** 53 - 10, device: 'd', process: 'p' }])), /actions\[0\]\.at_ns: expected at most 2\^48 ns/);
    refused(with_((s) => (s.actions = [{ op: 'exit', at_ns: 1000, process: 'p' }, { op: 'exit', at_ns: 2000, process: 'p' }])), /actions\[1\]\.process: process "p" already exits in actions\[0\]/);
    refused(with_((s) => (s.faults = { alloc_failure: '1/9007199254740991' })), /faults\.alloc_failure: expected a denominator of at most 2\^32/);
    refused(with_((s) => {
      s.binds = [];
      s.iommufd = { faults: [{ name: 'f', read_batch: 2 ** 53 - 1 }], attach: [{ device: 'd', process: 'p', fault: 'f' }] };
    }), /iommufd\.faults\[0\]\.read_batch: expected at most 65536/);
    refused(with_((s) => {
      s.iommu = { family: 'smmuv3', smmuv3: { mode: 'stall' } };
      s.workloads[0].prg_pages = 4;
    }), /workloads\[0\]\.prg_pages: SMMUv3 stall mode has no page request groups/);
    // At the bounds the run ends cleanly: a huge lognormal tail past the engine's horizon ends
    // the run there ("time-horizon"), never at an unsafe time.
    const r = runsClean(with_((s) => {
      s.latency = { irq_ns: { dist: 'lognormal', median_ns: 2 ** 48, sigma: 10 } };
      s.workloads[0].start_ns = 2 ** 48;
    }));
    expect(Number.isSafeInteger(r.report.virtual_time_ns)).toBe(true);
  });

  it('HOSTILE.07.MODEL_BUGS: 513+ workloads on one device, and SMMUv3 stall mode with remove_device during traffic, run', () => {
    const many = runsClean(with_((s) => {
      s.devices[0].pri = { capacity: 100000, allocation: 100000 };
      s.workloads = Array.from({ length: 600 }, () => ({ device: 'd', process: 'p', accesses: 3, rate_per_us: 1 }));
    }));
    expect(many.report.dma.accesses).toBe(1800);
    const stall = runsClean(with_((s) => {
      s.iommu = { family: 'smmuv3', smmuv3: { mode: 'stall' } };
      s.workloads[0].accesses = 2000;
      s.actions = [{ op: 'remove_device', at_ns: 50_000, device: 'd' }];
    }));
    expect(stall.report.violations.map((v) => v.rule)).not.toContain('INVARIANT');
  });

  it('HOSTILE.08.CHECKER_BOUNDED: a new group or request id on every line keeps the checker linear and its state bounded', async () => {
    const lines = (n: number, kind: 'group' | 'partial'): Readable =>
      Readable.from(
        (function* () {
          for (let b = 0; b < n; b += 5000) {
            let s = '';
            for (let i = b; i < Math.min(n, b + 5000); i++) {
              s +=
                kind === 'group'
                  ? `{"t":${i},"ev":"group_form","dev":0,"pasid":1,"prgi":${i % 512},"group":${i},"count":1,"aborted":0}\n`
                  : `{"t":${i},"ev":"partial_add","dev":0,"pasid":1,"prgi":5,"req":${i}}\n`;
            }
            yield Buffer.from(s);
          }
        })(),
      );
    const time = async (n: number, kind: 'group' | 'partial'): Promise<number> => {
      const t = performance.now();
      const r = await checkJsonl(lines(n, kind));
      expect(r.records).toBe(n);
      return performance.now() - t;
    };
    await time(5000, 'partial');
    const p1 = await time(25_000, 'partial');
    const p4 = await time(100_000, 'partial');
    expect(p4).toBeLessThan(8 * p1 + 1000);
    const g1 = await time(25_000, 'group');
    const g4 = await time(100_000, 'group');
    expect(g4).toBeLessThan(8 * g1 + 1000);
  });

  it('HOSTILE.09.FTRACE_TIMESTAMP: a 20-digit timestamp is refused (exact integers only), with or without a response', async () => {
    const text =
      ' irq/140-dmar0-p-812     [003] .....  12345678901234567890: prq_report: dmar0/0000:00:0a.0 seq# 3: rid=0x50 addr=0x559ef6fa1 rw--l pasid=0x2 index=0x1\n' +
      '    kworker/u8:2-97      [001] .....  12345678901234567891: qi_submit: page_grp_resp dmar0: 0x200500019 0x8 0x0 0x0\n';
    const r = await checkFtrace(Readable.from([Buffer.from(text)]));
    expect(r.errorCount).toBe(2);
    expect(r.diagnostics[0]!.message).toMatch(/timestamp below 2\^53 ns/);
    const f = join(tmp, 'big.trace');
    writeFileSync(f, text);
    expect((await cli('check', f)).code).toBe(2);
  });

  it('HOSTILE.10.CHECK_DIRECTORY: `check DIR` is exit 2', async () => {
    const r = await cli('check', tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read .*: a directory, expected a trace file/);
  });

  it('HOSTILE.11.UNWRITABLE_OUTPUTS: --trace, --record-choices, sweep --out, replay --trace to a missing directory, a directory or /dev/full are exit 2', async () => {
    const scen = join(tmp, 'small.json');
    writeFileSync(scen, JSON.stringify(smallScenario()));
    const targets = [join(tmp, 'missing', 'x.out'), tmp, ...(existsSync('/dev/full') ? ['/dev/full'] : [])];
    const choices = join(tmp, 'ok-choices.json');
    expect((await cli('run', scen, '--record-choices', choices)).code).toBe(0);
    for (const t of targets) {
      for (const args of [
        ['run', scen, '--trace', t],
        ['run', scen, '--record-choices', t],
        ['sweep', scen, '--seeds', '1..2', '--out', t],
        ['replay', choices, '--trace', t],
        ['run', scen, '--html', t],
      ]) {
        const r = await cli(...args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.err, args.join(' ')).toMatch(/^iopf: cannot write /);
      }
    }
  });

  it('HOSTILE.10.FIT_COMPARE_SHRINK_INPUTS: fit, compare and shrink refuse a directory, a device and a missing file with exit 2; fit -o and compare -o to an unwritable place are exit 2', async () => {
    const dir = join(tmp, 'as-dir.json');
    mkdirSync(dir, { recursive: true });
    for (const args of [
      ['fit', tmp],
      ['fit', join(tmp, 'missing.txt')],
      // A device never ends: refused up front rather than streamed forever in bounded memory.
      ['fit', '/dev/zero'],
      ['check', '/dev/zero'],
      ['check', '/dev/urandom'],
      ['compare', '/dev/zero', '/dev/zero'],
      ['compare', tmp, tmp],
      ['shrink', dir],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/^iopf: .*cannot read/);
      expect(r.err, args.join(' ')).not.toMatch(STACK_LINE);
    }
    const trace = 'test/fixtures/ftrace/clean.trace';
    const run = join(tmp, 'run.json');
    const scen = join(tmp, 'small-c.json');
    writeFileSync(scen, JSON.stringify(smallScenario()));
    const ran = await cli('run', scen, '--json');
    expect(ran.code).toBe(0);
    writeFileSync(run, ran.out);
    for (const t of [join(tmp, 'missing', 'x.out'), tmp, ...(existsSync('/dev/full') ? ['/dev/full'] : [])]) {
      for (const args of [
        ['fit', trace, '-o', t],
        ['compare', run, run, '-o', t],
      ]) {
        const r = await cli(...args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.err, args.join(' ')).toMatch(/cannot write /);
      }
    }
  });

  it('HOSTILE.12.MERGE_REPORT_INPUTS: bad histogram strings are exit 2; a shard of 150k runs merges', async () => {
    const run = await cli('run', '--seed', '3', '--json');
    expect(run.code).toBe(0);
    writeFileSync(join(tmp, 'run-doc.json'), run.out);
    // A sweep file (`iopf sweep --out`, format iopf-sweep/1) of one seed.
    const head = { format: 'iopf-sweep/1', scenario: 'x', kernel: 'reference', bugs: [] as string[], shards: { count: 1, indices: [0] } };
    const runOf = (seed: number) => ({ seed, trace_sha256: 'a', violations_total: 0, rules: [] as string[], page_requests: 1, events: 1 });
    const base = { ...head, seed_range: { first: 1, last: 1 }, runs: [runOf(1)] };
    for (const h of ['AAAA', '!!!', 'HISTFAAAAA==', Buffer.from('garbage bytes here').toString('base64')]) {
      const f = join(tmp, 'bad-shard.json');
      writeFileSync(f, JSON.stringify({ ...base, histograms: { group_latency_ns: h } }));
      const r = await cli('merge', f);
      expect(r.code, h).toBe(2);
      expect(r.err).toMatch(/histograms\.group_latency_ns: /);
      const doc = JSON.parse(readFileSync(join(tmp, 'run-doc.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(tmp, 'bad-doc.json'), JSON.stringify({ ...doc, histograms: { group_latency_ns: h } }));
      const rep = await cli('report', join(tmp, 'bad-doc.json'), '-o', join(tmp, 'bad.html'));
      expect(rep.code, h).toBe(2);
    }
    const n = 150_000;
    const seeds = Array.from({ length: n }, (_, i) => i + 1);
    const big = join(tmp, 'big-shard.json');
    writeFileSync(big, JSON.stringify({ ...head, seed_range: { first: 1, last: n }, runs: seeds.map(runOf), histograms: {} }));
    const m = await cli('merge', big, '--json');
    expect(m.code).toBe(0);
    expect(JSON.parse(m.out).runs).toBe(n);
  }, 120_000);

  it('HOSTILE.13.UNSAFE_SEEDS: sweep --seeds beyond 2^53 - 1 is exit 2', async () => {
    const r = await cli('sweep', '--seeds', '9007199254740992..9007199254740993');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--seeds: seeds are at most 9007199254740991/);
  });

  it('HOSTILE.14.REPLAY_MISMATCH: out-of-range recorded choices are exit 2 naming the index', async () => {
    const f = join(tmp, 'bad-choices.json');
    writeFileSync(f, JSON.stringify({ scenario: 'default', seed: 1, bugs: [], until_ns: 200000, choices: [99, 99, 99, 99, 99, 99] }));
    const r = await cli('replay', f);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/choices\[\d+\] is 99, but the run has \d+ alternatives there/);
  });

  it('HOSTILE.15.ESCAPED_KEYS: a key with a line break, escape or bidi control gives a one-line diagnostic', () => {
    const out = refused('devices: [{ name: d, rid: 1 }]\n"a\\nb\\u001b[31m\\u202e": 1\n', /unknown key "a\\nb\\u001b\[31m\\u202e"/);
    expect(out.split('\n')).toHaveLength(1);
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  it('HOSTILE.16.LENIENT_INPUT: Latin-1 bytes and a PPR log below the AMD minimum are refused', () => {
    const f = join(tmp, 'latin1.yaml');
    writeFileSync(f, Buffer.concat([Buffer.from('name: caf'), Buffer.from([0xe9]), Buffer.from('\ndevices: [{ name: d, rid: 1 }]\n')]));
    const r = loadScenario(f);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatDiagnostic(r.errors[0]!)).toMatch(/latin1\.yaml:1:10: invalid UTF-8 \(byte 0xe9\)/);
    refused({ iommu: { family: 'amd', amd: { ppr_log_entries: 8 } }, devices: [{ name: 'd', rid: 1 }] }, /iommu\.amd\.ppr_log_entries: expected at least 256 entries/);
  });

  it('HOSTILE.17.NO_COMMAND: `iopf` without a command prints usage and exits 2; --help and help exit 0', async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.err + r.out).toMatch(/Usage: iopf/);
    expect((await cli('--help')).code).toBe(0);
    expect((await cli('help')).code).toBe(0);
  });
});

describe('the process contract (spawned)', () => {
  it('HOSTILE.PROCESS: bad inputs exit 2 with one line on stderr and no stack trace', () => {
    mkdirSync(join(tmp, 'sub'), { recursive: true });
    writeFileSync(join(tmp, 'trunc2.jsonl'), '{"t":1');
    for (const args of [['run', '/dev/zero'], ['check', join(tmp, 'trunc2.jsonl')], ['check', join(tmp, 'sub')], ['run', '--trace', '/dev/full'], []]) {
      const r = spawnCli(args, 30_000);
      expect(r.signal, args.join(' ')).toBeNull();
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).not.toMatch(STACK_LINE);
      expect(r.err).not.toMatch(/iopf: internal error/);
    }
  });
});
