// The /admin endpoint on a real loopback socket: one reply per frame, in the admin channel's
// shapes, and a clear bad_frame for anything else (the handler is then never called).
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { serveAdmin, type AdminHandler } from '../../peer/admin-server.ts';
import type { Faults, PeerStatus } from '../../shared/peer-protocol.ts';

const CLUSTER = ['peer1', 'peer2', 'peer3'];

function fakeShell(): AdminHandler & { calls: string[] } {
  const faults: Faults = { blocked: [], dropRate: 0, latencyMs: 0 };
  const calls: string[] = [];
  const status: PeerStatus = {
    peer: 'peer1', pid: 1, cluster: CLUSTER, role: 'leader', term: 3, vote: 'peer1', leader: 'peer1', commitIndex: 7, appliedIndex: 7,
    lastIndex: 7, lastTerm: 3, electionDeadline: null, faults, connected: ['peer2'], profile: 'fast',
  };
  return {
    calls,
    setFaults(change) {
      calls.push(`faults ${JSON.stringify(change)}`);
      Object.assign(faults, change);
      return { ...faults, blocked: [...faults.blocked] };
    },
    campaign() {
      calls.push('campaign');
    },
    status: () => status,
    kvEntries: () => ({ x: 100 }),
  };
}

let server: WebSocketServer | null = null;
afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = null;
});

/** Serves /admin with `shell` on a free loopback port; returns a function that sends one frame and waits for the reply. */
async function admin(shell: AdminHandler, badFrames: string[]): Promise<{ ask(frame: string | Buffer): Promise<Record<string, unknown>>; close(): void }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => server!.once('listening', r));
  server.on('connection', (ws) => serveAdmin(ws, shell, CLUSTER, (m) => badFrames.push(m)));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  return {
    ask: (frame) =>
      new Promise((resolve) => {
        ws.once('message', (d) => resolve(JSON.parse(String(d)) as Record<string, unknown>));
        ws.send(frame, { binary: typeof frame !== 'string' });
      }),
    close: () => ws.close(),
  };
}

describe('/admin endpoint', () => {
  it('changes faults, forces an election and reports status (with the store on request), echoing ids', async () => {
    const shell = fakeShell();
    const c = await admin(shell, []);
    expect(await c.ask('{"type":"faults","id":"f1","blocked":["peer2"],"dropRate":0.5}')).toEqual({ type: 'faults', id: 'f1', blocked: ['peer2'], dropRate: 0.5, latencyMs: 0 });
    expect(await c.ask('{"type":"campaign"}')).toEqual({ type: 'campaign', ok: true });
    expect(await c.ask('{"type":"status","id":"s1"}')).toMatchObject({ type: 'status', id: 's1', peer: 'peer1', role: 'leader', term: 3 });
    expect((await c.ask('{"type":"status"}')).kv).toBeUndefined();
    expect((await c.ask('{"type":"status","kv":true}')).kv).toEqual({ x: 100 });
    expect(shell.calls).toEqual(['faults {"blocked":["peer2"],"dropRate":0.5}', 'campaign']);
    c.close();
  });

  it('answers a frame it cannot use with bad_frame, names the problem, and calls nothing', async () => {
    const shell = fakeShell();
    const bad: string[] = [];
    const c = await admin(shell, bad);
    expect(await c.ask('{"type":"faults","id":"f2","blocked":["peer9"]}')).toEqual({
      type: 'error',
      error: 'bad_frame',
      id: 'f2',
      message: expect.stringContaining('peer9 not in the cluster'),
    });
    expect(await c.ask('not json')).toMatchObject({ type: 'error', error: 'bad_frame', message: expect.stringContaining('not JSON') });
    expect(await c.ask(Buffer.from('{"type":"status"}'))).toMatchObject({ type: 'error', error: 'bad_frame', message: expect.stringContaining('binary') });
    expect(shell.calls).toEqual([]);
    expect(bad).toHaveLength(2); // the binary frame is refused before parsing
    c.close();
  });
});
