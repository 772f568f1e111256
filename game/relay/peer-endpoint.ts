// /peer: the -v event streams of the peers. A frame is one PeerEvent or an array of them (a
// reporter sends one array per turn), each checked on its own; the first event must be `hello`
// from a peer of the config. A newer stream from the same peer replaces the older one. A peer
// that starts reporting gets its faults back (isolation) and, when the relay started after
// the cluster, seeds the key-value board from its /admin status. The events of each peer's
// current stream also go, in arrival order, to the safety watch (law-watch.ts).
import type { WebSocket, RawData } from 'ws';
import type { Config, PeerAddress } from '../../shared/config.ts';
import type { PeerEvent } from '../../shared/events.ts';
import type { AdminReply, AdminRequest } from '../../shared/peer-protocol.ts';
import { rawText } from '../../shared/ws.ts';
import type { Complaints } from './complaints.ts';
import type { Picture } from './picture.ts';
import { parseJson, parsePeerEvent } from './validate.ts';

/** Most events in one /peer frame (a reporter sends at most 1,000 per frame). */
export const MAX_EVENTS_PER_FRAME = 10_000;

export interface PeerEndpointDeps {
  config: Config;
  picture: Picture;
  complaints: Complaints;
  admin(peer: PeerAddress, request: AdminRequest): Promise<AdminReply>;
  /** A peer started reporting (again): its faults are sent back to it. */
  reporting(peer: string): void;
  /** A frame was folded into the picture: the browsers want it soon. */
  framed(): void;
  /** Each validated event of a peer's current stream, in arrival order (the safety watch). */
  observe(e: PeerEvent): void;
  /** A peer's current stream closed. */
  closed?(peer: string): void;
  log(line: string): void;
}

export class PeerEndpoint {
  /** The reporting stream of each peer (by name, once it said hello). */
  private readonly streams = new Map<string, WebSocket>();
  private readonly sockets = new Set<WebSocket>();
  private seeding = false;

  constructor(private readonly d: PeerEndpointDeps) {}

  /** Open connections, hello or not (the limit counts these). */
  get connections(): number {
    return this.sockets.size;
  }

  /** Peers with a stream that said hello. */
  get reporting(): number {
    return this.streams.size;
  }

  /** Peers with a current stream. */
  names(): string[] {
    return [...this.streams.keys()];
  }

  /** Sends a frame on a peer's current stream (the village clock's messages); false if it has none. */
  send(peer: string, text: string): boolean {
    const ws = this.streams.get(peer);
    if (!ws || ws.readyState !== ws.OPEN) return false;
    ws.send(text);
    return true;
  }

  accept(ws: WebSocket): void {
    const { config, picture, complaints } = this.d;
    this.sockets.add(ws);
    let name: string | null = null;
    const onEvent = (item: unknown): 'closed' | void => {
      const where = name ?? 'a peer';
      const parsed = parsePeerEvent(item);
      if (!parsed.ok) return complaints.reject(`peer:${where}`, `dropped an event from ${where}: ${parsed.message}`);
      const e = parsed.value;
      if (name === null) {
        if (e.type !== 'hello') {
          complaints.rejectedFrames++;
          ws.close(1008, 'the first event must be hello');
          return 'closed';
        }
        if (!config.peers.some((p) => p.name === e.peer)) {
          complaints.rejectedFrames++;
          complaints.complain(`peer:unknown`, `refused a stream from ${e.peer}: not a peer of ${config.file}`);
          ws.close(1008, `${e.peer} is not a peer of this relay's config`);
          return 'closed';
        }
        name = e.peer;
        const old = this.streams.get(name);
        if (old && old !== ws) old.close(1000, 'replaced by a newer connection from the same peer');
        this.streams.set(name, ws);
        this.d.log(`${name} is reporting (pid ${e.pid})`);
        picture.applyEvent(e);
        this.d.observe(e);
        this.d.reporting(name);
        void this.seedBoard(name);
        return;
      }
      if (e.peer !== name) return complaints.reject(`peer:${name}`, `dropped an event from ${name} that claims to be from ${e.peer}`);
      picture.applyEvent(e);
      // The monitor reads one stream per peer: what a replaced stream still delivers is not its.
      if (this.streams.get(name) === ws) this.d.observe(e);
    };
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const where = name ?? 'a peer';
      if (isBinary) return complaints.reject(`peer:${where}`, `dropped a binary frame from ${where} (events are JSON text)`);
      const json = parseJson(rawText(data));
      if (!json.ok) return complaints.reject(`peer:${where}`, `dropped a frame from ${where}: ${json.message}`);
      // A frame is one event or an array of events (a reporter sends one array per turn).
      if (!Array.isArray(json.value)) onEvent(json.value);
      else if (json.value.length > MAX_EVENTS_PER_FRAME) complaints.reject(`peer:${where}`, `dropped a frame of ${json.value.length} events from ${where} (at most ${MAX_EVENTS_PER_FRAME})`);
      else for (const item of json.value) if (onEvent(item) === 'closed') break;
      this.d.framed();
    });
    ws.on('close', () => {
      this.sockets.delete(ws);
      if (name && this.streams.get(name) === ws) {
        this.streams.delete(name);
        picture.streamClosed(name);
        this.d.closed?.(name);
        this.d.log(`${name} stopped reporting`);
      }
    });
  }

  /** Fills the board from one peer's whole store, once, when the relay started after the cluster. */
  private async seedBoard(peer: string): Promise<void> {
    const picture = this.d.picture;
    if (this.seeding || !picture.needsSeed()) return;
    const addr = this.d.config.peers.find((p) => p.name === peer);
    if (!addr) return;
    this.seeding = true;
    try {
      const r = await this.d.admin(addr, { type: 'status', kv: true });
      if (r.type === 'status' && r.kv && picture.needsSeed()) picture.seedBoard(r.kv, r.appliedIndex);
    } catch (e) {
      this.d.complaints.complain('seed', `could not read the key-value store from ${peer}: ${(e as Error).message} (will try again)`);
    } finally {
      this.seeding = false;
    }
  }
}
