// The chaos run's nemesis: decides which failure to cause when, from a seed. Like the relay's
// monster (game/relay/monster.ts) it is a value with no I/O: the clock and the random numbers
// are passed in, and it answers with actions for its host to carry out on real processes.
//
// Two sources of trouble run side by side:
// - The village's own monster, hosted headless: every so often it SIGKILLs a villager (now and
//   then the leader), never taking the cluster below a majority, and revives the dead after a
//   while (restart from their durable state).
// - A schedule of deliberate faults, one at a time, each for a while and then healed, taken in
//   a seeded shuffled cycle so that a short run sees every kind:
//     kill-leader   SIGKILL the current leader on purpose; restart it when the fault ends
//     isolate       cut one peer (the leader half the time) off from all others
//     split         a majority/minority partition (the leader in the minority half the time)
//     pause         SIGSTOP one peer (the leader half the time), SIGCONT at the end: a process
//                   that is alive but silent, then wakes up believing it is still in charge
//     lossy         every peer drops a share of its messages and delays the rest
//   A fault that would leave fewer than a majority available waits until it would not.
import { majorityMaxDown, Monster, type MonsterVillager } from '../../game/relay/monster.ts';

export type FaultKind = 'kill-leader' | 'isolate' | 'split' | 'pause' | 'lossy';
export const FAULT_KINDS: readonly FaultKind[] = ['kill-leader', 'isolate', 'split', 'pause', 'lossy'];

export type NemesisAction =
  | { type: 'kill'; peer: string; leader: boolean; by: 'monster' | 'schedule' }
  | { type: 'restart'; peer: string }
  | { type: 'partition'; kind: 'isolate' | 'split'; groups: string[][]; leaderCutOff: boolean }
  | { type: 'lossy'; dropRate: number; latencyMs: number }
  | { type: 'heal' }
  | { type: 'pause'; peer: string; leader: boolean }
  | { type: 'resume'; peer: string };

/** What the host sees of a peer now. */
export interface PeerView {
  name: string;
  /** The process is running (paused or not). */
  alive: boolean;
  /** Stopped with SIGSTOP. */
  paused: boolean;
  /** The peer the cluster follows now (highest term), as far as the host knows. */
  leader: boolean;
}

export interface NemesisOptions {
  peers: string[];
  /** Uniform in [0, 1); seeded for a replayable schedule. */
  random: () => number;
  /** Mean pause between the end of one scheduled fault and the start of the next. */
  gapMs?: number;
  /** Mean length of a scheduled fault. */
  faultMs?: number;
  /** Mean time between the monster's kills (0: no monster). */
  monsterEveryMs?: number;
  /** A peer the monster killed is restarted after this long. */
  reviveAfterMs?: number;
  /** The kinds of scheduled faults (default: all). */
  kinds?: readonly FaultKind[];
}

/** A counter per kind of event, for the report. */
export type NemesisCounts = Record<string, number>;

interface ActiveFault {
  kind: FaultKind;
  until: number;
  peer?: string;
}

export class Nemesis {
  private readonly peers: string[];
  private readonly random: () => number;
  private readonly gapMs: number;
  private readonly faultMs: number;
  private readonly kinds: readonly FaultKind[];
  private readonly monster: Monster | null;
  private cycle: FaultKind[] = [];
  private active: ActiveFault | null = null;
  private nextFaultAt: number;
  /** Peers on the far side of the current partition (unavailable to the majority). */
  private cutOff = new Set<string>();
  private stopped = false;
  readonly counts: NemesisCounts = {};

  constructor(opts: NemesisOptions, now: number) {
    if (opts.peers.length < 3) throw new Error(`the nemesis needs at least 3 peers, got ${opts.peers.length}`);
    this.peers = [...opts.peers];
    this.random = opts.random;
    this.gapMs = opts.gapMs ?? 1500;
    this.faultMs = opts.faultMs ?? 3000;
    this.kinds = opts.kinds ?? FAULT_KINDS;
    this.nextFaultAt = now + this.jitter(this.gapMs);
    const every = opts.monsterEveryMs ?? 8000;
    this.monster =
      every > 0
        ? new Monster({ intervalMs: every, walkMs: 0, reviveAfterMs: opts.reviveAfterMs ?? 2000, leaderChance: 0.3, random: opts.random, retryMs: 500 })
        : null;
    this.monster?.setAttacks(true, now);
  }

