/**
 * `--set path=value`: change one field of a scenario document before it is validated, so the same
 * schema checks the changed document and its errors name the `--set` that caused them.
 *
 * The path is dotted, list items by index (`devices.0.pri.allocation`, or `devices[0].pri.allocation`);
 * the value is a YAML scalar or flow collection (so JSON too): `2`, `true`, `required`, `"00:02.0"`,
 * `{ dist: fixed, ns: 1000 }`. Missing mappings on the path are created; list items must exist.
 */
import { parse as parseYaml } from 'yaml';
import { formatPath, type Diagnostic, type Result } from './diagnostics.js';

export interface Override {
  /** Path segments: strings for keys, numbers for list indices. */
  readonly path: readonly (string | number)[];
  readonly value: unknown;
  /** As given on the command line (`iommu.vtd.prq_order=2`), for diagnostics and replay lines. */
  readonly text: string;
}

function bad(text: string, message: string): Result<never> {
  return { ok: false, errors: [{ file: `--set ${text}`, line: 0, col: 0, path: '', message }] };
}

/** Parse one `path=value`. */
export function parseOverride(text: string): Result<Override> {
  const eq = text.indexOf('=');
  if (eq <= 0) return bad(text, 'expected path=value, e.g. iommu.vtd.prq_order=2');
  const rawPath = text.slice(0, eq).trim();
  const rawValue = text.slice(eq + 1);
  const path: (string | number)[] = [];
  for (const part of rawPath.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (part === '') return bad(text, `expected a dotted path like iopf.workers, got "${rawPath}"`);
    if (!/^[A-Za-z0-9_-]+$/.test(part)) return bad(text, `expected path segments of letters, digits, _ and -, got "${part}"`);
    path.push(/^\d+$/.test(part) ? Number(part) : part);
  }
  if (typeof path[0] === 'number') return bad(text, 'the path must start with a field name');
  let value: unknown;
  try {
    value = parseYaml(rawValue, { prettyErrors: false });
  } catch (e) {
    return bad(text, `expected a YAML or JSON value after "=", got "${rawValue}" (${(e as Error).message.split('\n')[0]})`);
  }
  return { ok: true, value: { path, value: value ?? null, text } };
}

/** Parse every `--set` argument; all errors at once. */
export function parseOverrides(texts: readonly string[]): Result<Override[]> {
  const out: Override[] = [];
  const errors: Diagnostic[] = [];
  for (const t of texts) {
    const r = parseOverride(t);
    if (r.ok) out.push(r.value);
    else errors.push(...r.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Apply overrides to a parsed (not yet validated) document, in order. The document is changed in
 * place; errors say which `--set` could not be applied and why.
 */
export function applyOverrides(doc: Record<string, unknown>, overrides: readonly Override[]): Diagnostic[] {
  const errors: Diagnostic[] = [];
  for (const o of overrides) {
    let node: unknown = doc;
    let ok = true;
    for (let i = 0; i < o.path.length - 1 && ok; i++) {
      const seg = o.path[i]!;
      const next = o.path[i + 1]!;
      const here = formatPath(o.path.slice(0, i + 1));
      if (typeof seg === 'number') {
        if (!Array.isArray(node) || seg >= node.length) {
          errors.push({ file: `--set ${o.text}`, line: 0, col: 0, path: here, message: `no list item ${seg} (the list has ${Array.isArray(node) ? node.length : 0})` });
          ok = false;
          break;
        }
        node = node[seg];
        continue;
      }
      if (!isRecord(node)) {
        errors.push({ file: `--set ${o.text}`, line: 0, col: 0, path: formatPath(o.path.slice(0, i)), message: 'expected a mapping on the path' });
        ok = false;
        break;
      }
      if (node[seg] === undefined || node[seg] === null) node[seg] = typeof next === 'number' ? [] : {};
      node = node[seg];
    }
    if (!ok) continue;
    const last = o.path[o.path.length - 1]!;
    if (typeof last === 'number') {
      if (!Array.isArray(node) || last > node.length) {
        errors.push({ file: `--set ${o.text}`, line: 0, col: 0, path: formatPath(o.path), message: `no list item ${last} (the list has ${Array.isArray(node) ? node.length : 0}; an index equal to the length appends)` });
        continue;
      }
      node[last] = o.value;
    } else if (isRecord(node)) node[last] = o.value;
    else errors.push({ file: `--set ${o.text}`, line: 0, col: 0, path: formatPath(o.path.slice(0, -1)), message: 'expected a mapping on the path' });
  }
  return errors;
}

/** The override whose path is `path` or a prefix of it (the last one given wins), if any. */
export function overrideFor(overrides: readonly Override[], path: readonly PropertyKey[]): Override | undefined {
  for (let k = overrides.length - 1; k >= 0; k--) {
    const o = overrides[k]!;
    if (o.path.length <= path.length && o.path.every((s, i) => s === path[i])) return o;
  }
  return undefined;
}

/** A shell word for a replay command line (single-quoted when it holds anything but safe characters). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
