import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_ID_FILE, DurableLog, StorageCorruptError, StorageError, WAL_FILE, crc32, crc32Table, type DurableLogOptions } from '../../peer/storage.ts';
import type { Entry, HardState, PersistedState } from '../../peer/raft/types.ts';

const dirs: string[] = [];
const logs: DurableLog[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(join(tmpdir(), 'rv-storage-'));
  dirs.push(d);
  return d;
}

function open(dir: string, opts?: DurableLogOptions) {
  const r = DurableLog.open(dir, opts);
  logs.push(r.log);
  return r;
}

afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const e = (index: number, term: number, data: string | null = `{"cmd":["x","add",${index}]}`): Entry => ({ index, term, data });
const hs = (term: number, vote: string | null, commit: number): HardState => ({ term, vote, commit });

interface Frame {
  start: number;
  end: number;
  b: number;
  last: boolean;
}

/** An independent reading of the file's frames: [u32 len][u32 crc][json]. */
function framesOf(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let p = 8;
  while (p + 8 <= buf.length) {
    const len = buf.readUInt32LE(p);
    const json = JSON.parse(buf.subarray(p + 8, p + 8 + len).toString('utf8')) as { b: number; end?: number };
    out.push({ start: p, end: p + 8 + len, b: json.b, last: json.end === 1 });
    p += 8 + len;
  }
  expect(p).toBe(buf.length);
  return out;
}

/** Writes a log of several saves and returns its bytes and the state after each save. */
async function buildLog(dir: string): Promise<{ bytes: Buffer; states: { size: number; state: PersistedState }[] }> {
  const { log } = open(dir);
  const states: { size: number; state: PersistedState }[] = [];
  const model: PersistedState = { hardState: hs(0, null, 0), entries: [] };
  const steps: [HardState | null, Entry[]][] = [
    [hs(1, 'peer1', 0), []],
    [null, [e(1, 1, null), e(2, 1)]],
    [hs(1, 'peer1', 2), [e(3, 1)]],
    [hs(2, null, 2), [e(3, 2), e(4, 2, 'with "quotes" and ünïcode')]],
    [hs(2, null, 4), [e(5, 2), e(6, 2), e(7, 2)]],
  ];
  for (const [h, es] of steps) {
    await log.save(h, es);
    if (h) model.hardState = { ...h };
    if (es.length) model.entries = [...model.entries.slice(0, es[0]!.index - 1), ...es];
    states.push({ size: fs.statSync(join(dir, WAL_FILE)).size, state: structuredClone(model) });
  }
  await log.close();
  return { bytes: fs.readFileSync(join(dir, WAL_FILE)), states };
}

function writeCopy(bytes: Buffer): string {
  const d = tempDir();
  fs.writeFileSync(join(d, WAL_FILE), bytes);
  return d;
}

function corruptError(fn: () => unknown): StorageCorruptError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StorageCorruptError);
    return err as StorageCorruptError;
  }
  throw new Error('expected a StorageCorruptError');
}

