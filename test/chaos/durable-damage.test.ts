// Damaged durable state, black box, with real processes: the durable file of a stopped follower
// is cut inside its real last records (writes the cluster had counted on), or has a byte flipped
// in the middle. A torn tail must be cut, reported, and made good from the leader, with every
// replica ending the same; damage in the middle must stop the peer with a clear message and a
// non-zero exit, leave the file alone, and the peer must start again once the file is whole.
// (test/integration/storage-recovery.test.ts tears an extra write appended to the file; storage.test.ts
// covers every byte offset in-process.)
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WAL_FILE } from '../../peer/storage.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

let c: TestCluster;
let x = 0; // acknowledged adds to x

const wal = (name: string) => join(c.dir, 'data', name, WAL_FILE);

/** The records of a log file: [u32 length][u32 crc][payload] after an 8-byte header. */
function records(file: string): { start: number; length: number }[] {
  const buf = fs.readFileSync(file);
  const out: { start: number; length: number }[] = [];
  for (let p = 8; p + 8 <= buf.length; p += 8 + buf.readUInt32LE(p)) out.push({ start: p, length: 8 + buf.readUInt32LE(p) });
  return out;
}

/** The last record that belongs to an earlier write than the file's last one (payload field b numbers writes). */
function lastBeforeLastWrite(buf: Buffer, recs: { start: number; length: number }[]): { start: number; length: number } {
  const writeOf = (r: { start: number; length: number }) => (JSON.parse(buf.subarray(r.start + 8, r.start + r.length).toString('utf8')) as { b: number }).b;
  const last = writeOf(recs[recs.length - 1]!);
  return [...recs].reverse().find((r) => writeOf(r) < last)!;
}

async function add(): Promise<void> {
  const r = await c.write(['x', 'add', 1], { timeoutMs: 30_000 });
  x++;
  expect(r).toMatchObject({ ok: true, value: x });
}

/** Every peer has applied the same log and holds the same store, with x as acknowledged. */
async function converged(): Promise<void> {
  await waitFor(
    `every peer to hold x = ${x} and the same store`,
    async () => {
      const st = await c.statuses(c.names, true);
      if (st.length !== c.names.length) return false;
      const same = st.every((s) => JSON.stringify(s.kv) === JSON.stringify(st[0]!.kv) && s.appliedIndex === st[0]!.appliedIndex);
      return same && st[0]!.kv?.x === x;
    },
    20_000,
  );
}

async function stoppedFollower(): Promise<string> {
  const leader = await c.waitForLeader({ timeoutMs: 30_000 });
  const f = c.names.find((n) => n !== leader)!;
  await converged();
  await c.kill(f);
  return f;
}

beforeAll(async () => {
  c = await startCluster({ peers: 3 });
  await c.waitForLeader();
  for (let i = 0; i < 15; i++) await add();
  await c.write(['name', 'set', 'village']);
});

afterAll(async () => {
  await c?.teardown();
});

describe('a peer whose durable file is damaged while it is stopped', () => {
  it('cut inside its last records at any of several offsets: starts, reports the cut, and catches up', async () => {
    const cuts: [string, (r: { start: number; length: number }) => number][] = [
      ['inside the length field', (r) => r.start + 2],
      ['inside the checksum', (r) => r.start + 6],
      ['at the first payload byte', (r) => r.start + 9],
      ['in the middle of the payload', (r) => r.start + Math.floor(r.length / 2)],
      ['one byte short of the end', (r) => r.start + r.length - 1],
    ];
    for (const [i, [where, at]] of cuts.entries()) {
      const f = await stoppedFollower();
      const recs = records(wal(f));
      const victim = recs[recs.length - 1 - (i % 2)]!; // the last record, or the one before it
      fs.truncateSync(wal(f), at(victim));
      const reported = (c.output(f).match(/CUT \d+ bytes of damaged tail/g) ?? []).length;
      c.start(f);
      await waitFor(`${f} to report the cut ${where}`, () => (c.output(f).match(/CUT \d+ bytes of damaged tail/g) ?? []).length > reported, 15_000);
      await add();
      await converged();
    }
    expect(c.names.every((n) => c.alive(n))).toBe(true);
  });

  it('damaged in the middle: refuses to start with a clear message, leaves the file alone, and starts once it is whole', async () => {
    const f = await stoppedFollower();
    const original = fs.readFileSync(wal(f));
    const recs = records(wal(f));
    expect(recs.length).toBeGreaterThan(12);
    const flips: [string, number][] = [
      ['a payload byte of an early record', recs[2]!.start + 8 + Math.floor((recs[2]!.length - 8) / 2)],
      ['a checksum byte in the middle', recs[recs.length >> 1]!.start + 5],
      ['a length byte in the middle', recs[recs.length >> 1]!.start + 1],
      // The last record before the last write (damage inside the last write is a torn write).
      ['the first payload byte of the record before the last write', lastBeforeLastWrite(original, recs).start + 8],
    ];
    for (const [where, at] of flips) {
      const damaged = Buffer.from(original);
      damaged[at]! ^= 0x10;
      fs.writeFileSync(wal(f), damaged);
      const from = c.output(f).length;
      const proc = c.start(f);
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => resolve(-1), 15_000);
        proc.once('exit', (code) => {
          clearTimeout(t);
          resolve(code);
        });
      });
      const out = c.output(f).slice(from);
      expect(code, `exit code with ${where} flipped (-1: still running)\n${out.slice(-1500)}`).not.toBe(-1);
      expect(code, where).not.toBe(0);
      expect(out, where).toMatch(/damaged at byte \d+/);
      expect(out, where).toMatch(/Refusing to start/);
      expect(fs.readFileSync(wal(f)).equals(damaged), `the file was changed after ${where} was flipped`).toBe(true);
    }
    // Whole again: it starts, and catches up with what it missed.
    fs.writeFileSync(wal(f), original);
    await add();
    c.start(f);
    await converged();
  });
});
