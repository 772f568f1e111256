// A stand-in for the relay, for tests of peers started with -v and of the launcher:
// a WebSocket server on 127.0.0.1:port that records every PeerEvent on /peer (frames of one
// event or an array of events) and every
// LauncherReport on /launcher, and can send LauncherCommands.
//
//   const relay = await FakeRelay.start(cluster.relayPort);
//   await relay.waitForEvent((e) => e.type === 'hello' && e.peer === 'peer1');
//   relay.command({ type: 'kill', peer: 'peer2' });     // to the connected launcher
//   relay.onPeerEvent = (e) => monitor.observe(e);      // every peer event, as it arrives
//   await relay.close();
import { WebSocketServer, type WebSocket } from 'ws';
import type { LauncherCommand, LauncherReport, PeerEvent } from '../../shared/events.ts';
import { waitFor } from './cluster.ts';

export class FakeRelay {
  readonly events: PeerEvent[] = [];
  readonly reports: LauncherReport[] = [];
  /** Frames that were not valid JSON objects (should stay empty). */
  readonly garbage: string[] = [];
  /** Frames received on /peer. */
  frames = 0;
  /** Called with the text of every frame on /peer as it arrives. */
  onFrame: ((text: string) => void) | null = null;
  /** Called with every peer event as it arrives (each peer's in the order it sent them). */
  onPeerEvent: ((e: PeerEvent) => void) | null = null;
  private launcher: WebSocket | null = null;
  /** Per connection: its path and the x-raft-secret header it sent (the real relay requires it). */
  readonly connections: Array<{ path: string; secret: string | undefined }> = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    wss.on('connection', (ws, req) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const secret = req.headers['x-raft-secret'];
      this.connections.push({ path, secret: Array.isArray(secret) ? secret[0] : secret });
      if (path === '/launcher') this.launcher = ws;
      ws.on('message', (data) => {
        const text = String(data);
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch {
          this.garbage.push(text);
          return;
        }
        if (path === '/peer') {
          this.frames++;
          this.onFrame?.(text);
        }
        if (typeof v !== 'object' || v === null) this.garbage.push(text);
        else if (path === '/peer') {
          const list = (Array.isArray(v) ? v : [v]) as PeerEvent[];
          this.events.push(...list);
          if (this.onPeerEvent) for (const e of list) this.onPeerEvent(e);
        }
        else if (path === '/launcher') this.reports.push(v as LauncherReport);
        else this.garbage.push(text);
      });
      ws.on('error', () => {});
    });
  }

  static start(port: number): Promise<FakeRelay> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port });
      wss.once('error', reject);
      wss.once('listening', () => resolve(new FakeRelay(wss, port)));
    });
  }

  waitForEvent(match: (e: PeerEvent) => boolean, what = 'a matching peer event', timeoutMs = 20_000): Promise<PeerEvent> {
    return waitFor(what, () => this.events.find(match), timeoutMs, 25);
  }

  waitForReport(match: (r: LauncherReport) => boolean, what = 'a matching launcher report', timeoutMs = 20_000): Promise<LauncherReport> {
    return waitFor(what, () => this.reports.find(match), timeoutMs, 25);
  }

  /** Sends a command to the connected launcher. */
  command(c: LauncherCommand): void {
    if (!this.launcher) throw new Error('no launcher connected');
    this.launcher.send(JSON.stringify(c));
  }

  get launcherConnected(): boolean {
    return this.launcher !== null && this.launcher.readyState === this.launcher.OPEN;
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}
