// -v: streams what this peer does to the relay (ws://[relay]host:port/peer) as PeerEvents.
//
// Reporting must never slow consensus. Events go into a bounded queue that a separate turn of
// the event loop drains into ONE frame (a JSON array of events, serialized once), at most one
// frame every 4 ms (a quiet peer's event leaves in the next turn), so a busy peer's many
// events cost one WebSocket send, and one wake-up of the relay, per 4 ms. `state` events
// waiting together are coalesced: only the latest is sent (it is a full snapshot). When the queue is full, or the socket is
// backed up, events are dropped and counted. While the relay is down nothing is queued
// at all; the reporter redials with backoff, and on every (re)connection sends `hello`, a
// `resync` (the peer's full state: role, term, vote, commit, durable write and log tail), a fresh
// `state` and the faults, so that the village catches up without a reload.
// Every event carries `seq`, numbered here as it is emitted, before the queue (PROTOCOL.md,
// "Fields the monitor reads"): counted events take 0, 1, 2, ... per process; `hello`, `state` and
// `resync` are snapshots and carry the next number without taking it. So an event lost while the
// relay was down or dropped from a full queue leaves a hole a reader can see; after a drop the
// reporter sends `reporter_dropped` and then a `resync` as soon as the queue has room.
// When -v is off there is no Reporter and the shell builds no event objects at all.
import { WebSocket, type RawData } from 'ws';
import type { PeerEvent } from '../shared/events.ts';
import { SECRET_HEADER } from '../shared/peer-protocol.ts';
import type { ClientTlsOptions } from '../shared/tls.ts';
import { rawText } from '../shared/ws.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A PeerEvent without `peer` and `t`, which the reporter fills in. */
export type PeerEventBody = DistributiveOmit<PeerEvent, 'peer' | 't'>;

export interface ReporterOptions {
  url: string;
  /** TLS options for a wss:// url (shared/tls.ts clientTls): the class CA. */
  tls?: ClientTlsOptions;
  peer: string;
  /** The [cluster] secret: the relay only takes events from members (x-raft-secret header). */
  secret?: string;
  /** The `hello` to send first on every connection. */
  hello(): PeerEventBody;
  /**
   * The `resync` sent after the hello and after events were lost: the peer's full state. Null
   * when it cannot be stated consistently right now (asked again a few ms later).
   */
  resync(): PeerEventBody | null;
  /** What a newly connected relay needs after the resync (a fresh state, the faults). */
  catchUp(): PeerEventBody[];
  maxQueue?: number;
  /** Stop writing while the socket has more than this many bytes buffered. */
  maxBuffered?: number;
  /** The relay's frame limit ([limits] max_frame_bytes): a batch frame stays under half of it. */
  maxFrameBytes?: number;
  /** The least time between two frames (default DEFAULT_MIN_SPACING_MS); 0: one per turn. */
  minSpacingMs?: number;
  log?(text: string): void;
  /** A frame the relay sent on the stream, parsed JSON (the village clock's messages). */
  fromRelay?(msg: unknown): void;
  /** The stream opened (true) or closed (false). */
  link?(up: boolean): void;
}

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 5000;
const BATCH_PER_TURN = 1000;
/** How soon a resync that could not be stated is asked for again (ms). */
const RESYNC_RETRY_MS = 10;
/** The body as an event: `peer`, `t` (now) and `seq` set on it, in place (no copy of its fields). */
function stamp(body: PeerEventBody, peer: string, seq: number): PeerEvent {
  const e = body as PeerEvent;
  e.peer = peer;
  e.t = Date.now();
  e.seq = seq;
  return e;
}

/** A WebSocket masking key of zeros: ws sends the payload as it is (see connect()). */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** Frames at most this often (ms): events wait at most this long before they leave. */
export const DEFAULT_MIN_SPACING_MS = 4;

