/**
 * The browser of the browser tests: a Chromium from an npm package pinned in package-lock.json
 * (@sparticuz/chromium, a headless shell for Linux x64 shipped as brotli files inside the package),
 * launched through playwright-core. Nothing is downloaded and nothing needs apt: `npm ci` brings the
 * browser. The package unpacks into `os.tmpdir()` by default, which several test processes (or
 * several checkouts on one machine) would race on, so it is unpacked once per package version into
 * `node_modules/.cache/`, staged in a private directory and renamed into place (rename is atomic:
 * a reader sees a complete browser or none).
 *
 * The package's own shared libraries (NSS, NSPR, expat — the libraries the binary links against
 * that a bare Node image lacks) are unpacked beside it and put first on LD_LIBRARY_PATH, so the
 * browser runs on a machine that has nothing but Node. Its bundled fonts get a fontconfig file of
 * their own.
 *
 * Overrides, never required: IOPF_CHROMIUM=/path/to/chrome uses that binary; on a platform the
 * package does not ship for (it ships x64 Linux only), a `chromium` found on PATH (a distribution's
 * package, say) is used instead.
 */
import { accessSync, constants, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, delimiter, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { extract } from 'tar-fs';
import { chromium as playwright, type BrowserContext } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Flags for a closed machine (no network but the package registries): no first-run, no
 *  background fetches, no component updates, no sync, no QUIC — without them Chromium keeps
 *  trying Google's hosts — plus no GPU and no sandbox (CI runs as root). */
export const CLOSED_MACHINE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ResolvedChromium {
  executablePath: string;
  /** Where it came from: 'npm @sparticuz/chromium@V', 'IOPF_CHROMIUM', or 'PATH'. */
  source: string;
  /** Extra flags recommended for this build. */
  args: string[];
  env: Record<string, string>;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The package's flags minus the ones that fight playwright-core or this test: playwright passes
 *  its own headless switch, and web security stays on (the report must work without relaxing it). */
function packageArgs(args: readonly string[]): string[] {
  return args.filter(
    (a) => !a.startsWith('--headless') && a !== '--disable-web-security' && a !== '--allow-running-insecure-content',
  );
}

async function unpackNpmChromium(): Promise<ResolvedChromium> {
  // The package exports no package.json: walk up from its entry point to its root.
  let root = dirname(require.resolve('@sparticuz/chromium'));
  while (!existsSync(join(root, 'package.json')) || !existsSync(join(root, 'bin'))) {
    const up = dirname(root);
    if (up === root) throw new Error('@sparticuz/chromium: package root not found');
    root = up;
  }
  const pkgJson = join(root, 'package.json');
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  const binDir = join(dirname(pkgJson), 'bin');
  const mod = (await import('@sparticuz/chromium')).default;
  const cacheRoot = join(process.cwd(), 'node_modules', '.cache');
  const dir = join(cacheRoot, `iopf-chromium-${version}`);
  const done = join(dir, 'complete');
  if (!existsSync(done)) {
    mkdirSync(cacheRoot, { recursive: true });
    const staging = mkdtempSync(join(cacheRoot, `iopf-chromium-${version}.staging-`));
    const savedTmp = process.env.TMPDIR;
    try {
      // The package unpacks into os.tmpdir(), read at call time: point it at the staging directory.
      process.env.TMPDIR = staging;
      const exe = await mod.executablePath(binDir);
      if (exe !== join(staging, 'chromium')) throw new Error(`@sparticuz/chromium unpacked to ${exe}, expected ${staging}`);
      await pipeline(createReadStream(join(binDir, 'al2023.tar.br')), createBrotliDecompress(), extract(join(staging, 'al2023')));
      writeFileSync(
        join(staging, 'fonts.conf'),
        `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${join(dir, 'fonts')}</dir>\n  <dir>/usr/share/fonts</dir>\n  <cachedir>${join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
      );
      writeFileSync(join(staging, 'complete'), `${version}\n`);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    try {
      renameSync(staging, dir);
    } catch (e) {
      // Another process won the race (the target exists and is complete), or a stale partial
      // directory without the marker is in the way: replace it.
      if (existsSync(done)) rmSync(staging, { recursive: true, force: true });
      else {
        rmSync(dir, { recursive: true, force: true });
        try {
          renameSync(staging, dir);
        } catch {
          if (!existsSync(done)) throw e;
          rmSync(staging, { recursive: true, force: true });
        }
      }
    }
  }
  const libs = join(dir, 'al2023', 'lib');
  return {
    executablePath: join(dir, 'chromium'),
    source: `npm @sparticuz/chromium@${version}`,
    args: packageArgs(mod.args),
    env: {
      LD_LIBRARY_PATH: [libs, ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter((s) => s !== '')].join(':'),
      FONTCONFIG_FILE: join(dir, 'fonts.conf'),
    },
  };
}

export async function resolveChromium(): Promise<ResolvedChromium> {
  const explicit = process.env.IOPF_CHROMIUM;
  if (explicit !== undefined && explicit !== '') return { executablePath: explicit, source: 'IOPF_CHROMIUM', args: [], env: {} };
  if (process.platform === 'linux' && process.arch === 'x64') return unpackNpmChromium();
  const onPath = findOnPath('chromium') ?? findOnPath('chromium-browser');
  if (onPath !== undefined) return { executablePath: onPath, source: 'PATH', args: [], env: {} };
  throw new Error(
    `no browser: @sparticuz/chromium ships Linux x64 only (this is ${process.platform}/${process.arch}) and no chromium is on PATH; set IOPF_CHROMIUM=/path/to/chrome`,
  );
}

/** A headless Chromium with a fresh, empty profile directory (removed by `close`). */
export async function launchChromium(): Promise<{ context: BrowserContext; source: string; close: () => Promise<void> }> {
  const c = await resolveChromium();
  const profile = mkdtempSync(join(tmpdir(), 'iopf-chromium-profile-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, c.env);
  const context = await playwright.launchPersistentContext(profile, {
    executablePath: c.executablePath,
    headless: true,
    args: [...new Set([...c.args, ...CLOSED_MACHINE_FLAGS])],
    env,
    viewport: { width: 1100, height: 900 },
    timeout: 60_000,
  });
  return {
    context,
    source: c.source,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
