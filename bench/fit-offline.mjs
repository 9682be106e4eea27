// fit-offline: `iopf fit` (fitTrace) over a ~1 GB trace, JSONL (iopf's own) or ftrace text (the
// format a machine with PRI hardware gives).
//   node bench/fit-offline.mjs [bytes = 1e9] [jsonl|ftrace]
// Step 1 (not timed): a separate child process runs the bench scenario (default hardware, SVA,
// scaled traffic; see scenario.mjs) with the JSONL writer into a temp dir until the file reaches
// `bytes`, so that the generator's memory does not count against the checker's peak RSS.
// Step 2 (timed, this process): fitTrace over it, then the fitted scenario (fittedScenario). The file is deleted afterwards.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bytes = Number(process.argv[2] ?? 1e9);
const format = process.argv[3] ?? 'jsonl';
if (format !== 'jsonl' && format !== 'ftrace') throw new Error(`format: expected jsonl or ftrace, got ${format}`);
const dir = mkdtempSync(join(tmpdir(), 'iopf-bench-'));
const file = join(dir, format === 'jsonl' ? 'trace.jsonl' : 'trace.txt');
try {
  const g = spawnSync(process.execPath, [fileURLToPath(new URL(format === 'jsonl' ? './gen-jsonl.mjs' : './gen-ftrace.mjs', import.meta.url)), file, String(bytes)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (g.status !== 0) throw new Error(`trace generation failed (exit ${g.status})`);
  const size = statSync(file).size;
  const { fitTrace, fittedScenario } = await import('../dist/fit/index.js');
  const t0 = process.hrtime.bigint();
  const r = await fitTrace(file, { format });
  const fitted = fittedScenario(r, { source: basename(file) });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    JSON.stringify({
      config: format === 'jsonl' ? 'fit-offline' : 'fit-offline-ftrace',
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
