// Random and mutated frames against the relay as a real process, with real peers streaming
// their events into it: /village (watching, and with control), /peer and /launcher (with and
// without the cluster secret). The relay must answer every browser frame, drop bad peer and
// launcher frames, close a connection only for a good reason, stay alive with bounded memory,
// and keep showing what the cluster does.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { VillagePicture } from '../../shared/village.ts';
import { pidAlive, startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { spawnRelay, type RelayProcess } from '../security/relay-process.ts';
import { deepFrames, describeFrame, exchange, junkFrame, mutate, upgradeStatus, rssMiB, type Exchange, type Frame } from './frames.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const MAX_FRAME = 65536; // the harness's [limits] max_frame_bytes: the relay's limit for /peer
const BROWSER_MAX = 64 * 1024; // the relay's own limit for /village and /launcher
let c: TestCluster;
let relay: RelayProcess;
let rssBefore: number;
const token = randomBytes(16).toString('hex');

beforeAll(async () => {
  c = await startCluster({ peers: 3, verbose: true, start: false });
  relay = await spawnRelay(c.ini, token);
  c.startAll();
  await c.waitForLeader();
  await c.write(['warm', 'add', 1]);
  await waitFor('the relay to see every peer reporting', async () => (await picture()).peers.filter((p) => p.reporting).length === 3);
  rssBefore = rssMiB(relay.pid);
});

afterAll(async () => {
  await relay?.kill();
  await c?.teardown();
});

async function picture(): Promise<VillagePicture> {
  const r = await fetch(`http://127.0.0.1:${relay.port}/api/picture`);
  return ((await r.json()) as { picture: VillagePicture }).picture;
}

const sample = <T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] => fc.sample(arb, { numRuns: n, seed });
const text = (v: unknown): Frame => ({ text: JSON.stringify(v) });
const wsUrl = (path: string) => `ws://127.0.0.1:${relay.port}${path}`;
const origin = () => ({ origin: `http://127.0.0.1:${relay.port}` });

const browserValid: Record<string, unknown>[] = [
  { type: 'kill', peer: 'peer2', id: 'b1' },
  { type: 'revive', peer: 'peer2', id: 'b2' },
  { type: 'isolate', peer: 'peer3', id: 'b3' },
  { type: 'heal', id: 'b4' },
  { type: 'campaign', peer: 'peer1', id: 'b5' },
  { type: 'attacks', on: false, id: 'b6' },
  { type: 'console', line: 'fz add 1', id: 'b7' },
  { type: 'console', line: 'status', id: 'b8' },
];
const consoleLines = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('help', 'status', 'kill', 'kill peer9', 'x set', 'x cas 1', 'x add 1e400', 'heal', 'isolate', 'attacks maybe'));

function browserFrames(seed: number): Frame[] {
  return [
    ...sample(mutate(browserValid).map(text), 120, seed),
    ...sample(consoleLines.map((line) => text({ type: 'console', line, id: 'cl' })), 40, seed + 1),
    ...sample(junkFrame, 80, seed + 2),
    ...deepFrames(20_000, [(n) => `{"type":"kill","peer":${n}}`, (n) => `{"type":${n}}`, (n) => `{"type":"console","line":"help","id":${n}}`, (n) => n]),
    { text: JSON.stringify({ type: 'console', line: 'x'.repeat(BROWSER_MAX) }) },
  ];
}

function closedForAGoodReason(x: Exchange, limit: number): void {
  if (x.closed === null) return;
  const size = 'text' in x.frame ? Buffer.byteLength(x.frame.text) : 'binary' in x.frame ? x.frame.binary.length : x.frame.badText.length;
  expect(x.closed === 1009 ? size > limit : x.closed === 1007 && 'badText' in x.frame, `closed with ${x.closed} after ${describeFrame(x.frame)}`).toBe(true);
}

