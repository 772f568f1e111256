import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { startRelay, type Relay, type RelayOptions } from '../../game/relay/server.ts';
import type { KvClient } from '../../game/relay/control.ts';
import type { AdminRequest } from '../../shared/peer-protocol.ts';
import type { PeerAddress } from '../../shared/config.ts';
import type { Delta, PeerView, RelayToBrowser, VillagePicture } from '../../shared/village.ts';
import { VillageModel } from '../../game/src/model.ts';
import { browser, FakeLauncher, FakePeer, fakePeerSocket, sleep, testConfig, until, type Recorder } from './relay-support.ts';

const NAMES = ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'];
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Started {
  relay: Relay;
  adminCalls: { peer: string; request: AdminRequest }[];
  kvCalls: unknown[][];
}

async function start(over: Partial<RelayOptions> = {}, cfg: Parameters<typeof testConfig>[0] = {}): Promise<Started> {
  const adminCalls: Started['adminCalls'] = [];
  const kvCalls: unknown[][] = [];
  let leader: string | null = 'peer1';
  const kv: KvClient = {
    async command(command) {
      kvCalls.push(command);
      if (command[0] === 'x' && command[1] === 'add') {
        leader = 'peer3'; // pretend the leader moved while the command ran
        return { type: 'command_result', id: 'r', ok: true, value: 100, index: 7, term: 2 };
      }
      return { type: 'command_result', id: 'r', ok: false, error: 'bad_command', message: 'nope' };
    },
    leader: () => leader,
    close() {},
  };
  const relay = await startRelay({
    config: testConfig(cfg),
    port: 0,
    attacks: false,
    distDir: join(tmpdir(), 'relay-test-no-dist'),
    kvClient: (_peers: PeerAddress[]) => kv,
    admin: async (peer, request) => {
      adminCalls.push({ peer: peer.name, request });
      if (request.type === 'status') throw new Error('not a real peer');
      if (request.type === 'campaign') return { type: 'campaign', ok: true };
      if (request.type === 'membership' || request.type === 'removed') throw new Error('not a real peer');
      return { type: 'faults', blocked: request.blocked ?? [], dropRate: 0, latencyMs: 0 };
    },
    log: () => {},
    ...over,
  });
  cleanup.push(() => relay.close());
  return { relay, adminCalls, kvCalls };
}

function track<T extends { close(): void }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

async function controlBrowser(relay: Relay): Promise<Recorder<RelayToBrowser>> {
  const b = track(browser(relay.port, { token: relay.token }));
  await b.opened;
  await b.next((m) => m.type === 'snapshot');
  return b;
}

const deltas = (b: Recorder<RelayToBrowser>): Delta[] => b.messages.flatMap((m) => (m.type === 'batch' ? m.deltas : []));
/** The browser's current view of a peer: everything it received, folded by the page's model. */
const lastPeer = (b: Recorder<RelayToBrowser>, name: string): PeerView | undefined => {
  const model = new VillageModel();
  for (const m of b.messages) model.receive(m, Date.now());
  return model.peers.get(name);
};
const snapshotOf = async (b: Recorder<RelayToBrowser>): Promise<VillagePicture> => ((await b.next((m) => m.type === 'snapshot')) as Extract<RelayToBrowser, { type: 'snapshot' }>).picture;
const reply = (b: Recorder<RelayToBrowser>, id: string) => b.next((m) => m.type === 'reply' && m.id === id) as Promise<Extract<RelayToBrowser, { type: 'reply' }>>;

