// The monster: a nemesis that decides when to attack which villager, and when the dead come
// back. It is a value with no I/O: the clock and the random numbers are passed in, and it
// answers with actions (hunt, strike, call off, revive) for its host to carry out. The relay
// hosts it for the village; the headless chaos tool can host the same brain.
//
// Rules:
// - When attacks are on, every intervalMs (jittered) it picks a living villager, announces the
//   hunt, and walkMs later strikes (the host kills the process).
// - It never takes the village below a majority: at most maxDown villagers unavailable (dead or
//   isolated) at once, counting the victim; by default floor((n-1)/2).
// - It prefers variety (villagers attacked least recently) and sometimes goes for the leader,
//   which is the interesting case: the village must elect a new one.
// - Every villager that is down for reviveAfterMs is revived (0 = never), whoever killed it.
import { mulberry32 } from '../../shared/random.ts';

export interface MonsterVillager {
  name: string;
  /** The process is running. */
  alive: boolean;
  /** The villager currently believes it leads (the highest-term leader). */
  leader: boolean;
  /** Cut off from the others: counts as unavailable for the majority rule. */
  isolated?: boolean;
}

export interface MonsterOptions {
  /** Mean time between attacks. */
  intervalMs: number;
  /** Spread of the interval: each wait is intervalMs * (1 ± jitter). Default 0.3. */
  jitter?: number;
  /** From the hunt to the strike (the monster walking over). Default 2500. */
  walkMs?: number;
  /** A dead villager is revived after this long; 0 = never. */
  reviveAfterMs: number;
  /** Most villagers unavailable at once, given the village size. Default floor((n-1)/2). */
  maxDown?: (villagers: number) => number;
  /** Chance to go for the leader when it is a possible victim. Default 0.3. */
  leaderChance?: number;
  /** When no victim may be taken now, look again after this long. Default min(intervalMs, 3000). */
  retryMs?: number;
  /** Uniform in [0, 1). */
  random: () => number;
}

export type MonsterAction =
  | { type: 'hunt'; victim: string; strikeAt: number }
  | { type: 'strike'; victim: string }
  | { type: 'call_off'; victim: string; reason: string }
  | { type: 'revive'; peer: string };

export interface TickOptions {
  /** Whether the host can kill at all (the relay needs a launcher). Default true. */
  canKill?: boolean;
}

export function majorityMaxDown(villagers: number): number {
  return Math.max(0, Math.floor((villagers - 1) / 2));
}

/** A small seeded generator, so a run can be replayed from its seed. */
export const seededRandom = mulberry32;

export class Monster {
  private readonly intervalMs: number;
  private readonly jitter: number;
  private readonly walkMs: number;
  private readonly reviveAfterMs: number;
  private readonly maxDown: (n: number) => number;
  private readonly leaderChance: number;
  private readonly retryMs: number;
  private readonly random: () => number;

  private on = false;
  private nextAt: number | null = null;
  private hunt: { victim: string; strikeAt: number } | null = null;
  private readonly lastAttacked = new Map<string, number>();
  private readonly downSince = new Map<string, number>();
  private readonly reviveAskedAt = new Map<string, number>();

  constructor(opts: MonsterOptions) {
    if (!(opts.intervalMs > 0)) throw new Error(`monster: intervalMs must be > 0, got ${opts.intervalMs}`);
    this.intervalMs = opts.intervalMs;
    this.jitter = Math.min(Math.max(opts.jitter ?? 0.3, 0), 0.95);
    this.walkMs = Math.max(0, opts.walkMs ?? 2500);
    this.reviveAfterMs = Math.max(0, opts.reviveAfterMs);
    this.maxDown = opts.maxDown ?? majorityMaxDown;
    this.leaderChance = opts.leaderChance ?? 0.3;
    this.retryMs = opts.retryMs ?? Math.min(opts.intervalMs, 3000);
    this.random = opts.random;
  }

  get attacks(): boolean {
    return this.on;
  }

  /** When the next strike is due: the current hunt's strike, else the next attack; null when off. */
  nextAttackAt(): number | null {
    if (!this.on) return null;
    return this.hunt ? this.hunt.strikeAt : this.nextAt;
  }

  hunting(): { victim: string; strikeAt: number } | null {
    return this.hunt ? { ...this.hunt } : null;
  }

  /** Turns attacks on or off. Turning them off calls off a hunt in progress. */
  setAttacks(on: boolean, now: number): MonsterAction[] {
    if (on === this.on) return [];
    this.on = on;
    if (on) {
      this.nextAt = now + this.wait();
      return [];
    }
    this.nextAt = null;
    const h = this.hunt;
    this.hunt = null;
    return h ? [{ type: 'call_off', victim: h.victim, reason: 'attacks stopped' }] : [];
  }

