// With TLS on, a listener on the network learns neither the cluster secret nor any command:
// a tcpdump capture of the test's bridge (every packet between the hosts: peer to peer, client
// to peer, admin, peer to relay) holds neither, even after every WebSocket frame is unmasked.
// With TLS off the same check finds both, so it can fail.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterClient } from '../../shared/client.ts';
import { readStreams, startCapture, wireView, type Stream } from '../support/capture.ts';
import { waitFor } from '../support/cluster.ts';
import { requireNetns } from '../support/netns.ts';
import { startNetnsVillage } from '../support/netns-cluster.ts';

interface Seen {
  streams: Stream[];
  bytes: number;
  secret: string;
  key: string;
  value: string;
}

/** Runs a 3-host village with -v and a relay, sends commands, and returns what the bridge carried. */
async function capture(tls: boolean): Promise<Seen> {
  requireNetns(['ip', 'nft', 'tcpdump']);
  const secret = `secret-${randomBytes(8).toString('hex')}`;
  const key = `capkey-${randomBytes(6).toString('hex')}`;
  const value = `capvalue-${randomBytes(6).toString('hex')}`;
  const v = await startNetnsVillage({ peers: 3, relay: true, tls, secret, start: false, profile: 'lan' });
  const file = join(v.dir, 'bridge.pcap');
  try {
    const cap = await startCapture(v.net.bridge, file);
    await v.startRelay();
    v.cluster.startAll();
    await v.cluster.waitForLeader({ timeoutMs: 30_000 });
    const client = new ClusterClient({ peers: v.cluster.peers, clientId: `capture-${process.pid}`, timeoutMs: 10_000 });
    expect(await client.command([key, 'set', value])).toMatchObject({ ok: true, value });
    expect(await client.command([key, 'get'])).toMatchObject({ ok: true, value });
    client.close();
    // Every peer applies it (so it crossed every peer link), and reports it to the relay.
    await waitFor('every peer to apply the command', async () => (await v.cluster.statuses(v.cluster.names, true)).filter((s) => s.kv?.[key] === value).length === 3, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    await cap.stop();
    const streams = readStreams(file);
    return { streams, bytes: streams.reduce((n, s) => n + s.data.length, 0), secret, key, value };
  } finally {
    await v.teardown();
  }
}

const has = (b: Buffer, s: string) => b.includes(Buffer.from(s, 'utf8'));

describe('what a listener on the network sees', () => {
  it('with TLS off, finds the secret and the commands (the check can fail)', async () => {
    const seen = await capture(false);
    expect(seen.streams.length).toBeGreaterThan(5);
    expect(seen.streams.some((s) => has(wireView(s.data), seen.secret))).toBe(true);
    const where = seen.streams.map((s) => `${s.flow} ${s.data.length} bytes ${JSON.stringify(s.data.subarray(0, 12).toString('latin1'))}`).join('\n');
    expect(seen.streams.some((s) => has(wireView(s.data), seen.key)), where).toBe(true);
    expect(seen.streams.some((s) => has(wireView(s.data), seen.value))).toBe(true);
    // The peers' own frames are masked: in some stream the command shows only once unmasked.
    expect(seen.streams.some((s) => !has(s.data, seen.key) && has(wireView(s.data), seen.key))).toBe(true);
  }, 120_000);

  it('with TLS on, finds neither the secret nor any command, in the raw bytes or the unmasked frames', async () => {
    const seen = await capture(true);
    expect(seen.bytes).toBeGreaterThan(20_000);
    // Every stream is TLS: records, never an HTTP request or response in the clear.
    for (const s of seen.streams) {
      expect(s.data.subarray(0, 5).toString('latin1'), s.flow).not.toMatch(/^(GET |HTTP\/)/);
      expect(s.data[0], s.flow).toBe(0x16);
    }
    for (const s of seen.streams) {
      for (const text of [seen.secret, seen.key, seen.value]) {
        expect(has(s.data, text), `${text} in ${s.flow}`).toBe(false);
        expect(has(wireView(s.data), text), `${text} unmasked in ${s.flow}`).toBe(false);
      }
    }
  }, 120_000);
});
