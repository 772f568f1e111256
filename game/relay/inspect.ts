// Looking inside a peer for the page (`inspect`): the relay asks the peer's /admin for a status
// with a window of its log and, on a leader, nextIndex and matchIndex per follower, and hands
// it to the browser that asked. Fetched on demand only (an open inspector refreshes while it is
// open), never streamed: the -v events stay what the village draws. Requests for the same peer
// and window that overlap share one /admin round trip, so many browsers cost one.
import type { Config, PeerAddress } from '../../shared/config.ts';
import type { AdminReply, AdminRequest, LogWindow } from '../../shared/peer-protocol.ts';
import { DEFAULT_INSPECT_ENTRIES, type InspectView } from '../../shared/village.ts';
import type { Reply } from './control.ts';

export interface InspectDeps {
  config: Config;
  /** One request to a peer's /admin (with the cluster secret). */
  admin(peer: PeerAddress, request: AdminRequest): Promise<AdminReply>;
  /** The villagers the village shows now. */
  names(): string[];
}

export class Inspect {
  private readonly inFlight = new Map<string, Promise<Reply>>();

  constructor(private readonly d: InspectDeps) {}

  /** The peer's status with the log window asked for (default: its last DEFAULT_INSPECT_ENTRIES entries) and its progress. */
  inspect(peer: string, log: LogWindow = { last: DEFAULT_INSPECT_ENTRIES }): Promise<Reply> {
    const key = `${peer} ${JSON.stringify(log)}`;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetch(peer, log).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetch(peer: string, log: LogWindow): Promise<Reply> {
    const names = this.d.names();
    const addr = this.d.config.peers.find((p) => p.name === peer);
    if (!addr || !names.includes(peer)) return { ok: false, text: `${peer} is not in the village; villagers: ${names.join(', ') || 'none yet'}` };
    let r: AdminReply;
    try {
      r = await this.d.admin(addr, { type: 'status', log, progress: true });
    } catch (e) {
      return { ok: false, text: `could not look inside ${peer}: ${(e as Error).message}` };
    }
    if (r.type === 'error') return { ok: false, text: `${peer} refused to show its state: ${r.message}` };
    if (r.type !== 'status' || r.log === undefined || r.progress === undefined) return { ok: false, text: `${peer} answered with something other than its status and log (${r.type})` };
    const { type: _t, id: _i, kv: _k, ...status } = r;
    const view: InspectView = { ...status, log: r.log, progress: r.progress };
    return { ok: true, text: `${peer}: ${view.role}, term ${view.term}, commit ${view.commitIndex}, log ${view.log.first}..${view.log.last}`, value: view };
  }
}
