// Which letters browsers are sent. A letter is one RPC: its rpc_send, rpc_recv and rpc_drop
// events share a rid. Under load a village carries thousands of AppendEntries (and replies) a
// second; the page draws a few hundred letters at most, and a letter a pixel behind the one
// before shows nothing more. So AppendEntries and their replies between two villagers are
// sampled: at most one letter per LETTER_SPACING_MS for each (sender, receiver, kind,
// heartbeat or not, outcome, sent or dropped), and the letter shown carries `more`, how many
// such RPCs since the previous one shown it stands for. Votes, TimeoutNow and InstallSnapshot
// (rare, and what the lessons and the eye look for) always pass, as do all letters of a quiet
// village. The counters (messages sent, events dropped) are the Picture's and stay exact.
//
// A rid is decided by the first of its events heard (a receive can arrive before its send: two
// peers' streams race), and its other events follow that decision, so a letter shown is shown
// landing or dropped, and one left out never appears half.
import type { PeerEvent } from '../../shared/events.ts';

/** Least time between two letters shown for the same sender, receiver and kind. */
export const LETTER_SPACING_MS = 30;
/** Rids whose decision is remembered until their other event comes (the oldest are forgotten first). */
export const MAX_DECIDED_RIDS = 10_000;

const SAMPLED_KINDS: ReadonlySet<string> = new Set(['append_entries', 'append_entries_reply']);

export type LetterEvent = Extract<PeerEvent, { type: 'rpc_send' | 'rpc_recv' | 'rpc_drop' }>;

export class LetterSampler {
  /** rid -> shown, until the rid's next event. */
  private readonly decided = new Map<string, boolean>();
  /** Per key: when its last letter was shown (ms). */
  private readonly lastShown = new Map<string, number>();
  /** Per key: RPCs left out since its last letter shown. */
  private readonly leftOut = new Map<string, number>();

  /**
   * Whether to pass the event on: null to leave it out, else the number of other RPCs the letter
   * stands for (0: only itself; always 0 for a rid's later events).
   */
  take(e: LetterEvent, now: number): number | null {
    if (!SAMPLED_KINDS.has(e.rpc)) return 0;
    const shown = this.decided.get(e.rid);
    if (shown !== undefined) {
      this.decided.delete(e.rid);
      // A send heard after its receive was left out: the RPC is counted now.
      if (!shown && e.type === 'rpc_send') this.countLeftOut(keyOf(e));
      return shown ? 0 : null;
    }
    const key = keyOf(e);
    const last = this.lastShown.get(key);
    if (last === undefined || now - last >= LETTER_SPACING_MS || now < last) {
      this.lastShown.set(key, now);
      this.remember(e.rid, true);
      const more = this.leftOut.get(key) ?? 0;
      if (more) this.leftOut.delete(key);
      return more;
    }
    this.remember(e.rid, false);
    // A receive first is counted when its send comes (a send may never be heard: a lost stream).
    if (e.type !== 'rpc_recv') this.countLeftOut(key);
    return null;
  }

  private remember(rid: string, shown: boolean): void {
    this.decided.set(rid, shown);
    if (this.decided.size > MAX_DECIDED_RIDS) {
      const oldest = this.decided.keys().next().value;
      if (oldest !== undefined) this.decided.delete(oldest);
    }
  }

  private countLeftOut(key: string): void {
    this.leftOut.set(key, (this.leftOut.get(key) ?? 0) + 1);
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
