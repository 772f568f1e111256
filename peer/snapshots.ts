// Snapshots and log compaction in the peer's shell (dissertation ch. 5, paper §7). The Raft
// core decides what is safe (peer/raft/node.ts: snapshotTaken, Ready.snapshot / restore /
// compact); this module does what touches the world:
//
//   taking   once `snapshot_entries` entries were applied since the last snapshot, or the
//            commands applied since then hold `snapshot_bytes` bytes, the store is copied
//            (KvStore.image), encoded off the event loop's critical path (snapshot-state.ts)
//            and handed to the core (snapshotTaken). Its Ready.snapshot is written to a file
//            (snapshot-file.ts: aside, fsync, rename, fsync of the directory) in the
//            background, and only then reported durable (node.persisted({ snapshot })).
//   cutting  Ready.compact comes only after that report: the durable log is cut then
//            (DurableLog.cut), never before its snapshot is on disk, so a crash at any moment
//            leaves a log that continues a durable snapshot.
//   install  Ready.restore (a leader's snapshot, InstallSnapshot): its data is decoded first
//            (a snapshot that does not decode is never persisted), its file written, the log cut
//            at it (kept after it if it holds its last entry, else emptied), all before the save
//            of that Ready; the store is replaced by it before the Ready's committed entries
//            are applied.
//   start    the newest snapshot that reads back whole (and decodes) fills the store and is
//            handed to the core (PersistedState.snapshot); only the log after it is replayed.
//            A log cut past every good snapshot is refused (see openDurableState).
import { performance } from 'node:perf_hooks';
import type { Limits } from '../shared/config.ts';
import type { LogPoint } from '../shared/events.ts';
import type { KvStore } from './kv.ts';
import type { Narrator } from './narrator.ts';
import type { RaftNode } from './raft/node.ts';
import type { Entry, PeerId, PersistedState, Ready, Snapshot } from './raft/types.ts';
import { checkSnapshotCoversLog, loadNewestSnapshot, pruneSnapshots, writeSnapshotFile } from './snapshot-file.ts';
import { decodeSnapshotState, encodeSnapshotState, type SnapshotState } from './snapshot-state.ts';
import { DurableLog, StorageCorruptError, type DurableLogOptions, type RecoveryReport } from './storage.ts';

export interface OpenedState {
  log: DurableLog;
  state: PersistedState;
  report: RecoveryReport;
  /** The snapshot the state starts from, decoded, with the point the reported log starts after. */
  snapshot: { state: SnapshotState; base: LogPoint | null } | null;
}

/**
 * Opens the durable log (DurableLog.open: throws on damage that is not a torn tail) and the
 * newest good snapshot beside it. Damaged snapshot files are told to `onEvent` and skipped;
 * an older one stands in if the log was not cut past it. A log cut past every good snapshot
 * throws StorageCorruptError: the entries between are nowhere, and the peer must not start.
 */
export function openDurableState(dir: string, opts: DurableLogOptions & { onEvent: (m: string) => void }): OpenedState {
  const opened = DurableLog.open(dir, opts);
  try {
    const decoded = new Map<Snapshot, SnapshotState>();
    const loaded = loadNewestSnapshot(dir, (s) => decoded.set(s, decodeSnapshotState(s.data)));
    for (const t of loaded.removedTemporary) opts.onEvent(`removed ${t}, a snapshot whose write never finished`);
    for (const r of loaded.rejected) opts.onEvent(`DAMAGED snapshot ${r.file} not trusted: ${r.why}`);
    const refusal = checkSnapshotCoversLog(dir, loaded, opened.report.base?.index ?? 0);
    if (refusal !== null) throw new StorageCorruptError(refusal, dir, 0);
    if (!loaded.snapshot) return { ...opened, snapshot: null };
    const snap = loaded.snapshot;
    const state = decoded.get(snap)!;
    opts.onEvent(
      `starting from snapshot ${loaded.file} (index ${snap.index}, term ${snap.term}, ${state.image.data.size} keys)` +
        (loaded.rejected.length > 0 ? ', an older snapshot in place of the damaged one' : '') +
        `; the log after it is replayed`,
    );
    const base = state.ph === null ? null : { index: snap.index, term: snap.term, ph: state.ph };
    return { ...opened, state: { ...opened.state, snapshot: snap }, snapshot: { state, base } };
  } catch (e) {
    void opened.log.close();
    throw e;
  }
}

export interface SnapshotsOptions {
  dir: string;
  limits: Limits;
  log: DurableLog;
  node: RaftNode;
  kv: KvStore;
  narrator: Narrator;
  /** Runs a core call the way the shell does (a throw there is fatal). */
  guard(fn: () => void): void;
  /** The core may have work: take its Ready (the shell's afterInput). */
  kick(): void;
  fatal(e: Error): void;
}

export class Snapshots {
  /** The index of the last snapshot taken, installed or started from. */
  private lastIndex: number;
  /** Bytes of commands applied since then. */
  private bytesSince = 0;
  private taking = false;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Decoded installed snapshots, between the save of their Ready and applying it. */
  private readonly installing = new Map<Snapshot, SnapshotState>();

