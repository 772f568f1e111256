// The chaos run's event sink, on real sockets: peers' -v streams (written to the monitor's fields
// by test/monitor/fake-peer.ts) are validated and checked by the relay's safety monitor; a broken
// law is reported with its evidence file, blind periods are told from when to when, and what is
// not a peer's stream is refused without harm.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { PeerEvent } from '../../shared/events.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import { FakePeer as StreamWriter } from '../monitor/fake-peer.ts';
import { Recorder, until } from '../game/relay-support.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { MonitorSink } from './monitor-sink.ts';

let c: TestCluster;
let sink: MonitorSink;
let clock = 0;
const found: [Violation, string | null][] = [];
const sockets: Recorder[] = [];

beforeEach(async () => {
  // Only the ini (free ports, secret, a log directory): no peer is started.
  c = await startCluster({ peers: 3, start: false });
  clock = 0;
  found.length = 0;
  sink = await MonitorSink.start({ config: c.config, now: () => clock, onViolation: (v, file) => found.push([v, file]) });
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await sink.close();
  await c.teardown();
});

function connect(secret: string | null = c.config.secret): Recorder {
  const headers: Record<string, string> = secret === null ? {} : { 'x-raft-secret': secret };
  const r = new Recorder(new WebSocket(`ws://127.0.0.1:${c.relayPort}/peer`, { headers, perMessageDeflate: false }));
  sockets.push(r);
  return r;
}

/** Sends each peer's events on its own socket, waiting at each change of peer until the sink took them in. */
async function send(events: PeerEvent[], streams = new Map<string, Recorder>()): Promise<Map<string, Recorder>> {
  let sent = sink.report().eventsSeen;
  let last: string | null = null;
  for (const e of events) {
    if (last !== null && e.peer !== last) {
      const want = sent;
      await until(() => sink.report().eventsSeen >= want, `${want} events at the sink`);
    }
    let s = streams.get(e.peer);
    if (!s) {
      s = connect();
      await s.opened;
      streams.set(e.peer, s);
    }
    s.send(e);
    sent++;
    last = e.peer;
  }
  const want = sent;
  await until(() => sink.report().eventsSeen >= want, `${want} events at the sink`);
  return streams;
}

describe('the chaos run\'s monitor sink', () => {
  it('checks a clean village and finds nothing broken', async () => {
    const [p1, p2] = [new StreamWriter('peer1'), new StreamWriter('peer2')];
    await send([p1.hello(), p2.hello(), ...p1.campaign(1), ...p2.grantVote(1, 'peer1'), ...p1.lead(), ...p1.propose(['x', 'add', '1']), ...p2.follow(p1), ...p1.commitTo(2), p1.apply(1, 2), p2.apply(1, 2)]);
    const r = sink.report();
    expect(r.eventsChecked).toBeGreaterThan(5);
    expect(r.violationCount).toBe(0);
    expect(r.blind).toEqual([]);
    expect(r.peers.sort()).toEqual(['peer1', 'peer2']);
    expect(r.refused).toBe(0);
  });

  it('reports two leaders in one term as Election Safety broken, with the evidence written to the run\'s log directory', async () => {
    const [p1, p2] = [new StreamWriter('peer1'), new StreamWriter('peer2')];
    await send([p1.hello(), p2.hello(), ...p1.campaign(1), ...p1.lead(), ...p2.campaign(1), ...p2.lead()]);
    const r = sink.report();
    expect(r.violationCount).toBe(1);
    expect(r.violations[0]).toMatchObject({ law: 'election_safety', peers: ['peer1', 'peer2'], terms: [1] });
    const file = r.violations[0]!.file!;
    expect(file.startsWith(c.config.logDir)).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).name).toBe('Election Safety');
    expect(found.map(([v, f]) => [v.law, f])).toEqual([['election_safety', file]]);
  });

  it('tells each blind period: since which event, why, from when to when', async () => {
    const p1 = new StreamWriter('peer1');
    const streams = await send([p1.hello(), ...p1.campaign(1)]);
    clock = 1000;
    const next = p1.seq;
    p1.lose(2);
    await send([p1.state({ term: 1 })], streams);
    clock = 2500;
    await send([p1.resync()], streams);
    expect(sink.report().blind).toEqual([{ peer: 'peer1', sinceSeq: next, reason: `events ${next}..${next + 1} are missing`, numbered: true, from: 1000, to: 2500 }]);
    expect(sink.report().blindPeriods).toBe(1);
  });

  it('refuses what is not a peer\'s stream, and goes on checking the others', async () => {
    // Without the secret: no connection at all.
    const anon = connect(null);
    await expect(anon.opened).rejects.toThrow(/401/);
    // A stream that does not start with hello, and one from a peer the ini does not name: closed.
    const first = connect();
    await first.opened;
    first.send({ type: 'commit', index: 1, peer: 'peer1', t: 1 });
    expect(await first.closed).toBe(1008);
    const stranger = connect();
    await stranger.opened;
    stranger.send({ ...new StreamWriter('peer7').hello() });
    expect(await stranger.closed).toBe(1008);
    // Malformed frames and events in a good stream are counted and skipped.
    const p1 = new StreamWriter('peer1');
    const s = connect();
    await s.opened;
    s.send(p1.hello());
    s.send('{not json');
    s.send([{ peer: 'peer1', t: 1, type: 'commit', index: -4 }, p1.state({ term: 1 })]);
    s.send({ ...p1.state({ term: 1 }), peer: 'peer2' });
    await until(() => sink.report().refused === 5, 'five refusals');
    expect(sink.report().eventsSeen).toBe(2);
    expect(sink.report().reasons).toEqual([
      'a stream whose first event is commit, not hello',
      `a stream from peer7, not a peer of ${c.config.file}`,
      'a frame: not valid JSON',
      'an event from peer1: index: expected a whole number >= 0',
      'an event from peer1 that claims to be from peer2',
    ]);
    expect(s.closeCode).toBeNull();
  });
});
