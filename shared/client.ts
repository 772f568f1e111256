// A client of the cluster's key-value store, speaking the client contract
// (shared/client-protocol.ts) on ws://HOST:PORT/client.
//
// It finds the leader by itself: it tries a peer, follows not_leader hints, and moves on to the
// next peer when one does not answer. Every command carries this client's id and a sequence
// number, so when the outcome of a try is unknown (the connection dropped, the leader lost its
// leadership, no answer in time) the same command can be sent again, to any peer, and the
// cluster's sessions (peer/kv.ts) make it take effect once. Commands from one ClusterClient run
// one at a time, in call order: sessions need a client's sequence numbers to arrive in order.
// Use one ClusterClient per concurrent client.
//
// command() always resolves (never rejects) with a command_result:
//   ok                  the command took effect; value, index, term
//   bad_command         the cluster refused the command; nothing was done
//   not_leader          no leader answered in time and no try may have reached one; nothing was done
//   unknown             time ran out after a try may have been appended; it may or may not take effect
import { randomBytes } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { PeerAddress } from './config.ts';
import { clientTls, endpointUrl } from './tls.ts';
import {
  CLIENT_PATH,
  MAX_CLIENT_ID_LENGTH,
  parseClientReply,
  type ClientReply,
  type CommandNotLeader,
  type CommandResult,
  type CommandUnknown,
  type RequestCommand,
} from './client-protocol.ts';
import { rawText } from './ws.ts';

export interface ClusterClientOptions {
  peers: PeerAddress[];
  /** Session id for exactly-once; random by default. Never reuse one across runs. */
  clientId?: string;
  /** How long one command may take in all, tries and waits included (default 5000). */
  timeoutMs?: number;
  /** How long to wait for one peer's answer before trying another (default: a third of timeoutMs, at least 1000). */
  attemptTimeoutMs?: number;
  /** Called when the leader this client talks to changes (confirmed by a successful command). */
  onLeaderChange?: (leader: string, previous: string | null) => void;
}

const PROBE_KEY = '__leader_probe';
const MIN_BACKOFF_MS = 20;
const MAX_BACKOFF_MS = 500;

interface Conn {
  ws: WebSocket;
  open: Promise<boolean>;
  waiting: Map<string, (reply: ClientReply | null) => void>;
}

