// The village clock, relay side: one clock for the whole village, steered from every open page.
//
// The relay offers the clock to each peer that starts reporting (a `clock` message on its /peer
// stream: paused or not, the speed); a peer that takes it answers with `clock` events (what it
// holds while paused, and when its timer is due, both in village ms from now). A peer that has
// not answered within JOIN_WAIT_MS is listed as one that cannot be paused (an older build, or a
// relay it does not take orders from), and every page says so.
//
// Step: the relay is the one place that sees what every peer holds, so it orders the village.
// While paused, it picks the single earliest thing due in the whole village (a held letter, or a
// peer's timer; ties: letters first, then by name), tells every peer to move its clock forward
// by that much village time, and tells that one peer to deliver the letter or fire the timer.
// Steps run one at a time: each waits for its peer's report of what it did (and a short settle
// for the letters that step sent to be reported by their receivers) before the next is picked.
//
// Drop: while paused, a page may ask for a held letter to be dropped. The relay tells only the
// peer that holds it (`clock_drop`); that peer throws it away unread (its core never sees it),
// reports the drop (`rpc_drop`, to = itself) and says it did. The view lists the held rids, so a
// page offers Drop only for a letter its receiver holds.
//
// The console's key-value commands go through `wrapClient`: typed while paused, a command waits
// at the relay (the console says so) and goes to the cluster when the village resumes, so none of
// its time-outs runs while time stands still; a command already under way whose answer did not
// come because the village was paused meanwhile says exactly that.
import type { CommandResult } from '../../shared/client-protocol.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { clampSpeed, defaultClockView, speedLabel, type ClockReport, type ClockView, type RelayToPeer } from '../../shared/village-clock.ts';
import type { BrowserToRelay } from '../../shared/village.ts';
import type { KvClient, Reply } from './control.ts';
import type { Picture } from './picture.ts';

/** How long a peer that starts reporting has to take the clock before it is listed as unpausable. */
export const JOIN_WAIT_MS = 3000;
/** How long a step waits for its peer to say what it did. */
const STEP_ANSWER_MS = 1500;
/** Before picking the next step: time for the letters of the last one to reach their receivers and be reported. */
const SETTLE_MS = 80;

export interface RelayClockDeps {
  /** Whether this relay offers a clock (`--clock off`: no peer is ever told about one). */
  offered: boolean;
  picture: Pick<Picture, 'setClock' | 'say'>;
  /** Sends a frame on a peer's /peer stream; false if it has none. */
  sendPeer(peer: string, text: string): boolean;
  /** Peers with a /peer stream now. */
  streams(): string[];
  now(): number;
  log(line: string): void;
  joinWaitMs?: number;
}

type ClockMessage = BrowserToRelay & { type: 'clock' };

interface Candidate {
  peer: string;
  what: 'letter' | 'timer';
  rid?: string;
  inMs: number;
  label: string;
}

export class RelayClock {
  private view: ClockView;
  private readonly reports = new Map<string, ClockReport>();
  private readonly joinTimers = new Map<string, NodeJS.Timeout>();
  private readonly unclocked = new Set<string>();
  private n = 0;
  private steps: Promise<unknown> = Promise.resolve();
  private readonly stepWaiters = new Map<number, { peer: string; done: (did: string | null) => void }>();
  private resumeWaiters: (() => void)[] = [];
  /** Counts pauses: a command that saw it change was paused while under way. */
  private pauses = 0;
  private closed = false;

  constructor(private readonly d: RelayClockDeps) {
    this.view = defaultClockView(d.offered);
    d.picture.setClock(this.view);
  }

  get paused(): boolean {
    return this.view.paused;
  }

  get speed(): number {
    return this.view.speed;
  }

  /** A peer's stream said hello: offer it the clock as it stands. */
  reporting(peer: string): void {
    if (!this.d.offered || this.closed) return;
    this.sendClock(peer);
    const old = this.joinTimers.get(peer);
    if (old) clearTimeout(old);
    this.reports.delete(peer);
    const t = setTimeout(() => {
      this.joinTimers.delete(peer);
      if (this.reports.has(peer) || !this.d.streams().includes(peer)) return;
      this.unclocked.add(peer);
      this.d.log(`${peer} did not take the village clock: it cannot be paused or slowed`);
      this.publish();
    }, this.d.joinWaitMs ?? JOIN_WAIT_MS);
    t.unref();
    this.joinTimers.set(peer, t);
  }

  /** A peer's stream closed. */
  streamClosed(peer: string): void {
    const t = this.joinTimers.get(peer);
    if (t) clearTimeout(t);
    this.joinTimers.delete(peer);
    this.reports.delete(peer);
    if (this.unclocked.delete(peer)) this.publish();
  }

