// `inspect` on /village: the relay fetches a peer's status, log window and progress from its
// /admin on demand and replies with it; overlapping asks share one fetch; watching pages may
// look too; a bad window or an unknown peer gets a clear refusal and no /admin call.
import { afterEach, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import type { AdminReply, AdminRequest } from '../../shared/peer-protocol.ts';
import type { InspectView, RelayToBrowser } from '../../shared/village.ts';
import { browser, FakeLauncher, testConfig, type Recorder } from './relay-support.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const status = (peer: string, request: AdminRequest): AdminReply => ({
  type: 'status',
  peer,
  pid: 42,
  cluster: ['peer1', 'peer2', 'peer3'],
  role: peer === 'peer1' ? 'leader' : 'follower',
  term: 4,
  vote: 'peer1',
  leader: 'peer1',
  commitIndex: 6,
  appliedIndex: 6,
  lastIndex: 7,
  lastTerm: 4,
  electionDeadline: null,
  faults: { blocked: [], dropRate: 0, latencyMs: 0 },
  connected: [],
  profile: 'fast',
  kv: { never: 'sent to the page' },
  ...(request.type === 'status' && request.log ? { log: { first: 1, last: 7, from: 6, to: 7, entries: [{ index: 6, term: 4, command: 'x add 1' }, { index: 7, term: 4, command: '<i>k</i> set v' }] } } : {}),
  ...(request.type === 'status' && request.progress ? { progress: peer === 'peer1' ? [{ peer: 'peer2', nextIndex: 8, matchIndex: 7 }] : null } : {}),
});

interface Started {
  relay: Relay;
  calls: { peer: string; request: AdminRequest }[];
  /** Holds every /admin answer until release() (to see overlapping asks share one fetch). */
  hold(): void;
  release(): void;
}

async function start(): Promise<Started> {
  const calls: Started['calls'] = [];
  let release: () => void = () => {};
  let held = Promise.resolve();
  const relay = await startRelay({
    config: testConfig({ peers: 3 }),
    port: 0,
    attacks: false,
    distDir: join(tmpdir(), 'relay-test-no-dist'),
    kvClient: () => ({ command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'unknown' }), leader: () => null, close() {} }),
    admin: async (peer, request) => {
      calls.push({ peer: peer.name, request });
      await held;
      if (peer.name === 'peer3') throw new Error('connection refused');
      return status(peer.name, request);
    },
    log: () => {},
  });
  cleanup.push(() => relay.close());
  const l = new FakeLauncher(relay.port, ['peer1', 'peer2', 'peer3']);
  cleanup.push(() => l.close());
  await l.start();
  return {
    relay,
    calls,
    hold: () => (held = new Promise<void>((r) => (release = r))),
    release: () => release(),
  };
}

const reply = (b: Recorder<RelayToBrowser>, id: string) => b.next((m) => m.type === 'reply' && m.id === id) as Promise<Extract<RelayToBrowser, { type: 'reply' }>>;

describe('inspect on /village', () => {
  it('replies with the peer\'s status, its last log entries and a leader\'s progress, fetched from its /admin', async () => {
    const { relay, calls } = await start();
    const b = browser(relay.port, { token: relay.token });
    cleanup.push(() => b.close());
    await b.opened;
    b.send({ type: 'inspect', peer: 'peer1', id: 'i1' });
    const r = await reply(b, 'i1');
    expect(r.ok).toBe(true);
    const v = r.value as InspectView;
    expect(v).toMatchObject({ peer: 'peer1', role: 'leader', term: 4, vote: 'peer1', commitIndex: 6, appliedIndex: 6 });
    expect(v.log.entries).toEqual([{ index: 6, term: 4, command: 'x add 1' }, { index: 7, term: 4, command: '<i>k</i> set v' }]);
    expect(v.progress).toEqual([{ peer: 'peer2', nextIndex: 8, matchIndex: 7 }]);
    expect('kv' in v).toBe(false);
    expect(calls).toEqual([{ peer: 'peer1', request: { type: 'status', log: { last: 50 }, progress: true } }]);
    // A range asked for goes to the peer as asked; a follower's progress is null.
    b.send({ type: 'inspect', peer: 'peer2', log: { from: 3, to: 9 }, id: 'i2' });
    expect(((await reply(b, 'i2')).value as InspectView).progress).toBeNull();
    expect(calls.at(-1)).toEqual({ peer: 'peer2', request: { type: 'status', log: { from: 3, to: 9 }, progress: true } });
  });

  it('lets a watch-only page look inside (it changes nothing) but not control', async () => {
    const { relay } = await start();
    const b = browser(relay.port, { token: null });
    cleanup.push(() => b.close());
    await b.opened;
    b.send({ type: 'inspect', peer: 'peer2', id: 'w' });
    expect(await reply(b, 'w')).toMatchObject({ ok: true });
    b.send({ type: 'campaign', peer: 'peer2', id: 'c' });
    expect(await reply(b, 'c')).toMatchObject({ ok: false, text: expect.stringContaining('may watch but not control') });
  });

  it('shares one /admin fetch among overlapping asks for the same peer and window', async () => {
    const s = await start();
    s.hold();
    const b = browser(s.relay.port, { token: s.relay.token });
    cleanup.push(() => b.close());
    await b.opened;
    for (const id of ['a', 'b', 'c']) b.send({ type: 'inspect', peer: 'peer1', id });
    await new Promise((r) => setTimeout(r, 100));
    s.release();
    for (const id of ['a', 'b', 'c']) expect(await reply(b, id)).toMatchObject({ ok: true });
    expect(s.calls).toHaveLength(1);
  });

  it('refuses an unknown peer, an unreachable one and a bad window, saying why', async () => {
    const { relay, calls } = await start();
    const b = browser(relay.port, { token: relay.token });
    cleanup.push(() => b.close());
    await b.opened;
    b.send({ type: 'inspect', peer: 'peer9', id: 'u' });
    expect(await reply(b, 'u')).toMatchObject({ ok: false, text: 'peer9 is not in the village; villagers: peer1, peer2, peer3' });
    b.send({ type: 'inspect', peer: 'peer3', id: 'd' });
    expect(await reply(b, 'd')).toMatchObject({ ok: false, text: 'could not look inside peer3: connection refused' });
    b.send({ type: 'inspect', peer: 'peer1', log: { last: 500 }, id: 'w' });
    expect(await reply(b, 'w')).toMatchObject({ ok: false, text: expect.stringContaining('"last" must be from 1 to 200') });
    b.send({ type: 'inspect', peer: 'peer1', log: { from: 4 }, id: 'x' });
    expect(await reply(b, 'x')).toMatchObject({ ok: false, text: expect.stringContaining('both "from" and "to"') });
    expect(calls.map((c) => c.peer)).toEqual(['peer3']);
  });
});
