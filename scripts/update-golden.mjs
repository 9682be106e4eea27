// Re-record the golden trace hashes of the end-to-end tests after a deliberate model change:
//   npm run build && node scripts/update-golden.mjs
// It rewrites the hash constants in test/e2e/{families,determinism,iommufd}.test.ts from fresh
// runs (`iopf run SCENARIO --seed N --json`). Review the diff and say in the commit why they moved.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const sha = (scenario, seed) =>
  JSON.parse(execFileSync(process.execPath, ['dist/cli/main.js', 'run', scenario, '--seed', String(seed), '--json'], { encoding: 'utf8' }))
    .trace_sha256;

/** Replace `  N: '<hash>'` lines inside the block that starts at `marker`. */
function rewrite(file, marker, scenario) {
  let s = readFileSync(file, 'utf8');
  const start = s.indexOf(marker);
  if (start < 0) throw new Error(`${file}: no block ${marker}`);
  const end = s.indexOf('}', start);
  const block = s.slice(start, end).replace(/^(\s+)(\d+): '[0-9a-f]*'/gm, (_m, sp, seed) => `${sp}${seed}: '${sha(scenario, Number(seed))}'`);
  s = s.slice(0, start) + block + s.slice(end);
  writeFileSync(file, s);
}

for (const name of ['default', 'smmuv3-pri', 'smmuv3-stall', 'amd']) {
  rewrite('test/e2e/families.test.ts', name.includes('-') ? `'${name}': {` : `${name}: {`, name);
}
rewrite('test/e2e/determinism.test.ts', 'const GOLDEN', 'default');
rewrite('test/e2e/iommufd.test.ts', 'const GOLDEN_VS_SVA', 'iommufd-vs-sva');
console.log('golden hashes rewritten; review `git diff test/e2e`');
