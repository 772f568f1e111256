// What the relay does when asked: kill and revive (through the launcher), isolate and heal
// (through every peer's /admin), force an election, attacks on and off, console lines, and the
// monster's own kills and revivals. One place, so the browser, the console and the monster all
// act the same way and every browser hears about it.
import type { Config, PeerAddress } from '../../shared/config.ts';
import type { LauncherCommand } from '../../shared/events.ts';
import { formatMembership, type MembershipOp, type MembershipResult } from '../../shared/membership.ts';
import { changeMembership } from '../../shared/membership-client.ts';
import type { AdminReply, AdminRequest } from '../../shared/peer-protocol.ts';
import type { CommandResult } from '../../shared/client-protocol.ts';
import type { BrowserToRelay } from '../../shared/village.ts';
import { CONSOLE_HELP, formatKv, parseConsoleLine, type ConsoleCommand, type KvValue } from './console.ts';
import { lessonRequest } from './lessons.ts';
import type { Monster, MonsterAction } from './monster.ts';
import type { Picture } from './picture.ts';

export interface Reply {
  ok: boolean;
  text: string;
  value?: unknown;
}

/** The cluster client the console uses (shared/client.ts ClusterClient has this shape). */
export interface KvClient {
  command(command: unknown[]): Promise<CommandResult>;
  leader(): string | null;
  close(): void;
}

export interface ControlDeps {
  config: Config;
  picture: Picture;
  monster: Monster;
  /** Sends to the current launcher; false when none is connected. */
  sendLauncher(cmd: LauncherCommand): boolean;
  /** One request to a peer's /admin. */
  admin(peer: PeerAddress, request: AdminRequest): Promise<AdminReply>;
  kvClient(peers: PeerAddress[]): KvClient;
  now(): number;
  log(line: string): void;
  /** How long kill/revive wait for the launcher's report before answering. Default 3000. */
  launcherWaitMs?: number;
  /** A join or leave asked of the cluster directly (no launcher); default: shared/membership-client.ts. */
  membership?(op: MembershipOp, peer: string): Promise<MembershipResult>;
  /** How long join and leave wait for the launcher's outcome. Default 40,000. */
  membershipWaitMs?: number;
  /** The village clock's commands (clock.ts), for pause, resume, step and speed typed in the console. */
  clock?(msg: Extract<BrowserToRelay, { type: 'clock' }>, by: string): Promise<Reply>;
}

const NO_LAUNCHER =
  'no cluster launcher is connected to the relay, so villagers cannot be killed or revived from here; ' +
  'start the cluster with "npm run cluster -- 5 -v" (or use "npm start")';

export class Control {
  /** Peers the village asked to cut off from all others (reapplied when they come back). */
  readonly isolated = new Set<string>();
  private client: { names: string; client: KvClient } | null = null;
  private readonly waiters: { peer: string; alive: boolean; done: (ok: boolean) => void }[] = [];
  private readonly changes: { op: MembershipOp; peer: string; done: (r: MembershipResult | null) => void }[] = [];

  constructor(private readonly d: ControlDeps) {}

  close(): void {
    this.client?.client.close();
    this.client = null;
    for (const w of this.waiters.splice(0)) w.done(false);
    for (const w of this.changes.splice(0)) w.done(null);
  }

  /**
   * Runs one browser message: a line typed in the console, or one of the page's buttons and
   * keys, which ask for the same commands a console line can.
   */
  async execute(msg: Exclude<BrowserToRelay, { type: 'inspect' }>): Promise<Reply> {
    if (msg.type === 'console') return this.consoleLine(msg.line);
    if (msg.type === 'lesson') return lessonRequest(msg, { peers: this.cluster(), admin: this.d.admin });
    if (msg.type === 'heal') return this.run({ kind: 'heal' }, 'the village');
    if (msg.type === 'attacks') return this.run({ kind: 'attacks', on: msg.on }, 'the village');
    if (msg.type === 'clock') return { ok: false, text: 'this relay has no village clock' };
    return this.run({ kind: msg.type, peer: msg.peer }, 'the village');
  }

