// /launcher: the cluster launcher reports its processes and takes kill and revive. Commands go
// to the most recently connected launcher; kill and revive are unavailable while none is.
import { WebSocket, type RawData } from 'ws';
import type { LauncherCommand } from '../../shared/events.ts';
import { rawText } from '../../shared/ws.ts';
import type { Complaints } from './complaints.ts';
import type { Picture } from './picture.ts';
import { parseJson, parseLauncherReport } from './validate.ts';

export interface LauncherEndpointDeps {
  picture: Picture;
  complaints: Complaints;
  /** The launcher reported a process up or down. */
  processReported(peer: string, alive: boolean): void;
  log(line: string): void;
}

export class LauncherEndpoint {
  private readonly launchers: WebSocket[] = [];

  constructor(private readonly d: LauncherEndpointDeps) {}

  get connections(): number {
    return this.launchers.length;
  }

  /** Sends to the current launcher; false when none is connected. */
  send(cmd: LauncherCommand): boolean {
    const ws = this.launchers[this.launchers.length - 1];
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(cmd));
    return true;
  }

  accept(ws: WebSocket): void {
    const { picture, complaints } = this.d;
    this.launchers.push(ws);
    this.d.log(`the cluster launcher connected${this.launchers.length > 1 ? ' (it replaces the previous one)' : ''}`);
    picture.setLauncher(true);
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return complaints.reject('launcher', 'dropped a binary frame from the launcher');
      const json = parseJson(rawText(data));
      if (!json.ok) return complaints.reject('launcher', `dropped a frame from the launcher: ${json.message}`);
      const r = parseLauncherReport(json.value);
      if (!r.ok) return complaints.reject('launcher', `dropped a launcher report: ${r.message}`);
      picture.applyLauncherReport(r.value);
      // A peer the launcher reports up may still be reporting on an old stream; nothing to do.
      if (r.value.type === 'process') this.d.processReported(r.value.peer, r.value.alive);
    });
    ws.on('close', () => {
      const i = this.launchers.indexOf(ws);
      if (i >= 0) this.launchers.splice(i, 1);
      if (this.launchers.length === 0) {
        picture.setLauncher(false);
        this.d.log('the cluster launcher disconnected: kill and revive are unavailable until it comes back');
      }
    });
  }
}
