// check-offline: `iopf check` (checkJsonlFile) over a ~1 GB JSONL trace.
//   node bench/check-offline.mjs [bytes = 1e9]
// Step 1 (not timed): a separate child process runs the bench scenario (default hardware, SVA,
// scaled traffic; see scenario.mjs) with the JSONL writer into a temp dir until the file reaches
// `bytes`, so that the generator's memory does not count against the checker's peak RSS.
// Step 2 (timed, this process): checkJsonlFile over it. The file is deleted afterwards.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bytes = Number(process.argv[2] ?? 1e9);
const dir = mkdtempSync(join(tmpdir(), 'iopf-bench-'));
const file = join(dir, 'trace.jsonl');
try {
  const g = spawnSync(process.execPath, [fileURLToPath(new URL('./gen-jsonl.mjs', import.meta.url)), file, String(bytes)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (g.status !== 0) throw new Error(`trace generation failed (exit ${g.status})`);
  const size = statSync(file).size;
  const { checkJsonlFile } = await import('../dist/check/offline.js');
  const t0 = process.hrtime.bigint();
  const r = await checkJsonlFile(file, { mode: 'full' });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    JSON.stringify({
      config: 'check-offline',
      file_bytes: size,
      records: r.records,
      seconds: secs,
      records_per_s: r.records / secs,
      // One record is one trace event: the same figure in the events columns.
      events_per_s: r.records / secs,
      ns_per_event: (secs * 1e9) / r.records,
      mb_per_s: size / 1e6 / secs,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
      violations: r.violationCount,
      diagnostics: r.diagnosticCount,
      generator: JSON.parse(g.stdout.trim().split('\n').pop()),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
