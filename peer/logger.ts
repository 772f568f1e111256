// The peer's human-readable log: logs/<name>.log, one line per event, so that a person can
// follow an election in it. Heartbeats are summarized (a count per peer every few seconds);
// votes, appends, commits, applies, role and term changes and faults each get their own line.
// Important events also go to stdout as a short line.
// Lines are gathered and written to the file together (at most FLUSH_MS later, or once 64 KiB
// are waiting): one write for many lines, since a busy peer logs a few lines per command.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export const HEARTBEAT_SUMMARY_MS = 5000;
const FLUSH_MS = 20;
const FLUSH_BYTES = 64 * 1024;

export class PeerLogger {
  private readonly out: WriteStream | null;
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
    file: string | null,
    private readonly name: string,
    private readonly echo: boolean = true,
  ) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      this.out = createWriteStream(file, { flags: 'a' });
      this.out.on('error', (e) => {
        if (!this.failed) process.stderr.write(`${name}: cannot write the log file ${file}: ${e.message}\n`);
        this.failed = true;
      });
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
    this.out.write(this.pending);
    this.pending = '';
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
    if (!out || this.failed) return Promise.resolve();
    return new Promise((resolve) => out.end(() => resolve()));
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
