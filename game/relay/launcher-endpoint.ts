// /launcher: the cluster launchers report their processes and take kill and revive. A class runs
// one launcher per machine, so a command goes to the launcher that runs the villager (launchers.ts);
// kill and revive of a villager are unavailable while no launcher runs it.
import { WebSocket, type RawData } from 'ws';
import type { LauncherCommand } from '../../shared/events.ts';
import type { MembershipResult } from '../../shared/membership.ts';
import { rawText } from '../../shared/ws.ts';
import type { Complaints } from './complaints.ts';
import { LauncherRoutes } from './launchers.ts';
import type { Picture } from './picture.ts';
import { parseJson, parseLauncherReport } from './validate.ts';

export interface LauncherEndpointDeps {
  picture: Picture;
  complaints: Complaints;
  /** The launcher reported a process up or down. */
  processReported(peer: string, alive: boolean): void;
  /** The launcher reported how a join or leave went. */
  membershipReported?(result: MembershipResult): void;
  log(line: string): void;
}

export class LauncherEndpoint {
  private readonly launchers = new LauncherRoutes<WebSocket>();

  constructor(private readonly d: LauncherEndpointDeps) {}

  get connections(): number {
    return this.launchers.size;
  }

  /** Sends to the launcher that runs cmd.peer; false when none does. */
  send(cmd: LauncherCommand): boolean {
    const ws = this.launchers.for(cmd.peer);
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(cmd));
    return true;
  }

  accept(ws: WebSocket): void {
    const { picture, complaints } = this.d;
    this.launchers.add(ws);
    this.d.log(`a cluster launcher connected${this.launchers.size > 1 ? ` (${this.launchers.size} now)` : ''}`);
    picture.setLauncher(true);
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return complaints.reject('launcher', 'dropped a binary frame from the launcher');
      const json = parseJson(rawText(data));
      if (!json.ok) return complaints.reject('launcher', `dropped a frame from the launcher: ${json.message}`);
      const r = parseLauncherReport(json.value);
      if (!r.ok) return complaints.reject('launcher', `dropped a launcher report: ${r.message}`);
      if (r.value.type === 'launcher_hello') this.launchers.hello(ws, r.value.peers, r.value.runs);
      picture.applyLauncherReport(r.value);
      // A peer the launcher reports up may still be reporting on an old stream; nothing to do.
      if (r.value.type === 'process') this.d.processReported(r.value.peer, r.value.alive);
      if (r.value.type === 'membership') this.d.membershipReported?.(r.value.result);
    });
    ws.on('close', () => {
      this.launchers.remove(ws);
      if (this.launchers.size === 0) {
        picture.setLauncher(false);
        this.d.log('the cluster launcher disconnected: kill and revive are unavailable until it comes back');
      }
    });
  }
}
