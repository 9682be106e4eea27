// `npm run test:cluster`: a sweep on a real (single-node) Slurm cluster equals a one-process sweep.
// Needs root and apt (it runs scripts/slurm-local.sh, which installs and starts munge and Slurm);
// CI runs it from .ci/run after `npm test`. Every wait is bounded. Prints the closing line
// "cluster: N passed, N failed".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'dist', 'cli', 'main.js');
const SCENARIO = 'vtd-abort';
const SEEDS = '1..24';
const TASKS = 4;
let passed = 0;
let failed = 0;

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000, ...opts });
  if (r.error) return { code: -1, out: r.stdout ?? '', err: `${r.stderr ?? ''}${r.error.message}` };
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'FAIL'} - ${name}${detail !== '' && !ok ? `\n${detail}` : ''}`);
}
let started = false;
function finish() {
  // Leave the machine as found: stop the daemons slurm-local.sh started (IOPF_KEEP_SLURM=1 keeps them).
  if (started && process.env.IOPF_KEEP_SLURM !== '1') process.stdout.write(sh('bash', [join(root, 'scripts', 'slurm-local.sh'), 'stop']).out);
  console.log(`\ncluster: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

if (process.getuid?.() !== 0) {
  console.error('test:cluster needs root (it installs and starts munge and Slurm); CI runs it from .ci/run');
  failed++;
  finish();
}
if (!existsSync(bin)) {
  const b = sh('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.code !== 0) {
    check('build', false);
    finish();
  }
}

const setup = sh('bash', [join(root, 'scripts', 'slurm-local.sh')], { timeout: 1_200_000 });
process.stdout.write(setup.out);
started = true;
check('single-node Slurm is up (scripts/slurm-local.sh)', setup.code === 0, setup.err);
if (setup.code !== 0) finish();

// Shard files are written by the array tasks (as root, in a directory they can all reach).
const dir = mkdtempSync(join(tmpdir(), 'iopf-cluster-'));
chmodSync(dir, 0o755);
const out = join(dir, 'shards');
const sb = sh(
  'timeout',
  ['900', 'sbatch', '--wait', `--array=0-${TASKS - 1}`, '--cpus-per-task=1', `--output=${join(dir, 'task-%a.log')}`, `--chdir=${dir}`, join(root, 'examples', 'slurm', 'sweep.sbatch'), SCENARIO, SEEDS, out],
  { env: { ...process.env, IOPF: `${process.execPath} ${bin}` } },
);
const logs = () =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8')}`)
    .join('\n');
check(`sbatch --array=0-${TASKS - 1} examples/slurm/sweep.sbatch ${SCENARIO} ${SEEDS} finished`, sb.code === 0, `${sb.out}${sb.err}\n${existsSync(dir) ? logs() : ''}`);
const shards = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.json')).sort() : [];
check(`${TASKS} shard files written`, shards.length === TASKS, `found: ${shards.join(', ')}\n${logs()}`);
const taskLogs = logs();
check('each task took its shard from SLURM_ARRAY_TASK_ID/COUNT', [0, 1, 2, 3].every((i) => taskLogs.includes(`(${i}/${TASKS})`)), taskLogs);

const merged = join(dir, 'merged.json');
const m = sh(process.execPath, [bin, 'merge', ...shards.map((f) => join(out, f)), '--out', merged, '--json']);
check('iopf merge of the shards', m.code === 0, m.err);
const whole = join(dir, 'whole.json');
const w = sh(process.execPath, [bin, 'sweep', SCENARIO, '--seeds', SEEDS, '--jobs', '1', '--out', whole, '--json']);
check('one-process sweep of the same seeds', w.code === 0, w.err);
const same = existsSync(merged) && existsSync(whole) && readFileSync(merged).equals(readFileSync(whole));
check('merged shards equal the one-process sweep byte for byte', same, `cmp ${merged} ${whole}`);
check('merged summary equals the one-process summary', m.out === w.out && m.out.length > 0, `${m.out}\n---\n${w.out}`);
finish();
