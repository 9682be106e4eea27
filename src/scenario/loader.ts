/**
 * Scenario loading: YAML or JSON text → validated Scenario, or diagnostics that point at
 * file:line:col and the field path. Structural checks are zod's; cross-references and hardware
 * impossibilities are checked here, located the same way.
 *
 * Linear in the document: duplicate keys are found with one hash set per mapping (the yaml
 * package's own uniqueKeys check compares each key with every earlier one), and a diagnostic finds
 * its node through a per-mapping key index built once. Aliases are expanded at most 100 times
 * (a "billion laughs" document is refused with its location); a document nested too deeply for
 * the parser is refused the same way.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode, type YAMLMap } from 'yaml';
import type { z } from 'zod';
import { formatPath, quote, type Diagnostic, type Result } from './diagnostics.js';
import { scenarioSchema, type Scenario } from './schema.js';
import { SWITCH_NAMES } from './profiles.js';
import { Errno } from '../sim/errno.js';
import { applyOverrides, overrideFor, type Override } from './overrides.js';

/** Most alias expansions in one document. */
const MAX_ALIAS_COUNT = 100;

interface Located {
  doc: Document.Parsed;
  lines: LineCounter;
  file: string;
  /** Per mapping: its scalar keys → the pair index (built on first use). */
  index: WeakMap<YAMLMap, Map<string, number>>;
  /** `--set` overrides applied before validation: errors on their paths name them instead of a line. */
  overrides: readonly Override[];
}

function position(loc: Located, offset: number): { line: number; col: number } {
  const p = loc.lines.linePos(offset);
  return { line: p.line, col: p.col };
}

function keyIndex(loc: Located, map: YAMLMap): Map<string, number> {
  let idx = loc.index.get(map);
  if (idx === undefined) {
    idx = new Map();
    map.items.forEach((pair, i) => {
      const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (k !== undefined && !idx!.has(k)) idx!.set(k, i);
    });
    loc.index.set(map, idx);
  }
  return idx;
}

/** The child of a collection node at `key`, or undefined. */
function child(loc: Located, node: unknown, key: PropertyKey): unknown {
  if (isMap(node)) {
    const i = keyIndex(loc, node).get(String(key));
    return i === undefined ? undefined : (node.items[i]!.value ?? undefined);
  }
  if (isSeq(node) && typeof key === 'number') return node.items[key];
  return undefined;
}

/** The deepest node on `path` that exists, and whether it is the node itself. */
function nodeAt(loc: Located, path: readonly PropertyKey[]): YamlNode | undefined {
  let node: unknown = loc.doc.contents;
  for (const key of path) {
    const next = child(loc, isAlias(node) ? node.resolve(loc.doc) : node, key);
    if (next === undefined || next === null) break;
    node = next;
  }
  return node as YamlNode | undefined;
}

function keyNode(loc: Located, path: readonly PropertyKey[], key: string): YamlNode | undefined {
  const parent = nodeAt(loc, path);
  if (parent === undefined || !isMap(parent)) return undefined;
  const i = keyIndex(loc, parent).get(key);
  return i === undefined ? undefined : (parent.items[i]!.key as YamlNode);
}

function locate(loc: Located, path: readonly PropertyKey[], message: string, unknownKey?: string): Diagnostic {
  const o = overrideFor(loc.overrides, unknownKey !== undefined ? [...path, unknownKey] : path);
  if (o !== undefined) return { file: `--set ${o.text}`, line: 0, col: 0, path: formatPath(unknownKey !== undefined ? [...path, unknownKey] : path), message };
  const node = unknownKey !== undefined ? keyNode(loc, path, unknownKey) : nodeAt(loc, path);
  const range = node?.range;
  const { line, col } = range ? position(loc, range[0]) : { line: 1, col: 1 };
  const full = unknownKey !== undefined ? [...path, unknownKey] : path;
  return { file: loc.file, line, col, path: formatPath(full), message };
}

function describeInput(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return quote(v, 40);
  if (typeof v === 'object') return v === null ? 'null' : Array.isArray(v) ? 'a list' : 'a mapping';
  return typeof v === "number" || typeof v === "boolean" ? String(v) : typeof v;
}

