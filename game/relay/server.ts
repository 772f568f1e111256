// The relay: one HTTP + WebSocket server between the peers, the cluster launcher and browsers.
//
//   /peer      peers started with -v stream PeerEvents in (cluster secret required)
//   /launcher  the cluster launcher reports processes and takes kill/revive (cluster secret required)
//   /village   browsers: a snapshot, then batches of deltas; control messages need the page's token
//   /          the built game (game/dist), with the token injected into index.html
//   /api/picture  the current picture as JSON (read-only)
//
// Data flow: frames (one PeerEvent, or an array of them) are validated at the edge, folded into
// the Picture, and in the turn after peer events arrive (at most every minFlushSpacingMs, and
// every flushMs anyway) the Picture's deltas go out as one batch, serialized once and sent to every browser. A browser whose
// socket backs up is skipped and later resynchronized with a fresh snapshot, so a slow tab never
// makes the relay hold more than the socket's own buffer.
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { resolve } from 'node:path';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Config, PeerAddress } from '../../shared/config.ts';
import type { LauncherCommand } from '../../shared/events.ts';
import type { AdminReply, AdminRequest } from '../../shared/peer-protocol.ts';
import { VILLAGE_TOKEN_PARAM, type RelayToBrowser } from '../../shared/village.ts';
import { adminRequest } from '../../shared/admin-client.ts';
import { Control, type KvClient } from './control.ts';
import { Monster } from './monster.ts';
import { Picture } from './picture.ts';
import { Gate, secretOf, sameSecret } from './security.ts';
import { DEFAULT_DIST, StaticSite } from './static.ts';
import { browserFrameId, parseBrowserMessage, parseJson, parseLauncherReport, parsePeerEvent } from './validate.ts';

export interface RelayLimits {
  maxBrowsers: number;
  maxPeerStreams: number;
  maxLaunchers: number;
  /** Largest frame accepted from a peer (default: [limits] max_frame_bytes). */
  peerMaxPayload: number;
  launcherMaxPayload: number;
  browserMaxPayload: number;
  /** Control messages per second per browser before they are refused. */
  browserCommandsPerSecond: number;
  /** A browser whose socket buffers more than this is skipped until it drains... */
  browserHighWaterBytes: number;
  /** ...below this, when it gets a fresh snapshot. */
  browserLowWaterBytes: number;
}

export const DEFAULT_LIMITS: Omit<RelayLimits, 'peerMaxPayload'> = {
  maxBrowsers: 32,
  maxPeerStreams: 64,
  maxLaunchers: 4,
  launcherMaxPayload: 64 * 1024,
  browserMaxPayload: 64 * 1024,
  browserCommandsPerSecond: 20,
  browserHighWaterBytes: 4 * 1024 * 1024,
  browserLowWaterBytes: 256 * 1024,
};

