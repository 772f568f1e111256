// `npm run certs -- [--config FILE] [--host NAME ...]`: makes the class CA and one certificate
// per host for the [tls] section of raft_peer.ini.
//
// Hosts: every host of [peers], the [relay] host, and any --host given (e.g. another name the
// teacher's machine answers to). Files go where [tls] says: the CA at `ca` (its private key
// beside it, <ca name>.key: keep it on this machine only), each host's certificate and key at
// `cert` and `key` with {host} replaced. An existing CA is reused, and an existing host
// certificate that the CA signed and that is valid for its host is kept, so running the command
// again after adding a machine to the ini makes only what is missing.
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, configPath, loadConfig } from '../shared/config.ts';
import { pathFor } from '../shared/tls.ts';
import { issueHost, makeCa, type Issued } from '../shared/x509.ts';

const USAGE = `usage: npm run certs -- [--config FILE] [--host NAME ...]
  makes the class CA and a certificate per host (every [peers] host, the [relay] host, each --host)
  where the [tls] section of the ini says, e.g.
    [tls]
    ca = certs/ca.crt
    cert = certs/{host}.crt
    key = certs/{host}.key`;

export interface CertsResult {
  caMade: boolean;
  made: string[];
  kept: string[];
  lines: string[];
}

function write(file: string, text: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
}

/** The file the CA's private key lives in: beside the CA certificate, `.key` for its extension. */
export function caKeyPath(caFile: string): string {
  return join(dirname(caFile), `${basename(caFile, extname(caFile))}.key`);
}

export function makeCerts(configFile: string, extraHosts: readonly string[] = []): CertsResult {
  const config = loadConfig(configFile, { tlsFiles: false });
  if (!config.tls) throw new ConfigError(`${config.file} has no [tls] section; add one first:\n[tls]\nca = certs/ca.crt\ncert = certs/{host}.crt\nkey = certs/{host}.key`);
  const tls = config.tls;
  const lines: string[] = [];
  const show = (f: string) => {
    const r = relative(process.cwd(), f);
    return r && !r.startsWith('..') ? r : f;
  };
  const caKey = caKeyPath(tls.ca);
  let ca: Issued;
  let caMade = false;
  if (existsSync(tls.ca) && existsSync(caKey)) {
    ca = { cert: readFileSync(tls.ca, 'utf8'), key: readFileSync(caKey, 'utf8') };
    lines.push(`using the class CA ${show(tls.ca)}`);
  } else {
    if (existsSync(tls.ca)) throw new ConfigError(`${tls.ca} exists but its key ${caKey} does not: move the CA away to make a new one (every host then needs new certificates)`);
    ca = makeCa();
    write(tls.ca, ca.cert, 0o644);
    write(caKey, ca.key, 0o600);
    caMade = true;
    lines.push(`made the class CA ${show(tls.ca)} (its key ${show(caKey)}: keep it on this machine only)`);
  }
  const caCert = new X509Certificate(ca.cert);
  const hosts = [...new Set([...config.peers.map((p) => p.host), config.relay.host, ...extraHosts])];
  const made: string[] = [];
  const kept: string[] = [];
  for (const host of hosts) {
    if (host === '0.0.0.0' || host === '::') {
      lines.push(`skipped ${host}: not a host anyone can dial; give [relay] host the machine's address`);
      continue;
    }
    const certFile = pathFor(tls.cert, host);
    const keyFile = pathFor(tls.key, host);
    if (certFile === pathFor(tls.cert, '') && hosts.length > 1) {
      throw new ConfigError(`[tls] cert = ${tls.cert} has no {host}: every host needs a certificate of its own (e.g. certs/{host}.crt)`);
    }
    if (existsSync(certFile) && existsSync(keyFile)) {
      try {
        const x = new X509Certificate(readFileSync(certFile));
        if (x.checkIssued(caCert) && x.verify(caCert.publicKey) && (x.checkIP(host) || x.checkHost(host)) && Date.parse(x.validTo) > Date.now()) {
          kept.push(host);
          continue;
        }
      } catch {
        // not a certificate: make a new one
      }
    }
    const issued = issueHost(ca, { commonName: host, hosts: [host] });
    write(certFile, issued.cert, 0o644);
    write(keyFile, issued.key, 0o600);
    made.push(host);
    lines.push(`made ${show(certFile)} and ${show(keyFile)} for ${host}`);
  }
  if (kept.length > 0) lines.push(`kept the certificates of ${kept.join(', ')} (signed by this CA, still valid)`);
  lines.push(`every machine needs ${show(tls.ca)} and the certificate and key of its own host; keep ${show(caKey)} here`);
  return { caMade, made, kept, lines };
}

function main(): void {
  const argv = process.argv.slice(2);
  const hosts: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--host' && argv[i + 1]) hosts.push(argv[++i]!);
    else if (a.startsWith('--host=')) hosts.push(a.slice('--host='.length));
    else if (a === '--config' && argv[i + 1]) i++;
    else if (a.startsWith('--config=')) continue;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    } else {
      process.stderr.write(`unknown argument ${JSON.stringify(a)}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  try {
    for (const line of makeCerts(configPath(), hosts).lines) process.stdout.write(`${line}\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(e instanceof ConfigError ? 3 : 1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
