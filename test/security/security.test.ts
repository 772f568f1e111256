// Who may do what, checked from outside against real processes:
// - a peer takes Raft RPCs and admin requests only with the cluster secret, from a member;
// - the relay takes control (kill, revive, isolate, attacks, console) only from its own page:
//   the per-run token and an Origin naming the relay, with a Host naming the relay;
// - `npm run game` listens on 127.0.0.1 unless told otherwise, and warns when told otherwise.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { loadConfig, parseConfig } from '../../shared/config.ts';
import { PEER_HEADER, SECRET_HEADER } from '../../shared/peer-protocol.ts';
import { freePorts, sendFrame, startCluster, type TestCluster } from '../support/cluster.ts';
import { spawnGame, spawnRelay, type RelayProcess } from './relay-process.ts';
import { upgradeStatus } from '../fuzz/frames.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let c: TestCluster;
let relay: RelayProcess;
const token = randomBytes(16).toString('hex');

beforeAll(async () => {
  c = await startCluster({ peers: 3 });
  relay = await spawnRelay(c.ini, token);
  await c.waitForLeader();
});

afterAll(async () => {
  await relay?.kill();
  await c?.teardown();
});

/** The HTTP status of a refused WebSocket upgrade, or 101 when it was accepted. */
/** The HTTP status of an upgrade: 101 when accepted, else the refusal's status. */
async function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  const status = await upgradeStatus(url, headers);
  return status === 0 ? 101 : status;
}

/** Sends one browser frame on /village and resolves with the relay's reply to it. */
function village(opts: { token?: string; origin?: string | null; frame: Record<string, unknown> }): Promise<{ ok: boolean; text: string }> {
  const q = opts.token === undefined ? '' : `?token=${encodeURIComponent(opts.token)}`;
  const headers: Record<string, string> = {};
  const origin = opts.origin === undefined ? `http://127.0.0.1:${relay.port}` : opts.origin;
  if (origin !== null) headers.origin = origin;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/village${q}`, { headers });
    const t = setTimeout(() => reject(new Error('no reply from the relay')), 10_000);
    ws.on('open', () => ws.send(JSON.stringify({ ...opts.frame, id: 'sec' })));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string; id?: string; ok: boolean; text: string };
      if (m.type === 'reply' && m.id === 'sec') {
        clearTimeout(t);
        ws.terminate();
        resolve(m);
      }
    });
    ws.on('error', reject);
  });
}

function httpGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a peer', () => {
  it('refuses Raft RPC connections without the cluster secret, with a wrong one, or from a non-member', async () => {
    const p = c.peer('peer1');
    const url = `ws://${p.host}:${p.port}/raft`;
    const s = c.config.secret;
    expect(await upgrade(url, {})).toBe(401);
    expect(await upgrade(url, { [PEER_HEADER]: 'peer2' })).toBe(401);
    expect(await upgrade(url, { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: 'guess' })).toBe(403);
    expect(await upgrade(url, { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: `${s.slice(0, -1)}${s.endsWith('x') ? 'y' : 'x'}` })).toBe(403); // same length, one character off
    expect(await upgrade(url, { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: `${s}x` })).toBe(403);
    expect(await upgrade(url, { [PEER_HEADER]: 'peer7', [SECRET_HEADER]: s })).toBe(403); // not a member
    expect(await upgrade(url, { [PEER_HEADER]: 'peer1', [SECRET_HEADER]: s })).toBe(403); // itself
    expect(await upgrade(url, { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: s })).toBe(101);
  });

  it('refuses admin requests without the secret or with a wrong one', async () => {
    const p = c.peer('peer2');
    const url = `ws://${p.host}:${p.port}/admin`;
    expect(await upgrade(url, {})).toBe(401);
    expect(await upgrade(url, { [SECRET_HEADER]: 'guess' })).toBe(403);
    expect(await upgrade(url, { [SECRET_HEADER]: c.config.secret })).toBe(101);
  });

  it('does not let a stray client forge a Raft message, neither on /raft nor on /client', async () => {
    const leader = await c.waitForLeader();
    const target = c.names.find((n) => n !== leader)!;
    const before = await c.status(target);
    const forged = {
      type: 'append_entries',
      rid: `${leader}:999999`,
      from: leader,
      to: target,
      term: before.term + 5,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [{ index: 1, term: before.term + 5, data: JSON.stringify({ cmd: ['x', 'set', 'forged'] }) }],
      leaderCommit: 1,
    };
    // On /raft without the secret the connection is refused before any frame.
    const p = c.peer(target);
    expect(await upgrade(`ws://${p.host}:${p.port}/raft`, { [PEER_HEADER]: leader })).toBe(401);
    // On /client the frame is not a client request.
    const reply = (await sendFrame(p, '/client', JSON.stringify(forged))) as { type: string; error?: string };
    expect(reply).toMatchObject({ type: 'error', error: 'bad_frame' });
    const after = await c.status(target);
    expect(after.term).toBe(before.term);
    expect(after.lastIndex).toBeGreaterThanOrEqual(before.lastIndex);
    const st = await c.status(target, true);
    expect(st.kv?.x).not.toBe('forged');
  });
});

