/**
 * Finding and reading scenario files: a path, or the name of a scenario shipped in the package's
 * `scenarios/` folder (the default among them). File reading is the only I/O here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic, Result } from './diagnostics.js';
import { parseScenario } from './loader.js';
import type { Override } from './overrides.js';
import type { Scenario } from './schema.js';

/** The package's shipped scenarios folder (works from src/ under tsx/vitest and from dist/). */
export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');

export interface LoadedScenario {
  scenario: Scenario;
  /** How to name it again on a command line (path or shipped name). */
  ref: string;
  /** The `--set` overrides applied (as given), to repeat on a replay command line. */
  sets: string[];
  /** The file's text as read (the shrinker edits the document, not the loader's output). */
  text: string;
}

export function shippedScenarios(): string[] {
  if (!existsSync(SCENARIO_DIR)) return [];
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.json'))
    .map((f) => basename(f).replace(/\.(yaml|json)$/, ''))
    .sort();
}

/** Load `ref` (a path, a shipped name, or undefined for the default), with `--set` overrides applied before validation. */
export function loadScenario(ref: string | undefined, overrides: readonly Override[] = []): Result<LoadedScenario> {
  let path: string;
  let shown: string;
  if (ref === undefined || ref === 'default') {
    path = join(SCENARIO_DIR, 'default.yaml');
    shown = 'default';
  } else if (existsSync(ref)) {
    path = ref;
    shown = ref;
  } else {
    const shipped = ['.yaml', '.json'].map((e) => join(SCENARIO_DIR, `${ref.replace(/^scenarios\//, '').replace(/\.(yaml|json)$/, '')}${e}`)).find((p) => existsSync(p));
    if (shipped === undefined) {
      const d: Diagnostic = {
        file: ref,
        line: 0,
        col: 0,
        path: '',
        message: `no such file, and no shipped scenario of that name (shipped: ${shippedScenarios().join(', ')})`,
      };
      return { ok: false, errors: [d] };
    }
    path = shipped;
    shown = ref;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, errors: [{ file: shown, line: 0, col: 0, path: '', message: `cannot read: ${(e as Error).message}` }] };
  }
  if (text.includes('\u0000')) return { ok: false, errors: [{ file: shown, line: 0, col: 0, path: '', message: 'binary file, expected YAML or JSON text' }] };
  const r = parseScenario(text, shown, overrides);
  return r.ok ? { ok: true, value: { scenario: r.value, ref: shown, sets: overrides.map((o) => o.text), text } } : r;
}
