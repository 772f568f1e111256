// The /admin endpoint: reads admin requests (faults, campaign, status, membership, removed) from one connection,
// validates them with shared/peer-protocol.ts and hands them to the shell; writes back exactly
// one reply per frame. A frame that is not a valid request gets a bad_frame error and changes
// nothing. The transport has already checked the secret before the connection got here.
// A status may add a window of the log and a leader's progress, read from the core
// (inspect-status.ts).
import type { WebSocket, RawData } from 'ws';
import { badFrame, parseAdminRequest, type AdminReply, type Faults, type PeerStatus } from '../shared/peer-protocol.ts';
import type { MembershipOp, MembershipResult } from '../shared/membership.ts';
import type { PeerId } from './raft/types.ts';
import { logWindowOf, progressOf, type InspectableCore } from './inspect-status.ts';
import { rawText } from '../shared/ws.ts';

export interface AdminHandler {
  /** Changes fault injection (omitted fields stay as they are) and returns the faults now in force. */
  setFaults(change: Partial<Faults>): Faults;
  /** Starts an election now (the game's "force election"). */
  campaign(): void;
  status(): PeerStatus;
  /** The whole key-value store, for `status` with `kv: true`. */
  kvEntries(): Record<string, unknown>;
  /** Membership changes (peer/membership.ts); without it, membership requests are refused. */
  membership?: AdminMembership;
}

export interface AdminMembership {
  /** A membership change; `reply` is called once, when it is done or refused. */
  request(op: MembershipOp, peer: PeerId, timeoutMs: number | undefined, reply: (r: MembershipResult) => void): void;
  /** The leader's notice that this peer's removal committed: the peer exits. */
  removedNotice(by: PeerId, index: number, term: number): void;
}

/** `core`: where a status's `log` and `progress` are read; without one, asking for them is a bad frame. */
export function serveAdmin(ws: WebSocket, handler: AdminHandler, cluster: readonly PeerId[], onBadFrame?: (message: string) => void, core?: InspectableCore): void {
  const send = (r: AdminReply) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(r));
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return send(badFrame('binary frames are not accepted; send JSON text'));
    const parsed = parseAdminRequest(rawText(data), cluster);
    if (!parsed.ok) {
      onBadFrame?.(parsed.message);
      return send(badFrame(parsed.message, parsed.id));
    }
    const req = parsed.value;
    const id = req.id === undefined ? {} : { id: req.id };
    switch (req.type) {
      case 'faults': {
        const { type: _t, id: _i, ...change } = req;
        return send({ type: 'faults', ...id, ...handler.setFaults(change) });
      }
      case 'campaign':
        handler.campaign();
        return send({ type: 'campaign', ...id, ok: true });
      case 'status': {
        if ((req.log || req.progress) && !core) return send(badFrame('this endpoint shows no log or progress; ask for the status without "log" and "progress"', req.id));
        const reply: AdminReply = { type: 'status', ...id, ...handler.status() };
        if (req.kv) reply.kv = handler.kvEntries();
        if (req.log && core) reply.log = logWindowOf(core, req.log);
        if (req.progress && core) reply.progress = progressOf(core);
        return send(reply);
      }
      case 'membership':
        if (!handler.membership) return send(badFrame('this peer does not take membership changes', req.id));
        return handler.membership.request(req.op, req.peer, req.timeoutMs, (r) => send({ type: 'membership', ...id, ...r }));
      case 'removed':
        if (!handler.membership) return send(badFrame('this peer does not take membership changes', req.id));
        send({ type: 'removed', ...id, ok: true });
        return handler.membership.removedNotice(req.by, req.index, req.term);
    }
  });
}
