#!/usr/bin/env node
/**
 * The `iopf` command: commander wiring only. Logic lives behind the library façade (src/api.ts).
 * Exit codes: 0 clean, 1 a rule was violated or an invariant broke, 2 bad input or usage.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { runCommand, reportCommand, checkCommand, schemaCommand, listCommand, exploreCommand, replayCommand, sweepCommand, mergeCommand, shrinkCmd } from './commands.js';
import { UsageError, EXIT } from './output.js';
import { escapeText } from '../scenario/diagnostics.js';
import { SinkWriteError } from '../trace/tracer.js';
import { fitCommand, compareCommand } from './fit-commands.js';

function parseIntOption(name: string) {
  return (v: string): number => {
    if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(v)) throw new UsageError(`${name}: expected a non-negative integer, got "${v}"`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new UsageError(`${name}: ${v} is too large`);
    return n;
  };
}
const collect = (v: string, prev: string[]): string[] => [...prev, v];
const jobsOption = (): Option =>
  new Option('--jobs <n>', 'worker threads (default: every core, os.availableParallelism()); results do not depend on it').argParser((v: string) => {
    const n = parseIntOption('--jobs')(v);
    if (n < 1 || n > 1024) throw new UsageError(`--jobs: expected 1..1024, got ${n}`);
    return n;
  });

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('iopf')
    .description('Deterministic model of the Linux I/O page fault pipeline (PCIe PRI/PASID/ATS, VT-d/SMMUv3/AMD, io-pgfault, SVA, iommufd) and its protocol checker')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description('simulate a scenario (the built-in default when no file is given) and print a summary')
    .argument('[scenario]', 'scenario file (YAML or JSON), or the name of a shipped scenario')
    .option('--seed <n>', 'seed of every random stream', parseIntOption('--seed'))
    .option('--json', 'print one JSON document instead of the summary')
    .option('--trace <file.jsonl>', 'write the canonical JSONL trace')
    .option('--ftrace <file>', 'write the run as Linux ftrace text (intel_iommu:prq_report / qi_submit)')
    .option('--perfetto <file.json>', 'write Chrome Trace Event JSON for the Perfetto UI')
    .option('--html <file.html>', 'write the static HTML report of the run (self-contained, opens offline)')
    .option('--until-ns <n>', 'stop at this virtual time', parseIntOption('--until-ns'))
    .addOption(new Option('--check <mode>', 'online checking').choices(['off', 'cheap', 'full']))
    .option(
      '--bug <name>',
      'switch on a known bug or form on top of the profile (repeatable; see `iopf list bugs`, `iopf list profiles`)',
      collect,
      [],
    )
    .option(
      '--kernel <profile>',
      "kernel profile instead of the scenario's kernel: (reference | mainline | seed | v6.9 | v6.7; see `iopf list profiles`)",
    )
    .option('--record-choices <file.json>', 'record every scheduling choice, for `iopf replay`')
    .option('--max-events <n>', 'stop after this many events', parseIntOption('--max-events'))
    .option('--set <path=value>', 'override a scenario field before validation, e.g. iopf.workers=1 (repeatable)', collect, [])
    .action(runCommand);

  program
    .command('check')
    .description('check a trace file (iopf JSONL, or Linux ftrace text) against the rules')
    .argument('<trace>', 'trace file; .jsonl is read as iopf JSONL, anything else as ftrace text')
    .addOption(new Option('--format <fmt>', 'input format').choices(['auto', 'jsonl', 'ftrace']).default('auto'))
    .option('--device <rid:pasid-required>', 'ftrace: a device hint like 00:02.0:1 or 0x10:0 (repeatable)', collect, [])
    .option('--scenario <scenario>', 'take the hardware and kernel hints (PASID-required bits, queue size, flush contract) from this scenario')
    .option('--set <path=value>', 'override a scenario field before validation, e.g. iopf.workers=1 (repeatable)', collect, [])
    .option('--json', 'print one JSON document')
    .action(checkCommand);

  program
    .command('explore')
    .description('search schedules of a scenario for rule violations (random seeds, or exhaustive same-time orderings), or — with --generate — search generated scenarios, then shrink what fails')
    .argument('[scenario]', 'scenario file or shipped name (not with --generate)')
    .option('--runs <n>', 'how many schedules (or generated scenarios) to try (default 100)', parseIntOption('--runs'))
    .option('--seed <n>', 'first seed (with --generate: first generator seed)', parseIntOption('--seed'), 1)
    .addOption(new Option('--mode <mode>', 'random seeds, or depth-first over same-time choices').choices(['random', 'exhaustive']).default('random'))
    .option('--bug <name>', 'switch on a known bug or form on top of the profile (repeatable)', collect, [])
    .option('--set <path=value>', 'override a scenario field before validation, e.g. iopf.workers=1 (repeatable)', collect, [])
    .option(
      '--kernel <profile>',
      "kernel profile instead of the scenario's kernel: (reference | mainline | seed | v6.9 | v6.7; see `iopf list profiles`)",
    )
    .addOption(jobsOption())
    .option('--generate', 'draw whole scenarios from the generator (swarm testing) instead of one scenario')
    .option('--time <duration>', 'with --generate: wall-clock budget, e.g. 60s (instead of --runs)')
    .option('--no-shrink', 'with --generate: keep the failing scenario as found')
    .option('--out <dir>', 'with --generate: folder for the failing and shrunk scenario files (default: .)')
    .option('--json', 'print one JSON document (and no progress bar)')
    .action(exploreCommand);

  program
    .command('shrink')
    .description('shrink a failing scenario (or choice file, or `run --json` document) to a minimal one breaking the same rule; print its counterexample')
    .argument('<input>', 'scenario file or shipped name, choice file (.json from --record-choices), or run --json document')
    .option('--seed <n>', 'seed of the failing run (default: the input\'s)', parseIntOption('--seed'))
    .option('--bug <name>', 'known-bug variant the failure needs (repeatable)', collect, [])
    .option('--kernel <profile>', 'run under this kernel profile instead of the scenario\'s')
    .option('--out <file.yaml>', 'where to write the minimal scenario (default: NAME-min.yaml)')
    .option('--max-runs <n>', 're-runs allowed (default 2000)', parseIntOption('--max-runs'))
    .option('--json', 'print one JSON document')
    .action(shrinkCmd);

  program
    .command('replay')
    .description('replay a run from a recorded choice list (from `run --record-choices` or `explore`)')
    .argument('<choices.json>', 'recorded choices')
    .option('--json', 'print one JSON document')
    .option('--trace <file.jsonl>', 'write the canonical JSONL trace')
    .action(replayCommand);

  program
    .command('sweep')
    .description('run a scenario over many seeds (optionally one shard of them) and write mergeable results')
    .argument('[scenario]', 'scenario file or shipped name')
    .option('--seeds <a..b>', 'seed range, inclusive', '1..10')
    .option('--shard <i/N|auto>', 'run only shard i of N (0-based; seeds dealt round-robin); auto: from SLURM_ARRAY_TASK_ID/_COUNT (or _MIN/_MAX) or JOB_COMPLETION_INDEX + IOPF_SHARD_COUNT')
    .option('--out <file.json>', 'write the result for `iopf merge` here ({index} and {count} are replaced by the shard\'s)')
    .option('--set <path=value>', 'override a scenario field before validation, e.g. iopf.workers=1 (repeatable)', collect, [])
    .option('--bug <name>', 'switch on a known bug or form on top of the profile (repeatable)', collect, [])
    .option(
      '--kernel <profile>',
      "kernel profile instead of the scenario's kernel: (reference | mainline | seed | v6.9 | v6.7; see `iopf list profiles`)",
    )
    .addOption(jobsOption())
    .option('--json', 'print one JSON document (and no progress bar)')
    .action(sweepCommand);

  program
    .command('merge')
    .description('merge sweep results (shards of one sweep); the merged file equals the one-process sweep\'s, byte for byte')
    .argument('<files...>', 'sweep result files (`iopf sweep --out`)')
    .option('--out <file.json>', 'write the merged sweep result here')
    .option('--allow-partial', 'merge even when some shards are missing (warns)')
    .option('--json', 'print one JSON document')
    .action(mergeCommand);

  program
    .command('report')
    .description('render the static HTML report of a saved `iopf run --json` document')
    .argument('<run.json>', 'the JSON document of a run')
    .option('-o, --output <file.html>', 'write the report here (default: standard output)')
    .action(reportCommand);

  program
    .command('fit')
    .description('fit a scenario to a trace (Linux ftrace of intel_iommu, or iopf JSONL): devices, arrivals, host latency')
    .argument('<trace>', 'trace file; .jsonl is read as iopf JSONL, anything else as ftrace text')
    .addOption(new Option('--format <fmt>', 'input format').choices(['auto', 'jsonl', 'ftrace']).default('auto'))
    .option('-o, --output <scenario.yaml>', 'write the fitted scenario here (default: standard output)')
    .option('--name <name>', 'scenario name (default: fitted-<trace file name>)')
    .option('--batch-gap-ns <n>', 'reports with consecutive seq# at most this far apart are one PRQ thread run', parseIntOption('--batch-gap-ns'))
    .option('--workers <n>', 'fault workqueue workers assumed when splitting host time into wait and service (default 4)', parseIntOption('--workers'))
    .option('--set <path=value>', 'override a field of the fitted scenario, validated like `run --set` (repeatable)', collect, [])
    .option('--json', 'print the fit report as one JSON document')
    .action(fitCommand);

  program
    .command('compare')
    .description('compare two runs (`iopf run --json` documents): latency percentiles and drop/auto-response counts side by side')
    .argument('<a.json>', 'the first run')
    .argument('<b.json>', 'the second run')
    .option('-o, --output <file.html>', 'also write one HTML report with both latency curves on the same plot')
    .action(compareCommand);

  program.command('schema').description('print the JSON Schema of scenario files').action(schemaCommand);

  program
    .command('list')
    .description('list rules, bugs, kernel profiles (profiles × behaviours), shipped scenarios, or hardware record layouts (with NAME: its bit table)')
    .argument('<what>', 'rules | bugs | profiles | scenarios | layouts')
    .argument('[name]', 'layouts only: a layout id (vtd.page_request) or spec name (CMD_PRI_RESP)')
    .option('--json', 'print JSON')
    .action(listCommand);

  return program;
}

/**
 * Run the CLI on `argv` (node, script, args…) and return the exit code. Exported so tests drive it
 * in-process; the process entry point below is the only caller that exits.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes('--debug');
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT.CLEAN : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help, `help` and --version succeed; usage printed because the command line was
      // incomplete (no command at all, say) is a usage error.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.CLEAN;
      if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.CLEAN : EXIT.BAD_INPUT;
      return EXIT.BAD_INPUT; // commander already printed the message
    }
    if (e instanceof UsageError || e instanceof SinkWriteError) {
      // One line whatever the input held (paths and names are escaped).
      process.stderr.write(`iopf: ${escapeText(e.message)}\n`);
      return EXIT.BAD_INPUT;
    }
    const err = e as Error;
    process.stderr.write(`iopf: internal error: ${escapeText(err.message)}\n`);
    if (debug && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
    else process.stderr.write('iopf: (run again with --debug for the stack trace)\n');
    return EXIT.VIOLATION;
  }
}

/** Whether this module is the process's entry point (`node dist/cli/main.js`, or the `iopf` link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A closed pipe on stdout (`iopf list rules | head`) ends the output, not in a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.CLEAN);
    throw e;
  });
  process.exitCode = await main(process.argv);
}
