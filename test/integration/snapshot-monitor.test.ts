// The safety monitor over real peers that compact their logs: every -v event goes through the
// relay's parser and the monitor as it arrives. Snapshots are taken every few entries, a
// follower is stopped while the leader compacts past it and comes back by InstallSnapshot. The
// events say where each log begins (snapshot events, state.log, resync and hello bases) and that
// InstallSnapshot chunks flew; the relay refuses none of them and no law is broken.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMonitor, type Monitor } from '../../game/relay/monitor/monitor.ts';
import { parsePeerEvent } from '../../game/relay/validate.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

type Of<T extends PeerEvent['type']> = Extract<PeerEvent, { type: T }>;

let c: TestCluster;
let relay: FakeRelay;
let monitor: Monitor;
const violations: Violation[] = [];
const refused: string[] = [];
const of = <T extends PeerEvent['type']>(type: T, peer?: string): Of<T>[] =>
  relay.events.filter((e): e is Of<T> => e.type === type && (peer === undefined || e.peer === peer));

beforeAll(async () => {
  c = await startCluster({
    peers: 3,
    verbose: true,
    start: false,
    limits: ['[limits]', 'max_frame_bytes = 65536', 'max_bytes_per_append = 1024', 'snapshot_entries = 8', 'snapshot_trailing_entries = 2'].join('\n'),
  });
  relay = await FakeRelay.start(c.relayPort);
  monitor = createMonitor();
  relay.onPeerEvent = (e) => {
    const parsed = parsePeerEvent(e);
    if (parsed.ok) violations.push(...monitor.observe(parsed.value));
    else refused.push(`${e.type} from ${e.peer}: ${parsed.message}`);
  };
  c.startAll();
});

afterAll(async () => {
  await c?.teardown();
  await relay?.close();
});

async function writes(n: number, among?: string[]): Promise<number> {
  let index = 0;
  for (let i = 0; i < n; i++) {
    const r = await c.write([`k${i % 20}`, 'set', randomBytes(120).toString('hex')], { among });
    expect(r).toMatchObject({ ok: true });
    index = (r as { index: number }).index;
  }
  return index;
}

describe('the safety monitor over real peers that compact their logs', () => {
  it('sees snapshots, compactions and an InstallSnapshot, refuses no event and finds no law broken', async () => {
    const leader = await c.waitForLeader();
    await writes(20);
    const follower = c.names.find((n) => n !== leader)!;
    await c.kill(follower);
    const others = c.names.filter((n) => n !== follower);
    await writes(30, others);
    c.start(follower);
    await waitFor(`${follower} to report an installed snapshot`, () => of('snapshot', follower).some((e) => e.reason === 'installed'), 30_000);
    const last = await writes(5);
    await waitFor('every peer to apply the last write and the monitor to see them all', () => {
      const applied = c.names.every((n) => of('apply', n).some((e) => e.entries.some((a) => a.index >= last)));
      return applied && monitor.status().blind.length === 0;
    }, 30_000);

    expect(refused).toEqual([]);
    expect(monitor.status().violationCount, violations.map((v) => `${v.law}: ${v.message}`).join('\n')).toBe(0);
    expect(of('snapshot').filter((e) => e.reason === 'compacted').length).toBeGreaterThan(3);
    const chunks = of('rpc_send').filter((e) => e.rpc === 'install_snapshot');
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks[0]!.chunk).toMatchObject({ offset: 0, bytes: 1024 });
    expect(of('rpc_send', follower).some((e) => e.rpc === 'install_snapshot_reply' && e.ok === true)).toBe(true);
    const lastState = of('state', follower).at(-1)!;
    expect(lastState.log).toMatchObject({ firstIndex: expect.any(Number), snapshotIndex: expect.any(Number) });
    // The restarted follower said where its recovered log began.
    expect(of('hello', follower).at(-1)!.recovered!.base).toMatchObject({ index: expect.any(Number), ph: expect.any(Number) });
  });
});