export class ClusterClient {
  readonly clientId: string;
  private readonly peers: PeerAddress[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly onLeaderChange: ((leader: string, previous: string | null) => void) | undefined;
  private readonly conns = new Map<string, Conn>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  private seq = 0;
  private tries = 0;
  private current: string | null = null;
  private announced: string | null = null;
  private hint: string | null = null;
  private rotation = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private lastTerm: number | null = null;

  constructor(opts: ClusterClientOptions) {
    if (opts.peers.length === 0) throw new Error('ClusterClient needs at least one peer');
    this.peers = opts.peers;
    this.clientId = opts.clientId ?? `c-${randomBytes(8).toString('hex')}`;
    if (this.clientId.length === 0 || this.clientId.length > MAX_CLIENT_ID_LENGTH) {
      throw new Error(`clientId must be 1 to ${MAX_CLIENT_ID_LENGTH} characters`);
    }
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? Math.max(1000, Math.floor(this.timeoutMs / 3));
    this.onLeaderChange = opts.onLeaderChange;
  }

  /** The leader this client last got a successful answer from, or null when it lost it. */
  leader(): string | null {
    return this.current;
  }

  /** The term of the last successful answer, or null. */
  term(): number | null {
    return this.lastTerm;
  }

  /** Sends a command, e.g. ["x","add","100"], as given (numbers may be numeric strings). */
  command(command: unknown[]): Promise<CommandResult> {
    const run = this.chain.then(() => this.run(command));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Finds the leader with a harmless read; resolves with its name, or null if none answered in time. */
  async findLeader(): Promise<string | null> {
    const r = await this.command([PROBE_KEY, 'get']);
    return r.ok ? this.current : null;
  }

  /** Closes every connection; commands in progress end (not_leader or unknown). No timers stay behind. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.done();
    }
    this.timers.clear();
    for (const c of this.conns.values()) {
      for (const w of c.waiting.values()) w(null);
      c.waiting.clear();
      c.ws.removeAllListeners('message');
      c.ws.terminate();
    }
    this.conns.clear();
  }

  // ---- one command ----

  private async run(command: unknown[]): Promise<CommandResult> {
    const seq = ++this.seq;
    const deadline = Date.now() + this.timeoutMs;
    let maybeApplied = false;
    let failures = 0;
    let backoff = MIN_BACKOFF_MS;
    let target = this.current ?? this.hint ?? this.nextPeer(null);
    let lastHint: string | null = null;
    const unreachable = new Set<string>();
    let lastId = `${seq}`;

    const fail = async (next: string) => {
      failures++;
      target = next;
      if (failures % this.peers.length === 0) {
        await this.sleep(Math.min(backoff, Math.max(0, deadline - Date.now())));
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    };

    while (!this.closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const conn = await this.connect(target, Math.min(remaining, this.attemptTimeoutMs));
      if (this.closed) break;
      if (!conn) {
        unreachable.add(target);
        if (this.current === target) this.current = null;
        await fail(this.nextPeer(target));
        continue;
      }
      unreachable.delete(target);
      const id = `${seq}.${++this.tries}`;
      lastId = id;
      const req: RequestCommand = { type: 'request_command', id, command, client: this.clientId, seq };
      const reply = await this.request(conn, req, Math.min(deadline - Date.now(), this.attemptTimeoutMs));
      // Sent, but no answer: it may have been appended. Retrying is safe (same client + seq).
      if (reply === null) maybeApplied = true;
      if (this.closed) break;
      if (reply === null) {
        if (this.current === target) this.current = null;
        await fail(this.nextPeer(target));
        continue;
      }
      if (reply.type === 'error') {
        return { type: 'command_result', id, ok: false, error: 'bad_command', message: `the peer refused the request: ${reply.message}` };
      }
      if (reply.ok) {
        this.lastTerm = reply.term;
        this.setLeader(target);
        return reply;
      }
      switch (reply.error) {
        case 'bad_command':
          return reply;
        case 'unknown':
          maybeApplied = true;
          if (this.current === target) this.current = null;
          await fail(this.nextPeer(target));
          break;
        case 'not_leader': {
          if (this.current === target) this.current = null;
          const hinted = reply.leader !== null && reply.leader !== target && this.peers.some((p) => p.name === reply.leader) ? reply.leader : null;
          if (hinted) {
            lastHint = hinted;
            this.hint = hinted;
          }
          await fail(hinted ?? this.nextPeer(target));
          break;
        }
      }
    }

    const why = this.closed ? 'the client was closed' : `no answer within ${this.timeoutMs} ms`;
    if (maybeApplied) {
      const r: CommandUnknown = { type: 'command_result', id: lastId, ok: false, error: 'unknown', message: `${why}; the command may or may not have taken effect` };
      return r;
    }
    const down = unreachable.size > 0 ? ` (unreachable: ${[...unreachable].sort().join(', ')})` : '';
    const r: CommandNotLeader = {
      type: 'command_result',
      id: lastId,
      ok: false,
      error: 'not_leader',
      leader: lastHint,
      message: this.closed ? 'the client was closed; nothing was done' : `no leader found within ${this.timeoutMs} ms${down}; nothing was done`,
    };
    return r;
  }

  private setLeader(name: string): void {
    this.current = name;
    this.hint = name;
    if (name !== this.announced) {
      const previous = this.announced;
      this.announced = name;
      try {
        this.onLeaderChange?.(name, previous);
      } catch {
        // a listener's failure is not the command's
      }
    }
  }

  /** The peer after `name` in the list (round robin), or the next in rotation. */
  private nextPeer(name: string | null): string {
    if (name === null) return this.peers[this.rotation++ % this.peers.length]!.name;
    const i = this.peers.findIndex((p) => p.name === name);
    return this.peers[(i + 1) % this.peers.length]!.name;
  }

  // ---- connections ----

  private connect(name: string, timeoutMs: number): Promise<Conn | null> {
    const existing = this.conns.get(name);
    if (existing) return existing.open.then((ok) => (ok ? existing : null));
    const peer = this.peers.find((p) => p.name === name)!;
    const ws = new WebSocket(endpointUrl(peer, CLIENT_PATH), { ...clientTls(peer.tls), handshakeTimeout: Math.max(1, timeoutMs) });
    const conn: Conn = {
      ws,
      waiting: new Map(),
      open: new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(true));
        ws.once('close', () => resolve(false));
        ws.once('error', () => resolve(false));
      }),
    };
    ws.on('error', () => {}); // reported through 'close'
    ws.on('close', () => {
      if (this.conns.get(name) === conn) this.conns.delete(name);
      for (const w of conn.waiting.values()) w(null);
      conn.waiting.clear();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let json: unknown;
      try {
        json = JSON.parse(rawText(data));
      } catch {
        return;
      }
      const parsed = parseClientReply(json);
      if (!parsed.ok) return;
      const id = parsed.value.id;
      if (id === undefined) return;
      const w = conn.waiting.get(id);
      if (w) {
        conn.waiting.delete(id);
        w(parsed.value);
      }
    });
    this.conns.set(name, conn);
    return conn.open.then((ok) => {
      if (!ok) {
        if (this.conns.get(name) === conn) this.conns.delete(name);
        ws.terminate();
        return null;
      }
      return conn;
    });
  }

  /** Sends one request and waits for its reply; null when the connection closes or time runs out. */
  private request(conn: Conn, req: RequestCommand, timeoutMs: number): Promise<ClientReply | null> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: ClientReply | null) => {
        if (settled) return;
        settled = true;
        conn.waiting.delete(req.id);
        this.cancel(timer);
        resolve(r);
      };
      const timer = this.timer(Math.max(0, timeoutMs), () => finish(null));
      conn.waiting.set(req.id, finish);
      conn.ws.send(JSON.stringify(req), (err) => {
        if (err) finish(null);
      });
    });
  }

  // ---- timers that close() can clear ----

  private timer(ms: number, fn: () => void): { timer: NodeJS.Timeout; done: () => void } {
    const t = {
      timer: setTimeout(() => {
        this.timers.delete(t);
        fn();
      }, ms),
      done: fn,
    };
    this.timers.add(t);
    return t;
  }

  private cancel(t: { timer: NodeJS.Timeout }): void {
    clearTimeout(t.timer);
    this.timers.delete(t as { timer: NodeJS.Timeout; done: () => void });
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.timer(ms, resolve));
  }
}
