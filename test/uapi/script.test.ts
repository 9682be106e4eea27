/**
 * The `script:` section of scenario files: calls at virtual times with `expect:`; a mismatch is a
 * SCRIPT.EXPECT violation naming the step's file:line (exit 1); bad scripts are bad input (exit 2,
 * file:line:col). Also the README's "Driving iopf through the uAPI" example, run as written.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../src/scenario/loader.js';
import { simulate } from '../../src/api.js';

const BIN = 'dist/cli/main.js';
const tmp = mkdtempSync(join(tmpdir(), 'iopf-script-'));
const SHIPPED = 'scenarios/uapi-selftest.yaml';

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

function run(text: string, file = 'inline.yaml') {
  const p = parseScenario(text, file);
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return simulate(p.value, { seed: 1 }).report;
}

const MOCK = `name: s\nkernel: mainline\niommu: { family: mock }\ndevices: [{ name: mock0, rid: 1 }]\n`;

describe('script: section', () => {
  it('SCRIPT.EXPECT: the shipped uapi-selftest scenario meets every expectation (exit 0)', () => {
    const r = iopf('run', SHIPPED);
    expect(r.code).toBe(0);
    expect(r.out).toContain('violations: none');
  });

  it('SCRIPT.EXPECT: a step that expects the wrong errno exits 1 and names the step\'s file:line', () => {
    const text = readFileSync(SHIPPED, 'utf8');
    const line = text.split('\n').findIndex((l) => l.includes('expect: { ret: -EBUSY }')) + 1;
    expect(line).toBeGreaterThan(0);
    const bad = join(tmp, 'wrong-errno.yaml');
    writeFileSync(bad, text.replace('expect: { ret: -EBUSY }', 'expect: { ret: -EINVAL }'));
    const r = iopf('run', bad);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`SCRIPT.EXPECT`);
    expect(r.out).toContain(`${bad}:${line}: step 8 (destroy): expected -EINVAL, got -EBUSY`);
  });

  it('SCRIPT.EXPECT: records, responses, poll and ids are compared field by field', () => {
    const rep = run(
      `${MOCK}script:
  - { op: ioas_alloc, as: ioas }
  - { op: mock_domain, device: mock0, pt: $ioas, as: dev, expect: { idev_id: 7 } }
  - { op: fault_alloc, as: fq }
  - { op: poll, fd: $fq.fd, expect: { readable: true } }
  - { op: read, fd: $fq.fd, count: 40, expect: { ret: 0, records: [{ grpid: 1 }] } }
  - { op: write, fd: $fq.fd, responses: [{ cookie: 1, code: 0 }], expect: { ret: EINVAL, responses: [{ code: SUCCESS }] } }
`,
      'fields.yaml',
    );
    expect(rep.violations.map((v) => v.detail)).toEqual([
      'fields.yaml:7: step 2 (mock_domain): expected idev_id 7, got 3',
      'fields.yaml:9: step 4 (poll): expected readable true, got false',
      'fields.yaml:10: step 5 (read): expected 1 record(s), got 0',
      'fields.yaml:11: step 6 (write): expected 1 page response(s) at the driver, got 0',
    ]);
    expect(rep.violations.every((v) => v.rule === 'SCRIPT.EXPECT')).toBe(true);
  });

  it('SCRIPT.HUNG: a read() that the kernel never returns from stops the actor: a violation unless expected, and later steps never run', () => {
    const steps = `script:
  - { op: ioas_alloc, as: ioas }
  - { op: mock_domain, device: mock0, pt: $ioas, as: dev }
  - { op: fault_alloc, as: fq }
  - { op: hwpt_alloc, device: $dev, pt: $ioas, flags: [NEST_PARENT], as: parent }
  - { op: hwpt_alloc, device: $dev, pt: $parent, flags: [FAULT_ID_VALID], fault: $fq, data: true, as: iopf }
  - { op: replace, device: $dev, pt: $iopf }
  - { op: trigger_iopf, device: $dev, pasid: 1, grpid: 2, perm: [R], addr: 0x1000 }
  - { op: read, fd: $fq.fd, count: 80, fault_at_record: 0, expect: { hung: HUNG } }
`;
    const expected = run(`${MOCK}${steps.replace('HUNG', 'true')}`, 'hung.yaml');
    expect(expected.violations).toEqual([]);
    const more = run(`${MOCK}${steps.replace(', expect: { hung: HUNG }', '')}  - { op: poll, fd: $fq.fd }\n`, 'hung2.yaml');
    expect(more.violations.map((v) => v.detail)).toEqual([
      expect.stringContaining('hung2.yaml:13: step 8 (read): read() never returns'),
      'hung2.yaml:13: step 8 (read): the actor is stuck in this read(): step 9 never run',
    ]);
  });

  it('SCRIPT.TIME: steps run at their at_ns, one after the other; a later step waits for the previous', () => {
    const rep = run(
      `${MOCK}script:
  - { op: ioas_alloc, at_ns: 5000, as: ioas }
  - { op: mock_domain, device: mock0, pt: $ioas, at_ns: 100, as: dev }
  - { op: fault_alloc, at_ns: 9000 }
`,
    );
    expect(rep.violations).toEqual([]);
    expect(rep.virtual_time_ns).toBe(9000);
  });

  it('SCRIPT.LOAD: bad scripts are refused at load with file:line:col (unknown reference, errno, family)', () => {
    const bad = join(tmp, 'bad-script.yaml');
    writeFileSync(
      bad,
      `name: b\niommu: { family: vtd }\ndevices: [{ name: d0, rid: 1 }]\nscript:\n  - { op: read, fd: $nope, count: 40 }\n  - { op: destroy, id: 1, expect: { ret: EWHAT } }\n  - { op: trigger_iopf, device: 1, grpid: 1, perm: [R], addr: 0 }\n  - { op: inject_raw, hex: "01 02" }\n`,
    );
    const r = iopf('run', bad);
    expect(r.code).toBe(2);
    expect(r.err + r.out).toContain(`${bad}:5:`);
    expect(r.err + r.out).toContain('refers to "nope"');
    expect(r.err + r.out).toContain(`${bad}:6:`);
    expect(r.err + r.out).toContain('unknown errno name "EWHAT"');
    expect(r.err + r.out).toContain('trigger_iopf is the iommufd selftest mock');
    expect(r.err + r.out).toContain('is 32 bytes, got 2');
  });

  it('README: the "Driving iopf through the uAPI" example runs clean as written', () => {
    const readme = readFileSync('README.md', 'utf8');
    const at = readme.indexOf('## Driving iopf through the uAPI');
    expect(at).toBeGreaterThan(0);
    const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
    expect(m).not.toBeNull();
    const rep = run(m![1]!, 'README.md');
    expect(rep.violations).toEqual([]);
    expect(rep.stop_reason).toBe('drained');
  });
});
