// Damaged durable state with real peer processes (issue: corrupted storage): a torn or corrupt
// tail is cut, reported, and the peer rejoins and catches up; damage in the middle stops the
// peer with a clear message instead of silently dropping committed entries.
//
// A torn write can only hit the write in progress when the process died, which nobody had been
// told about yet. So the damaged tail here is a last write added to the file of a stopped peer
// (a copy of its last hard state, as the next write), then torn or bit-flipped. (Every byte
// offset and bit of the last records is covered in storage.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { WAL_FILE, crc32 } from '../../peer/storage.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

/** Offsets of the records in a log file ([u32 len][u32 crc][payload] after an 8-byte header). */
function recordStarts(file: string): number[] {
  const buf = fs.readFileSync(file);
  const starts: number[] = [];
  for (let p = 8; p + 8 <= buf.length; p += 8 + buf.readUInt32LE(p)) starts.push(p);
  return starts;
}

/** Appends to a stopped peer's log one more write: a copy of its last hard state. Returns its bytes' offset. */
function appendLastWrite(file: string): { start: number; length: number } {
  const buf = fs.readFileSync(file);
  let hs: Record<string, unknown> | null = null;
  let lastWrite = 0;
  for (const p of recordStarts(file)) {
    const rec = JSON.parse(buf.subarray(p + 8, p + 8 + buf.readUInt32LE(p)).toString()) as Record<string, unknown>;
    if (rec.k === 'hs') hs = rec;
    lastWrite = Math.max(lastWrite, rec.b as number);
  }
  if (!hs) throw new Error(`no hard state in ${file}`);
  const payload = Buffer.from(JSON.stringify({ b: lastWrite + 1, k: 'hs', term: hs.term, vote: hs.vote, commit: hs.commit, end: 1 }));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  fs.appendFileSync(file, Buffer.concat([head, payload]));
  return { start: buf.length, length: 8 + payload.length };
}

describe('a peer with damaged durable state', () => {
  let c: TestCluster;
  const wal = (name: string) => join(c.dir, 'data', name, WAL_FILE);

  beforeAll(async () => {
    c = await startCluster({ peers: 3 });
    await c.waitForLeader();
    for (let i = 0; i < 10; i++) await c.write(['x', 'add', '1']);
  });

  afterAll(async () => {
    await c?.teardown();
  });

  /** Waits until every running peer has applied everything and holds the same store. */
  async function converged(expectX: number): Promise<void> {
    await waitFor(
      `every peer to apply x = ${expectX}`,
      async () => {
        const st = await c.statuses(c.names, true);
        return st.length === c.names.length && st.every((s) => s.kv?.x === expectX && s.appliedIndex === st[0]!.appliedIndex);
      },
      15_000,
    );
  }

  async function follower(): Promise<string> {
    const leader = await c.waitForLeader();
    return c.names.find((n) => n !== leader)!;
  }

  it('cuts a torn tail, reports it, and catches up from the leader', async () => {
    const f = await follower();
    await converged(10);
    await c.kill(f);
    const torn = appendLastWrite(wal(f));
    fs.truncateSync(wal(f), torn.start + Math.floor(torn.length / 2));
    c.start(f);
    await waitFor(`${f} to report the cut`, () => /CUT \d+ bytes of damaged tail \(incomplete record/.test(c.output(f)), 10_000);
    await c.write(['x', 'add', '1']);
    await converged(11);
  });

  it('cuts a last record whose bits flipped, and catches up', async () => {
    const f = await follower();
    await c.kill(f);
    const flipped = /CUT \d+ bytes of damaged tail \(checksum mismatch/g;
    const before = c.output(f).match(flipped)?.length ?? 0;
    const last = appendLastWrite(wal(f));
    const buf = fs.readFileSync(wal(f));
    buf[last.start + 20]! ^= 0x04; // inside the payload
    fs.writeFileSync(wal(f), buf);
    c.start(f);
    await waitFor(`${f} to report the cut`, () => (c.output(f).match(flipped)?.length ?? 0) > before, 10_000);
    await c.write(['x', 'add', '1']);
    await converged(12);
  });

  it('refuses to start, with a clear message, when a record in the middle is damaged', async () => {
    const f = await follower();
    await c.kill(f);
    const buf = fs.readFileSync(wal(f));
    const starts = recordStarts(wal(f));
    expect(starts.length).toBeGreaterThan(4);
    buf[starts[1]! + 12]! ^= 0x01;
    fs.writeFileSync(wal(f), buf);
    const proc = c.start(f);
    const code = await new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    expect(code).not.toBe(0);
    const out = c.output(f);
    expect(out).toMatch(new RegExp(`damaged at byte ${starts[1]}: checksum mismatch, followed by \\d+ valid records`));
    expect(out).toMatch(/Refusing to start/);
    // The file is left as it was, for a person to look at.
    expect(fs.readFileSync(wal(f)).equals(buf)).toBe(true);
    // The other two carry on.
    const r = await c.write(['x', 'add', '1'], { among: c.names.filter((n) => n !== f) });
    expect(r).toMatchObject({ ok: true, value: 13 });
  });
});
