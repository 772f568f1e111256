// Snapshots and log compaction with real peer processes: a small snapshot_entries makes every
// peer snapshot its store and cut its log; a killed peer comes back from snapshot + log tail; a
// follower that was down while the leader compacted past it catches up by InstallSnapshot, in
// several chunks (the state is larger than max_bytes_per_append), and then serves reads; the
// clients' history through all of it is linearizable.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSnapshots, readSnapshotFile } from '../../peer/snapshot-file.ts';
import { DurableLog, WAL_FILE } from '../../peer/storage.ts';
import { checkHistory, type HistoryResult } from '../chaos/checker.ts';
import { HistoryRecorder, outcomeOf, type KvInput } from '../chaos/history.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

const SNAPSHOT_ENTRIES = 20;
const TRAILING = 5;
const CHUNK = 4096;

let c: TestCluster;
const dataDir = (name: string) => join(c.dir, 'data', name);
const logOf = (name: string) => fs.readFileSync(join(c.dir, 'logs', `${name}.log`), 'utf8');

beforeAll(async () => {
  c = await startCluster({
    peers: 3,
    limits: ['[limits]', 'max_frame_bytes = 65536', `max_bytes_per_append = ${CHUNK}`, `snapshot_entries = ${SNAPSHOT_ENTRIES}`, `snapshot_trailing_entries = ${TRAILING}`].join('\n'),
  });
  await c.waitForLeader();
});

afterAll(async () => {
  await c?.teardown();
});