describe('relay: picture and deltas', () => {
  it('sends a snapshot first, then batches of deltas as peers report', async () => {
    const { relay } = await start();
    const b = await controlBrowser(relay);
    expect(b.messages[0]!.type).toBe('snapshot');
    const p1 = track(new FakePeer(relay.port, 'peer1', NAMES.slice(0, 3)));
    await p1.hello();
    p1.state({ role: 'leader', term: 2, leader: 'peer1', vote: 'peer1', commitIndex: 1, lastIndex: 1, lastTerm: 2 });
    const rid = p1.rpc('peer2');
    // New villagers arrive as peer deltas (peer1 told us its cluster).
    await until(() => ['peer1', 'peer2', 'peer3'].every((n) => lastPeer(b, n) !== undefined), 'three villagers');
    expect(b.messages.filter((m) => m.type === 'snapshot')).toHaveLength(1);
    await until(() => lastPeer(b, 'peer1')?.role === 'leader', 'peer1 shown as leader');
    expect(lastPeer(b, 'peer1')).toMatchObject({ term: 2, reporting: true, process: 'up', pid: 1001 });
    await until(() => deltas(b).some((d) => d.type === 'event' && d.event.type === 'rpc_send' && d.event.rid === rid), 'the rpc event');
    const counters = deltas(b).filter((d): d is Extract<Delta, { type: 'counters' }> => d.type === 'counters').at(-1)!.counters;
    expect(counters).toMatchObject({ elections: 1, messages: 1 });
    expect(deltas(b).some((d) => d.type === 'console' && d.line.includes('peer1 is the leader of term 2'))).toBe(true);
    // Batches, not one frame per event.
    const batches = b.messages.filter((m) => m.type === 'batch').length;
    expect(batches).toBeLessThan(10);
  });

  it('gives a browser that connects late the whole picture', async () => {
    const { relay } = await start();
    const l = track(new FakeLauncher(relay.port, NAMES.slice(0, 3)));
    await l.start();
    const peers = NAMES.slice(0, 3).map((n) => track(new FakePeer(relay.port, n, NAMES.slice(0, 3))));
    for (const p of peers) await p.hello();
    const [p1, p2] = peers as [FakePeer, FakePeer];
    p1.state({ role: 'leader', term: 3, leader: 'peer1', commitIndex: 2, appliedIndex: 2, lastIndex: 2, lastTerm: 3 });
    p2.state({ role: 'follower', term: 3, leader: 'peer1', vote: 'peer1' });
    p1.send({ type: 'log_append', entries: [{ index: 1, term: 3, label: 'noop' }, { index: 2, term: 3, label: 'x add 100' }] });
    p1.send({
      type: 'apply',
      entries: [
        { index: 2, term: 3, command: ['x', 'add', '100'], ok: true, result: 100, key: 'x', value: 100 },
        { index: 3, term: 3, command: ['y', 'set', 'hi'], ok: true, result: 'hi', key: 'y', value: 'hi' },
      ],
    });
    p2.send({ type: 'apply', entries: [{ index: 2, term: 3, command: ['x', 'add', '100'], ok: true, result: 100, key: 'x', value: 100 }] });
    p2.send({ type: 'faults', blocked: ['peer3'], dropRate: 0.1, latencyMs: 5 });
    p2.send({ type: 'reporter_dropped', count: 4 });
    p1.rpc('peer2');
    p1.rpc('peer3');
    await until(() => relay.picture.peer('peer2')?.reporterDropped === 4, 'all events in');
    const late = track(browser(relay.port, { token: relay.token }));
    const pic = await snapshotOf(late);
    expect(pic.peers.map((p) => p.name)).toEqual(['peer1', 'peer2', 'peer3']);
    expect(pic.peers[0]).toMatchObject({ role: 'leader', term: 3, commitIndex: 2, process: 'up', reporting: true });
    expect(pic.peers[0]!.log.map((t) => t.label)).toEqual(['noop', 'x add 100']);
    expect(pic.peers[1]).toMatchObject({ blocked: ['peer3'], dropRate: 0.1, latencyMs: 5, reporterDropped: 4 });
    expect(pic.kv).toEqual({ x: 100, y: 'hi' });
    expect(pic.counters).toEqual({ elections: 1, messages: 2, droppedEvents: 4 });
    expect(pic.launcher).toBe(true);
  });

  it('marks a peer not reporting when its stream drops, and shows it again when it comes back', async () => {
    const { relay } = await start();
    const b = await controlBrowser(relay);
    const p = new FakePeer(relay.port, 'peer2', NAMES.slice(0, 3));
    await p.hello();
    p.state({ role: 'follower', term: 1 });
    await until(() => lastPeer(b, 'peer2')?.reporting === true, 'peer2 reporting');
    p.close();
    await until(() => lastPeer(b, 'peer2')?.reporting === false, 'peer2 not reporting');
    const again = track(new FakePeer(relay.port, 'peer2', NAMES.slice(0, 3)));
    await again.hello(4242);
    again.state({ role: 'follower', term: 5 });
    await until(() => lastPeer(b, 'peer2')?.term === 5, 'peer2 back on the same page');
    expect(lastPeer(b, 'peer2')).toMatchObject({ reporting: true, pid: 4242 });
  });

  it('follows a launcher that brings a smaller village with a fresh snapshot', async () => {
    const { relay } = await start();
    const five = new FakeLauncher(relay.port, NAMES);
    await five.start();
    const b = await controlBrowser(relay);
    await until(() => lastPeer(b, 'peer5')?.process === 'up', 'five villagers');
    five.close();
    await until(() => b.messages.some((m) => m.type === 'batch' && m.deltas.some((d) => d.type === 'launcher' && !d.connected)), 'launcher gone');
    const three = track(new FakeLauncher(relay.port, NAMES.slice(0, 3)));
    await three.start();
    await until(() => b.messages.filter((m) => m.type === 'snapshot').length === 2, 'a fresh snapshot');
    const snap = b.messages.filter((m): m is Extract<RelayToBrowser, { type: 'snapshot' }> => m.type === 'snapshot').at(-1)!;
    expect(snap.picture.peers.map((p) => p.name)).toEqual(['peer1', 'peer2', 'peer3']);
    expect(snap.picture.launcher).toBe(true);
  });

  it('counts a peer reporter_dropped as its running total, across restarts of the peer', async () => {
    const { relay } = await start();
    const p = new FakePeer(relay.port, 'peer1', ['peer1']);
    await p.hello(111);
    p.send({ type: 'reporter_dropped', count: 4 });
    p.send({ type: 'reporter_dropped', count: 6 });
    await until(() => relay.picture.peer('peer1')?.reporterDropped === 6, 'the total, not the sum');
    p.close();
    const again = track(new FakePeer(relay.port, 'peer1', ['peer1']));
    await again.hello(222); // a new run counts from 0 again
    again.send({ type: 'reporter_dropped', count: 2 });
    await until(() => relay.picture.peer('peer1')?.reporterDropped === 8, 'old run + new run');
    expect(relay.picture.counterValues().droppedEvents).toBe(8);
  });

  it('keeps log tiles in order through appends and truncations, and only the last few hundred', async () => {
    const { relay } = await start();
    const p = track(new FakePeer(relay.port, 'peer1', ['peer1']));
    await p.hello();
    p.send({ type: 'log_append', entries: Array.from({ length: 400 }, (_, i) => ({ index: i + 1, term: 1, label: `e${i + 1}` })) });
    p.send({ type: 'log_truncate', from: 391 });
    p.send({ type: 'log_append', entries: [{ index: 391, term: 2, label: 'new' }] });
    await until(() => relay.picture.peer('peer1')?.log.at(-1)?.label === 'new', 'log updated');
    const log = relay.picture.peer('peer1')!.log;
    expect(log.length).toBeLessThanOrEqual(300);
    expect(log.at(-1)).toEqual({ index: 391, term: 2, label: 'new' });
    expect(log.every((t, i) => i === 0 || t.index === log[i - 1]!.index + 1)).toBe(true);
  });
});

