// Loads raft_peer.ini into a typed, validated configuration.
//
// Every mistake is reported as a ConfigError naming the file, the section and key, and what
// was expected, so that a person can fix the file without reading this code.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'ini';

export interface PeerAddress {
  name: string;
  host: string;
  port: number;
  /** Set when the ini has a [tls] section: connect with wss:// and check the peer against the CA. */
  tls?: TlsPaths;
}

/**
 * [tls]: certificate files (absolute paths). `{host}` in cert and key stands for the host the
 * process listens on (a peer: its [peers] host; the relay: [relay] host), so one ini serves
 * every machine of a class while each uses its own certificate.
 */
export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
}

export interface Timing {
  heartbeatMs: number;
  electionMinMs: number;
  electionMaxMs: number;
  /** Delay added to every peer-to-peer message on delivery (slow motion). */
  latencyMs: number;
}

export interface Limits {
  maxFrameBytes: number;
  maxEntriesPerAppend: number;
  maxBytesPerAppend: number;
  maxInflightAppends: number;
  /** Log compaction: a snapshot is taken once this many entries were applied since the last one... */
  snapshotEntries: number;
  /** ...or once the log written since the last one holds this many bytes of commands. */
  snapshotBytes: number;
  /** Entries kept in the log before a snapshot's index (followers slightly behind still get appends). */
  snapshotTrailingEntries: number;
  /** logs/<name>.log is renamed to <name>.log.1 once it reaches this size... */
  logFileBytes: number;
  /** ...and this many old files are kept (<name>.log.1 is the newest). */
  logFilesKept: number;
}

export interface RelayConfig {
  host: string;
  port: number;
  /** As for peers: set when the ini has a [tls] section. */
  tls?: TlsPaths;
  attackIntervalS: number;
  reviveAfterS: number;
  /**
   * The flight recorder (game/relay/recorder.ts): the most one recording file of the village's
   * event stream grows to before the run goes on in a new file; 0 turns recording off.
   */
  recordingBytes: number;
  /** Recording files kept in <log_dir>/village/; the oldest are removed first. */
  recordingsKept: number;
  /** Peers on the village clock resume by themselves this long after the relay went away while paused. */
  maxPauseS: number;
}

