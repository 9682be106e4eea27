// Long fuzzing runs of the in-suite properties (test/hostile/fuzz.test.ts) for a time budget:
//   npm run fuzz -- --time 10m [--seed N]
// Prints the seed first; a failure prints fast-check's counterexample and its seed/path, and the
// whole run replays with `npm run fuzz -- --seed N --time …`.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

function usage(msg) {
  process.stderr.write(`fuzz: ${msg}\nusage: npm run fuzz -- [--time 10m|90s|1h] [--seed N]\n`);
  process.exit(2);
}

let timeMs = 60_000;
let seed = randomInt(1, 2 ** 31 - 1);
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = args[i + 1];
  if (a === '--time') {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(v ?? '');
    if (m === null) usage(`--time: expected a duration like 10m, got "${v ?? ''}"`);
    timeMs = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
    i++;
  } else if (a === '--seed') {
    if (!/^\d+$/.test(v ?? '') || Number(v) > 2 ** 31 - 1) usage(`--seed: expected an integer below 2^31, got "${v ?? ''}"`);
    seed = Number(v);
    i++;
  } else usage(`unknown argument "${a}"`);
}

process.stdout.write(`fuzz: seed ${seed}, ${Math.round(timeMs / 1000)} s (replay: npm run fuzz -- --seed ${seed} --time ${Math.round(timeMs / 1000)}s)\n`);
const r = spawnSync('npx', ['vitest', 'run', 'test/hostile/fuzz.test.ts', `--testTimeout=${timeMs + 300_000}`], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_TIME_MS: String(timeMs), FUZZ_SEED: String(seed) },
});
process.stdout.write(`fuzz: seed ${seed}: ${r.status === 0 ? 'nothing found' : 'FAILED (see the counterexample above)'}\n`);
process.exit(r.status ?? 1);