  constructor(
    private readonly o: SnapshotsOptions,
    recovered: OpenedState['snapshot'],
    recoveredIndex: number,
  ) {
    if (recovered) o.kv.restore(recovered.state.image);
    this.lastIndex = recoveredIndex;
  }

  /** An entry was applied to the store. */
  applied(e: Entry): void {
    if (e.data !== null) this.bytesSince += e.data.length;
  }

  /** After applying: takes a snapshot when a threshold has passed (one at a time). */
  maybeTake(): void {
    const { kv, limits } = this.o;
    if (this.taking || this.closed) return;
    if (kv.appliedIndex - this.lastIndex < limits.snapshotEntries && this.bytesSince < limits.snapshotBytes) return;
    this.taking = true;
    this.lastIndex = kv.appliedIndex;
    this.bytesSince = 0;
    this.track(this.take());
  }

  private async take(): Promise<void> {
    const { kv, narrator, node } = this.o;
    const t0 = performance.now();
    const index = kv.appliedIndex;
    const image = kv.image(); // synchronous: the store as of `index`
    const t1 = performance.now();
    try {
      const data = await encodeSnapshotState({ image, ph: narrator.phAt(index) });
      if (this.closed) return;
      this.timings.set(index, { keys: image.data.size, image: t1 - t0, encode: performance.now() - t1 });
      this.o.guard(() => node.snapshotTaken(index, data));
      this.o.kick();
    } finally {
      this.taking = false;
    }
  }

  private readonly timings = new Map<number, { keys: number; image: number; encode: number }>();

  /**
   * A Ready was just taken: a snapshot this peer took goes to disk in the background (reported
   * durable once it is), and a compaction cuts the durable log.
   */
  readyTaken(rd: Ready): void {
    if (rd.snapshot && !rd.restore) this.track(this.writeTaken(rd.snapshot));
    if (rd.compact > 0) {
      const term = this.o.node.termAt(rd.compact);
      this.o.log.cut(rd.compact, term).catch((e: Error) => this.o.fatal(new Error(`cannot cut the durable log: ${e.message}`)));
      this.o.narrator.compacted(rd.compact, term);
    }
  }

  private async writeTaken(snap: Snapshot): Promise<void> {
    const t = performance.now();
    let written: { file: string; bytes: number };
    try {
      written = await writeSnapshotFile(this.o.dir, snap);
    } catch (e) {
      // The log is not cut for a snapshot that is not on disk: the next threshold tries again.
      if (!this.closed) this.o.fatal(new Error(`cannot write the snapshot at ${snap.index}: ${(e as Error).message}`));
      return;
    }
    if (this.closed) return;
    const ms = this.timings.get(snap.index) ?? { keys: 0, image: 0, encode: 0 };
    this.timings.clear();
    this.o.narrator.snapshotWritten(snap.index, snap.term, ms.keys, written.file, written.bytes, { ...ms, write: performance.now() - t });
    pruneSnapshots(this.o.dir);
    this.o.guard(() => this.o.node.persisted({ hardState: null, entries: [], snapshot: snap }));
    this.o.kick();
  }

  /**
   * Before the save of `batch`: every snapshot a leader installed here is decoded, written to
   * its file (durable) and the log cut at it. Returns the newest, to report with the save.
   */
  async beforeSave(batch: readonly Ready[]): Promise<Snapshot | null> {
    let newest: Snapshot | null = null;
    for (const rd of batch) {
      if (!rd.snapshot || !rd.restore) continue;
      const snap = rd.snapshot;
      let state: SnapshotState;
      try {
        state = decodeSnapshotState(snap.data);
      } catch (e) {
        throw new Error(`the snapshot a leader sent (index ${snap.index}) cannot be used: ${(e as Error).message}; it was not persisted`);
      }
      await writeSnapshotFile(this.o.dir, snap);
      pruneSnapshots(this.o.dir);
      await this.o.log.cut(snap.index, snap.term);
      const kept = this.o.log.lastIndex > snap.index;
      this.installing.set(snap, state);
      this.o.narrator.installed(leaderOf(this.o.node), { index: snap.index, term: snap.term, ph: state.ph ?? Number.NaN }, kept, state.image.data.size);
      newest = snap;
    }
    return newest;
  }

  /** Before applying a Ready's committed entries: the store becomes the snapshot the leader installed. */
  restoreIfInstalled(rd: Ready): void {
    if (!rd.snapshot || !rd.restore) return;
    const state = this.installing.get(rd.snapshot);
    if (!state) return;
    this.installing.delete(rd.snapshot);
    this.o.kv.restore(state.image);
    this.lastIndex = rd.snapshot.index;
    this.bytesSince = 0;
  }

  /** Waits for snapshot writes in flight. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    const done = p.catch((e: Error) => this.o.fatal(e)).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}

function leaderOf(node: RaftNode): PeerId | null {
  return node.status().leader;
}
