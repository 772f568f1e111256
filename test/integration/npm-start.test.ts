// `npm start` (game/start.ts): starts the relay and a cluster, prints the URL, and on SIGTERM
// leaves no process behind.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { parseStartArgs } from '../../game/start.ts';

/** Pids of running processes whose command line mentions `needle`. */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${d}/status`, 'utf8');
      if (cmd.includes(needle) && !/^State:\s+Z/m.test(state)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

let cluster: TestCluster | null = null;
let child: ChildProcess | null = null;

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (cluster) for (const pid of processesWith(cluster.ini)) process.kill(pid, 'SIGKILL');
  await cluster?.teardown();
});

describe('npm start', () => {
  it('reads its flags and says what is wrong', () => {
    expect(parseStartArgs([])).toEqual({ peers: 5, profile: 'slow', config: undefined, attacks: true, build: true });
    expect(parseStartArgs(['--peers', '3', '--profile=fast', '--attacks', 'off', '--no-build'])).toMatchObject({ peers: 3, profile: 'fast', attacks: false, build: false });
    expect(parseStartArgs(['--peers', 'many'])).toMatch(/--peers needs a whole number/);
    expect(parseStartArgs(['--bogus'])).toMatch(/unknown argument "--bogus"/);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`starts the relay and the cluster, prints the URL, and after ${signal} leaves no process behind`, async () => {
      cluster ??= await startCluster({ peers: 3, start: false });
      let out = '';
      child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'game', 'start.ts'), '--config', cluster.ini, '--peers', '3', '--profile', 'fast', '--attacks', 'off', '--no-build'], {
        cwd: REPO_ROOT,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
      child.stdout?.on('data', (d) => (out += String(d)));
      child.stderr?.on('data', (d) => (out += String(d)));
      const ini = cluster.ini;
      const port = cluster.relayPort;
      await waitFor('the URL and three peers started', () => out.includes(`Open http://127.0.0.1:${port}/ in a browser`) && (out.match(/peer\d started \(pid \d+\)/g) ?? []).length >= 3, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}\noutput:\n${out.slice(-3000)}`);
      });
      expect(processesWith(ini).length).toBeGreaterThanOrEqual(5); // start.ts, launcher, three peers
      const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
      // SIGKILL gives start.ts no chance to clean up: the launcher notices its stdin close.
      child.kill(signal);
      const code = await exited;
      if (signal === 'SIGTERM') expect(code).toBe(0);
      await waitFor('no process left', () => processesWith(ini).length === 0, 15_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${processesWith(ini).join(', ')}\noutput:\n${out.slice(-2000)}`);
      });
      if (signal === 'SIGTERM') expect(out).toMatch(/everything stopped/);
    }, 60_000);
  }
});
