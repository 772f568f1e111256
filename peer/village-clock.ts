// The peer's side of the village clock (shared/village-clock.ts). A peer joins the clock when the
// relay it reports to (-v) offers one (a `clock` message on the /peer stream); until then, and
// for every peer started without -v or reporting to a relay without a clock, `now()` is the real
// monotonic clock and nothing else runs: one branch per call, no event, no timer.
//
// On the clock:
// - the core runs on village time (the shell asks `now()`, and `delay(at)` for its timer: real
//   ms until village time `at`, Infinity while paused, so no timer runs while paused);
// - incoming letters (peer messages) are held here until due: the profile's latency in village
//   time, so a slowed village slows their flight too; while paused none is delivered. At full
//   speed a letter with no latency goes straight through, as without the clock;
// - while paused it reports (a `clock` event) the letters it holds and when its timer is due, so
//   the relay can pick the one thing in the whole village due first and step it;
// - while paused the relay may tell it to drop a letter it holds (`clock_drop`): the letter is
//   thrown away here, reported as dropped, and the core never sees it (Raft retries);
// - if the relay goes away while the village is paused, it resumes by itself after
//   [relay] max_pause_s and says so in its log: a lost relay never freezes a cluster for good.
import type { PeerEnvelope } from '../shared/peer-protocol.ts';
import { MAX_HELD_REPORTED, parseRelayToPeer, VirtualClock, type ClockReport, type HeldLetter, type RelayToPeer } from '../shared/village-clock.ts';

/** The real clock: ms since the epoch, but never going backwards. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface PeerClockDeps {
  /** This peer's name (a step names the peer that carries it out). */
  name: string;
  /** Hands letters to the core (the shell's receive). */
  deliver(envs: PeerEnvelope[]): void;
  /** Reports a held letter thrown away at the relay's word (`rpc_drop` with this peer as `to`); the core never sees it. */
  dropped(env: PeerEnvelope): void;
  /** Fires the core's timer now (a step). */
  fire(): void;
  /** The core's next deadline (village time), Infinity if none. */
  nextDeadline(): number;
  /** The pace or the clock changed: the shell re-arms its timer with delay(). */
  rearm(): void;
  /** Sends a `clock` event to the relay (through the -v reporter). */
  report(body: ClockReport): void;
  log(line: string): void;
  /** [relay] max_pause_s in ms. */
  maxPauseMs: number;
}

interface Held {
  env: PeerEnvelope;
  /** Village time at which it is due. */
  due: number;
}

export class PeerClock {
  /** Null: not on a village clock (the relay offered none). */
  private v: VirtualClock | null = null;
  private held: Held[] = [];
  private letterTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private reportDue = false;
  private lastStep: { n: number; did: string } | null = null;
  private closed = false;

  constructor(private readonly d: PeerClockDeps) {}

  get joined(): boolean {
    return this.v !== null;
  }

  get paused(): boolean {
    return this.v?.paused ?? false;
  }

  /** The core's clock: village time on the clock, else the real one. */
  now(): number {
    return this.v === null ? now() : this.v.now(now());
  }

  /** Real ms until village time `at` (Infinity while paused). */
  delay(at: number): number {
    if (this.v === null) return Math.max(0, at - now());
    if (this.v.paused) this.reportSoon();
    return this.v.realDelay(at - this.now());
  }

  /**
   * Incoming letters that should reach the core after `latencyMs` (village ms). False: not on
   * the clock, the transport delivers them as before.
   */
  hold(envs: PeerEnvelope[], latencyMs: number): boolean {
    const v = this.v;
    if (v === null) return false;
    if (!v.paused && latencyMs <= 0 && this.held.length === 0) return false;
    const due = this.now() + Math.max(0, latencyMs);
    for (const env of envs) this.held.push({ env, due });
    if (v.paused) this.reportSoon();
    else this.scheduleLetters();
    return true;
  }

  /** A frame from the relay on the /peer stream. */
  fromRelay(data: unknown): void {
    const parsed = parseRelayToPeer(data);
    if (!parsed.ok) {
      this.d.log(`village clock: ignored a message from the relay (${parsed.message})`);
      return;
    }
    this.apply(parsed.msg);
  }