  /** The earliest time at which tick() has something to do (null: nothing planned). */
  nextDeadline(): number | null {
    const times: number[] = [];
    if (this.on && this.hunt) times.push(this.hunt.strikeAt);
    else if (this.on && this.nextAt !== null) times.push(this.nextAt);
    if (this.reviveAfterMs > 0) {
      for (const [name, since] of this.downSince) {
        const asked = this.reviveAskedAt.get(name);
        times.push(asked === undefined ? since + this.reviveAfterMs : asked + this.reviveAfterMs);
      }
    }
    return times.length ? Math.min(...times) : null;
  }

  /** Time passes; `village` is what the host sees now. Returns what to do, in order. */
  tick(now: number, village: readonly MonsterVillager[], opts: TickOptions = {}): MonsterAction[] {
    const canKill = opts.canKill ?? true;
    const out: MonsterAction[] = [];
    this.track(now, village);

    // Revivals, whoever did the killing.
    if (this.reviveAfterMs > 0) {
      for (const v of village) {
        if (v.alive) continue;
        const since = this.downSince.get(v.name) ?? now;
        const asked = this.reviveAskedAt.get(v.name);
        const due = asked === undefined ? since + this.reviveAfterMs : asked + this.reviveAfterMs;
        if (now >= due) {
          this.reviveAskedAt.set(v.name, now);
          out.push({ type: 'revive', peer: v.name });
        }
      }
    }

    if (!this.on) return out;

    // The strike at the end of a hunt: check again, the village may have changed on the way.
    if (this.hunt && now >= this.hunt.strikeAt) {
      const { victim } = this.hunt;
      this.hunt = null;
      this.nextAt = now + this.wait();
      const v = village.find((x) => x.name === victim);
      const reason = !canKill
        ? 'nobody can carry out the kill (no launcher)'
        : !v || !v.alive
          ? `${victim} is already down`
          : v.isolated
            ? `${victim} is isolated`
            : this.unavailable(village) + 1 > this.maxDown(village.length)
              ? 'the village would lose its majority'
              : null;
      if (reason) out.push({ type: 'call_off', victim, reason });
      else {
        this.lastAttacked.set(victim, now);
        out.push({ type: 'strike', victim });
      }
      return out;
    }

    // A new hunt.
    if (!this.hunt && this.nextAt !== null && now >= this.nextAt) {
      const victim = canKill ? this.choose(village) : null;
      if (victim === null) {
        this.nextAt = now + this.retryMs;
      } else {
        this.hunt = { victim, strikeAt: now + this.walkMs };
        out.push({ type: 'hunt', victim, strikeAt: this.hunt.strikeAt });
      }
    }
    return out;
  }

  private track(now: number, village: readonly MonsterVillager[]): void {
    const present = new Set<string>();
    for (const v of village) {
      present.add(v.name);
      if (v.alive) {
        this.downSince.delete(v.name);
        this.reviveAskedAt.delete(v.name);
      } else if (!this.downSince.has(v.name)) {
        this.downSince.set(v.name, now);
      }
    }
    for (const name of [...this.downSince.keys()]) {
      if (!present.has(name)) {
        this.downSince.delete(name);
        this.reviveAskedAt.delete(name);
      }
    }
  }

  private unavailable(village: readonly MonsterVillager[]): number {
    return village.filter((v) => !v.alive || v.isolated).length;
  }

  /** Picks a victim, or null when none may be taken without losing the majority. */
  private choose(village: readonly MonsterVillager[]): string | null {
    if (this.unavailable(village) + 1 > this.maxDown(village.length)) return null;
    const candidates = village.filter((v) => v.alive && !v.isolated);
    if (candidates.length === 0) return null;
    const leader = candidates.find((v) => v.leader);
    const r = this.random();
    if (leader && (r < this.leaderChance || candidates.length === 1)) return leader.name;
    const pool = candidates.filter((v) => v !== leader);
    // Variety: the half attacked least recently (never attacked first), then chance.
    const last = (n: string) => this.lastAttacked.get(n) ?? -Infinity;
    const sorted = [...pool].sort((a, b) => {
      const la = last(a.name);
      const lb = last(b.name);
      return la === lb ? 0 : la < lb ? -1 : 1;
    });
    const k = Math.max(1, Math.ceil(sorted.length / 2));
    const pick = sorted[Math.min(k - 1, Math.floor(this.random() * k))]!;
    return pick.name;
  }

  private wait(): number {
    return Math.round(this.intervalMs * (1 + this.jitter * (2 * this.random() - 1)));
  }
}
