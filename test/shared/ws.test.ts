import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import { hostForUrl, rawText, wsUrl } from '../../shared/ws.ts';

let server: WebSocketServer | null = null;
afterEach(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = null;
});

describe('WebSocket URLs', () => {
  it('puts an IPv6 host in brackets and leaves names and IPv4 addresses as they are', () => {
    expect(hostForUrl('::1')).toBe('[::1]');
    expect(hostForUrl('127.0.0.1')).toBe('127.0.0.1');
    expect(hostForUrl('localhost')).toBe('localhost');
    expect(wsUrl('::1', 7001, '/client')).toBe('ws://[::1]:7001/client');
    expect(wsUrl('127.0.0.1', 6100, '/peer')).toBe('ws://127.0.0.1:6100/peer');
  });

  it('reaches a server listening on the IPv6 loopback, and reads its frame as text', async () => {
    server = new WebSocketServer({ host: '::1', port: 0, path: '/echo' });
    await new Promise<void>((ready) => server!.once('listening', () => ready()));
    const { port } = server.address() as AddressInfo;
    server.on('connection', (ws) => ws.on('message', (data: RawData) => ws.send(`heard ${rawText(data)}`)));
    const ws = new WebSocket(wsUrl('::1', port, '/echo'));
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => ws.send('grüße'));
      ws.once('message', (data: RawData) => resolve(rawText(data)));
    });
    ws.close();
    expect(reply).toBe('heard grüße');
  });
});

describe('rawText', () => {
  it('reads a frame as UTF-8 whichever way ws delivers it: one buffer, fragments, an ArrayBuffer', () => {
    const bytes = Buffer.from('x add 100 ✓', 'utf8');
    expect(rawText(bytes)).toBe('x add 100 ✓');
    // A fragment boundary inside a multi-byte character.
    expect(rawText([bytes.subarray(0, bytes.length - 2), bytes.subarray(bytes.length - 2)])).toBe('x add 100 ✓');
    const ab = new ArrayBuffer(bytes.length);
    new Uint8Array(ab).set(bytes);
    expect(rawText(ab)).toBe('x add 100 ✓');
  });
});
