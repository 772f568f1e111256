// Durable Raft state: term, vote, commit and the log, in one append-only file per peer, and the
// directory's id.
//
// File layout (DIR/raft.wal):
//   header   8 bytes  "RAFTWAL1"
//   records  [u32 LE payload length][u32 LE CRC-32 of the payload][payload: UTF-8 JSON]
// Payloads:
//   hard state  {"b":7,"k":"hs","term":3,"vote":"peer2","commit":12}
//   entry       {"b":7,"k":"e","index":13,"term":3,"data":"{\"cmd\":[\"x\",\"add\",100]}"}
//   config      {"b":8,"k":"e","index":14,"term":3,"data":null,"conf":{"voters":["peer1","peer2"],"learners":["peer6"]}}
//               (a configuration entry, dissertation §4.1: an entry with `conf`)
//   cut         {"b":9,"k":"cut","index":5000,"term":7}
// `b` numbers the write the record belongs to (consecutively in file order); the last record of
// each write has "end":1.
// Replaying the records in order gives the state: the last hard state wins, and an entry at or
// below the current last index replaces that entry and everything after it (Raft truncation,
// Figure 2, AppendEntries step 3). A cut record says the log now starts after entry `index`
// (log compaction: a durable snapshot covers everything through it, peer/snapshot-file.ts): if
// the log holds that entry with that term, the entries after it stay and those before go;
// otherwise (a leader's snapshot replaced a log that does not hold its last entry, §7) every
// entry goes and the log is empty after `index`.
//
// `b` is also what save() resolves with (the write number `w` of the -v events): it grows across
// restarts and rewrites, so "write 212 was durable" can be checked after a crash.
//
// Writes: save() appends a batch and resolves after one write and one fdatasync. The write
// starts in the turn after the first save (setImmediate), so every save of one event-loop turn
// shares it (or at once with save(..., startNow): the peer shell gathers each turn's inputs
// itself); write and fdatasync then run synchronously (on a fast disk ~0.1-0.2 ms, cheaper
// than two hops through the thread pool). Calls made while a write is in progress are queued
// and go out together in the next single write + fsync (group commit), in call order.
// save(hs, [], false) (a hard state that only moves the commit index) is written without an
// fsync of its own; the next durable save's fdatasync covers it.
//
// Recovery (open): records are read in order, and a write counts only when its last record is
// there (a write is whole or absent). A damaged record (incomplete, bad checksum) is a torn
// write when nothing valid follows it, or only the rest of the same write: the file is cut at
// the start of that write and the cut reported. A damaged record followed by valid records of
// other writes means the middle of the file is damaged: StorageCorruptError, because going on
// would silently drop entries that may be committed.
//
// Rewrite: overwritten entries and old hard states are dead weight. When they outweigh the
// live records (and exceed rewriteMinBytes), the live records are copied into a new file in the
// background while saves go on; then, briefly holding off saves, the records appended meanwhile
// are copied too, the new file is fsynced and renamed over the old one, and the directory fsynced.
//
// The directory's id (DIR/DATA_ID, one line of hex digits): random, created with the directory
// (written to a temporary file, fsynced, renamed into place, the directory fsynced) and never
// changed. It tells a reader of the -v events (the safety monitor) whether a restarted peer came
// back with the same directory, whose durable writes must then all be there, or with a new one
// (a reset on purpose: nothing is expected back). A directory from before ids existed gets one at
// its next start, and says so; a damaged id file is an error, never silently replaced.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { parseMembership } from '../shared/membership.ts';
import type { Config, Entry, HardState, PersistedState } from './raft/types.ts';

export const WAL_FILE = 'raft.wal';
export const LOCK_FILE = 'LOCK';
export const DATA_ID_FILE = 'DATA_ID';
/** What a data id looks like (DATA_ID holds one, then a newline). */
const DATA_ID = /^[0-9a-f]{8,64}$/;
const MAGIC = Buffer.from('RAFTWAL1', 'ascii');
const HEADER = MAGIC.length;
const FRAME = 8;
/** A record longer than this is treated as damage (a corrupted length field). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const READ_WINDOW = 4 * 1024 * 1024;
/** The temporary file a rewrite builds beside the log. */
const REWRITE_SUFFIX = '.rewrite';
/** Records per write when a rewrite copies the live records. */
const REWRITE_CHUNK = 1024;

// fs.write and fs.read promisify to { bytesWritten } and { bytesRead }.
const writeP = promisify(fs.write) as unknown as (fd: number, buf: Buffer, off: number, len: number, pos: number) => Promise<{ bytesWritten: number }>;
const readP = promisify(fs.read) as unknown as (fd: number, buf: Buffer, off: number, len: number, pos: number) => Promise<{ bytesRead: number }>;
const fsyncP = promisify(fs.fsync);
const closeP = promisify(fs.close);
const openP = promisify(fs.open) as (path: string, flags: string) => Promise<number>;

// ---- CRC-32 (IEEE, as zlib and gzip): node:zlib has it from Node 20.15; a table otherwise ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32Table(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const zlibCrc = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
export const crc32: (buf: Uint8Array) => number = typeof zlibCrc === 'function' ? (b) => zlibCrc(b) >>> 0 : crc32Table;

// ---- public types ----