describe('relay: commands', () => {
  it('sends kill and revive to the launcher and replies when it reports back', async () => {
    const { relay } = await start();
    const l = track(new FakeLauncher(relay.port, NAMES));
    await l.start();
    const b = await controlBrowser(relay);
    await until(() => relay.picture.peer('peer2')?.process === 'up', 'launcher report');
    b.send({ type: 'kill', peer: 'peer2', id: 'k1' });
    const r = await reply(b, 'k1');
    expect(r).toMatchObject({ ok: true });
    expect(r.text).toMatch(/peer2 was killed/);
    expect(l.commands).toEqual([{ type: 'kill', peer: 'peer2' }]);
    await until(() => lastPeer(b, 'peer2')?.process === 'down', 'peer2 drawn down');
    b.send({ type: 'console', line: 'revive peer2', id: 'r1' });
    expect(await reply(b, 'r1')).toMatchObject({ ok: true });
    expect(l.commands.at(-1)).toEqual({ type: 'revive', peer: 'peer2' });
    b.send({ type: 'kill', peer: 'peer9', id: 'k2' });
    expect((await reply(b, 'k2')).text).toMatch(/peer9 is not in the village; villagers: peer1, peer2/);
  });

  it('says clearly that kill needs the launcher when none is connected', async () => {
    const { relay } = await start();
    const p = track(new FakePeer(relay.port, 'peer1', NAMES.slice(0, 3)));
    await p.hello();
    const b = await controlBrowser(relay);
    b.send({ type: 'kill', peer: 'peer2', id: 'k' });
    const r = await reply(b, 'k');
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/no cluster launcher is connected.*npm run cluster -- 5 -v/);
  });

  it('refuses control without the page token or from another origin, but still shows the village', async () => {
    const { relay } = await start();
    const l = track(new FakeLauncher(relay.port, NAMES.slice(0, 3)));
    await l.start();
    const cases = [
      { token: null, origin: `http://127.0.0.1:${relay.port}` },
      { token: 'wrong-token', origin: `http://127.0.0.1:${relay.port}` },
      { token: relay.token, origin: 'http://evil.example' },
      { token: relay.token, origin: null },
      { token: relay.token, origin: `http://127.0.0.1:${relay.port + 1}` },
    ];
    for (const [i, c] of cases.entries()) {
      const b = track(browser(relay.port, c));
      const pic = await snapshotOf(b);
      expect(pic.peers).toHaveLength(3); // reading is allowed
      for (const m of [{ type: 'kill', peer: 'peer1' }, { type: 'console', line: 'kill peer1' }, { type: 'attacks', on: true }, { type: 'heal' }]) {
        b.send({ ...m, id: `c${i}` });
        const r = await reply(b, `c${i}`);
        expect(r.ok).toBe(false);
        expect(r.text).toMatch(/may watch but not control/);
        b.messages.length = 0;
      }
    }
    await sleep(100);
    expect(l.commands).toEqual([]);
    expect(relay.monster.attacks).toBe(false);
    // The right token from the right origin works (with localhost as the host name too).
    const ok = track(browser(relay.port, { token: relay.token, origin: `http://localhost:${relay.port}`, host: `localhost:${relay.port}` }));
    await snapshotOf(ok);
    ok.send({ type: 'attacks', on: true, id: 'a' });
    expect(await reply(ok, 'a')).toMatchObject({ ok: true });
    expect(relay.monster.attacks).toBe(true);
  });

  it('refuses a browser that names another host (DNS rebinding) and peers without the secret', async () => {
    const { relay } = await start();
    const rebound = browser(relay.port, { token: relay.token, origin: `http://evil.example:${relay.port}`, host: `evil.example:${relay.port}` });
    await expect(rebound.opened).rejects.toThrow(/403/);
    const noSecret = fakePeerSocket(relay.port, null);
    await expect(noSecret.opened).rejects.toThrow(/401/);
    const wrongSecret = fakePeerSocket(relay.port, 'guess');
    await expect(wrongSecret.opened).rejects.toThrow(/401/);
    const launcher = new WebSocket(`ws://127.0.0.1:${relay.port}/launcher`);
    const status = await new Promise<number>((resolve) => launcher.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
    expect(relay.stats().refusedConnections).toBeGreaterThanOrEqual(4);
  });

  it('isolates a peer through every peer /admin and heals', async () => {
    const { relay, adminCalls } = await start();
    const l = track(new FakeLauncher(relay.port, NAMES.slice(0, 3)));
    await l.start();
    const b = await controlBrowser(relay);
    b.send({ type: 'isolate', peer: 'peer3', id: 'i' });
    expect(await reply(b, 'i')).toMatchObject({ ok: true, text: 'peer3 is isolated from the village' });
    const faults = (peer: string) => adminCalls.filter((c) => c.peer === peer && c.request.type === 'faults').at(-1)?.request;
    expect(faults('peer3')).toEqual({ type: 'faults', blocked: ['peer1', 'peer2'] });
    expect(faults('peer1')).toEqual({ type: 'faults', blocked: ['peer3'] });
    expect(faults('peer2')).toEqual({ type: 'faults', blocked: ['peer3'] });
    // A restarted peer gets its isolation back when it says hello.
    adminCalls.length = 0;
    const p3 = track(new FakePeer(relay.port, 'peer3', NAMES.slice(0, 3)));
    await p3.hello();
    await until(() => faults('peer3') !== undefined, 'isolation reapplied');
    expect(faults('peer3')).toEqual({ type: 'faults', blocked: ['peer1', 'peer2'] });
    b.send({ type: 'console', line: 'heal', id: 'h' });
    expect(await reply(b, 'h')).toMatchObject({ ok: true });
    for (const p of ['peer1', 'peer2', 'peer3']) expect(faults(p)).toEqual({ type: 'faults', blocked: [], dropRate: 0, latencyMs: 0 });
    b.send({ type: 'campaign', peer: 'peer2', id: 'c' });
    expect(await reply(b, 'c')).toMatchObject({ ok: true });
    expect(adminCalls.at(-1)).toEqual({ peer: 'peer2', request: { type: 'campaign' } });
    await until(() => deltas(b).some((d) => d.type === 'console' && d.level === 'event' && d.line.includes('peer3 is isolated')), 'isolation event line');
  });

  it('runs console key-value commands through the cluster client and names a new leader', async () => {
    const { relay, kvCalls } = await start();
    const l = track(new FakeLauncher(relay.port, NAMES.slice(0, 3)));
    await l.start();
    const b = await controlBrowser(relay);
    const other = await controlBrowser(relay);
    b.send({ type: 'console', line: 'x add 100', id: 'x' });
    const r = await reply(b, 'x');
    expect(r).toMatchObject({ ok: true, value: 100, text: '100 (new leader: peer3)' });
    expect(kvCalls).toEqual([['x', 'add', 100]]);
    b.send({ type: 'console', line: "['y', 'cas', 'a', 'b']", id: 'y' });
    expect(await reply(b, 'y')).toMatchObject({ ok: false, text: 'nope; nothing was done' });
    expect(kvCalls[1]).toEqual(['y', 'cas', 'a', 'b']);
    b.send({ type: 'console', line: 'bogus words here', id: 'z' });
    expect((await reply(b, 'z')).text).toMatch(/unknown operation "words".*operations: set, add, get, del, cas/);
    b.send({ type: 'console', line: 'status', id: 's' });
    expect((await reply(b, 's')).text).toMatch(/peers up: 3\/3; launcher: connected/);
    b.send({ type: 'console', line: 'help', id: 'hp' });
    expect((await reply(b, 'hp')).text).toMatch(/cas KEY FROM TO/);
    // Every console panel sees the command, as typed and marked as input, and its result.
    await until(() => deltas(other).some((d) => d.type === 'console' && d.level === 'input' && d.line === 'x add 100'), 'echo');
    expect(deltas(other).some((d) => d.type === 'console' && d.level === 'result' && d.line === '100 (new leader: peer3)')).toBe(true);
  });
});

