// A real cluster of peer processes for tests, on free loopback ports, in a temporary directory.
//
//   const c = await startCluster({ peers: 3 });          // writes a temp ini, spawns peer1..peer3
//   const leader = await c.waitForLeader();              // exactly one leader, all agree on it
//   const r = await c.write(['x', 'add', '1']);          // command_result from the leader (follows not_leader)
//   await c.kill(leader);                                // SIGKILL; c.restart(leader) brings it back from disk
//   const s = await c.status('peer2', true);             // /admin status, with the key-value store
//   await c.partition([['peer1'], ['peer2', 'peer3']]);  // blocks traffic between the groups; c.heal()
//   await c.teardown();                                  // kills everything, removes the directory
//
// Options: peers (count), profile ('fast' by default), verbose (-v: the peers report to
// c.config.relay, e.g. a FakeRelay from ./fake-relay.ts on c.relayPort), start (false: spawn
// nothing yet), ini (extra ini text appended), limits (replaces the [limits] section), env
// (extra environment for the peers), keepDir.
// Everything spawned is SIGKILLed when the test process exits, and every peer also exits by
// itself when its stdin (a pipe from this process) closes, so a crashed test leaves nothing.
// pidAlive(pid) tells whether a process is really running (zombies count as gone).
// Set RAFT_TEST_KEEP=1 to keep the directories (logs, durable state) for a look after a run.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type PeerAddress } from '../../shared/config.ts';
import type { CommandResult } from '../../shared/client-protocol.ts';
import type { AdminReply, AdminRequest, Faults, PeerStatus } from '../../shared/peer-protocol.ts';
import { adminRequest, sendOnce } from '../../shared/admin-client.ts';
import { spawnPeer, type SpawnPeerOptions } from '../../peer/spawn.ts';

export interface ClusterOptions {
  peers: number;
  profile?: string;
  verbose?: boolean;
  /** Spawn every peer now (default true). */
  start?: boolean;
  /**
   * How many of the peers the cluster starts with (the peers' N; default all): the others are in
   * the ini only, for membership changes (start them with start(name, {}, { join: true })).
   */
  members?: number;
  /** Appended to the generated ini (after the standard sections). */
  ini?: string;
  /** Replaces the generated [limits] section. */
  limits?: string;
  keepDir?: boolean;
  /** Extra environment for every peer (e.g. RAFT_WIRE_TAP). */
  env?: Record<string, string>;
  /** Starts a peer process (default: spawnPeer on this machine), e.g. inside a network namespace. */
  spawn?: (o: SpawnPeerOptions) => ChildProcess;
}

export type Status = PeerStatus & { kv?: Record<string, unknown> };

const live = new Set<ChildProcess>();
let exitHook = false;

function killAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** `n` distinct free TCP ports on 127.0.0.1 (held open together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Whether a process is running. A zombie (exited, not yet reaped: e.g. a peer whose launcher was
 * killed, now waiting for an init that reaps slowly) counts as gone.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return existsSync('/proc/self') ? false : true; // no /proc (not Linux): trust kill(0)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or throws with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

export class TestCluster {
  readonly names: string[];
  private readonly procs = new Map<string, ChildProcess>();
  private readonly out = new Map<string, string>();

  constructor(
    readonly dir: string,
    readonly ini: string,
    readonly config: Config,
    readonly peers: PeerAddress[],
    readonly relayPort: number,
    private readonly opts: ClusterOptions,
  ) {
    this.names = peers.map((p) => p.name);
  }

  peer(name: string): PeerAddress {
    const p = this.peers.find((x) => x.name === name);
    if (!p) throw new Error(`no peer ${name} in this test cluster (${this.names.join(', ')})`);
    return p;
  }

  /** Spawns a peer (it recovers from its durable state in this.dir); join: as a newcomer (--join). */
  start(name: string, env: Record<string, string> = {}, how: { join?: boolean } = {}): ChildProcess {
    this.peer(name);
    if (this.alive(name)) throw new Error(`${name} is already running`);
    killAllOnExit();
    const proc = (this.opts.spawn ?? spawnPeer)({
      name,
      count: this.opts.members ?? this.peers.length,
      config: this.ini,
      profile: this.opts.profile ?? 'fast',
      verbose: this.opts.verbose,
      env: { ...this.opts.env, ...env },
      ...(how.join ? { extraArgs: ['--join'] } : {}),
    });
    live.add(proc);
    this.procs.set(name, proc);
    const keep = (chunk: Buffer) => {
      const s = (this.out.get(name) ?? '') + chunk.toString('utf8');
      this.out.set(name, s.length > 200_000 ? s.slice(-100_000) : s);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.stdin?.on('error', () => {});
    proc.on('exit', () => live.delete(proc));
    return proc;
  }

  startAll(): void {
    for (const n of this.names.slice(0, this.opts.members ?? this.names.length)) if (!this.alive(n)) this.start(n);
  }

  alive(name: string): boolean {
    const p = this.procs.get(name);
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  pid(name: string): number | undefined {
    return this.alive(name) ? this.procs.get(name)!.pid : undefined;
  }

  /** Everything the peer printed (stdout and stderr), across restarts. */
  output(name: string): string {
    return this.out.get(name) ?? '';
  }

  /** Sends a signal (SIGKILL by default) and waits for the process to be gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(name);
    if (!p || !this.alive(name)) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await gone;
  }

  /** Kills (SIGKILL) if running, then starts again from the durable state. */
  async restart(name: string): Promise<void> {
    await this.kill(name);
    this.start(name);
  }

  async admin(name: string, req: AdminRequest, timeoutMs = 2000): Promise<AdminReply> {
    return adminRequest(this.peer(name), this.config.secret, req, timeoutMs);
  }

  async status(name: string, kv = false): Promise<Status> {
    const r = await this.admin(name, kv ? { type: 'status', kv: true } : { type: 'status' });
    if (r.type !== 'status') throw new Error(`${name}: unexpected admin reply ${JSON.stringify(r)}`);
    return r;
  }

  /** Statuses of the given (default: running) peers that answer; the others are left out. */
  async statuses(names = this.names.filter((n) => this.alive(n)), kv = false): Promise<Status[]> {
    const all = await Promise.all(names.map((n) => this.status(n, kv).catch(() => null)));
    return all.filter((s): s is Status => s !== null);
  }

  async faults(name: string, f: Partial<Faults>): Promise<Faults> {
    const r = await this.admin(name, { type: 'faults', ...f });
    if (r.type !== 'faults') throw new Error(`${name}: unexpected admin reply ${JSON.stringify(r)}`);
    return r;
  }

  /** Blocks traffic between the groups (on every running peer, both directions). */
  async partition(groups: string[][]): Promise<void> {
    await Promise.all(
      groups.flatMap((g) => g.filter((n) => this.alive(n)).map((n) => this.faults(n, { blocked: this.names.filter((o) => !g.includes(o)) }))),
    );
  }

  /** Removes every fault from every running peer. */
  async heal(): Promise<void> {
    await Promise.all(this.names.filter((n) => this.alive(n)).map((n) => this.faults(n, { blocked: [], dropRate: 0, latencyMs: 0 })));
  }

  /**
   * Waits until exactly one of `among` (default: the running peers) leads, and all of them agree
   * on it and its term. Returns its name.
   */
  async waitForLeader(opts: { among?: string[]; timeoutMs?: number } = {}): Promise<string> {
    const among = opts.among ?? this.names.filter((n) => this.alive(n));
    return waitFor(
      `one leader among ${among.join(', ')}`,
      async () => {
        const st = await this.statuses(among);
        if (st.length !== among.length) return undefined;
        const leaders = st.filter((s) => s.role === 'leader');
        if (leaders.length !== 1) return undefined;
        const l = leaders[0]!;
        return st.every((s) => s.term === l.term && s.leader === l.peer) ? l.peer : undefined;
      },
      opts.timeoutMs ?? 20_000,
    );
  }

  /** One request_command to one peer; resolves with its command_result (or error frame). */
  async request(name: string, command: unknown[], extra: { client?: string; seq?: number; id?: string } = {}, timeoutMs = 10_000): Promise<CommandResult> {
    const id = extra.id ?? `t${randomBytes(4).toString('hex')}`;
    const frame: Record<string, unknown> = { type: 'request_command', id, command };
    if (extra.client !== undefined) frame.client = extra.client;
    if (extra.seq !== undefined) frame.seq = extra.seq;
    const reply = await sendFrame(this.peer(name), '/client', JSON.stringify(frame), timeoutMs);
    return reply as CommandResult;
  }

  /**
   * A command through the leader: asks any running peer, follows not_leader, retries until it
   * gets ok or bad_command (or the time runs out). With `client`/`seq` a retry is exactly-once.
   */
  async write(command: unknown[], opts: { among?: string[]; timeoutMs?: number; client?: string; seq?: number } = {}): Promise<CommandResult> {
    const among = opts.among ?? this.names;
    const end = Date.now() + (opts.timeoutMs ?? 20_000);
    const extra = opts.client !== undefined ? { client: opts.client, seq: opts.seq ?? 1 } : {};
    let target = among.find((n) => this.alive(n)) ?? among[0]!;
    let last: unknown = null;
    while (Date.now() < end) {
      try {
        const r = await this.request(target, command, extra, Math.max(500, end - Date.now()));
        if (r.ok || r.error === 'bad_command') return r;
        last = r;
        if (r.error === 'not_leader' && r.leader && among.includes(r.leader) && this.alive(r.leader)) {
          target = r.leader;
          continue;
        }
      } catch (e) {
        last = e;
      }
      const running = among.filter((n) => this.alive(n));
      target = running[(running.indexOf(target) + 1) % running.length] ?? target;
      await sleep(50);
    }
    throw new Error(`command ${JSON.stringify(command)} did not succeed in time; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
  }

  /** Stops every peer: SIGTERM (graceful) or SIGKILL. */
  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(this.names.map((n) => this.kill(n, signal)));
  }

  /** Kills everything this cluster started and removes its directory. Safe to call twice. */
  async teardown(): Promise<void> {
    await Promise.all(this.names.map((n) => this.kill(n, 'SIGKILL')));
    if (!this.opts.keepDir && process.env.RAFT_TEST_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes a temp ini with free ports and (unless start: false) spawns every peer. */
export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'raft-village-'));
  const ports = await freePorts(opts.peers + 1);
  const relayPort = ports[opts.peers]!;
  const ini = join(dir, 'raft_peer.ini');
  const text = [
    '[cluster]',
    `secret = test-${randomBytes(8).toString('hex')}`,
    'profile = fast',
    `log_dir = ${join(dir, 'logs')}`,
    `data_dir = ${join(dir, 'data')}`,
    '[peers]',
    ...ports.slice(0, opts.peers).map((p, i) => `peer${i + 1} = 127.0.0.1:${p}`),
    '[profile.fast]',
    'heartbeat_ms = 50',
    'election_min_ms = 300',
    'election_max_ms = 600',
    'latency_ms = 0',
    '[profile.slow]',
    'heartbeat_ms = 1500',
    'election_min_ms = 4500',
    'election_max_ms = 7500',
    'latency_ms = 500',
    '[relay]',
    'host = 127.0.0.1',
    `port = ${relayPort}`,
    opts.limits ?? '[limits]\nmax_frame_bytes = 65536',
    opts.ini ?? '',
    '',
  ].join('\n');
  writeFileSync(ini, text);
  const config = loadConfig(ini);
  const cluster = new TestCluster(dir, ini, config, config.peers, relayPort, opts);
  if (opts.start !== false) cluster.startAll();
  return cluster;
}

/**
 * Opens ws://peer/path, sends one frame, resolves with the first reply parsed as JSON.
 * Rejects on refusal (a RefusedError with `status` and `body`), close without reply, or timeout.
 */
export function sendFrame(
  peer: PeerAddress,
  path: string,
  frame: string | Buffer,
  timeoutMs = 5000,
  headers: Record<string, string> = {},
): Promise<unknown> {
  return sendOnce(peer, path, frame, { headers, timeoutMs });
}
