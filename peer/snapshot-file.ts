// Snapshot files in a peer's data directory (log compaction, dissertation ch. 5).
//
// File layout (DIR/snap-<index, 20 digits>-<term>.snap):
//   line 1  "RAFTSNAP1 <CRC-32 of line 2, 8 hex> <CRC-32 of the data, 8 hex> <data bytes>\n"
//   line 2  {"index":5000,"term":7,"config":{"voters":["peer1","peer2","peer3"],"learners":[]}}\n
//   data    the snapshot's data as UTF-8: the shell's encoding of its store and client sessions
//           (peer/snapshot-state.ts); opaque here and to the Raft core
// The index and term are those of the last entry the snapshot covers; the configuration is the
// one in force at that index (the log before it is gone, so the snapshot must carry it).
//
// Writing (writeSnapshotFile): the whole file goes to `<name>.tmp`, is fsynced, renamed into
// place, and the directory is fsynced: a crash leaves the older snapshots and perhaps a
// temporary file, never a partial file under a snapshot's name. The writes go through the
// thread pool, so a large snapshot does not hold up the event loop. Only once this resolves may
// the durable log be cut (DurableLog.cut): the Raft core hands out Ready.compact only after the
// shell reported the snapshot durable.
//
// Reading (loadNewestSnapshot): leftover temporary files are removed (a write that never
// finished, so never reported durable); the snapshot files are tried newest first, and a file
// that is truncated, has a flipped byte (a checksum mismatch), a malformed header, or a name
// that disagrees with its content is reported and not trusted; the next older one is tried.
// Whether an older snapshot may stand in is for the caller to decide (checkSnapshotCoversLog):
// it can only if the durable log was not cut past it.
// The two newest snapshots are kept (pruneSnapshots), so one damaged file has a fallback.
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Config, Snapshot } from './raft/types.ts';
import { crc32 } from './storage.ts';

const MAGIC = 'RAFTSNAP1';
const NAME = /^snap-(\d{20})-(\d{1,15})\.snap$/;
const TMP_SUFFIX = '.tmp';
/** Snapshot files kept: the newest, and older ones to fall back on if it is damaged. */
export const SNAPSHOTS_KEPT = 2;
/** The header line is short; anything longer is damage. */
const MAX_HEAD = 200;
const MAX_META = 64 * 1024;

export class SnapshotDamagedError extends Error {
  override name = 'SnapshotDamagedError';
}

export function snapshotFileName(index: number, term: number): string {
  return `snap-${String(index).padStart(20, '0')}-${term}.snap`;
}

/** Writes `snap` durably into `dir` (temporary file, fsync, rename, fsync of the directory). Returns the file and its size. */
export async function writeSnapshotFile(dir: string, snap: Snapshot): Promise<{ file: string; bytes: number }> {
  const file = join(dir, snapshotFileName(snap.index, snap.term));
  const tmp = file + TMP_SUFFIX;
  const data = Buffer.from(snap.data, 'utf8');
  const meta = Buffer.from(`${JSON.stringify({ index: snap.index, term: snap.term, config: snap.config })}\n`, 'utf8');
  const head = Buffer.from(`${MAGIC} ${hex(crc32(meta.subarray(0, meta.length - 1)))} ${hex(crc32(data))} ${data.length}\n`, 'latin1');
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writev([head, meta, data]);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fs.promises.rename(tmp, file);
  await fsyncDirAsync(dir);
  return { file, bytes: head.length + meta.length + data.length };
}

/** Reads and checks one snapshot file; throws SnapshotDamagedError saying what is wrong. */
export function readSnapshotFile(file: string): Snapshot {
  const base = file.slice(file.lastIndexOf('/') + 1);
  const named = NAME.exec(base);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new SnapshotDamagedError(`cannot read it (${(e as Error).message})`);
  }
  const nl1 = buf.indexOf(0x0a);
  if (nl1 < 0 || nl1 > MAX_HEAD) throw new SnapshotDamagedError(buf.length < MAX_HEAD ? `truncated: ${buf.length} bytes, no whole header line` : 'no header line');
  const head = buf.subarray(0, nl1).toString('latin1').split(' ');
  if (head.length !== 4 || head[0] !== MAGIC || !/^[0-9a-f]{8}$/.test(head[1]!) || !/^[0-9a-f]{8}$/.test(head[2]!) || !/^\d{1,15}$/.test(head[3]!)) {
    throw new SnapshotDamagedError(`the header line is not "${MAGIC} <crc> <crc> <bytes>"`);
  }
  const nl2 = buf.indexOf(0x0a, nl1 + 1);
  if (nl2 < 0 || nl2 - nl1 > MAX_META) throw new SnapshotDamagedError(`truncated in its description line (${buf.length} bytes)`);
  const metaBytes = buf.subarray(nl1 + 1, nl2);
  if (hex(crc32(metaBytes)) !== head[1]) throw new SnapshotDamagedError('checksum mismatch in its description line (a damaged byte)');
  const size = Number(head[3]);
  const data = buf.subarray(nl2 + 1);
  if (data.length !== size) throw new SnapshotDamagedError(`${data.length < size ? 'truncated' : 'too long'}: the header says ${size} bytes of data, the file has ${data.length}`);
  if (hex(crc32(data)) !== head[2]) throw new SnapshotDamagedError('checksum mismatch in its data (a damaged byte)');
  const meta = parseMeta(metaBytes.toString('utf8'));
  if (named && (Number(named[1]) !== meta.index || Number(named[2]) !== meta.term)) {
    throw new SnapshotDamagedError(`its name says ${Number(named[1])}/${named[2]}, its content ${meta.index}/${meta.term}`);
  }
  return { index: meta.index, term: meta.term, config: meta.config, data: data.toString('utf8') };
}

