/**
 * Operating errors with a location. A bad scenario or trace is a value, never an exception across
 * the API: `{file, line, col, path, message}`, printed as `file:line:col: path: message`.
 */
export interface Diagnostic {
  file: string;
  /** 1-based; 0 when unknown. */
  line: number;
  col: number;
  /** Field path like `devices[0].pri.allocation`, or '' for the whole input. */
  path: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const loc = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  return d.path === '' ? `${loc}: ${d.message}` : `${loc}: ${d.path}: ${d.message}`;
}

/** `['devices', 0, 'pri']` → `devices[0].pri`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: Diagnostic[] };
