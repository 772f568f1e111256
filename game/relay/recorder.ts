// The flight recorder: every frame the browsers are sent, written to
// `<log_dir>/village/<start time>.jsonl` (format: recording.ts, PROTOCOL.md "Recordings"), so a
// page can rewind its village and `npm run replay -- FILE` can show a run after the fact.
//
// It is one more browser of the fan-out (a Sink): it gets the snapshot and then every batch, the
// same text the browsers get, serialized once for all. It adds a keyframe (a full snapshot,
// taken right after a batch, so it is the state that batch leads to) at least every
// keyframeMs of batches, which lets a page seek from the last keyframe before a moment instead
// of from the start.
//
// Cheap on purpose: lines go to a buffer that is written with one write() every flushMs (or
// when it holds 256 KiB), never an fsync; a recording is a record, not durable state, and a
// crash loses at most the last fraction of a second (a torn last line readers drop).
//
// Bounded: a file grows to maxBytes, then the run goes on in a new file that begins with a
// keyframe; files beyond `kept` in the directory are removed, oldest first (this run's older
// files too). A write that fails (disk full) ends the recording with one line in the relay's
// log; the relay goes on.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Sink } from './fanout.ts';
import { keyframeFor, lineHead, MAX_WINDOW_BYTES, readFrames, RECORDING_VERSION, type Keyframe, type RecordingHeader, type RecordingInfo, type RecordingSource } from './recording.ts';

export interface RecorderOptions {
  /** The directory of recordings (created if missing): [cluster] log_dir + /village. */
  dir: string;
  /** [relay] recording_bytes: the most one file grows to. */
  maxBytes: number;
  /** [relay] recordings_kept: files kept in `dir`, this run's included. */
  kept: number;
  /** The picture as it is now (what a new browser would be sent), for keyframes. */
  picture(): unknown;
  now(): number;
  log(line: string): void;
  /** Least time between two keyframes while batches flow. Default 10 s. */
  keyframeMs?: number;
  /** How often the buffer is written. Default 200 ms. */
  flushMs?: number;
}

/** Recording files as the recorder names them: the start time, ISO with '-' for ':'. */
export const RECORDING_NAME = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z(-\d+)?\.jsonl$/;

/** The file name for a recording that starts at `t` (wall ms). */
export function recordingFileName(t: number, n = 0): string {
  return `${new Date(t).toISOString().replace(/:/g, '-')}${n ? `-${n}` : ''}.jsonl`;
}

interface RecordingFile {
  name: string;
  path: string;
  keyframes: Keyframe[];
  start: number | null;
  end: number | null;
}

const WRITE_AT_BYTES = 256 * 1024;

