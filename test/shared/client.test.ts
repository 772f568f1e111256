import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { ClusterClient } from '../../shared/client.ts';
import { decodeClientFrame, type CommandResult, type RequestCommand } from '../../shared/client-protocol.ts';
import type { PeerAddress } from '../../shared/config.ts';
import { KvStore, encodeEntry } from '../../peer/kv.ts';
import { parseCommand } from '../../shared/kv-commands.ts';

type Behaviour =
  | { kind: 'leader' }
  | { kind: 'follower'; hint: string | null }
  /** Applies the command, then drops the connection without answering (a leader crashing after append). */
  | { kind: 'apply-then-drop' }
  /** Never answers (a paused process). */
  | { kind: 'silent' }
  | { kind: 'unknown' };

/** A stand-in cluster: WebSocket servers on /client sharing one key-value store. */
class FakeCluster {
  readonly kv = new KvStore();
  index = 0;
  readonly requests: { peer: string; req: RequestCommand }[] = [];
  readonly servers = new Map<string, WebSocketServer>();
  readonly behaviour = new Map<string, Behaviour>();
  peers: PeerAddress[] = [];

  static async start(names: string[]): Promise<FakeCluster> {
    const c = new FakeCluster();
    for (const name of names) {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/client' });
      await new Promise((r) => wss.once('listening', r));
      c.servers.set(name, wss);
      c.behaviour.set(name, { kind: 'follower', hint: null });
      c.peers.push({ name, host: '127.0.0.1', port: (wss.address() as AddressInfo).port });
      wss.on('connection', (ws) => ws.on('message', (d) => c.handle(name, ws, String(d))));
    }
    return c;
  }

  private handle(peer: string, ws: WebSocket, text: string): void {
    const decoded = decodeClientFrame(text);
    if (!decoded.ok) return void ws.send(JSON.stringify(decoded.reply));
    const req = decoded.request;
    this.requests.push({ peer, req });
    const b = this.behaviour.get(peer)!;
    const reply = (r: CommandResult) => ws.send(JSON.stringify(r));
    const apply = () => {
      const p = parseCommand(req.command);
      if (!p.ok) return null;
      return this.kv.apply(encodeEntry(p.command, req.client, req.seq), ++this.index);
    };
    switch (b.kind) {
      case 'follower':
        return reply({ type: 'command_result', id: req.id, ok: false, error: 'not_leader', leader: b.hint });
      case 'silent':
        return;
      case 'unknown':
        return reply({ type: 'command_result', id: req.id, ok: false, error: 'unknown' });
      case 'apply-then-drop':
        apply();
        ws.terminate();
        return;
      case 'leader': {
        const p = parseCommand(req.command);
        if (!p.ok) return reply({ type: 'command_result', id: req.id, ok: false, error: 'bad_command', message: p.message });
        const out = apply()!;
        if (!out.ok) return reply({ type: 'command_result', id: req.id, ok: false, error: 'bad_command', message: out.message });
        return reply({ type: 'command_result', id: req.id, ok: true, value: out.value, index: this.index, term: 1 });
      }
    }
  }

  set(peer: string, b: Behaviour): void {
    this.behaviour.set(peer, b);
  }

