// The relay with one launcher per machine, and peers whose clocks differ from the relay's.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LauncherRoutes } from '../../game/relay/launchers.ts';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import type { KvClient } from '../../game/relay/control.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { peersHere } from '../../peer/launcher.ts';
import { loadConfig } from '../../shared/config.ts';
import { browser, FakeLauncher, FakePeer, testConfig, until, type Recorder } from './relay-support.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const NAMES = ['peer1', 'peer2', 'peer3'];

async function relay(): Promise<Relay> {
  const kv: KvClient = { command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'not_leader', leader: null }), leader: () => null, close() {} };
  const r = await startRelay({ config: testConfig({ peers: 3 }), port: 0, attacks: false, distDir: join(tmpdir(), 'relay-test-no-dist'), kvClient: () => kv, admin: async () => ({ type: 'campaign', ok: true }), log: () => {} });
  cleanup.push(() => r.close());
  return r;
}

async function launcher(r: Relay, runs: string[]): Promise<FakeLauncher> {
  const l = new FakeLauncher(r.port, runs);
  cleanup.push(() => l.close());
  await l.rec.opened;
  l.report({ type: 'launcher_hello', peers: NAMES, profile: 'fast', runs });
  for (const p of runs) l.report({ type: 'process', peer: p, pid: 100 + NAMES.indexOf(p), alive: true, exitCode: null, signal: null });
  return l;
}

async function control(r: Relay): Promise<Recorder<RelayToBrowser>> {
  const b = browser(r.port, { token: r.token });
  cleanup.push(() => b.close());
  await b.opened;
  await b.next((m) => m.type === 'snapshot');
  return b;
}

describe('LauncherRoutes', () => {
  it('routes a peer to the latest launcher that runs it, and to none when no launcher does', () => {
    const routes = new LauncherRoutes<string>();
    routes.add('a');
    routes.hello('a', NAMES, ['peer1', 'peer2']);
    routes.add('b');
    routes.hello('b', NAMES, ['peer3']);
    expect(routes.for('peer1')).toBe('a');
    expect(routes.for('peer3')).toBe('b');
    routes.add('c');
    routes.hello('c', NAMES); // no runs: the whole cluster, as a launcher for one machine does
    expect(routes.for('peer1')).toBe('c');
    routes.remove('c');
    routes.remove('a');
    expect(routes.for('peer1')).toBeUndefined();
    expect(routes.size).toBe(1);
  });
});

describe('the relay with one launcher per machine', () => {
  it('sends kill and revive to the launcher of the villager, not to the one that connected last', async () => {
    const r = await relay();
    const a = await launcher(r, ['peer1', 'peer2']);
    const b = await launcher(r, ['peer3']);
    const page = await control(r);
    await until(() => r.picture.peer('peer1')?.process === 'up' && r.picture.peer('peer3')?.process === 'up', 'launcher reports');
    page.send({ type: 'kill', peer: 'peer1', id: 'k1' });
    await page.next((m) => m.type === 'reply' && m.id === 'k1');
    page.send({ type: 'kill', peer: 'peer3', id: 'k3' });
    await page.next((m) => m.type === 'reply' && m.id === 'k3');
    page.send({ type: 'revive', peer: 'peer1', id: 'r1' });
    await page.next((m) => m.type === 'reply' && m.id === 'r1');
    expect(a.commands).toEqual([
      { type: 'kill', peer: 'peer1' },
      { type: 'revive', peer: 'peer1' },
    ]);
    expect(b.commands).toEqual([{ type: 'kill', peer: 'peer3' }]);
  });
});

describe('timers from peers whose clocks differ', () => {
  it('draws an election deadline from the duration the peer reports, on the relay clock', async () => {
    const r = await relay();
    const p = new FakePeer(r.port, 'peer1', NAMES);
    cleanup.push(() => p.close());
    await p.hello();
    const skew = 3_600_000; // the peer's machine is an hour ahead
    p.send({ type: 'state', role: 'follower', term: 1, vote: null, leader: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, t: Date.now() + skew, electionDeadline: Date.now() + skew + 1500, electionInMs: 1500 });
    await until(() => r.picture.peer('peer1')?.term === 1, 'the state event');
    const deadline = r.picture.peer('peer1')!.electionDeadline!;
    expect(deadline - Date.now()).toBeGreaterThan(1000);
    expect(deadline - Date.now()).toBeLessThanOrEqual(1500);
  });
});

describe('npm run cluster -- N --here', () => {
  it('runs the peers whose [peers] host is an address of this machine', () => {
    const config = loadConfig(join(import.meta.dirname, '../../raft_peer.ini'));
    const cluster = config.peers.slice(0, 3).map((p, i) => ({ ...p, host: ['10.0.0.1', '10.0.0.2', '10.0.0.1'][i]! }));
    expect(peersHere(cluster, ['127.0.0.1', '10.0.0.1']).map((p) => p.name)).toEqual(['peer1', 'peer3']);
    expect(peersHere(cluster, ['192.168.1.9'])).toEqual([]);
  });
});
