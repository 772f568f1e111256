// The peer as one plain JavaScript file (.build/peer.mjs), so a spawned peer is a bare `node`
// process. Under `node --import tsx` the TypeScript loader's hooks run in a thread of their own
// with its own V8 heap: a peer started that way holds about 85 MiB of RSS, from the bundle about 63.
//
// ensureBundle() builds peer/main.ts with esbuild (bundle, ESM, platform node; every package,
// ws and ini, stays an import from node_modules) when the bundle is missing or older than any
// file under the source directories (peer/, shared/) or tsconfig.json. The check is a walk of
// those directories' mtimes (about a millisecond); a build takes 150-400 ms. Several processes
// may build at once: each writes temporary files and renames them into place, so a reader sees
// an old or a new bundle, never half of one. A failed build returns the reason and the caller
// falls back to the tsx loader.
//
// The bundle carries a source map (.build/peer.mjs.map); peers run with --enable-source-maps,
// so stack traces name the .ts files and lines.
import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BundleSpec {
  /** The directory esbuild works in (relative paths in the source map start here). */
  root: string;
  /** The entry point. */
  entry: string;
  /** Where the bundle goes; its source map goes next to it (+ '.map'). */
  outfile: string;
  /** A bundle older than any file here (directories are walked) is rebuilt. */
  sources: string[];
}

/** The repository's peer bundle. */
export const PEER_BUNDLE: BundleSpec = {
  root: ROOT,
  entry: join(ROOT, 'peer', 'main.ts'),
  outfile: join(ROOT, '.build', 'peer.mjs'),
  sources: [join(ROOT, 'peer'), join(ROOT, 'shared'), join(ROOT, 'tsconfig.json')],
};

export type BundleResult = { ok: true; file: string; built: boolean; ms: number } | { ok: false; error: string };

function mtimeOf(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** The newest mtime of the paths and everything below them (a deleted file changes its directory's mtime). */
export function newestSource(paths: string[]): number {
  let newest = 0;
  const visit = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.mtimeMs > newest) newest = st.mtimeMs;
    if (!st.isDirectory()) return;
    for (const name of readdirSync(p)) if (name !== 'node_modules' && !name.startsWith('.')) visit(join(p, name));
  };
  for (const p of paths) visit(p);
  return newest;
}

/** The bundle is there, with its source map, and no source is newer. */
export function bundleIsFresh(spec: BundleSpec): boolean {
  const bundle = mtimeOf(spec.outfile);
  const map = mtimeOf(`${spec.outfile}.map`);
  if (bundle === null || map === null) return false;
  return newestSource(spec.sources) <= bundle;
}

type Esbuild = typeof import('esbuild');
let esbuild: Esbuild | null = null;

function oneLine(e: unknown): string {
  const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors;
  if (Array.isArray(errors) && errors.length > 0) {
    const first = errors[0]!;
    const at = first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    return `${at}${first.text}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`;
  }
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** Temporary files of builds that were killed midway (older than a minute; a build takes well under that). */
function removeLeftovers(dir: string, now: number): void {
  try {
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.tmp')) continue;
      const t = mtimeOf(join(dir, name));
      if (t !== null && now - t > 60_000) unlinkSync(join(dir, name));
    }
  } catch {
    // another build removed it first
  }
}

/** Builds the bundle now (no freshness check). */
export function buildBundle(spec: BundleSpec): BundleResult {
  const started = Date.now();
  // The bundle's mtime becomes the newest source's as seen before the build: a source edited
  // during or after the build is newer, so the next check builds again.
  const asOf = new Date(Math.ceil(newestSource(spec.sources))); // utimes keeps whole milliseconds
  const tmp = `.${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`;
  const written: string[] = [];
  try {
    // Loaded only here: a peer running from the bundle never loads esbuild.
    esbuild ??= createRequire(import.meta.url)('esbuild') as Esbuild;
    const result = esbuild.buildSync({
      absWorkingDir: spec.root,
      entryPoints: [spec.entry],
      outfile: spec.outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      sourcemap: 'linked',
      write: false,
      logLevel: 'silent',
    });
    mkdirSync(dirname(spec.outfile), { recursive: true });
    // The source map first, the bundle last: the bundle's rename is what makes the new build visible.
    const files = [...result.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')));
    for (const f of files) {
      writeFileSync(f.path + tmp, f.contents);
      written.push(f.path + tmp);
    }
    for (const f of files) {
      utimesSync(f.path + tmp, asOf, asOf);
      renameSync(f.path + tmp, f.path);
    }
    removeLeftovers(dirname(spec.outfile), started);
    return { ok: true, file: spec.outfile, built: true, ms: Date.now() - started };
  } catch (e) {
    for (const w of written) {
      try {
        unlinkSync(w);
      } catch {
        // already renamed, or never written
      }
    }
    return { ok: false, error: oneLine(e) };
  }
}

/** The bundle, built first when it is missing or stale. */
export function ensureBundle(spec: BundleSpec = PEER_BUNDLE): BundleResult {
  if (bundleIsFresh(spec)) return { ok: true, file: spec.outfile, built: false, ms: 0 };
  return buildBundle(spec);
}