describe('CRC-32', () => {
  it('matches the standard check value and the table version', () => {
    const check = Buffer.from('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Table(check)).toBe(0xcbf43926);
    const random = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
    expect(crc32(random)).toBe(crc32Table(random));
  });
});

describe('DurableLog round trip', () => {
  it('starts empty in a new directory', () => {
    const dir = join(tempDir(), 'nested', 'peer1');
    const { state, report } = open(dir);
    expect(state).toEqual({ hardState: hs(0, null, 0), entries: [] });
    expect(report).toMatchObject({ records: 0, cutBytes: 0, cutReason: null });
    expect(fs.existsSync(join(dir, WAL_FILE))).toBe(true);
  });

  it('gives back the hard state and entries after a restart', async () => {
    const dir = tempDir();
    const { states } = await buildLog(dir);
    const { state, report } = open(dir);
    expect(state).toEqual(states.at(-1)!.state);
    expect(report.cutBytes).toBe(0);
    expect(report.records).toBe(12);
  });

  it('keeps everything over many restarts, the last hard state winning', async () => {
    const dir = tempDir();
    let expected: Entry[] = [];
    for (let round = 1; round <= 5; round++) {
      const { log, state } = DurableLog.open(dir);
      expect(state.entries).toEqual(expected);
      expect(state.hardState).toEqual(round === 1 ? hs(0, null, 0) : hs(round - 1, `peer${round - 1}`, expected.length));
      const more = [e(expected.length + 1, round), e(expected.length + 2, round)];
      expected = [...expected, ...more];
      await log.save(hs(round, `peer${round}`, expected.length), more);
      await log.close();
    }
  });

  it('replaces an entry at or below the last index, and everything after it (Raft truncation)', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(null, [e(1, 1), e(2, 1), e(3, 1), e(4, 1), e(5, 1)]);
    await log.save(null, [e(3, 2), e(4, 2)]);
    expect(log.lastIndex).toBe(4);
    await log.save(null, [e(2, 3)]);
    await log.save(null, [e(3, 3)]);
    await log.close();
    const { state } = open(dir);
    expect(state.entries).toEqual([e(1, 1), e(2, 3), e(3, 3)]);
  });

  it('refuses entries that leave a gap or are not consecutive, writing nothing', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(null, [e(1, 1)]);
    await expect(log.save(null, [e(3, 1)])).rejects.toThrow(/entry 3 does not follow the last index 1/);
    await expect(log.save(null, [e(2, 1), e(4, 1)])).rejects.toThrow(/consecutive/);
    await expect(log.save(null, [e(0, 1)])).rejects.toThrow(StorageError);
    await log.save(null, [e(2, 1)]);
    await log.close();
    expect(open(dir).state.entries).toEqual([e(1, 1), e(2, 1)]);
  });

  it('clamps a persisted commit to the entries it has', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(1, null, 9), [e(1, 1)]);
    await log.close();
    expect(open(dir).state.hardState).toEqual(hs(1, null, 1));
  });

  it('holds 100k entries and reads them back', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    const per = 2000;
    for (let i = 0; i < 100_000; i += per) {
      await log.save(hs(1, 'peer1', i), Array.from({ length: per }, (_, k) => e(i + k + 1, 1)));
    }
    await log.close();
    const { state } = open(dir);
    expect(state.entries).toHaveLength(100_000);
    expect(state.entries[99_999]).toEqual(e(100_000, 1));
    expect(state.hardState.commit).toBe(98_000);
  });
});

describe('DurableLog group commit', () => {
  it('writes a batch with one write and one fsync', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(1, 'a', 0), [e(1, 1), e(2, 1), e(3, 1)]);
    expect(log.stats()).toMatchObject({ saves: 1, writes: 1, syncs: 1 });
  });

  it('starts a save at once when asked, taking along a save already waiting for the next turn', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    // Queued before the saves: a write left for the next turn would come after it.
    let turnEnded = false;
    const nextTurn = new Promise<void>((r) => setImmediate(() => ((turnEnded = true), r())));
    const lazy = log.save(hs(1, 'a', 0), [], false);
    const now = log.save(null, [e(1, 1), e(2, 1)], true, true);
    await now;
    // Written within this turn, not in the next one, and both saves in one write and one fsync.
    expect(turnEnded).toBe(false);
    await lazy;
    expect(log.stats()).toMatchObject({ saves: 2, writes: 1, syncs: 1 });
    await nextTurn;
    await log.close();
    expect(open(dir).state).toEqual({ hardState: hs(1, 'a', 0), entries: [e(1, 1), e(2, 1)] });
  });

  it('coalesces saves made while an fsync is in flight into the next single write + fsync, in order', async () => {
    const dir = tempDir();
    let release: () => void = () => {};
    let syncs = 0;
    const gate = () => new Promise<void>((r) => (release = r));
    let started: () => void = () => {};
    let syncStarted = new Promise<void>((r) => (started = r));
    const { log } = open(dir, {
      sync: async (fd) => {
        syncs++;
        started();
        await gate();
        fs.fdatasyncSync(fd);
      },
    });
    const done: string[] = [];
    const first = log.save(hs(1, 'a', 0), [e(1, 1)]).then(() => done.push('first'));
    await syncStarted;
    syncStarted = new Promise<void>((r) => (started = r));
    // The first fsync is in flight: these three must share the next write and fsync.
    const rest = [
      log.save(null, [e(2, 1), e(3, 1)]).then(() => done.push('second')),
      log.save(hs(1, 'a', 3), [e(3, 2)]).then(() => done.push('third')),
      log.save(null, [e(4, 2)]).then(() => done.push('fourth')),
    ];
    expect(syncs).toBe(1);
    release();
    await first;
    await syncStarted;
    expect(done).toEqual(['first']);
    release();
    await Promise.all(rest);
    expect(done).toEqual(['first', 'second', 'third', 'fourth']);
    expect(syncs).toBe(2);
    expect(log.stats()).toMatchObject({ saves: 4, writes: 2, syncs: 2 });
    await log.close();
    expect(open(dir).state).toEqual({ hardState: hs(1, 'a', 3), entries: [e(1, 1), e(2, 1), e(3, 2), e(4, 2)] });
  });

  it('resolves a save that repeats the hard state only once the write carrying it is durable', async () => {
    const dir = tempDir();
    let release: () => void = () => {};
    let started: () => void = () => {};
    const syncStarted = new Promise<void>((r) => (started = r));
    const { log } = open(dir, {
      sync: async () => {
        started();
        await new Promise<void>((r) => (release = r));
      },
    });
    const done: string[] = [];
    const first = log.save(hs(2, 'b', 0), []).then(() => done.push('write'));
    await syncStarted;
    const repeat = log.save(hs(2, 'b', 0), []).then(() => done.push('repeat'));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toEqual([]);
    release();
    await Promise.all([first, repeat]);
    expect(done).toEqual(['write', 'repeat']);
    expect(log.stats()).toMatchObject({ saves: 2, writes: 1, syncs: 1 });
    expect(await log.save(hs(2, 'b', 0), []).then(() => 'at once')).toBe('at once');
  });

  it('fails every later save once a write or fsync fails', async () => {
    const dir = tempDir();
    const { log } = open(dir, {
      sync: async () => {
        throw new Error('EIO');
      },
    });
    await expect(log.save(null, [e(1, 1)])).rejects.toThrow(/write failed \(EIO\)/);
    await expect(log.save(null, [e(1, 1)])).rejects.toThrow(/write failed/);
  });
});

