// Hosts of our own, made with Linux network namespaces, and the faults of a real network.
//
//   const net = createNetwork(['peer1', 'peer2', 'peer3', 'relay'], { router: true });
//   net.address('peer1')                       // 10.213.X.11: private, only inside this network
//   net.spawn('peer1', process.execPath, [...]) // a process on that host (ip netns exec)
//   net.setLoss(10); net.setDuplication(5)     // nftables: numgen random ... drop / dup
//   await net.setDelay(50, 20)                 // the delaying hop in the router namespace
//   net.cutIncoming('peer1')                   // peer1 sends but does not receive (conntrack)
//   net.partition([['peer1'], ['peer2', 'peer3']]); net.heal()
//   net.linkDown('relay'); net.crash('relay')  // a cable pulled; every process of the host killed
//   net.teardown()                             // also runs when the process exits
//
// Shape. One bridge in the root namespace (the test's "switch": tcpdump captures there); one
// namespace per host, joined to the bridge by a veth pair (eth0 inside), with an address in a
// private 10.213.X.0/24 chosen by the test (a /24 no route of the machine uses). The root
// namespace gets .254 on the bridge, so the test process itself (clients, checker, admin
// polling) reaches every host; no host has a default route, so nothing leaves this network.
//
// Names carry a unique prefix, `rv<pid><letter>` (interfaces) and `rv<pid><letter>-<host>`
// (namespaces): everything a run made is found again by it, and at start everything left by
// a run whose process is gone (killed before its teardown) is removed.
//
// Faults, all made by the kernel, none by the peers:
// - loss and duplication: nftables on each peer host's egress, `numgen random mod 1000 < N`
//   then `drop`, or `dup to "eth0"` in a netdev egress chain (a mark keeps a copy from being
//   copied again). The kernel of these machines has no netem qdisc.
// - delay and reordering: with `router: true` every peer-to-peer connection is turned (nftables
//   dnat in each peer's output) through a hop of the test's own in a router namespace
//   (delay-hop.ts): a TCP relay that holds every chunk for mean ± jitter ms. TCP hands bytes to
//   the application in order whatever happens to its packets, so what a peer can ever see of
//   reordering is messages on different connections overtaking each other; the hop draws a
//   delay per chunk and connection, which gives exactly that (within one connection a chunk
//   waits for the one before it, as TCP's head-of-line blocking does). Why not packets: without
//   netem the only way to hold packets is user space (NFQUEUE or a TUN device), which Node
//   cannot reach without a native module.
// - partitions: drops of whole connections by conntrack's original direction (a connection is
//   cut on the side that dialled it, in both directions, since TCP needs its ACKs), or a link
//   set down (a cable pulled: the host loses everything, the test's own access too).
// - one-way cuts, per connection direction: cutOutgoing(h) drops every connection h dialled to
//   another peer (the transport sends on those: h receives but cannot send); cutIncoming(h)
//   drops every connection dialled to h's peer port except the test's own (h sends but cannot
//   receive). Matching conntrack's *original* tuple (before the hop's dnat) names the dialler.
//
// Needs root and iproute2 and nftables (.ci/run installs nftables, tcpdump and conntrack). Without
// them createNetwork throws a NetnsUnavailable error that says what is missing: the suite fails,
// it never passes or skips silently. A fault the kernel refuses throws too.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { withLock } from './lock.ts';

export class NetnsUnavailable extends Error {
  override name = 'NetnsUnavailable';
}

export interface NetworkOptions {
  /** Add a router namespace with the delaying hop; peer-to-peer traffic goes through it. */
  router?: boolean;
}

export interface Host {
  name: string;
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  address: string;
  /** The root side of the veth pair (on the bridge). */
  veth: string;
}

/** What the delaying hop measured since the last look (test/support/delay-hop.ts). */
export interface HopStats {
  chunks: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  connections: number;
  /** Chunks released before a chunk that reached the hop earlier on another connection. */
  overtook: number;
}

/** A peer's listening address, for the hop and the connection-direction rules. */
export interface PeerEndpoint {
  host: string;
  port: number;
}

const PREFIX = 'rv';
const ROUTER = 'router';
let created = 0;
const openNetworks = new Set<Network>();
let exitHook = false;

