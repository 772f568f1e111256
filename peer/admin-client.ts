// A tiny client for a peer's /admin endpoint: one request, one reply. Used by the launcher's
// `status` command, the test harness and the protocol capture script.
import { WebSocket } from 'ws';
import type { PeerAddress } from '../shared/config.ts';
import { ADMIN_PATH, SECRET_HEADER, type AdminReply, type AdminRequest } from '../shared/peer-protocol.ts';

export function adminUrl(peer: PeerAddress): string {
  const host = peer.host.includes(':') ? `[${peer.host}]` : peer.host;
  return `ws://${host}:${peer.port}${ADMIN_PATH}`;
}

/** Sends one admin request and resolves with the reply; rejects on timeout or refusal. */
export function adminRequest(peer: PeerAddress, secret: string, request: AdminRequest, timeoutMs = 2000): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(adminUrl(peer), { headers: { [SECRET_HEADER]: secret }, perMessageDeflate: false });
    let done = false;
    const finish = (err: Error | null, reply?: AdminReply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new Error(`${peer.name}: no admin reply within ${timeoutMs} ms`)), timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify(request)));
    ws.on('message', (data) => {
      try {
        finish(null, JSON.parse(String(data)) as AdminReply);
      } catch (e) {
        finish(e as Error);
      }
    });
    ws.on('unexpected-response', (_req, res) => finish(new Error(`${peer.name}: admin connection refused (HTTP ${res.statusCode})`)));
    ws.on('error', (e) => finish(new Error(`${peer.name}: ${e.message}`)));
    ws.on('close', () => finish(new Error(`${peer.name}: admin connection closed`)));
  });
}
