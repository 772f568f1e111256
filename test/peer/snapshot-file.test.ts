import { afterEach, describe, expect, it, vi } from 'vitest';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkSnapshotCoversLog,
  listSnapshots,
  loadNewestSnapshot,
  pruneSnapshots,
  readSnapshotFile,
  snapshotFileName,
  SnapshotDamagedError,
  writeSnapshotFile,
} from '../../peer/snapshot-file.ts';
import { decodeSnapshotState, encodeSnapshotState, SLICE_CHARS } from '../../peer/snapshot-state.ts';
import { encodeEntry, KvStore } from '../../peer/kv.ts';
import type { Snapshot } from '../../peer/raft/types.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(join(tmpdir(), 'rv-snap-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const snap = (index: number, term = 2, data = `state as of ${index}`): Snapshot => ({ index, term, data, config: { voters: ['peer1', 'peer2', 'peer3'], learners: [] } });

describe('snapshot files', () => {
  it('reads back what was written, under a name that says its index and term, with no temporary file left', async () => {
    const dir = tempDir();
    const s = snap(5000, 7, 'kv1:' + 'A'.repeat(100_000));
    const { file, bytes } = await writeSnapshotFile(dir, s);
    expect(file).toBe(join(dir, snapshotFileName(5000, 7)));
    expect(fs.statSync(file).size).toBe(bytes);
    expect(readSnapshotFile(file)).toEqual(s);
    expect(fs.readdirSync(dir)).toEqual([snapshotFileName(5000, 7)]);
  });

  it('does not trust a truncated file, says so, and falls back to the older snapshot', async () => {
    const dir = tempDir();
    await writeSnapshotFile(dir, snap(10));
    const { file } = await writeSnapshotFile(dir, snap(20));
    fs.truncateSync(file, fs.statSync(file).size - 3);
    const loaded = loadNewestSnapshot(dir);
    expect(loaded.snapshot).toEqual(snap(10));
    expect(loaded.rejected).toEqual([{ file, why: expect.stringMatching(/truncated: the header says \d+ bytes of data, the file has \d+/) }]);
  });

  it('does not trust a file with any single flipped byte', async () => {
    const dir = tempDir();
    const { file } = await writeSnapshotFile(dir, snap(20, 3, 'kv1:some-state'));
    const bytes = fs.readFileSync(file);
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i]! ^= 0x10;
      fs.writeFileSync(file, copy);
      expect(() => readSnapshotFile(file), `byte ${i}`).toThrow(SnapshotDamagedError);
    }
  });

  it('removes a temporary file left by a write that never finished, and never reads it', async () => {
    const dir = tempDir();
    await writeSnapshotFile(dir, snap(10));
    fs.writeFileSync(join(dir, snapshotFileName(30, 2) + '.tmp'), 'RAFTSNAP1 half');
    const loaded = loadNewestSnapshot(dir);
    expect(loaded.snapshot!.index).toBe(10);
    expect(loaded.removedTemporary).toEqual([snapshotFileName(30, 2) + '.tmp']);
    expect(fs.existsSync(join(dir, snapshotFileName(30, 2) + '.tmp'))).toBe(false);
  });

  it('does not trust a file whose name disagrees with its content', async () => {
    const dir = tempDir();
    const { file } = await writeSnapshotFile(dir, snap(10));
    const renamed = join(dir, snapshotFileName(99, 2));
    fs.renameSync(file, renamed);
    expect(() => readSnapshotFile(renamed)).toThrow(/its name says 99\/2, its content 10\/2/);
  });

  it('refuses a log cut past the newest good snapshot, naming the damaged file, and accepts one the snapshot covers', async () => {
    const dir = tempDir();
    await writeSnapshotFile(dir, snap(10));
    const { file } = await writeSnapshotFile(dir, snap(20));
    expect(checkSnapshotCoversLog(dir, loadNewestSnapshot(dir), 18)).toBeNull();
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1]! ^= 1;
    fs.writeFileSync(file, bytes);
    const loaded = loadNewestSnapshot(dir);
    expect(loaded.snapshot!.index).toBe(10);
    expect(checkSnapshotCoversLog(dir, loaded, 8)).toBeNull(); // the older one still reaches the log
    const why = checkSnapshotCoversLog(dir, loaded, 18);
    expect(why).toMatch(/cut through entry 18, but the newest snapshot that reads back whole ends at 10/);
    expect(why).toContain(`${file}: checksum mismatch in its data`);
    expect(why).toMatch(/entries 11\.\.18 are nowhere on this disk/);
  });

  it('refuses a cut log whose snapshot file is missing', () => {
    const dir = tempDir();
    expect(checkSnapshotCoversLog(dir, loadNewestSnapshot(dir), 5)).toMatch(/no snapshot reads back whole \(no snapshot file found\)/);
  });

  it('keeps the two newest snapshots', async () => {
    const dir = tempDir();
    for (const i of [5, 10, 15, 20]) await writeSnapshotFile(dir, snap(i));
    pruneSnapshots(dir);
    expect(listSnapshots(dir)).toEqual([join(dir, snapshotFileName(20, 2)), join(dir, snapshotFileName(15, 2))]);
  });
});

