// The cluster launcher's join and leave: it starts the newcomer and asks the leader, a leaver
// exits by itself, the relay can ask for both, and a restarted launcher starts the members of the
// latest configuration rather than the first N.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { LauncherReport } from '../../shared/events.ts';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const LAUNCHER = fileURLToPath(new URL('../../peer/launcher.ts', import.meta.url));
const started: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

function launch(c: TestCluster, count: number, extra: string[] = []): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, ['--import', tsxLoader(), LAUNCHER, String(count), '--profile', 'fast', '--config', c.ini, ...extra], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  started.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  return { proc, output: () => out };
}

/** A command through the leader, for peers the launcher started (c.write knows only its own processes). */
async function writeVia(c: TestCluster, among: string[], command: unknown[]): Promise<unknown> {
  return waitFor(`${JSON.stringify(command)} to succeed`, async () => {
    for (const n of among) {
      const r = await c.request(n, command, {}, 5000).catch((e: Error) => e.message);
      if (typeof r === 'object' && r.ok) return r;
    }
    return undefined;
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  await exited;
}

afterEach(async () => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

afterAll(async () => {
  for (const f of cleanups) await f();
});

describe('npm run cluster: join and leave', () => {
  it('joins a newcomer and removes a member on stdin, and after a restart starts the members of the latest configuration', async () => {
    const c = await startCluster({ peers: 4, members: 3, start: false });
    cleanups.push(() => c.teardown());
    const first = launch(c, 3);
    await waitFor('three peers started', () => (first.output().match(/started \(pid \d+\)/g) ?? []).length === 3);
    await c.waitForLeader({ among: ['peer1', 'peer2', 'peer3'] });
    expect(await writeVia(c, ['peer1', 'peer2', 'peer3'], ['x', 'set', 'before'])).toMatchObject({ ok: true });

    first.proc.stdin!.write('join peer9\n');
    await waitFor('the unknown-peer refusal', () => /join peer9 refused \(unknown_peer\): peer9 is not in .*\[peers\]/.test(first.output()));
    first.proc.stdin!.write('join peer4\n');
    await waitFor('peer4 to join', () => /join peer4: done; voters peer1, peer2, peer3, peer4; no learners/.test(first.output()), 60_000);
    expect(first.output()).toMatch(/starting peer4 as a newcomer/);
    first.proc.stdin!.write('leave peer1\n');
    await waitFor('peer1 to leave', () => /leave peer1: done; voters peer2, peer3, peer4; no learners/.test(first.output()), 30_000);
    await waitFor('peer1 to exit by itself', () => /peer1 \(pid \d+\) left the cluster and exited; its data stays on disk/.test(first.output()), 10_000);
    expect(await writeVia(c, ['peer2', 'peer3', 'peer4'], ['x', 'set', 'after'])).toMatchObject({ ok: true });
    await stop(first.proc);

    // Started again with the same N, it starts peer2..peer4: the latest configuration.
    const second = launch(c, 3);
    await waitFor('three peers started', () => (second.output().match(/started \(pid \d+\)/g) ?? []).length === 3);
    expect(second.output()).toMatch(/members of the latest configuration: peer2, peer3, peer4/);
    expect(second.output()).toMatch(/peer4 started/);
    expect(second.output()).not.toMatch(/peer1 started/);
    await c.waitForLeader({ among: ['peer2', 'peer3', 'peer4'] });
    expect(await writeVia(c, ['peer2', 'peer3', 'peer4'], ['x', 'get'])).toMatchObject({ ok: true, value: 'after' });
    await stop(second.proc);
  });

  it('takes join and leave from the relay and reports their outcome', async () => {
    const c = await startCluster({ peers: 4, members: 3, start: false });
    const relay = await FakeRelay.start(c.relayPort);
    cleanups.push(() => relay.close(), () => c.teardown());
    const { proc } = launch(c, 3, ['-v']);
    const hello = (await relay.waitForReport((r) => r.type === 'launcher_hello')) as Extract<LauncherReport, { type: 'launcher_hello' }>;
    // The village is the members; the launcher may also start peer4.
    expect(hello).toEqual({ type: 'launcher_hello', peers: ['peer1', 'peer2', 'peer3'], profile: 'fast', runs: ['peer1', 'peer2', 'peer3', 'peer4'] });
    await c.waitForLeader({ among: ['peer1', 'peer2', 'peer3'] });

    relay.command({ type: 'join', peer: 'peer4' });
    const joined = await relay.waitForReport((r) => r.type === 'membership', 'the join outcome', 60_000);
    expect(joined).toMatchObject({ type: 'membership', result: { ok: true, op: 'join', peer: 'peer4' } });
    await relay.waitForReport((r) => r.type === 'launcher_hello' && r.peers.includes('peer4'));
    // The peer tells the village its configuration: a -v config event.
    await relay.waitForEvent((e) => e.type === 'config' && e.peer === 'peer4' && e.voters.includes('peer4'));

    relay.command({ type: 'leave', peer: 'peer2' });
    await relay.waitForReport((r) => r.type === 'membership' && r.result.op === 'leave', 'the leave outcome', 30_000);
    expect(relay.reports.filter((r) => r.type === 'membership').at(-1)).toMatchObject({ result: { ok: true, op: 'leave', peer: 'peer2' } });
    await relay.waitForReport((r) => r.type === 'process' && r.peer === 'peer2' && !r.alive && r.exitCode === 0);
    await stop(proc);
  });
});
