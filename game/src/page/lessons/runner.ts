// Runs one lesson on the live cluster. A lesson is a script of small async steps written
// against LessonContext: act (a real action through the relay), waitFor (a predicate over the
// page's model and the journal of events, checked on every change, never a sleep; the claim it
// waits to prove fails the lesson when it does not come true in time), caption (text with the
// section of the paper or dissertation it cites), claim (a caption that must be true now), and
// pause (Continue). Leaving a lesson midway undoes what it did: partitions are healed, the
// villagers it killed are revived, the monster's attacks are switched back on if they were.
import type { PeerEvent } from '../../../../shared/events.ts';
import type { LessonRequest } from '../../../../shared/village.ts';
import type { Villager, VillageModel } from '../../model.ts';
import type { Actions } from '../actions.ts';
import type { Reply } from '../connection.ts';
import { Journal } from './journal.ts';

export type LessonAction =
  | { kind: 'kill' | 'revive' | 'isolate' | 'campaign'; peer: string }
  | { kind: 'heal' }
  | { kind: 'attacks'; on: boolean }
  /** A line for the web console, as a person would type it. */
  | { kind: 'console'; line: string }
  /** One villager's own key-value store (game/relay/lessons.ts). */
  | { kind: 'peek'; peer: string }
  /** One client-contract command to one villager (game/relay/lessons.ts). */
  | { kind: 'request'; peer: string; command: string[]; client?: string; seq?: number; timeoutMs?: number; cutOff?: string[] };

export interface Caption {
  text: string;
  /** "§5.2" (the paper), "dissertation §9.6". */
  cite: string;
}

export interface LessonContext {
  readonly model: VillageModel;
  readonly journal: Journal;
  /** Sends a real action through the relay; a refused action (not ok) fails the lesson, except `request` and `peek`, whose reply is the lesson's to read. */
  act(action: LessonAction): Promise<Reply>;
  /** Resolves with the predicate's first non-empty value; checked now and on every change of the model. */
  waitFor<T>(probe: () => T | null | undefined | false, claim: string, timeoutMs?: number): Promise<T>;
  caption(text: string, cite?: string): void;
  /** A caption whose claim must hold now; if it does not, the lesson fails with it. */
  claim(holds: boolean, text: string, cite?: string): void;
  /** Shows Continue and holds the script until it is pressed (at once in check mode). */
  pause(): Promise<void>;
  /** The cluster did something the script cannot teach from (said in `why`): offer to run the lesson again. */
  retry(why: string): never;
  /** Checks every waitFor again (after something outside the model changed, e.g. a reply came). */
  recheck(): void;
  /** How long a wait may take in this village: generous, scaled to its election timeout. */
  readonly patience: number;
}

export interface Lesson {
  id: string;
  title: string;
  cite: string;
  run(ctx: LessonContext): Promise<void>;
}

/** A claim the events did not bear out: the lesson fails with it. */
export class ClaimFailed extends Error {}
/** The cluster went another way than the script can teach from; the lesson may be run again. */
export class RetryLesson extends Error {}
/** The person left the lesson. */
export class LessonLeft extends Error {}

export interface LessonView {
  /** A lesson starts (attempt 1, 2, ...). */
  started(lesson: Lesson, attempt: number): void;
  caption(c: Caption): void;
  /** Shows Continue; resolves when pressed. */
  waitContinue(): Promise<void>;
  /** The lesson cannot go on as scripted: resolves true to run it again, false to leave. */
  offerRetry(why: string): Promise<boolean>;
  finished(lesson: Lesson, outcome: LessonOutcome): void;
}

export type LessonOutcome = { ok: true; attempts: number } | { ok: false; attempts: number; claim: string; left?: boolean };

export interface RunnerDeps {
  model: VillageModel;
  actions: Actions;
  /** Sends a lesson request to the relay (RelayConnection.send). */
  send(cmd: LessonRequest): Promise<Reply>;
  view: LessonView;
  /** Check mode: Continue is pressed at once, and a retry is taken (up to maxAttempts). */
  check: boolean;
  maxAttempts?: number;
  now?: () => number;
  /**
   * The village clock, when the relay offers one: a lesson's pause also pauses the village (the
   * letters stay in the air while the caption is read) and Continue resumes it. `pause` resolves
   * true only if this call paused it (a village someone else paused stays as it was).
   */
  clock?: { pause(): Promise<boolean>; resume(): Promise<void> };
}

export class LessonRunner {
  readonly journal = new Journal();
  private current: Attempt | null = null;

  constructor(private readonly d: RunnerDeps) {
    d.model.watchers.add({ event: (ev: PeerEvent, at: number) => this.journal.add(ev, at), changed: () => this.current?.recheck() });
  }

  get running(): boolean {
    return this.current !== null;
  }

  /** Leaves the lesson being run (its faults are undone before run() resolves). */
  leave(): void {
    this.current?.abort();
  }

