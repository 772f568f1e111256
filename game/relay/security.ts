// Who may do what at the relay.
//
// - /peer and /launcher: only members of the cluster, proven by the [cluster] secret in a header.
// - /village: anyone who can load the page may watch; control (kill, revive, isolate, console)
//   needs the per-run token embedded in the page the relay served AND an Origin header naming
//   the relay itself. A page from another site cannot read the token (same-origin policy) and
//   cannot fake its Origin.
// - Every request must name the relay by a host it answers to (Host header): this stops DNS
//   rebinding, where another site's name is pointed at 127.0.0.1 to make its page "same-origin".
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { networkInterfaces, hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';

/** Header names accepted for the cluster secret on /peer and /launcher. */
export const SECRET_HEADERS = ['x-raft-secret', 'x-cluster-secret'] as const;

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

/** The cluster secret sent with an upgrade request, if any. */
export function secretOf(req: IncomingMessage): string | null {
  for (const h of SECRET_HEADERS) {
    const v = req.headers[h];
    if (typeof v === 'string') return v;
  }
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice('Bearer '.length);
  return null;
}

/** Splits a Host header (or URL host) into hostname and port; IPv6 brackets removed. */
export function splitHost(host: string): { name: string; port: string } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (m) return { name: m[1]!.toLowerCase(), port: m[2] ?? '' };
  const i = host.lastIndexOf(':');
  if (i > 0 && host.indexOf(':') === i) return { name: host.slice(0, i).toLowerCase(), port: host.slice(i + 1) };
  return { name: host.toLowerCase(), port: '' };
}

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

function isAnyAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * The host names a browser may use to reach the relay: loopback names, the bind address, and
 * when bound to every interface, the machine's own addresses and name.
 */
export function allowedHostNames(bindHost: string): Set<string> {
  const names = new Set<string>(LOOPBACK);
  names.add(bindHost.toLowerCase().replace(/^\[|\]$/g, ''));
  if (isAnyAddress(bindHost)) {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address.toLowerCase());
    names.add(hostname().toLowerCase());
  }
  return names;
}

export class Gate {
  readonly token: string;
  private readonly hosts: Set<string>;

  constructor(
    bindHost: string,
    private readonly port: () => number,
    token = newToken(),
  ) {
    this.token = token;
    this.hosts = allowedHostNames(bindHost);
  }

  /** The Host header names this relay (same port, a known name). */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (typeof host !== 'string') return false;
    const { name, port } = splitHost(host);
    return this.hosts.has(name) && (port === '' ? this.port() === 80 : port === String(this.port()));
  }

  /** The Origin header is this relay's own page. */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (typeof origin !== 'string' || typeof host !== 'string') return false;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return false;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    return u.host.toLowerCase() === host.toLowerCase() && this.hostAllowed(req);
  }

  tokenAllowed(given: string | null): boolean {
    return given !== null && sameSecret(given, this.token);
  }
}