/** Throws NetnsUnavailable with a clear message when this machine cannot build the network. */
export function requireNetns(tools: readonly string[] = ['ip', 'nft'], uid = process.getuid?.()): void {
  if (process.platform !== 'linux') throw new NetnsUnavailable(`the network-namespace suite needs Linux (this is ${process.platform})`);
  if (uid !== 0) {
    throw new NetnsUnavailable(
      'the network-namespace suite needs root: it makes network namespaces, a bridge and nftables rules. ' +
        'Run it as root (CI does: .ci/run), e.g. sudo npx vitest run test/netns',
    );
  }
  let missing = tools.filter((t) => !which(t));
  if (missing.length > 0 && missing.every((t) => t in PACKAGES)) {
    // As root, the tools are installed as Chromium is for the browser tests (one apt at a time).
    const packages = missing.map(packageOf);
    withLock('apt-install', () => {
      if (tools.every(which)) return; // another test process installed them meanwhile
      process.stderr.write(`the network-namespace suite needs ${missing.join(', ')}; installing ${packages.join(' ')} with apt-get\n`);
      spawnSync('sh', ['-c', `apt-get update -qq && apt-get install -y -qq ${packages.join(' ')}`], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    });
    missing = tools.filter((t) => !which(t));
  }
  if (missing.length > 0) {
    throw new NetnsUnavailable(
      `the network-namespace suite needs ${missing.join(', ')} (not found on PATH): apt-get install -y ${missing.map(packageOf).join(' ')}`,
    );
  }
}

/** The Debian package of each tool the suite uses. */
const PACKAGES: Record<string, string> = { ip: 'iproute2', nft: 'nftables', tcpdump: 'tcpdump', conntrack: 'conntrack' };

function packageOf(tool: string): string {
  return PACKAGES[tool] ?? tool;
}

function which(tool: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((d) => d && existsSync(join(d, tool)));
}

function run(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function nsPids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

function killNamespace(ns: string): void {
  for (const pid of nsPids(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Removes namespaces and interfaces left by runs whose process is gone. */
export function removeStale(): string[] {
  const removed: string[] = [];
  const mine = new RegExp(`^${PREFIX}(\\d+)[a-z]`);
  const dead = (name: string) => {
    const m = mine.exec(name);
    return !!m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  };
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const ns = line.split(/\s/)[0] ?? '';
    if (ns && dead(ns)) {
      killNamespace(ns);
      removed.push(ns);
    }
  }
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of links.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name && dead(name)) {
      spawnSync('ip', ['link', 'del', name]);
      removed.push(name);
    }
  }
  return removed;
}

/** A /24 in 10.213.0.0/16 that no route or address of the machine touches. */
function freeSubnet(): string {
  const routes = run('ip', ['-4', 'route', 'show', 'table', 'all']) + run('ip', ['-4', 'addr', 'show']);
  const start = (process.pid * 7 + created * 13) % 250;
  for (let i = 0; i < 250; i++) {
    const x = (start + i) % 250;
    const net = `10.213.${x}.`;
    if (!routes.includes(net) && !routes.includes('10.213.0.0/16')) return `10.213.${x}`;
  }
  throw new NetnsUnavailable('no free /24 in 10.213.0.0/16 for the test network');
}

export function createNetwork(hosts: readonly string[], opts: NetworkOptions = {}): Network {
  requireNetns();
  removeStale();
  return new Network(hosts, opts);
}

export class Network {
  readonly id: string;
  readonly bridge: string;
  readonly subnet: string;
  /** The root namespace's address on the bridge: where the test process's own traffic comes from. */
  readonly gateway: string;
  readonly hosts = new Map<string, Host>();
  private readonly spawned = new Set<ChildProcess>();
  private hop: ChildProcess | null = null;
  private hopOut = '';
  private peers: PeerEndpoint[] = [];
  private torn = false;

  constructor(names: readonly string[], readonly opts: NetworkOptions) {
    // A letter no network of this process uses yet (also one made by another worker thread).
    let id = '';
    for (let i = 0; i < 26 && (!id || linkExists(`${id}b`)); i++) id = `${PREFIX}${process.pid}${String.fromCharCode(97 + (created++ % 26))}`;
    this.id = id;
    this.bridge = `${this.id}b`;
    this.subnet = freeSubnet();
    this.gateway = `${this.subnet}.254`;
    openNetworks.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const n of openNetworks) n.teardown();
      });
    }
    try {
      run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
      run('ip', ['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
      run('ip', ['link', 'set', this.bridge, 'up']);
      const all = opts.router ? [...names, ROUTER] : [...names];
      all.forEach((name, i) => this.addHost(name, name === ROUTER ? `${this.subnet}.250` : `${this.subnet}.${11 + i}`, i));
    } catch (e) {
      this.teardown();
      throw e;
    }
  }

  private addHost(name: string, address: string, i: number): void {
    if (!/^[a-z][a-z0-9-]{0,15}$/.test(name)) throw new Error(`host name ${JSON.stringify(name)}: lowercase letters, digits and -, at most 16`);
    const ns = `${this.id}-${name}`;
    const veth = `${this.id}h${i}`;
    run('ip', ['netns', 'add', ns]);
    this.hosts.set(name, { name, ns, address, veth });
    run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
    this.ip(name, ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
    this.ip(name, ['link', 'set', 'lo', 'up']);
    this.ip(name, ['link', 'set', 'eth0', 'up']);
    // Every host's fault rules live in one table: chains for the connection rules (filter),
    // the hop (nat) and the egress of eth0 (loss, duplication), flushed by heal().
    this.nft(
      name,
      `table inet rvfault {
  chain in { type filter hook input priority 0; }
  chain out { type filter hook output priority 0; }
  chain hop { type nat hook output priority -100; }
}
table netdev rvwire {
  chain egress { type filter hook egress device "eth0" priority 0; }
}`,
    );
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name} in this network (${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  address(name: string): string {
    return this.host(name).address;
  }

  /** `ip ARGS` inside the host's namespace. */
  ip(name: string, args: readonly string[]): string {
    return run('ip', ['-n', this.host(name).ns, ...args]);
  }

  /** Loads an nftables script inside the host's namespace; a rule the kernel refuses throws. */
  nft(name: string, script: string): void {
    run('ip', ['netns', 'exec', this.host(name).ns, 'nft', '-f', '-'], script);
  }

  /** Runs a command on a host (its network is the namespace's; files and processes are shared). */
  spawn(name: string, command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.host(name).ns, command, ...args], { cwd: REPO_ROOT, ...opts });
    this.spawned.add(p);
    p.on('exit', () => this.spawned.delete(p));
    return p;
  }

  /** Every process running on the host (in its namespace). */
  pids(name: string): number[] {
    return nsPids(this.host(name).ns);
  }

  /** The host crashes: every process on it is SIGKILLed at once. */
  crash(name: string): number[] {
    const pids = this.pids(name);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    return pids;
  }

  // ---- faults ----

  private peerHosts(): string[] {
    return [...this.hosts.keys()].filter((h) => h !== ROUTER && this.peers.some((p) => p.host === this.address(h)));
  }

  /** Tells the network where the peers listen (for the hop and the connection rules). */
  setPeers(peers: readonly PeerEndpoint[]): void {
    this.peers = [...peers];
  }

  /** Drops `percent` % of the packets every peer host sends (0 removes the rule). */
  setLoss(percent: number): void {
    this.wireRule('loss', percent);
  }

  /** Sends `percent` % of the packets every peer host sends twice (0 removes the rule). */
  setDuplication(percent: number): void {
    this.wireRule('dup', percent);
  }

  private readonly wire = { loss: 0, dup: 0 };

  private wireRule(kind: 'loss' | 'dup', percent: number): void {
    if (!(percent >= 0 && percent <= 100)) throw new Error(`${kind} must be a percentage from 0 to 100, got ${percent}`);
    this.wire[kind] = percent;
    const rules: string[] = [];
    if (this.wire.dup > 0) rules.push(`meta mark != 0x5256 numgen random mod 1000 < ${Math.round(this.wire.dup * 10)} meta mark set 0x5256 counter dup to "eth0"`);
    if (this.wire.loss > 0) rules.push(`numgen random mod 1000 < ${Math.round(this.wire.loss * 10)} counter drop`);
    for (const h of this.peerHosts()) this.nft(h, `flush chain netdev rvwire egress\n${rules.map((r) => `add rule netdev rvwire egress ${r}`).join('\n')}\n`);
  }

  /** Packets the wire rules of a host dropped and duplicated so far: a fault that really acted. */
  wireCounters(name: string): { dropped: number; duplicated: number } {
    const text = run('ip', ['netns', 'exec', this.host(name).ns, 'nft', 'list', 'chain', 'netdev', 'rvwire', 'egress']);
    const count = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    return { dropped: count(/counter packets (\d+) bytes \d+ drop/), duplicated: count(/counter packets (\d+) bytes \d+ dup to/) };
  }

  /**
   * Starts the delaying hop (router: true) and turns every peer-to-peer connection through it.
   * Must run before the peers start: connections made before keep their direct path.
   */
  async startHop(): Promise<void> {
    if (!this.opts.router) throw new Error('this network has no router: createNetwork(..., { router: true })');
    if (this.peers.length === 0) throw new Error('setPeers() first: the hop needs the peers addresses');
    const router = this.address(ROUTER);
    const maps = this.peers.map((p) => `${p.port}=${p.host}:${p.port}`);
    const hop = this.spawn(ROUTER, process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, 'test/support/delay-hop.ts'), router, ...maps], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.hop = hop;
    hop.stdout!.on('data', (d: Buffer) => (this.hopOut += d.toString('utf8')));
    hop.stderr!.on('data', (d: Buffer) => (this.hopOut += d.toString('utf8')));
    hop.stdin!.on('error', () => {});
    await this.hopSays('ready', 20_000);
    const rules = this.peers.map((p) => `add rule inet rvfault hop ip daddr ${p.host} tcp dport ${p.port} dnat ip to ${router}:${p.port}`).join('\n');
    for (const h of this.peerHosts()) this.nft(h, `${rules}\n`);
  }

  private async hopSays(word: string, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.hopOut.indexOf(`${word}\n`);
      if (i >= 0) {
        this.hopOut = this.hopOut.slice(i + word.length + 1);
        return;
      }
      if (!this.hop || this.hop.exitCode !== null) throw new Error(`the delaying hop exited: ${this.hopOut}`);
      if (Date.now() > end) throw new Error(`the delaying hop did not say ${word} within ${timeoutMs} ms: ${this.hopOut}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Every chunk between peers waits mean ± jitter ms in the hop (0, 0: none). */
  async setDelay(meanMs: number, jitterMs: number): Promise<void> {
    if (!this.hop) throw new Error('no delaying hop: startHop() first (a network with router: true)');
    if (!(meanMs >= 0 && jitterMs >= 0 && jitterMs <= meanMs)) throw new Error(`delay must be mean >= jitter >= 0, got ${meanMs} ± ${jitterMs}`);
    this.hop.stdin!.write(`delay ${meanMs} ${jitterMs}\n`);
    await this.hopSays('ok');
  }

  /** What the hop measured: chunks relayed and the delays they got. */
  async hopStats(): Promise<HopStats> {
    if (!this.hop) throw new Error('no delaying hop');
    this.hop.stdin!.write('stats\n');
    const end = Date.now() + 5000;
    for (;;) {
      const m = /stats (\{.*\})\n/.exec(this.hopOut);
      if (m) {
        this.hopOut = this.hopOut.slice(m.index + m[0].length);
        return JSON.parse(m[1]!) as HopStats;
      }
      if (Date.now() > end) throw new Error(`the delaying hop gave no stats: ${this.hopOut}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private endpointOf(name: string): PeerEndpoint {
    const addr = this.address(name);
    const p = this.peers.find((x) => x.host === addr);
    if (!p) throw new Error(`${name} runs no peer known to the network (setPeers)`);
    return p;
  }

  private dropBoth(name: string, match: string): void {
    this.nft(name, `add rule inet rvfault in ${match} drop\nadd rule inet rvfault out ${match} drop\n`);
  }

  /** The host's peer receives nothing from the other peers (connections dialled to it are cut). */
  cutIncoming(name: string): void {
    const self = this.endpointOf(name);
    this.dropBoth(name, `meta l4proto tcp ct original proto-dst ${self.port} ct original ip saddr != ${this.gateway}`);
  }

  /** The host's peer sends nothing to the other peers (connections it dialled to them are cut). */
  cutOutgoing(name: string): void {
    const self = this.endpointOf(name);
    for (const p of this.peers) if (p !== self) this.dropBoth(name, `meta l4proto tcp ct original ip daddr ${p.host} ct original proto-dst ${p.port}`);
  }

  /** No peer connection between hosts of different groups (each side cuts what it dialled). */
  partition(groups: readonly (readonly string[])[]): void {
    for (const g of groups) {
      for (const h of g) {
        for (const other of groups) {
          if (other === g) continue;
          for (const o of other) {
            const p = this.endpointOf(o);
            this.dropBoth(h, `meta l4proto tcp ct original ip daddr ${p.host} ct original proto-dst ${p.port}`);
          }
        }
      }
    }
  }

  /** The host's cable: down cuts everything, the test's own access included. */
  linkDown(name: string): void {
    this.ip(name, ['link', 'set', 'eth0', 'down']);
  }

  linkUp(name: string): void {
    this.ip(name, ['link', 'set', 'eth0', 'up']);
  }

  /** Removes the connection cuts and partitions on every host and brings every link up (loss, duplication and delay stay). */
  heal(): void {
    for (const h of this.hosts.keys()) {
      this.nft(h, 'flush chain inet rvfault in\nflush chain inet rvfault out\n');
      this.ip(h, ['link', 'set', 'eth0', 'up']);
    }
  }

  /** Kills every process of every host, deletes the namespaces and the bridge. Safe to call twice. */
  teardown(): void {
    if (this.torn) return;
    this.torn = true;
    openNetworks.delete(this);
    for (const p of this.spawned) {
      try {
        p.kill('SIGKILL');
      } catch {
        // gone
      }
    }
    for (const h of this.hosts.values()) killNamespace(h.ns);
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}

/** The namespaces that currently exist with this network's prefix (for the teardown test). */
export function namespacesOf(id: string): string[] {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return list
    .split('\n')
    .map((l) => l.split(/\s/)[0] ?? '')
    .filter((n) => n.startsWith(`${id}-`));
}

export function linkExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', name], { encoding: 'utf8' }).status === 0;
}