export class Recorder implements Sink, RecordingSource {
  private readonly keyframeMs: number;
  private readonly runStart: string;
  /** This run's files still on disk, oldest first; the last is being written. */
  private readonly files: RecordingFile[] = [];
  private fd: number | null = null;
  /** Bytes of the current file (written and buffered) and its line count. */
  private fileBytes = 0;
  private fileLines = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private lastKeyframe = -Infinity;
  private failed: string | null = null;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: RecorderOptions) {
    this.keyframeMs = o.keyframeMs ?? 10_000;
    this.runStart = new Date(o.now()).toISOString();
    this.timer = setInterval(() => this.write(), o.flushMs ?? 200);
    this.timer.unref();
  }

  // ---- Sink: what the fan-out sees ----

  get open(): boolean {
    return !this.closed && this.failed === null;
  }

  /**
   * Never behind: the buffer is written whenever it reaches 256 KiB, synchronously, so it never
   * holds more than that and a frame; the fan-out's backpressure is for browsers.
   */
  get bufferedAmount(): number {
    return 0;
  }

  /** Lines buffered and not yet written. */
  get pendingBytesCount(): number {
    return this.pendingBytes;
  }

  send(frame: string): void {
    if (!this.open) return;
    const head = lineHead(frame);
    if (!head.ok || head.kind === 'recording') return;
    if (this.fd === null && !this.startFile(head.kind === 'snapshot' ? null : this.keyframeText())) return;
    this.append(frame, head.kind, head.now);
    if (head.kind === 'batch' && head.now - this.lastKeyframe >= this.keyframeMs) this.keyframe();
    if (this.fileBytes >= this.o.maxBytes) {
      // The rest of the run goes on in a new file, which begins with the picture as it is now.
      this.write();
      this.closeFile();
      this.startFile(this.keyframeText());
    } else if (this.pendingBytes >= WRITE_AT_BYTES) this.write();
  }

  // ---- RecordingSource: what /api/recording answers ----

  info(): RecordingInfo {
    const withFrames = this.files.filter((f) => f.start !== null);
    return {
      mode: 'live',
      files: this.files.map((f) => f.name),
      start: withFrames[0]?.start ?? null,
      end: withFrames[withFrames.length - 1]?.end ?? null,
      off: this.failed,
    };
  }

  frames(at: number, back: number, ahead: number): { text: string; from: number | null; to: number | null; lines: number } {
    this.write();
    const all = this.files.flatMap((f) => f.keyframes.map((k) => ({ ...k, file: f })));
    const k = keyframeFor(all, at - back);
    if (!k) return { text: '', from: null, to: null, lines: 0 };
    return readFrames(k.file.path, k.offset, at + ahead, MAX_WINDOW_BYTES);
  }

  /** The file being written (null before the first frame or after a failure). */
  get currentFile(): string | null {
    return this.fd === null ? null : this.files[this.files.length - 1]!.path;
  }

  /** Writes what is buffered and stops; later frames are ignored. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.write();
    this.closeFile();
    this.closed = true;
  }

  // ---- internals ----

  private keyframe(): void {
    const frame = this.keyframeText();
    const head = lineHead(frame);
    if (head.ok) this.append(frame, 'snapshot', head.now);
  }

  /**
   * A snapshot frame marked `keyframe`: it repeats what the batches before it built, so a page
   * folding forward skips it, and one seeking starts from it. (A snapshot without the mark is
   * one the fan-out sent: the first, or a fresh one to every browser when the villagers changed; it counts.)
   */
  private keyframeText(): string {
    return JSON.stringify({ type: 'snapshot', now: this.o.now(), picture: this.o.picture(), keyframe: true });
  }

  private append(line: string, kind: 'snapshot' | 'batch', now: number): void {
    const f = this.files[this.files.length - 1]!;
    if (kind === 'snapshot') {
      f.keyframes.push({ t: now, offset: this.fileBytes, line: this.fileLines + 1 });
      this.lastKeyframe = now;
    }
    f.start ??= now;
    f.end = now;
    const bytes = Buffer.byteLength(line) + 1;
    this.pending.push(line, '\n');
    this.pendingBytes += bytes;
    this.fileBytes += bytes;
    this.fileLines++;
  }

  /** Opens a new file (header, then `keyframe` when given); false if it cannot. */
  private startFile(keyframe: string | null): boolean {
    const now = this.o.now();
    try {
      mkdirSync(this.o.dir, { recursive: true });
      let name = recordingFileName(now);
      for (let n = 1; this.files.some((f) => f.name === name) || existsSync(join(this.o.dir, name)); n++) name = recordingFileName(now, n);
      const path = join(this.o.dir, name);
      this.fd = openSync(path, 'wx');
      this.files.push({ name, path, keyframes: [], start: null, end: null });
    } catch (e) {
      this.fail(`cannot create a recording file in ${this.o.dir}: ${(e as Error).message}`);
      return false;
    }
    this.fileBytes = 0;
    this.fileLines = 0;
    const header: RecordingHeader = { type: 'recording', version: RECORDING_VERSION, now, run: this.runStart, part: this.files.length };
    const text = JSON.stringify(header);
    this.pending.push(text, '\n');
    const bytes = Buffer.byteLength(text) + 1;
    this.pendingBytes += bytes;
    this.fileBytes += bytes;
    this.fileLines++;
    if (keyframe !== null) {
      const head = lineHead(keyframe);
      if (head.ok) this.append(keyframe, 'snapshot', head.now);
    }
    this.removeOldest();
    return true;
  }

  /** Files beyond `kept` in the directory go, oldest first (never the one being written). */
  private removeOldest(): void {
    let names: string[];
    try {
      names = readdirSync(this.o.dir).filter((n) => RECORDING_NAME.test(n)).sort();
    } catch {
      return;
    }
    const current = this.files[this.files.length - 1]?.name;
    for (const name of names.slice(0, Math.max(0, names.length - this.o.kept))) {
      if (name === current) continue;
      try {
        unlinkSync(join(this.o.dir, name));
      } catch {
        // gone already, or not ours to remove: the next rotation tries again
      }
      const i = this.files.findIndex((f) => f.name === name);
      if (i >= 0) this.files.splice(i, 1);
    }
  }

  /** One write() of everything buffered. */
  private write(): void {
    if (this.fd === null || this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    try {
      writeSync(this.fd, text);
    } catch (e) {
      this.fail(`cannot write the recording ${this.currentFile}: ${(e as Error).message}`);
    }
  }

  private closeFile(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // nothing left to do with it
    }
    this.fd = null;
  }

  private fail(why: string): void {
    if (this.failed !== null) return;
    this.failed = `${why}; the village is no longer recorded`;
    this.o.log(`recorder: ${this.failed}`);
    this.pending = [];
    this.pendingBytes = 0;
    this.closeFile();
  }
}