  async stop(peer: string): Promise<void> {
    const wss = this.servers.get(peer)!;
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((p) => this.stop(p).catch(() => {})));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(names = ['peer1', 'peer2', 'peer3']) {
  const cluster = await FakeCluster.start(names);
  cleanups.push(() => cluster.close());
  const changes: [string, string | null][] = [];
  const make = (opts: { timeoutMs?: number; attemptTimeoutMs?: number } = {}) => {
    const client = new ClusterClient({ peers: cluster.peers, timeoutMs: 3000, ...opts, onLeaderChange: (l, p) => changes.push([l, p]) });
    cleanups.push(() => client.close());
    return client;
  };
  return { cluster, changes, make };
}

describe('ClusterClient', () => {
  it('finds the leader by following not_leader hints', async () => {
    const { cluster, changes, make } = await setup();
    cluster.set('peer1', { kind: 'follower', hint: 'peer3' });
    cluster.set('peer3', { kind: 'leader' });
    const client = make();
    const r = await client.command(['x', 'add', '100']);
    expect(r).toMatchObject({ ok: true, value: 100, index: 1, term: 1 });
    expect(client.leader()).toBe('peer3');
    expect(changes).toEqual([['peer3', null]]);
    expect(cluster.requests.map((q) => q.peer)).toEqual(['peer1', 'peer3']);
    // Later commands go straight to the leader.
    await client.command(['x', 'get']);
    expect(cluster.requests.at(-1)!.peer).toBe('peer3');
  });

  it('finds the leader without hints by trying the peers in turn', async () => {
    const { cluster, make } = await setup();
    cluster.set('peer2', { kind: 'leader' });
    const client = make();
    expect(await client.findLeader()).toBe('peer2');
  });

  it('passes numeric strings through as the user gave them', async () => {
    const { cluster, make } = await setup(['peer1']);
    cluster.set('peer1', { kind: 'leader' });
    await make().command(['x', 'add', '100']);
    expect(cluster.requests[0]!.req.command).toEqual(['x', 'add', '100']);
  });

  it('returns bad_command from the cluster without retrying', async () => {
    const { cluster, make } = await setup(['peer1']);
    cluster.set('peer1', { kind: 'leader' });
    const r = await make().command(['x', 'mul', '2']);
    expect(r).toMatchObject({ ok: false, error: 'bad_command', message: expect.stringMatching(/unknown operation/) });
    expect(cluster.requests).toHaveLength(1);
  });

  it('retries a command whose try was lost with the same client and seq, so it applies once', async () => {
    const { cluster, changes, make } = await setup();
    cluster.set('peer1', { kind: 'apply-then-drop' });
    cluster.set('peer2', { kind: 'leader' });
    const client = make();
    const r = await client.command(['x', 'add', '5']);
    expect(r).toMatchObject({ ok: true, value: 5 });
    expect(cluster.kv.valueOf('x')).toBe(5);
    const [a, b] = cluster.requests;
    expect(a!.peer).toBe('peer1');
    expect(b!.peer).toBe('peer2');
    expect([b!.req.client, b!.req.seq]).toEqual([a!.req.client, a!.req.seq]);
    expect(a!.req.id).not.toBe(b!.req.id);
    expect(changes).toEqual([['peer2', null]]);
    const next = await client.command(['x', 'add', '1']);
    expect(next).toMatchObject({ ok: true, value: 6 });
    expect(cluster.requests.at(-1)!.req.seq).toBe(a!.req.seq! + 1);
  });

  it('tells once when the leader changes', async () => {
    const { cluster, changes, make } = await setup();
    cluster.set('peer1', { kind: 'leader' });
    const client = make();
    await client.command(['x', 'add', '1']);
    await client.command(['x', 'add', '1']);
    await cluster.stop('peer1');
    cluster.set('peer2', { kind: 'follower', hint: 'peer3' });
    cluster.set('peer3', { kind: 'leader' });
    expect(await client.command(['x', 'add', '1'])).toMatchObject({ ok: true, value: 3 });
    await client.command(['x', 'add', '1']);
    expect(changes).toEqual([
      ['peer1', null],
      ['peer3', 'peer1'],
    ]);
  });

  it('answers unknown after the timeout when a try may have been appended', async () => {
    const { cluster, make } = await setup(['peer1', 'peer2']);
    cluster.set('peer1', { kind: 'silent' });
    cluster.set('peer2', { kind: 'silent' });
    const client = make({ timeoutMs: 600, attemptTimeoutMs: 200 });
    const r = await client.command(['x', 'add', '1']);
    expect(r).toMatchObject({ ok: false, error: 'unknown', message: expect.stringMatching(/may or may not/) });
    expect(client.leader()).toBeNull();
  });

  it('answers not_leader (nothing done) when no peer can be reached', async () => {
    const { cluster, make } = await setup(['peer1', 'peer2']);
    await cluster.close();
    const client = make({ timeoutMs: 500 });
    const r = await client.command(['x', 'add', '1']);
    expect(r).toMatchObject({ ok: false, error: 'not_leader', leader: null, message: expect.stringMatching(/unreachable: peer1, peer2/) });
  });

  it('keeps retrying an unknown outcome until a leader answers', async () => {
    const { cluster, make } = await setup(['peer1', 'peer2']);
    cluster.set('peer1', { kind: 'unknown' });
    cluster.set('peer2', { kind: 'follower', hint: 'peer1' });
    const client = make({ timeoutMs: 3000 });
    const pending = client.command(['x', 'add', '1']);
    await new Promise((r) => setTimeout(r, 150));
    cluster.set('peer1', { kind: 'leader' });
    expect(await pending).toMatchObject({ ok: true, value: 1 });
  });

  it('runs commands one at a time in call order', async () => {
    const { cluster, make } = await setup(['peer1']);
    cluster.set('peer1', { kind: 'leader' });
    const client = make();
    const results = await Promise.all([client.command(['x', 'set', 'a']), client.command(['x', 'cas', 'a', 'b']), client.command(['x', 'get'])]);
    expect(results.map((r) => (r.ok ? r.value : r.error))).toEqual(['a', true, 'b']);
    expect(cluster.requests.map((q) => q.req.seq)).toEqual([1, 2, 3]);
  });

  it('ends a command in progress on close and leaves no timers behind', async () => {
    const { cluster, make } = await setup(['peer1']);
    cluster.set('peer1', { kind: 'silent' });
    const client = make({ timeoutMs: 60_000, attemptTimeoutMs: 60_000 });
    const pending = client.command(['x', 'add', '1']);
    await new Promise((r) => setTimeout(r, 100));
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    client.close();
    const r = await pending;
    expect(r).toMatchObject({ ok: false, error: 'unknown', message: expect.stringMatching(/closed/) });
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThan(before);
    expect(await client.command(['x', 'get'])).toMatchObject({ ok: false, error: 'not_leader' });
  });
});