  /** A `clock` event from a peer's current stream. */
  report(e: PeerEvent & { type: 'clock' }): void {
    const { peer, type: _type, t: _t, seq: _seq, ...body } = e;
    void _type, void _t, void _seq;
    this.reports.set(peer, body);
    if (this.unclocked.delete(peer) || this.heldChanged()) this.publish();
    if (e.step !== undefined) {
      const w = this.stepWaiters.get(e.step);
      if (w && w.peer === peer) {
        this.stepWaiters.delete(e.step);
        w.done(e.did ?? null);
      }
    }
  }

  /** A page's button or key. `by` says who, as the pages will read it. */
  async command(msg: ClockMessage, by: string): Promise<Reply> {
    if (!this.d.offered) return { ok: false, text: 'this relay offers no village clock (it was started with --clock off)' };
    switch (msg.action) {
      case 'pause':
        if (this.view.paused) return { ok: true, text: 'the village is already paused' };
        this.pauses++;
        this.change({ paused: true }, by);
        this.d.picture.say(`${by} paused the village: time stands still (space or ▶ resumes, . steps)`, 'event');
        return { ok: true, text: 'paused' };
      case 'resume': {
        if (!this.view.paused) return { ok: true, text: 'the village is already running' };
        this.change({ paused: false }, by);
        this.d.picture.say(`${by} resumed the village`, 'event');
        for (const w of this.resumeWaiters.splice(0)) w();
        return { ok: true, text: 'resumed' };
      }
      case 'speed': {
        const speed = clampSpeed(msg.speed ?? 1);
        if (speed === this.view.speed) return { ok: true, text: `already at ${speedLabel(speed)}` };
        this.change({ speed }, by);
        return { ok: true, text: `the village runs at ${speedLabel(speed)} of the profile's pace` };
      }
      case 'step': {
        const run = this.steps.then(() => this.step());
        this.steps = run.catch(() => {});
        return run;
      }
      case 'drop': {
        const rid = msg.rid ?? '';
        const run = this.steps.then(() => this.drop(rid, by));
        this.steps = run.catch(() => {});
        return run;
      }
    }
  }

  /** The console's cluster client, with its commands held while the village is paused. */
  wrapClient(client: KvClient): KvClient {
    return {
      leader: () => client.leader(),
      close: () => client.close(),
      command: async (command: unknown[]): Promise<CommandResult> => {
        if (this.view.paused) {
          this.d.picture.say('waiting: the village is paused; the command goes to the cluster when it resumes', 'info');
          await new Promise<void>((resolve) => this.resumeWaiters.push(resolve));
        }
        const pausesBefore = this.pauses;
        const r = await client.command(command);
        if (r.ok || r.error === 'bad_command' || this.pauses === pausesBefore) return r;
        return { ...r, message: `timed out because the village was paused while it was under way${r.message ? `: ${r.message}` : ''}` };
      },
    };
  }

  close(): void {
    this.closed = true;
    for (const t of this.joinTimers.values()) clearTimeout(t);
    this.joinTimers.clear();
    for (const w of this.stepWaiters.values()) w.done(null);
    this.stepWaiters.clear();
    for (const w of this.resumeWaiters.splice(0)) w();
  }

  // ---- inside ----

  private change(c: { paused?: boolean; speed?: number }, by: string): void {
    this.view = { ...this.view, ...c, by, at: this.d.now() };
    if (!this.view.paused) this.view.held = [];
    this.d.log(`village clock: ${this.view.paused ? 'paused' : 'running'} at ${speedLabel(this.view.speed)} (${by})`);
    for (const peer of this.d.streams()) this.sendClock(peer);
    this.publish();
  }

  /** The rids held now (while paused), sorted; true if they differ from the view's. */
  private heldChanged(): boolean {
    const held: string[] = [];
    if (this.view.paused) for (const r of this.reports.values()) if (r.paused) for (const h of r.held) held.push(h.rid);
    held.sort();
    const was = this.view.held ?? [];
    if (held.length === was.length && held.every((r, i) => r === was[i])) return false;
    this.view = { ...this.view, held };
    return true;
  }

