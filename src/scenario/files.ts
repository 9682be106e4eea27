/**
 * Finding and reading scenario files: a path, or the name of a scenario shipped in the package's
 * `scenarios/` folder (the default among them). File reading is the only I/O here.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiB, readTextFile } from '../io/input-file.js';
import type { Diagnostic, Result } from './diagnostics.js';
import { parseScenario } from './loader.js';
import type { Override } from './overrides.js';
import type { Scenario } from './schema.js';

/** Largest scenario file read (the biggest valid scenario — 4096 processes of 64 VMAs — is ~16 MiB
 *  of YAML; anything larger is refused from its size before it is read). */
export const MAX_SCENARIO_BYTES = 16 * MiB;

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
  // Only a regular file of bounded size that is valid UTF-8 (a device such as /dev/zero, a FIFO or
  // a directory is refused before anything is read).
  const f = readTextFile(path, MAX_SCENARIO_BYTES, 'YAML or JSON text');
  if (!f.ok) return { ok: false, errors: [{ file: shown, line: f.line, col: f.col, path: '', message: f.message }] };
  const text = f.text;
  const r = parseScenario(text, shown, overrides);
  return r.ok ? { ok: true, value: { scenario: r.value, ref: shown, sets: overrides.map((o) => o.text), text } } : r;
}