  /** Time passes; `view` is what the host sees now. Returns what to do, in order. */
  tick(now: number, view: readonly PeerView[]): NemesisAction[] {
    if (this.stopped) return [];
    const out: NemesisAction[] = [];
    const isLeader = (name: string) => view.find((v) => v.name === name)?.leader ?? false;

    if (this.monster) {
      const villagers: MonsterVillager[] = view.map((v) => ({
        name: v.name,
        alive: v.alive,
        leader: v.leader,
        // A peer paused, cut off, or dead for a scheduled fault is unavailable too.
        isolated: v.paused || this.cutOff.has(v.name) || (this.active?.kind === 'kill-leader' && this.active.peer === v.name),
      }));
      for (const a of this.monster.tick(now, villagers)) {
        if (a.type === 'strike') out.push(this.count({ type: 'kill', peer: a.victim, leader: isLeader(a.victim), by: 'monster' }));
        // The scheduled leader kill restarts its own victim when it ends.
        else if (a.type === 'revive' && !(this.active?.kind === 'kill-leader' && this.active.peer === a.peer)) {
          out.push(this.count({ type: 'restart', peer: a.peer }));
        }
      }
    }

    if (this.active && now >= this.active.until) {
      out.push(...this.end(this.active, view));
      this.active = null;
      this.nextFaultAt = now + this.jitter(this.gapMs);
    }
    if (!this.active && now >= this.nextFaultAt) {
      const kind = this.peekKind();
      const started = this.begin(kind, now, view);
      if (started) {
        this.cycle.shift();
        out.push(...started);
      } else {
        this.nextFaultAt = now + 250; // not possible now (a majority would be lost): soon again
      }
    }
    return out;
  }

  /** Ends every fault: resume, heal, restart the dead. No more actions after this. */
  stop(view: readonly PeerView[]): NemesisAction[] {
    this.stopped = true;
    const out: NemesisAction[] = [];
    for (const v of view) if (v.paused) out.push(this.count({ type: 'resume', peer: v.name }));
    out.push(this.count({ type: 'heal' }));
    this.cutOff.clear();
    this.active = null;
    for (const v of view) if (!v.alive) out.push(this.count({ type: 'restart', peer: v.name }));
    return out;
  }

  /** The kind of the fault in progress, with its victim. */
  current(): { kind: FaultKind; peer?: string } | null {
    return this.active ? { kind: this.active.kind, ...(this.active.peer ? { peer: this.active.peer } : {}) } : null;
  }

  private peekKind(): FaultKind {
    if (this.cycle.length === 0) {
      const c = [...this.kinds];
      for (let i = c.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [c[i], c[j]] = [c[j]!, c[i]!];
      }
      this.cycle = c;
    }
    return this.cycle[0]!;
  }

