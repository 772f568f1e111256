// Which letters browsers are sent. A letter is one RPC: its rpc_send, rpc_recv and rpc_drop
// events share a rid. Under load a village carries thousands of AppendEntries (and replies) a
// second; the page draws a few hundred letters at most, and a letter a pixel behind the one
// before shows nothing more. So AppendEntries and their replies are sampled per path: of the
// letters that look alike (same sender, receiver, kind, heartbeat or not, outcome, sent or
// dropped) at most one every MIN_LETTER_SPACING_MS is sent, and it carries `more`, how many
// others it stands for: the others of its batch and those left out on its path since the
// letter drawn before it. That is at most 25 letters a second on each path, however often
// batches go out (fanout.ts). Votes, TimeoutNow and InstallSnapshot (rare, and what the lessons
// and the eye look for) always pass, and so do nearly all letters of a quiet village (a path's
// letters come further apart than that: heartbeats every 50 ms or more; one that comes early is
// counted by the next). The counters (messages sent, events dropped) are the Picture's and stay
// exact.
//
// A rid is decided by the first of its events heard (a receive can arrive before its send: two
// peers' streams race), and its other events follow that decision, so a letter shown is shown
// landing or dropped, and one left out never appears half.
import type { PeerEvent } from '../../shared/events.ts';
import type { Delta } from '../../shared/village.ts';

/** Rids whose decision is remembered until their other event comes (at most; the oldest half are forgotten together). */
export const MAX_DECIDED_RIDS = 10_000;

/** Least time between two letters sent on one path (ms). */
export const MIN_LETTER_SPACING_MS = 40;

const SAMPLED_KINDS: ReadonlySet<string> = new Set(['append_entries', 'append_entries_reply']);

export type LetterEvent = Extract<PeerEvent, { type: 'rpc_send' | 'rpc_recv' | 'rpc_drop' }>;
type EventDelta = Extract<Delta, { type: 'event' }>;
type Decision = { shown: boolean; type: LetterEvent['type'] };

export class LetterSampler {
  /**
   * rid -> the decision and the event that made it, until the rid's next event of another type.
   * Two generations: when the newer holds half of MAX_DECIDED_RIDS it becomes the older and the
   * oldest is dropped whole (cheaper than forgetting one rid per new one).
   */
  private decided = new Map<string, Decision>();
  private older = new Map<string, Decision>();
  /** Per key: the letter of the current batch that stands for the others. */
  private readonly shown = new Map<string, EventDelta>();
  /** Per key: when its last letter was passed, and how many left out since then no letter counts yet. */
  private readonly paths = new Map<string, { at: number; pending: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Whether to pass the event on (as `delta`). A letter left out is counted in the `more` of
   * the letter of the batch that stands for it.
   */
  take(e: LetterEvent, delta: EventDelta): boolean {
    if (!SAMPLED_KINDS.has(e.rpc)) return true;
    const decided = this.forget(e.rid);
    // The rid's other event (a repeat of the same type is a new letter: a rid used again).
    if (decided !== undefined && decided.type !== e.type) {
      // A send heard after its receive was left out: the RPC is counted now.
      if (!decided.shown && e.type === 'rpc_send') this.countLeftOut(keyOf(e));
      return decided.shown;
    }
    const key = keyOf(e);
    const now = this.now();
    const path = this.paths.get(key);
    const pass = !this.shown.has(key) && (path === undefined || now - path.at >= MIN_LETTER_SPACING_MS || now < path.at);
    if (pass) {
      this.shown.set(key, delta);
      if (path && path.pending > 0) delta.more = path.pending;
      this.paths.set(key, { at: now, pending: 0 });
    }
    // A receive first is counted when its send comes (a send may never be heard: a lost stream).
    else if (e.type !== 'rpc_recv') this.countLeftOut(key);
    this.decided.set(e.rid, { shown: pass, type: e.type });
    if (this.decided.size >= MAX_DECIDED_RIDS / 2) {
      this.older = this.decided;
      this.decided = new Map();
    }
    return pass;
  }

  /** The decision held for a rid, which is then forgotten. */
  private forget(rid: string): Decision | undefined {
    let d = this.decided.get(rid);
    if (d !== undefined) this.decided.delete(rid);
    else if ((d = this.older.get(rid)) !== undefined) this.older.delete(rid);
    return d;
  }

  /** The batch was sent: the next letters of each kind start a new one. */
  endBatch(): void {
    this.shown.clear();
  }

  /** A letter left out counts in its batch's letter of the path, or else in the path's next letter. */
  private countLeftOut(key: string): void {
    const d = this.shown.get(key);
    if (d) d.more = (d.more ?? 0) + 1;
    else {
      const path = this.paths.get(key);
      if (path) path.pending++;
    }
  }
}

/** Sender, receiver, kind, heartbeat, outcome and whether it was dropped: letters that look alike. */
function keyOf(e: LetterEvent): string {
  let from: string;
  let to: string;
  if (e.type === 'rpc_recv') {
    from = e.from;
    to = e.peer;
  } else {
    to = e.to;
    // A receiver that refuses a letter reports the drop with to = itself; the sender is the rid's prefix.
    from = e.type === 'rpc_drop' && e.peer === e.to ? e.rid.slice(0, Math.max(0, e.rid.lastIndexOf(':'))) || e.peer : e.peer;
  }
  return `${from}>${to} ${e.rpc}${e.heartbeat ? ' hb' : ''}${e.ok === undefined ? '' : e.ok ? ' ok' : ' no'}${e.type === 'rpc_drop' ? ' drop' : ''}`;
}