describe('the relay', () => {
  const control = { type: 'attacks', on: false };

  it('takes a control command from its own page: the token and its own Origin', async () => {
    expect(await village({ token, frame: control })).toMatchObject({ ok: true });
  });

  it('refuses control without the token, with a wrong token, from a foreign Origin, or with no Origin', async () => {
    const cases: [string, Parameters<typeof village>[0]][] = [
      ['no token', { frame: control }],
      ['a wrong token', { token: 'x'.repeat(token.length), frame: control }],
      ['a foreign origin', { token, origin: 'http://evil.example', frame: control }],
      ['the relay host on another port', { token, origin: 'http://127.0.0.1:1', frame: control }],
      ['no origin', { token, origin: null, frame: control }],
      ['a kill from a foreign origin', { token, origin: 'https://evil.example', frame: { type: 'kill', peer: 'peer1' } }],
      ['a console command without the token', { frame: { type: 'console', line: 'x set stolen' } }],
    ];
    for (const [what, opts] of cases) {
      const r = await village(opts);
      expect(r.ok, what).toBe(false);
      expect(r.text, what).toMatch(/token|origin|control/i);
    }
    const st = await c.statuses(c.names, true);
    expect(st.every((s) => s.kv?.x !== 'stolen')).toBe(true);
  });

  it('refuses a browser or a page request that names another host (DNS rebinding), without showing the token', async () => {
    expect(await upgrade(`ws://127.0.0.1:${relay.port}/village?token=${token}`, { host: `evil.example:${relay.port}`, origin: `http://evil.example:${relay.port}` })).toBe(403);
    const page = await httpGet(relay.port, '/', `evil.example:${relay.port}`);
    expect(page.status).toBe(403);
    expect(page.body).not.toContain(token);
    const own = await httpGet(relay.port, '/', `127.0.0.1:${relay.port}`);
    expect(own.status).toBe(200);
    expect(own.body).toContain(token);
  });

  it('refuses peer streams and launcher connections without the cluster secret', async () => {
    for (const path of ['/peer', '/launcher']) {
      expect(await upgrade(`ws://127.0.0.1:${relay.port}${path}`, {}), path).toBe(401);
      expect(await upgrade(`ws://127.0.0.1:${relay.port}${path}`, { 'x-raft-secret': 'guess' }), path).toBe(401);
    }
  });
});

describe('npm run game', () => {
  it('binds the relay to 127.0.0.1 by default', async () => {
    // The shipped config says so, and a config that names no host means it too.
    expect(loadConfig(join(process.cwd(), 'raft_peer.ini')).relay.host).toBe('127.0.0.1');
    const [port] = await freePorts(1);
    const text = readFileSync(c.ini, 'utf8').replace(/^\[relay\]\nhost = .*$/m, '[relay]').replace(/^port = \d+$/m, `port = ${port}`);
    expect(parseConfig(text).relay.host).toBe('127.0.0.1');
    const ini = join(c.dir, 'no-host.ini');
    writeFileSync(ini, text);
    const game = await spawnGame(ini);
    try {
      expect(game.host).toBe('127.0.0.1');
      expect(game.port).toBe(port);
      // The kernel's table of listening sockets: this port, on 127.0.0.1 only.
      const listeners = listening(port!);
      expect(listeners).toEqual(['127.0.0.1']);
      // Reachable on loopback, not on any other address of this machine.
      expect((await httpGet(port!, '/api/picture', `127.0.0.1:${port}`)).status).toBe(200);
      for (const addr of externalIPv4()) await expect(connects(addr, port!), addr).resolves.toBe(false);
    } finally {
      await game.kill();
    }
  });

  it('warns, naming what is exposed, when bound to every interface', async () => {
    const [port] = await freePorts(1);
    const text = readFileSync(c.ini, 'utf8').replace(/^\[relay\]\nhost = .*$/m, '[relay]\nhost = 0.0.0.0').replace(/^port = \d+$/m, `port = ${port}`);
    const ini = join(c.dir, 'any-host.ini');
    writeFileSync(ini, text);
    const game = await spawnGame(ini);
    try {
      // The warning goes to stderr, the listening line to stdout: either pipe may be read first.
      for (let i = 0; i < 100 && !/control .* needs the token/.test(game.output()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(game.output()).toMatch(/warning: the relay listens on 0\.0\.0\.0/);
      expect(game.output()).toMatch(/watch the village/);
      expect(game.output()).toMatch(/control .* needs the token/);
    } finally {
      await game.kill();
    }
  });
});

/** Local addresses listening on TCP `port`, from /proc/net/tcp and tcp6. */
function listening(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // LISTEN
      const [hexAddr, hexPort] = f[1]!.split(':');
      if (parseInt(hexPort!, 16) !== port) continue;
      out.push(hexAddr!.length === 8 ? hexAddr!.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join('.') : `ipv6:${hexAddr}`);
    }
  }
  return out;
}

function externalIPv4(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
