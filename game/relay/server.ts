// The relay: one HTTP + WebSocket server between the peers, the cluster launcher and browsers.
//
//   /peer      peers started with -v stream PeerEvents in (cluster secret required)  peer-endpoint.ts
//   /launcher  the cluster launcher reports processes and takes kill/revive (same)    launcher-endpoint.ts
//   /village   browsers: a snapshot, then batches of deltas; control needs the token  village-endpoint.ts
//   /          the built game (game/dist), with the token injected into index.html    static.ts
//   /api/picture  the current picture as JSON (read-only)
//
// Data flow: frames are validated at the edge (validate.ts) and folded into the Picture
// (picture.ts); the fan-out (fanout.ts) sends its deltas to every browser, soon after peer
// events arrive and on an interval otherwise, and resynchronizes a browser whose socket backs
// up instead of queueing for it. Commands from browsers and the monster go through Control
// (control.ts); a browser's `inspect` is fetched from the peer's /admin on demand (inspect.ts).
// Every peer event also goes to the safety watch (law-watch.ts), which runs the safety monitor
// and tells the picture, the console and the log directory what it finds. This file builds
// those units, checks who may connect where, and listens.
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join, resolve } from 'node:path';
import { WebSocketServer } from 'ws';
import type { Config, PeerAddress } from '../../shared/config.ts';
import type { AdminReply, AdminRequest } from '../../shared/peer-protocol.ts';
import { VILLAGE_TOKEN_PARAM } from '../../shared/village.ts';
import { createEndpointServer } from '../../shared/tls.ts';
import { hostForUrl } from '../../shared/ws.ts';
import { adminRequest } from '../../shared/admin-client.ts';
import { RelayClock } from './clock.ts';
import { Complaints } from './complaints.ts';
import { Control, type KvClient } from './control.ts';
import { writeEvidence } from './evidence.ts';
import { Fanout, nodeScheduler } from './fanout.ts';
import { Inspect } from './inspect.ts';
import { LawWatch } from './law-watch.ts';
import { LauncherEndpoint } from './launcher-endpoint.ts';
import { Monster } from './monster.ts';
import { PeerEndpoint } from './peer-endpoint.ts';
import { Picture } from './picture.ts';
import { Recorder } from './recorder.ts';
import { answerRecording, type RecordingSource } from './recording.ts';
import { Gate, secretOf, sameSecret } from './security.ts';
import { DEFAULT_DIST, StaticSite } from './static.ts';
import { VillageEndpoint } from './village-endpoint.ts';

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
  maxLaunchers: 32,
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
   * batch), but at most once per this many ms (and the interval too). Default 8 ms: an event
   * reaches browsers a few ms after its peer sent it (W3's delay); what a busy village costs a
   * page is bounded by the letter sampler (letter-sampler.ts), not by fewer batches.
   */
  minFlushSpacingMs?: number;
  now?: () => number;
  log?: (line: string) => void;
  /** Where the evidence of a broken law is written. Default: [cluster] log_dir. */
  evidenceDir?: string;
  /** Least time between two `laws` deltas to browsers. Default 250 ms. */
  lawsThrottleMs?: number;
  /** Where the flight recorder writes (recorder.ts). Default: [cluster] log_dir/village; null: no recording. */
  recordingDir?: string | null;
  /** Least time between the recorder's keyframes. Default 10 s. */
  recordingKeyframeMs?: number;
  /** Offer the village clock to the peers (pause, speed, step; clock.ts). Default true. */
  clock?: boolean;
  /** How long a reporting peer has to take the clock before pages list it as unpausable. Default 3000 ms. */
  clockJoinWaitMs?: number;
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
  /** The safety monitor over the peers' events, and what it told. */
  readonly laws: LawWatch;
  /** The flight recorder; null when [relay] recording_bytes is 0. */
  readonly recorder: Recorder | null;
  /** The village clock (pause, speed, step). */
  readonly clock: RelayClock;
  stats(): RelayStats;
  /** Stops the monster (no more attacks or revivals), e.g. while the cluster shuts down. */
  stopMonster(): void;
  close(): Promise<void>;
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const config = opts.config;
  const host = opts.host ?? config.relay.host;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const limits: RelayLimits = { ...DEFAULT_LIMITS, peerMaxPayload: config.limits.maxFrameBytes, ...opts.limits };
  const admin = opts.admin ?? ((peer: PeerAddress, request: AdminRequest) => adminRequest(peer, config.secret, request, 2000));

  // ---- the units: the picture, the monster, commands, the fan-out, one per endpoint ----

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
  const complaints = new Complaints(now, log);
  const launchers = new LauncherEndpoint({
    picture, complaints, log,
    processReported: (peer, alive) => control.processReported(peer, alive),
    membershipReported: (result) => control.membershipReported(result),
  });
  const clock = new RelayClock({ offered: opts.clock ?? true, picture, sendPeer: (p, text) => peers.send(p, text), streams: () => peers.names(), now, log, ...(opts.clockJoinWaitMs !== undefined ? { joinWaitMs: opts.clockJoinWaitMs } : {}) });
  const kvClient = (list: PeerAddress[]) => clock.wrapClient(opts.kvClient(list));
  const control = new Control({ config, picture, monster, sendLauncher: (cmd) => launchers.send(cmd), admin, kvClient, now, log, clock: (msg, by) => clock.command(msg, by) });
  if (opts.attacks ?? true) control.attacks(true);
  const inspect = new Inspect({ config, admin, names: () => picture.names() });
  const fanout = new Fanout({
    source: picture,
    highWaterBytes: limits.browserHighWaterBytes,
    lowWaterBytes: limits.browserLowWaterBytes,
    flushMs: opts.flushMs ?? 25,
    minFlushSpacingMs: opts.minFlushSpacingMs ?? 8,
    now,
  });
  // The flight recorder is one more browser of the fan-out: it is sent what browsers are sent.
  const recordingDir = opts.recordingDir === undefined ? join(config.logDir, 'village') : opts.recordingDir;
  const recorder =
    recordingDir !== null && config.relay.recordingBytes > 0
      ? new Recorder({ dir: recordingDir, maxBytes: config.relay.recordingBytes, kept: config.relay.recordingsKept, now, log, picture: () => picture.snapshot(), ...(opts.recordingKeyframeMs !== undefined ? { keyframeMs: opts.recordingKeyframeMs } : {}) })
      : null;
  if (recorder) {
    fanout.add(recorder);
    picture.watching = true;
  }
  const evidenceDir = opts.evidenceDir ?? config.logDir;
  const laws = new LawWatch({
    publish: (status, added) => picture.setLaws(status, added),
    save: (v, n, status) => writeEvidence(evidenceDir, v, n, status),
    say: (line) => picture.say(line, 'error'),
    log,
    now,
    monotonic: nodeScheduler.monotonic,
    after: nodeScheduler.after,
    ...(opts.lawsThrottleMs !== undefined ? { throttleMs: opts.lawsThrottleMs } : {}),
    // On a violation the village pauses (only with a clock; never resumed by itself).
    firstViolation: () => void (clock.paused || clock.command({ type: 'clock', action: 'pause' }, 'the safety monitor')),
  });
  const peers = new PeerEndpoint({
    config,
    picture,
    complaints,
    admin,
    log,
    reporting: (peer) => {
      void control.reapplyFaults(peer);
      clock.reporting(peer);
    },
    framed: () => fanout.flushSoon(),
    observe: (e) => {
      laws.observe(e);
      if (e.type === 'clock') clock.report(e);
    },
    closed: (peer) => clock.streamClosed(peer),
  });
  const village = new VillageEndpoint({
    fanout,
    complaints,
    execute: (msg) => (msg.type === 'clock' ? clock.command(msg, 'a visitor') : msg.type === 'inspect' ? inspect.inspect(msg.peer, msg.log) : control.execute(msg)),
    watching: (on) => (picture.watching = on || recorder !== null),
    commandsPerSecond: limits.browserCommandsPerSecond,
    now,
  });
  // The monster does not strike (nor revive) while the village is paused.
  const monsterTimer = setInterval(() => clock.paused || control.monsterTick(), 200);
  const stopTimers = () => {
    fanout.stop();
    recorder?.close();
    laws.close();
    clearInterval(monsterTimer);
    clock.close();
  };
  const relayStats = (): RelayStats => ({
    browsers: village.connections,
    peerStreams: peers.reporting,
    launchers: launchers.connections,
    behind: fanout.behind(),
    rejectedFrames: complaints.rejectedFrames,
    refusedConnections: complaints.refusedConnections,
    resyncs: fanout.resyncs,
  });

  // ---- HTTP: the page and /api/picture ----

  // With a [tls] section: https and wss://, with the certificate of [relay] host.
  const web = config.tls ? 'https' : 'http';
  const server = createEndpointServer(config.tls, config.relay.host, (req, res) => answerHttp(req, res, { gate, site, home: `${web}://${hostForUrl(host)}:${port}/`, picture: () => ({ now: now(), picture: picture.snapshot(), stats: relayStats() }), recording: recorder }));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = limits.maxBrowsers + limits.maxPeerStreams + limits.maxLaunchers + 64;

  // ---- WebSocket upgrades: who may connect where, then the endpoint's unit ----

  const wssPeer = new WebSocketServer({ noServer: true, maxPayload: limits.peerMaxPayload, perMessageDeflate: false });
  const wssLauncher = new WebSocketServer({ noServer: true, maxPayload: limits.launcherMaxPayload, perMessageDeflate: false });
  const wssVillage = new WebSocketServer({ noServer: true, maxPayload: limits.browserMaxPayload, perMessageDeflate: false });
  const refuse = (socket: Duplex, status: number, text: string) => {
    complaints.refusedConnections++;
    refuseUpgrade(socket, status, text);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://relay');
    const path = url.pathname;
    if (path === '/peer' || path === '/launcher') {
      const secret = secretOf(req);
      if (secret === null || !sameSecret(secret, config.secret)) {
        complaints.complain(`auth${path}`, `refused a ${path} connection from ${req.socket.remoteAddress}: wrong or missing cluster secret`);
        return refuse(socket, 401, `${path} needs the [cluster] secret of raft_peer.ini in the x-raft-secret header`);
      }
      if (path === '/peer') {
        if (peers.connections >= limits.maxPeerStreams) return refuse(socket, 503, `too many peer connections (at most ${limits.maxPeerStreams})`);
        return wssPeer.handleUpgrade(req, socket, head, (ws) => peers.accept(ws));
      }
      if (launchers.connections >= limits.maxLaunchers) return refuse(socket, 503, `too many launcher connections (at most ${limits.maxLaunchers})`);
      return wssLauncher.handleUpgrade(req, socket, head, (ws) => launchers.accept(ws));
    }
    if (path === '/village') {
      if (!gate.hostAllowed(req)) return refuse(socket, 403, `this relay does not answer to the host ${JSON.stringify(req.headers.host ?? '')}`);
      if (village.connections >= limits.maxBrowsers) return refuse(socket, 503, `too many browsers (at most ${limits.maxBrowsers})`);
      const canControl = gate.originAllowed(req) && gate.tokenAllowed(url.searchParams.get(VILLAGE_TOKEN_PARAM));
      return wssVillage.handleUpgrade(req, socket, head, (ws) => village.accept(ws, canControl));
    }
    return refuse(socket, 404, `no WebSocket endpoint ${JSON.stringify(path)}; the relay has /peer, /launcher and /village`);
  });

  // ---- listen ----

  try {
    port = await listen(server, port, host);
  } catch (e) {
    stopTimers();
    throw e;
  }
  server.on('error', (e) => log(`relay server error: ${e.message}`));
  if (!site.built()) log(`the game is not built (${site.dist} has no index.html): run "npm run build", or use "npm start" which builds it`);

  let closed: Promise<void> | null = null;
  return {
    url: `${web}://${hostForUrl(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)}:${port}/`,
    host,
    port,
    token: gate.token,
    picture,
    control,
    monster,
    laws,
    recorder,
    clock,
    stats: relayStats,
    stopMonster(): void {
      clearInterval(monsterTimer);
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((done) => {
        stopTimers();
        control.close();
        for (const wss of [wssPeer, wssLauncher, wssVillage]) {
          for (const ws of wss.clients) ws.terminate();
          wss.close();
        }
        server.close(() => done());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

interface HttpDeps {
  gate: Gate;
  site: StaticSite;
  /** The relay's own address, for the error a request naming another host gets. */
  home: string;
  /** The body of /api/picture. */
  picture(): unknown;
  /** What /api/recording serves (null: nothing recorded). */
  recording: RecordingSource | null;
}

/** Plain HTTP: /api/picture, else the built game; only GET and HEAD, only for hosts the relay answers to. */
function answerHttp(req: IncomingMessage, res: ServerResponse, d: HttpDeps): void {
  if (!d.gate.hostAllowed(req)) {
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`this relay does not answer to the host ${JSON.stringify(req.headers.host ?? '')}; open ${d.home}\n`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('only GET and HEAD\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0]!;
  const reply = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (answerRecording(path, new URL(req.url ?? '/', 'http://relay').searchParams, d.recording, reply)) return;
  if (path === '/api/picture') {
    const body = JSON.stringify(d.picture());
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  d.site.handle(req, res);
}

/** Answers an upgrade with a plain HTTP error and closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Listens on host:port and resolves with the port bound (port 0 picks one); a failure says what to do. */
function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolveListen, rejectListen) => {
    const onError = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') rejectListen(new Error(`port ${port} on ${host} is in use (another relay running?); stop it, or pick another port with --port and the same [relay] port in the ini`));
      else if (e.code === 'EADDRNOTAVAIL') rejectListen(new Error(`cannot bind ${host}: no such address on this machine; check [relay] host or --host`));
      else rejectListen(e);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolveListen(addr && typeof addr === 'object' ? addr.port : port);
    });
  });
}
