// The browser's one WebSocket to the relay (ws://<page host>/village). It feeds every frame to
// the model, carries commands up with an id, hands each reply back to its sender, and
// reconnects by itself (0.5 s, doubling to 5 s) whenever the relay goes away.
import { VILLAGE_TOKEN_PARAM, type BrowserToRelay } from '../../../shared/village.ts';
import type { VillageModel } from '../model.ts';
import type { VillageTime } from '../villageTime.ts';
import { parseRelayFrame } from './wire.ts';

/** A command without its id (the connection adds one). */
export type Command = BrowserToRelay extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

export interface Reply {
  ok: boolean;
  text: string;
  value?: unknown;
  /** Set when the page itself answered (no connection, no reply in time): the relay never saw it. */
  local?: true;
}

const REPLY_TIMEOUT_MS = 20_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

export class RelayConnection {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private pending = new Map<string, { resolve: (r: Reply) => void; timer: ReturnType<typeof setTimeout> }>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryMs = RETRY_MIN_MS;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly model: VillageModel,
    /** The village clock: the model is fed village time, and a reply's wait counts village time. */
    private readonly time?: VillageTime,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.ws?.close();
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a command; resolves with the relay's reply (or a local failure, never rejects). */
  send(cmd: Command): Promise<Reply> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve({ ok: false, local: true, text: 'not connected to the relay (reconnecting…); try again in a moment' });
    }
    const id = `b${this.nextId++}`;
    return new Promise<Reply>((resolve) => {
      // The wait counts village time: a command waiting out a pause (or a slowed village) is not given up on.
      const started = this.time?.now(Date.now()) ?? 0;
      const expire = () => {
        const waited = this.time ? this.time.now(Date.now()) - started : REPLY_TIMEOUT_MS;
        const p = this.pending.get(id);
        if (!p) return;
        if (waited < REPLY_TIMEOUT_MS) {
          p.timer = setTimeout(expire, 1000);
          return;
        }
        this.pending.delete(id);
        resolve({ ok: false, local: true, text: `no reply from the relay within ${REPLY_TIMEOUT_MS / 1000} s${this.time?.paused ? ' (the village is paused)' : ''}` });
      };
      const timer = setTimeout(expire, REPLY_TIMEOUT_MS);
      this.pending.set(id, { resolve, timer });
      ws.send(JSON.stringify({ ...cmd, id }));
    });
  }

  private open(): void {
    if (this.stopped) return;
    this.model.setConnection('connecting', Date.now());
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleRetry(`cannot open ${this.url.split('?')[0]}: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = RETRY_MIN_MS;
      this.model.setConnection('open', Date.now());
    };
    ws.onmessage = (ev: MessageEvent) => this.onFrame(ev.data);
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending('the connection to the relay closed before it replied');
      // Never show the token: name the relay by its address only.
      const where = this.url.split('?')[0];
      this.scheduleRetry(ev.reason ? `${where} closed the connection: ${ev.reason}` : `no answer from ${where}`);
    };
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
  }

  private onFrame(data: unknown): void {
    const parsed = parseRelayFrame(data);
    if (!parsed.ok) {
      this.model.ignored++;
      console.warn(`village: ignored a frame from the relay: ${parsed.reason}`);
      return;
    }
    const msg = parsed.msg;
    if (msg.type === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      p.resolve({ ok: msg.ok, text: msg.text, ...('value' in msg ? { value: msg.value } : {}) });
      return;
    }
    const wall = Date.now();
    this.time?.observe(msg, wall);
    this.model.receive(msg, this.time?.now(wall) ?? wall, wall);
  }

  private failPending(text: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, local: true, text });
      this.pending.delete(id);
    }
  }

  private scheduleRetry(error: string): void {
    if (this.stopped) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    const now = Date.now();
    this.model.setConnection('closed', now, { error, retryAt: now + wait });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, wait);
  }
}

/** ws(s)://<the page's host>/village, with the page's control token when it has one. */
export function villageUrl(loc: { protocol: string; host: string }, token: string | null): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = token ? `?${VILLAGE_TOKEN_PARAM}=${encodeURIComponent(token)}` : '';
  return `${scheme}//${loc.host}/village${q}`;
}
