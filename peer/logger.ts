// The peer's human-readable log: logs/<name>.log, one line per event, so that a person can
// follow an election in it. Heartbeats are summarized (a count per peer every few seconds);
// votes, appends, commits, applies, role and term changes and faults each get their own line.
// Important events also go to stdout as a short line.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export const HEARTBEAT_SUMMARY_MS = 5000;

export class PeerLogger {
  private readonly out: WriteStream | null;
  private context = '';
  private readonly beats = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private failed = false;

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
    this.out.write(`${stamp()} ${this.name} [${this.context}] ${text}\n`);
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
    const out = this.out;
    if (!out || this.failed) return Promise.resolve();
    return new Promise((resolve) => out.end(() => resolve()));
  }
}

function stamp(): string {
  const d = new Date();
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
