// TLS for every endpoint (wss://), when raft_peer.ini has a [tls] section; plain ws:// otherwise.
//
// One place decides, so that the peer, the relay, the launcher and every client agree:
//   endpointUrl(addr, path)            'wss://host:port/path' when addr.tls is set, else 'ws://...'
//   clientTls(tls, ownHost?)           options for `new WebSocket(url, ...)`: the class CA to check
//                                      the server against (its certificate must name the host
//                                      dialled), and this host's own certificate when given
//   createEndpointServer(tls, host, h) an http.Server, or an https.Server with this host's
//                                      certificate that asks clients for theirs
//   clientCertified(req)               whether the client presented a certificate of the class CA
//
// Files are read once per process and checked with clear errors: the certificate must be signed
// by the CA, be valid for the host, and match its key. `{host}` in the cert and key paths is the
// host this process listens on (see shared/config.ts).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConfigError, type TlsPaths } from './config.ts';
import { hostForUrl, wsUrl } from './ws.ts';

export interface Credentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ClientTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function scheme(tls: TlsPaths | null | undefined): 'ws' | 'wss' {
  return tls ? 'wss' : 'ws';
}

/** wss://host:port/path when the address has TLS, else ws:// (shared/ws.ts wsUrl). */
export function endpointUrl(addr: { host: string; port: number; tls?: TlsPaths | undefined }, path: string): string {
  return addr.tls ? `wss://${hostForUrl(addr.host)}:${addr.port}${path}` : wsUrl(addr.host, addr.port, path);
}

/** The cert or key path for a host: `{host}` replaced. */
export function pathFor(pattern: string, host: string): string {
  return pattern.replaceAll('{host}', host);
}

const cache = new Map<string, Buffer>();

function readOnce(file: string, what: string): Buffer {
  let b = cache.get(file);
  if (!b) {
    try {
      b = readFileSync(file);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      throw new ConfigError(`[tls] ${what}: cannot read ${file} (${why}); make the class CA and one certificate per host with npm run certs`);
    }
    cache.set(file, b);
  }
  return b;
}

/** The class CA certificate. */
export function caOf(tls: TlsPaths): Buffer {
  return readOnce(tls.ca, 'ca');
}

/** This host's certificate and key, checked against the CA and the host name or address. */
export function credentialsFor(tls: TlsPaths, host: string): Credentials {
  const ca = caOf(tls);
  const certFile = pathFor(tls.cert, host);
  const keyFile = pathFor(tls.key, host);
  const cert = readOnce(certFile, 'cert');
  const key = readOnce(keyFile, 'key');
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`[tls] cert: ${certFile} is not a PEM certificate`);
  }
  const caCert = new X509Certificate(ca);
  if (!x.checkIssued(caCert) || !x.verify(caCert.publicKey)) {
    throw new ConfigError(`[tls] cert: ${certFile} is not signed by the class CA ${tls.ca}; make both with the same npm run certs`);
  }
  const valid = isIP(host) ? x.checkIP(host) : x.checkHost(host);
  if (!valid && host !== '0.0.0.0' && host !== '::') {
    throw new ConfigError(`[tls] cert: ${certFile} is not valid for ${host} (it names ${x.subjectAltName ?? 'no host'}); make it with npm run certs after ${host} is in the ini`);
  }
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    throw new ConfigError(`[tls] key: ${keyFile} is not a PEM private key`);
  }
  if (!x.checkPrivateKey(keyObject)) throw new ConfigError(`[tls] key: ${keyFile} is not the key of ${certFile}`);
  if (Date.parse(x.validTo) < Date.now()) throw new ConfigError(`[tls] cert: ${certFile} expired on ${x.validTo}; make a new one with npm run certs`);
  return { ca, cert, key };
}

/** Options for a WebSocket client: check the server against the CA; present this host's certificate if given. */
export function clientTls(tls: TlsPaths | null | undefined, ownHost?: string): ClientTlsOptions {
  if (!tls) return {};
  if (ownHost === undefined) return { ca: caOf(tls) };
  const c = credentialsFor(tls, ownHost);
  return { ca: c.ca, cert: c.cert, key: c.key };
}

/**
 * The HTTP server of an endpoint. With TLS it asks every client for a certificate but lets
 * those without one in (the client contract and the browsers have none); the paths that need
 * one check clientCertified(req).
 */
export function createEndpointServer(tls: TlsPaths | null | undefined, host: string, handler: RequestListener): Server {
  if (!tls) return createHttpServer(handler);
  const c = credentialsFor(tls, host);
  return createHttpsServer({ ca: c.ca, cert: c.cert, key: c.key, requestCert: true, rejectUnauthorized: false }, handler) as unknown as Server;
}

/** Whether the connection is TLS and the client presented a certificate signed by the class CA. */
export function clientCertified(req: IncomingMessage): boolean {
  const s = req.socket as Partial<TLSSocket>;
  return s.encrypted === true && s.authorized === true;
}
