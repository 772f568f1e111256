// The village clock: the time a village's peers run on, which the page can pause, slow down and
// step. Pure: real time is always an argument, so the rules below are unit-tested without timers.
//
// Village time starts equal to real time (ms since the epoch) when a peer joins the clock, then
// moves at `speed` times the real pace (0.05..1), and stands still while paused. It never goes
// backwards and never jumps: a pause, a resume or a change of speed only changes the pace from
// that instant on (the clock is rebased at the change), and a step moves it forward by exactly
// the time until the next thing due. The Raft core sees only village time, so a pause of any
// length looks to it like no time at all: no election comes from the pause itself.
//
// Messages on the relay's /peer stream (relay to peer; a peer that never gets one is not on the
// clock and pays nothing) and the `clock` event a peer on the clock reports are below;
// PROTOCOL.md shows them on the wire.

export const MIN_SPEED = 0.05;
export const MAX_SPEED = 1;
/** The speeds `[` and `]` move between (roughly even steps on the log scale). */
export const SPEED_LADDER = [0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1] as const;

export class VirtualClock {
  private baseV: number;
  private baseR: number;
  private rate = 1;
  private stopped = false;
  private last: number;

  constructor(real: number, virtual = real) {
    this.baseV = virtual;
    this.baseR = real;
    this.last = virtual;
  }

  get paused(): boolean {
    return this.stopped;
  }

  get speed(): number {
    return this.rate;
  }

  /** Village time at real time `real`; never less than an earlier answer (a real clock that steps back is ignored). */
  now(real: number): number {
    const v = this.stopped ? this.baseV : this.baseV + Math.max(0, real - this.baseR) * this.rate;
    if (v > this.last) this.last = v;
    return this.last;
  }

  /** Pauses, resumes or changes the speed from `real` on; village time goes on from where it is. */
  set(real: number, change: { paused?: boolean; speed?: number }): void {
    const v = this.now(real);
    this.baseV = v;
    this.baseR = real;
    if (change.paused !== undefined) this.stopped = change.paused;
    if (change.speed !== undefined) this.rate = clampSpeed(change.speed);
  }

  /** Moves a paused clock forward by `ms` of village time (a step); ignored while running. */
  advance(ms: number): void {
    if (!this.stopped || !(ms > 0) || !Number.isFinite(ms)) return;
    this.baseV = this.last + ms;
    this.last = this.baseV;
  }

  /** Moves a paused clock forward to `v` if it is behind it. */
  advanceTo(v: number): void {
    if (v > this.last) this.advance(v - this.last);
  }

  /** Real ms until `virtualMs` of village time have passed: Infinity while paused. */
  realDelay(virtualMs: number): number {
    if (this.stopped) return Infinity;
    return Math.max(0, virtualMs) / this.rate;
  }
}

export function clampSpeed(s: number): number {
  if (!Number.isFinite(s)) return MAX_SPEED;
  return Math.min(MAX_SPEED, Math.max(MIN_SPEED, s));
}

/** A slider position 0..1 on the log scale: 0 is 0.05x, 1 is 1x. */
export function speedAt(position: number): number {
  const p = Math.min(1, Math.max(0, position));
  return clampSpeed(MIN_SPEED * Math.pow(MAX_SPEED / MIN_SPEED, p));
}

/** Where a speed sits on the slider (inverse of speedAt). */
export function positionOf(speed: number): number {
  return Math.log(clampSpeed(speed) / MIN_SPEED) / Math.log(MAX_SPEED / MIN_SPEED);
}

/** The next speed of the ladder above (`]`) or below (`[`) `speed`; stays at the ends. */
export function nudgeSpeed(speed: number, up: boolean): number {
  if (up) return SPEED_LADDER.find((s) => s > speed * 1.001) ?? MAX_SPEED;
  return [...SPEED_LADDER].reverse().find((s) => s < speed * 0.999) ?? MIN_SPEED;
}

/** How a speed is written: `0.25x`. */
export function speedLabel(speed: number): string {
  return `${Number(speed.toFixed(3))}x`;
}

// ---- the wire: relay to peer (on the /peer stream) ----

export type StepTarget = { what: 'letter'; rid: string } | { what: 'timer' };

export type RelayToPeer =
  /** The village's clock now; sent on every connection and every change. Joining is taking the first one. */
  | { type: 'clock'; paused: boolean; speed: number }
  /**
   * A step while paused: every peer moves its clock forward by `advanceMs`; `peer` then
   * delivers the letter `rid` it holds, or fires its timer. `n` numbers the steps.
   */
  | ({ type: 'clock_step'; n: number; advanceMs: number; peer: string } & StepTarget)
  /**
   * Drop while paused: `peer` (the receiver) throws away the letter `rid` it holds, so its core
   * never sees it, and reports it (`rpc_drop`, and `did` for drop `n` in its next `clock` event).
   * Only the receiver is sent one.
   */
  | { type: 'clock_drop'; n: number; peer: string; rid: string };

