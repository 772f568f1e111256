// The election ring as drawn: pure functions of the timer's share left, shared by the villager's
// view and tests. The ring is painted again only when what it shows changes, so its share is
// drawn in steps too small to see (1/RING_STEPS of a turn) and a picture is equal when these are.

/** Steps of the ring's arc per turn: about 1.3 px of arc on a ring of radius 40. */
export const RING_STEPS = 200;

/**
 * The share of the ring drawn for `left` (the timer's share left, from VillageModel.timerLeft):
 * 0 once it ran out (the dark ring alone), else the nearest step, and at least one step while
 * any time is left, so a ring about to run out is never drawn as one that did; never above 1.
 */
export function ringShare(left: number): number {
  if (!(left > 0)) return 0;
  return Math.max(1, Math.round(Math.min(1, left) * RING_STEPS)) / RING_STEPS;
}

/** The arc's colour for a share left: yellow, then orange below 30 %, red below 12 %. */
export function ringColour(share: number): number {
  return share > 0.3 ? 0xfff3b0 : share > 0.12 ? 0xffb347 : 0xff5252;
}