  private begin(kind: FaultKind, now: number, view: readonly PeerView[]): NemesisAction[] | null {
    const n = this.peers.length;
    const maxDown = majorityMaxDown(n);
    const down = view.filter((v) => !v.alive || v.paused).length;
    const up = view.filter((v) => v.alive && !v.paused);
    const leader = up.find((v) => v.leader);
    const until = now + this.jitter(this.faultMs);
    const pickVictim = (): PeerView | undefined => (leader && this.random() < 0.5 ? leader : up[Math.floor(this.random() * up.length)]);
    switch (kind) {
      case 'kill-leader': {
        if (!leader || down + 1 > maxDown) return null;
        this.active = { kind, until, peer: leader.name };
        return [this.count({ type: 'kill', peer: leader.name, leader: true, by: 'schedule' })];
      }
      case 'isolate': {
        const victim = pickVictim();
        if (!victim || down + 1 > maxDown) return null;
        const groups = [[victim.name], this.peers.filter((p) => p !== victim.name)];
        this.cutOff = new Set([victim.name]);
        this.active = { kind, until, peer: victim.name };
        return [this.count({ type: 'partition', kind: 'isolate', groups, leaderCutOff: victim.leader })];
      }
      case 'split': {
        // A minority of floor((n-1)/2) peers, for 3 peers one: the leader in it half the time.
        const size = maxDown;
        if (down + size > maxDown || up.length < n) return null;
        const pool = this.shuffle(this.peers.filter((p) => p !== leader?.name));
        const minority = leader && this.random() < 0.5 ? [leader.name, ...pool.slice(0, size - 1)] : pool.slice(0, size);
        const majority = this.peers.filter((p) => !minority.includes(p));
        this.cutOff = new Set(minority);
        this.active = { kind, until };
        return [this.count({ type: 'partition', kind: 'split', groups: [minority, majority], leaderCutOff: !!leader && minority.includes(leader.name) })];
      }
      case 'pause': {
        const victim = pickVictim();
        if (!victim || down + 1 > maxDown) return null;
        this.active = { kind, until, peer: victim.name };
        return [this.count({ type: 'pause', peer: victim.name, leader: victim.leader })];
      }
      case 'lossy': {
        this.active = { kind, until };
        const dropRate = Math.round((0.05 + this.random() * 0.25) * 100) / 100;
        const latencyMs = Math.floor(this.random() * 30);
        return [this.count({ type: 'lossy', dropRate, latencyMs })];
      }
    }
  }

  private end(f: ActiveFault, view: readonly PeerView[]): NemesisAction[] {
    switch (f.kind) {
      case 'kill-leader': {
        const v = view.find((x) => x.name === f.peer);
        return v && !v.alive ? [this.count({ type: 'restart', peer: f.peer! })] : [];
      }
      case 'isolate':
      case 'split':
        this.cutOff.clear();
        return [this.count({ type: 'heal' })];
      case 'pause':
        return [this.count({ type: 'resume', peer: f.peer! })];
      case 'lossy':
        return [this.count({ type: 'heal' })];
    }
  }

  /** Counts an action under its kind (kill-leader for a kill of the leader). */
  private count<A extends NemesisAction>(a: A): A {
    const kinds: string[] = [];
    switch (a.type) {
      case 'kill':
        kinds.push('kill');
        if (a.leader) kinds.push('kill-leader');
        break;
      case 'partition':
        kinds.push('partition', a.kind);
        break;
      case 'pause':
        kinds.push('pause');
        if (a.leader) kinds.push('pause-leader');
        break;
      default:
        kinds.push(a.type);
    }
    for (const k of kinds) this.counts[k] = (this.counts[k] ?? 0) + 1;
    return a;
  }

  private shuffle<T>(xs: T[]): T[] {
    const c = [...xs];
    for (let i = c.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [c[i], c[j]] = [c[j]!, c[i]!];
    }
    return c;
  }

  private jitter(ms: number): number {
    return Math.round(ms * (0.6 + 0.8 * this.random()));
  }
}

/** One line for an action: "kill peer2 (the leader)", "split peer1,peer3 | peer2,peer4,peer5". */
export function describeAction(a: NemesisAction): string {
  switch (a.type) {
    case 'kill':
      return `SIGKILL ${a.peer}${a.leader ? ' (the leader)' : ''}${a.by === 'monster' ? ' [monster]' : ''}`;
    case 'restart':
      return `restart ${a.peer}`;
    case 'partition':
      return `${a.kind} ${a.groups.map((g) => g.join(',')).join(' | ')}${a.leaderCutOff ? ' (leader cut off)' : ''}`;
    case 'lossy':
      return `lossy network: drop ${Math.round(a.dropRate * 100)}%, +${a.latencyMs} ms`;
    case 'heal':
      return 'heal the network';
    case 'pause':
      return `SIGSTOP ${a.peer}${a.leader ? ' (the leader)' : ''}`;
    case 'resume':
      return `SIGCONT ${a.peer}`;
  }
}