function parseMeta(text: string): { index: number; term: number; config: Config } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new SnapshotDamagedError('its description line is not JSON');
  }
  const r = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
  const count = (v: unknown, min: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
  const names = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 32);
  const c = (typeof r.config === 'object' && r.config !== null ? r.config : {}) as Record<string, unknown>;
  if (!count(r.index, 1) || !count(r.term, 0) || !names(c.voters) || !names(c.learners)) {
    throw new SnapshotDamagedError('its description line lacks a valid index, term or configuration');
  }
  return { index: r.index as number, term: r.term as number, config: { voters: (c.voters as string[]).slice(), learners: (c.learners as string[]).slice() } };
}

export interface LoadedSnapshot {
  /** The newest snapshot that reads back whole; null when there is none. */
  snapshot: Snapshot | null;
  file: string | null;
  /** Newer files that were not trusted, and why (newest first). */
  rejected: { file: string; why: string }[];
  /** Temporary files of unfinished writes that were removed. */
  removedTemporary: string[];
}

/** Snapshot files in `dir`, newest (highest index) first. */
export function listSnapshots(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => NAME.test(n)).sort().reverse().map((n) => join(dir, n));
}

/**
 * Removes unfinished writes, then finds the newest snapshot that reads back whole (and that
 * `accept`, if given, does not throw on: the shell checks that its data decodes).
 */
export function loadNewestSnapshot(dir: string, accept?: (s: Snapshot) => void): LoadedSnapshot {
  const removedTemporary: string[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // no directory yet: no snapshot
  }
  for (const n of names) {
    if (n.endsWith(TMP_SUFFIX) && NAME.test(n.slice(0, -TMP_SUFFIX.length))) {
      fs.rmSync(join(dir, n), { force: true });
      removedTemporary.push(n);
    }
  }
  const rejected: { file: string; why: string }[] = [];
  for (const file of listSnapshots(dir)) {
    let snapshot: Snapshot;
    try {
      snapshot = readSnapshotFile(file);
    } catch (e) {
      if (!(e instanceof SnapshotDamagedError)) throw e;
      rejected.push({ file, why: e.message });
      continue;
    }
    try {
      accept?.(snapshot);
    } catch (e) {
      rejected.push({ file, why: (e as Error).message });
      continue;
    }
    return { snapshot, file, rejected, removedTemporary };
  }
  return { snapshot: null, file: null, rejected, removedTemporary };
}

/**
 * The durable log must continue the snapshot: a log cut through `logBase` needs a snapshot
 * ending at `logBase` or later, or the entries between are nowhere. Returns what is wrong (for
 * a clear refusal to start), or null.
 */
export function checkSnapshotCoversLog(dir: string, loaded: LoadedSnapshot, logBase: number): string | null {
  const have = loaded.snapshot?.index ?? 0;
  if (logBase <= have) return null;
  const damaged = loaded.rejected.map((r) => `${r.file}: ${r.why}`).join('; ');
  return (
    `the durable log in ${dir} was cut through entry ${logBase}, but ` +
    (loaded.snapshot ? `the newest snapshot that reads back whole ends at ${have}` : 'no snapshot reads back whole') +
    (damaged ? ` (not trusted: ${damaged})` : ' (no snapshot file found)') +
    `: entries ${have + 1}..${logBase} are nowhere on this disk. Refusing to start, because going on would lose committed ` +
    `state. To recover: restore ${dir} from a backup, or move it away and restart this peer empty so that it copies the ` +
    `state from the others (safe only while a majority of the cluster is healthy).`
  );
}

/** Removes all but the newest `keep` snapshot files (older ones are covered by the newer). */
export function pruneSnapshots(dir: string, keep = SNAPSHOTS_KEPT): string[] {
  const removed: string[] = [];
  for (const file of listSnapshots(dir).slice(keep)) {
    fs.rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