export interface RelayOptions {
  config: Config;
  /** Default: [relay] host. */
  host?: string;
  /** Default: [relay] port; 0 picks a free port. */
  port?: number;
  /** Where the built game is. Default: game/dist. */
  distDir?: string;
  /** The per-run control token. Default: a fresh random one. */
  token?: string;
  /** Attacks on at start. Default true. */
  attacks?: boolean;
  /** The monster's walk from hunt to strike. Default 2500 ms. */
  walkMs?: number;
  /** The monster's random numbers. Default Math.random. */
  random?: () => number;
  /** The console's cluster client. */
  kvClient: (peers: PeerAddress[]) => KvClient;
  /** A request to a peer's /admin. Default: shared/admin-client.ts. */
  admin?: (peer: PeerAddress, request: AdminRequest) => Promise<AdminReply>;
  limits?: Partial<RelayLimits>;
  /** Batch interval when nothing arrives from peers. Default 25 ms. */
  flushMs?: number;
  /**
   * Peer events are flushed in the turn after they arrive (all events of that turn in one
   * batch), but at most once per this many ms. Default 8 ms (at most flushMs).
   */
  minFlushSpacingMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

export interface RelayStats {
  browsers: number;
  peerStreams: number;
  launchers: number;
  /** Frames refused as malformed or out of place, on every path. */
  rejectedFrames: number;
  /** Connections refused (limits, authentication). */
  refusedConnections: number;
  /** Times a slow browser was resynchronized with a fresh snapshot. */
  resyncs: number;
  /** Browsers currently skipped because they fell behind. */
  behind: number;
}

export interface Relay {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly picture: Picture;
  readonly control: Control;
  readonly monster: Monster;
  stats(): RelayStats;
  /** Stops the monster (no more attacks or revivals), e.g. while the cluster shuts down. */
  stopMonster(): void;
  close(): Promise<void>;
}

interface Browser {
  ws: WebSocket;
  control: boolean;
  /** Has had its snapshot. */
  ready: boolean;
  /** Fell behind: gets a snapshot once its socket drains. */
  stale: boolean;
  bucket: number;
  bucketAt: number;
}

const PATHS = ['/peer', '/launcher', '/village'] as const;
/** Most events in one /peer frame (a reporter sends at most 1,000 per frame). */
const MAX_EVENTS_PER_FRAME = 10_000;

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const config = opts.config;
  const host = opts.host ?? config.relay.host;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const limits: RelayLimits = { ...DEFAULT_LIMITS, peerMaxPayload: config.limits.maxFrameBytes, ...opts.limits };
  const flushMs = opts.flushMs ?? 25;
  const minFlushSpacingMs = Math.min(flushMs, opts.minFlushSpacingMs ?? 8);
  const admin = opts.admin ?? ((peer: PeerAddress, request: AdminRequest) => adminRequest(peer, config.secret, request, 2000));

  let port = opts.port ?? config.relay.port;
  const gate = new Gate(host, () => port, opts.token);
  const site = new StaticSite(resolve(opts.distDir ?? DEFAULT_DIST), gate.token);
  const picture = new Picture({ order: config.peers.map((p) => p.name), reviveAfterS: config.relay.reviveAfterS, now });
  const monster = new Monster({
    intervalMs: config.relay.attackIntervalS * 1000,
    reviveAfterMs: config.relay.reviveAfterS * 1000,
    walkMs: opts.walkMs ?? 2500,
    random: opts.random ?? Math.random,
  });

  const streams = new Map<string, WebSocket>();
  const peerSockets = new Set<WebSocket>();
  const launchers: WebSocket[] = [];
  const browsers = new Map<WebSocket, Browser>();
  const stats = { rejectedFrames: 0, refusedConnections: 0, resyncs: 0 };
  const lastComplaint = new Map<string, number>();
  let seeding = false;

  const complain = (key: string, line: string) => {
    const t = now();
    if ((lastComplaint.get(key) ?? 0) + 5000 > t) return;
    lastComplaint.set(key, t);
    log(line);
  };

