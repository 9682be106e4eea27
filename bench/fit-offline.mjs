// fit-offline: `iopf fit` (fitTrace) over a ~1 GB JSONL trace.
//   node bench/fit-offline.mjs [bytes = 1e9]
// Step 1 (not timed): a separate child process runs the bench scenario (default hardware, SVA,
// scaled traffic; see scenario.mjs) with the JSONL writer into a temp dir until the file reaches
// `bytes`, so that the generator's memory does not count against the checker's peak RSS.
// Step 2 (timed, this process): fitTrace over it, then the fitted scenario (fittedScenario). The file is deleted afterwards.
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
  const { fitTrace, fittedScenario } = await import('../dist/fit/index.js');
  const t0 = process.hrtime.bigint();
  const r = await fitTrace(file, { format: 'jsonl' });
  const fitted = fittedScenario(r, { source: 'trace.jsonl' });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    JSON.stringify({
      config: 'fit-offline',
      file_bytes: size,
      records: r.records,
      seconds: secs,
      records_per_s: r.records / secs,
      // One record is one trace event: the same figure in the events columns.
      events_per_s: r.records / secs,
      ns_per_event: (secs * 1e9) / r.records,
      mb_per_s: size / 1e6 / secs,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
      groups: r.hostLatency.count,
      streams: fitted.scenario.workloads.length,
      diagnostics: r.diagnosticCount,
      generator: JSON.parse(g.stdout.trim().split('\n').pop()),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
