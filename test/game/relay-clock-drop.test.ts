// The relay's side of Drop, with stand-in peers on real sockets: a page's drop goes only to the
// peer that reported holding the letter, the clock view lists what is held while paused, the
// reply and every console say what the peer did, and a drop that cannot be done says why.
import { afterEach, describe, expect, it } from 'vitest';
import type { RelayToBrowser } from '../../shared/village.ts';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import { FakePeer as StreamWriter } from '../monitor/fake-peer.ts';
import { browser, fakePeerSocket, testConfig, until, type Recorder } from './relay-support.ts';

let relay: Relay | null = null;
const sockets: Recorder[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await relay?.close();
  relay = null;
});

async function start(): Promise<Relay> {
  relay = await startRelay({
    config: testConfig({ peers: 3 }),
    port: 0,
    attacks: false,
    distDir: '/nonexistent',
    kvClient: () => ({ command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'bad_command', message: 'none' }), leader: () => null, close() {} }),
    admin: async () => ({ type: 'error', error: 'bad_frame', message: 'no admin here' }),
    log: () => {},
  });
  return relay;
}

/** A stand-in peer on the clock: says hello, then reports what it holds when told. */
async function clockedPeer(r: Relay, name: string): Promise<{ rec: Recorder; w: StreamWriter; report(held: { rid: string; from: string }[], extra?: { step: number; did: string }): void }> {
  const rec = fakePeerSocket(r.port);
  sockets.push(rec);
  await rec.opened;
  const w = new StreamWriter(name);
  rec.send(w.hello());
  await rec.next((m) => (m as { type?: string }).type === 'clock');
  const report = (held: { rid: string; from: string }[], extra?: { step: number; did: string }) =>
    rec.send(w.event({ type: 'clock', paused: r.clock.paused, speed: 1, timerInMs: 100, held: held.map((h) => ({ ...h, rpc: 'append_entries', inMs: 0 })), ...extra }));
  return { rec, w, report };
}

const isDrop = (m: unknown) => (m as { type?: string }).type === 'clock_drop';

