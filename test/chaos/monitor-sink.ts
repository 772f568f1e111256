// The chaos run's stand-in for the relay: its peers, started with -v, stream their events here
// (ws://[relay]/peer of the run's ini, with the cluster secret). Each event is checked by the
// relay's own parser (game/relay/validate.ts) and folded into the same safety monitor the relay
// runs (game/relay/monitor/), in each peer's arrival order, one stream per peer as the relay does:
// the first event of a stream must be the hello of a peer of the ini, a newer stream of a peer
// replaces the older one, and what a replaced stream still delivers is not believed.
//
// It keeps no events, only the monitor's verdict: events seen and checked, every violation (its
// evidence also written to the run's log directory), and the periods in which the monitor was
// blind for a peer (from when to when, since which event and why).
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Config } from '../../shared/config.ts';
import { rawText } from '../../shared/ws.ts';
import { writeEvidence } from '../../game/relay/evidence.ts';
import type { Violation } from '../../game/relay/monitor/laws.ts';
import { createMonitor, type BlindPeer, type Monitor } from '../../game/relay/monitor/monitor.ts';
import { sameSecret, secretOf } from '../../game/relay/security.ts';
import { parseJson, parsePeerEvent } from '../../game/relay/validate.ts';

/** Blind periods kept; more are counted. */
const MAX_PERIODS = 1000;
/** Refused frames whose reason is kept (all are counted). */
const MAX_REASONS = 20;

export interface BlindPeriod extends BlindPeer {
  /** When it began and ended, in ms from the start of the sink's clock; `to` null while it lasts. */
  from: number;
  to: number | null;
}

export interface MonitorReport {
  eventsSeen: number;
  eventsChecked: number;
  violationCount: number;
  /** The violations (the first 100), each with the file its evidence was written to, if any. */
  violations: (Violation & { file: string | null })[];
  /** Every period in which the monitor was blind for a peer (the first MAX_PERIODS). */
  blind: BlindPeriod[];
  blindPeriods: number;
  /** Peers that reported at all. */
  peers: string[];
  /** Frames or events refused (malformed, out of place), and the first reasons. */
  refused: number;
  reasons: string[];
}

export interface MonitorSinkOptions {
  config: Config;
  /** The clock of the run (ms), for blind periods. */
  now: () => number;
  /** Where evidence files go; null: none. Default: the config's log directory. */
  evidenceDir?: string | null;
  /** Told of each violation as it is found, with its evidence file. */
  onViolation?: (v: Violation, file: string | null) => void;
}

export class MonitorSink {
  readonly monitor: Monitor;
  private readonly streams = new Map<string, WebSocket>();
  private readonly violations: (Violation & { file: string | null })[] = [];
  private readonly periods: BlindPeriod[] = [];
  private readonly open = new Map<string, BlindPeriod>();
  private periodCount = 0;
  private refused = 0;
  private readonly reasons: string[] = [];
  private readonly reported = new Set<string>();

  private constructor(
    private readonly o: MonitorSinkOptions,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
  ) {
    this.monitor = createMonitor({ onBlindChange: (peer, blind) => this.blindChanged(peer, blind) });
  }

  /** Listens on the ini's [relay] host and port. */
  static async start(o: MonitorSinkOptions): Promise<MonitorSink> {
    const { host, port } = o.config.relay;
    const server = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: o.config.limits.maxFrameBytes, perMessageDeflate: false });
    const sink = new MonitorSink(o, server, wss);
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      const path = new URL(req.url ?? '/', 'http://sink').pathname;
      const secret = secretOf(req);
      if (path !== '/peer' || secret === null || !sameSecret(secret, o.config.secret)) {
        socket.end(`HTTP/1.1 ${path !== '/peer' ? '404 Not Found' : '401 Unauthorized'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => sink.accept(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return sink;
  }

  report(): MonitorReport {
    const st = this.monitor.status();
    return {
      eventsSeen: st.eventsSeen,
      eventsChecked: st.eventsChecked,
      violationCount: st.violationCount,
      violations: this.violations.slice(),
      blind: this.periods.map((p) => ({ ...p })),
      blindPeriods: this.periodCount,
      peers: [...this.reported],
      refused: this.refused,
      reasons: this.reasons.slice(),
    };
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private accept(ws: WebSocket): void {
    let name: string | null = null;
    ws.on('error', () => {});
    const onEvent = (item: unknown): 'closed' | void => {
      const parsed = parsePeerEvent(item);
      if (!parsed.ok) return this.refuse(`an event from ${name ?? 'a peer'}: ${parsed.message}`);
      const e = parsed.value;
      if (name === null) {
        if (e.type !== 'hello' || !this.o.config.peers.some((p) => p.name === e.peer)) {
          this.refuse(e.type !== 'hello' ? `a stream whose first event is ${e.type}, not hello` : `a stream from ${e.peer}, not a peer of ${this.o.config.file}`);
          ws.close(1008, 'the first event must be the hello of a peer of the cluster');
          return 'closed';
        }
        name = e.peer;
        this.reported.add(name);
        const old = this.streams.get(name);
        if (old && old !== ws) old.close(1000, 'replaced by a newer connection from the same peer');
        this.streams.set(name, ws);
      } else if (e.peer !== name) {
        return this.refuse(`an event from ${name} that claims to be from ${e.peer}`);
      }
      // The monitor reads one stream per peer: what a replaced stream still delivers is not its.
      if (this.streams.get(name) !== ws) return;
      for (const v of this.monitor.observe(e, this.o.now())) this.violation(v);
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return void this.refuse('a binary frame');
      const json = parseJson(rawText(data));
      if (!json.ok) return void this.refuse(`a frame: ${json.message}`);
      if (!Array.isArray(json.value)) onEvent(json.value);
      else for (const item of json.value) if (onEvent(item) === 'closed') break;
    });
    ws.on('close', () => {
      if (name && this.streams.get(name) === ws) this.streams.delete(name);
    });
  }

  private refuse(reason: string): void {
    this.refused++;
    if (this.reasons.length < MAX_REASONS) this.reasons.push(reason);
  }

  private violation(v: Violation): void {
    const n = this.monitor.status().violationCount;
    let file: string | null = null;
    const dir = this.o.evidenceDir === undefined ? this.o.config.logDir : this.o.evidenceDir;
    if (dir !== null && n <= 100) {
      try {
        file = writeEvidence(dir, v, n, this.monitor.status());
      } catch {
        file = null;
      }
    }
    if (this.violations.length < 100) this.violations.push({ ...v, file });
    this.o.onViolation?.(v, file);
  }

  private blindChanged(peer: string, blind: BlindPeer | null): void {
    const now = this.o.now();
    const current = this.open.get(peer);
    if (current) {
      current.to = now;
      this.open.delete(peer);
    }
    if (!blind) return;
    this.periodCount++;
    const period: BlindPeriod = { ...blind, from: now, to: null };
    this.open.set(peer, period);
    if (this.periods.length < MAX_PERIODS) this.periods.push(period);
  }
}
