// Damaged snapshot files with a real peer process: a truncated file, a flipped byte, a missing
// file under a log cut past it, a leftover temporary file. Each is detected and said in the
// peer's log or on stderr; a damaged snapshot is never loaded; an older good snapshot stands in
// only when the log still reaches it, otherwise the peer refuses to start (exit code 4).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSnapshots, readSnapshotFile } from '../../peer/snapshot-file.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

const EXIT_STORAGE = 4;
let c: TestCluster | null = null;

afterEach(async () => {
  await c?.teardown();
  c = null;
});

/** A one-peer cluster that took several snapshots: stopped, with its data directory backed up. */
async function stoppedPeerWithSnapshots(trailing: number): Promise<{ dir: string; backup: string; snaps: string[] }> {
  c = await startCluster({ peers: 1, limits: ['[limits]', 'max_frame_bytes = 65536', 'snapshot_entries = 5', `snapshot_trailing_entries = ${trailing}`].join('\n') });
  await c.waitForLeader();
  for (let i = 1; i <= 24; i++) await c.write(['n', 'set', i]);
  const dir = join(c.dir, 'data', 'peer1');
  await waitFor('two snapshot files', () => listSnapshots(dir).length === 2);
  await c.kill('peer1', 'SIGTERM');
  const backup = join(c.dir, 'backup');
  fs.cpSync(dir, backup, { recursive: true });
  return { dir, backup, snaps: listSnapshots(dir) };
}

function restoreBackup(dir: string, backup: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(backup, dir, { recursive: true });
}

/** Starts peer1 and waits for it to exit by itself (a refusal) or to serve (null). */
async function startOutcome(): Promise<{ exit: number | null; output: string }> {
  const proc = c!.start('peer1');
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const served = waitFor('peer1 to serve', async () => {
    try {
      return (await c!.status('peer1', true)).kv?.n === 24;
    } catch {
      return false;
    }
  }, 20_000).then(() => null);
  const exit = await Promise.race([exited, served]);
  return { exit, output: c!.output('peer1') };
}

const peerLog = () => fs.readFileSync(join(c!.dir, 'logs', 'peer1.log'), 'utf8');

describe('a peer whose snapshot files are damaged', () => {
  it('refuses to start when the newest snapshot is truncated or has a flipped byte and the log was cut past the older one', async () => {
    const { dir, backup, snaps } = await stoppedPeerWithSnapshots(0);
    const newest = snaps[0]!;
    fs.truncateSync(newest, fs.statSync(newest).size - 10);
    let r = await startOutcome();
    expect(r.exit).toBe(EXIT_STORAGE);
    expect(r.output).toContain(`${newest}: truncated: the header says`);
    expect(r.output).toMatch(/the durable log in \S+ was cut through entry \d+, but the newest snapshot that reads back whole ends at \d+/);
    expect(peerLog()).toContain(`storage: DAMAGED snapshot ${newest} not trusted: truncated`);

    restoreBackup(dir, backup);
    const bytes = fs.readFileSync(newest);
    bytes[bytes.length - 20]! ^= 0x01;
    fs.writeFileSync(newest, bytes);
    r = await startOutcome();
    expect(r.exit).toBe(EXIT_STORAGE);
    expect(r.output).toContain(`${newest}: checksum mismatch in its data (a damaged byte)`);
  });

  it('refuses to start when the snapshot files are missing under a cut log, and starts after removing a leftover temporary file', async () => {
    const { dir, backup, snaps } = await stoppedPeerWithSnapshots(0);
    for (const s of snaps) fs.rmSync(s);
    let r = await startOutcome();
    expect(r.exit).toBe(EXIT_STORAGE);
    expect(r.output).toMatch(/no snapshot reads back whole \(no snapshot file found\): entries 1\.\.\d+ are nowhere on this disk/);

    restoreBackup(dir, backup);
    const tmp = `${join(dir, 'snap-00000000000000000099-9.snap')}.tmp`;
    fs.writeFileSync(tmp, 'RAFTSNAP1 half a write');
    r = await startOutcome();
    expect(r.exit).toBeNull();
    expect(fs.existsSync(tmp)).toBe(false);
    expect(peerLog()).toContain('storage: removed snap-00000000000000000099-9.snap.tmp, a snapshot whose write never finished');
  });

  it('starts from the older snapshot when the newest is damaged but the log still reaches the older one', async () => {
    const { snaps } = await stoppedPeerWithSnapshots(20);
    const older = readSnapshotFile(snaps[1]!);
    fs.truncateSync(snaps[0]!, 30);
    const r = await startOutcome();
    expect(r.exit).toBeNull();
    expect(peerLog()).toContain(`storage: DAMAGED snapshot ${snaps[0]} not trusted`);
    expect(peerLog()).toContain(`storage: starting from snapshot ${snaps[1]} (index ${older.index}, term ${older.term}, 1 keys), an older snapshot in place of the damaged one`);
  });
});
