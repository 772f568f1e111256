// WebSocket helpers every side uses: the URL of an endpoint, and a received frame as text.
import type { RawData } from 'ws';

/** A host as it goes into a URL: an IPv6 address in brackets ([::1]), anything else as is. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** ws://host:port/path, with an IPv6 host in brackets. */
export function wsUrl(host: string, port: number, path: string): string {
  return `ws://${hostForUrl(host)}:${port}${path}`;
}

/** A received frame (Buffer, fragments or ArrayBuffer, as ws delivers it) as UTF-8 text. */
export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
