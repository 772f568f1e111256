// Two or three Transports in this process, talking over loopback: delivery, batching,
// fault injection, authentication and redialling.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerAddress } from '../../shared/config.ts';
import type { PeerEnvelope } from '../../shared/peer-protocol.ts';
import type { Message } from '../../peer/raft/types.ts';
import { Transport, type DropReason } from '../../peer/transport.ts';
import { freePorts, waitFor } from '../support/cluster.ts';

interface Node {
  t: Transport;
  got: PeerEnvelope[];
  frames: PeerEnvelope[][];
  drops: Array<{ rid: string; reason: DropReason; incoming: boolean }>;
  sent: string[];
  rejected: string[];
}

const open: Transport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function make(self: PeerAddress, cluster: PeerAddress[], opts: { secret?: string; latencyMs?: number } = {}): Node {
  const n: Node = { got: [], frames: [], drops: [], sent: [], rejected: [] } as unknown as Node;
  n.t = new Transport({
    self,
    cluster,
    secret: opts.secret ?? 's3cret',
    maxFrameBytes: 64 * 1024,
    latencyMs: opts.latencyMs ?? 0,
    deliver: (envs) => {
      n.frames.push(envs);
      n.got.push(...envs);
    },
    onClient: (ws) => ws.close(),
    onAdmin: (ws) => ws.close(),
    observer: {
      sent: (e) => n.sent.push(e.rid),
      dropped: (e, reason, incoming) => n.drops.push({ rid: e.rid, reason, incoming }),
      rejected: (peer, status, reason) => n.rejected.push(`${peer} ${status} ${reason}`),
    },
  });
  open.push(n.t);
  return n;
}

async function pair(opts: { latencyMs?: number } = {}): Promise<[Node, Node, PeerAddress[]]> {
  const [p1, p2] = await freePorts(2);
  const cluster = [
    { name: 'peer1', host: '127.0.0.1', port: p1! },
    { name: 'peer2', host: '127.0.0.1', port: p2! },
  ];
  const a = make(cluster[0]!, cluster, opts);
  const b = make(cluster[1]!, cluster, opts);
  await Promise.all([a.t.listen(), b.t.listen()]);
  await waitFor('both links up', () => a.t.connected().length === 1 && b.t.connected().length === 1);
  return [a, b, cluster];
}

const hb = (from: string, to: string, term = 1): Message => ({
  type: 'append_entries',
  from,
  to,
  term,
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  leaderCommit: 0,
});

describe('the peer transport', () => {
  it('delivers validated messages with a rid, several to one peer in one frame', async () => {
    const [a, b] = await pair();
    a.t.send([hb('peer1', 'peer2', 1), hb('peer1', 'peer2', 2), hb('peer1', 'peer2', 3)]);
    await waitFor('three messages', () => b.got.length === 3);
    expect(b.got.map((m) => m.term)).toEqual([1, 2, 3]);
    expect(b.frames).toHaveLength(1); // one array frame
    expect(b.got.map((m) => m.rid)).toEqual(a.sent);
    expect(new Set(a.sent).size).toBe(3);
    expect(a.sent.every((r) => /^peer1:\d+$/.test(r))).toBe(true);
  });

  it('drops messages to and from a blocked peer, and everything at drop rate 1', async () => {
    const [a, b] = await pair();
    a.t.setFaults({ blocked: ['peer2'] });
    a.t.send([hb('peer1', 'peer2')]);
    expect(a.drops).toEqual([{ rid: expect.any(String), reason: 'blocked', incoming: false }]);
    b.t.send([hb('peer2', 'peer1')]);
    await waitFor('the incoming drop', () => a.drops.length === 2);
    expect(a.drops[1]).toMatchObject({ reason: 'blocked', incoming: true });
    expect(a.got).toEqual([]);

    a.t.setFaults({ blocked: [], dropRate: 1 });
    a.t.send([hb('peer1', 'peer2')]);
    expect(a.drops[2]).toMatchObject({ reason: 'dropped', incoming: false });
    a.t.setFaults({ dropRate: 0 });
    a.t.send([hb('peer1', 'peer2')]);
    await waitFor('delivery after healing', () => b.got.length === 1);
  });

  it('delays delivery by the profile latency plus the injected latency', async () => {
    const [a, b] = await pair({ latencyMs: 100 });
    b.t.setFaults({ latencyMs: 100 });
    const t0 = Date.now();
    a.t.send([hb('peer1', 'peer2')]);
    await waitFor('delayed delivery', () => b.got.length === 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('drops messages for a peer that is down at once, and redials when it comes back', async () => {
    const [a, b, cluster] = await pair();
    await b.t.close();
    await waitFor('the link to go down', () => a.t.connected().length === 0);
    a.t.send([hb('peer1', 'peer2')]);
    expect(a.drops.at(-1)).toMatchObject({ reason: 'disconnected' });
    const b2 = make(cluster[1]!, cluster);
    await b2.t.listen();
    await waitFor('the link to come back', () => a.t.connected().length === 1);
    a.t.send([hb('peer1', 'peer2')]);
    await waitFor('delivery to the new process', () => b2.got.length === 1);
  });

  it('is refused by a peer with another secret, and says why', async () => {
    const [p1, p2] = await freePorts(2);
    const cluster = [
      { name: 'peer1', host: '127.0.0.1', port: p1! },
      { name: 'peer2', host: '127.0.0.1', port: p2! },
    ];
    const a = make(cluster[0]!, cluster, { secret: 'one' });
    const b = make(cluster[1]!, cluster, { secret: 'two' });
    await Promise.all([a.t.listen(), b.t.listen()]);
    await waitFor('a refusal', () => a.rejected.length > 0);
    expect(a.rejected[0]).toBe('peer2 403 wrong cluster secret');
    expect(a.t.connected()).toEqual([]);
  });

  it('drops an invalid frame but keeps the connection for the valid ones after it', async () => {
    const [a, b] = await pair();
    // A message claiming another sender on peer1's authenticated stream is not believed.
    a.t.send([{ ...hb('peer1', 'peer2'), from: 'peer3' } as Message, hb('peer1', 'peer2', 7)]);
    await waitFor('the valid message', () => b.got.length === 1);
    expect(b.got[0]!.term).toBe(7);
  });
});
