// A whole village for browser tests: the relay (in this process, serving game/dist) and the
// cluster launcher with N peers started with -v, on free loopback ports, in a temporary
// directory. Also runnable by hand to look at the page:
//
//   npx tsx test/browser/support/village.ts [N] [--profile fast|slow] [--attacks]
//
// Teardown stops the launcher (which stops its peers) and the relay, and removes the directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { runRelay } from '../../../game/relay/main.ts';
import type { Relay } from '../../../game/relay/server.ts';
import { REPO_ROOT, tsxLoader } from '../../../peer/spawn.ts';
import { startCluster, waitFor, type TestCluster } from '../../support/cluster.ts';

export interface VillageOptions {
  peers?: number;
  /** How many of the peers the launcher starts (default all): the others are in the ini only, to join later. */
  members?: number;
  /** 'fast', 'slow', or a profile the `ini` text adds. */
  profile?: string;
  attacks?: boolean;
  /** Appended to the generated ini (e.g. "[relay]\nmax_pause_s = 3"). */
  ini?: string;
  /** Replaces the generated [limits] section (e.g. a small snapshot_entries). */
  limits?: string;
}

export interface TestVillage {
  /** The page to open (the relay serves the built game there). */
  url: string;
  relay: Relay;
  /** The temp ini, directory and addresses (no peers are started by it: the launcher does that). */
  cluster: TestCluster;
  launcher: ChildProcess;
  /** Everything the relay logged and the launcher and its peers printed. */
  output(): string;
  /** The pid the relay knows for a peer (from the launcher's reports). */
  pid(name: string): number | null;
  teardown(): Promise<void>;
}

const launchers = new Set<ChildProcess>();
process.on('exit', () => {
  for (const l of launchers) killGroup(l);
});

/** SIGKILL to the launcher's whole process group (it and its peers). */
function killGroup(l: ChildProcess): void {
  if (!l.pid) return;
  try {
    process.kill(-l.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function startVillage(opts: VillageOptions = {}): Promise<TestVillage> {
  const all = opts.peers ?? 5;
  const n = opts.members ?? all;
  const profile = opts.profile ?? 'fast';
  const cluster = await startCluster({ peers: all, verbose: true, start: false, profile, ...(opts.ini ? { ini: opts.ini } : {}), ...(opts.limits ? { limits: opts.limits } : {}) });
  let out = '';
  const relay = await runRelay(cluster.config, { host: '127.0.0.1', port: cluster.relayPort, attacks: opts.attacks ?? false }, (line) => {
    out += `relay | ${line}\n`;
  });
  const launcher = spawn(process.execPath, ['--import', tsxLoader(), 'peer/launcher.ts', String(n), '-v', '--profile', profile, '--config', cluster.ini], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    // Its own process group, so that teardown can make sure no peer outlives the test.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  launchers.add(launcher);
  const keep = (c: Buffer) => {
    out += c.toString('utf8');
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  launcher.stdout?.on('data', keep);
  launcher.stderr?.on('data', keep);
  launcher.stdin?.on('error', () => {});

  let torn = false;
  const village: TestVillage = {
    url: relay.url,
    relay,
    cluster,
    launcher,
    output: () => out,
    pid: (name) => relay.picture.peer(name)?.pid ?? null,
    teardown: async () => {
      if (torn) return;
      torn = true;
      if (launcher.exitCode === null && launcher.signalCode === null) {
        const gone = new Promise<void>((r) => launcher.once('exit', () => r()));
        launcher.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      }
      killGroup(launcher);
      launchers.delete(launcher);
      await relay.close();
      await cluster.teardown();
    },
  };
  try {
    await waitFor(`${n} peers up and reporting to the relay`, () => relay.picture.peerList().filter((p) => p.process === 'up' && p.reporting).length === n, 30_000, 100);
  } catch (e) {
    await village.teardown();
    throw new Error(`${(e as Error).message}\nlauncher output:\n${out.slice(-4000)}`);
  }
  return village;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
  const profile = args.includes('fast') || args.includes('--fast') ? 'fast' : 'slow';
  const v = await startVillage({ peers: n, profile, attacks: args.includes('--attacks') });
  process.stdout.write(`village of ${n} (${profile}) at ${v.url}\nCtrl-C stops it\n`);
  const stop = () => void v.teardown().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
