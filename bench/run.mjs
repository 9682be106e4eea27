// The bench suite: one child process per configuration (so peak RSS is per configuration), each
// printing one JSON line; this driver prints the table. Figures are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
const configs = [
  { name: 'hold-1e2', args: ['hold.mjs', '100', '5000000'] },
  { name: 'hold-1e4', args: ['hold.mjs', '10000', '5000000'] },
  { name: 'hold-1e6', args: ['hold.mjs', '1000000', '5000000'] },
];
const extra = await import('./configs.mjs').then((m) => m.default).catch(() => []);
const all = [...configs, ...extra].filter((c) => only === undefined || c.name.startsWith(only));

const rows = [];
for (const c of all) {
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

const fmt = (x, d = 0) => (x === undefined ? '-' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d }));
console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}`);
console.log('| configuration | page requests/s | events/s | ns/event | peak RSS (MB) |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows)
  console.log(`| ${r.config} | ${fmt(r.page_requests_per_s)} | ${fmt(r.events_per_s)} | ${fmt(r.ns_per_event, 1)} | ${fmt(r.peak_rss_mb, 1)} |`);
const hold = rows.find((r) => r.config === 'hold-1e4');
const cheap = rows.find((r) => r.config === 'pipeline-cheap');
if (hold && cheap) console.log(`\npipeline-cheap events/s ÷ hold-1e4 events/s = ${(cheap.events_per_s / hold.events_per_s).toFixed(2)}`);
const long = rows.find((r) => r.config === 'long');
if (long?.peak_rss_mb_at_1e7 !== undefined)
  console.log(`long: peak RSS ${long.peak_rss_mb_at_1e7.toFixed(1)} MB at 1e7 page requests, ${long.peak_rss_mb.toFixed(1)} MB at ${long.page_requests.toExponential(2)}`);
const off = rows.find((r) => r.config === 'check-offline');
if (off) console.log(`check-offline: ${off.records.toLocaleString('en-US')} records, ${(off.file_bytes / 1e9).toFixed(2)} GB, ${Math.round(off.records_per_s).toLocaleString('en-US')} records/s`);
const fit = rows.find((r) => r.config === 'fit-offline');
if (fit) console.log(`fit-offline: ${fit.records.toLocaleString('en-US')} records, ${(fit.file_bytes / 1e9).toFixed(2)} GB, ${Math.round(fit.records_per_s).toLocaleString('en-US')} records/s`);