function zodToDiagnostics(loc: Located, error: z.ZodError): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of error.issues) {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) out.push(locate(loc, path, `unknown key ${quote(k)}`, k));
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      const o = overrideFor(loc.overrides, path);
      const node = o === undefined ? nodeAt(loc, path) : undefined;
      const got =
        o !== undefined
          ? describeInput(path.slice(o.path.length).reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), o.value))
          : node && isScalar(node)
            ? describeInput(node.value)
            : issue.input === undefined
              ? 'nothing'
              : describeInput(issue.input);
      if (!message.includes(', got')) message = `expected ${issue.expected}, got ${got}`;
      if (got === 'nothing') message = `required field is missing (expected ${issue.expected})`;
    } else if (issue.code === 'invalid_union') {
      // A branch that got far enough to say what is wrong (a custom check) speaks for the union.
      const custom = issue.errors.flat().find((i) => i.code === 'custom');
      if (custom !== undefined) message = custom.message;
      else if ('input' in issue) message = `${message}: got ${describeInput(issue.input)}`;
    } else if (issue.code === 'invalid_value') {
      // zod does not keep the input on the issue: read it from the document.
      const node = nodeAt(loc, path);
      const got = node && isScalar(node) ? describeInput(node.value) : describeInput(issue.input);
      message = `expected one of ${issue.values.map((v) => (typeof v === 'string' ? quote(v) : String(v))).join(', ')}, got ${got}`;
    }
    out.push(locate(loc, path, message));
  }
  return out;
}