export interface RecoveryReport {
  /** Valid records read. */
  records: number;
  /** Where the log starts: the last entry a cut record removed (its index and term); null when nothing was cut. */
  base: { index: number; term: number } | null;
  /** Bytes cut off the end of the file (a torn or corrupt tail); 0 when the file was whole. */
  cutBytes: number;
  /** Why the tail was cut, with the byte offset; null when nothing was cut. */
  cutReason: string | null;
  /** The file that was read. */
  file: string;
  /** The number of the last whole write recovered (0 for an empty file). */
  lastWrite: number;
  /** The directory's id (DATA_ID). */
  dataId: string;
  /** Said when the id was created or something about it needs a person's attention; null otherwise. */
  dataIdNote: string | null;
}

export class StorageCorruptError extends Error {
  override name = 'StorageCorruptError';
  constructor(
    message: string,
    readonly file: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Storage that can no longer be trusted (a failed write or fsync, a lock held by another process). */
export class StorageError extends Error {
  override name = 'StorageError';
}

export interface DurableLogOptions {
  /** Rewrite only once dead records take at least this many bytes (and outweigh the live ones). */
  rewriteMinBytes?: number;
  /**
   * Makes written data durable. By default the write and an fdatasync run synchronously on the
   * event loop (one write + one fdatasync for every save of that turn): on a fast disk that is
   * cheaper than two round trips through the thread pool. Tests inject a gate or a counter here
   * (the write then goes through the thread pool too).
   */
  sync?: (fd: number) => Promise<void>;
  /** Told about rewrites and their failures, for the peer's log. */
  onEvent?: (message: string) => void;
}

export interface StorageStats {
  saves: number;
  writes: number;
  syncs: number;
  rewrites: number;
  fileBytes: number;
  liveBytes: number;
  deadBytes: number;
}

// ---- records ----

type RecordBody =
  | { k: 'hs'; term: number; vote: string | null; commit: number }
  | { k: 'e'; index: number; term: number; data: string | null; conf?: Config }
  | { k: 'cut'; index: number; term: number };
type WalRecord = RecordBody & { b: number; end?: 1 };

function encodeRecord(body: RecordBody, batch: number, end: boolean): Buffer {
  const rec: Record<string, unknown> = { b: batch, ...body };
  if (end) rec.end = 1;
  const payload = Buffer.from(JSON.stringify(rec), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  payload.copy(frame, FRAME);
  return frame;
}

function isCount(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= min;
}

/** The record's content, or why a checksummed payload is still not a record. */
function decodePayload(payload: Buffer): WalRecord | string {
  let o: unknown;
  try {
    o = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'payload is not JSON';
  }
  if (typeof o !== 'object' || o === null) return 'payload is not an object';
  const r = o as Record<string, unknown>;
  if (!isCount(r.b, 0)) return 'payload has no write number';
  if (r.k === 'hs') {
    if (!isCount(r.term, 0) || !(r.vote === null || typeof r.vote === 'string') || !isCount(r.commit, 0)) return 'malformed hard state';
    return r as unknown as WalRecord;
  }
  if (r.k === 'e') {
    if (!isCount(r.index, 1) || !isCount(r.term, 0) || !(r.data === null || typeof r.data === 'string')) return 'malformed entry';
    if (r.conf !== undefined) {
      const conf = parseMembership(r.conf);
      if (typeof conf === 'string') return `malformed configuration entry (${conf})`;
    }
    return r as unknown as WalRecord;
  }
  if (r.k === 'cut') {
    if (!isCount(r.index, 1) || !isCount(r.term, 0)) return 'malformed cut';
    return r as unknown as WalRecord;
  }
  return `unknown record kind ${JSON.stringify(r.k)}`;
}

/** The log entry an entry record holds (a configuration entry keeps its `conf`). */
function entryOf(rec: { index: number; term: number; data: string | null; conf?: Config }): Entry {
  return rec.conf === undefined ? { index: rec.index, term: rec.term, data: rec.data } : { index: rec.index, term: rec.term, data: rec.data, conf: rec.conf };
}

/** Reads a file through a sliding window, so recovery needs little memory for any file size. */
class WindowReader {
  private buf = Buffer.alloc(0);
  private start = 0;
  private filled = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** `len` bytes at `pos`, or null past the end. Valid until the next call. */
  get(pos: number, len: number): Buffer | null {
    if (pos < 0 || pos + len > this.size) return null;
    if (pos < this.start || pos + len > this.start + this.filled) {
      const want = Math.min(Math.max(len, READ_WINDOW), this.size - pos);
      if (this.buf.length < want) this.buf = Buffer.allocUnsafe(Math.max(want, READ_WINDOW));
      let got = 0;
      while (got < want) {
        const n = fs.readSync(this.fd, this.buf, got, want - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      this.start = pos;
      this.filled = got;
      if (got < len) return null;
      return this.buf.subarray(0, len);
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

type Frame = { ok: true; rec: WalRecord; size: number } | { ok: false; why: string; checksummed: boolean };

function readFrame(r: WindowReader, pos: number): Frame {
  const head = r.get(pos, FRAME);
  if (!head) return { ok: false, why: `incomplete record header (${r.size - pos} bytes left)`, checksummed: false };
  const len = head.readUInt32LE(0);
  const crc = head.readUInt32LE(4);
  if (len === 0) return { ok: false, why: 'zero record length', checksummed: false };
  if (len > MAX_RECORD_BYTES) return { ok: false, why: `implausible record length ${len}`, checksummed: false };
  const payload = r.get(pos + FRAME, len);
  if (!payload) return { ok: false, why: `incomplete record (length says ${len} bytes, ${r.size - pos - FRAME} left)`, checksummed: false };
  if (crc32(payload) !== crc) return { ok: false, why: 'checksum mismatch', checksummed: false };
  const rec = decodePayload(payload);
  if (typeof rec === 'string') return { ok: false, why: rec, checksummed: true };
  return { ok: true, rec, size: FRAME + len };
}

/** The next offset after `from` where a valid record starts, or -1. */
function scanForRecord(r: WindowReader, from: number): number {
  for (let q = from; q + FRAME < r.size; q++) {
    const head = r.get(q, FRAME + 1);
    if (!head) return -1;
    const len = head.readUInt32LE(0);
    // Payloads are JSON objects: cheap filters before the checksum.
    if (len < 2 || len > MAX_RECORD_BYTES || q + FRAME + len > r.size || head[FRAME] !== 0x7b) continue;
    const f = readFrame(r, q);
    if (f.ok) return q;
  }
  return -1;
}

// ---- lock: one process per data directory ----

function processStart(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function isAlive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A live pid that was reused by another process after a crash is not the holder.
  return start === '' || processStart(pid) === '' || processStart(pid) === start;
}

const openInThisProcess = new Set<string>();

function takeLock(dir: string): string {
  const path = join(dir, LOCK_FILE);
  if (openInThisProcess.has(path)) throw new StorageError(`${dir} is already open in this process; close() it first`);
  const mine = `${process.pid} ${processStart(process.pid)}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(path, 'wx');
      fs.writeSync(fd, mine);
      fs.closeSync(fd);
      openInThisProcess.add(path);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = '';
    try {
      holder = fs.readFileSync(path, 'utf8').trim();
    } catch {
      continue;
    }
    const [pidText, start = ''] = holder.split(' ');
    const pid = Number(pidText);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid, start)) {
      throw new StorageError(`${dir} is in use by process ${pid} (another peer with the same name?); stop it, or delete ${path} if that process is not a peer`);
    }
    fs.rmSync(path, { force: true }); // left behind by a process that died
  }
  throw new StorageError(`could not lock ${dir}: ${path} keeps reappearing`);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// ---- the directory's id ----

/** The id in DIR/DATA_ID; null when there is none. Throws StorageError when the file is damaged. */
function readDataId(dir: string): string | null {
  const path = join(dir, DATA_ID_FILE);
  let size: number;
  try {
    size = fs.statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const text = size <= 128 ? fs.readFileSync(path, 'latin1') : null;
  const id = text !== null && text.endsWith('\n') ? text.slice(0, -1) : null;
  if (id !== null && DATA_ID.test(id)) return id;
  const found = text === null ? `${size} bytes` : text.length === 0 ? 'an empty file' : JSON.stringify(text.slice(0, 64));
  throw new StorageError(
    `${path} is damaged: it should hold this data directory's id (hex digits and a newline), but holds ${found}. ` +
      `The id tells whoever checks the cluster that this directory still holds everything this peer reported durable, ` +
      `so it is never replaced silently. Restore the file from a backup; or, if this directory is to count as a new one ` +
      `(its durable state reset on purpose), delete ${path} and the peer will create a new id when it starts.`,
  );
}

/** Creates DIR/DATA_ID with a new random id, durably: temporary file, fsync, rename, fsync of the directory. */
function createDataId(dir: string): string {
  const id = randomBytes(6).toString('hex');
  const path = join(dir, DATA_ID_FILE);
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeAllSync(fd, Buffer.from(`${id}\n`, 'latin1'), 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  fsyncDir(dir);
  return id;
}

// ---- the log ----

interface Pending {
  hardState: HardState | null;
  entries: Entry[];
  /** A cut record, written before the entries (see cut()). */
  cut?: { index: number; term: number };
  /** false: written, but this save alone does not wait for an fsync (see save()). */
  durable: boolean;
  /** With the number of the write that carried it (or of the last write, when it carried nothing new). */
  resolve: (write: number) => void;
  reject: (e: Error) => void;
}

export class DurableLog {
  readonly file: string;
  private fd: number;
  private size: number;
  /** File offset, record size and term of the live record of entry base+1+i. */
  private offsets: number[] = [];
  private lengths: number[] = [];
  private terms: number[] = [];
  private liveEntryBytes = 0;
  /** The last entry removed by a cut (0/0: none); the log holds base+1.. */
  private base = 0;
  private baseTerm = 0;
  /** Size of the last cut record (live, like the last hard state). */
  private cutBytes = 0;
  /** A cut made dead records since the last rewrite: a rewrite is due once they outweigh the live ones, whatever their size. */
  private cutSinceRewrite = false;
  private hsOffset = -1;
  private hsBytes = 0;
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private nextBatch = 1;
  /** The number of the last write in the file (what a save resolves with once it is on disk). */
  private lastWrite = 0;
  /** The directory's id (DATA_ID). */
  dataId = '';

  /** The last index once every queued save is written (for checking new saves). */
  private queuedLast: number;
  /** The base once every queued cut is written. */
  private queuedBase = 0;
  private queuedHardState: HardState;
  private queue: Pending[] = [];
  /** The saves whose write + fsync is in progress. */
  private inflight: Pending[] | null = null;
  /** Whether the write in progress ends with an fsync. */
  private inflightDurable = false;
  /** Bytes were written without an fsync since the last one. */
  private unsynced = false;
  private writing = false;
  /** A write is scheduled for the next turn (setImmediate) and has not started yet. */
  private writeScheduled = false;
  private drained: (() => void)[] = [];
  private ioTail: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private rewriting: Promise<void> | null = null;
  private readonly counters = { saves: 0, writes: 0, syncs: 0, rewrites: 0 };
  private readonly syncFn: ((fd: number) => Promise<void>) | null;
  private readonly rewriteMinBytes: number;
  private readonly onEvent: (message: string) => void;

  private constructor(
    readonly dir: string,
    private readonly lockPath: string,
    opts: DurableLogOptions,
  ) {
    this.file = join(dir, WAL_FILE);
    this.syncFn = opts.sync ?? null;
    this.rewriteMinBytes = opts.rewriteMinBytes ?? 8 * 1024 * 1024;
    this.onEvent = opts.onEvent ?? (() => {});
    this.fd = -1;
    this.size = 0;
    this.queuedLast = 0;
    this.queuedHardState = this.hardState;
  }

  /**
   * Opens (creating if needed) the log in `dir` and recovers its state. Synchronous: a peer
   * cannot do anything before it knows its term, vote and log.
   * Throws StorageCorruptError when the middle of the file is damaged.
   */
  static open(dir: string, opts: DurableLogOptions = {}): { log: DurableLog; state: PersistedState; report: RecoveryReport } {
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      try {
        fsyncDir(dirname(dir));
      } catch {
        // best effort: some file systems refuse to fsync a directory
      }
    }
    const lockPath = takeLock(dir);
    const log = new DurableLog(dir, lockPath, opts);
    try {
      // A crash while the id was being created leaves only the temporary file: the id is not there.
      fs.rmSync(join(dir, `${DATA_ID_FILE}.tmp`), { force: true });
      const found = readDataId(dir);
      const hadLog = fs.existsSync(log.file);
      const { state, report } = log.recover();
      if (found !== null) {
        report.dataId = found;
        if (!hadLog) report.dataIdNote = `${DATA_ID_FILE} is there but ${WAL_FILE} is not: starting with an empty log under the same id ${found}`;
      } else {
        report.dataId = createDataId(dir);
        report.dataIdNote = hadLog
          ? `${dir} had no ${DATA_ID_FILE} (made before data directories had ids): created ${report.dataId}`
          : `new data directory ${dir}: id ${report.dataId}`;
      }
      log.dataId = report.dataId;
      return { log, state, report };
    } catch (e) {
      if (log.fd >= 0) fs.closeSync(log.fd);
      log.releaseLock();
      throw e;
    }
  }

  private recover(): { state: PersistedState; report: RecoveryReport } {
    // An interrupted rewrite (named .compact before rewrites had their name); the log itself is whole.
    fs.rmSync(this.file + REWRITE_SUFFIX, { force: true });
    fs.rmSync(this.file + '.compact', { force: true });
    let created = false;
    if (!fs.existsSync(this.file)) {
      this.fd = fs.openSync(this.file, 'w+');
      created = true;
    } else {
      this.fd = fs.openSync(this.file, 'r+');
    }
    let size = fs.fstatSync(this.fd).size;
    const report: RecoveryReport = { records: 0, base: null, cutBytes: 0, cutReason: null, file: this.file, lastWrite: 0, dataId: '', dataIdNote: null };
    const entries: Entry[] = [];

    if (size < HEADER) {
      const head = Buffer.alloc(size);
      if (size > 0) fs.readSync(this.fd, head, 0, size, 0);
      if (!MAGIC.subarray(0, size).equals(head)) throw this.corrupt(0, 'the file does not start with the RAFTWAL1 header', 'It is not a Raft Village log.');
      // Empty, or the header itself was torn while the file was being created.
      fs.ftruncateSync(this.fd, 0);
      fs.writeSync(this.fd, MAGIC, 0, HEADER, 0);
      fs.fsyncSync(this.fd);
      if (created || size === 0) fsyncDir(this.dir);
      size = HEADER;
    } else {
      const head = Buffer.alloc(HEADER);
      fs.readSync(this.fd, head, 0, HEADER, 0);
      if (!head.equals(MAGIC)) throw this.corrupt(0, 'the file does not start with the RAFTWAL1 header', 'It is not a Raft Village log.');
    }

    const reader = new WindowReader(this.fd, size);
    let pos = HEADER;
    let last: { b: number; end: boolean } | null = null;
    let maxBatch = 0;
    // Records of the write being read; applied only once its last record ("end") is read, so a
    // write counts whole or not at all.
    let open: { rec: WalRecord; pos: number; size: number }[] = [];
    let cutAt = -1;
    while (pos < size) {
      const f = readFrame(reader, pos);
      if (!f.ok) {
        if (f.checksummed) throw this.corrupt(pos, f.why, 'The record has a valid checksum, so this is not a torn write.');
        const dropped = this.judgeDamage(reader, pos, f.why, last);
        cutAt = open.length > 0 ? open[0]!.pos : pos;
        report.cutReason =
          `${f.why} at byte ${pos}: a torn write at the end of the file` +
          (dropped > 0 ? ` (${dropped} later record${dropped === 1 ? '' : 's'} of the same write dropped with it)` : '') +
          (open.length > 0 ? ` (the write began at byte ${cutAt} with ${open.length} whole record${open.length === 1 ? '' : 's'})` : '');
        break;
      }
      open.push({ rec: f.rec, pos, size: f.size });
      last = { b: f.rec.b, end: f.rec.end === 1 };
      pos += f.size;
      if (!last.end) continue;
      for (const r of open) {
        const rec = r.rec;
        if (rec.k === 'e' && (rec.index > this.lastIndex + 1 || rec.index <= this.base)) {
          throw this.corrupt(r.pos, `entry ${rec.index} follows entry ${this.lastIndex}${this.base > 0 ? ` in a log cut through ${this.base}` : ''}`, 'The log has a gap.');
        }
        const baseBefore = this.base;
        this.track(rec, r.pos, r.size);
        if (rec.k === 'e') {
          entries.length = rec.index - this.base - 1;
          entries.push(entryOf(rec));
        } else if (rec.k === 'cut' && this.base !== baseBefore) {
          entries.splice(0, Math.min(entries.length, this.base - baseBefore));
          entries.length = this.lastIndex - this.base;
        }
        report.records++;
        maxBatch = Math.max(maxBatch, rec.b);
      }
      open = [];
    }
    if (cutAt < 0 && open.length > 0) {
      cutAt = open[0]!.pos;
      report.cutReason = `the last write (from byte ${cutAt}, ${open.length} record${open.length === 1 ? '' : 's'}) never finished`;
    }
    if (cutAt >= 0) {
      report.cutBytes = size - cutAt;
      report.cutReason += `; ${report.cutBytes} bytes cut`;
      fs.ftruncateSync(this.fd, cutAt);
      fs.fsyncSync(this.fd);
      size = cutAt;
    }
    this.size = size;
    this.nextBatch = maxBatch + 1;
    this.lastWrite = maxBatch;
    report.lastWrite = maxBatch;
    this.queuedLast = this.lastIndex;
    this.queuedBase = this.base;
    if (this.base > 0) report.base = { index: this.base, term: this.baseTerm };
    // A torn write may keep a hard state whose commit is ahead of the entries that made it.
    const hardState: HardState = { ...this.hardState, commit: Math.min(this.hardState.commit, this.lastIndex) };
    this.hardState = hardState;
    this.queuedHardState = hardState;
    return { state: { hardState: { ...hardState }, entries }, report };
  }

  /**
   * A damaged record at `pos`: returns how many valid records after it belong to the same
   * unfinished write (so cutting is safe), or throws StorageCorruptError.
   */
  private judgeDamage(reader: WindowReader, pos: number, why: string, last: { b: number; end: boolean } | null): number {
    const batches = new Set<number>();
    let count = 0;
    let first = -1;
    let q = scanForRecord(reader, pos + 1);
    while (q >= 0) {
      if (first < 0) first = q;
      const f = readFrame(reader, q);
      if (!f.ok) {
        q = scanForRecord(reader, q + 1);
        continue;
      }
      batches.add(f.rec.b);
      count++;
      q += f.size;
      if (q >= reader.size) break;
    }
    if (count === 0) return 0;
    const only = batches.size === 1 ? [...batches][0]! : null;
    // A torn write can only hurt the last write. It is the last write if everything after the
    // damage is one write and the damage lies inside it: that write began before the damage
    // (same number, not ended), or right at it. Writes are numbered consecutively in file order,
    // so "right at it" means the number after the last ended write (or 1 in a file with none),
    // and no whole earlier write can be hiding in the damaged bytes.
    const next = last === null ? 1 : last.end ? last.b + 1 : last.b;
    const sameWrite = only !== null && only === next;
    if (sameWrite) return count;
    throw this.corrupt(
      pos,
      `${why}, followed by ${count} valid record${count === 1 ? '' : 's'} (the first at byte ${first})`,
      'This is damage in the middle of the file, not a torn write at its end.',
    );
  }

  private corrupt(offset: number, what: string, note: string): StorageCorruptError {
    return new StorageCorruptError(
      `${this.file}: damaged at byte ${offset}: ${what}. ${note} Refusing to start, because going on could silently lose ` +
        `committed entries. To recover: restore ${this.dir} from a backup, or move it away and restart this peer empty so that ` +
        `it copies the log from the others (safe only while a majority of the cluster is healthy).`,
      this.file,
      offset,
    );
  }

  /** Updates the bookkeeping for a record now at `offset` in the file. */
  private track(rec: WalRecord, offset: number, size: number): void {
    if (rec.k === 'hs') {
      this.hardState = { term: rec.term, vote: rec.vote, commit: rec.commit };
      this.hsOffset = offset;
      this.hsBytes = size;
      return;
    }
    if (rec.k === 'cut') {
      this.cutBytes = size;
      if (rec.index <= this.base) return;
      const held = rec.index <= this.lastIndex && this.terms[rec.index - this.base - 1] === rec.term;
      const drop = held ? rec.index - this.base : this.offsets.length;
      for (let i = 0; i < drop; i++) this.liveEntryBytes -= this.lengths[i]!;
      this.offsets.splice(0, drop);
      this.lengths.splice(0, drop);
      this.terms.splice(0, drop);
      this.base = rec.index;
      this.baseTerm = rec.term;
      this.cutSinceRewrite = true;
      return;
    }
    const keep = rec.index - this.base - 1;
    for (let i = keep; i < this.lengths.length; i++) this.liveEntryBytes -= this.lengths[i]!;
    this.offsets.length = keep;
    this.lengths.length = keep;
    this.terms.length = keep;
    this.offsets.push(offset);
    this.lengths.push(size);
    this.terms.push(rec.term);
    this.liveEntryBytes += size;
  }

  /** Index of the last entry written (the base when no entry follows it). */
  get lastIndex(): number {
    return this.base + this.offsets.length;
  }

  /** The first index the log holds (entries before it were cut). */
  get firstIndex(): number {
    return this.base + 1;
  }

  stats(): StorageStats {
    const live = HEADER + this.liveEntryBytes + this.hsBytes + (this.base > 0 ? this.cutBytes : 0);
    return { ...this.counters, fileBytes: this.size, liveBytes: live, deadBytes: this.size - live };
  }

  /**
   * Appends a hard state and/or entries and resolves once they are on stable storage (one write,
   * one fsync, shared with other saves made meanwhile). An entry at or below the last index
   * replaces it and everything after it. With `durable` false the save resolves once written,
   * without an fsync of its own (the next durable save's fsync covers it): for a hard state
   * that only moves the commit index, which Raft may lose in a crash.
   * With `startNow` the write starts at once instead of in the next turn: for a caller that
   * has already gathered this turn's work into this save (the peer shell does).
   * Resolves with the number of the write that carried the save (the `b` of its records; for a
   * save that carried nothing new, the last write's): the peer reports it as `persisted.w`.
   */
  save(hardState: HardState | null, entries: Entry[], durable = true, startNow = false): Promise<number> {
    if (this.closed) return Promise.reject(new StorageError(`${this.file}: save() after close()`));
    if (this.failed) return Promise.reject(this.failed);
    let expect = entries.length > 0 ? entries[0]!.index : 0;
    if (entries.length > 0 && (expect <= this.queuedBase || expect > this.queuedLast + 1)) {
      return Promise.reject(new StorageError(`save: entry ${expect} does not follow the last index ${this.queuedLast}`));
    }
    for (const e of entries) {
      if (e.index !== expect++ || !isCount(e.term, 0) || !(e.data === null || typeof e.data === 'string')) {
        return Promise.reject(new StorageError(`save: entries must be consecutive with whole-number terms; bad entry ${JSON.stringify(e)}`));
      }
    }
    if (hardState && (!isCount(hardState.term, 0) || !isCount(hardState.commit, 0) || !(hardState.vote === null || typeof hardState.vote === 'string'))) {
      return Promise.reject(new StorageError(`save: bad hard state ${JSON.stringify(hardState)}`));
    }
    const hs = hardState && !sameHardState(hardState, this.queuedHardState) ? { ...hardState } : null;
    if (hs) this.queuedHardState = hs;
    if (entries.length > 0) this.queuedLast = entries[entries.length - 1]!.index;
    this.counters.saves++;
    if (!hs && entries.length === 0) {
      // Nothing new to write, but what it repeats may still be on its way to the disk: resolve
      // together with the write that carries it.
      if (this.queue.length === 0 && this.inflight === null && (!durable || !this.unsynced)) return Promise.resolve(this.lastWrite);
      if (this.queue.length === 0 && this.inflight !== null && (this.inflightDurable || !durable)) {
        return new Promise<number>((resolve, reject) => this.inflight!.push({ hardState: null, entries: [], durable, resolve, reject }));
      }
    }
    return this.enqueue({ hardState: hs, entries, durable }, startNow);
  }

  /**
   * Log compaction on disk: the log now starts after entry `index` of term `term` (a cut
   * record; see the file's opening comment). Call it only once a durable snapshot covers
   * `index`: the shell does on Ready.compact, and on Ready.restore after the snapshot's file is
   * in place. Goes out with the next write, before the entries of saves made after it, without
   * an fsync of its own: a crash that loses it leaves a longer log, which the snapshot still
   * continues. Resolves with the number of the write that carried it.
   */
  cut(index: number, term: number): Promise<number> {
    if (this.closed) return Promise.reject(new StorageError(`${this.file}: cut() after close()`));
    if (this.failed) return Promise.reject(this.failed);
    if (!isCount(index, 1) || !isCount(term, 0)) return Promise.reject(new StorageError(`cut: bad index or term ${index}/${term}`));
    if (index <= this.queuedBase) return Promise.resolve(this.lastWrite);
    this.queuedBase = index;
    if (index > this.queuedLast) this.queuedLast = index;
    return this.enqueue({ hardState: null, entries: [], cut: { index, term }, durable: false }, false);
  }

  private enqueue(p: Omit<Pending, 'resolve' | 'reject'>, startNow: boolean): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ ...p, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        if (startNow) {
          void this.writeLoop();
          return;
        }
        // The write starts once this turn's inputs are handled, so every save made in the same
        // turn (other sockets' messages included) shares it.
        this.writeScheduled = true;
        setImmediate(() => {
          if (!this.writeScheduled) return;
          this.writeScheduled = false;
          void this.writeLoop();
        });
      } else if (startNow && this.writeScheduled) {
        this.writeScheduled = false;
        void this.writeLoop();
      }
    });
  }

  /** Runs `fn` with the file to itself (no write or rewrite step in between). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.ioTail.then(fn);
    this.ioTail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.exclusive(() => this.writeBatch());
      }
    } finally {
      this.writing = false;
      for (const d of this.drained.splice(0)) d();
    }
    this.maybeRewrite();
  }

  private async writeBatch(): Promise<void> {
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    // Saves that repeat what this write carries join it (see save()) until it settles.
    this.inflight = batch;
    this.inflightDurable = batch.some((p) => p.durable);
    const settle = (err: Error | null, write: number) => {
      this.inflight = null; // before settling, so that nobody joins a batch already settled
      for (const p of batch) {
        if (err) p.reject(err);
        else p.resolve(write);
      }
    };
    try {
      settle(null, await this.writeRecords(batch));
    } catch (e) {
      settle(e as Error, 0);
    }
  }

  /** Writes and fsyncs a batch; returns its write number; throws (and fails the log) if either fails. */
  private async writeRecords(batch: Pending[]): Promise<number> {
    if (this.failed) throw this.failed;
    const bodies: RecordBody[] = [];
    for (const p of batch) {
      if (p.cut) bodies.push({ k: 'cut', index: p.cut.index, term: p.cut.term });
      if (p.hardState) bodies.push({ k: 'hs', term: p.hardState.term, vote: p.hardState.vote, commit: p.hardState.commit });
      for (const e of p.entries) bodies.push(e.conf === undefined ? { k: 'e', index: e.index, term: e.term, data: e.data } : { k: 'e', index: e.index, term: e.term, data: e.data, conf: e.conf });
    }
    const durable = batch.some((p) => p.durable);
    if (bodies.length === 0) {
      if (!durable || !this.unsynced) return this.lastWrite;
      try {
        if (this.syncFn) await this.syncFn(this.fd);
        else fs.fdatasyncSync(this.fd);
        this.counters.syncs++;
        this.unsynced = false;
      } catch (e) {
        this.failed = new StorageError(`${this.file}: fsync failed (${(e as Error).message}); this peer must stop and restart from its file`);
        for (const p of this.queue.splice(0)) p.reject(this.failed);
        throw this.failed;
      }
      return this.lastWrite;
    }
    const b = this.nextBatch++;
    const frames = bodies.map((body, i) => encodeRecord(body, b, i === bodies.length - 1));
    const buf = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    const at = this.size;
    try {
      if (this.syncFn) await writeAll(this.fd, buf, at);
      else writeAllSync(this.fd, buf, at);
      this.counters.writes++;
      if (durable) {
        if (this.syncFn) await this.syncFn(this.fd);
        else fs.fdatasyncSync(this.fd);
        this.counters.syncs++;
        this.unsynced = false;
      } else {
        this.unsynced = true;
      }
    } catch (e) {
      // After a failed fsync the kernel may have dropped the data: nothing written since the
      // last good fsync can be trusted, so this log refuses all further saves.
      this.failed = new StorageError(`${this.file}: write failed (${(e as Error).message}); this peer must stop and restart from its file`);
      for (const p of this.queue.splice(0)) p.reject(this.failed);
      throw this.failed;
    }
    let off = at;
    for (let i = 0; i < bodies.length; i++) {
      this.track({ ...bodies[i]!, b }, off, frames[i]!.length);
      off += frames[i]!.length;
    }
    this.size = off;
    this.lastWrite = b;
    return b;
  }

  private maybeRewrite(): void {
    if (this.rewriting || this.closed || this.failed) return;
    const { liveBytes, deadBytes } = this.stats();
    if (deadBytes >= liveBytes && (deadBytes >= this.rewriteMinBytes || this.cutSinceRewrite)) {
      void this.rewrite();
    }
  }

  /** Rewrites the file with only its live records. Runs beside saves; resolves when done (or failed). */
  rewrite(): Promise<void> {
    if (this.rewriting) return this.rewriting;
    if (this.closed || this.failed) return Promise.resolve();
    this.rewriting = this.runRewrite()
      .catch((e: Error) => {
        if (!this.closed) this.onEvent(`rewrite of ${this.file} failed, the old file stays in use: ${e.message}`);
      })
      .finally(() => {
        this.rewriting = null;
      });
    return this.rewriting;
  }

  private async runRewrite(): Promise<void> {
    const tmp = this.file + REWRITE_SUFFIX;
    // 1. What is live now. Records before `snap` never change; saves append after it.
    const snap = this.size;
    // The log's start then: the body repeats its cut record (a cut made meanwhile is in the tail).
    const rbase = this.base;
    const rbaseTerm = this.baseTerm;
    this.cutSinceRewrite = false;
    const n = this.offsets.length;
    const srcOff = this.offsets.slice(0, n);
    const srcLen = this.lengths.slice(0, n);
    const hs = this.hardState;
    const hsWasLive = this.hsOffset;
    const before = snap;
    // Write numbers stay consecutive in the new file: the body's chunks take the next numbers,
    // and the saves made meanwhile (copied after the body) the ones after those.
    const chunks = Math.max(1, Math.ceil(n / REWRITE_CHUNK));
    let bodyBatch = this.nextBatch;
    this.nextBatch += chunks;

    const out = await openP(tmp, 'w+');
    let outPos = 0;
    let newFd = -1;
    try {
      await writeAll(out, MAGIC, 0);
      outPos = HEADER;
      const bodyOff = new Array<number>(n);
      const bodyLen = new Array<number>(n);
      let bodyHsBytes = 0;
      let bodyCutBytes = 0;
      // 2. Copy the live records, rewritten as writes of REWRITE_CHUNK records each.
      let i = 0;
      let first = true;
      while (i < n || first) {
        if (this.closed) throw new Error('closed');
        const b = bodyBatch++;
        const frames: Buffer[] = [];
        const idx: number[] = [];
        if (first) {
          frames.push(encodeRecord({ k: 'hs', term: hs.term, vote: hs.vote, commit: hs.commit }, b, n === 0 && rbase === 0));
          idx.push(-1);
          if (rbase > 0) {
            frames.push(encodeRecord({ k: 'cut', index: rbase, term: rbaseTerm }, b, n === 0));
            idx.push(-2);
          }
          first = false;
        }
        const chunkEnd = Math.min(n, i + REWRITE_CHUNK);
        const records = await this.readRecords(srcOff, srcLen, rbase, i, chunkEnd);
        for (let j = 0; j < records.length; j++) {
          frames.push(encodeRecord(records[j]!, b, i + j === chunkEnd - 1));
          idx.push(i + j);
        }
        i = chunkEnd;
        for (let j = 0; j < frames.length; j++) {
          const k = idx[j]!;
          if (k === -1) bodyHsBytes = frames[j]!.length;
          else if (k === -2) bodyCutBytes = frames[j]!.length;
          else {
            bodyOff[k] = outPos;
            bodyLen[k] = frames[j]!.length;
          }
          outPos += frames[j]!.length;
        }
        const buf = Buffer.concat(frames);
        await writeAll(out, buf, outPos - buf.length);
      }
      await fsyncP(out);
      const bodyEnd = outPos;

      // 3. Briefly alone with the file: copy what was appended meanwhile, then swap files.
      await this.exclusive(async () => {
        if (this.closed || this.failed) throw new Error('closed');
        const tailLen = this.size - snap;
        if (tailLen > 0) {
          const tail = Buffer.allocUnsafe(tailLen);
          await readAll(this.fd, tail, snap);
          await writeAll(out, tail, bodyEnd);
        }
        await fsyncP(out);
        fs.renameSync(tmp, this.file);
        fsyncDir(this.dir);
        newFd = out;
        const oldFd = this.fd;
        this.fd = out;
        await closeP(oldFd).catch(() => {});
        const shift = bodyEnd - snap;
        this.liveEntryBytes = 0;
        for (let k = 0; k < this.offsets.length; k++) {
          if (this.offsets[k]! < snap) {
            // Still the record copied into the body (a cut meanwhile may have shifted positions).
            const j = this.base + k - rbase;
            this.offsets[k] = bodyOff[j]!;
            this.lengths[k] = bodyLen[j]!;
          } else {
            this.offsets[k] = this.offsets[k]! + shift;
          }
          this.liveEntryBytes += this.lengths[k]!;
        }
        if (this.base === rbase) this.cutBytes = bodyCutBytes;
        if (this.hsOffset === hsWasLive) {
          this.hsOffset = HEADER;
          this.hsBytes = bodyHsBytes;
        } else {
          this.hsOffset += shift;
        }
        this.size = bodyEnd + tailLen;
        // The body's writes are in the file now (the tail's, numbered after them, were already).
        this.lastWrite = Math.max(this.lastWrite, bodyBatch - 1);
        this.counters.rewrites++;
      });
      this.onEvent(`rewrote ${this.file}: ${before} -> ${this.size} bytes`);
    } finally {
      if (newFd < 0) {
        await closeP(out).catch(() => {});
        fs.rmSync(tmp, { force: true });
      }
    }
  }

  /** Reads the entry records [from, to) (by position in srcOff) in as few reads as possible. */
  private async readRecords(srcOff: number[], srcLen: number[], base: number, from: number, to: number): Promise<RecordBody[]> {
    const out: RecordBody[] = [];
    let i = from;
    while (i < to) {
      // A run of records that sit back to back in the file: one read.
      let j = i + 1;
      let end = srcOff[i]! + srcLen[i]!;
      while (j < to && srcOff[j] === end && end - srcOff[i]! < READ_WINDOW) {
        end += srcLen[j]!;
        j++;
      }
      const buf = Buffer.allocUnsafe(end - srcOff[i]!);
      await readAll(this.fd, buf, srcOff[i]!);
      let p = 0;
      for (let k = i; k < j; k++) {
        const len = buf.readUInt32LE(p);
        const payload = buf.subarray(p + FRAME, p + FRAME + len);
        if (crc32(payload) !== buf.readUInt32LE(p + 4)) throw new Error(`entry ${base + k + 1} at byte ${srcOff[k]} fails its checksum`);
        const rec = decodePayload(payload);
        if (typeof rec === 'string' || rec.k !== 'e' || rec.index !== base + k + 1) throw new Error(`entry ${base + k + 1} could not be read back (${typeof rec === 'string' ? rec : 'wrong record'})`);
        out.push(rec.conf === undefined ? { k: 'e', index: rec.index, term: rec.term, data: rec.data } : { k: 'e', index: rec.index, term: rec.term, data: rec.data, conf: rec.conf });
        p += len + FRAME;
      }
      i = j;
    }
    return out;
  }

  /** Waits for queued saves, stops a rewrite, closes the file and releases the directory. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      if (this.writing) await new Promise<void>((r) => this.drained.push(r));
      if (this.rewriting) await this.rewriting;
      await this.ioTail;
      await closeP(this.fd).catch(() => {});
      this.releaseLock();
    })();
    return this.closing;
  }

  private releaseLock(): void {
    openInThisProcess.delete(this.lockPath);
    fs.rmSync(this.lockPath, { force: true });
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

async function writeAll(fd: number, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await writeP(fd, buf, done, buf.length - done, pos + done);
    done += bytesWritten;
  }
}

function writeAllSync(fd: number, buf: Buffer, pos: number): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done);
}

async function readAll(fd: number, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await readP(fd, buf, done, buf.length - done, pos + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${pos + done}`);
    done += bytesRead;
  }
}
