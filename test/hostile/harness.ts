/**
 * Helpers for the hostile-input tests: the CLI run in-process (its exit code and what it printed),
 * a few spawned runs for the process-level contract, and a small valid scenario to mutate.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/**
 * Run `iopf ...args` in this process: stdout and stderr are captured, the exit code returned and
 * process.exitCode restored (the test worker's own status is never touched).
 */
export async function cli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  const saved = process.exitCode;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    const code = await main(['node', 'iopf', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    process.exitCode = saved;
  }
}

const BIN = 'dist/cli/main.js';

/** Run the built CLI as a process (for the exit-code and no-stack-trace contract). */
export function spawnCli(args: string[], timeoutMs = 60_000): CliResult & { signal: string | null } {
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: npm test builds it first (npm run build)`);
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, signal: r.signal };
}

/** A stack trace line, as Node prints them. */
export const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `iopf-${prefix}-`));
}

/** A small scenario that loads and runs in a few milliseconds (JSON-able, to mutate). */
export function smallScenario(): Record<string, unknown> {
  return {
    name: 'small',
    iommu: { family: 'vtd' },
    devices: [{ name: 'd', rid: '00:02.0' }],
    processes: [{ name: 'p', vmas: [{ start: 0x10000000, size: '1MiB', perms: 'rw' }] }],
    binds: [{ device: 'd', process: 'p' }],
    workloads: [{ device: 'd', process: 'p', accesses: 50, rate_per_us: 1 }],
  };
}
