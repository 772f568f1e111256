// Starts our peers for the bench: a temporary ini on free loopback ports, the fast profile,
// durable state in a temporary directory (fsync on), every peer a direct child process.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerAddress } from '../../shared/config.ts';
import { spawnPeer } from '../../peer/spawn.ts';
import { freePorts } from './etcd.ts';
import type { PeerCluster } from './ours.ts';

export interface OurPeersOptions {
  count: number;
  /** Start the peers with -v, reporting to the relay at relayPort. */
  verbose?: boolean;
  relayPort?: number;
  /** node --cpu-prof for every peer, profiles written here. */
  cpuProfDir?: string | null;
}

export interface OurPeers extends PeerCluster {
  readonly dir: string;
  readonly configFile: string;
  readonly relayPort: number;
}

export async function startOurPeers(o: OurPeersOptions): Promise<OurPeers> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ours-'));
  const ports = await freePorts(o.count + (o.relayPort ? 0 : 1));
  const relayPort = o.relayPort ?? ports[o.count]!;
  const secret = `bench-${Math.random().toString(36).slice(2)}`;
  const peers: PeerAddress[] = Array.from({ length: o.count }, (_, i) => ({ name: `peer${i + 1}`, host: '127.0.0.1', port: ports[i]! }));
  const configFile = join(dir, 'raft_peer.ini');
  writeFileSync(
    configFile,
    [
      '[cluster]',
      `secret = ${secret}`,
      'profile = fast',
      `log_dir = ${dir}`,
      `data_dir = ${dir}`,
      '[peers]',
      ...peers.map((p) => `${p.name} = ${p.host}:${p.port}`),
      '[profile.fast]',
      'heartbeat_ms = 50',
      'election_min_ms = 150',
      'election_max_ms = 300',
      'latency_ms = 0',
      '[relay]',
      'host = 127.0.0.1',
      `port = ${relayPort}`,
      '',
    ].join('\n'),
  );
  const procs = new Map<string, ChildProcess>();
  const spawnOne = (name: string) => {
    const env: NodeJS.ProcessEnv = {};
    if (o.cpuProfDir) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${o.cpuProfDir}`.trim();
    const out = createWriteStream(join(dir, `${name}.stdout`), { flags: 'a' });
    const p = spawnPeer({ name, count: o.count, config: configFile, profile: 'fast', verbose: o.verbose ?? false, env, stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdout!.pipe(out, { end: false });
    p.stderr!.pipe(out, { end: false });
    p.on('exit', () => {
      if (procs.get(name) === p) procs.delete(name);
      out.end();
    });
    procs.set(name, p);
  };
  for (const p of peers) spawnOne(p.name);
  const exitOf = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
  return {
    peers,
    secret,
    dir,
    configFile,
    relayPort,
    pidOf: (name) => procs.get(name)?.pid ?? null,
    kill: (name) => {
      const p = procs.get(name);
      if (p) {
        p.kill('SIGKILL');
        procs.delete(name);
      }
    },
    restart: async (name) => {
      if (!procs.has(name)) spawnOne(name);
    },
    stop: async () => {
      const all = [...procs.values()];
      // SIGTERM first so that a peer under --cpu-prof can write its profile.
      for (const p of all) p.kill(o.cpuProfDir ? 'SIGTERM' : 'SIGKILL');
      const timer = setTimeout(() => all.forEach((p) => p.kill('SIGKILL')), 5000);
      await Promise.all(all.map(exitOf));
      clearTimeout(timer);
      procs.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
