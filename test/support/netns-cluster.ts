// A cluster whose peers each run on a host of their own (test/support/netns.ts), with the relay
// on another host, all named by one ini as a class would write it.
//
//   const v = await startNetnsVillage({ peers: 5, relay: true, router: true });
//   v.net            // the Network: faults (loss, delay, cuts, partitions), crash, capture
//   v.cluster        // a TestCluster (test/support/cluster.ts): waitForLeader, write, statuses, kill...
//   await v.startRelay(); v.relayUrl
//   await v.teardown()
//
// Peer i listens on 10.213.X.(10+i):6000+i, the relay on its host's address :6100; the ini's
// timing comes from the repository's raft_peer.ini (the lan profile by default). Peers start
// inside their namespace (`ip netns exec`) from the same bundle as every other test's peers.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config.ts';
import { makeCerts } from '../../peer/certs.ts';
import { EXIT_WITH_STDIN_ENV, peerArgs, REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { TestCluster, waitFor } from './cluster.ts';
import { createNetwork, type Network } from './netns.ts';

export interface NetnsVillageOptions {
  peers: number;
  /** Timing profile of the repository's raft_peer.ini (default lan). */
  profile?: string;
  /** Peers run with -v and report to a relay on a host of its own. */
  relay?: boolean;
  /** A router namespace with the delaying hop between the peers. */
  router?: boolean;
  /** Extra ini text. */
  ini?: string;
  /** A [tls] section, and the class CA and host certificates made by npm run certs' code. */
  tls?: boolean;
  /** The secret (default: a random one). */
  secret?: string;
  /** Spawn the peers now (default true). */
  start?: boolean;
}

export interface NetnsVillage {
  net: Network;
  cluster: TestCluster;
  dir: string;
  ini: string;
  secret: string;
  relayAddress: string;
  relayPort: number;
  /** Starts `npm run game` (game/relay/main.ts) on the relay's host; resolves when it listens. */
  startRelay(): Promise<ChildProcess>;
  relayOutput(): string;
  teardown(): Promise<void>;
}

/** The [profile.NAME] section of the repository's raft_peer.ini, as ini text. */
export function repoProfile(name: string): string {
  const t = loadConfig(join(REPO_ROOT, 'raft_peer.ini')).profiles[name];
  if (!t) throw new Error(`raft_peer.ini has no [profile.${name}]`);
  return [`[profile.${name}]`, `heartbeat_ms = ${t.heartbeatMs}`, `election_min_ms = ${t.electionMinMs}`, `election_max_ms = ${t.electionMaxMs}`, `latency_ms = ${t.latencyMs}`].join('\n');
}

export async function startNetnsVillage(o: NetnsVillageOptions): Promise<NetnsVillage> {
  const names = Array.from({ length: o.peers }, (_, i) => `peer${i + 1}`);
  const net = createNetwork([...names, 'relay'], { router: o.router ?? false });
  const dir = mkdtempSync(join(tmpdir(), 'raft-village-netns-'));
  try {
    const profile = o.profile ?? 'lan';
    const secret = o.secret ?? `netns-${randomBytes(8).toString('hex')}`;
    const relayAddress = net.address('relay');
    const relayPort = 6100;
    const ini = join(dir, 'raft_peer.ini');
    const text = [
      '[cluster]',
      `secret = ${secret}`,
      `profile = ${profile}`,
      `log_dir = ${join(dir, 'logs')}`,
      `data_dir = ${join(dir, 'data')}`,
      '[peers]',
      ...names.map((n, i) => `${n} = ${net.address(n)}:${6001 + i}`),
      repoProfile(profile),
      '[relay]',
      `host = ${relayAddress}`,
      `port = ${relayPort}`,
      '[limits]',
      'max_frame_bytes = 65536',
      o.ini ?? '',
      o.tls ? `[tls]\nca = ${join(dir, 'certs/ca.crt')}\ncert = ${join(dir, 'certs/{host}.crt')}\nkey = ${join(dir, 'certs/{host}.key')}` : '',
      '',
    ].join('\n');
    writeFileSync(ini, text);
    if (o.tls) makeCerts(ini);
    const config = loadConfig(ini);
    net.setPeers(config.peers.map((p) => ({ host: p.host, port: p.port })));
    if (o.router) await net.startHop();
    const hostOf = new Map(names.map((n) => [n, n]));
    const cluster = new TestCluster(dir, ini, config, config.peers, relayPort, {
      peers: o.peers,
      profile,
      verbose: o.relay ?? false,
      keepDir: true,
      spawn: (so) => {
        const env = { ...process.env, ...so.env, [EXIT_WITH_STDIN_ENV]: '1' };
        return net.spawn(hostOf.get(so.name)!, process.execPath, peerArgs(so), { env, stdio: ['pipe', 'pipe', 'pipe'] });
      },
    });
    let relayOut = '';
    let relay: ChildProcess | null = null;
    const village: NetnsVillage = {
      net,
      cluster,
      dir,
      ini,
      secret,
      relayAddress,
      relayPort,
      async startRelay() {
        relayOut = '';
        const p = net.spawn('relay', process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, 'game/relay/main.ts'), '--config', ini, '--attacks', 'off'], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        relay = p;
        p.stdout!.on('data', (d: Buffer) => (relayOut += d.toString('utf8')));
        p.stderr!.on('data', (d: Buffer) => (relayOut += d.toString('utf8')));
        p.stdin!.on('error', () => {});
        await waitFor(`the relay on ${relayAddress}:${relayPort} to listen (output: ${relayOut})`, () => /relay listening on/.test(relayOut) || (p.exitCode !== null ? Promise.reject(new Error(relayOut)) : false), 30_000);
        return p;
      },
      relayOutput: () => relayOut,
      async teardown() {
        relay?.kill('SIGKILL');
        await cluster.teardown().catch(() => {});
        net.teardown();
        if (process.env.RAFT_TEST_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
      },
    };
    if (o.start !== false) cluster.startAll();
    return village;
  } catch (e) {
    net.teardown();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
