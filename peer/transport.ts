// The peer's network: one HTTP server on its port with three WebSocket paths, and one outgoing
// connection to every other peer of the cluster.
//
//   /raft    incoming Raft messages from the other peers (x-raft-peer + x-raft-secret headers)
//   /client  the client contract (handled by the shell through onClient)
//   /admin   fault injection, forced elections, status (x-raft-secret header)
//
// Each peer sends on the connection it opened and receives on the connections others opened
// (one stream per direction, as etcd's rafthttp does). A message for a peer that is down, or
// blocked, or picked by the drop rate is dropped at once: Raft retries, so a dead peer costs
// the others nothing but the retry. Outgoing connections are redialled with exponential backoff
// and jitter. Incoming messages are delivered after the profile's latency plus any injected
// latency: that is what makes the slow-motion profile real.
import { createHash, timingSafeEqual } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { CLIENT_PATH } from '../shared/client-protocol.ts';
import type { PeerAddress } from '../shared/config.ts';
import { clientCertified, clientTls, createEndpointServer, endpointUrl } from '../shared/tls.ts';
import {
  ADMIN_PATH,
  PEER_HEADER,
  RAFT_PATH,
  SECRET_HEADER,
  parsePeerFrame,
  type Faults,
  type PeerEnvelope,
} from '../shared/peer-protocol.ts';
import { rawText } from '../shared/ws.ts';
import type { PeerId, RaftMessage } from './raft/types.ts';

export type DropReason = 'blocked' | 'dropped' | 'disconnected';

/** What the transport tells the shell about (for logs and the -v events). All optional, all cheap. */
export interface TransportObserver {
  /** A message was written to the connection of `env.to`. */
  sent?(env: PeerEnvelope): void;
  /** A message was not sent (outgoing) or not delivered (incoming from a blocked peer). */
  dropped?(env: PeerEnvelope, reason: DropReason, incoming: boolean): void;
  /** A /raft frame or message that failed validation; dropped. */
  invalid?(from: PeerId, message: string): void;
  /** The outgoing connection to `peer` opened or closed. */
  link?(peer: PeerId, up: boolean): void;
  /** An upgrade request was refused (bad path, missing or wrong secret, too many connections). */
  refused?(path: string, status: number, reason: string, remote: string): void;
  /** Another peer refused our outgoing connection (e.g. a different cluster secret). */
  rejected?(peer: PeerId, status: number, reason: string): void;
}

export interface TransportOptions {
  self: PeerAddress;
  /**
   * Every peer this one may talk to, this peer included (raft_peer.ini [peers]: the configuration
   * in the log decides who votes, and a newcomer must be heard before the log names it).
   */
  cluster: PeerAddress[];
  /** The peers dialled at once (default: all of `cluster`); the others on the first message for them. */
  dial?: readonly PeerId[];
  secret: string;
  maxFrameBytes: number;
  /** The profile's per-message delivery latency (slow motion). */
  latencyMs: number;
  /** Validated messages from other peers, after the delivery latency, in arrival order. */
  deliver(messages: PeerEnvelope[]): void;
  /** A new connection on /client; the shell reads and answers its frames. */
  onClient(ws: WebSocket, req: IncomingMessage): void;
  /** A new, authenticated connection on /admin. */
  onAdmin(ws: WebSocket, req: IncomingMessage): void;
  observer?: TransportObserver;
  /** Sees every /raft frame this peer writes, as written (a debugging aid: RAFT_WIRE_TAP). */
  tap?(to: PeerId, frame: string): void;
  /** The village clock (peer/village-clock.ts): true when it took the messages to deliver on its own time. */
  hold?(messages: PeerEnvelope[], latencyMs: number): boolean;
}

/** Connection limits per path: a flood of sockets cannot exhaust the peer. */
export const CONNECTION_LIMITS = { raft: 4, client: 256, admin: 32 } as const;
const BACKOFF_MIN_MS = 25;
const BACKOFF_MAX_MS = 500;

interface Link {
  peer: PeerAddress;
  ws: WebSocket | null;
  open: boolean;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
}