describe('relay: bad input and limits', () => {
  it('answers malformed browser frames with an error and keeps going', async () => {
    const { relay } = await start();
    const b = await controlBrowser(relay);
    b.send('this is not json');
    b.send('[1,2,3]');
    b.send({ type: 'kill', id: 'm1' });
    b.send({ type: 'launch_missiles', id: 'm2' });
    b.ws.send(Buffer.from([0xff, 0x00, 0x12]), { binary: true });
    await until(() => b.messages.filter((m) => m.type === 'reply' && !m.ok).length >= 5, 'five error replies');
    expect((await reply(b, 'm1')).text).toMatch(/peer: expected a string/);
    expect((await reply(b, 'm2')).text).toMatch(/unknown message "launch_missiles"/);
    expect(relay.stats().rejectedFrames).toBe(5);
    b.send({ type: 'console', line: 'help', id: 'ok' });
    expect(await reply(b, 'ok')).toMatchObject({ ok: true });
  });

  it('drops malformed peer frames, counts them, and keeps the stream', async () => {
    const { relay } = await start();
    const p = track(new FakePeer(relay.port, 'peer1', ['peer1', 'peer2']));
    await p.hello();
    p.rec.send('{{{');
    p.rec.send({ type: 'state', peer: 'peer1' }); // missing fields
    p.rec.send({ type: 'nonsense', peer: 'peer1', t: 1 });
    p.send({ type: 'state', role: 'king', term: 1 });
    p.rec.send({ peer: 'peer2', t: 1, type: 'commit', index: 4 }); // pretends to be another peer
    p.send({ type: 'log_append', entries: [{ index: 'one', term: 1, label: 'x' }] });
    p.state({ role: 'candidate', term: 9 });
    await until(() => relay.picture.peer('peer1')?.term === 9, 'the good event after the bad ones');
    expect(relay.stats().rejectedFrames).toBe(6);
    expect(relay.picture.peer('peer2')?.commitIndex).toBe(0);
    // A stream that does not start with hello is closed; so is one from a peer not in the ini.
    const rude = fakePeerSocket(relay.port);
    await rude.opened;
    rude.send({ peer: 'peer1', t: 1, type: 'commit', index: 1 });
    expect(await rude.closed).toBe(1008);
    const stranger = fakePeerSocket(relay.port);
    await stranger.opened;
    stranger.send({ peer: 'mallory', t: 1, type: 'hello', pid: 1, cluster: ['mallory'], profile: 'fast', timing: { heartbeatMs: 1, electionMinMs: 2, electionMaxMs: 3, latencyMs: 0 } });
    expect(await stranger.closed).toBe(1008);
    expect(relay.picture.peer('mallory')).toBeUndefined();
  });

  it('takes a frame holding an array of events, hello first, each checked on its own', async () => {
    const { relay } = await start();
    const b = await controlBrowser(relay);
    const sock = track(fakePeerSocket(relay.port));
    await sock.opened;
    const t = Date.now();
    const hello = { peer: 'peer1', t, type: 'hello', pid: 1, cluster: ['peer1', 'peer2'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 } };
    const state = { peer: 'peer1', t, type: 'state', role: 'leader', term: 3, vote: 'peer1', leader: 'peer1', commitIndex: 0, appliedIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: null };
    const send = { peer: 'peer1', t, type: 'rpc_send', to: 'peer2', rid: 'peer1:7', rpc: 'append_entries', term: 3, heartbeat: false, entries: 1 };
    const rejectedBefore = relay.stats().rejectedFrames;
    sock.send([hello, state, { peer: 'peer1', t, type: 'commit', index: 'x' }, send]);
    await until(() => deltas(b).some((d) => d.type === 'event' && d.event.type === 'rpc_send' && d.event.rid === 'peer1:7'), 'the rpc event from the array');
    expect(relay.picture.peer('peer1')).toMatchObject({ role: 'leader', term: 3 });
    expect(relay.stats().rejectedFrames).toBe(rejectedBefore + 1);
    // An array that does not start with hello closes the stream, as a single event would.
    const rude = fakePeerSocket(relay.port);
    await rude.opened;
    rude.send([send, hello]);
    expect(await rude.closed).toBe(1008);
  });

  it('refuses oversized frames by closing that connection only', async () => {
    const { relay } = await start({}, { maxFrameBytes: 4096 });
    const b = await controlBrowser(relay);
    const big = track(browser(relay.port, { token: relay.token }));
    await snapshotOf(big);
    big.send({ type: 'console', line: 'x'.repeat(100 * 1024) });
    expect(await big.closed).toBe(1009);
    const p = new FakePeer(relay.port, 'peer1', ['peer1']);
    await p.hello();
    p.send({ type: 'log_append', entries: [{ index: 1, term: 1, label: 'y'.repeat(8000) }] });
    expect(await p.rec.closed).toBe(1009);
    b.send({ type: 'console', line: 'help', id: 'still' });
    expect(await reply(b, 'still')).toMatchObject({ ok: true });
  });

  it('limits the number of connections per path', async () => {
    const { relay } = await start({ limits: { maxBrowsers: 2, maxLaunchers: 1 } });
    const a = track(browser(relay.port));
    const b = track(browser(relay.port));
    await a.opened;
    await b.opened;
    const c = browser(relay.port);
    await expect(c.opened).rejects.toThrow(/503/);
    const l1 = track(new FakeLauncher(relay.port, ['peer1']));
    await l1.rec.opened;
    const l2 = new FakeLauncher(relay.port, ['peer1']);
    await expect(l2.rec.opened).rejects.toThrow(/503/);
    a.close();
    await until(() => relay.stats().browsers === 1, 'a slot freed');
    const d = track(browser(relay.port));
    await d.opened;
  });

  it('resynchronizes a browser that falls behind with a fresh snapshot instead of queueing', async () => {
    const { relay } = await start({ limits: { browserHighWaterBytes: 64 * 1024, browserLowWaterBytes: 16 * 1024 } });
    const slow = await controlBrowser(relay);
    const p = track(new FakePeer(relay.port, 'peer1', ['peer1']));
    await p.hello();
    // The browser stops reading: the kernel buffers fill, then the relay's socket buffer.
    const sock = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    sock.pause();
    const label = 'z'.repeat(150);
    let index = 0;
    const append = (tag: string) => {
      p.send({ type: 'log_append', entries: Array.from({ length: 50 }, () => ({ index: ++index, term: 1, label: `${tag}${label}` })) });
    };
    for (let i = 0; i < 5000 && relay.stats().behind === 0; i++) {
      append('a');
      if (i % 20 === 19) await sleep(30);
    }
    expect(relay.stats().behind).toBe(1);
    // While it is behind, nothing more is queued for it.
    for (let i = 0; i < 50; i++) append('late');
    await until(() => relay.picture.peer('peer1')?.log.at(-1)?.index === index, 'all events in the picture', 15_000);
    await sleep(100);
    sock.resume();
    // It catches up with one snapshot holding the latest picture, not with the missed batches.
    await until(() => slow.messages.filter((m) => m.type === 'snapshot').length >= 2, 'a second snapshot', 15_000);
    expect(relay.stats().resyncs).toBeGreaterThanOrEqual(1);
    await until(() => lastPeer(slow, 'peer1')?.log.at(-1)?.index === index, 'the browser sees the latest log', 15_000);
    const late = deltas(slow).filter((d) => d.type === 'event' && d.event.type === 'log_append' && d.event.entries[0]!.label.startsWith('late')).length;
    expect(late).toBe(0);
    expect(relay.stats().behind).toBe(0);
  });

  it('refuses commands from a browser that floods it', async () => {
    const { relay } = await start({ limits: { browserCommandsPerSecond: 5 } });
    const b = await controlBrowser(relay);
    for (let i = 0; i < 30; i++) b.send({ type: 'console', line: 'help', id: `f${i}` });
    await until(() => b.messages.filter((m) => m.type === 'reply').length === 30, 'thirty replies');
    const refused = b.messages.filter((m) => m.type === 'reply' && !m.ok && m.text.includes('too many commands'));
    expect(refused.length).toBeGreaterThan(15);
  });
});