export interface Config {
  /** Absolute path of the file this was loaded from. */
  file: string;
  secret: string;
  /** Every peer listed, in file order. */
  peers: PeerAddress[];
  profiles: Record<string, Timing>;
  defaultProfile: string;
  relay: RelayConfig;
  logDir: string;
  dataDir: string;
  limits: Limits;
  /** The [tls] section: wss:// on every endpoint. null: plain ws:// (the loopback default). */
  tls: TlsPaths | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The default config path: --config FILE, else $RAFT_CONFIG, else ./raft_peer.ini. */
export function configPath(argv: readonly string[] = process.argv, env = process.env): string {
  const i = argv.indexOf('--config');
  if (i >= 0 && argv[i + 1]) return resolve(argv[i + 1]!);
  const eq = argv.find((a) => a.startsWith('--config='));
  if (eq) return resolve(eq.slice('--config='.length));
  if (env.RAFT_CONFIG) return resolve(env.RAFT_CONFIG);
  return resolve('raft_peer.ini');
}

/** tlsFiles: false skips checking that the [tls] CA file exists (for npm run certs, which makes it). */
export function loadConfig(path: string = configPath(), opts: { tlsFiles?: boolean } = {}): Config {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the config file (${(e as Error).message}); pass --config FILE or set RAFT_CONFIG`);
  }
  return parseConfig(text, file, opts);
}

type Section = Record<string, unknown>;

export function parseConfig(text: string, file = 'raft_peer.ini', opts: { tlsFiles?: boolean } = {}): Config {
  const raw = parse(text) as Record<string, unknown>;
  const fail = (where: string, what: string): never => {
    throw new ConfigError(`${file}: ${where}: ${what}`);
  };
  const section = (name: string, obj: Record<string, unknown> = raw, label = name): Section => {
    const s = obj[name];
    if (s === undefined) fail(`[${label}]`, 'missing section');
    if (typeof s !== 'object' || s === null) fail(`[${label}]`, 'expected a section, found a plain key');
    return s as Section;
  };
  const str = (s: Section, sec: string, key: string, def?: string): string => {
    const v = s[key];
    if (v === undefined) {
      if (def !== undefined) return def;
      return fail(`[${sec}] ${key}`, 'missing key');
    }
    if (typeof v !== 'string' || v.trim() === '') return fail(`[${sec}] ${key}`, `expected a non-empty value, got ${JSON.stringify(v)}`);
    return v.trim();
  };
  const int = (s: Section, sec: string, key: string, min: number, def?: number): number => {
    const v = s[key];
    if (v === undefined) {
      if (def !== undefined) return def;
      return fail(`[${sec}] ${key}`, 'missing key');
    }
    const t = typeof v === 'string' ? v.trim() : '';
    if (!/^\d+$/.test(t)) return fail(`[${sec}] ${key}`, `expected a whole number, got ${JSON.stringify(v)}`);
    const n = Number(t);
    if (n < min) return fail(`[${sec}] ${key}`, `expected a number >= ${min}, got ${n}`);
    return n;
  };

  const cluster = section('cluster');
  const secret = str(cluster, 'cluster', 'secret');
  const base = dirname(file);
  const dir = (key: string) => {
    const p = str(cluster, 'cluster', key, 'logs');
    return isAbsolute(p) ? p : resolve(base, p);
  };

  const peersSec = section('peers');
  const peers: PeerAddress[] = [];
  const seenAddr = new Map<string, string>();
  for (const [name, value] of Object.entries(peersSec)) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name)) fail(`[peers] ${name}`, 'expected a peer name of letters, digits, _ or - (starting with a letter)');
    if (typeof value !== 'string') fail(`[peers] ${name}`, 'expected host:port');
    const m = /^\s*([^\s:]+|\[[^\]]+\]):(\d+)\s*$/.exec(value as string);
    if (!m) fail(`[peers] ${name}`, `expected host:port, got ${JSON.stringify(value)}`);
    const port = Number(m![2]);
    if (port < 1 || port > 65535) fail(`[peers] ${name}`, `expected a port from 1 to 65535, got ${port}`);
    const host = m![1]!.replace(/^\[|\]$/g, '');
    const addr = `${host}:${port}`;
    const other = seenAddr.get(String(port));
    if (other) fail(`[peers] ${name}`, `port ${port} is already used by ${other}; every peer needs its own port`);
    seenAddr.set(String(port), name);
    peers.push({ name, host, port });
    void addr;
  }
  if (peers.length === 0) fail('[peers]', 'expected at least one peer (name = host:port)');

  const profilesRaw = raw.profile;
  if (profilesRaw === undefined) fail('[profile.fast]', 'missing section (timing profiles are [profile.NAME])');
  const profiles: Record<string, Timing> = {};
  for (const [pname, body] of Object.entries(profilesRaw as Record<string, unknown>)) {
    const label = `profile.${pname}`;
    const s = section(pname, profilesRaw as Record<string, unknown>, label);
    const heartbeatMs = int(s, label, 'heartbeat_ms', 1);
    const electionMinMs = int(s, label, 'election_min_ms', 1);
    const electionMaxMs = int(s, label, 'election_max_ms', 1);
    const latencyMs = int(s, label, 'latency_ms', 0, 0);
    if (electionMinMs >= electionMaxMs) fail(`[${label}] election_min_ms`, `expected election_min_ms < election_max_ms, got ${electionMinMs} >= ${electionMaxMs}`);
    if (heartbeatMs >= electionMinMs) fail(`[${label}] heartbeat_ms`, `expected heartbeat_ms < election_min_ms, got ${heartbeatMs} >= ${electionMinMs}`);
    profiles[pname] = { heartbeatMs, electionMinMs, electionMaxMs, latencyMs };
    void body;
  }
  const defaultProfile = str(cluster, 'cluster', 'profile', 'fast');
  if (!profiles[defaultProfile]) fail('[cluster] profile', `expected one of ${Object.keys(profiles).join(', ')}, got ${JSON.stringify(defaultProfile)}`);

  const relaySec = section('relay');
  const relay: RelayConfig = {
    host: str(relaySec, 'relay', 'host', '127.0.0.1'),
    port: int(relaySec, 'relay', 'port', 1),
    attackIntervalS: int(relaySec, 'relay', 'attack_interval_s', 1, 20),
    reviveAfterS: int(relaySec, 'relay', 'revive_after_s', 0, 15),
    recordingBytes: int(relaySec, 'relay', 'recording_bytes', 0, 64 * 1024 * 1024),
    recordingsKept: int(relaySec, 'relay', 'recordings_kept', 1, 20),
    maxPauseS: int(relaySec, 'relay', 'max_pause_s', 1, 300),
  };
  if (relay.port > 65535) fail('[relay] port', `expected a port from 1 to 65535, got ${relay.port}`);
  const clash = peers.find((p) => p.port === relay.port);
  if (clash) fail('[relay] port', `port ${relay.port} is already used by ${clash.name}`);
  // A file must hold at least one picture of a large village (a keyframe) and some batches.
  if (relay.recordingBytes !== 0 && relay.recordingBytes < 1024 * 1024) fail('[relay] recording_bytes', `expected 0 (no recording) or at least 1048576 (1 MiB), got ${relay.recordingBytes}`);

  let tls: TlsPaths | null = null;
  if (raw.tls !== undefined) {
    const t = section('tls');
    const path = (key: string) => {
      const p = str(t, 'tls', key);
      return isAbsolute(p) ? p : resolve(base, p);
    };
    tls = { ca: path('ca'), cert: path('cert'), key: path('key') };
    const ca = opts.tlsFiles === false ? null : checkCa(tls.ca);
    if (ca) fail('[tls] ca', ca);
    for (const p of peers) p.tls = tls;
    relay.tls = tls;
  }

  const limSec = (raw.limits ?? {}) as Section;
  const limits: Limits = {
    maxFrameBytes: int(limSec, 'limits', 'max_frame_bytes', 1024, 1 << 20),
    maxEntriesPerAppend: int(limSec, 'limits', 'max_entries_per_append', 1, 256),
    maxBytesPerAppend: int(limSec, 'limits', 'max_bytes_per_append', 1024, 256 * 1024),
    maxInflightAppends: int(limSec, 'limits', 'max_inflight_appends', 1, 4),
    snapshotEntries: int(limSec, 'limits', 'snapshot_entries', 1, 10_000),
    snapshotBytes: int(limSec, 'limits', 'snapshot_bytes', 1024, 8 * 1024 * 1024),
    snapshotTrailingEntries: int(limSec, 'limits', 'snapshot_trailing_entries', 0, 1000),
    logFileBytes: int(limSec, 'limits', 'log_file_bytes', 4096, 10 * 1024 * 1024),
    logFilesKept: int(limSec, 'limits', 'log_files_kept', 1, 3),
  };
  if (limits.logFilesKept > 100) fail('[limits] log_files_kept', `expected at most 100 old log files, got ${limits.logFilesKept}`);

  return { file, secret, peers, profiles, defaultProfile, relay, logDir: dir('log_dir'), dataDir: dir('data_dir'), limits, tls };
}

/** What is wrong with the CA certificate file, or null when it is one. */
function checkCa(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    return `cannot read ${file} (${why}); make the class CA and the host certificates with npm run certs`;
  }
  try {
    if (!new X509Certificate(text).ca) return `${file} is a certificate but not a certificate authority (CA:TRUE); it must be the class CA that npm run certs made`;
  } catch {
    return `${file} is not a PEM certificate (-----BEGIN CERTIFICATE-----); it must be the class CA that npm run certs made`;
  }
  return null;
}

/** The first `count` peers of the file: the cluster that `npm run peer -- NAME COUNT` joins. */
export function clusterOf(config: Config, count: number): PeerAddress[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new ConfigError(`peer count must be a whole number from 1 to ${config.peers.length}, got ${JSON.stringify(count)}`);
  }
  if (count > config.peers.length) {
    throw new ConfigError(`${config.file} lists ${config.peers.length} peers (${peerNames(config.peers)}), so a cluster of ${count} is not possible`);
  }
  return config.peers.slice(0, count);
}

/** Looks a peer up among the first `count`, with an error naming the valid choices. */
export function findPeer(config: Config, name: string, count: number): PeerAddress {
  const cluster = clusterOf(config, count);
  const p = cluster.find((x) => x.name === name);
  if (!p) {
    throw new ConfigError(`${name} is not one of the ${count} peers of ${config.file}; names there: ${peerNames(cluster)}`);
  }
  return p;
}

export function timingOf(config: Config, profile = config.defaultProfile): Timing {
  const t = config.profiles[profile];
  if (!t) throw new ConfigError(`${config.file}: no [profile.${profile}]; profiles there: ${Object.keys(config.profiles).join(', ')}`);
  return t;
}

function peerNames(peers: PeerAddress[]): string {
  if (peers.length > 3 && peers.every((p, i) => p.name === `peer${i + 1}`)) return `peer1..peer${peers.length}`;
  return peers.map((p) => p.name).join(', ');
}