describe('snapshot state (the store and sessions in a snapshot)', () => {
  it('restores keys, applied index and client sessions: a retried command is answered from the session, not applied again', async () => {
    const a = new KvStore();
    a.apply(encodeEntry({ op: 'set', key: 'x', value: 'hello' }), 1);
    a.apply(encodeEntry({ op: 'add', key: 'n', amount: 5 }, 'c1', 1), 2);
    a.apply(null, 3);
    const data = await encodeSnapshotState({ image: a.image(), ph: 12345 });
    expect(data).toMatch(/^kv1:[A-Za-z0-9+/=]+$/);
    const decoded = decodeSnapshotState(data);
    expect(decoded.ph).toBe(12345);
    const b = new KvStore();
    b.restore(decoded.image);
    expect(b.appliedIndex).toBe(3);
    expect(b.entries()).toEqual({ x: 'hello', n: 5 });
    // The same (client, seq) again: the remembered outcome, n stays 5.
    expect(b.apply(encodeEntry({ op: 'add', key: 'n', amount: 5 }, 'c1', 1), 4)).toEqual({ ok: true, value: 5, key: 'n' });
    expect(b.valueOf('n')).toBe(5);
  });

  it('builds the JSON of a store of few big values in slices of about SLICE_CHARS, not all in one turn', async () => {
    // 80 values of 60,000 characters: under the 10,000-key slice alone, 4.8 MB in one JSON.stringify
    // held a leader's event loop past the election timeout (the bench's InstallSnapshot run).
    const a = new KvStore();
    for (let i = 0; i < 80; i++) expect(a.apply(encodeEntry({ op: 'set', key: `big-${i}`, value: `${i}`.padEnd(60_000, 'x') }), i + 1).ok).toBe(true);
    const lengths: number[] = [];
    const real = JSON.stringify.bind(JSON);
    const spy = vi.spyOn(JSON, 'stringify').mockImplementation(((...args: Parameters<typeof JSON.stringify>) => {
      const out = real(...args);
      lengths.push(out.length);
      return out;
    }) as typeof JSON.stringify);
    let data: string;
    try {
      data = await encodeSnapshotState({ image: a.image(), ph: null });
    } finally {
      spy.mockRestore();
    }
    expect(lengths.filter((n) => n > 500_000).length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SLICE_CHARS + 60_100);
    const b = new KvStore();
    b.restore(decodeSnapshotState(data).image);
    expect(b.size).toBe(80);
    expect(b.valueOf('big-79')).toBe('79'.padEnd(60_000, 'x'));
  });

  it('keeps a snapshot of the store as it was, while the store goes on changing', async () => {
    const a = new KvStore();
    a.apply(encodeEntry({ op: 'set', key: 'x', value: 1 }), 1);
    const encoding = encodeSnapshotState({ image: a.image(), ph: null });
    a.apply(encodeEntry({ op: 'set', key: 'x', value: 2 }), 2);
    const b = new KvStore();
    b.restore(decodeSnapshotState(await encoding).image);
    expect(b.entries()).toEqual({ x: 1 });
  });

  it('refuses data that is not a snapshot state, saying why', async () => {
    expect(() => decodeSnapshotState('hello')).toThrow(/does not start with "kv1:"/);
    expect(() => decodeSnapshotState('kv1:AAAA')).toThrow(/does not unzip/);
    const bad = (await encodeSnapshotState({ image: { applied: 1, data: new Map(), sessions: [] }, ph: null })).replace('kv1:', 'kv1:A');
    expect(() => decodeSnapshotState(bad)).toThrow(/snapshot data/);
  });
});