describe('relay: the monster', () => {
  it('attacks through the launcher, never a majority, and stops when told', async () => {
    const { relay } = await start({ attacks: false, walkMs: 50 }, { peers: 5, attackIntervalS: 1, reviveAfterS: 0 });
    const l = track(new FakeLauncher(relay.port, NAMES));
    await l.start();
    const b = await controlBrowser(relay);
    await sleep(1500);
    expect(l.commands).toEqual([]); // attacks are off
    b.send({ type: 'attacks', on: true, id: 'on' });
    expect(await reply(b, 'on')).toMatchObject({ ok: true, value: true });
    await until(() => l.commands.length >= 2, 'two monster kills', 8000);
    await sleep(2500); // time for a third attack, which the majority rule forbids
    expect(l.commands.filter((c) => c.type === 'kill')).toHaveLength(2);
    const ds = deltas(b);
    const hunts = ds.filter((d) => d.type === 'monster' && d.action === 'hunt');
    const strikes = ds.filter((d) => d.type === 'monster' && d.action === 'strike');
    expect(hunts.length).toBeGreaterThanOrEqual(2);
    expect(strikes).toHaveLength(2);
    expect(ds.some((d) => d.type === 'attacks' && d.on && d.nextAttackAt !== null)).toBe(true);
    b.send({ type: 'console', line: 'attacks off', id: 'off' });
    expect(await reply(b, 'off')).toMatchObject({ ok: true });
    expect(relay.picture.snapshot()).toMatchObject({ attacks: false, nextAttackAt: null });
  });

  it('revives the dead after revive_after_s', async () => {
    const { relay } = await start({ attacks: false }, { peers: 3, reviveAfterS: 1 });
    const l = track(new FakeLauncher(relay.port, NAMES.slice(0, 3)));
    await l.start();
    const b = await controlBrowser(relay);
    b.send({ type: 'kill', peer: 'peer1', id: 'k' });
    expect(await reply(b, 'k')).toMatchObject({ ok: true });
    await until(() => l.commands.some((c) => c.type === 'revive' && c.peer === 'peer1'), 'revival', 5000);
    await until(() => relay.picture.peer('peer1')?.process === 'up', 'peer1 up again');
  });
});

