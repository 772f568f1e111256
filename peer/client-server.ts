// The /client endpoint: reads request_command frames from one connection, validates them with
// shared/client-protocol.ts and hands them to the shell; writes back exactly one reply per
// request. A frame that is not a valid request gets a bad_frame error and changes nothing.
import type { WebSocket, RawData } from 'ws';
import { badFrame, decodeClientFrame, type ClientReply, type CommandResult, type RequestCommand } from '../shared/client-protocol.ts';
import { rawText } from '../shared/ws.ts';

/** Requests one connection may have waiting for an answer; more are refused. */
export const MAX_PENDING_PER_CONNECTION = 1024;

export interface CommandHandler {
  /** Must call `reply` exactly once, now or later. */
  command(request: RequestCommand, reply: (result: CommandResult) => void): void;
}

export function serveClient(ws: WebSocket, handler: CommandHandler, maxFrameBytes: number, onBadFrame?: (message: string) => void): void {
  let pending = 0;
  const send = (r: ClientReply) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(r));
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      onBadFrame?.('binary frame');
      send(badFrame('binary frames are not accepted; send JSON text'));
      return;
    }
    const decoded = decodeClientFrame(rawText(data), maxFrameBytes);
    if (!decoded.ok) {
      onBadFrame?.(decoded.reply.message);
      send(decoded.reply);
      return;
    }
    const req = decoded.request;
    if (pending >= MAX_PENDING_PER_CONNECTION) {
      send(badFrame(`more than ${MAX_PENDING_PER_CONNECTION} requests waiting on this connection; wait for replies first`, req.id));
      return;
    }
    pending++;
    let answered = false;
    handler.command(req, (result) => {
      if (answered) return;
      answered = true;
      pending--;
      send(result);
    });
  });
}