/** Cross-references and hardware impossibilities zod cannot see. */
function semanticChecks(loc: Located, s: Scenario): Diagnostic[] {
  const out: Diagnostic[] = [];
  const err = (path: PropertyKey[], msg: string): void => {
    out.push(locate(loc, path, msg));
  };
  const devices = new Map(s.devices.map((d, i) => [d.name, i]));
  const processes = new Map(s.processes.map((p, i) => [p.name, i]));
  const faults = new Set(s.iommufd.faults.map((f) => f.name));
  const seen = new Set<string>();
  s.devices.forEach((d, i) => {
    if (seen.has(d.name)) err(['devices', i, 'name'], `duplicate device name ${quote(d.name)}`);
    seen.add(d.name);
  });
  const rids = new Set<number>();
  s.devices.forEach((d, i) => {
    if (rids.has(d.rid)) err(['devices', i, 'rid'], `duplicate requester ID 0x${d.rid.toString(16)}`);
    rids.add(d.rid);
  });
  seen.clear();
  s.processes.forEach((p, i) => {
    if (seen.has(p.name)) err(['processes', i, 'name'], `duplicate process name ${quote(p.name)}`);
    seen.add(p.name);
    p.vmas.forEach((v, j) => {
      if (v.start % 4096 !== 0) err(['processes', i, 'vmas', j, 'start'], 'expected a page-aligned (4 KiB) address');
      if (v.size === 0 || v.size % 4096 !== 0) err(['processes', i, 'vmas', j, 'size'], 'expected a positive multiple of 4 KiB');
      if (v.start + v.size > 2 ** 52) err(['processes', i, 'vmas', j, 'size'], 'VMA ends beyond 2^52 (the model keeps addresses exact)');
      if (v.size / 4096 > 1 << 24) err(['processes', i, 'vmas', j, 'size'], 'VMA larger than 2^24 pages (64 GiB): too large for the model');
    });
    // mmap(MAP_FIXED_NOREPLACE) refuses a range that overlaps a mapping (-EEXIST): VMAs of one
    // process never overlap.
    const order = p.vmas.map((v, j) => ({ start: v.start, end: v.start + v.size, j })).sort((a, b) => a.start - b.start || a.j - b.j);
    for (let k = 1; k < order.length; k++) {
      const a = order[k - 1]!;
      const b = order[k]!;
      if (b.start < a.end)
        err(['processes', i, 'vmas', Math.max(a.j, b.j), 'start'], `VMA overlaps vmas[${Math.min(a.j, b.j)}] of process ${quote(p.name)} (VMAs of one mm never overlap)`);
    }
  });
  const devRef = (path: PropertyKey[], name: string): void => {
    if (!devices.has(name)) err(path, `unknown device ${quote(name)} (devices: ${[...devices.keys()].slice(0, 10).join(', ')}${devices.size > 10 ? ', …' : ''})`);
  };
  const procRef = (path: PropertyKey[], name: string): void => {
    if (!processes.has(name))
      err(path, `unknown process ${quote(name)} (processes: ${[...processes.keys()].slice(0, 10).join(', ') || 'none'}${processes.size > 10 ? ', …' : ''})`);
  };
  const pairKey = (d: string, p: string): string => JSON.stringify([d, p]);
  const svaPairs = new Map<string, number>();
  s.binds.forEach((b, i) => {
    devRef(['binds', i, 'device'], b.device);
    procRef(['binds', i, 'process'], b.process);
    const k = pairKey(b.device, b.process);
    if (svaPairs.has(k)) err(['binds', i], `device ${quote(b.device)} and process ${quote(b.process)} are already bound by binds[${svaPairs.get(k)!}]`);
    else svaPairs.set(k, i);
  });
  // A PASID of a device has one domain: a pair is either SVA-bound or attached to an iommufd
  // hwpt (iommu_attach_device_pasid() fails with -EBUSY on an occupied PASID).
  const attached = new Map<string, number>();
  s.iommufd.attach.forEach((a, i) => {
    const k = pairKey(a.device, a.process);
    if (svaPairs.has(k))
      err(['iommufd', 'attach', i], `device ${quote(a.device)} and process ${quote(a.process)} are SVA-bound by binds[${svaPairs.get(k)!}]: a PASID has one domain, SVA or iommufd`);
    else if (attached.has(k)) err(['iommufd', 'attach', i], `device ${quote(a.device)} and process ${quote(a.process)} are already attached by iommufd.attach[${attached.get(k)!}]`);
    else attached.set(k, i);
  });
  s.workloads.forEach((w, i) => {
    if (s.iommu.family === 'mock') err(['workloads', i], 'the mock IOMMU (iommu.family mock) has no page request queue: inject faults with a script step trigger_iopf');
    devRef(['workloads', i, 'device'], w.device);
    procRef(['workloads', i, 'process'], w.process);
    const p = s.processes[processes.get(w.process) ?? -1];
    if (p !== undefined && w.vma >= p.vmas.length) err(['workloads', i, 'vma'], `process ${quote(w.process)} has ${p.vmas.length} VMAs`);
    const d = s.devices[devices.get(w.device) ?? -1];
    if (d !== undefined) {
      if (w.access.exec.num > 0 && !d.pasid.exec_enabled)
        err(['workloads', i, 'access', 'exec'], `device ${quote(d.name)} has PASID Execute Permission disabled: it cannot request execute`);
      if (w.access.priv.num > 0 && !d.pasid.priv_enabled)
        err(['workloads', i, 'access', 'priv'], `device ${quote(d.name)} has PASID Privileged Mode disabled`);
      if (!w.with_pasid && (w.access.exec.num > 0 || w.access.priv.num > 0))
        err(['workloads', i, 'with_pasid'], 'Execute and Privileged are only carried with a PASID (PCIe §10.4.1)');
      if (!w.access.read && w.access.exec.num > 0)
        err(['workloads', i, 'access', 'exec'], 'Execute Requested without Read: an execute page request must also request Read (PCIe §10.4.1)');
      else if (!w.access.read && w.access.write.num !== w.access.write.den)
        err(['workloads', i, 'access', 'write'], 'with access.read false every access must write (write: 1): a request with neither R nor W is a Stop Marker');
      if (w.prg_pages > 1 && s.iommu.family === 'smmuv3' && s.iommu.smmuv3.mode === 'stall')
        err(['workloads', i, 'prg_pages'], 'SMMUv3 stall mode has no page request groups: each stalled transaction is its own fault (expected prg_pages: 1)');
      if (w.prg_pages > d.pri.allocation)
        err(['workloads', i, 'prg_pages'], `a group of ${w.prg_pages} requests can never fit in pri.allocation ${d.pri.allocation}`);
    }
  });
  const exits = new Map<string, number>();
  s.actions.forEach((a, i) => {
    if (a.op === 'exit') {
      // A process exits once: exit_mmap() runs when its last user reference goes.
      if (exits.has(a.process)) err(['actions', i, 'process'], `process ${quote(a.process)} already exits in actions[${exits.get(a.process)!}]`);
      else exits.set(a.process, i);
    }
    if (a.op === 'bind' && attached.has(pairKey(a.device, a.process)))
      err(['actions', i], `device ${quote(a.device)} and process ${quote(a.process)} are attached to iommufd (iommufd.attach[${attached.get(pairKey(a.device, a.process))!}]): SVA cannot bind the same PASID`);
    if ('device' in a) devRef(['actions', i, 'device'], a.device);
    if ('process' in a && a.process !== undefined) procRef(['actions', i, 'process'], a.process);
    if ('fault' in a && typeof a.fault === 'string' && !faults.has(a.fault)) err(['actions', i, 'fault'], `unknown iommufd fault object ${quote(a.fault)}`);
  });
  s.iommufd.attach.forEach((a, i) => {
    devRef(['iommufd', 'attach', i, 'device'], a.device);
    procRef(['iommufd', 'attach', i, 'process'], a.process);
    if (a.fault !== undefined && !faults.has(a.fault)) err(['iommufd', 'attach', i, 'fault'], `unknown iommufd fault object ${quote(a.fault)}`);
  });
  s.bugs.forEach((b, i) => {
    if (!SWITCH_NAMES.includes(b)) err(['bugs', i], `unknown behaviour switch ${quote(b)} (known: ${SWITCH_NAMES.join(', ')})`);
  });
  const prq = s.iommu.vtd.prq_entries;
  if (prq !== undefined) {
    // PQA encodes the size as 2^(X+7) entries, X in 0..7: only powers of two from 128 to 16384.
    if ((prq & (prq - 1)) !== 0 || prq < 128 || prq > 16384)
      err(['iommu', 'vtd', 'prq_entries'], `expected a power of two from 128 to 16384 (PQA holds 2^(X+7) entries), got ${prq}`);
    else s.iommu.vtd.prq_order = Math.log2(prq) - 7;
  }
  scriptChecks(s, err);
  const ppr = s.iommu.amd.ppr_log_entries;
  if ((ppr & (ppr - 1)) !== 0) err(['iommu', 'amd', 'ppr_log_entries'], `expected a power of two, got ${ppr}`);
  return out;
}