  /** Runs a typed line; the line (level `input`) and its outcome go to every console panel. */
  async consoleLine(line: string): Promise<Reply> {
    const shown = line.length > 200 ? `${line.slice(0, 200)}...` : line;
    this.d.picture.say(shown, 'input');
    const parsed = parseConsoleLine(line);
    const reply: Reply = parsed.ok ? await this.run(parsed.command, 'the console') : { ok: false, text: parsed.message };
    this.d.picture.say(reply.text, reply.ok ? 'result' : 'error');
    return reply;
  }

  /** The one place each command is carried out; `by` names who asked, for the relay's log. */
  private async run(c: ConsoleCommand, by: string): Promise<Reply> {
    switch (c.kind) {
      case 'kv':
        return this.kv(c.command);
      case 'kill':
        return this.kill(c.peer, by);
      case 'revive':
        return this.revive(c.peer);
      case 'isolate':
        return this.isolate(c.peer);
      case 'campaign':
        return this.campaign(c.peer);
      case 'join':
      case 'leave':
        return this.membership(c.kind, c.peer, by);
      case 'heal':
        return this.heal();
      case 'attacks':
        return this.attacks(c.on ?? !this.d.monster.attacks);
      case 'clock':
        if (!this.d.clock) return { ok: false, text: 'this relay has no village clock' };
        return this.d.clock(c.action === 'speed' ? { type: 'clock', action: 'speed', speed: c.speed } : { type: 'clock', action: c.action }, by === 'the console' ? 'a visitor' : by);
      case 'status':
        return { ok: true, text: this.status() };
      case 'help':
        return { ok: true, text: CONSOLE_HELP };
    }
  }

  // ---- the cluster's processes ----

  async kill(peer: string, by: string): Promise<Reply> {
    const bad = this.checkPeer(peer);
    if (bad) return bad;
    const view = this.d.picture.peer(peer);
    if (view?.process === 'down') return { ok: false, text: `${peer} is already down` };
    const wait = this.waitFor(peer, false);
    if (!this.d.sendLauncher({ type: 'kill', peer })) {
      wait.cancel();
      return { ok: false, text: NO_LAUNCHER };
    }
    this.d.log(`kill ${peer} (asked by ${by})`);
    if (!(await wait.promise)) return { ok: false, text: `asked the launcher to kill ${peer}, but it has not reported ${peer} down yet` };
    const peers = this.d.picture.peerList();
    const down = peers.filter((p) => p.process === 'down').length;
    const lost = peers.length - down <= peers.length / 2;
    return { ok: true, text: `${peer} was killed (SIGKILL)${lost ? '; the village has lost its majority: no leader and no commits until a villager revives' : ''}` };
  }

  async revive(peer: string): Promise<Reply> {
    const bad = this.checkPeer(peer);
    if (bad) return bad;
    const view = this.d.picture.peer(peer);
    if (view?.process === 'up') return { ok: false, text: `${peer} is already up` };
    const wait = this.waitFor(peer, true);
    if (!this.d.sendLauncher({ type: 'revive', peer })) {
      wait.cancel();
      return { ok: false, text: NO_LAUNCHER };
    }
    return (await wait.promise)
      ? { ok: true, text: `${peer} is back up, restarting from its durable state` }
      : { ok: false, text: `asked the launcher to revive ${peer}, but it has not reported ${peer} up yet` };
  }