/** The durable log of a peer as it would recover it, read from a copy (the running peer holds the lock). */
function recoveredLog(name: string): { base: number; first: number; last: number; entries: number } {
  const copy = fs.mkdtempSync(join(tmpdir(), 'rv-snapcopy-'));
  try {
    fs.copyFileSync(join(dataDir(name), WAL_FILE), join(copy, WAL_FILE));
    const { log, state, report } = DurableLog.open(copy);
    void log.close();
    const first = state.entries[0]?.index ?? 0;
    return { base: report.base?.index ?? 0, first, last: state.entries.at(-1)?.index ?? report.base?.index ?? 0, entries: state.entries.length };
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

async function stores(names: string[]): Promise<Record<string, unknown>[]> {
  return (await c.statuses(names, true)).map((s) => s.kv ?? {});
}

/** Concurrent clients, each op sent once to the peer believed to lead, recorded for the checker. */
class Clients {
  readonly history = new HistoryRecorder();
  private leader = 'peer1';
  private stopping = false;
  private readonly running: Promise<void>[] = [];

  start(n: number, keys: string[]): void {
    for (let i = 0; i < n; i++) this.running.push(this.loop(`client${i}`, keys));
  }

  private async loop(client: string, keys: string[]): Promise<void> {
    let k = 0;
    while (!this.stopping) {
      const key = keys[k++ % keys.length]!;
      const input: KvInput = k % 3 === 0 ? { f: 'get' } : { f: 'add', n: 1 };
      const op = this.history.invoke(client, key, input);
      const command = input.f === 'get' ? [key, 'get'] : [key, 'add', 1];
      try {
        const r = await c.request(this.leader, command, {}, 3000);
        this.history.complete(op, outcomeOf(r));
        if (!r.ok && r.error === 'not_leader') {
          if (r.leader) this.leader = r.leader;
          else await new Promise((res) => setTimeout(res, 50));
        }
      } catch (e) {
        this.history.complete(op, { type: 'unknown', error: (e as Error).message });
        this.leader = c.names.filter((n) => c.alive(n))[Math.floor(Math.random() * 2)] ?? this.leader;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  async stop(): Promise<HistoryResult> {
    this.stopping = true;
    await Promise.all(this.running);
    return checkHistory(this.history.operations());
  }
}

describe('snapshots and log compaction in a real cluster', () => {
  it('leaves a snapshot and a short log in every data directory after writes', async () => {
    for (let i = 0; i < 3 * SNAPSHOT_ENTRIES; i++) await c.write([`k${i % 7}`, 'set', `v${i}`]);
    await waitFor('every peer to hold a snapshot and a log cut after it', () =>
      c.names.every((n) => listSnapshots(dataDir(n)).length > 0 && recoveredLog(n).base > 0),
    );
    for (const n of c.names) {
      const snap = readSnapshotFile(listSnapshots(dataDir(n))[0]!);
      const log = recoveredLog(n);
      expect(snap.index, n).toBeGreaterThanOrEqual(SNAPSHOT_ENTRIES);
      expect(snap.config.voters).toEqual(c.names);
      // The log starts at most `trailing` entries before the snapshot, never after it.
      expect(log.base, n).toBeLessThanOrEqual(snap.index);
      expect(log.base, n).toBeGreaterThanOrEqual(snap.index - TRAILING);
      expect(log.entries, n).toBeLessThan(2 * SNAPSHOT_ENTRIES + TRAILING);
      expect(logOf(n)).toMatch(/snapshot at index \d+ \(term \d+\): \d+ keys, \d+ bytes in .*snap-\d+-\d+\.snap/);
      expect(logOf(n)).toMatch(/log compacted: the durable log now starts after entry \d+/);
    }
  });

  it('restarts a killed peer from its snapshot and the log after it, with the same store', async () => {
    const leader = await c.waitForLeader();
    const follower = c.names.find((n) => n !== leader)!;
    await c.write(['after', 'set', 'snap']);
    await waitFor('the follower to apply the write', async () => (await c.status(follower, true)).kv?.after === 'snap');
    const before = (await c.status(follower, true)).kv;
    await c.restart(follower);
    await waitFor(`${follower} to answer again`, async () => {
      try {
        return (await c.status(follower, true)).appliedIndex > 0;
      } catch {
        return false;
      }
    });
    expect(logOf(follower)).toMatch(/storage: starting from snapshot .*snap-\d+-\d+\.snap \(index \d+, term \d+, \d+ keys\); the log after it is replayed/);
    await waitFor('the restarted peer to hold the same store', async () => JSON.stringify((await c.status(follower, true)).kv) === JSON.stringify(before));
  });

  it('catches a follower up by InstallSnapshot in chunks once the leader compacted past it, and it then serves reads; clients stay linearizable', async () => {
    const leader = await c.waitForLeader();
    const lagging = c.names.find((n) => n !== leader)!;
    const clients = new Clients();
    clients.start(3, ['lin-a', 'lin-b']);
    await c.kill(lagging);
    // Much more state than one chunk, and enough entries for several snapshots past the follower.
    const big: Record<string, string> = {};
    for (let i = 0; i < 4 * SNAPSHOT_ENTRIES; i++) {
      const key = `big${i % 30}`;
      big[key] = randomBytes(300).toString('hex');
      await c.write([key, 'set', big[key]], { among: c.names.filter((n) => n !== lagging) });
    }
    const leaderSnap = readSnapshotFile(listSnapshots(dataDir(leader))[0]!);
    expect(leaderSnap.data.length).toBeGreaterThan(2 * CHUNK);
    c.start(lagging);
    await waitFor(`${lagging} to install the leader's snapshot`, () => /installed a snapshot from \S+ at index \d+/.test(logOf(lagging)), 30_000);
    const chunks = logOf(lagging).match(/<- \S+ InstallSnapshot term \d+ snapshot \d+\/\d+ bytes \d+\.\.\d+ of \d+/g) ?? [];
    expect(chunks.length, 'chunks received').toBeGreaterThanOrEqual(3);
    const result = await clients.stop();
    expect(result.verdict, JSON.stringify(result).slice(0, 2000)).toBe('linearizable');
    expect(clients.history.operations().filter((o) => o.outcome.type === 'ok').length).toBeGreaterThan(10);

    // The follower now holds everything: make it the leader and read through it.
    await waitFor(`${lagging} to hold the same store`, async () => {
      const [mine, theirs] = await stores([lagging, leader]);
      return JSON.stringify(mine) === JSON.stringify(theirs);
    });
    await c.admin(lagging, { type: 'campaign' });
    await waitFor(`${lagging} to lead`, async () => (await c.waitForLeader({ timeoutMs: 5000 })) === lagging, 20_000);
    for (const key of ['big0', 'big7', 'big29']) {
      const r = await c.request(lagging, [key, 'get']);
      expect(r, key).toMatchObject({ ok: true, value: big[key] });
    }
    // Its data directory holds the installed snapshot and a log that continues it.
    const mine = readSnapshotFile(listSnapshots(dataDir(lagging))[0]!);
    expect(recoveredLog(lagging).base).toBeLessThanOrEqual(mine.index);
  });
});
