// One request, one reply, over a fresh WebSocket to a peer: the relay's village commands and
// status polls, the launcher's `status` command and the test harness use it. Beside the
// client (client.ts) because both sides of the project talk to peers through it; it needs only
// the wire types (peer-protocol.ts) and `ws`, nothing of the peer itself.
import { WebSocket } from 'ws';
import type { PeerAddress } from './config.ts';
import { ADMIN_PATH, SECRET_HEADER, type AdminReply, type AdminRequest } from './peer-protocol.ts';
import { clientTls, endpointUrl } from './tls.ts';
import { rawText } from './ws.ts';

/** Why a connection was refused: the HTTP status and the peer's one-line reason. */
export class RefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}

/**
 * Opens ws://peer/path, sends one text (or binary) frame and resolves with the first reply,
 * parsed as JSON. Rejects with a RefusedError when the upgrade is refused, and with an Error
 * (with `code`) when the peer closes without replying, or on timeout.
 */
export function sendOnce(
  peer: PeerAddress,
  path: string,
  frame: string | Buffer,
  opts: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(endpointUrl(peer, path), { ...clientTls(peer.tls), headers: opts.headers ?? {}, perMessageDeflate: false });
    let done = false;
    const finish = (err: Error | null, v?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve(v);
    };
    const timer = setTimeout(() => finish(new Error(`no reply from ${peer.name}${path} within ${timeoutMs} ms`)), timeoutMs);
    ws.on('open', () => ws.send(frame));
    ws.on('message', (d) => {
      try {
        finish(null, JSON.parse(rawText(d)));
      } catch (e) {
        finish(e as Error);
      }
    });
    ws.on('unexpected-response', (_q, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => finish(new RefusedError(res.statusCode ?? 0, body.trim())));
      res.on('error', (e) => finish(e));
    });
    ws.on('error', (e) => finish(new Error(`${peer.name}${path}: ${e.message}`)));
    ws.on('close', (code, reason) => finish(Object.assign(new Error(`closed by ${peer.name} (${code} ${reason})`), { code })));
  });
}

/** Sends one /admin request (with the cluster secret) and resolves with the reply. */
export async function adminRequest(peer: PeerAddress, secret: string, request: AdminRequest, timeoutMs = 2000): Promise<AdminReply> {
  return (await sendOnce(peer, ADMIN_PATH, JSON.stringify(request), { headers: { [SECRET_HEADER]: secret }, timeoutMs })) as AdminReply;
}
