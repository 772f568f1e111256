// Starts our peers for the bench with the shared test harness (test/support/cluster.ts): a
// temporary ini on free loopback ports, durable state (fsync on) in a temporary directory on
// the same filesystem the floor's fsync probe uses, every peer a direct child process.
// The timing and limits are the repository's own [profile.fast] and [limits] of raft_peer.ini,
// so the bench measures what `--profile fast` runs (election timeout 150-300 ms, as etcd's
// --election-timeout 150 randomizes).
import { fileURLToPath } from 'node:url';
import { loadConfig, timingOf, type PeerAddress } from '../../shared/config.ts';
import { startCluster, waitFor } from '../support/cluster.ts';
import type { PeerCluster } from './ours.ts';

const REPO_INI = fileURLToPath(new URL('../../raft_peer.ini', import.meta.url));
const PROFILER = new URL('./cpu-profiler.mjs', import.meta.url).href;

function restoreEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

export interface OurPeersOptions {
  count: number;
  /** Start the peers with -v (they report to the relay on relayPort). */
  verbose?: boolean;
  /** node --cpu-prof for every peer, profiles written here when a peer exits gracefully. */
  cpuProfDir?: string | null;
  /** How many of the `count` peers start as the cluster (default all); the rest may join later. */
  members?: number;
  /** Replaces the repository's snapshot limits (e.g. snapshots off: huge thresholds). */
  snapshot?: { entries: number; bytes: number };
  /** Runs after the ini is written and before any peer starts (e.g. to start the relay first). */
  beforeStart?: (c: { configFile: string; relayPort: number; dir: string; secret: string }) => Promise<void>;
}

export interface OurPeers extends PeerCluster {
  readonly dir: string;
  readonly configFile: string;
  readonly relayPort: number;
  /** Everything a peer printed, for error messages. */
  output(name: string): string;
  /** Starts a peer outside the initial members as a newcomer (`--join`). */
  startJoiner(name: string): void;
}

/** The bench's timing profile and limits: the repository's fast profile and limits. */
export function benchIniSections(snapshot?: { entries: number; bytes: number }): { profile: string; limits: string } {
  const repo = loadConfig(REPO_INI);
  const t = timingOf(repo, 'fast');
  const l = repo.limits;
  return {
    profile: ['[profile.bench]', `heartbeat_ms = ${t.heartbeatMs}`, `election_min_ms = ${t.electionMinMs}`, `election_max_ms = ${t.electionMaxMs}`, `latency_ms = ${t.latencyMs}`].join('\n'),
    limits: [
      '[limits]',
      `max_frame_bytes = ${l.maxFrameBytes}`,
      `max_entries_per_append = ${l.maxEntriesPerAppend}`,
      `max_bytes_per_append = ${l.maxBytesPerAppend}`,
      `max_inflight_appends = ${l.maxInflightAppends}`,
      `snapshot_entries = ${snapshot?.entries ?? l.snapshotEntries}`,
      `snapshot_bytes = ${snapshot?.bytes ?? l.snapshotBytes}`,
      `snapshot_trailing_entries = ${l.snapshotTrailingEntries}`,
    ].join('\n'),
  };
}

export async function startOurPeers(o: OurPeersOptions): Promise<OurPeers> {
  const { profile, limits } = benchIniSections(o.snapshot);
  const c = await startCluster({ peers: o.count, ...(o.members ? { members: o.members } : {}), profile: 'bench', verbose: o.verbose ?? false, ini: profile, limits, start: false });
  // The harness spawns with this process's environment: add the profiler only around our
  // spawns. (Node 20 refuses --cpu-prof in NODE_OPTIONS; a preloaded module does the same.)
  const spawning = <T>(fn: () => T): T => {
    if (!o.cpuProfDir) return fn();
    const saved = { opts: process.env.NODE_OPTIONS, dir: process.env.BENCH_CPU_PROF_DIR };
    process.env.NODE_OPTIONS = `${saved.opts ?? ''} --import ${PROFILER}`.trim();
    process.env.BENCH_CPU_PROF_DIR = o.cpuProfDir;
    try {
      return fn();
    } finally {
      restoreEnv('NODE_OPTIONS', saved.opts);
      restoreEnv('BENCH_CPU_PROF_DIR', saved.dir);
    }
  };
  if (o.beforeStart) {
    try {
      await o.beforeStart({ configFile: c.ini, relayPort: c.relayPort, dir: c.dir, secret: c.config.secret });
    } catch (e) {
      await c.teardown();
      throw e;
    }
  }
  spawning(() => c.startAll());
  const peers: PeerAddress[] = c.peers.slice(0, o.members ?? c.peers.length);
  return {
    peers,
    secret: c.config.secret,
    dir: c.dir,
    configFile: c.ini,
    relayPort: c.relayPort,
    output: (name) => c.output(name),
    startJoiner: (name) => {
      spawning(() => c.start(name, {}, { join: true }));
    },
    pidOf: (name) => c.pid(name) ?? null,
    kill: (name) => {
      void c.kill(name, 'SIGKILL'); // the signal goes out synchronously
    },
    restart: async (name) => {
      await waitFor(`${name} to be gone`, () => !c.alive(name), 5000, 5);
      spawning(() => c.start(name));
    },
    stop: async () => {
      // SIGTERM first: a peer under --cpu-prof writes its profile when it exits gracefully.
      if (o.cpuProfDir) await Promise.race([c.stopAll('SIGTERM'), new Promise((r) => setTimeout(r, 5000))]);
      await c.teardown();
    },
  };
}
