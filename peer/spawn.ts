// Starting a peer as a child process: used by the cluster launcher and the test harness.
//
// The child runs `node --import <tsx loader> peer/main.ts NAME COUNT ...` directly (no npx, no
// shell in between), so the pid we hold is the peer's own and SIGKILL reaches the peer itself.
// With exitWithParent the child exits as soon as its stdin pipe closes, that is when the parent
// dies for any reason (even SIGKILL), so a killed launcher or test run leaves nothing behind.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PEER_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
/** Set in a child's environment: exit when stdin closes (the parent is gone). */
export const EXIT_WITH_STDIN_ENV = 'RAFT_EXIT_WITH_STDIN';

let loader: string | null = null;

/** The tsx loader as a file URL, for `node --import`. */
export function tsxLoader(): string {
  if (!loader) loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return loader;
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
  const args = ['--import', tsxLoader(), PEER_MAIN, o.name, String(o.count), '--config', o.config];
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