  /** The /peer stream opened (true) or closed (false). */
  relayLink(up: boolean): void {
    if (up) {
      if (this.watchdog) clearTimeout(this.watchdog);
      this.watchdog = null;
      if (this.v) this.reportNow();
      return;
    }
    if (!this.v?.paused || this.watchdog || this.closed) return;
    const s = Math.round(this.d.maxPauseMs / 1000);
    this.d.log(`village clock: the relay went away while the village is paused; resuming by myself in ${s} s ([relay] max_pause_s) unless it comes back`);
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      if (!this.v?.paused) return;
      this.d.log(`village clock: resumed by myself: the relay has been gone for ${s} s ([relay] max_pause_s) while the village was paused`);
      this.change({ paused: false });
    }, this.d.maxPauseMs);
    this.watchdog.unref();
  }

  close(): void {
    this.closed = true;
    if (this.letterTimer) clearTimeout(this.letterTimer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.held = [];
  }

  // ---- inside ----

  private apply(msg: RelayToPeer): void {
    if (msg.type === 'clock') {
      if (this.v === null) {
        this.v = new VirtualClock(now());
        this.d.log(`village clock: joined the relay's clock (${msg.paused ? 'paused' : 'running'}, ${msg.speed}x)`);
      }
      if (this.watchdog) clearTimeout(this.watchdog);
      this.watchdog = null;
      const was = { paused: this.v.paused, speed: this.v.speed };
      if (was.paused !== msg.paused || was.speed !== msg.speed) {
        this.d.log(`village clock: ${msg.paused ? 'paused' : was.paused ? 'resumed' : 'running'} at ${msg.speed}x`);
      }
      this.change({ paused: msg.paused, speed: msg.speed });
      return;
    }
    const v = this.v;
    if (v === null || !v.paused) return;
    if (msg.type === 'clock_drop') {
      if (msg.peer !== this.d.name) return;
      this.drop(msg.n, msg.rid);
      return;
    }
    // A step: everyone's time moves on to the thing due first; its peer carries it out.
    v.advance(msg.advanceMs);
    if (msg.peer !== this.d.name) {
      this.reportNow();
      return;
    }
    let did: string;
    if (msg.what === 'timer') {
      const at = this.d.nextDeadline();
      if (Number.isFinite(at)) v.advanceTo(at);
      did = 'fired its timer';
      this.lastStep = { n: msg.n, did };
      this.d.fire();
    } else {
      const i = this.held.findIndex((h) => h.env.rid === msg.rid);
      if (i < 0) {
        did = `had no letter ${msg.rid} (already delivered)`;
        this.lastStep = { n: msg.n, did };
      } else {
        const [h] = this.held.splice(i, 1);
        v.advanceTo(h!.due);
        did = `delivered ${h!.env.type} from ${h!.env.from}`;
        this.lastStep = { n: msg.n, did };
        this.d.deliver([h!.env]);
      }
    }
    this.reportNow();
  }

  private drop(n: number, rid: string): void {
    const i = this.held.findIndex((h) => h.env.rid === rid);
    if (i < 0) {
      this.lastStep = { n, did: `had no letter ${rid} to drop (already delivered)` };
    } else {
      const [h] = this.held.splice(i, 1);
      this.lastStep = { n, did: `dropped ${h!.env.type} from ${h!.env.from}` };
      this.d.log(`village clock: dropped ${h!.env.type} ${rid} from ${h!.env.from} unread, as the relay asked`);
      this.d.dropped(h!.env);
    }
    this.reportNow();
  }

  private change(c: { paused?: boolean; speed?: number }): void {
    const v = this.v!;
    v.set(now(), c);
    if (v.paused) {
      if (this.letterTimer) clearTimeout(this.letterTimer);
      this.letterTimer = null;
    } else {
      this.deliverDue();
    }
    this.d.rearm();
    this.reportNow();
  }

  private scheduleLetters(): void {
    if (this.letterTimer) clearTimeout(this.letterTimer);
    this.letterTimer = null;
    const v = this.v;
    if (v === null || v.paused || this.held.length === 0 || this.closed) return;
    let first = Infinity;
    for (const h of this.held) if (h.due < first) first = h.due;
    this.letterTimer = setTimeout(() => {
      this.letterTimer = null;
      this.deliverDue();
    }, v.realDelay(first - this.now()));
  }

  /** Delivers, in arrival order, the letters due by now; schedules the rest. */
  private deliverDue(): void {
    if (this.closed || this.v === null || this.v.paused) return;
    const t = this.now();
    const due: PeerEnvelope[] = [];
    const rest: Held[] = [];
    for (const h of this.held) {
      if (h.due <= t) due.push(h.env);
      else rest.push(h);
    }
    this.held = rest;
    if (due.length > 0) this.d.deliver(due);
    this.scheduleLetters();
  }

  private reportSoon(): void {
    if (this.reportDue) return;
    this.reportDue = true;
    setImmediate(() => {
      if (this.reportDue) this.reportNow();
    });
  }

  private reportNow(): void {
    this.reportDue = false;
    const v = this.v;
    if (v === null || this.closed) return;
    const t = this.now();
    const held: HeldLetter[] = [];
    if (v.paused) {
      const sorted = [...this.held].sort((a, b) => a.due - b.due).slice(0, MAX_HELD_REPORTED);
      for (const h of sorted) held.push({ rid: h.env.rid, from: h.env.from, rpc: h.env.type, inMs: Math.round((h.due - t) * 1000) / 1000 });
    }
    const at = this.d.nextDeadline();
    const body: ClockReport = { paused: v.paused, speed: v.speed, held, timerInMs: Number.isFinite(at) ? Math.round((at - t) * 1000) / 1000 : null };
    if (this.lastStep) {
      body.step = this.lastStep.n;
      body.did = this.lastStep.did;
    }
    this.d.report(body);
  }
}
