// The cluster launcher (npm run cluster): starts the peers, obeys kill/revive from the relay
// and from its stdin, reports processes going up and down, and leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { LauncherReport } from '../../shared/events.ts';
import { EXIT_WITH_STDIN_ENV, REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { pidAlive, startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const LAUNCHER = fileURLToPath(new URL('../../peer/launcher.ts', import.meta.url));

type ProcessReport = Extract<LauncherReport, { type: 'process' }>;
const started: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

function launch(c: TestCluster, extra: string[] = [], env: Record<string, string> = {}): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, ['--import', tsxLoader(), LAUNCHER, String(c.names.length), '--profile', 'fast', '--config', c.ini, ...extra], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  started.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  return { proc, output: () => out };
}

async function leaderOf(c: TestCluster): Promise<string> {
  return c.waitForLeader({ among: c.names });
}

afterEach(async () => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

afterAll(async () => {
  for (const f of cleanups) await f();
});

describe('npm run cluster', () => {
  it('starts the peers, kills and revives them for the relay and on stdin, and stops them all on SIGTERM', async () => {
    const c = await startCluster({ peers: 3, start: false });
    const relay = await FakeRelay.start(c.relayPort);
    cleanups.push(() => relay.close(), () => c.teardown());
    const { proc, output } = launch(c, ['-v']);

    await relay.waitForReport((r) => r.type === 'launcher_hello');
    expect(relay.reports.find((r) => r.type === 'launcher_hello')).toEqual({ type: 'launcher_hello', peers: c.names, profile: 'fast', runs: c.names });
    expect(relay.connections.find((x) => x.path === '/launcher')?.secret).toBe(c.config.secret);
    const up = (name: string) => relay.reports.filter((r): r is ProcessReport => r.type === 'process' && r.peer === name && r.alive);
    await waitFor('every peer reported up', () => c.names.every((n) => up(n).length > 0));
    await leaderOf(c);
    // The peers were started with -v: they talk to the same relay.
    await relay.waitForEvent((e) => e.type === 'hello' && e.peer === 'peer1');

    // kill from the relay: a real SIGKILL of the peer's own process
    const pid2 = up('peer2').at(-1)!.pid!;
    expect(pidAlive(pid2)).toBe(true);
    relay.command({ type: 'kill', peer: 'peer2' });
    const down = (await relay.waitForReport((r) => r.type === 'process' && r.peer === 'peer2' && !r.alive)) as ProcessReport;
    expect(down).toMatchObject({ pid: pid2, signal: 'SIGKILL' });
    expect(pidAlive(pid2)).toBe(false);

    // revive from the relay: a new process from the durable state
    relay.command({ type: 'revive', peer: 'peer2' });
    await waitFor('peer2 up again', () => up('peer2').length >= 2);
    const pid2b = up('peer2').at(-1)!.pid!;
    expect(pid2b).not.toBe(pid2);
    await waitFor('peer2 to answer', () => c.status('peer2').then((s) => s.leader !== null));

    // the same on stdin, and status
    proc.stdin!.write('kill peer3\n');
    await relay.waitForReport((r) => r.type === 'process' && r.peer === 'peer3' && !r.alive);
    proc.stdin!.write('status\n');
    await waitFor('the status table', () => /peer3\s+down \(SIGKILL\)/.test(output()) && /peer1\s+up\s+pid \d+\s+\w+ term \d+/.test(output()));
    proc.stdin!.write('revive peer3\n');
    await waitFor('peer3 up again', () => up('peer3').length >= 2);
    proc.stdin!.write('frobnicate\n');
    await waitFor('an unknown-command hint', () => /unknown command "frobnicate"/.test(output()));
    // A malformed relay command is ignored with a message.
    relay.command({ type: 'kill', peer: 'nobody' } as never);
    await waitFor('the refusal', () => /ignored a command from the relay/.test(output()));

    const pids = c.names.map((n) => up(n).at(-1)!.pid!);
    expect(pids.every(pidAlive)).toBe(true);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(output()).toMatch(/peer1 +\| /); // peer output is prefixed with its name
  });

  it('leaves no peer behind when the launcher itself is killed with SIGKILL', async () => {
    const c = await startCluster({ peers: 3, start: false });
    cleanups.push(() => c.teardown());
    const { proc, output } = launch(c);
    await waitFor('three peers started', () => (output().match(/started \(pid \d+\)/g) ?? []).length === 3);
    const pids = [...output().matchAll(/started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    await leaderOf(c);
    proc.kill('SIGKILL');
    await waitFor('every peer to exit', () => pids.every((p) => !pidAlive(p)), 10_000);
  });

  it('stops every peer and exits when its parent asked for it and goes away (stdin closes)', async () => {
    const c = await startCluster({ peers: 2, start: false });
    cleanups.push(() => c.teardown());
    const { proc, output } = launch(c, [], { [EXIT_WITH_STDIN_ENV]: '1' });
    await waitFor('two peers started', () => (output().match(/started \(pid \d+\)/g) ?? []).length === 2);
    const pids = [...output().matchAll(/started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.stdin!.end();
    expect(await exited).toBe(0);
    expect(output()).toMatch(/stopping all peers \(parent exited\)/);
    await waitFor('every peer to exit', () => pids.every((p) => !pidAlive(p)));
  });

  it('explains its usage when the arguments are wrong', async () => {
    const c = await startCluster({ peers: 3, start: false });
    cleanups.push(() => c.teardown());
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, ['--import', tsxLoader(), LAUNCHER, ...args, '--config', c.ini], { cwd: REPO_ROOT });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d));
        p.stderr.on('data', (d: Buffer) => (out += d));
        p.on('exit', (code) => resolve({ code, out }));
      });
    const none = await run([]);
    expect(none.code).not.toBe(0);
    expect(none.out).toMatch(/usage: npm run cluster -- N/);
    const many = await run(['9']);
    expect(many.code).not.toBe(0);
    expect(many.out).toMatch(/lists 3 peers \(peer1, peer2, peer3\), so a cluster of 9 is not possible/);
  });
});