  /** Runs a lesson to its end (or until left); tries again when the cluster went another way, if the view (or check mode) says so. */
  async run(lesson: Lesson): Promise<LessonOutcome> {
    if (this.current) throw new Error('a lesson is already running');
    const max = this.d.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      this.d.view.started(lesson, attempt);
      const a = new Attempt(this.d, this.journal);
      this.current = a;
      let outcome: LessonOutcome | 'retry';
      let why = '';
      try {
        await a.prepare();
        await lesson.run(a);
        outcome = { ok: true, attempts: attempt };
      } catch (e) {
        if (e instanceof RetryLesson) {
          outcome = 'retry';
          why = e.message;
        } else if (e instanceof LessonLeft) outcome = { ok: false, attempts: attempt, claim: 'left before the end', left: true };
        else if (e instanceof ClaimFailed) outcome = { ok: false, attempts: attempt, claim: e.message };
        else outcome = { ok: false, attempts: attempt, claim: `the lesson broke: ${(e as Error).message}` };
      } finally {
        await a.undo();
        this.current = null;
      }
      if (outcome !== 'retry') {
        this.d.view.finished(lesson, outcome);
        return outcome;
      }
      const again = this.d.check ? attempt < max : await this.d.view.offerRetry(why);
      if (!again) {
        const o: LessonOutcome = { ok: false, attempts: attempt, claim: `the cluster went another way ${attempt} times; last: ${why}` };
        this.d.view.finished(lesson, o);
        return o;
      }
    }
  }
}

interface Waiter {
  check(): void;
}

/** One run of one lesson: the LessonContext, and what to undo afterwards. */
class Attempt implements LessonContext {
  readonly model: VillageModel;
  readonly patience: number;
  private readonly waiters = new Set<Waiter>();
  private aborted = false;
  private abortHooks = new Set<() => void>();
  private readonly killed = new Set<string>();
  private faults = false;
  private attacksWereOn = false;

  constructor(
    private readonly d: RunnerDeps,
    readonly journal: Journal,
  ) {
    this.model = d.model;
    const electionMax = d.model.timing?.electionMaxMs ?? 7500;
    const latency = d.model.timing?.latencyMs ?? 0;
    this.patience = Math.max(30_000, 25 * electionMax + 40 * latency);
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  /** Before the first step: the monster rests, and the village is whole with a leader. */
  async prepare(): Promise<void> {
    if (this.model.attacks) {
      this.attacksWereOn = true;
      await this.act({ kind: 'attacks', on: false });
    }
    const down = [...this.model.peers.values()].filter((p) => p.process === 'down').map((p) => p.name);
    for (const p of down) await this.act({ kind: 'revive', peer: p });
    if (this.model.names().some((n) => this.model.peers.get(n)!.blocked.length > 0)) await this.act({ kind: 'heal' });
    this.killed.clear();
    this.faults = false;
    await this.waitFor(() => settledLeader(this.model), 'the village is whole and follows one leader', this.patience);
  }

  async act(a: LessonAction): Promise<Reply> {
    this.live();
    let r: Reply;
    switch (a.kind) {
      case 'kill':
        r = await this.d.actions.kill(a.peer);
        if (r.ok) this.killed.add(a.peer);
        break;
      case 'revive':
        r = await this.d.actions.revive(a.peer);
        if (r.ok) this.killed.delete(a.peer);
        break;
      case 'isolate':
        this.faults = true;
        r = await this.d.actions.isolate(a.peer);
        break;
      case 'heal':
        r = await this.d.actions.heal();
        if (r.ok) this.faults = false;
        break;
      case 'campaign':
        r = await this.d.actions.campaign(a.peer);
        break;
      case 'attacks':
        r = await this.d.actions.setAttacks(a.on);
        break;
      case 'console':
        r = await this.d.actions.consoleLine(a.line);
        this.live();
        return r;
      case 'peek':
        r = await this.d.send({ type: 'lesson', op: 'peek', peer: a.peer });
        this.live();
        return r;
      case 'request': {
        const { kind: _k, ...rest } = a;
        if (a.cutOff?.length) this.faults = true;
        r = await this.d.send({ type: 'lesson', op: 'request', ...rest });
        this.live();
        if (r.local) throw new RetryLesson(`the relay did not answer "${describe(a)}" (${r.text})`);
        return r;
      }
    }
    this.live();
    if (r.ok) return r;
    // Someone else (the monster's reviver, a person) got there first: the village is as asked.
    const peer = 'peer' in a ? this.model.peers.get(a.peer) : undefined;
    if (a.kind === 'revive' && / is already up/.test(r.text) && peer) return r;
    if (a.kind === 'kill' && / is already down/.test(r.text) && peer) return r;
    // The page or the relay could not carry it out in time (a loaded machine): not a claim of the lesson.
    if (r.local) throw new RetryLesson(`the relay did not answer "${describe(a)}" (${r.text})`);
    throw new ClaimFailed(`the village refused "${describe(a)}": ${r.text}`);
  }

  waitFor<T>(probe: () => T | null | undefined | false, claim: string, timeoutMs?: number): Promise<T> {
    this.live();
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const done = () => {
        this.waiters.delete(w);
        this.abortHooks.delete(onAbort);
        if (timer) clearTimeout(timer);
      };
      const onAbort = () => {
        done();
        reject(new LessonLeft('left'));
      };
      const w: Waiter = {
        check: () => {
          let v: T | null | undefined | false;
          try {
            v = probe();
          } catch (e) {
            done();
            reject(e);
            return;
          }
          if (v !== null && v !== undefined && v !== false) {
            done();
            resolve(v);
          }
        },
      };
      this.waiters.add(w);
      this.abortHooks.add(onAbort);
      const ms = timeoutMs ?? this.patience;
      // The deadline of a claim, not a delay: the script moves on only when the model shows it.
      timer = setTimeout(() => {
        done();
        reject(new ClaimFailed(`${claim} (not seen within ${Math.round(ms / 1000)} s)`));
      }, ms);
      w.check();
    });
  }

  recheck(): void {
    for (const w of [...this.waiters]) w.check();
  }

  caption(text: string, cite = ''): void {
    this.live();
    this.d.view.caption({ text, cite });
  }

  claim(holds: boolean, text: string, cite = ''): void {
    if (!holds) throw new ClaimFailed(text);
    this.caption(text, cite);
  }

  /**
   * The one place a lesson holds still: the script waits at Continue, and the village clock (when
   * the relay offers one) is paused meanwhile and resumed on Continue, or when the lesson is left.
   */
  async pause(): Promise<void> {
    this.live();
    if (this.d.check) return;
    const clock = this.d.clock;
    const paused = clock ? await clock.pause() : false;
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new LessonLeft('left'));
        this.abortHooks.add(onAbort);
        void this.d.view.waitContinue().then(() => {
          this.abortHooks.delete(onAbort);
          resolve();
        });
      });
    } finally {
      if (paused) await clock!.resume();
    }
    this.live();
  }

  retry(why: string): never {
    throw new RetryLesson(why);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const h of [...this.abortHooks]) h();
  }

  /** Undoes the lesson's faults and kills, and gives the monster back its attacks. */
  async undo(): Promise<void> {
    this.aborted = false;
    this.abortHooks.clear();
    this.waiters.clear();
    try {
      if (this.faults || this.model.names().some((n) => this.model.peers.get(n)!.blocked.length > 0)) await this.d.actions.heal();
      for (const p of this.killed) if (this.model.peers.get(p)?.process === 'down') await this.d.actions.revive(p);
      if (this.attacksWereOn) await this.d.actions.setAttacks(true);
    } catch {
      // The actions write their failures to the console; nothing more to do here.
    }
    this.killed.clear();
  }

  private live(): void {
    if (this.aborted) throw new LessonLeft('left');
  }

  /** Local ms, for lessons that must say how long something took. */
  get clock(): number {
    return this.now();
  }
}

