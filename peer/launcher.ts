// `npm run cluster -- N [-v] [--here] [--profile P] [--config FILE]`: starts peer1..peerN of raft_peer.ini
// (with --here only those whose [peers] host is an address of this machine: one launcher per machine)
// as child processes (the original launch_raft_peer.sh), prefixes their output with their names,
// and stops them all on Ctrl-C / SIGTERM. It is also the supervisor the village needs:
//   kill NAME     SIGKILL the peer (a real failure, no goodbye)
//   revive NAME   start it again from its durable state
//   status        process state of every peer, and role/term/commit from their /admin
//   join NAME     start NAME (any peer of the ini) as a newcomer, then ask the leader to add it
//   leave NAME    ask the leader to remove NAME; the peer exits by itself once that commits
// Those commands come from stdin, and with -v also from the relay (ws://[relay]/launcher,
// LauncherCommand), which it tells about every process going up or down (LauncherReport).
// It starts the members of the latest configuration its peers recorded (launcher-members.ts),
// or peer1..peerN when there is none; N stays the size the cluster started with.
import type { ChildProcess } from 'node:child_process';
import { hostname, networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { ConfigError, clusterOf, configPath, loadConfig, timingOf, type Config, type PeerAddress } from '../shared/config.ts';
import { clientTls, endpointUrl } from '../shared/tls.ts';
import type { LauncherCommand, LauncherReport } from '../shared/events.ts';
import { SECRET_HEADER } from '../shared/peer-protocol.ts';
import { adminRequest } from '../shared/admin-client.ts';
import { formatMembership, type MembershipOp, type MembershipResult } from '../shared/membership.ts';
import { changeMembership } from '../shared/membership-client.ts';
import { addressesOf, latestMembers } from './launcher-members.ts';
import { parseCommonArgs, parseCount } from './args.ts';
import { EXIT_WITH_STDIN_ENV, spawnPeer } from './spawn.ts';

const USAGE = `usage: npm run cluster -- N [-v] [--here] [--profile fast|slow|lan] [--config FILE]
  N          how many peers the cluster starts with: peer1..peerN of raft_peer.ini (after joins
             and leaves, the launcher starts the members its peers' logs name)
  -v         report to the relay (the village); accept kill/revive from it
  --here     start only the peers whose [peers] host is this machine (one launcher per machine)
  --profile  timing profile (default: [cluster] profile of the ini)
  --config   the ini file (default: ./raft_peer.ini or $RAFT_CONFIG)
while it runs, type: kill NAME | revive NAME | join NAME | leave NAME | status | help | quit`;

interface Args {
  count: number;
  here: boolean;
  verbose: boolean;
  profile: string | undefined;
  config: string;
}

function parseArgs(argv: string[]): Args | string {
  const here = argv.includes('--here');
  const common = parseCommonArgs(argv.filter((a) => a !== '--here'));
  if (typeof common === 'string') return common;
  if (common.help) return '';
  const { positional, verbose, profile } = common;
  if (positional.length !== 1) return positional.length === 0 ? 'how many peers? e.g. npm run cluster -- 3' : `unexpected arguments: ${positional.slice(1).join(' ')}`;
  const count = parseCount(positional[0]);
  if (typeof count === 'string') return count;
  return { count, here, verbose, profile, config: configPath(argv) };
}

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93, 95];
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;

interface Child {
  peer: PeerAddress;
  color: number;
  proc: ChildProcess | null;
  pid: number | null;
  alive: boolean;
  exitCode: number | null;
  signal: string | null;
}

class Launcher {
  private readonly children = new Map<string, Child>();
  private relay: WebSocket | null = null;
  private relayOpen = false;
  private relayBackoff = 500;
  private relayTimer: NodeJS.Timeout | null = null;
  private relayRefused = false;
  private stopping = false;
  private readonly profile: string;
  private readonly width: number;
  /** The cluster's members as this launcher knows them (the latest configuration). */
  private readonly members: Set<string>;
  /** Peers whose leave committed: their exit is expected. */
  private readonly left = new Set<string>();

  constructor(
    private readonly config: Config,
    /** The first N peers: the initial configuration (every peer is started with this N). */
    private readonly cluster: PeerAddress[],
    private readonly args: Args,
    /** The members this launcher runs: all of them, or with --here those of this machine. */
    private readonly runs: PeerAddress[] = cluster,
    members: readonly string[] = cluster.map((p) => p.name),
    /** The peers this launcher may start for a join: the ini's (or with --here, this machine's). */
    may: readonly PeerAddress[] = runs,
  ) {
    this.profile = args.profile ?? config.defaultProfile;
    this.members = new Set(members);
    this.width = Math.max(...may.map((p) => p.name.length));
    may.forEach((peer, i) => {
      this.children.set(peer.name, { peer, color: COLORS[i % COLORS.length]!, proc: null, pid: null, alive: false, exitCode: null, signal: null });
    });
  }