describe('DurableLog write numbers', () => {
  it('resolves each save with the number of the write that carried it, shared by saves of one write', async () => {
    const dir = tempDir();
    const { log, report } = open(dir);
    expect(report.lastWrite).toBe(0);
    expect(await log.save(hs(1, 'a', 0), [e(1, 1)])).toBe(1);
    // Two saves of one turn: one write.
    const [x, y] = await Promise.all([log.save(null, [e(2, 1)]), log.save(hs(1, 'a', 2), [e(3, 1)])]);
    expect([x, y]).toEqual([2, 2]);
    // Nothing new to write: the last write's number.
    expect(await log.save(hs(1, 'a', 2), [])).toBe(2);
    // A commit-only write without an fsync takes a number; the next durable save its own.
    expect(await log.save(hs(1, 'a', 3), [], false)).toBe(3);
    expect(await log.save(null, [e(4, 1)])).toBe(4);
    const frames = framesOf(fs.readFileSync(join(dir, WAL_FILE)));
    expect([...new Set(frames.map((f) => f.b))]).toEqual([1, 2, 3, 4]);
  });

  it('goes on counting after a restart, and after a rewrite, never reusing a number', async () => {
    const dir = tempDir();
    let { log } = open(dir);
    for (let i = 1; i <= 50; i++) expect(await log.save(hs(i, 'peer1', 0), [e(1, i)])).toBe(i);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    const reopened = open(dir);
    expect(reopened.report.lastWrite).toBe(50);
    log = reopened.log;
    expect(await log.save(hs(51, 'peer1', 0), [e(1, 51)])).toBe(51);
    await log.rewrite();
    expect(log.stats().rewrites).toBe(1);
    const after = await log.save(hs(52, 'peer1', 0), [e(1, 52)]);
    expect(after).toBeGreaterThan(51);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    const last = open(dir).report;
    expect(last.lastWrite).toBe(after);
  });

  it('reports the last whole write after cutting a torn one', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(1, 'a', 0), [e(1, 1)]);
    await log.save(null, [e(2, 1), e(3, 1)]);
    await log.close();
    const bytes = fs.readFileSync(join(dir, WAL_FILE));
    const { report } = open(writeCopy(bytes.subarray(0, bytes.length - 5)));
    expect(report.cutBytes).toBeGreaterThan(0);
    expect(report.lastWrite).toBe(1);
  });
});

