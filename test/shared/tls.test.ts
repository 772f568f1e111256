// TLS: npm run certs makes a class CA and a certificate per host; the ini's [tls] section turns
// every endpoint to wss://; peers check each other against the CA; mistakes get clear errors.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../shared/config.ts';
import { ClusterClient } from '../../shared/client.ts';
import { credentialsFor, endpointUrl } from '../../shared/tls.ts';
import { makeCa, issueHost } from '../../shared/x509.ts';
import { PEER_HEADER, RAFT_PATH, SECRET_HEADER } from '../../shared/peer-protocol.ts';
import { caKeyPath, makeCerts } from '../../peer/certs.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'raft-village-tls-'));
const TLS = `[tls]\nca = ${join(dir, 'certs/ca.crt')}\ncert = ${join(dir, 'certs/{host}.crt')}\nkey = ${join(dir, 'certs/{host}.key')}\n`;
let cluster: TestCluster | null = null;

afterAll(async () => {
  await cluster?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

function ini(extra: string): string {
  const file = join(dir, `t${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(
    file,
    `[cluster]\nsecret = s\n[peers]\npeer1 = 127.0.0.1:7001\npeer2 = 10.9.8.7:7002\n[profile.fast]\nheartbeat_ms = 50\nelection_min_ms = 150\nelection_max_ms = 300\n[relay]\nhost = 127.0.0.1\nport = 7100\n${extra}`,
  );
  return file;
}

describe('npm run certs', () => {
  it('makes a class CA and a certificate per host of the ini, each valid for its host and signed by the CA', () => {
    const r = makeCerts(ini(TLS), ['teacher.local']);
    expect(r.caMade).toBe(true);
    expect(r.made.sort()).toEqual(['10.9.8.7', '127.0.0.1', 'teacher.local']);
    const tls = loadConfig(ini(TLS)).tls!;
    for (const h of ['127.0.0.1', '10.9.8.7', 'teacher.local']) expect(credentialsFor(tls, h).cert.length).toBeGreaterThan(100);
    // openssl agrees that the chain is sound (strict X.509 checks).
    const out = execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', tls.ca, join(dir, 'certs/10.9.8.7.crt')], { encoding: 'utf8' });
    expect(out).toMatch(/OK/);
    expect(readFileSync(caKeyPath(tls.ca), 'utf8')).toMatch(/PRIVATE KEY/);
  });

  it('keeps the CA and the valid certificates when run again, and makes only what is missing', () => {
    const again = makeCerts(ini(TLS));
    expect(again.caMade).toBe(false);
    expect(again.made).toEqual([]);
    expect(again.kept.sort()).toEqual(['10.9.8.7', '127.0.0.1']);
  });

  it('says what to add when the ini has no [tls] section', () => {
    expect(() => makeCerts(ini(''))).toThrow(/no \[tls\] section; add one first/);
  });
});

describe('[tls] in raft_peer.ini', () => {
  it('turns every peer and relay address to wss://, and leaves plain ws:// without it', () => {
    const on = loadConfig(ini(TLS));
    expect(endpointUrl(on.peers[0]!, '/client')).toBe('wss://127.0.0.1:7001/client');
    expect(endpointUrl(on.relay, '/peer')).toBe('wss://127.0.0.1:7100/peer');
    const off = loadConfig(ini(''));
    expect(off.tls).toBeNull();
    expect(endpointUrl(off.peers[0]!, '/client')).toBe('ws://127.0.0.1:7001/client');
  });

  it('refuses a missing CA file, a certificate that is not a CA, and an empty key, saying what to do', () => {
    expect(() => loadConfig(ini(TLS.replace('ca.crt', 'nope.crt')))).toThrow(/\[tls\] ca: cannot read .*nope\.crt \(no such file\); make the class CA .* npm run certs/);
    expect(() => loadConfig(ini(TLS.replace('ca.crt', '127.0.0.1.crt')))).toThrow(/not a certificate authority/);
    expect(() => parseConfig(`${readFileSync(ini(''), 'utf8')}[tls]\nca = x\ncert = y\n`, 'x.ini', { tlsFiles: false })).toThrow(ConfigError);
  });

  it('refuses a host certificate for another host, from another CA, or with the wrong key', () => {
    const tls = loadConfig(ini(TLS)).tls!;
    expect(() => credentialsFor(tls, '10.1.1.1')).toThrow(/cannot read .*10\.1\.1\.1\.crt/);
    const other = makeCa();
    const foreign = issueHost(other, { commonName: '10.2.2.2', hosts: ['10.2.2.2'] });
    writeFileSync(join(dir, 'certs/10.2.2.2.crt'), foreign.cert);
    writeFileSync(join(dir, 'certs/10.2.2.2.key'), foreign.key);
    expect(() => credentialsFor(tls, '10.2.2.2')).toThrow(/not signed by the class CA/);
    writeFileSync(join(dir, 'certs/10.3.3.3.crt'), readFileSync(join(dir, 'certs/10.9.8.7.crt')));
    writeFileSync(join(dir, 'certs/10.3.3.3.key'), readFileSync(join(dir, 'certs/10.9.8.7.key')));
    expect(() => credentialsFor(tls, '10.3.3.3')).toThrow(/not valid for 10\.3\.3\.3/);
    writeFileSync(join(dir, 'certs/10.4.4.4.crt'), issueHost({ cert: readFileSync(tls.ca, 'utf8'), key: readFileSync(caKeyPath(tls.ca), 'utf8') }, { commonName: '10.4.4.4', hosts: ['10.4.4.4'] }).cert);
    writeFileSync(join(dir, 'certs/10.4.4.4.key'), foreign.key);
    expect(() => credentialsFor(tls, '10.4.4.4')).toThrow(/is not the key of/);
  });
});

describe('a cluster with TLS on', () => {
  it('elects a leader and commits over wss://, and refuses a peer connection without a certificate of the CA or with one of another CA', async () => {
    cluster = await startCluster({ peers: 3, ini: TLS });
    const leader = await cluster.waitForLeader();
    expect(cluster.output(leader)).toMatch(/listening on wss:\/\//);
    const client = new ClusterClient({ peers: cluster.peers, clientId: 'tls-test', timeoutMs: 10_000 });
    const r = await client.command(['x', 'add', '100']);
    client.close();
    expect(r).toMatchObject({ ok: true, value: 100 });

    // The right secret but no certificate: refused.
    const p = cluster.peers[0]!;
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(endpointUrl(p, RAFT_PATH), {
        ca: readFileSync(join(dir, 'certs/ca.crt')),
        headers: { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: cluster!.config.secret },
      });
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(403);

    // A certificate, but from another CA: refused as well.
    const other = makeCa();
    const stranger = issueHost(other, { commonName: '127.0.0.1', hosts: ['127.0.0.1'] });
    const strangerStatus = await new Promise<number>((resolve) => {
      const ws = new WebSocket(endpointUrl(p, RAFT_PATH), {
        ca: readFileSync(join(dir, 'certs/ca.crt')),
        cert: stranger.cert,
        key: stranger.key,
        headers: { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: cluster!.config.secret },
      });
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(-1));
    });
    expect(strangerStatus).toBe(403);

    // A client that does not know the CA cannot talk to the peer at all (self-signed chain).
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(endpointUrl(p, '/client'));
      ws.on('open', () => resolve('open'));
      ws.on('error', (e) => resolve(e.message));
    });
    expect(refused).toMatch(/certificate/);
  }, 60_000);
});