/** The script's cross-references: devices, `$name` references to earlier `as:`, errno names, and
 * which steps the IOMMU family can run. */
function scriptChecks(s: Scenario, err: (path: PropertyKey[], msg: string) => void): void {
  const devices = new Set(s.devices.map((d) => d.name));
  const named = new Set<string>();
  const isErrno = (v: string): boolean => Object.prototype.hasOwnProperty.call(Errno, v.startsWith('-') ? v.slice(1) : v);
  const rawSize = s.iommu.family === 'vtd' ? 32 : 16;
  s.script.forEach((st, i) => {
    const at = (...k: PropertyKey[]): PropertyKey[] => ['script', i, ...k];
    const refOk = (v: unknown, ...k: PropertyKey[]): void => {
      if (typeof v !== 'string') return;
      const name = v.slice(1).split('.')[0]!;
      if (!named.has(name)) err(at(...k), `"${v}" refers to "${name}", which no earlier step names with as:`);
    };
    for (const [k, v] of Object.entries(st)) {
      if (k === 'op' || k === 'as' || k === 'expect' || k === 'at_ns' || k === 'hex') continue;
      if (k === 'device' && st.op !== 'bind' && st.op !== 'mock_domain') refOk(v, k);
      else if (k === 'device') {
        if (!devices.has(v as string)) err(at(k), `unknown device "${String(v)}" (devices: ${[...devices].join(', ')})`);
      } else if (k === 'responses' && Array.isArray(v)) v.forEach((r: { cookie: unknown }, j) => { refOk(r.cookie, k, j, 'cookie'); });
      else refOk(v, k);
    }
    const e = st.expect;
    if (e !== undefined) {
      if (typeof e.ret === 'string' && !isErrno(e.ret)) err(at('expect', 'ret'), `unknown errno name "${e.ret}" (known: ${Object.keys(Errno).join(', ')})`);
      for (const k of ['id', 'fault_id', 'hwpt_id', 'stdev_id', 'idev_id'] as const) refOk(e[k], 'expect', k);
      e.records?.forEach((r, j) => {
        refOk(r.dev_id, 'expect', 'records', j, 'dev_id');
        refOk(r.cookie, 'expect', 'records', j, 'cookie');
      });
      e.responses?.forEach((r, j) => {
        if (r.device !== undefined && !devices.has(r.device)) err(at('expect', 'responses', j, 'device'), `unknown device "${r.device}"`);
      });
    }
    if (st.op === 'trigger_iopf' && s.iommu.family !== 'mock')
      err(at('op'), 'trigger_iopf is the iommufd selftest mock\'s (IOMMU_TEST_OP_TRIGGER_IOPF): it needs iommu.family mock; use inject_raw to feed a hardware queue');
    if (st.op === 'mock_domain' && s.iommu.family !== 'mock')
      err(at('op'), 'mock_domain is the iommufd selftest\'s (IOMMU_TEST_OP_MOCK_DOMAIN): it needs iommu.family mock; use bind + attach');
    if (st.op === 'inject_raw') {
      if (s.iommu.family === 'mock') err(at('op'), 'the mock IOMMU has no hardware queue to inject into');
      else if (s.iommu.family === 'smmuv3' && s.iommu.smmuv3.mode !== 'pri') err(at('op'), 'inject_raw feeds the SMMUv3 PRI queue: needs iommu.smmuv3.mode pri');
      const n = st.hex.replace(/[\s_]/g, '').length / 2;
      if (n !== rawSize) err(at('hex'), `a ${s.iommu.family} ${rawSize === 32 ? 'page request descriptor' : s.iommu.family === 'amd' ? 'PPR log entry' : 'PRI queue entry'} is ${rawSize} bytes, got ${n}`);
    }
    if (st.as !== undefined) named.add(st.as);
  });
}

