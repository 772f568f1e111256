// The peer's human-readable log: logs/<name>.log, one line per event, so that a person can
// follow an election in it. Heartbeats are summarized (a count per peer every few seconds);
// votes, appends, commits, applies, role and term changes and faults each get their own line.
// Important events also go to stdout as a short line.
// Lines are gathered and written to the file together (at most FLUSH_MS later, or once 64 KiB
// are waiting): one write for many lines, since a busy peer logs a few lines per command.
// The file cannot fill a disk: once the next write would take it past `maxBytes` ([limits]
// log_file_bytes), <name>.log becomes <name>.log.1 (the older ones move up to .2, .3, ..., and
// the one past `keep`, log_files_kept, is removed) and a new <name>.log is started. The old
// stream finishes its queued writes into the renamed file.
import { createWriteStream, mkdirSync, openSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export const HEARTBEAT_SUMMARY_MS = 5000;
const FLUSH_MS = 20;
const FLUSH_BYTES = 64 * 1024;

/** When the log file is rotated: at `maxBytes`, keeping `keep` old files. */
export interface LogRotation {
  maxBytes: number;
  keep: number;
}

export class PeerLogger {
  private out: WriteStream | null;
  /** Bytes in the current file (what was there at start, and what was written since). */
  private bytes = 0;
  private readonly ending = new Set<Promise<void>>();
  private context = '';
  private readonly beats = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private failed = false;
  private pending = '';
  private flushTimer: NodeJS.Timeout | null = null;
  /** The stamp of the current millisecond: building a date string per line is not free. */
  private stampMs = -1;
  private stampText = '';

  constructor(
    private readonly file: string | null,
    private readonly name: string,
    private readonly echo: boolean = true,
    private readonly rotation: LogRotation | null = null,
  ) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      try {
        this.bytes = statSync(file).size;
      } catch {
        this.bytes = 0;
      }
      this.out = this.open(file);
    } else {
      this.out = null;
    }
    this.timer = setInterval(() => this.summarizeHeartbeats(), HEARTBEAT_SUMMARY_MS);
    this.timer.unref();
  }

  /** What every following line is prefixed with, e.g. "term 3 leader". */
  setContext(context: string): void {
    this.context = context;
  }

  /** A line in the log file. */
  line(text: string): void {
    if (!this.out || this.failed) return;
    const ms = Date.now();
    if (ms !== this.stampMs) {
      this.stampMs = ms;
      this.stampText = stamp(new Date(ms));
    }
    this.pending += `${this.stampText} ${this.name} [${this.context}] ${text}\n`;
    if (this.pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Hands the gathered lines to the file stream. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pending === '' || !this.out || this.failed) return;
    const size = Buffer.byteLength(this.pending);
    if (this.rotation && this.bytes > 0 && this.bytes + size > this.rotation.maxBytes) this.rotate();
    this.out!.write(this.pending);
    this.bytes += size;
    this.pending = '';
  }

  private open(file: string): WriteStream | null {
    const fail = (e: Error) => {
      if (!this.failed) process.stderr.write(`${this.name}: cannot write the log file ${file}: ${e.message}\n`);
      this.failed = true;
    };
    let fd: number;
    try {
      // Opened now (not when the stream gets to it), so that the file is there for the next rotation.
      fd = openSync(file, 'a');
    } catch (e) {
      fail(e as Error);
      return null;
    }
    const out = createWriteStream('', { fd });
    out.on('error', fail);
    return out;
  }

  /** <name>.log -> <name>.log.1 -> .2 ...; the oldest beyond `keep` is removed; a new file is started. */
  private rotate(): void {
    const file = this.file!;
    const keep = this.rotation!.keep;
    try {
      rmSync(`${file}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        try {
          renameSync(`${file}.${i}`, `${file}.${i + 1}`);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      renameSync(file, `${file}.1`);
    } catch (e) {
      // Rotation is housekeeping: if it fails, the peer goes on logging to the same file.
      process.stderr.write(`${this.name}: cannot rotate the log file ${file}: ${(e as Error).message}\n`);
      return;
    }
    const old = this.out!;
    const next = this.open(file);
    if (!next) return;
    const ended = new Promise<void>((resolve) => old.end(() => resolve()));
    this.ending.add(ended);
    void ended.then(() => this.ending.delete(ended));
    this.out = next;
    this.bytes = 0;
  }

  /** A line in the log file and a short one on stdout. */
  important(text: string): void {
    this.line(text);
    if (this.echo) process.stdout.write(`${clock()} [${this.context}] ${text}\n`);
  }

  /** Counts a heartbeat (an empty AppendEntries or its reply); summarized every few seconds. */
  heartbeat(label: string): void {
    this.beats.set(label, (this.beats.get(label) ?? 0) + 1);
  }

  summarizeHeartbeats(): void {
    if (this.beats.size === 0) return;
    const parts = [...this.beats].map(([k, n]) => `${k} x${n}`);
    this.beats.clear();
    this.line(`heartbeats in the last ${HEARTBEAT_SUMMARY_MS / 1000} s: ${parts.join(', ')}`);
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.summarizeHeartbeats();
    this.flush();
    const out = this.out;
    const older = Promise.all([...this.ending]).then(() => {});
    if (!out || this.failed) return older;
    return Promise.all([older, new Promise<void>((resolve) => out.end(() => resolve()))]).then(() => {});
  }
}

function stamp(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockOf(d)}`;
}

function clock(): string {
  return clockOf(new Date());
}

function clockOf(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