  const sendLauncher = (cmd: LauncherCommand): boolean => {
    const ws = launchers[launchers.length - 1];
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(cmd));
    return true;
  };

  const control = new Control({ config, picture, monster, sendLauncher, admin, kvClient: opts.kvClient, now, log });
  if (opts.attacks ?? true) control.attacks(true);

  // ---- HTTP ----

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!gate.hostAllowed(req)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`this relay does not answer to the host ${JSON.stringify(req.headers.host ?? '')}; open http://${hostForUrl(host)}:${port}/\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('only GET and HEAD\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/picture') {
      const body = JSON.stringify({ now: now(), picture: picture.snapshot(), stats: relayStats() });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    site.handle(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = limits.maxBrowsers + limits.maxPeerStreams + limits.maxLaunchers + 64;

  const wssPeer = new WebSocketServer({ noServer: true, maxPayload: limits.peerMaxPayload, perMessageDeflate: false });
  const wssLauncher = new WebSocketServer({ noServer: true, maxPayload: limits.launcherMaxPayload, perMessageDeflate: false });
  const wssVillage = new WebSocketServer({ noServer: true, maxPayload: limits.browserMaxPayload, perMessageDeflate: false });

  const refuse = (socket: Duplex, status: number, text: string) => {
    stats.refusedConnections++;
    const body = `${text}\n`;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://relay');
    const path = url.pathname as (typeof PATHS)[number];
    switch (path) {
      case '/peer':
      case '/launcher': {
        const secret = secretOf(req);
        if (secret === null || !sameSecret(secret, config.secret)) {
          complain(`auth${path}`, `refused a ${path} connection from ${req.socket.remoteAddress}: wrong or missing cluster secret`);
          return refuse(socket, 401, `${path} needs the [cluster] secret of raft_peer.ini in the x-raft-secret header`);
        }
        if (path === '/peer' && peerSockets.size >= limits.maxPeerStreams) return refuse(socket, 503, `too many peer connections (at most ${limits.maxPeerStreams})`);
        if (path === '/launcher' && launchers.length >= limits.maxLaunchers) return refuse(socket, 503, `too many launcher connections (at most ${limits.maxLaunchers})`);
        const wss = path === '/peer' ? wssPeer : wssLauncher;
        wss.handleUpgrade(req, socket, head, (ws) => (path === '/peer' ? onPeer(ws) : onLauncher(ws)));
        return;
      }
      case '/village': {
        if (!gate.hostAllowed(req)) return refuse(socket, 403, `this relay does not answer to the host ${JSON.stringify(req.headers.host ?? '')}`);
        if (browsers.size >= limits.maxBrowsers) return refuse(socket, 503, `too many browsers (at most ${limits.maxBrowsers})`);
        const canControl = gate.originAllowed(req) && gate.tokenAllowed(url.searchParams.get(VILLAGE_TOKEN_PARAM));
        wssVillage.handleUpgrade(req, socket, head, (ws) => onBrowser(ws, canControl));
        return;
      }
      default:
        return refuse(socket, 404, `no WebSocket endpoint ${JSON.stringify(url.pathname)}; the relay has /peer, /launcher and /village`);
    }
  });

  // ---- peers (-v streams) ----

  function onPeer(ws: WebSocket): void {
    peerSockets.add(ws);
    let name: string | null = null;
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const where = name ?? 'a peer';
      if (isBinary) return reject(`peer:${where}`, `dropped a binary frame from ${where} (events are JSON text)`);
      const json = parseJson(rawText(data));
      if (!json.ok) return reject(`peer:${where}`, `dropped a frame from ${where}: ${json.message}`);
      // A frame is one event or an array of events (a reporter sends one array per turn).
      if (!Array.isArray(json.value)) onPeerEvent(json.value);
      else if (json.value.length > MAX_EVENTS_PER_FRAME) reject(`peer:${where}`, `dropped a frame of ${json.value.length} events from ${where} (at most ${MAX_EVENTS_PER_FRAME})`);
      else for (const item of json.value) if (onPeerEvent(item) === 'closed') break;
      scheduleFlush();
    });
    function onPeerEvent(item: unknown): 'closed' | void {
      const where = name ?? 'a peer';
      const parsed = parsePeerEvent(item);
      if (!parsed.ok) return reject(`peer:${where}`, `dropped an event from ${where}: ${parsed.message}`);
      const e = parsed.value;
      if (name === null) {
        if (e.type !== 'hello') {
          stats.rejectedFrames++;
          ws.close(1008, 'the first event must be hello');
          return 'closed';
        }
        if (!config.peers.some((p) => p.name === e.peer)) {
          stats.rejectedFrames++;
          complain(`peer:unknown`, `refused a stream from ${e.peer}: not a peer of ${config.file}`);
          ws.close(1008, `${e.peer} is not a peer of this relay's config`);
          return 'closed';
        }
        name = e.peer;
        const old = streams.get(name);
        if (old && old !== ws) old.close(1000, 'replaced by a newer connection from the same peer');
        streams.set(name, ws);
        log(`${name} is reporting (pid ${e.pid})`);
        picture.applyEvent(e);
        void control.reapplyFaults(name);
        void seedBoard(name);
        return;
      }
      if (e.peer !== name) return reject(`peer:${name}`, `dropped an event from ${name} that claims to be from ${e.peer}`);
      picture.applyEvent(e);
    }
    ws.on('close', () => {
      peerSockets.delete(ws);
      if (name && streams.get(name) === ws) {
        streams.delete(name);
        picture.streamClosed(name);
        log(`${name} stopped reporting`);
      }
    });
  }

  function reject(key: string, line: string): void {
    stats.rejectedFrames++;
    complain(key, line);
  }

  async function seedBoard(peer: string): Promise<void> {
    if (seeding || !picture.needsSeed()) return;
    const addr = config.peers.find((p) => p.name === peer);
    if (!addr) return;
    seeding = true;
    try {
      const r = await admin(addr, { type: 'status', kv: true });
      if (r.type === 'status' && r.kv && picture.needsSeed()) picture.seedBoard(r.kv, r.appliedIndex);
    } catch (e) {
      complain('seed', `could not read the key-value store from ${peer}: ${(e as Error).message} (will try again)`);
    } finally {
      seeding = false;
    }
  }

  // ---- the launcher ----

  function onLauncher(ws: WebSocket): void {
    launchers.push(ws);
    log(`the cluster launcher connected${launchers.length > 1 ? ' (it replaces the previous one)' : ''}`);
    picture.setLauncher(true);
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return reject('launcher', 'dropped a binary frame from the launcher');
      const json = parseJson(rawText(data));
      if (!json.ok) return reject('launcher', `dropped a frame from the launcher: ${json.message}`);
      const r = parseLauncherReport(json.value);
      if (!r.ok) return reject('launcher', `dropped a launcher report: ${r.message}`);
      picture.applyLauncherReport(r.value);
      if (r.value.type === 'process') {
        control.processReported(r.value.peer, r.value.alive);
        // A peer the launcher reports up may still be reporting on an old stream; nothing to do.
      }
    });
    ws.on('close', () => {
      const i = launchers.indexOf(ws);
      if (i >= 0) launchers.splice(i, 1);
      if (launchers.length === 0) {
        picture.setLauncher(false);
        log('the cluster launcher disconnected: kill and revive are unavailable until it comes back');
      }
    });
  }

  // ---- browsers ----

  function onBrowser(ws: WebSocket, canControl: boolean): void {
    const b: Browser = { ws, control: canControl, ready: false, stale: false, bucket: limits.browserCommandsPerSecond, bucketAt: now() };
    browsers.set(ws, b);
    picture.watching = true;
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => void onBrowserFrame(b, data, isBinary));
    ws.on('close', () => {
      browsers.delete(ws);
      picture.watching = browsers.size > 0;
    });
  }

  async function onBrowserFrame(b: Browser, data: RawData, isBinary: boolean): Promise<void> {
    const reply = (id: string, ok: boolean, text: string, value?: unknown) => {
      const m: RelayToBrowser = value === undefined ? { type: 'reply', id, ok, text } : { type: 'reply', id, ok, text, value };
      if (b.ws.readyState === WebSocket.OPEN) b.ws.send(JSON.stringify(m));
    };
    if (isBinary) {
      stats.rejectedFrames++;
      return reply('', false, 'binary frames are not understood; send JSON text');
    }
    const json = parseJson(rawText(data));
    if (!json.ok) {
      stats.rejectedFrames++;
      return reply('', false, `not understood: ${json.message}`);
    }
    const id = browserFrameId(json.value);
    const parsed = parseBrowserMessage(json.value);
    if (!parsed.ok) {
      stats.rejectedFrames++;
      return reply(id, false, `not understood: ${parsed.message}`);
    }
    if (!b.control) {
      return reply(id, false, 'this connection may watch but not control the village: control needs the page served by the relay (its token and origin)');
    }
    // A small token bucket: a runaway page cannot flood the cluster with commands.
    const t = now();
    b.bucket = Math.min(limits.browserCommandsPerSecond, b.bucket + ((t - b.bucketAt) / 1000) * limits.browserCommandsPerSecond);
    b.bucketAt = t;
    if (b.bucket < 1) return reply(id, false, 'too many commands; slow down');
    b.bucket -= 1;
    let r;
    try {
      r = await control.execute(parsed.value);
    } catch (e) {
      r = { ok: false, text: `failed: ${(e as Error).message}` };
    }
    reply(id, r.ok, r.text, r.value);
  }

  // ---- batching ----

  function snapshotFrame(): string {
    const m: RelayToBrowser = { type: 'snapshot', now: now(), picture: picture.snapshot() };
    return JSON.stringify(m);
  }

  function sendSnapshot(b: Browser, frame: string): void {
    b.ws.send(frame);
    const history = picture.consoleHistory();
    if (history.length) b.ws.send(JSON.stringify({ type: 'batch', now: now(), deltas: history } satisfies RelayToBrowser));
    b.ready = true;
    b.stale = false;
  }

  // Flushing soon after peer events arrive keeps the village's delay low; the spacing keeps
  // batches large under load. The interval covers everything else (launcher, control, browsers).
  let lastFlush = -Infinity;
  let soon: { kind: 'immediate'; h: NodeJS.Immediate } | { kind: 'timeout'; h: NodeJS.Timeout } | null = null;
  let stopped = false;
  function scheduleFlush(): void {
    if (soon || stopped) return;
    const wait = lastFlush + minFlushSpacingMs - performance.now();
    soon = wait <= 0 ? { kind: 'immediate', h: setImmediate(flushSoon) } : { kind: 'timeout', h: setTimeout(flushSoon, wait) };
  }
  function flushSoon(): void {
    soon = null;
    if (!stopped) flush();
  }
  function cancelFlush(): void {
    stopped = true;
    if (soon?.kind === 'immediate') clearImmediate(soon.h);
    else if (soon?.kind === 'timeout') clearTimeout(soon.h);
    soon = null;
  }

  function flush(): void {
    lastFlush = performance.now();
    const { resync, deltas } = picture.takeDeltas();
    let snapshot: string | null = null;
    const snap = () => (snapshot ??= snapshotFrame());
    const batch = deltas.length > 0 ? JSON.stringify({ type: 'batch', now: now(), deltas } satisfies RelayToBrowser) : null;
    for (const b of browsers.values()) {
      if (b.ws.readyState !== WebSocket.OPEN) continue;
      if (!b.ready) {
        sendSnapshot(b, snap());
        continue;
      }
      if (b.ws.bufferedAmount > limits.browserHighWaterBytes) {
        b.stale = true;
        continue;
      }
      if (b.stale) {
        if (b.ws.bufferedAmount <= limits.browserLowWaterBytes) {
          stats.resyncs++;
          sendSnapshot(b, snap());
        }
        continue;
      }
      if (resync) b.ws.send(snap());
      if (batch) b.ws.send(batch);
    }
  }

  const flushTimer = setInterval(flush, flushMs);
  const monsterTimer = setInterval(() => control.monsterTick(), 200);

  // ---- listen ----

  await new Promise<void>((resolveListen, rejectListen) => {
    const onError = (e: NodeJS.ErrnoException) => {
      clearInterval(flushTimer);
      cancelFlush();
      clearInterval(monsterTimer);
      if (e.code === 'EADDRINUSE') rejectListen(new Error(`port ${port} on ${host} is in use (another relay running?); stop it, or pick another port with --port and the same [relay] port in the ini`));
      else if (e.code === 'EADDRNOTAVAIL') rejectListen(new Error(`cannot bind ${host}: no such address on this machine; check [relay] host or --host`));
      else rejectListen(e);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      if (addr && typeof addr === 'object') port = addr.port;
      resolveListen();
    });
  });
  server.on('error', (e) => log(`relay server error: ${e.message}`));

  function relayStats(): RelayStats {
    let behind = 0;
    for (const b of browsers.values()) if (b.stale) behind++;
    return { browsers: browsers.size, peerStreams: streams.size, launchers: launchers.length, behind, ...stats };
  }

  const url = `http://${hostForUrl(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)}:${port}/`;
  if (!site.built()) log(`the game is not built (${site.dist} has no index.html): run "npm run build", or use "npm start" which builds it`);

  let closed: Promise<void> | null = null;
  return {
    url,
    host,
    port,
    token: gate.token,
    picture,
    control,
    monster,
    stats: relayStats,
    stopMonster(): void {
      clearInterval(monsterTimer);
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((done) => {
        clearInterval(flushTimer);
        cancelFlush();
        clearInterval(monsterTimer);
        control.close();
        for (const wss of [wssPeer, wssLauncher, wssVillage]) {
          for (const ws of wss.clients) ws.terminate();
          wss.close();
        }
        for (const ws of [...peerSockets, ...launchers, ...browsers.keys()]) ws.terminate();
        server.close(() => done());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