export class Reporter {
  private ws: WebSocket | null = null;
  private open = false;
  private queue: (PeerEvent | null)[] = [];
  private head = 0;
  /** Where the queued, not yet sent `state` event is (coalesced: a newer one replaces it). */
  private stateAt = -1;
  private scheduled = false;
  private lastDrain = -Infinity;
  private readonly minSpacingMs: number;
  private retry: NodeJS.Timeout | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  private closed = false;
  /** Events dropped since the peer started (the count reported in reporter_dropped). */
  dropped = 0;
  private reportedDropped = 0;
  /** The seq of the next counted event (per process lifetime, relay connected or not). */
  private seq = 0;
  /** A resync is owed: the connection is new, or events were dropped. */
  private resyncDue = false;
  private resyncRetry: NodeJS.Timeout | null = null;
  private everConnected = false;
  private refusedOnce = false;
  private readonly maxQueue: number;
  private readonly maxBuffered: number;
  private readonly frameBudget: number;

  constructor(private readonly opts: ReporterOptions) {
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.maxBuffered = opts.maxBuffered ?? 1 << 20;
    this.frameBudget = Math.floor((opts.maxFrameBytes ?? 1 << 20) / 2);
    this.minSpacingMs = opts.minSpacingMs ?? DEFAULT_MIN_SPACING_MS;
    this.connect();
  }

  get connected(): boolean {
    return this.open;
  }

