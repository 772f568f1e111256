// `npx tsx test/bench/snapshot.ts [--mb 50] [--value-bytes 100] [--random]`: what taking a snapshot of a
// large store costs the peer. Fills a KvStore with about MB megabytes of keys and values (and
// 10,000 client sessions; --random: values of random base64, which gzip cannot shrink much), then measures what peer/snapshots.ts does:
//   image    KvStore.image(): the synchronous copy (the event loop is blocked for all of it)
//   encode   encodeSnapshotState: JSON in slices + gzip in the thread pool; total time, and the
//            longest the event loop was held up meanwhile (a 1 ms timer's worst lateness)
//   write    writeSnapshotFile: temporary file, fsync, rename, directory fsync (thread pool)
//   decode   decodeSnapshotState + KvStore.restore, as on start or InstallSnapshot (synchronous)
// Prints the figures; asserts nothing.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeEntry, KvStore } from '../../peer/kv.ts';
import { writeSnapshotFile } from '../../peer/snapshot-file.ts';
import { decodeSnapshotState, encodeSnapshotState } from '../../peer/snapshot-state.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** Runs `fn` while a 1 ms timer measures how late it fires: the longest event-loop stall. */
async function withStallMeter<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; worstStallMs: number }> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  clearInterval(timer);
  worst = Math.max(worst, performance.now() - last - 1);
  return { value, ms, worstStallMs: worst };
}

async function main(): Promise<void> {
  const mb = arg('mb', 50);
  const valueBytes = arg('value-bytes', 100);
  const keys = Math.ceil((mb * 1024 * 1024) / (valueBytes + 16));
  const kv = new KvStore();
  let index = 0;
  const filler = 'v'.repeat(valueBytes - 8);
  const random = process.argv.includes('--random');
  const value = (i: number) => `${random ? randomBytes(valueBytes).toString('base64').slice(0, valueBytes - 8) : filler}${String(i).padStart(8, '0')}`;
  for (let i = 0; i < keys; i++) kv.apply(encodeEntry({ op: 'set', key: `key-${String(i).padStart(9, '0')}`, value: value(i) }), ++index);
  for (let i = 0; i < 10_000; i++) kv.apply(encodeEntry({ op: 'add', key: 'counter', amount: 1 }, `client-${i}`, 1), ++index);
  const stateBytes = keys * (valueBytes + 16);
  console.log(`store: ${keys} keys of ${valueBytes}-byte values (~${(stateBytes / 1048576).toFixed(0)} MiB of keys and values), ${kv.sessionCount} sessions`);

  const t0 = performance.now();
  const image = kv.image();
  const imageMs = performance.now() - t0;
  const enc = await withStallMeter(() => encodeSnapshotState({ image, ph: 12345 }));
  const dir = mkdtempSync(join(tmpdir(), 'rv-snapbench-'));
  try {
    const snap = { index, term: 3, data: enc.value, config: { voters: ['peer1', 'peer2', 'peer3'], learners: [] } };
    const wr = await withStallMeter(() => writeSnapshotFile(dir, snap));
    const t1 = performance.now();
    const restored = new KvStore();
    restored.restore(decodeSnapshotState(enc.value).image);
    const decodeMs = performance.now() - t1;
    if (restored.size !== kv.size) throw new Error(`restored ${restored.size} keys, expected ${kv.size}`);
    const f = (n: number) => n.toFixed(0).padStart(6);
    console.log(`image  (sync copy)        ${f(imageMs)} ms   (the event loop is blocked for all of it)`);
    console.log(`encode (slices + gzip)    ${f(enc.ms)} ms   longest event-loop stall ${enc.worstStallMs.toFixed(0)} ms; ${(enc.value.length / 1048576).toFixed(1)} MiB of snapshot data`);
    console.log(`write  (tmp, fsync, mv)   ${f(wr.ms)} ms   longest event-loop stall ${wr.worstStallMs.toFixed(0)} ms; file ${(wr.value.bytes / 1048576).toFixed(1)} MiB`);
    console.log(`decode + restore (sync)   ${f(decodeMs)} ms   (start, or a leader's snapshot installed)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