export function parseRelayToPeer(v: unknown): { ok: true; msg: RelayToPeer } | { ok: false; message: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, message: 'expected a JSON object' };
  const o = v as Record<string, unknown>;
  if (o.type === 'clock') {
    if (typeof o.paused !== 'boolean') return { ok: false, message: 'clock.paused: expected true or false' };
    if (typeof o.speed !== 'number' || !(o.speed >= MIN_SPEED && o.speed <= MAX_SPEED)) return { ok: false, message: `clock.speed: expected a number from ${MIN_SPEED} to ${MAX_SPEED}` };
    return { ok: true, msg: { type: 'clock', paused: o.paused, speed: o.speed } };
  }
  if (o.type === 'clock_step') {
    if (!Number.isSafeInteger(o.n) || (o.n as number) < 0) return { ok: false, message: 'clock_step.n: expected a whole number' };
    if (typeof o.advanceMs !== 'number' || !(o.advanceMs >= 0) || !Number.isFinite(o.advanceMs)) return { ok: false, message: 'clock_step.advanceMs: expected a number >= 0' };
    if (typeof o.peer !== 'string' || o.peer.length === 0 || o.peer.length > 64) return { ok: false, message: 'clock_step.peer: expected a peer name' };
    const base = { type: 'clock_step' as const, n: o.n as number, advanceMs: o.advanceMs, peer: o.peer };
    if (o.what === 'timer') return { ok: true, msg: { ...base, what: 'timer' } };
    if (o.what === 'letter' && typeof o.rid === 'string' && o.rid.length > 0 && o.rid.length <= 80) return { ok: true, msg: { ...base, what: 'letter', rid: o.rid } };
    return { ok: false, message: 'clock_step.what: expected "timer", or "letter" with a rid' };
  }
  if (o.type === 'clock_drop') {
    if (!Number.isSafeInteger(o.n) || (o.n as number) < 0) return { ok: false, message: 'clock_drop.n: expected a whole number' };
    if (typeof o.peer !== 'string' || o.peer.length === 0 || o.peer.length > 64) return { ok: false, message: 'clock_drop.peer: expected a peer name' };
    if (typeof o.rid !== 'string' || o.rid.length === 0 || o.rid.length > 80) return { ok: false, message: 'clock_drop.rid: expected the rid of a held letter' };
    return { ok: true, msg: { type: 'clock_drop', n: o.n as number, peer: o.peer, rid: o.rid } };
  }
  return { ok: false, message: `type: expected clock, clock_step or clock_drop, got ${JSON.stringify(o.type)}` };
}

// ---- the wire: what a peer on the clock reports (a PeerEvent of type `clock`) ----

/** A letter a peer holds: arrived, not yet delivered to its core. */
export interface HeldLetter {
  rid: string;
  from: string;
  rpc: string;
  /** Village ms until it is due (0 or less: due now, waiting for the clock to run). */
  inMs: number;
}

export interface ClockReport {
  paused: boolean;
  speed: number;
  /** Letters held (only while paused; at most MAX_HELD_REPORTED of them, the earliest due). */
  held: HeldLetter[];
  /** Village ms until the core's timer fires; null: no timer. */
  timerInMs: number | null;
  /** The last step this peer carried out (its `n`), if any. */
  step?: number;
  /** What this peer did in that step, for the page: "delivered append_entries from peer1". */
  did?: string;
}

export const MAX_HELD_REPORTED = 200;

// ---- the page's view (part of the picture) ----

export interface ClockView {
  /** Whether the relay offers a clock at all. */
  offered: boolean;
  paused: boolean;
  speed: number;
  /** Who paused (or last changed the clock), as the page should say it: "a visitor", "the console". */
  by: string | null;
  /** Relay wall ms of the last change. */
  at: number | null;
  /** Reporting peers that did not join the clock (they cannot be paused). */
  unclocked: string[];
  /** The last step, said in words ("peer2 delivered append_entries from peer1"). */
  lastStep: string | null;
  /** While paused: the rids of the letters their receivers hold (and so can drop); absent or empty while running. */
  held?: string[];
}

export function defaultClockView(offered: boolean): ClockView {
  return { offered, paused: false, speed: 1, by: null, at: null, unclocked: [], lastStep: null };
}
