// The bench suite: one child process per configuration (so peak RSS is per configuration), each
// printing one JSON line; this driver prints the table. Figures are printed, never asserted.
//   node bench/run.mjs [--quick] [prefix]
// --quick (≤ 60 s): hold-1e4 and pipeline-cheap at 1e6 page requests, the same table.
// prefix: only the rows whose name starts with it (rows outside the default set too, e.g. long-1e8).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { cpus, loadavg } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.find((a) => !a.startsWith('--'));
const hold = [
  { name: 'hold-1e2', args: ['hold.mjs', '100', '5000000'] },
  { name: 'hold-1e4', args: ['hold.mjs', '10000', '5000000'] },
  { name: 'hold-1e6', args: ['hold.mjs', '1000000', '5000000'] },
];
const { default: extra, optional, quickConfigs } = await import('./configs.mjs');
const all = quick ? quickConfigs : only !== undefined ? [...hold, ...extra, ...optional] : [...hold, ...extra];
const selected = all.filter((c) => only === undefined || c.name.startsWith(only));

const started = process.hrtime.bigint();
const load0 = loadavg()[0];
const rows = [];
for (const c of selected) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', join(here, c.args[0]), ...c.args.slice(1)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    console.log(`${c.name}: failed (exit ${r.status})\n${r.stderr}`);
    continue;
  }
  const line = r.stdout.trim().split('\n').pop();
  const row = JSON.parse(line);
  row.config = c.name;
  rows.push(row);
  console.log(JSON.stringify(row));
}
const wall = Number(process.hrtime.bigint() - started) / 1e9;

const fmt = (x, d = 0) => (x === undefined ? '-' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d }));
console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}; load average ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end; ${wall.toFixed(0)} s`);
console.log('| configuration | page requests/s | schedules/s | events/s | ns/event | peak RSS (MB) |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows)
  console.log(
    `| ${r.config} | ${fmt(r.page_requests_per_s)} | ${fmt(r.schedules_per_s, 2)} | ${fmt(r.events_per_s)}${r.config.includes('-offline') ? ' (records/s)' : ''} | ${fmt(r.ns_per_event, 1)} | ${fmt(r.peak_rss_mb, 1)} |`,
  );
const h4 = rows.find((r) => r.config === 'hold-1e4');
const cheap = rows.find((r) => r.config.startsWith('pipeline-cheap'));
if (h4 && cheap) console.log(`\n${cheap.config} events/s ÷ hold-1e4 events/s = ${(cheap.events_per_s / h4.events_per_s).toFixed(2)}`);
const j1 = rows.find((r) => r.config === 'explore-j1');
const j2 = rows.find((r) => r.config === 'explore-j2');
if (j1 && j2) console.log(`explore schedules/s, 2 threads ÷ 1 thread = ${(j2.schedules_per_s / j1.schedules_per_s).toFixed(2)}`);
for (const long of rows.filter((r) => r.config.startsWith('long'))) {
  const at = Object.keys(long).find((k) => k.startsWith('peak_rss_mb_at_'));
  if (at !== undefined)
    console.log(`${long.config}: peak RSS ${long[at].toFixed(1)} MB at ${at.slice('peak_rss_mb_at_'.length)} page requests, ${long.peak_rss_mb.toFixed(1)} MB at ${long.page_requests.toExponential(2)}`);
}
const off = rows.find((r) => r.config === 'check-offline');
if (off) console.log(`check-offline: ${off.records.toLocaleString('en-US')} records, ${(off.file_bytes / 1e9).toFixed(2)} GB, ${Math.round(off.records_per_s).toLocaleString('en-US')} records/s`);
const fit = rows.find((r) => r.config === 'fit-offline');
if (fit) console.log(`fit-offline: ${fit.records.toLocaleString('en-US')} records, ${(fit.file_bytes / 1e9).toFixed(2)} GB, ${Math.round(fit.records_per_s).toLocaleString('en-US')} records/s`);