describe('the relay process under random and mutated frames', () => {
  it('answers every frame from a watching browser with a refusal or an error, one reply per frame', async () => {
    const xs = await exchange(wsUrl('/village'), origin(), browserFrames(10), {
      frame: () => JSON.stringify({ type: 'heal', id: 'probe' }),
      isReply: (m) => m.type === 'reply' && m.id === 'probe',
    });
    for (const x of xs) {
      closedForAGoodReason(x, BROWSER_MAX);
      if (x.closed !== null) continue;
      const replies = x.replies.filter((m) => m.type === 'reply');
      expect(replies, `replies to ${describeFrame(x.frame)}`).toHaveLength(1);
      expect(replies[0]!.ok, describeFrame(x.frame)).toBe(false);
      expect(typeof replies[0]!.text).toBe('string');
    }
    expect(pidAlive(relay.pid)).toBe(true);
  });

  it('answers frames from a browser with control, executing the valid ones', async () => {
    const frames = browserFrames(20);
    const xs = await exchange(`${wsUrl('/village')}?token=${token}`, origin(), frames, {
      // Every frame gets a reply, throttled or not: the probe's proves the connection is served.
      frame: () => JSON.stringify({ type: 'console', line: 'help', id: 'probe' }),
      isReply: (m) => m.type === 'reply' && m.id === 'probe',
    });
    for (const x of xs) closedForAGoodReason(x, BROWSER_MAX);
    const answered = xs.reduce((n, x) => n + x.replies.filter((m) => m.type === 'reply').length, 0);
    // Slow commands (a console write) may answer after the next probe: count over the whole run.
    expect(answered).toBeGreaterThanOrEqual(xs.filter((x) => x.closed === null).length * 0.9);
    expect(pidAlive(relay.pid)).toBe(true);
    // Valid frames may have isolated peers, and the relay keeps isolating them (it re-applies
    // isolation to a peer that reconnects): heal through the relay itself.
    const healed = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl('/village')}?token=${token}`, { headers: origin() });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'heal', id: 'heal-all' })));
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as Record<string, unknown>;
        if (m.type === 'reply' && m.id === 'heal-all') {
          ws.terminate();
          resolve(m);
        }
      });
      ws.on('error', reject);
    });
    expect(healed.ok).toBe(true);
  });

  it('drops random and mutated /peer and /launcher frames, and refuses both paths without the secret', async () => {
    const hello = { peer: 'peer1', t: 1, type: 'hello', pid: 1, cluster: c.names, profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 300, electionMaxMs: 600, latencyMs: 0 } };
    const events: Record<string, unknown>[] = [
      hello,
      { peer: 'peer1', t: 1, type: 'state', role: 'follower', term: 1, vote: null, leader: 'peer2', commitIndex: 1, appliedIndex: 1, lastIndex: 1, lastTerm: 1, electionDeadline: 5 },
      { peer: 'peer1', t: 1, type: 'rpc_send', to: 'peer2', rid: 'peer1:1', rpc: 'append_entries', term: 1, heartbeat: false, entries: 1 },
      { peer: 'peer1', t: 1, type: 'log_append', entries: [{ index: 2, term: 1, label: 'x add 1' }] },
      { peer: 'peer1', t: 1, type: 'apply', entries: [{ index: 2, term: 1, command: ['x', 'add', 1], ok: true, result: 1, key: 'x', value: 1 }] },
      // The fields and events the relay's safety monitor reads.
      { ...hello, boot: 'b1', dataId: 'd1', recovered: { w: 3, term: 1, vote: null, commit: 1, commitPh: 11, lastIndex: 2, lastTerm: 1, lastPh: 22, base: null }, seq: 0 },
      { peer: 'peer1', t: 1, type: 'commit', index: 2, term: 1, ph: 22, seq: 1 },
      { peer: 'peer1', t: 1, type: 'persisted', w: 4, term: 1, vote: 'peer2', lastIndex: 2, lastTerm: 1, lastPh: 22, seq: 2 },
      { peer: 'peer1', t: 1, type: 'snapshot', reason: 'installed', index: 2, term: 1, ph: 22, lastIndex: 2, seq: 3 },
      {
        peer: 'peer1', t: 1, type: 'resync', role: 'follower', term: 1, vote: null, leader: 'peer2', commit: 2, commitPh: 22, lastIndex: 2, lastTerm: 1, lastPh: 22,
        base: null, durable: { w: 4, term: 1, vote: null }, tail: [{ index: 2, term: 1, label: 'x add 1', ph: 22 }], seq: 4,
      },
    ];
    const reports: Record<string, unknown>[] = [
      { type: 'launcher_hello', peers: c.names, profile: 'fast' },
      { type: 'process', peer: 'peer2', pid: 77, alive: true, exitCode: null, signal: null },
    ];
    const secret = { 'x-raft-secret': c.config.secret };
    // A stream that says hello as a peer nobody runs, then junk: nothing is replaced for real.
    const fakeHello = text({ ...hello, peer: 'peer9' });
    const peerFrames: Frame[] = [
      ...sample(mutate(events).map(text), 150, 30),
      ...sample(junkFrame, 60, 31),
      ...deepFrames(20_000, [(n) => `{"peer":"peer1","t":1,"type":"log_append","entries":${n}}`, (n) => `{"type":${n}}`]),
      { text: 'z'.repeat(MAX_FRAME + 1) },
    ];
    const peerXs = await exchange(wsUrl('/peer'), secret, [fakeHello, ...peerFrames], null, 5);
    for (const x of peerXs) {
      // 1008: the first frame was not a hello from a peer of the config; 1000: a mutated hello
      // took over a real peer's stream, which took it back when it reconnected.
      if (x.closed !== null && x.closed !== 1008 && x.closed !== 1000) closedForAGoodReason(x, MAX_FRAME);
      // The relay speaks on /peer only to offer the village clock after a hello; never a reply to junk.
      expect(x.replies.filter((r) => r.type !== 'clock')).toEqual([]);
    }
    const launcherXs = await exchange(
      wsUrl('/launcher'),
      secret,
      [...sample(mutate(reports).map(text), 100, 32), ...sample(junkFrame, 40, 33), ...deepFrames(20_000, [(n) => `{"type":"process","peer":${n}}`]), { text: 'z'.repeat(BROWSER_MAX + 1) }],
      null,
      5,
    );
    for (const x of launcherXs) closedForAGoodReason(x, BROWSER_MAX);
    expect(pidAlive(relay.pid)).toBe(true);

    for (const path of ['/peer', '/launcher']) {
      const tries: Record<string, string>[] = [{}, { 'x-raft-secret': 'guess' }, { 'x-raft-secret': `${c.config.secret}x` }, { authorization: 'Bearer nope' }];
      for (const h of tries) {
        expect(await upgradeStatus(wsUrl(path), h), `${path} with ${JSON.stringify(h)}`).toBe(401);
      }
    }
  });

  it('is still alive with bounded memory and still shows what the cluster does', async () => {
    expect(pidAlive(relay.pid)).toBe(true);
    for (const n of c.names) expect(c.alive(n), `${n}:\n${c.output(n).slice(-3000)}`).toBe(true);
    const rssAfter = rssMiB(relay.pid);
    expect(rssAfter - rssBefore, `RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`).toBeLessThan(100);
    // The fuzzing may have paused the village clock (a valid pause among the browsers' frames, or
    // the safety monitor pausing on the forged events): resume it, as a visitor would.
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl('/village')}?token=${token}`, { headers: origin() });
      const timer = setTimeout(() => reject(new Error('no reply to resume')), 10_000);
      ws.once('open', () => ws.send(JSON.stringify({ type: 'clock', action: 'resume', id: 'resume' })));
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type?: string; id?: string };
        if (m.type !== 'reply' || m.id !== 'resume') return;
        clearTimeout(timer);
        ws.terminate();
        resolve();
      });
      ws.once('error', reject);
    });
    await c.waitForLeader({ timeoutMs: 30_000 });
    const value = Date.now();
    expect(await c.write(['after-relay-fuzz', 'set', value], { timeoutMs: 30_000 })).toMatchObject({ ok: true });
    await waitFor('the relay to show the write', async () => (await picture()).kv['after-relay-fuzz'] === value, 20_000);
    // A new browser still gets the whole picture.
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const ws = new WebSocket(wsUrl('/village'), { headers: origin() });
      ws.once('message', (d) => {
        ws.terminate();
        resolve(JSON.parse(String(d)) as Record<string, unknown>);
      });
      ws.once('error', reject);
    });
    expect(first.type).toBe('snapshot');
  });
});
