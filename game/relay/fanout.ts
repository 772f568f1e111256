// The browser fan-out: what every browser on /village is sent, and when.
//
// Snapshot first: a browser that joins gets the whole picture (and the recent console lines)
// at the next flush, so a late browser sees exactly what the others see. Then batches: each
// flush takes the Picture's deltas, serializes them once, and sends the same text to every
// browser.
//
// Backpressure: nothing is queued per browser beyond its socket. Before each send the fan-out
// looks at the socket's bufferedAmount; above the high-water mark the browser is marked behind
// and skipped; once it has drained below the low-water mark it gets a fresh snapshot (a
// resync). Memory stays bounded by the socket buffers whatever a tab does.
//
// When: flushSoon() (peer events arrived) flushes in the next turn, so all events of one turn
// share a batch, but at most once per minFlushSpacingMs, so a busy village gets one batch per
// spacing (a page draws at most a frame or two in that time; a batch per frame costs it more than
// it shows). An interval of flushMs flushes everything else (launcher reports, control changes,
// new browsers), skipping a turn that comes less than minFlushSpacingMs after the last flush.
//
// No sockets and no timers of its own: a browser is a Sink, time is a Scheduler, so the whole
// rule is tested with stand-ins (test/game/relay-fanout.test.ts).
import type { Delta, RelayToBrowser, VillagePicture } from '../../shared/village.ts';

/** One browser's connection, as the fan-out uses it. */
export interface Sink {
  send(frame: string): void;
  /** Bytes given to send() that the socket has not written yet. */
  readonly bufferedAmount: number;
  /** False once the connection is closing: nothing more is sent to it. */
  readonly open: boolean;
}

/** What the fan-out sends (the Picture has this shape). */
export interface FanoutSource {
  snapshot(): VillagePicture;
  /** Console lines a browser that joins late is shown, as deltas. */
  consoleHistory(): Delta[];
  /** The deltas since the previous call; `resync` when browsers need a fresh snapshot first. */
  takeDeltas(): { resync: boolean; deltas: Delta[] };
}

/** Time for the flush schedule. Each method returns a function that cancels what it set up. */
export interface Scheduler {
  /** A monotonic clock in ms (spacing between flushes). */
  monotonic(): number;
  /** Runs fn in the next turn of the event loop. */
  soon(fn: () => void): () => void;
  after(ms: number, fn: () => void): () => void;
  every(ms: number, fn: () => void): () => void;
}

export const nodeScheduler: Scheduler = {
  monotonic: () => performance.now(),
  soon(fn) {
    const h = setImmediate(fn);
    return () => clearImmediate(h);
  },
  after(ms, fn) {
    const h = setTimeout(fn, ms);
    return () => clearTimeout(h);
  },
  every(ms, fn) {
    const h = setInterval(fn, ms);
    return () => clearInterval(h);
  },
};

export interface FanoutOptions {
  source: FanoutSource;
  /** A browser whose socket buffers more than this is skipped until it drains... */
  highWaterBytes: number;
  /** ...below this, when it gets a fresh snapshot. */
  lowWaterBytes: number;
  /** Flush interval when nothing else asks for a flush. */
  flushMs: number;
  /** Least time between two flushes, whoever asks (flushSoon() or the interval). */
  minFlushSpacingMs: number;
  /** Wall clock (ms) written into every frame as `now`. */
  now(): number;
  scheduler?: Scheduler;
}

interface Subscriber {
  sink: Sink;
  /** Has had its snapshot. */
  ready: boolean;
  /** Fell behind: gets a snapshot once its socket drains. */
  stale: boolean;
}

export class Fanout {
  private readonly subscribers = new Map<Sink, Subscriber>();
  private readonly scheduler: Scheduler;
  private readonly minSpacingMs: number;
  private readonly stopInterval: () => void;
  private lastFlush = -Infinity;
  private cancelSoon: (() => void) | null = null;
  private stopped = false;
  private resyncCount = 0;

  constructor(private readonly o: FanoutOptions) {
    this.scheduler = o.scheduler ?? nodeScheduler;
    this.minSpacingMs = o.minFlushSpacingMs;
    this.stopInterval = this.scheduler.every(o.flushMs, () => {
      if (this.scheduler.monotonic() - this.lastFlush >= this.minSpacingMs) this.flush();
    });
  }

  /** A new browser: it gets its snapshot at the next flush. */
  add(sink: Sink): void {
    this.subscribers.set(sink, { sink, ready: false, stale: false });
  }

  remove(sink: Sink): void {
    this.subscribers.delete(sink);
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Browsers currently skipped because they fell behind. */
  behind(): number {
    let n = 0;
    for (const s of this.subscribers.values()) if (s.stale) n++;
    return n;
  }

  /** Times a browser that fell behind was resynchronized with a fresh snapshot. */
  get resyncs(): number {
    return this.resyncCount;
  }

  /** Peer events arrived: flush in the next turn, or once minFlushSpacingMs has passed. */
  flushSoon(): void {
    if (this.cancelSoon || this.stopped) return;
    const wait = this.lastFlush + this.minSpacingMs - this.scheduler.monotonic();
    const run = () => {
      this.cancelSoon = null;
      if (!this.stopped) this.flush();
    };
    this.cancelSoon = wait <= 0 ? this.scheduler.soon(run) : this.scheduler.after(wait, run);
  }

  /** Sends what changed to every browser, now. */
  flush(): void {
    this.lastFlush = this.scheduler.monotonic();
    // This flush takes everything pending: a flushSoon() still scheduled has nothing left to send.
    this.cancelSoon?.();
    this.cancelSoon = null;
    const { resync, deltas } = this.o.source.takeDeltas();
    let snapshot: string | null = null;
    const snap = () => (snapshot ??= this.snapshotFrame());
    const batch = deltas.length > 0 ? this.batchFrame(deltas) : null;
    for (const s of this.subscribers.values()) {
      const sink = s.sink;
      if (!sink.open) continue;
      if (!s.ready) {
        this.sendSnapshot(s, snap());
        continue;
      }
      if (sink.bufferedAmount > this.o.highWaterBytes) {
        s.stale = true;
        continue;
      }
      if (s.stale) {
        if (sink.bufferedAmount <= this.o.lowWaterBytes) {
          this.resyncCount++;
          this.sendSnapshot(s, snap());
        }
        continue;
      }
      if (resync) sink.send(snap());
      if (batch) sink.send(batch);
    }
  }

  /** No more flushes, scheduled or periodic. */
  stop(): void {
    this.stopped = true;
    this.stopInterval();
    this.cancelSoon?.();
    this.cancelSoon = null;
  }

  private sendSnapshot(s: Subscriber, frame: string): void {
    s.sink.send(frame);
    const history = this.o.source.consoleHistory();
    if (history.length) s.sink.send(this.batchFrame(history));
    s.ready = true;
    s.stale = false;
  }

  private snapshotFrame(): string {
    return JSON.stringify({ type: 'snapshot', now: this.o.now(), picture: this.o.source.snapshot() } satisfies RelayToBrowser);
  }

  private batchFrame(deltas: Delta[]): string {
    return JSON.stringify({ type: 'batch', now: this.o.now(), deltas } satisfies RelayToBrowser);
  }
}
