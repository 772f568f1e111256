// The election ring as drawn (game/src/game/timerRing.ts): painted only when it changes, it must
// still show the timer's share left to within a step, never full when time ran out and never
// empty while time is left.
import { describe, expect, it } from 'vitest';
import { RING_STEPS, ringColour, ringShare } from '../../game/src/game/timerRing.ts';

describe('the election ring', () => {
  it('draws the share left to within half a step of 1/200 of a turn (the last step stays until the end)', () => {
    for (let i = 0; i <= 1000; i++) {
      const left = i / 1000;
      const share = ringShare(left);
      if (left > 0 && left < 1 / RING_STEPS) expect(share, `left ${left}`).toBe(1 / RING_STEPS);
      else expect(Math.abs(share - left), `left ${left}`).toBeLessThanOrEqual(0.5 / RING_STEPS + 1e-12);
    }
  });

  it('draws no arc once the timer ran out, and at least one step while any time is left', () => {
    expect(ringShare(0)).toBe(0);
    expect(ringShare(-0.3)).toBe(0);
    expect(ringShare(Number.NaN)).toBe(0);
    expect(ringShare(1e-6)).toBe(1 / RING_STEPS);
    expect(ringShare(0.001)).toBeGreaterThan(0);
  });

  it('never draws more than the whole ring', () => {
    expect(ringShare(1)).toBe(1);
    expect(ringShare(1.7)).toBe(1);
  });

  it('changes its drawing only when the share moves by a step: equal pictures for nearby times', () => {
    expect(ringShare(0.5)).toBe(ringShare(0.5 + 0.4 / RING_STEPS));
    expect(ringShare(0.5)).not.toBe(ringShare(0.5 + 1 / RING_STEPS));
  });

  it('turns orange below 30 % and red below 12 %', () => {
    expect(ringColour(0.8)).toBe(0xfff3b0);
    expect(ringColour(0.3)).toBe(0xffb347);
    expect(ringColour(0.2)).toBe(0xffb347);
    expect(ringColour(0.12)).toBe(0xff5252);
    expect(ringColour(0.01)).toBe(0xff5252);
  });
});
