// Configuration entries on disk: the write-ahead log keeps an entry's `conf` through recovery and
// through compaction, and a record whose configuration is malformed is damage, not a silent drop.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableLog, StorageCorruptError, WAL_FILE, crc32 } from '../../peer/storage.ts';
import type { Entry } from '../../peer/raft/types.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = fs.mkdtempSync(join(tmpdir(), 'rv-storage-conf-'));
  dirs.push(d);
  return d;
}

const cmd = (index: number, term: number): Entry => ({ index, term, data: `{"cmd":["x","add",${index}]}` });
const conf = (index: number, term: number, voters: string[], learners: string[] = []): Entry => ({ index, term, data: null, conf: { voters, learners } });

describe('configuration entries in the write-ahead log', () => {
  it('recovers a configuration entry with its voters and learners, and a later one replacing it', async () => {
    const dir = tempDir();
    const { log } = DurableLog.open(dir);
    await log.save({ term: 2, vote: 'peer1', commit: 0 }, [cmd(1, 1), conf(2, 2, ['peer1', 'peer2', 'peer3'], ['peer4']), cmd(3, 2)]);
    await log.save(null, [conf(4, 2, ['peer1', 'peer2', 'peer3', 'peer4'])]);
    await log.close();
    const { log: again, state } = DurableLog.open(dir);
    expect(state.entries).toEqual([cmd(1, 1), conf(2, 2, ['peer1', 'peer2', 'peer3'], ['peer4']), cmd(3, 2), conf(4, 2, ['peer1', 'peer2', 'peer3', 'peer4'])]);
    expect('conf' in state.entries[0]!).toBe(false);
    await again.close();
  });

  it('keeps configuration entries when the WAL rewrite copies the live records', async () => {
    const dir = tempDir();
    const { log } = DurableLog.open(dir);
    await log.save({ term: 1, vote: null, commit: 0 }, [cmd(1, 1), conf(2, 1, ['a', 'b'], ['c']), cmd(3, 1)]);
    for (let t = 2; t < 20; t++) await log.save({ term: t, vote: null, commit: 0 }, []);
    await log.rewrite();
    expect(log.stats().rewrites).toBe(1);
    await log.close();
    const { log: again, state } = DurableLog.open(dir);
    expect(state.entries[1]).toEqual(conf(2, 1, ['a', 'b'], ['c']));
    await again.close();
  });

  it('refuses to start on a checksummed record whose configuration is malformed, naming it', async () => {
    const dir = tempDir();
    const { log } = DurableLog.open(dir);
    await log.save({ term: 1, vote: null, commit: 0 }, [cmd(1, 1)]);
    await log.close();
    // A valid frame (right checksum) holding a configuration with no voters.
    const payload = Buffer.from(JSON.stringify({ b: 2, k: 'e', index: 2, term: 1, data: null, conf: { voters: [], learners: [] }, end: 1 }));
    const frame = Buffer.alloc(8 + payload.length);
    frame.writeUInt32LE(payload.length, 0);
    frame.writeUInt32LE(crc32(payload), 4);
    payload.copy(frame, 8);
    fs.appendFileSync(join(dir, WAL_FILE), frame);
    expect(() => DurableLog.open(dir)).toThrow(StorageCorruptError);
    expect(() => DurableLog.open(dir)).toThrow(/malformed configuration entry \(a configuration needs at least one voter\)/);
  });
});