  start(): void {
    const t = timingOf(this.config, this.profile);
    this.say(
      `starting ${this.runs.length} peers${this.runs.length < this.cluster.length ? ` of ${this.cluster.length}` : ''} (${this.runs.map((p) => `${p.name} ${p.host}:${p.port}`).join(', ')}), ` +
        `profile ${this.profile} (heartbeat ${t.heartbeatMs} ms, election ${t.electionMinMs}-${t.electionMaxMs} ms, latency ${t.latencyMs} ms)`,
    );
    this.say(`logs in ${this.config.logDir}, durable state in ${this.config.dataDir}; type "help" for commands, Ctrl-C stops all`);
    const outside = [...this.members].filter((n) => !this.cluster.some((p) => p.name === n));
    if (outside.length > 0 || this.members.size !== this.cluster.length) this.say(`members of the latest configuration: ${[...this.members].join(', ')}`);
    for (const c of this.children.values()) if (this.runs.some((p) => p.name === c.peer.name)) this.spawn(c);
    if (this.args.verbose) this.connectRelay();
    this.readCommands();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void this.stop(sig));
  }

  private spawn(c: Child): void {
    if (c.alive || this.stopping) return;
    const proc = spawnPeer({
      name: c.peer.name,
      count: this.cluster.length,
      config: this.config.file,
      profile: this.args.profile,
      verbose: this.args.verbose,
      env: useColor ? { FORCE_COLOR: '1' } : {},
      // A peer outside the first N started as a newcomer: its log says what it is once it has one.
      ...(this.cluster.some((p) => p.name === c.peer.name) ? {} : { extraArgs: ['--join'] }),
    });
    c.proc = proc;
    c.pid = proc.pid ?? null;
    c.alive = proc.pid !== undefined;
    c.exitCode = null;
    c.signal = null;
    const prefix = useColor ? `\x1b[${c.color}m${c.peer.name.padEnd(this.width)} |\x1b[0m ` : `${c.peer.name.padEnd(this.width)} | `;
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      const rl = createInterface({ input: stream });
      rl.on('line', (line) => process.stdout.write(prefix + line + '\n'));
    }
    proc.stdin?.on('error', () => {});
    proc.on('error', (e) => {
      this.say(`${c.peer.name}: cannot start: ${e.message}`);
    });
    proc.on('exit', (code, signal) => {
      if (c.proc !== proc) return;
      c.alive = false;
      c.exitCode = code;
      c.signal = signal;
      c.proc = null;
      if (this.left.delete(c.peer.name) && code === 0) this.say(`${c.peer.name} (pid ${c.pid}) left the cluster and exited; its data stays on disk`);
      else if (!this.stopping) this.say(`${c.peer.name} (pid ${c.pid}) exited ${signal ? `by ${signal}` : `with code ${code}`}; "revive ${c.peer.name}" starts it again`);
      this.report(c);
    });
    if (c.alive) {
      this.say(`${c.peer.name} started (pid ${c.pid})`);
      this.report(c);
    }
  }

  kill(name: string): string {
    const c = this.children.get(name);
    if (!c) return `no peer ${name}; peers: ${[...this.children.keys()].join(', ')}`;
    if (!c.alive || !c.proc) return `${name} is already down`;
    c.proc.kill('SIGKILL');
    return `killed ${name} (pid ${c.pid}) with SIGKILL`;
  }

  revive(name: string): string {
    const c = this.children.get(name);
    if (!c) return `no peer ${name}; peers: ${[...this.children.keys()].join(', ')}`;
    if (c.alive) return `${name} is already running (pid ${c.pid})`;
    this.spawn(c);
    return `reviving ${name} from its durable state`;
  }

  /**
   * join: starts the peer's process (as a newcomer) unless it runs, then asks the leader to add
   * it; leave: asks the leader to remove it (the peer exits by itself). Answers with the outcome.
   */
  async changeMembership(op: MembershipOp, name: string): Promise<MembershipResult> {
    const c = this.children.get(name);
    if (op === 'join' && c && !c.alive) {
      this.say(`starting ${name} as a newcomer`);
      this.spawn(c);
    }
    if (op === 'leave') this.left.add(name);
    const ask = [...this.members].filter((n) => this.children.get(n)?.alive ?? true);
    const r = await changeMembership(this.config, op, name, { ask });
    if (!r.ok) this.left.delete(name);
    if (r.ok) {
      // The configuration after the change (unknown when a retry found it done already).
      const now = r.config.voters.length > 0 ? [...r.config.voters, ...r.config.learners] : null;
      if (now) {
        this.members.clear();
        for (const n of this.config.peers.map((p) => p.name)) if (now.includes(n)) this.members.add(n);
      } else if (op === 'join') this.members.add(name);
      else this.members.delete(name);
      this.sendHello();
    }
    return r;
  }

  async status(): Promise<string> {
    const lines = await Promise.all(
      [...this.children.values()].filter((c) => c.alive || this.members.has(c.peer.name)).map(async (c) => {
        const head = `${c.peer.name.padEnd(this.width)} ${c.alive ? `up   pid ${c.pid}` : `down${c.signal ? ` (${c.signal})` : c.exitCode !== null ? ` (code ${c.exitCode})` : ''}`}`;
        if (!c.alive) return head;
        try {
          const r = await adminRequest(c.peer, this.config.secret, { type: 'status' }, 1000);
          if (r.type !== 'status') return `${head}  (no status)`;
          return `${head}  ${r.role} term ${r.term} leader ${r.leader ?? '?'} commit ${r.commitIndex} applied ${r.appliedIndex} last ${r.lastIndex}`;
        } catch (e) {
          return `${head}  (${(e as Error).message})`;
        }
      }),
    );
    return lines.join('\n');
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.say(`stopping all peers (${reason})`);
    if (this.relayTimer) clearTimeout(this.relayTimer);
    const alive = [...this.children.values()].filter((c) => c.alive && c.proc);
    const exited = alive.map((c) => new Promise<void>((res) => c.proc!.once('exit', () => res())));
    for (const c of alive) c.proc!.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of alive) if (c.alive) c.proc?.kill('SIGKILL');
    }, 3000);
    await Promise.all(exited);
    clearTimeout(timer);
    this.relay?.close();
    this.say('all peers stopped');
    process.exit(0);
  }

  // ---- stdin ----

  private readCommands(): void {
    if (process.stdin.destroyed) return;
    const rl = createInterface({ input: process.stdin, terminal: false });
    rl.on('line', (line) => void this.command(line.trim()));
    // stdin closing (e.g. </dev/null) is not a reason to stop: Ctrl-C and signals are. Unless a
    // parent (npm start) asked for it: then its death closes our stdin and we stop everything.
    if (process.env[EXIT_WITH_STDIN_ENV] === '1') rl.on('close', () => void this.stop('parent exited'));
  }

  private async command(line: string): Promise<void> {
    if (!line) return;
    const [cmd, arg] = line.split(/\s+/);
    switch (cmd) {
      case 'kill':
        this.say(arg ? this.kill(arg) : 'kill which peer? e.g. kill peer2');
        break;
      case 'revive':
        this.say(arg ? this.revive(arg) : 'revive which peer? e.g. revive peer2');
        break;
      case 'status':
        this.say(`\n${await this.status()}`);
        break;
      case 'join':
      case 'leave':
        if (!arg) this.say(`${cmd} which peer? e.g. ${cmd === 'join' ? 'join peer4' : 'leave peer2'}`);
        else this.say(describeChange(await this.changeMembership(cmd, arg)));
        break;
      case 'quit':
      case 'exit':
        await this.stop('quit');
        break;
      case 'help':
      case '?':
        this.say('commands: kill NAME (SIGKILL), revive NAME (restart from durable state), join NAME (add a peer of the ini), leave NAME (remove a member), status, quit');
        break;
      default:
        this.say(`unknown command ${JSON.stringify(cmd)}; commands: kill NAME, revive NAME, join NAME, leave NAME, status, quit`);
    }
  }

  // ---- relay ----

  private connectRelay(): void {
    if (this.stopping) return;
    this.relayTimer = null;
    const url = endpointUrl(this.config.relay, '/launcher');
    const ws = new WebSocket(url, {
      ...clientTls(this.config.relay.tls),
      perMessageDeflate: false,
      maxPayload: 64 * 1024,
      handshakeTimeout: 3000,
      headers: { [SECRET_HEADER]: this.config.secret },
    });
    ws.on('unexpected-response', (_req, res) => {
      if (!this.relayRefused) this.say(`the relay at ${url} refused the launcher: HTTP ${res.statusCode} (same [cluster] secret?)`);
      this.relayRefused = true;
      this.relayBackoff = 5000;
      ws.terminate();
    });
    this.relay = ws;
    ws.on('open', () => {
      this.relayOpen = true;
      this.relayBackoff = 500;
      this.say(`connected to the relay at ${url}`);
      this.sendHello();
      for (const c of this.children.values()) if (c.alive || this.members.has(c.peer.name)) this.report(c);
    });
    ws.on('message', (data) => this.relayCommand(String(data)));
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.relay !== ws) return;
      if (this.relayOpen) this.say('lost the relay; retrying');
      this.relayOpen = false;
      this.relay = null;
      if (this.stopping) return;
      const delay = this.relayBackoff * (0.5 + Math.random());
      this.relayBackoff = Math.min(5000, this.relayBackoff * 2);
      this.relayTimer = setTimeout(() => this.connectRelay(), delay);
    });
  }

  private relayCommand(text: string): void {
    const cmd = parseLauncherCommand(text, [...this.children.keys()], this.config.peers.map((p) => p.name));
    if (typeof cmd === 'string') {
      this.say(`ignored a command from the relay: ${cmd}`);
      return;
    }
    if (cmd.type === 'join' || cmd.type === 'leave') {
      this.say(`relay: ${cmd.type} ${cmd.peer}`);
      void this.changeMembership(cmd.type, cmd.peer).then((result) => {
        this.say(describeChange(result));
        this.send({ type: 'membership', result });
      });
      return;
    }
    this.say(`relay: ${cmd.type} ${cmd.peer}: ${cmd.type === 'kill' ? this.kill(cmd.peer) : this.revive(cmd.peer)}`);
  }

  /** Who the village is (the members) and whom this launcher may start. */
  private sendHello(): void {
    const peers = this.config.peers.filter((p) => this.members.has(p.name)).map((p) => p.name);
    this.send({ type: 'launcher_hello', peers, profile: this.profile, runs: [...this.children.keys()] });
  }

  private report(c: Child): void {
    this.send({ type: 'process', peer: c.peer.name, pid: c.pid, alive: c.alive, exitCode: c.exitCode, signal: c.signal });
  }

  private send(r: LauncherReport): void {
    if (this.relay && this.relayOpen && this.relay.readyState === WebSocket.OPEN) this.relay.send(JSON.stringify(r));
  }

  private say(text: string): void {
    process.stdout.write(`${useColor ? '\x1b[1mcluster\x1b[0m' : 'cluster'}${' '.repeat(Math.max(0, this.width - 7))} | ${text}\n`);
  }
}