/** Where each script step starts in the file (1-based lines), for SCRIPT.EXPECT messages. */
function scriptLines(loc: Located, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const node = nodeAt(loc, ['script', i]);
    out.push(node?.range ? position(loc, node.range[0]).line : 0);
  }
  return out;
}

/** Duplicate keys of every mapping, one hash set per mapping (linear in the document). */
function duplicateKeys(loc: Located): Diagnostic[] {
  const out: Diagnostic[] = [];
  visit(loc.doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const k = String(pair.key.value);
        if (seen.has(k)) {
          const { line, col } = pair.key.range ? position(loc, pair.key.range[0]) : { line: 1, col: 1 };
          out.push({ file: loc.file, line, col, path: '', message: `syntax error: map keys must be unique (key ${quote(k)} appears twice)` });
          if (out.length >= 20) return visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return out;
}

/** Where the first alias is (for the alias-bomb diagnostic). */
function firstAlias(loc: Located): { line: number; col: number } {
  let at = { line: 1, col: 1 };
  visit(loc.doc, {
    Alias(_key, node) {
      if (node.range) at = position(loc, node.range[0]);
      return visit.BREAK;
    },
  });
  return at;
}

/**
 * Parse and validate scenario text. `file` is only used in diagnostics. `overrides` (`--set`) are
 * applied to the document before validation, so the schema checks them like the file's own values.
 */
export function parseScenario(text: string, file: string, overrides: readonly Override[] = []): Result<Scenario> {
  try {
    return parseScenarioText(text, file, overrides);
  } catch (e) {
    // Every step that walks the document recurses per nesting level (the yaml composer, toJS,
    // zod): a document nested thousands deep is refused, not a crash.
    if (e instanceof RangeError) return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message: 'the document is nested too deeply' }] };
    throw e;
  }
}

function parseScenarioText(text: string, file: string, overrides: readonly Override[]): Result<Scenario> {
  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  } catch (e) {
    // The composer recurses per nesting level: a document nested thousands deep overflows it.
    if (e instanceof RangeError) return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message: 'syntax error: the document is nested too deeply' }] };
    throw e;
  }
  const loc: Located = { doc, lines, file, overrides, index: new WeakMap() };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const { line, col } = position(loc, e.pos[0]);
        const first = e.message.split('\n')[0] ?? e.message;
        return { file, line, col, path: '', message: `syntax error: ${first.replace(/ at line \d+, column \d+:?$/, '')}` };
      }),
    };
  }
  const dups = duplicateKeys(loc);
  if (dups.length > 0) return { ok: false, errors: dups };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ReferenceError) {
      // yaml: "Excessive alias count indicates a resource exhaustion attack" (or an unresolved alias).
      const { line, col } = firstAlias(loc);
      return {
        ok: false,
        errors: [{ file, line, col, path: '', message: `aliases expand beyond ${MAX_ALIAS_COUNT} nodes (or do not resolve): refused as a resource exhaustion attack` }],
      };
    }
    if (e instanceof RangeError) return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message: 'syntax error: the document is nested too deeply' }] };
    throw e;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message: 'expected a mapping at the top level' }] };
  }
  if (overrides.length > 0) {
    const failed = applyOverrides(data as Record<string, unknown>, overrides);
    if (failed.length > 0) return { ok: false, errors: failed };
  }
  let parsed: ReturnType<typeof scenarioSchema.safeParse>;
  try {
    parsed = scenarioSchema.safeParse(data);
  } catch (e) {
    if (e instanceof RangeError) return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message: 'the document is nested too deeply' }] };
    throw e;
  }
  if (!parsed.success) return { ok: false, errors: zodToDiagnostics(loc, parsed.error) };
  const semantic = semanticChecks(loc, parsed.data);
  if (semantic.length > 0) return { ok: false, errors: semantic };
  const value: Scenario = parsed.data;
  if (value.script.length > 0) value.scriptSource = { file, lines: scriptLines(loc, value.script.length) };
  return { ok: true, value };
}
