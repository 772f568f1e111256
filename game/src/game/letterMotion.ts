// How a letter moves: pure functions of a flight and the time, shared by the scene and tests.
import type { Flight } from '../model.ts';

/** Shortest time a trip is drawn over, so that letters are visible with no network delay. */
const MIN_TRIP_MS = 420;
/** Before the receive is heard, a letter stops short of the receiver at this fraction. */
const HOLD_AT = 0.88;
const FADE_MS = 450;
/** A letter dropped before it left (blocked, link down) puffs out this far along its way. */
const PUFF_AT = 0.2;

export const LETTER_TINTS = {
  request_vote: 0xffd54f,
  vote_granted: 0x7ee081,
  vote_refused: 0xff7b7b,
  append_entries: 0xffffff,
  append_ok: 0x9fd3ff,
  append_refused: 0xffa94d,
  timeout_now: 0xff77ff,
};

export function letterTint(f: Pick<Flight, 'rpc' | 'ok'>): number {
  switch (f.rpc) {
    case 'request_vote':
      return LETTER_TINTS.request_vote;
    case 'request_vote_reply':
      return f.ok === false ? LETTER_TINTS.vote_refused : LETTER_TINTS.vote_granted;
    case 'append_entries':
      return LETTER_TINTS.append_entries;
    case 'append_entries_reply':
      return f.ok === false ? LETTER_TINTS.append_refused : LETTER_TINTS.append_ok;
    case 'timeout_now':
      return LETTER_TINTS.timeout_now;
    default:
      return 0xffffff;
  }
}

/** Where along its trip (0..1) a letter is, and how visible, at `now`. Null: not drawn. */
export function letterProgress(f: Flight, now: number, tripMs: number): { t: number; alpha: number; puff: boolean } | null {
  const trip = Math.max(MIN_TRIP_MS, tripMs);
  const flown = (until: number) => Math.min(HOLD_AT, Math.max(0, (until - f.sentAt) / trip));
  if (f.landedAt !== null) {
    const t0 = flown(f.landedAt);
    const rest = Math.max(120, (1 - t0) * trip);
    const t = t0 + (1 - t0) * Math.min(1, (now - f.landedAt) / rest);
    if (t >= 1) return null;
    return { t, alpha: 1, puff: false };
  }
  if (f.vanishedAt !== null) {
    const gone = (now - f.vanishedAt) / FADE_MS;
    if (gone >= 1) return null;
    const t = f.vanishedAt === f.sentAt ? PUFF_AT : flown(f.vanishedAt);
    return { t, alpha: 1 - gone, puff: true };
  }
  return { t: flown(now), alpha: 1, puff: false };
}