describe('relay: the page', () => {
  const get = (port: number, path: string, host = `127.0.0.1:${port}`) =>
    new Promise<{ status: number; type: string; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  it('says how to build the game when game/dist is missing', async () => {
    const { relay } = await start();
    const r = await get(relay.port, '/');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/npm run build/);
  });

  it('serves the built game with its token, content types, and nothing outside dist', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'relay-dist-'));
    cleanup.push(() => rmSync(dist, { recursive: true, force: true }));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><html><head><title>v</title></head><body><script src="./assets/main.js"></script></body></html>');
    writeFileSync(join(dist, 'assets', 'main.js'), 'console.log(1)');
    writeFileSync(join(dist, 'assets', 'style.css'), 'body{}');
    const { relay } = await start({ distDir: dist });
    const page = await get(relay.port, '/');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body).toContain(`<meta name="village-token" content="${relay.token}">`);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect((await get(relay.port, '/assets/main.js')).type).toBe('text/javascript; charset=utf-8');
    expect((await get(relay.port, '/assets/style.css')).type).toBe('text/css; charset=utf-8');
    expect((await get(relay.port, '/../../etc/passwd')).status).toBe(404);
    expect((await get(relay.port, '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
    expect((await get(relay.port, '/nope.js')).status).toBe(404);
    const rebound = await get(relay.port, '/', `evil.example:${relay.port}`);
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain(relay.token);
    const api = JSON.parse((await get(relay.port, '/api/picture')).body) as { picture: VillagePicture };
    expect(api.picture.attacks).toBe(false);
  });
});