export class Transport {
  readonly faults: Faults = { blocked: [], dropRate: 0, latencyMs: 0 };
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly links = new Map<PeerId, Link>();
  private readonly members = new Set<PeerId>();
  private readonly secretHash: Buffer;
  private readonly counts = { raft: 0, client: 0, admin: 0 };
  private readonly incoming = new Map<PeerId, WebSocket>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private ridCounter: number;
  private closed = false;
  private listening = false;

  constructor(private readonly opts: TransportOptions) {
    this.secretHash = hash(opts.secret);
    // Rids stay unique across restarts of this peer: the counter starts at the clock.
    this.ridCounter = Date.now() * 1000;
    for (const p of opts.cluster) {
      this.members.add(p.name);
      if (p.name !== opts.self.name) this.links.set(p.name, { peer: p, ws: null, open: false, backoffMs: BACKOFF_MIN_MS, timer: null });
    }
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false });
    this.server = createEndpointServer(opts.self.tls, opts.self.host, (req, res) => {
      const path = pathOf(req);
      const known = path === RAFT_PATH || path === CLIENT_PATH || path === ADMIN_PATH;
      const status = known ? 426 : 404;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(
        known
          ? `${path} is a WebSocket endpoint: connect with ${endpointUrl(opts.self, path)}\n`
          : `no such path ${ascii(path)} on ${opts.self.name}; WebSocket endpoints are ${RAFT_PATH}, ${CLIENT_PATH}, ${ADMIN_PATH}\n`,
      );
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('clientError', (_e, socket) => socket.destroy());
  }

  /** Starts listening and dialling the other peers. Rejects with a clear message if the port is taken. */
  listen(): Promise<void> {
    const { host, port, name } = this.opts.self;
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'EADDRINUSE'
            ? `port ${port} is already in use (is ${name} already running?)`
            : e.code === 'EADDRNOTAVAIL'
              ? `address ${host} is not an address of this machine`
              : e.message;
        reject(new Error(`${name} cannot listen on ${host}:${port}: ${why}`));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.server.on('error', () => {});
        this.listening = true;
        for (const link of this.links.values()) if (!this.opts.dial || this.opts.dial.includes(link.peer.name)) this.dial(link);
        resolve();
      });
    });
  }

  /** Peers with an open outgoing connection. */
  connected(): PeerId[] {
    return [...this.links.values()].filter((l) => l.open).map((l) => l.peer.name);
  }

  setFaults(f: Partial<Faults>): Faults {
    if (f.blocked !== undefined) this.faults.blocked = f.blocked.filter((b) => b !== this.opts.self.name);
    if (f.dropRate !== undefined) this.faults.dropRate = f.dropRate;
    if (f.latencyMs !== undefined) this.faults.latencyMs = f.latencyMs;
    return { ...this.faults, blocked: [...this.faults.blocked] };
  }

  nextRid(): string {
    return `${this.opts.self.name}:${++this.ridCounter}`;
  }

  /**
   * Sends messages (in order) to their peers. Messages for the same peer go out in one frame
   * (an array) as long as it stays under the frame limit. Never throws, never waits.
   */
  send(messages: readonly RaftMessage[]): void {
    if (this.closed) return;
    const obs = this.opts.observer;
    const byPeer = new Map<PeerId, PeerEnvelope[]>();
    for (const m of messages) {
      const env = Object.assign({}, m, { rid: this.nextRid() }) as PeerEnvelope;
      const link = this.links.get(m.to);
      // A peer not dialled yet (it joined after this one started): from now on.
      if (link && !link.ws && !link.timer && this.listening) this.dial(link);
      let reason: DropReason | null = null;
      if (!link) reason = 'dropped';
      else if (this.faults.blocked.includes(m.to)) reason = 'blocked';
      else if (!link.open || !link.ws || link.ws.bufferedAmount > 8 * this.opts.maxFrameBytes) reason = 'disconnected';
      else if (this.faults.dropRate > 0 && Math.random() < this.faults.dropRate) reason = 'dropped';
      if (reason) {
        obs?.dropped?.(env, reason, false);
        continue;
      }
      let list = byPeer.get(m.to);
      if (!list) byPeer.set(m.to, (list = []));
      list.push(env);
    }
    const limit = this.opts.maxFrameBytes;
    for (const [peer, envs] of byPeer) {
      const ws = this.links.get(peer)!.ws!;
      let parts: string[] = [];
      let size = 2;
      const flush = () => {
        if (parts.length === 0) return;
        const frame = parts.length === 1 ? parts[0]! : `[${parts.join(',')}]`;
        ws.send(frame);
        if (this.opts.tap) this.opts.tap(peer, frame);
        parts = [];
        size = 2;
      };
      for (const env of envs) {
        const text = JSON.stringify(env);
        if (text.length + 1 > limit - 2) {
          // The core keeps appends under max_bytes_per_append, so this is a configuration mistake.
          obs?.invalid?.(this.opts.self.name, `outgoing ${env.type} to ${peer} is ${text.length} bytes, over max_frame_bytes; not sent`);
          obs?.dropped?.(env, 'dropped', false);
          continue;
        }
        if (size + text.length + 1 > limit) flush();
        parts.push(text);
        size += text.length + 1;
        obs?.sent?.(env);
      }
      flush();
    }
  }

  close(): Promise<void> {
    this.closed = true;
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    for (const link of this.links.values()) {
      if (link.timer) clearTimeout(link.timer);
      link.ws?.terminate();
    }
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  // ---- outgoing ----

  private dial(link: Link): void {
    if (this.closed) return;
    link.timer = null;
    const { host, port, name } = link.peer;
    const ws = new WebSocket(endpointUrl({ host, port, tls: link.peer.tls }, RAFT_PATH), {
      // With TLS: the other peer's certificate is checked against the class CA, ours goes with it.
      ...clientTls(link.peer.tls, this.opts.self.host),
      headers: { [PEER_HEADER]: this.opts.self.name, [SECRET_HEADER]: this.opts.secret },
      maxPayload: this.opts.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: 2000,
    });
    link.ws = ws;
    ws.on('open', () => {
      link.open = true;
      link.backoffMs = BACKOFF_MIN_MS;
      this.opts.observer?.link?.(name, true);
    });
    ws.on('unexpected-response', (_req, res) => {
      // The other side refused us (wrong secret, not a member): say why, keep retrying slowly.
      let body = '';
      const done = () => {
        clearTimeout(safety);
        ws.terminate();
      };
      const safety = setTimeout(done, 1000);
      res.on('data', (c: Buffer) => (body += c.toString('utf8').slice(0, 300)));
      res.on('end', () => {
        this.opts.observer?.rejected?.(name, res.statusCode ?? 0, body.trim());
        done();
      });
      res.on('error', done);
      link.backoffMs = BACKOFF_MAX_MS;
    });
    ws.on('message', () => {}); // nothing is expected on an outgoing stream
    ws.on('error', () => {}); // followed by 'close'
    ws.on('close', () => {
      if (link.ws !== ws) return;
      const wasOpen = link.open;
      link.open = false;
      link.ws = null;
      if (wasOpen) this.opts.observer?.link?.(name, false);
      if (this.closed) return;
      const delay = link.backoffMs * (0.5 + Math.random());
      link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs * 2);
      link.timer = setTimeout(() => this.dial(link), delay);
    });
  }

  // ---- incoming ----

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const obs = this.opts.observer;
    const path = pathOf(req);
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const refuse = (status: number, reason: string) => {
      obs?.refused?.(path, status, reason, remote);
      const body = `${reason}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    };
    if (this.closed) return refuse(503, 'the peer is shutting down');

    if (path === RAFT_PATH) {
      const peer = header(req, PEER_HEADER);
      const secret = header(req, SECRET_HEADER);
      if (peer === undefined || secret === undefined) {
        return refuse(401, `peer connections must send the ${PEER_HEADER} and ${SECRET_HEADER} headers`);
      }
      if (!this.secretOk(secret)) return refuse(403, 'wrong cluster secret');
      if (this.opts.self.tls && !clientCertified(req)) return refuse(403, 'peer connections must present a certificate of the class CA ([tls] cert)');
      if (!this.members.has(peer) || peer === this.opts.self.name) {
        return refuse(403, `${/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(peer) ? peer : 'that name'} is not another member of ${this.opts.self.name}'s cluster`);
      }
      if (this.counts.raft >= CONNECTION_LIMITS.raft * this.members.size) return refuse(503, 'too many peer connections');
      this.accept(req, socket, head, 'raft', (ws) => this.onPeer(ws, peer));
    } else if (path === ADMIN_PATH) {
      const secret = header(req, SECRET_HEADER);
      if (secret === undefined) return refuse(401, `admin connections must send the ${SECRET_HEADER} header`);
      if (!this.secretOk(secret)) return refuse(403, 'wrong cluster secret');
      if (this.counts.admin >= CONNECTION_LIMITS.admin) return refuse(503, 'too many admin connections');
      this.accept(req, socket, head, 'admin', (ws) => this.opts.onAdmin(ws, req));
    } else if (path === CLIENT_PATH) {
      if (this.counts.client >= CONNECTION_LIMITS.client) return refuse(503, 'too many client connections');
      this.accept(req, socket, head, 'client', (ws) => this.opts.onClient(ws, req));
    } else {
      refuse(404, `no such path ${ascii(path)} on ${this.opts.self.name}; WebSocket endpoints are ${RAFT_PATH}, ${CLIENT_PATH}, ${ADMIN_PATH}`);
    }
  }

  private accept(req: IncomingMessage, socket: Duplex, head: Buffer, kind: 'raft' | 'client' | 'admin', then: (ws: WebSocket) => void): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.counts[kind]++;
      ws.on('error', () => {}); // e.g. an oversized frame: ws closes with 1009 and we carry on
      ws.on('close', () => this.counts[kind]--);
      then(ws);
    });
  }

  private onPeer(ws: WebSocket, peer: PeerId): void {
    // A reconnecting peer replaces its previous stream.
    const previous = this.incoming.get(peer);
    if (previous && previous !== ws) previous.terminate();
    this.incoming.set(peer, ws);
    ws.on('close', () => {
      if (this.incoming.get(peer) === ws) this.incoming.delete(peer);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const obs = this.opts.observer;
      if (isBinary) {
        obs?.invalid?.(peer, 'binary frame; expected JSON text');
        return;
      }
      const parsed = parsePeerFrame(rawText(data));
      if (!parsed.ok) {
        obs?.invalid?.(peer, parsed.message);
        return;
      }
      const ok: PeerEnvelope[] = [];
      for (const env of parsed.value) {
        if (env.from !== peer || env.to !== this.opts.self.name) {
          obs?.invalid?.(peer, `${env.type} from ${env.from} to ${env.to} arrived on ${peer}'s connection to ${this.opts.self.name}`);
        } else if (this.faults.blocked.includes(peer)) {
          obs?.dropped?.(env, 'blocked', true);
        } else {
          ok.push(env);
        }
      }
      if (ok.length === 0) return;
      const delay = this.opts.latencyMs + this.faults.latencyMs;
      if (this.opts.hold?.(ok, delay)) return;
      if (delay <= 0) {
        this.opts.deliver(ok);
        return;
      }
      const t = setTimeout(() => {
        this.delayed.delete(t);
        if (!this.closed) this.opts.deliver(ok);
      }, delay);
      this.delayed.add(t);
    });
  }

  private secretOk(given: string): boolean {
    // Compare fixed-length digests in constant time: neither the secret nor its length leaks.
    return timingSafeEqual(hash(given), this.secretHash);
  }
}

function hash(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

/** Printable ASCII only, short: safe to echo in an HTTP status body. */
function ascii(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

/** A debugging aid (RAFT_WIRE_TAP=DIR): every /raft frame `name` sends, appended to DIR/name.jsonl. */
export function fileTap(dir: string, name: PeerId): (to: PeerId, frame: string) => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.jsonl`);
  return (to, frame) => appendFileSync(file, `${JSON.stringify({ t: Date.now(), from: name, to, frame })}\n`);
}
