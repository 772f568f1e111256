// Starting a peer as a child process: used by the cluster launcher, the test harness and the bench.
//
// The child runs `node --enable-source-maps .build/peer.mjs NAME COUNT ...` directly (no npx, no
// shell in between), so the pid we hold is the peer's own and SIGKILL reaches the peer itself.
// The bundle (peer/bundle.ts) is built here first when it is missing or older than its sources;
// a bare node process saves the ~22 MiB that the tsx loader thread holds in a peer. Should the build fail,
// the peer runs as before with `node --import <tsx loader> peer/main.ts`, after one line on stderr.
// RAFT_PEER_TSX=1 in the environment (this process's, or the env given to spawnPeer) asks for
// the tsx loader without trying the bundle.
// With exitWithParent the child exits as soon as its stdin pipe closes, that is when the parent
// dies for any reason (even SIGKILL), so a killed launcher or test run leaves nothing behind.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBundle, newestSource, PEER_BUNDLE, type BundleSpec } from './bundle.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PEER_MAIN = join(REPO_ROOT, 'peer', 'main.ts');
/** Set in a child's environment: exit when stdin closes (the parent is gone). */
export const EXIT_WITH_STDIN_ENV = 'RAFT_EXIT_WITH_STDIN';
/** Set (to anything but '' or '0') in a peer's environment: it runs under tsx, not from the bundle. */
export const PEER_TSX_ENV = 'RAFT_PEER_TSX';

let loader: string | null = null;

/** The tsx loader as a file URL, for `node --import`. */
export function tsxLoader(): string {
  if (!loader) loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return loader;
}

// A failed build is not retried (nor reported again) until a source changes.
let failedAt: { spec: BundleSpec; sources: number } | null = null;

/**
 * How to run a peer: node's arguments up to and including the main module (the bundle, or
 * the tsx loader and peer/main.ts); the peer's own arguments follow.
 */
export function peerCommand(spec: BundleSpec = PEER_BUNDLE, env: NodeJS.ProcessEnv = process.env): string[] {
  const tsx = ['--import', tsxLoader(), PEER_MAIN];
  const want = env[PEER_TSX_ENV];
  if (want && want !== '0') return tsx;
  if (failedAt?.spec === spec && newestSource(spec.sources) === failedAt.sources) return tsx;
  const b = ensureBundle(spec);
  if (b.ok) {
    failedAt = null;
    return ['--enable-source-maps', b.file];
  }
  failedAt = { spec, sources: newestSource(spec.sources) };
  process.stderr.write(`peer bundle: build failed (${b.error}); running peers with the tsx loader instead\n`);
  return tsx;
}

export interface SpawnPeerOptions {
  name: string;
  count: number;
  config: string;
  profile?: string;
  verbose?: boolean;
  exitWithParent?: boolean;
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** Extra arguments after the usual ones. */
  extraArgs?: string[];
}

export function peerArgs(o: SpawnPeerOptions): string[] {
  const args = [...peerCommand(PEER_BUNDLE, { ...process.env, ...o.env }), o.name, String(o.count), '--config', o.config];
  if (o.profile) args.push('--profile', o.profile);
  if (o.verbose) args.push('-v');
  if (o.extraArgs) args.push(...o.extraArgs);
  return args;
}

export function spawnPeer(o: SpawnPeerOptions): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  if (o.exitWithParent !== false) env[EXIT_WITH_STDIN_ENV] = '1';
  return spawn(process.execPath, peerArgs(o), {
    cwd: REPO_ROOT,
    env,
    stdio: o.stdio ?? ['pipe', 'pipe', 'pipe'],
  });
}