  /** The launcher reported a process change: wake whoever waits for it. */
  processReported(peer: string, alive: boolean): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.peer === peer && w.alive === alive) {
        this.waiters.splice(i, 1);
        w.done(true);
      }
    }
  }

  private waitFor(peer: string, alive: boolean): { promise: Promise<boolean>; cancel(): void } {
    let entry!: { peer: string; alive: boolean; done: (ok: boolean) => void };
    const promise = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), this.d.launcherWaitMs ?? 3000);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(entry);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(ok);
      };
      entry = { peer, alive, done: finish };
      this.waiters.push(entry);
    });
    return { promise, cancel: () => entry.done(false) };
  }

  // ---- membership ----

  /**
   * join: through the launcher when one may run the peer (it starts the process, then asks the
   * leader); leave, or join of a peer started by hand: asked of the leader directly.
   */
  async membership(op: MembershipOp, peer: string, by: string): Promise<Reply> {
    if (!this.address(peer)) {
      return { ok: false, text: `${peer} is not in raft_peer.ini [peers]; names there: ${this.d.config.peers.map((p) => p.name).join(', ')}` };
    }
    this.d.log(`${op} ${peer} (asked by ${by})`);
    let r: MembershipResult | null;
    const outcome = this.waitForChange(op, peer);
    if (this.d.sendLauncher({ type: op, peer })) {
      r = await outcome.promise;
      if (!r) return { ok: false, text: `asked the launcher to ${op === 'join' ? 'add' : 'remove'} ${peer}, but it has not said how it went yet` };
    } else {
      outcome.cancel();
      r = await (this.d.membership ?? ((o, p) => changeMembership(this.d.config, o, p, { ask: this.clusterNames() })))(op, peer);
    }
    if (!r.ok) return { ok: false, text: `${op} ${peer}: ${r.message}` };
    const text = op === 'join' ? `${peer} joined the cluster (${formatMembership(r.config)})` : `${peer} left the cluster (${formatMembership(r.config)}); it exits by itself`;
    // Every console hears of the change; the one who typed it also gets the reply, so the
    // event line says the new membership rather than repeating the reply word for word.
    this.d.picture.say(`members now: ${formatMembership(r.config)} (${peer} ${op === 'join' ? 'joined' : 'left'})`, 'event');
    return { ok: true, text };
  }

  /** A launcher reported how a join or leave went. */
  membershipReported(r: MembershipResult): void {
    const i = this.changes.findIndex((w) => w.op === r.op && w.peer === r.peer);
    if (i >= 0) this.changes.splice(i, 1)[0]!.done(r);
  }

  private waitForChange(op: MembershipOp, peer: string): { promise: Promise<MembershipResult | null>; cancel(): void } {
    let entry!: { op: MembershipOp; peer: string; done: (r: MembershipResult | null) => void };
    const promise = new Promise<MembershipResult | null>((resolve) => {
      const timer = setTimeout(() => entry.done(null), this.d.membershipWaitMs ?? 40_000);
      entry = {
        op,
        peer,
        done: (r) => {
          clearTimeout(timer);
          const i = this.changes.indexOf(entry);
          if (i >= 0) this.changes.splice(i, 1);
          resolve(r);
        },
      };
      this.changes.push(entry);
    });
    return { promise, cancel: () => entry.done(null) };
  }

  // ---- faults through /admin ----

  async isolate(peer: string): Promise<Reply> {
    const bad = this.checkPeer(peer);
    if (bad) return bad;
    this.isolated.add(peer);
    const failures = await this.pushFaults(false);
    this.d.picture.say(`${peer} is isolated: no messages to or from the others`, 'event');
    return { ok: true, text: `${peer} is isolated from the village${this.unreached(failures)}` };
  }

  async heal(): Promise<Reply> {
    this.isolated.clear();
    const failures = await this.pushFaults(true);
    this.d.picture.say('healed: every fault cleared, the village is whole again', 'event');
    return { ok: true, text: `healed: all faults cleared${this.unreached(failures)}` };
  }

  /** Sends one peer the faults the village wants for it (after it restarted, say). */
  async reapplyFaults(peer: string): Promise<void> {
    if (this.isolated.size === 0) return;
    const addr = this.address(peer);
    if (!addr) return;
    try {
      await this.d.admin(addr, { type: 'faults', blocked: this.blockedFor(peer) });
    } catch (e) {
      this.d.log(`could not restore ${peer}'s isolation: ${(e as Error).message}`);
    }
  }

  private blockedFor(peer: string): string[] {
    const names = this.clusterNames();
    if (this.isolated.has(peer)) return names.filter((n) => n !== peer);
    return names.filter((n) => this.isolated.has(n));
  }

  private async pushFaults(clearAll: boolean): Promise<string[]> {
    const peers = this.cluster();
    const results = await Promise.all(
      peers.map(async (p) => {
        const req: AdminRequest = clearAll ? { type: 'faults', blocked: [], dropRate: 0, latencyMs: 0 } : { type: 'faults', blocked: this.blockedFor(p.name) };
        try {
          const r = await this.d.admin(p, req);
          if (r.type === 'error') return `${p.name} (${r.message})`;
          return null;
        } catch (e) {
          const down = this.d.picture.peer(p.name)?.process === 'down';
          return down ? null : `${p.name} (${(e as Error).message})`;
        }
      }),
    );
    return results.filter((x): x is string => x !== null);
  }

  private unreached(failures: string[]): string {
    return failures.length ? `; could not reach ${failures.join(', ')}` : '';
  }

  async campaign(peer: string): Promise<Reply> {
    const bad = this.checkPeer(peer);
    if (bad) return bad;
    const addr = this.address(peer)!;
    try {
      const r = await this.d.admin(addr, { type: 'campaign' });
      if (r.type === 'error') return { ok: false, text: `${peer} refused: ${r.message}` };
    } catch (e) {
      return { ok: false, text: `could not reach ${peer}: ${(e as Error).message}` };
    }
    this.d.picture.say(`${peer} was told to start an election`, 'event');
    return { ok: true, text: `${peer} starts an election` };
  }

  attacks(on: boolean): Reply {
    for (const a of this.d.monster.setAttacks(on, this.d.now())) this.monsterAction(a);
    this.d.picture.setAttacks(this.d.monster.attacks, this.d.monster.nextAttackAt());
    this.d.picture.say(on ? 'the monster is on the prowl (attacks on)' : 'the monster rests (attacks off)', 'event');
    const next = this.d.monster.nextAttackAt();
    return { ok: true, text: on ? `attacks on${next ? `; next attack in about ${Math.max(0, Math.round((next - this.d.now()) / 1000))} s` : ''}` : 'attacks off', value: on };
  }

  // ---- the monster ----

  /** Time passes for the monster; its actions are carried out here. */
  monsterTick(): void {
    const leader = this.d.picture.leader()?.name ?? null;
    const village = this.d.picture.peerList().map((p) => ({
      name: p.name,
      alive: p.process !== 'down',
      leader: p.name === leader,
      isolated: this.isolated.has(p.name),
    }));
    const canKill = this.d.picture.launcherConnected();
    for (const a of this.d.monster.tick(this.d.now(), village, { canKill })) this.monsterAction(a);
    this.d.picture.setAttacks(this.d.monster.attacks, this.d.monster.nextAttackAt());
  }

  private monsterAction(a: MonsterAction): void {
    const pic = this.d.picture;
    switch (a.type) {
      case 'hunt':
        pic.monster('hunt', a.victim, a.strikeAt);
        pic.say(`the monster is after ${a.victim}${pic.leader()?.name === a.victim ? ', the leader' : ''}`, 'event');
        return;
      case 'strike':
        pic.monster('strike', a.victim);
        pic.say(`the monster strikes ${a.victim}`, 'event');
        if (!this.d.sendLauncher({ type: 'kill', peer: a.victim })) pic.say(`the monster could not kill ${a.victim}: ${NO_LAUNCHER}`, 'error');
        else this.d.log(`monster: kill ${a.victim}`);
        return;
      case 'call_off':
        pic.say(`the monster leaves ${a.victim} alone: ${a.reason}`, 'event');
        return;
      case 'revive':
        if (!pic.launcherConnected()) return;
        if (this.d.sendLauncher({ type: 'revive', peer: a.peer })) {
          pic.say(`${a.peer} rises again`, 'event');
          this.d.log(`revive ${a.peer} (down for ${pic.snapshot().reviveAfterS} s)`);
        }
        return;
    }
  }

  // ---- key-value commands through the client contract ----

  private async kv(command: KvValue[]): Promise<Reply> {
    const peers = this.cluster();
    if (peers.length === 0) return { ok: false, text: 'no peers known yet: start the cluster with -v (npm run cluster -- 5 -v)' };
    const client = this.kvClientFor(peers);
    const before = client.leader() ?? this.d.picture.leader()?.name ?? null;
    let r: CommandResult;
    try {
      r = await client.command(command);
    } catch (e) {
      return { ok: false, text: `${formatKv(command)}: ${(e as Error).message}` };
    }
    const after = client.leader();
    const change = after && after !== before ? ` (new leader: ${after})` : '';
    if (r.ok) return { ok: true, text: `${JSON.stringify(r.value)}${change}`, value: r.value };
    switch (r.error) {
      case 'not_leader':
        return { ok: false, text: `no leader could take ${formatKv(command)}${r.leader ? ` (last known leader: ${r.leader})` : ''}${r.message ? `: ${r.message}` : ''}; nothing was done${change}` };
      case 'bad_command':
        return { ok: false, text: `${r.message}; nothing was done` };
      case 'unknown':
        return { ok: false, text: `outcome unknown for ${formatKv(command)}${r.message ? ` (${r.message})` : ''}: it may or may not have taken effect${change}` };
    }
  }

  private kvClientFor(peers: PeerAddress[]): KvClient {
    const names = peers.map((p) => p.name).join(',');
    if (this.client && this.client.names === names) return this.client.client;
    this.client?.client.close();
    this.client = { names, client: this.d.kvClient(peers) };
    return this.client.client;
  }

  // ---- status ----

  status(): string {
    const pic = this.d.picture;
    const peers = pic.peerList();
    if (peers.length === 0) return 'no peers known yet; start the cluster with -v (npm run cluster -- 5 -v)';
    const leader = pic.leader();
    const up = peers.filter((p) => p.process === 'up').length;
    const lines = [
      `leader: ${leader ? `${leader.name} (term ${leader.term})` : 'none'}; peers up: ${up}/${peers.length}; launcher: ${pic.launcherConnected() ? 'connected' : 'not connected'}`,
    ];
    for (const p of peers) {
      const faults = [this.isolated.has(p.name) ? 'isolated' : p.blocked.length ? `blocks ${p.blocked.join(',')}` : '', p.dropRate ? `drops ${Math.round(p.dropRate * 100)}%` : '', p.latencyMs ? `+${p.latencyMs} ms` : '']
        .filter(Boolean)
        .join(', ');
      lines.push(
        `  ${p.name}: ${p.process === 'down' ? 'DOWN' : p.role} term ${p.term} commit ${p.commitIndex} applied ${p.appliedIndex} last ${p.lastIndex}` +
          `${p.reporting ? '' : ' (not reporting)'}${faults ? ` [${faults}]` : ''}`,
      );
    }
    const c = pic.counterValues();
    const next = this.d.monster.nextAttackAt();
    lines.push(
      `attacks: ${this.d.monster.attacks ? `on${next ? `, next in ${Math.max(0, Math.round((next - this.d.now()) / 1000))} s` : ''}` : 'off'}; ` +
        `elections: ${c.elections}; messages: ${c.messages}; dropped events: ${c.droppedEvents}`,
    );
    return lines.join('\n');
  }

  // ---- helpers ----

  /** The cluster the village shows, as addresses from the ini. */
  cluster(): PeerAddress[] {
    return this.clusterNames()
      .map((n) => this.address(n))
      .filter((p): p is PeerAddress => p !== undefined);
  }

  private clusterNames(): string[] {
    return this.d.picture.names();
  }

  private address(peer: string): PeerAddress | undefined {
    return this.d.config.peers.find((p) => p.name === peer);
  }

  private checkPeer(peer: string): Reply | null {
    const names = this.clusterNames();
    if (names.includes(peer) && this.address(peer)) return null;
    if (names.length === 0) return { ok: false, text: `${peer}: no peers known yet; start the cluster with -v` };
    return { ok: false, text: `${peer} is not in the village; villagers: ${names.join(', ')}` };
  }
}