  /**
   * Numbers and queues an event; never blocks, never throws. The body becomes the queued event
   * (its `peer`, `t` and `seq` are set on it, no copy is made): pass a fresh object each time.
   */
  emit(body: PeerEventBody): void {
    const type = body.type;
    // Snapshots carry the number the next counted event will have.
    const seq = type === 'state' || type === 'hello' || type === 'resync' ? this.seq : this.seq++;
    if (!this.open) return;
    if (this.queue.length - this.head >= this.maxQueue) {
      this.dropped++;
      return;
    }
    if (type === 'state') {
      // A state event is a whole snapshot: an unsent earlier one says nothing the newer does not.
      if (this.stateAt >= this.head) this.queue[this.stateAt] = null;
      this.stateAt = this.queue.length;
    }
    this.queue.push(stamp(body, this.opts.peer, seq));
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.resyncRetry) clearTimeout(this.resyncRetry);
    this.drain();
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'peer stopping');
      else ws.terminate();
    }
  }

  private connect(): void {
    if (this.closed) return;
    this.retry = null;
    const ws = new WebSocket(this.opts.url, {
      ...this.opts.tls,
      perMessageDeflate: false,
      handshakeTimeout: 3000,
      // No masking of the frames (a zero key, which ws then skips): masking protects proxies
      // from scripts in browsers, and costs the peer a pass over every byte it reports.
      generateMask: zeroMask,
      headers: this.opts.secret === undefined ? {} : { [SECRET_HEADER]: this.opts.secret },
    });
    ws.on('unexpected-response', (_req, res) => {
      // Refused (e.g. a relay with another secret): say so once, keep retrying slowly.
      if (!this.refusedOnce) this.opts.log?.(`the relay at ${this.opts.url} refused the event stream: HTTP ${res.statusCode}`);
      this.refusedOnce = true;
      this.backoffMs = BACKOFF_MAX_MS;
      ws.terminate();
    });
    this.ws = ws;
    ws.on('open', () => {
      this.open = true;
      this.backoffMs = BACKOFF_MIN_MS;
      this.queue = [];
      this.head = 0;
      this.stateAt = -1;
      this.opts.log?.(`${this.everConnected ? 'reconnected' : 'connected'} to the relay at ${this.opts.url}`);
      this.everConnected = true;
      this.emit(this.opts.hello());
      // What this relay missed (everything before this connection) is covered by the resync.
      this.resyncDue = true;
      this.owed();
      for (const e of this.opts.catchUp()) this.emit(e);
      this.opts.link?.(true);
    });
    // The relay speaks on /peer only to offer and steer the village clock.
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!this.opts.fromRelay || this.ws !== ws) return;
      let msg: unknown;
      try {
        msg = isBinary ? undefined : JSON.parse(rawText(data));
      } catch {
        msg = undefined;
      }
      if (msg === undefined) this.opts.log?.('the relay sent a frame that is not JSON text; ignored');
      else this.opts.fromRelay(msg);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.ws !== ws) return;
      const wasOpen = this.open;
      if (wasOpen) this.opts.log?.(`lost the relay at ${this.opts.url}; retrying`);
      this.open = false;
      this.ws = null;
      this.queue = [];
      this.head = 0;
      this.stateAt = -1;
      if (wasOpen) this.opts.link?.(false);
      if (this.closed) return;
      const delay = this.backoffMs * (0.5 + Math.random());
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
      this.retry = setTimeout(() => this.connect(), delay);
      this.retry.unref();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.lastDrain = performance.now();
      this.drain();
    };
    if (this.minSpacingMs <= 0) {
      setImmediate(run);
      return;
    }
    // At most one frame every minSpacingMs: under load a frame carries several turns' events
    // (and only the last state of them), so the relay is woken far less often. A timer, not
    // setImmediate: the frame leaves after the shell has handled this turn's inputs (the
    // shell's work runs in this turn's check phase), never in front of it.
    const wait = Math.max(1, this.lastDrain + this.minSpacingMs - performance.now());
    setTimeout(run, wait);
  }

  /**
   * After a drop: `reporter_dropped` (counted, so it takes its number after the events queued
   * before it) once the queue is at most half full, then the resync owed since the drop or the
   * connection. Runs from the drain's timer or the connection's open, never in the middle of the
   * peer's narration, so the resync states exactly what the events before it described.
   */
  private owed(): void {
    if (this.closed || !this.open || this.queue.length - this.head > this.maxQueue / 2) return;
    if (this.dropped > this.reportedDropped) {
      this.reportedDropped = this.dropped;
      this.resyncDue = true;
      this.push({ type: 'reporter_dropped', count: this.dropped });
    }
    if (!this.resyncDue) return;
    const resync = this.opts.resync();
    if (resync === null) {
      if (!this.resyncRetry) {
        this.resyncRetry = setTimeout(() => {
          this.resyncRetry = null;
          this.schedule();
        }, RESYNC_RETRY_MS);
        this.resyncRetry.unref();
      }
      return;
    }
    this.resyncDue = false;
    this.push(resync);
  }

  /** Queues an event past the queue's bound (the few the reporter owes after a loss). */
  private push(body: PeerEventBody): void {
    const seq = body.type === 'resync' ? this.seq : this.seq++;
    this.queue.push(stamp(body, this.opts.peer, seq));
    this.schedule();
  }

  /** Sends `events` as frames that each stay within the frame budget. */
  private sendSplit(ws: WebSocket, events: readonly PeerEvent[]): void {
    let parts: string[] = [];
    let size = 2;
    const flush = () => {
      if (parts.length === 0) return;
      ws.send(parts.length === 1 ? parts[0]! : `[${parts.join(',')}]`);
      parts = [];
      size = 2;
    };
    for (const e of events) {
      const text = JSON.stringify(e);
      if (size + text.length + 1 > this.frameBudget) flush();
      parts.push(text);
      size += text.length + 1;
    }
    flush();
  }

  private drain(): void {
    const ws = this.ws;
    if (!ws || !this.open || ws.readyState !== WebSocket.OPEN) return;
    let n = 0;
    let batch: PeerEvent[] = [];
    const send = () => {
      if (batch.length === 0) return;
      // The whole frame in one JSON.stringify (cheaper than one per event, joined); a frame over
      // the budget (rare: a resync's tail, long values) is split, each event serialized once.
      const text = JSON.stringify(batch.length === 1 ? batch[0] : batch);
      if (text.length <= this.frameBudget || batch.length === 1) ws.send(text);
      else this.sendSplit(ws, batch);
      batch = [];
    };
    while (this.head < this.queue.length && n < BATCH_PER_TURN) {
      if (ws.bufferedAmount > this.maxBuffered) break;
      const e = this.queue[this.head];
      this.queue[this.head++] = null;
      if (e === null || e === undefined) continue;
      batch.push(e);
      n++;
    }
    send();
    // What a loss owes goes out once the queue has room: queued now, sent by the next drain.
    if (this.resyncDue || this.dropped > this.reportedDropped) this.owed();
    if (this.stateAt < this.head) this.stateAt = -1;
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      this.stateAt = -1;
    } else if (this.head > 4096) {
      this.queue = this.queue.slice(this.head);
      if (this.stateAt >= 0) this.stateAt -= this.head;
      this.head = 0;
    }
    if (this.head < this.queue.length) {
      // Backed up: try again shortly; meanwhile emit() drops and counts once the queue is full.
      if (ws.bufferedAmount > this.maxBuffered) {
        setTimeout(() => this.schedule(), 20).unref();
      } else {
        this.schedule();
      }
    }
  }
}
