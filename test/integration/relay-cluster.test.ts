// The relay with a real cluster: the launcher (peer/launcher.ts with -v) spawns three peer
// processes that report to the relay; a browser's console runs `x add 100` through the relay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startCluster, pidAlive, waitFor, type TestCluster } from '../support/cluster.ts';
import { tsxLoader, REPO_ROOT } from '../../peer/spawn.ts';
import { runRelay } from '../../game/relay/main.ts';
import type { Relay } from '../../game/relay/server.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { browser, type Recorder } from '../game/relay-support.ts';

let cluster: TestCluster;
let relay: Relay;
let launcher: ChildProcess;
let launcherOut = '';
const relayLog: string[] = [];

beforeAll(async () => {
  cluster = await startCluster({ peers: 3, verbose: true, start: false });
  relay = await runRelay(cluster.config, { host: undefined, port: undefined, attacks: false }, (l) => relayLog.push(l));
  launcher = spawn(process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, 'peer', 'launcher.ts'), '3', '-v', '--profile', 'fast', '--config', cluster.ini], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  launcher.stdout?.on('data', (d) => (launcherOut += String(d)));
  launcher.stderr?.on('data', (d) => (launcherOut += String(d)));
}, 30_000);

afterAll(async () => {
  if (launcher?.pid && launcher.exitCode === null) {
    const gone = new Promise((r) => launcher.once('exit', r));
    launcher.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    try {
      process.kill(-launcher.pid, 'SIGKILL');
    } catch {
      // all gone
    }
  }
  await relay?.close();
  await cluster?.teardown();
});

const reply = (b: Recorder<RelayToBrowser>, id: string) => b.next((m) => m.type === 'reply' && m.id === id, 20_000) as Promise<Extract<RelayToBrowser, { type: 'reply' }>>;

describe('relay with a real cluster', () => {
  it('shows the reporting peers, runs x add 100 from the console, and kills through the launcher', async () => {
    const info = () => `\nrelay log:\n${relayLog.join('\n')}\nlauncher output:\n${launcherOut.slice(-3000)}`;
    // Every peer reports and one leads.
    await waitFor(
      `three reporting peers and a leader${info()}`,
      () => {
        const peers = relay.picture.peerList();
        return peers.length === 3 && peers.every((p) => p.reporting && p.process === 'up') && relay.picture.leader() !== null;
      },
      20_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}${info()}`);
    });
    expect(relay.picture.launcherConnected()).toBe(true);

    const b = browser(relay.port, { token: relay.token });
    try {
      await b.next((m) => m.type === 'snapshot');
      b.send({ type: 'console', line: 'x add 100', id: 'add' });
      const r = await reply(b, 'add');
      expect(r.ok, r.text).toBe(true);
      expect(r.value).toBe(100);
      expect(r.text).toMatch(/^100\b/);
      // The board shows it, from the peers' apply events.
      await waitFor('x = 100 on the board', () => relay.picture.snapshot().kv.x === 100, 10_000);
      b.send({ type: 'console', line: 'get x', id: 'get' });
      expect(await reply(b, 'get')).toMatchObject({ ok: true, value: 100 });

      // A click on the leader: the launcher SIGKILLs it and another villager takes over.
      const leader = relay.picture.leader()!.name;
      const pid = relay.picture.peer(leader)!.pid!;
      b.send({ type: 'kill', peer: leader, id: 'kill' });
      expect(await reply(b, 'kill')).toMatchObject({ ok: true });
      await waitFor(`${leader}'s process gone`, () => !pidAlive(pid), 5000);
      await waitFor('a new leader', () => {
        const l = relay.picture.leader();
        return l !== null && l.name !== leader;
      }, 15_000);
      b.send({ type: 'revive', peer: leader, id: 'rev' });
      expect(await reply(b, 'rev')).toMatchObject({ ok: true });
      await waitFor(`${leader} reporting again`, () => relay.picture.peer(leader)?.reporting === true && relay.picture.peer(leader)?.process === 'up', 15_000);
    } finally {
      b.close();
    }
  }, 90_000);

  it('a restarted relay gets the whole picture back from the running cluster', async () => {
    await relay.close();
    relayLog.length = 0;
    relay = await runRelay(cluster.config, { host: undefined, port: undefined, attacks: false }, (l) => relayLog.push(l));
    // Peers and the launcher redial by themselves; the board comes back from a peer's store.
    await waitFor(
      'three reporting peers, the launcher, a leader and x = 100 on the board',
      () => {
        const pic = relay.picture.snapshot();
        return pic.peers.length === 3 && pic.peers.every((p) => p.reporting && p.process === 'up' && p.log.length > 0) && pic.launcher && relay.picture.leader() !== null && pic.kv.x === 100;
      },
      20_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify(relay.picture.snapshot()).slice(0, 2000)}\nrelay log:\n${relayLog.join('\n')}`);
    });
  }, 40_000);
});