function describe(a: LessonAction): string {
  switch (a.kind) {
    case 'heal':
      return 'heal';
    case 'attacks':
      return `attacks ${a.on ? 'on' : 'off'}`;
    case 'console':
      return a.line;
    case 'request':
      return `${a.command.join(' ')} to ${a.peer}`;
    default:
      return `${a.kind} ${a.peer}`;
  }
}

/** Living villagers that report to the relay. */
export function living(model: VillageModel): Villager[] {
  return [...model.peers.values()].filter((p) => p.process !== 'down' && p.reporting);
}

export function majority(model: VillageModel): number {
  return Math.floor(model.peers.size / 2) + 1;
}

/**
 * The leader, once every living villager is in its term and follows it (and no villager is
 * cut off); null before. Lessons start from here, so every claim begins from a calm village.
 */
export function settledLeader(model: VillageModel): Villager | null {
  if (!model.hasPicture) return null;
  const l = model.leader();
  if (!l) return null;
  const all = [...model.peers.values()];
  if (all.some((p) => p.process === 'down' || !p.reporting || p.blocked.length > 0)) return null;
  return all.every((p) => p === l || (p.role === 'follower' && p.term === l.term && p.leader === l.name)) ? l : null;
}

/** A living leader, other than the ones named, in a term above `above`; null before there is one. */
export function newLeader(model: VillageModel, above: number, except: readonly string[] = []): Villager | null {
  for (const p of living(model)) if (p.role === 'leader' && p.term > above && !except.includes(p.name)) return p;
  return null;
}

/** The tile at an index in a villager's log, as the model holds it. */
export function tile(model: VillageModel, peer: string, index: number): { index: number; term: number; label: string } | null {
  const p = model.peers.get(peer);
  return p ? model.tileAt(p, index) : null;
}

/** A command result (the client contract) from a lesson request's reply, or null. */
export function commandResult(r: Reply): { ok: boolean; value?: unknown; index?: number; term?: number; error?: string; leader?: string | null } | null {
  const v = r.value as Record<string, unknown> | undefined;
  if (!r.ok || !v || typeof v !== 'object' || v.type !== 'command_result') return null;
  return v as { ok: boolean; value?: unknown; index?: number; term?: number; error?: string; leader?: string | null };
}
