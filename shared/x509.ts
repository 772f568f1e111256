// Certificates for a class: a small certificate authority and one certificate per host, made
// with Node's crypto alone (ECDSA P-256, SHA-256), so that `npm run certs` needs no openssl.
//
// Node can sign but has no certificate builder, so this file writes the DER of RFC 5280 itself:
//
//   Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
//   TBSCertificate ::= SEQUENCE { [0] version v3, serialNumber, signature, issuer, validity,
//                                 subject, subjectPublicKeyInfo, [3] extensions }
//
// Extensions: basicConstraints (CA or not, critical), keyUsage (critical), extKeyUsage
// (serverAuth + clientAuth: a peer is both, it listens and it dials), subjectAltName (the
// host's IP address or DNS name: what a dialler checks), subject and authority key identifiers.
// The result is checked with node:crypto's X509Certificate before it is returned.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(content.length), content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const octets = (b: Buffer) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function bitString(b: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]));
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk: number[] = [];
    for (let x = n; ; x = Math.floor(x / 128)) {
      chunk.unshift((x % 128) | (chunk.length ? 0x80 : 0));
      if (x < 128) break;
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

function name(cn: string): Buffer {
  return seq(set(seq(oid(OID.organization), utf8('Raft Village class'))), set(seq(oid(OID.commonName), utf8(cn))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function keyId(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return createHash('sha1').update(point).digest();
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand :: and write 8 groups of 16 bits.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [(parseInt(g, 16) >> 8) & 0xff, parseInt(g, 16) & 0xff]));
}

export interface Issued {
  /** PEM of the certificate. */
  cert: string;
  /** PEM (PKCS#8) of its private key. */
  key: string;
}

export interface IssueOptions {
  commonName: string;
  /** IP addresses and DNS names the certificate is valid for (leaf certificates). */
  hosts?: readonly string[];
  /** Days of validity (default 825 for hosts, 3650 for the CA). */
  days?: number;
}

function build(o: {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signer: KeyObject;
  issuerKey: KeyObject;
  ca: boolean;
  hosts: readonly string[];
  days: number;
}): string {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000); // an hour back: clocks in a class differ
  const notAfter = new Date(Date.now() + o.days * 24 * 60 * 60 * 1000);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const algorithm = seq(oid(OID.ecdsaSha256));
  const spki = o.publicKey.export({ type: 'spki', format: 'der' });
  const exts = [
    extension(OID.basicConstraints, true, o.ca ? seq(bool(true)) : seq()),
    // keyUsage bits: digitalSignature (0), keyCertSign (5), cRLSign (6).
    extension(OID.keyUsage, true, o.ca ? bitString(Buffer.from([0x86]), 1) : bitString(Buffer.from([0x80]), 7)),
    extension(OID.subjectKeyId, false, octets(keyId(o.publicKey))),
    extension(OID.authorityKeyId, false, seq(tlv(0x80, keyId(o.issuerKey)))),
  ];
  if (!o.ca) {
    exts.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))));
    const names = o.hosts.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'ascii'))));
    exts.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    name(o.issuer),
    seq(time(notBefore), time(notAfter)),
    name(o.subject),
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, o.signer);
  const der = seq(tbs, algorithm, bitString(signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function newKey(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** A new certificate authority (self-signed). */
export function makeCa(o: Partial<IssueOptions> = {}): Issued {
  const { publicKey, privateKey } = newKey();
  const cn = o.commonName ?? 'Raft Village class CA';
  const cert = build({ subject: cn, issuer: cn, publicKey, signer: privateKey, issuerKey: publicKey, ca: true, hosts: [], days: o.days ?? 3650 });
  const x = new X509Certificate(cert);
  if (!x.ca || !x.verify(publicKey)) throw new Error('internal error: the CA certificate does not verify');
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A certificate for one host, signed by the CA, valid for o.hosts (IP addresses or DNS names). */
export function issueHost(ca: Issued, o: IssueOptions): Issued {
  const hosts = o.hosts ?? [o.commonName];
  if (hosts.length === 0) throw new Error('a host certificate needs at least one IP address or DNS name');
  for (const h of hosts) {
    if (!isIP(h) && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(h)) {
      throw new Error(`${JSON.stringify(h)} is neither an IP address nor a host name`);
    }
  }
  const caCert = new X509Certificate(ca.cert);
  const { publicKey, privateKey } = newKey();
  const cert = build({
    subject: o.commonName,
    issuer: caCert.subject.split('\n').find((l) => l.startsWith('CN='))!.slice(3),
    publicKey,
    signer: createPrivateKey(ca.key),
    issuerKey: caCert.publicKey,
    ca: false,
    hosts,
    days: o.days ?? 825,
  });
  const x = new X509Certificate(cert);
  if (!x.verify(caCert.publicKey) || !x.checkIssued(caCert)) throw new Error('internal error: the host certificate does not verify against the CA');
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