/** One line about a join or leave, for people. */
export function describeChange(r: MembershipResult): string {
  if (r.ok) return `${r.op} ${r.peer}: done; ${formatMembership(r.config)}`;
  return `${r.op} ${r.peer} refused (${r.error}): ${r.message}`;
}

/**
 * Validates a LauncherCommand frame; a string is the reason it was refused. kill and revive name
 * one of `peers` (those this launcher runs); join and leave one of `ini` (the leader says the rest).
 */
export function parseLauncherCommand(text: string, peers: string[], ini: string[] = peers): LauncherCommand | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.type !== 'kill' && o.type !== 'revive' && o.type !== 'join' && o.type !== 'leave') return `unknown type ${JSON.stringify(o.type)} (expected kill, revive, join or leave)`;
  const allowed = o.type === 'join' || o.type === 'leave' ? ini : peers;
  if (typeof o.peer !== 'string' || !allowed.includes(o.peer)) return `${JSON.stringify(o.peer)} is not one of ${allowed.join(', ')}`;
  return { type: o.type, peer: o.peer };
}

/** This machine's addresses and names: every interface's address, its host name, and the loopback names. */
export function localAddresses(): string[] {
  const out = new Set(['127.0.0.1', '::1', 'localhost', hostname()]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return [...out];
}

/** The peers of the cluster whose [peers] host is one of `addresses` (--here). */
export function peersHere(cluster: readonly PeerAddress[], addresses: readonly string[]): PeerAddress[] {
  const here = new Set(addresses.map((a) => a.toLowerCase()));
  return cluster.filter((p) => here.has(p.host.toLowerCase()));
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args) process.stderr.write(`${args}\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(args ? 2 : 0);
  }
  let config: Config;
  let cluster: PeerAddress[];
  let runs: PeerAddress[];
  let members: string[];
  try {
    config = loadConfig(args.config);
    cluster = clusterOf(config, args.count);
    // The latest configuration the peers recorded, else the first N.
    const latest = latestMembers(config, (line) => process.stdout.write(`cluster | ${line}\n`));
    members = latest ? latest.members : cluster.map((p) => p.name);
    const memberAddresses = addressesOf(config, members);
    runs = args.here ? peersHere(memberAddresses, localAddresses()) : memberAddresses;
    if (runs.length === 0) {
      throw new ConfigError(
        `none of the ${cluster.length} peers of ${config.file} lives on this machine (its addresses: ${localAddresses().join(', ')}); ` +
          'put this machine\'s address in [peers], or run without --here',
      );
    }
    timingOf(config, args.profile ?? config.defaultProfile);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  new Launcher(config, cluster, args, runs, members, args.here ? peersHere(config.peers, localAddresses()) : config.peers).start();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
