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

/**
 * Characters that would break a one-line diagnostic or fool a terminal: C0 and C1 controls (line
 * breaks, escape sequences), DEL, the Unicode line and paragraph separators, bidirectional
 * overrides and isolates, and lone surrogates.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
}

/** `text` with every unsafe character written as an escape (`\n`, `\u001b`, …): one printable line. */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** User text quoted for a message: JSON-style quotes, escapes, at most `max` characters. */
export function quote(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return `"${escapeText(cut.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}"`;
}

export function formatDiagnostic(d: Diagnostic): string {
  const loc = d.line > 0 ? `${escapeText(d.file)}:${d.line}:${d.col}` : escapeText(d.file);
  const msg = escapeText(d.message);
  return d.path === '' ? `${loc}: ${msg}` : `${loc}: ${escapeText(d.path)}: ${msg}`;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['devices', 0, 'pri']` → `devices[0].pri`; a key that is not a plain name is quoted: `a["x.y"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && PLAIN_KEY.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${quote(String(p))}]`;
  }
  return out;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: Diagnostic[] };