describe('DurableLog data directory id', () => {
  const idFile = (dir: string) => join(dir, DATA_ID_FILE);

  it('gives a new directory a random id, kept in DATA_ID across restarts', async () => {
    const dir = join(tempDir(), 'peer1');
    const first = DurableLog.open(dir);
    expect(first.report.dataId).toMatch(/^[0-9a-f]{12}$/);
    expect(first.log.dataId).toBe(first.report.dataId);
    expect(first.report.dataIdNote).toMatch(/^new data directory .*: id [0-9a-f]{12}$/);
    expect(fs.readFileSync(idFile(dir), 'latin1')).toBe(`${first.report.dataId}\n`);
    await first.log.save(hs(1, 'a', 0), [e(1, 1)]);
    await first.log.close();
    const again = open(dir);
    expect(again.report.dataId).toBe(first.report.dataId);
    expect(again.report.dataIdNote).toBeNull();
    expect(again.state.entries).toEqual([e(1, 1)]);
    // Another directory, another id.
    expect(open(tempDir()).report.dataId).not.toBe(first.report.dataId);
  });

  it('gives an existing directory without an id one at its first start, and says so', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const dir = writeCopy(bytes);
    const { state, report } = open(dir);
    expect(state).toEqual(states.at(-1)!.state);
    expect(report.dataIdNote).toMatch(new RegExp(`had no ${DATA_ID_FILE} \\(made before data directories had ids\\): created ${report.dataId}`));
    expect(fs.readFileSync(idFile(dir), 'latin1')).toBe(`${report.dataId}\n`);
  });

  it('keeps the id of a directory whose log is gone, and says the log starts empty', () => {
    const dir = tempDir();
    fs.writeFileSync(idFile(dir), '0123456789ab\n');
    const { state, report } = open(dir);
    expect(state.entries).toEqual([]);
    expect(report.dataId).toBe('0123456789ab');
    expect(report.dataIdNote).toMatch(/DATA_ID is there but raft.wal is not: starting with an empty log under the same id 0123456789ab/);
  });

  it.each([
    ['empty', ''],
    ['without its newline', '0123456789ab'],
    ['not hex', 'zz23456789ab\n'],
    ['two lines', '0123456789ab\n0123456789ab\n'],
    ['too short', '0123\n'],
    ['too long', `${'a'.repeat(200)}\n`],
  ])('refuses a damaged id file (%s), naming it and what to do, and changes nothing', async (_what, text) => {
    const { bytes } = await buildLog(tempDir());
    const dir = writeCopy(bytes);
    fs.writeFileSync(idFile(dir), text);
    let error: unknown = null;
    try {
      DurableLog.open(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(StorageError);
    const message = (error as Error).message;
    expect(message).toContain(`${idFile(dir)} is damaged`);
    expect(message).toMatch(/Restore the file from a backup; or, .* delete .*DATA_ID and the peer will create a new id/);
    // Nothing replaced, nothing lost, and the directory is not left locked.
    expect(fs.readFileSync(idFile(dir), 'latin1')).toBe(text);
    expect(fs.readFileSync(join(dir, WAL_FILE)).equals(bytes)).toBe(true);
    expect(fs.existsSync(join(dir, 'LOCK'))).toBe(false);
  });

  it('ignores the temporary file of an id whose creation was cut short, and creates the id', () => {
    const dir = tempDir();
    fs.writeFileSync(`${idFile(dir)}.tmp`, '01234');
    const { report } = open(dir);
    expect(report.dataId).toMatch(/^[0-9a-f]{12}$/);
    expect(fs.existsSync(`${idFile(dir)}.tmp`)).toBe(false);
    expect(fs.readFileSync(idFile(dir), 'latin1')).toBe(`${report.dataId}\n`);
  });
});

describe('DurableLog recovery from a torn tail', () => {
  it('opens at every byte offset cut within its last writes, keeping only whole writes', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const frames = framesOf(bytes);
    const from = states[states.length - 3]!.size; // the last two writes
    for (let cut = from; cut < bytes.length; cut++) {
      const dir = writeCopy(bytes.subarray(0, cut));
      const { log, state, report } = DurableLog.open(dir);
      // What should survive: the writes that end at or before the cut.
      const whole = states.filter((s) => s.size <= cut).at(-1)!;
      expect(state, `cut at ${cut}`).toEqual(whole.state);
      expect(report.cutBytes, `cut at ${cut}`).toBe(cut - whole.size);
      if (cut > whole.size) expect(report.cutReason).toMatch(/bytes cut/);
      else expect(report.cutReason).toBeNull();
      expect(report.records).toBe(frames.filter((f) => f.end <= whole.size).length);
      await log.close();
      expect(fs.statSync(join(dir, WAL_FILE)).size).toBe(whole.size);
      // The repaired file opens cleanly.
      const again = DurableLog.open(dir);
      expect(again.report.cutBytes).toBe(0);
      expect(again.state).toEqual(whole.state);
      await again.log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cuts and reports the last write when any bit of its records flips', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const lastWrite = states.at(-2)!.size;
    for (let pos = lastWrite; pos < bytes.length; pos++) {
      const bit = pos % 8;
      const copy = Buffer.from(bytes);
      copy[pos]! ^= 1 << bit;
      const dir = writeCopy(copy);
      const { log, state, report } = DurableLog.open(dir);
      expect(state, `bit ${bit} of byte ${pos}`).toEqual(states.at(-2)!.state);
      expect(report.cutBytes).toBe(bytes.length - lastWrite);
      expect(report.cutReason).toMatch(new RegExp(`at byte \\d+: a torn write`));
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cuts a tail of zeros left by a file extended but never written', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const dir = writeCopy(Buffer.concat([bytes, Buffer.alloc(4096)]));
    const { state, report } = open(dir);
    expect(state).toEqual(states.at(-1)!.state);
    expect(report.cutBytes).toBe(4096);
    expect(report.cutReason).toMatch(/zero record length at byte/);
  });

  it('starts empty when even the header was torn', () => {
    const dir = writeCopy(Buffer.from('RAFT'));
    expect(open(dir).state.entries).toEqual([]);
  });

  it('goes on writing after a cut', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const dir = writeCopy(bytes.subarray(0, bytes.length - 3));
    const { log, state } = open(dir);
    expect(state).toEqual(states.at(-2)!.state);
    await log.save(hs(3, 'peer3', 4), [e(5, 3)]);
    await log.close();
    const after = open(dir);
    expect(after.report.cutBytes).toBe(0);
    expect(after.state.entries.at(-1)).toEqual(e(5, 3));
  });
});

describe('DurableLog damage in the middle', () => {
  it('refuses to start when a record before the last write is damaged, saying where and what to do', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const frames = framesOf(bytes);
    const middle = frames.filter((f) => f.end <= states.at(-2)!.size);
    for (const f of middle) {
      for (const pos of [f.start, f.start + 5, f.start + 9, f.end - 1]) {
        const copy = Buffer.from(bytes);
        copy[pos]! ^= 0x10;
        const dir = writeCopy(copy);
        const err = corruptError(() => DurableLog.open(dir));
        expect(err.offset).toBe(f.start);
        expect(err.message).toContain(join(dir, WAL_FILE));
        expect(err.message).toMatch(/damaged at byte \d+: .*followed by \d+ valid records/);
        expect(err.message).toMatch(/restore .* from a backup, or move it away/);
        // Nothing was cut: the evidence stays for a person to look at.
        expect(fs.readFileSync(join(dir, WAL_FILE)).equals(copy)).toBe(true);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('refuses a record whose checksum holds but whose content is wrong', async () => {
    const dir = tempDir();
    const payload = Buffer.from('{"b":1,"k":"e","index":"x","term":1,"data":null,"end":1}');
    const frame = Buffer.alloc(8);
    frame.writeUInt32LE(payload.length, 0);
    frame.writeUInt32LE(crc32(payload), 4);
    fs.writeFileSync(join(dir, WAL_FILE), Buffer.concat([Buffer.from('RAFTWAL1'), frame, payload]));
    expect(corruptError(() => DurableLog.open(dir)).message).toMatch(/malformed entry.*not a torn write/);
  });

  it('refuses a file that is not a log', () => {
    const dir = writeCopy(Buffer.from('hello world, not a log'));
    expect(corruptError(() => DurableLog.open(dir)).message).toMatch(/does not start with the RAFTWAL1 header/);
  });
});

describe('DurableLog rewrite', () => {
  it('rewrites a file full of dead records, keeping the state', async () => {
    const dir = tempDir();
    const { log } = open(dir, { rewriteMinBytes: 4096 });
    for (let i = 1; i <= 200; i++) await log.save(hs(i, 'peer1', 0), [e(1, i), e(2, i)]);
    await log.rewrite();
    const s = log.stats();
    expect(s.rewrites).toBeGreaterThanOrEqual(1);
    expect(s.deadBytes).toBeLessThan(s.liveBytes);
    expect(fs.statSync(join(dir, WAL_FILE)).size).toBe(s.fileBytes);
    await log.save(hs(201, 'peer2', 2), [e(3, 201)]);
    await log.close();
    const { state, report } = open(dir);
    expect(report.cutBytes).toBe(0);
    expect(state).toEqual({ hardState: hs(201, 'peer2', 2), entries: [e(1, 200), e(2, 200), e(3, 201)] });
    expect(fs.existsSync(join(dir, WAL_FILE + '.rewrite'))).toBe(false);
  });

  it('keeps saves made while it runs, including truncations', async () => {
    const dir = tempDir();
    const { log } = open(dir, { rewriteMinBytes: 1 << 30 });
    const entries = Array.from({ length: 5000 }, (_, i) => e(i + 1, 1));
    await log.save(hs(1, 'peer1', 0), entries);
    for (let i = 0; i < 20; i++) await log.save(hs(1, 'peer1', i), []);
    const rewrite = log.rewrite();
    const saves = [log.save(hs(2, null, 10), [e(4000, 2)]), log.save(null, [e(4001, 2)]), log.save(hs(2, 'peer2', 20), [e(4002, 2)])];
    await Promise.all([rewrite, ...saves]);
    await log.save(hs(3, null, 30), [e(4003, 3)]);
    expect(log.stats().rewrites).toBe(1);
    await log.close();
    const { state } = open(dir);
    expect(state.hardState).toEqual(hs(3, null, 30));
    expect(state.entries).toEqual([...entries.slice(0, 3999), e(4000, 2), e(4001, 2), e(4002, 2), e(4003, 3)]);
  });

  it('starts by itself once dead records outweigh live ones, and the result survives damage checks', async () => {
    const dir = tempDir();
    const events: string[] = [];
    const { log } = open(dir, { rewriteMinBytes: 2048, onEvent: (m) => events.push(m) });
    for (let i = 1; i <= 100; i++) await log.save(hs(1, 'peer1', i), [e(i, 1)]);
    await log.rewrite(); // waits for one that is running, if any
    expect(log.stats().rewrites).toBeGreaterThanOrEqual(1);
    expect(events.some((m) => /rewrote/.test(m))).toBe(true);
    await log.close();
    const bytes = fs.readFileSync(join(dir, WAL_FILE));
    const frames = framesOf(bytes);
    // Write numbers stay consecutive in file order, so the damage rules still hold.
    const writes = [...new Set(frames.map((f) => f.b))];
    expect(writes).toEqual(writes.map((_, i) => writes[0]! + i));
    const copy = Buffer.from(bytes);
    copy[frames[0]!.start + 10]! ^= 1;
    expect(() => DurableLog.open(writeCopy(copy))).toThrow(StorageCorruptError);
    const { state } = open(dir);
    expect(state.entries).toHaveLength(100);
    expect(state.hardState.commit).toBe(100);
  });

  it('removes a temporary file left by a rewrite that was interrupted (and one of the older .compact name)', async () => {
    const { bytes, states } = await buildLog(tempDir());
    const dir = writeCopy(bytes);
    fs.writeFileSync(join(dir, WAL_FILE + '.rewrite'), 'half');
    fs.writeFileSync(join(dir, WAL_FILE + '.compact'), 'half');
    expect(open(dir).state).toEqual(states.at(-1)!.state);
    expect(fs.existsSync(join(dir, WAL_FILE + '.rewrite'))).toBe(false);
    expect(fs.existsSync(join(dir, WAL_FILE + '.compact'))).toBe(false);
  });
});

describe('DurableLog directory lock', () => {
  it('refuses a second open of the same directory until the first is closed', async () => {
    const dir = tempDir();
    const first = DurableLog.open(dir);
    expect(() => DurableLog.open(dir)).toThrow(/already open in this process/);
    await first.log.close();
    open(dir);
  });

  it('takes over a lock left by a process that died', () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'LOCK'), '2147483646 0\n');
    expect(open(dir).state.entries).toEqual([]);
  });

  it('refuses a directory locked by a live process', () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`);
    expect(() => DurableLog.open(dir)).toThrow(new RegExp(`in use by process ${process.ppid}`));
  });

  it('rejects saves after close', async () => {
    const { log } = open(tempDir());
    await log.close();
    await expect(log.save(null, [e(1, 1)])).rejects.toThrow(/after close/);
  });
});

describe('DurableLog cut (log compaction by snapshot)', () => {
  it('drops the entries through the cut and keeps those after it, across a restart', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(2, 'peer1', 10), Array.from({ length: 10 }, (_, i) => e(i + 1, i < 5 ? 1 : 2)));
    await log.cut(6, 2);
    expect(log.firstIndex).toBe(7);
    expect(log.lastIndex).toBe(10);
    await log.save(hs(2, 'peer1', 11), [e(11, 2)]);
    await log.close();
    const { state, report } = open(dir);
    expect(report.base).toEqual({ index: 6, term: 2 });
    expect(state.entries.map((x) => x.index)).toEqual([7, 8, 9, 10, 11]);
    expect(state.hardState).toEqual(hs(2, 'peer1', 11));
  });

  it('drops the whole log when it does not hold the cut entry with its term (a leader\'s snapshot, §7)', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(3, null, 2), [e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
    const cut = log.cut(3, 2); // the snapshot's entry 3 has term 2; ours has term 1
    const saved = log.save(hs(3, null, 3), [e(4, 3), e(5, 3)]);
    await Promise.all([cut, saved]);
    expect(log.lastIndex).toBe(5);
    await log.close();
    const { state, report } = open(dir);
    expect(report.base).toEqual({ index: 3, term: 2 });
    expect(state.entries).toEqual([e(4, 3), e(5, 3)]);
  });

  it('accepts a cut past the last entry, after which the log continues from the cut', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(1, null, 2), [e(1, 1), e(2, 1)]);
    await log.cut(50, 4);
    expect(log.lastIndex).toBe(50);
    await expect(log.save(null, [e(50, 4)])).rejects.toThrow(/does not follow/);
    await log.save(hs(4, null, 51), [e(51, 4)]);
    await log.close();
    const { state, report } = open(dir);
    expect(report.base).toEqual({ index: 50, term: 4 });
    expect(state.entries).toEqual([e(51, 4)]);
    expect(state.hardState.commit).toBe(51);
  });

  it('rewrites the file once the cut entries outweigh the live ones, and the rewritten file keeps the cut', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    const big = 'y'.repeat(200);
    await log.save(hs(1, 'peer1', 100), Array.from({ length: 100 }, (_, i) => e(i + 1, 1, big)));
    const before = fs.statSync(join(dir, WAL_FILE)).size;
    await log.cut(95, 1);
    await log.save(hs(1, 'peer1', 101), [e(101, 1)]); // the write after a cut starts the rewrite
    await log.rewrite(); // waits for the running one
    expect(log.stats().rewrites).toBeGreaterThanOrEqual(1);
    const after = fs.statSync(join(dir, WAL_FILE)).size;
    expect(after).toBeLessThan(before / 5);
    await log.close();
    const { state, report } = open(dir);
    expect(report.base).toEqual({ index: 95, term: 1 });
    expect(state.entries.map((x) => x.index)).toEqual([96, 97, 98, 99, 100, 101]);
  });

  it('keeps a cut and the saves made while a rewrite runs', async () => {
    const dir = tempDir();
    const { log } = open(dir, { rewriteMinBytes: 1 << 30 });
    await log.save(hs(1, 'peer1', 0), Array.from({ length: 3000 }, (_, i) => e(i + 1, 1)));
    for (let i = 0; i < 10; i++) await log.save(hs(1, 'peer1', i), []);
    const rewrite = log.rewrite();
    const during = [log.cut(2000, 1), log.save(hs(2, null, 2500), [e(3001, 2)])];
    await Promise.all([rewrite, ...during]);
    await log.save(null, [e(3002, 2)]);
    await log.close();
    const { state, report } = open(dir);
    expect(report.base).toEqual({ index: 2000, term: 1 });
    expect(state.entries[0]!.index).toBe(2001);
    expect(state.entries.at(-1)).toEqual(e(3002, 2));
    expect(state.entries).toHaveLength(1002);
  });

  it('refuses a save of entries at or below the cut', async () => {
    const dir = tempDir();
    const { log } = open(dir);
    await log.save(hs(1, null, 3), [e(1, 1), e(2, 1), e(3, 1)]);
    await log.cut(2, 1);
    await expect(log.save(null, [e(2, 1)])).rejects.toThrow(StorageError);
    await log.save(null, [e(3, 2)]);
    expect(log.lastIndex).toBe(3);
  });
});
