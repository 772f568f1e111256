// The /admin endpoint on a real loopback socket: one reply per frame, in the admin channel's
// shapes, and a clear bad_frame for anything else (the handler is then never called).
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { serveAdmin, type AdminHandler } from '../../peer/admin-server.ts';
import type { InspectableCore } from '../../peer/inspect-status.ts';
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
async function admin(shell: AdminHandler, badFrames: string[], core?: InspectableCore): Promise<{ ask(frame: string | Buffer): Promise<Record<string, unknown>>; close(): void }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => server!.once('listening', r));
  server.on('connection', (ws) => serveAdmin(ws, shell, CLUSTER, (m) => badFrames.push(m), core));
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

  it('adds the log window and the leader\'s progress asked for, read from the core', async () => {
    const core: InspectableCore = {
      status: () => ({ role: 'leader', lastIndex: 3 }),
      firstIndex: () => 1,
      entries: (lo, hi) => [{ index: 1, term: 1, data: null }, { index: 2, term: 2, data: '{"cmd":["x","add",100]}' }, { index: 3, term: 3, data: null }].filter((e) => e.index >= lo && e.index <= hi),
      followers: () => [{ peer: 'peer3', match: 1, next: 2, state: 'probe', inflight: 0, recentActive: true }, { peer: 'peer2', match: 3, next: 4, state: 'replicate', inflight: 1, recentActive: true }],
    };
    const c = await admin(fakeShell(), [], core);
    const st = await c.ask('{"type":"status","id":"i1","log":{"last":2},"progress":true}');
    expect(st).toMatchObject({ type: 'status', id: 'i1', peer: 'peer1', term: 3 });
    expect(st.log).toEqual({ first: 1, last: 3, from: 2, to: 3, entries: [{ index: 2, term: 2, command: 'x add 100' }, { index: 3, term: 3, command: 'noop' }] });
    expect(st.progress).toEqual([{ peer: 'peer2', nextIndex: 4, matchIndex: 3 }, { peer: 'peer3', nextIndex: 2, matchIndex: 1 }]);
    expect((await c.ask('{"type":"status","log":{"from":1,"to":1}}')).log).toMatchObject({ from: 1, to: 1, entries: [{ index: 1, term: 1, command: 'noop' }] });
    const plain = await c.ask('{"type":"status"}');
    expect(plain.log).toBeUndefined();
    expect(plain.progress).toBeUndefined();
    c.close();
  });

  it('refuses a log window that is not exactly {last} or {from, to} within 200 entries, saying what is wrong', async () => {
    const bad: string[] = [];
    const c = await admin(fakeShell(), bad, { status: () => ({ role: 'follower', lastIndex: 0 }), firstIndex: () => 1, entries: () => [], followers: () => [] });
    const refused = async (log: string, says: string) =>
      expect(await c.ask(`{"type":"status","id":"w","log":${log}}`), log).toEqual({ type: 'error', error: 'bad_frame', id: 'w', message: expect.stringContaining(says) });
    await refused('5', '"log" must be a JSON object');
    await refused('[]', '"log" must be a JSON object');
    await refused('{}', 'needs "last", or both "from" and "to"');
    await refused('{"last":0}', '"last" must be from 1 to 200');
    await refused('{"last":201}', '"last" must be from 1 to 200');
    await refused('{"last":-1}', '"last" must be a whole number');
    await refused('{"last":2.5}', '"last" must be a whole number');
    await refused('{"last":"5"}', '"last" must be a whole number');
    await refused('{"last":5,"from":1,"to":2}', 'not both');
    await refused('{"from":3}', 'both "from" and "to"');
    await refused('{"from":0,"to":3}', '"from" must be at least 1');
    await refused('{"from":5,"to":4}', '"to" must be at least "from"');
    await refused('{"from":1,"to":201}', 'asks for 201 entries; at most 200');
    await refused('{"last":5,"tail":true}', 'it has no "tail"');
    expect(await c.ask('{"type":"status","id":"p","progress":"yes"}')).toMatchObject({ type: 'error', message: expect.stringContaining('"progress" must be true or false') });
    // A follower has no progress to show: null, not an empty list.
    expect((await c.ask('{"type":"status","progress":true}')).progress).toBeNull();
    expect(bad).toHaveLength(15);
    c.close();
  });

  it('refuses log and progress where it has no core to read them from', async () => {
    const c = await admin(fakeShell(), []);
    expect(await c.ask('{"type":"status","id":"n","log":{"last":3}}')).toMatchObject({ type: 'error', error: 'bad_frame', id: 'n', message: expect.stringContaining('no log or progress') });
    c.close();
  });
});