  private async drop(rid: string, by: string): Promise<Reply> {
    if (!this.view.paused) return { ok: false, text: 'drop works while the village is paused: press space to pause it first' };
    let holder: string | null = null;
    let label = '';
    for (const [peer, r] of this.reports) {
      const h = r.paused ? r.held.find((x) => x.rid === rid) : undefined;
      if (h) (holder = peer), (label = `${h.rpc} from ${h.from}`);
    }
    if (holder === null) return { ok: false, text: `no villager holds letter ${rid}: only a letter its receiver holds while paused can be dropped` };
    const peer = holder;
    const n = ++this.n;
    const answered = new Promise<string | null>((done) => {
      const t = setTimeout(() => {
        this.stepWaiters.delete(n);
        done(null);
      }, STEP_ANSWER_MS);
      this.stepWaiters.set(n, { peer, done: (did) => (clearTimeout(t), done(did)) });
    });
    const msg: RelayToPeer = { type: 'clock_drop', n, peer, rid };
    if (!this.d.sendPeer(peer, JSON.stringify(msg))) {
      this.stepWaiters.get(n)?.done(null);
      return { ok: false, text: `${peer} has no stream to the relay now: letter ${rid} was not dropped` };
    }
    const r = this.reports.get(peer);
    if (r) this.reports.set(peer, { ...r, held: r.held.filter((h) => h.rid !== rid) });
    if (this.heldChanged()) this.publish();
    const did = await answered;
    const ok = did !== null && did.startsWith('dropped');
    const text = did === null ? `${peer} was told to drop ${label} (${rid}) but has not said it did` : `${peer} ${did} (${rid}), as ${by} asked`;
    this.d.picture.say(ok ? `${by} dropped ${label} held by ${peer} (${rid}): its Raft never sees it` : text, ok ? 'event' : 'error');
    this.view = { ...this.view, lastStep: `drop: ${text}` };
    this.publish();
    return { ok, text };
  }

  private sendClock(peer: string): void {
    const msg: RelayToPeer = { type: 'clock', paused: this.view.paused, speed: this.view.speed };
    this.d.sendPeer(peer, JSON.stringify(msg));
  }

  private publish(): void {
    this.view = { ...this.view, unclocked: [...this.unclocked].sort() };
    this.d.picture.setClock(this.view);
  }

  /** The earliest thing due in the village, from the peers' latest reports. */
  next(): Candidate | null {
    let best: Candidate | null = null;
    const better = (a: Candidate, b: Candidate | null) =>
      b === null || a.inMs < b.inMs || (a.inMs === b.inMs && (a.what !== b.what ? a.what === 'letter' : a.peer < b.peer));
    for (const [peer, r] of this.reports) {
      if (!r.paused) continue;
      for (const h of r.held) {
        const c: Candidate = { peer, what: 'letter', rid: h.rid, inMs: h.inMs, label: `${h.rpc} from ${h.from}` };
        if (better(c, best)) best = c;
      }
      if (r.timerInMs !== null) {
        const c: Candidate = { peer, what: 'timer', inMs: r.timerInMs, label: 'its timer' };
        if (better(c, best)) best = c;
      }
    }
    return best;
  }

  private async step(): Promise<Reply> {
    if (!this.view.paused) return { ok: false, text: 'step works while the village is paused: press space to pause it first' };
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const best = this.next();
    if (!best) return { ok: false, text: 'nothing to step: no villager on the clock holds a letter or has a timer running' };
    const n = ++this.n;
    const advanceMs = Math.max(0, best.inMs);
    const msg: RelayToPeer =
      best.what === 'letter'
        ? { type: 'clock_step', n, advanceMs, peer: best.peer, what: 'letter', rid: best.rid! }
        : { type: 'clock_step', n, advanceMs, peer: best.peer, what: 'timer' };
    const answered = new Promise<string | null>((done) => {
      const t = setTimeout(() => {
        this.stepWaiters.delete(n);
        done(null);
      }, STEP_ANSWER_MS);
      this.stepWaiters.set(n, { peer: best.peer, done: (did) => (clearTimeout(t), done(did)) });
    });
    const text = JSON.stringify(msg);
    for (const peer of this.reports.keys()) this.d.sendPeer(peer, text);
    // Until the peers report again, what they hold is what they held, that much closer.
    for (const [peer, r] of this.reports) {
      const held = r.held.filter((h) => !(peer === best.peer && h.rid === best.rid)).map((h) => ({ ...h, inMs: h.inMs - advanceMs }));
      const timerInMs = peer === best.peer && best.what === 'timer' ? null : r.timerInMs === null ? null : r.timerInMs - advanceMs;
      this.reports.set(peer, { ...r, held, timerInMs });
    }
    const did = await answered;
    const after = advanceMs > 0 ? ` after ${Math.round(advanceMs)} ms of village time` : '';
    const said = did === null ? `${best.peer} was told to ${best.what === 'timer' ? 'fire its timer' : `take ${best.label}`} but has not said it did` : `${best.peer} ${did}`;
    const line = `step ${n}: ${said}${after}`;
    this.view = { ...this.view, lastStep: line };
    this.publish();
    return { ok: did !== null, text: line };
  }
}
