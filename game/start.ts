// `npm start -- [--peers N] [--profile slow|fast] [--config FILE] [--attacks on|off]`:
// builds the game if needed, starts the relay (in this process) and the cluster launcher
// (`npm run cluster -- N -v --profile P`), prints the URL to open, and on Ctrl-C or SIGTERM
// stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { clusterOf, ConfigError, loadConfig, timingOf, type Config } from '../shared/config.ts';
import { EXIT_WITH_STDIN_ENV, tsxLoader } from '../peer/spawn.ts';
import { runRelay, exposureWarning } from './relay/main.ts';
import { REPO_ROOT } from './relay/static.ts';
import type { Relay } from './relay/server.ts';

const USAGE = `usage: npm start -- [--peers N] [--profile slow|fast] [--config FILE] [--attacks on|off] [--no-build]
  --peers    how many peers (default 5; the ini must list at least that many)
  --profile  timing profile (default slow: slow motion for watching)
  --config   the ini file (default: ./raft_peer.ini or $RAFT_CONFIG)
  --attacks  whether the monster attacks from the start (default on; "s" in the page toggles)
  --no-build serve game/dist as it is, without checking whether it needs building`;

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;

export interface StartArgs {
  peers: number;
  profile: string;
  config: string | undefined;
  attacks: boolean;
  build: boolean;
}

export function parseStartArgs(argv: readonly string[]): StartArgs | string {
  const args: StartArgs = { peers: 5, profile: 'slow', config: undefined, attacks: true, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | null => (eq > 0 ? a.slice(eq + 1) : (argv[++i] ?? null));
    switch (flag) {
      case '--peers': {
        const v = value();
        if (v === null || !/^\d+$/.test(v) || Number(v) < 1) return `--peers needs a whole number >= 1, got ${JSON.stringify(v)}`;
        args.peers = Number(v);
        break;
      }
      case '--profile': {
        const v = value();
        if (!v) return '--profile needs a name (slow or fast)';
        args.profile = v;
        break;
      }
      case '--config': {
        const v = value();
        if (!v) return '--config needs a file';
        args.config = v;
        break;
      }
      case '--attacks': {
        const v = value();
        if (v !== 'on' && v !== 'off') return `--attacks takes on or off, got ${JSON.stringify(v)}`;
        args.attacks = v === 'on';
        break;
      }
      case '--no-build':
        args.build = false;
        break;
      case '-h':
      case '--help':
        return '';
      default:
        return `unknown argument ${JSON.stringify(a)}`;
    }
  }
  return args;
}

/** The newest modification time under the given paths (files or folders), in ms. */
function newest(paths: string[]): number {
  let t = 0;
  const visit = (p: string) => {
    let s;
    try {
      s = statSync(p);
    } catch {
      return;
    }
    if (s.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
    else t = Math.max(t, s.mtimeMs);
  };
  for (const p of paths) visit(p);
  return t;
}

/** Why the game needs building, or null when game/dist is up to date. */
export function buildReason(root = REPO_ROOT): string | null {
  const index = join(root, 'game', 'dist', 'index.html');
  if (!existsSync(index)) return 'game/dist is missing';
  const built = statSync(index).mtimeMs;
  const sources = newest([join(root, 'game', 'src'), join(root, 'game', 'index.html'), join(root, 'game', 'public'), join(root, 'shared'), join(root, 'vite.config.ts')]);
  return sources > built ? 'the game sources changed since the last build' : null;
}

function prefixer(name: string, color: number): (line: string) => void {
  const label = useColor ? `\x1b[${color}m${name} |\x1b[0m ` : `${name} | `;
  return (line) => process.stdout.write(`${label}${line}\n`);
}

function pipeLines(child: ChildProcess, out: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', out);
  }
}

async function build(say: (line: string) => void): Promise<void> {
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  const child = spawn(process.execPath, [vite, 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  pipeLines(child, say);
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      say(`cannot run vite: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`the game build failed (vite build exited with ${code}); fix the error above, or run "npm run build" to see it again`);
}

function banner(url: string): string {
  const text = `Open ${url} in a browser to watch the village.`;
  const line = '='.repeat(text.length + 4);
  return useColor ? `\n\x1b[1m${line}\n  ${text}\n${line}\x1b[0m\n` : `\n${line}\n  ${text}\n${line}\n`;
}

async function main(): Promise<void> {
  const args = parseStartArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args) process.stderr.write(`${args}\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(args ? 2 : 0);
  }
  let config: Config;
  try {
    config = loadConfig(args.config);
    clusterOf(config, args.peers);
    timingOf(config, args.profile);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }

  const say = prefixer('start', 1);
  const relayOut = prefixer('relay', 92);
  let relay: Relay | null = null;
  let launcher: ChildProcess | null = null;
  let stopping = false;

  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${why})`);
    relay?.stopMonster();
    const l = launcher;
    if (l && l.exitCode === null && l.signalCode === null && l.pid !== undefined) {
      const exited = new Promise<void>((resolve) => l.once('exit', () => resolve()));
      try {
        process.kill(l.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 6000))]);
      if (timedOut) say('the cluster launcher did not stop in time; killing it');
    }
    // Whatever is left in the launcher's process group (its peers) goes too.
    if (l?.pid !== undefined) {
      try {
        process.kill(-l.pid, 'SIGKILL');
      } catch {
        // nothing left
      }
    }
    await relay?.close();
    say('everything stopped');
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(sig, 0));
  // `npm start` stopped with a signal to npm kills the shell in between, not this process:
  // when the parent goes away, stop everything too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop('the parent process is gone', 0);
  }, 500).unref();

  const reason = args.build ? buildReason() : null;
  if (reason) {
    say(`building the game (${reason}): vite build`);
    try {
      await build(prefixer('build', 90));
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    }
    if (stopping) return;
  }

  try {
    relay = await runRelay(config, { host: undefined, port: undefined, attacks: args.attacks }, relayOut);
  } catch (e) {
    process.stderr.write(`relay: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const warning = exposureWarning(relay.host);
  if (warning) relayOut(warning);
  relayOut(`listening on ${relay.host}:${relay.port}`);
  if (stopping) return;

  const launcherArgs = ['--import', tsxLoader(), join(REPO_ROOT, 'peer', 'launcher.ts'), String(args.peers), '-v', '--profile', args.profile, '--config', config.file];
  say(`starting the cluster: npm run cluster -- ${args.peers} -v --profile ${args.profile}`);
  const child = spawn(process.execPath, launcherArgs, {
    cwd: REPO_ROOT,
    // Its own process group: Ctrl-C reaches this process, which stops the launcher in order
    // (the launcher stops its peers), then clears the group.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    // With this set, the launcher (like a peer) exits when its stdin pipe closes: if this
    // process dies without cleaning up (SIGKILL), the cluster goes with it.
    env: { ...process.env, [EXIT_WITH_STDIN_ENV]: '1', ...(useColor ? { FORCE_COLOR: '1' } : {}) },
  });
  launcher = child;
  child.stdin?.on('error', () => {});
  // Lines typed here go to the launcher (kill NAME, revive NAME, status).
  process.stdin.on('data', (d) => child.stdin?.write(d));
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${line}\n`));
  }
  child.on('error', (e) => {
    say(`cannot start the cluster launcher: ${e.message}`);
    void stop('launcher failed', 1);
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    say(`the cluster launcher exited (${signal ?? `code ${code}`}); stopping`);
    void stop('launcher exited', code === 0 ? 0 : 1);
  });

  process.stdout.write(banner(relay.url));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