describe('Drop at the relay', () => {
  it('goes only to the peer that holds the letter; the view lists held rids while paused; the reply and consoles say it was dropped', async () => {
    const r = await start();
    const b = browser(r.port, { token: r.token });
    sockets.push(b as Recorder);
    await b.next((m) => m.type === 'snapshot');
    const p1 = await clockedPeer(r, 'peer1');
    const p2 = await clockedPeer(r, 'peer2');
    b.send({ type: 'clock', action: 'pause', id: 'p' });
    await b.next((m) => m.type === 'reply' && m.id === 'p');
    await p2.rec.next((m) => (m as { paused?: boolean }).paused === true);
    p1.report([]);
    p2.report([{ rid: 'peer1:41', from: 'peer1' }]);
    await until(() => (r.picture.snapshot().clock!.held ?? []).includes('peer1:41'), 'the held rid in the clock view');
    b.send({ type: 'clock', action: 'drop', rid: 'peer1:41', id: 'd' });
    const order = (await p2.rec.next(isDrop)) as { n: number };
    expect(order).toEqual({ type: 'clock_drop', n: order.n, peer: 'peer2', rid: 'peer1:41' });
    p2.report([], { step: order.n, did: 'dropped append_entries from peer1' });
    const reply = (await b.next((m) => m.type === 'reply' && m.id === 'd')) as Extract<RelayToBrowser, { type: 'reply' }>;
    expect(reply).toMatchObject({ ok: true, text: 'peer2 dropped append_entries from peer1 (peer1:41), as a visitor asked' });
    await b.next((m) => m.type === 'batch' && m.deltas.some((d) => d.type === 'console' && d.line === 'a visitor dropped append_entries from peer1 held by peer2 (peer1:41): its Raft never sees it'));
    expect(p1.rec.messages.filter(isDrop)).toEqual([]);
    expect(r.picture.snapshot().clock!.held).toEqual([]);
    // Resumed, nothing is listed as held.
    p2.report([{ rid: 'peer1:42', from: 'peer1' }]);
    await until(() => (r.picture.snapshot().clock!.held ?? []).includes('peer1:42'), 'a new held rid');
    b.send({ type: 'clock', action: 'resume', id: 'r' });
    await b.next((m) => m.type === 'reply' && m.id === 'r');
    expect(r.picture.snapshot().clock!.held).toEqual([]);
  });

  it('refuses while running, for a letter nobody holds, and says so when the peer did not hold it any more', async () => {
    const r = await start();
    const b = browser(r.port, { token: r.token });
    sockets.push(b as Recorder);
    await b.next((m) => m.type === 'snapshot');
    const p2 = await clockedPeer(r, 'peer2');
    b.send({ type: 'clock', action: 'drop', rid: 'peer1:41', id: 'd1' });
    expect(await b.next((m) => m.type === 'reply' && m.id === 'd1')).toMatchObject({ ok: false, text: 'drop works while the village is paused: press space to pause it first' });
    await r.clock.command({ type: 'clock', action: 'pause' }, 'a test');
    b.send({ type: 'clock', action: 'drop', rid: 'peer1:41', id: 'd2' });
    expect(await b.next((m) => m.type === 'reply' && m.id === 'd2')).toMatchObject({ ok: false, text: 'no villager holds letter peer1:41: only a letter its receiver holds while paused can be dropped' });
    p2.report([{ rid: 'peer1:41', from: 'peer1' }]);
    await until(() => (r.picture.snapshot().clock!.held ?? []).includes('peer1:41'), 'the held rid in the clock view');
    b.send({ type: 'clock', action: 'drop', rid: 'peer1:41', id: 'd3' });
    const order = (await p2.rec.next(isDrop)) as { n: number };
    p2.report([], { step: order.n, did: 'had no letter peer1:41 to drop (already delivered)' });
    expect(await b.next((m) => m.type === 'reply' && m.id === 'd3')).toMatchObject({ ok: false, text: 'peer2 had no letter peer1:41 to drop (already delivered) (peer1:41), as a visitor asked' });
    b.send({ type: 'clock', action: 'drop', rid: '', id: 'd4' });
    expect(await b.next((m) => m.type === 'reply' && m.id === 'd4')).toMatchObject({ ok: false });
  });
});

describe('the clock from the web console', () => {
  it('pause, speed and resume typed in the console steer the clock the peers are on, as space and the slider do', async () => {
    const r = await start();
    const b = browser(r.port, { token: r.token });
    sockets.push(b as Recorder);
    await b.next((m) => m.type === 'snapshot');
    const p1 = await clockedPeer(r, 'peer1');
    const line = async (text: string, id: string) => {
      b.send({ type: 'console', line: text, id });
      return (await b.next((m) => m.type === 'reply' && m.id === id)) as Extract<RelayToBrowser, { type: 'reply' }>;
    };
    expect(await line('pause', 'a')).toMatchObject({ ok: true, text: 'paused' });
    expect(r.clock.paused).toBe(true);
    await p1.rec.next((m) => (m as { paused?: boolean }).paused === true);
    expect(await line('speed 25%', 'b')).toMatchObject({ ok: true, text: expect.stringMatching(/0\.25/) });
    expect(r.picture.snapshot().clock!.speed).toBe(0.25);
    expect(await line('speed 3', 'c')).toMatchObject({ ok: false, text: expect.stringMatching(/0\.05 to 1/) });
    expect(await line('resume', 'd')).toMatchObject({ ok: true, text: 'resumed' });
    expect(r.clock.paused).toBe(false);
    await b.next((m) => m.type === 'batch' && m.deltas.some((d) => d.type === 'console' && d.line === 'a visitor resumed the village'));
  });
});
