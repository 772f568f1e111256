// The village clock's time (shared/village-clock.ts): pure, driven by a real time given by hand.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SPEED, MIN_SPEED, nudgeSpeed, parseRelayToPeer, positionOf, speedAt, speedLabel, VirtualClock } from '../../shared/village-clock.ts';

describe('VirtualClock', () => {
  it('runs at the real pace at full speed, starting from the real time it was made at', () => {
    const c = new VirtualClock(1000);
    expect(c.now(1000)).toBe(1000);
    expect(c.now(1750)).toBe(1750);
  });

  it('stands still while paused and goes on from where it stood, without a jump, on resume', () => {
    const c = new VirtualClock(0);
    c.set(100, { paused: true });
    expect(c.now(100)).toBe(100);
    expect(c.now(60_000)).toBe(100);
    c.set(60_000, { paused: false });
    expect(c.now(60_000)).toBe(100);
    expect(c.now(60_050)).toBe(150);
  });

  it('at 0.25x moves a quarter of the real time, and a change of speed only changes the pace from then on', () => {
    const c = new VirtualClock(0);
    c.set(1000, { speed: 0.25 });
    expect(c.now(1000)).toBe(1000);
    expect(c.now(5000)).toBe(2000);
    c.set(5000, { speed: 1 });
    expect(c.now(5000)).toBe(2000);
    expect(c.now(6000)).toBe(3000);
  });

  it('says how long in real time a span of village time takes: longer when slowed, forever when paused', () => {
    const c = new VirtualClock(0);
    expect(c.realDelay(50)).toBe(50);
    c.set(0, { speed: 0.25 });
    expect(c.realDelay(50)).toBe(200);
    c.set(0, { paused: true });
    expect(c.realDelay(50)).toBe(Infinity);
  });

  it('a step moves a paused clock forward by exactly the given span; a running clock ignores it', () => {
    const c = new VirtualClock(0);
    c.advance(500);
    expect(c.now(0)).toBe(0);
    c.set(10, { paused: true });
    c.advance(40);
    expect(c.now(99_999)).toBe(50);
    c.advanceTo(45);
    expect(c.now(99_999)).toBe(50);
    c.advanceTo(70);
    expect(c.now(99_999)).toBe(70);
    c.set(100_000, { paused: false });
    expect(c.now(100_010)).toBe(80);
  });

  it('keeps speeds within 0.05x..1x', () => {
    const c = new VirtualClock(0);
    c.set(0, { speed: 7 });
    expect(c.speed).toBe(MAX_SPEED);
    c.set(0, { speed: 0 });
    expect(c.speed).toBe(MIN_SPEED);
    c.set(0, { speed: Number.NaN });
    expect(c.speed).toBe(MAX_SPEED);
  });

  it('under any sequence of pauses, resumes, speed changes, steps and real clock readings, never goes backwards and never jumps', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('read' as const), dt: fc.integer({ min: -50, max: 5000 }) }),
      fc.record({ kind: fc.constant('pause' as const), paused: fc.boolean(), dt: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant('speed' as const), speed: fc.double({ min: MIN_SPEED, max: MAX_SPEED, noNaN: true }), dt: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant('step' as const), ms: fc.integer({ min: 0, max: 1000 }), dt: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let real = 1_000_000;
        const c = new VirtualClock(real);
        let last = c.now(real);
        for (const o of ops) {
          real += o.dt;
          const before = c.now(real);
          expect(before).toBeGreaterThanOrEqual(last);
          // Village time moves at most as fast as real time (speed <= 1), steps aside.
          if (o.dt > 0) expect(before - last).toBeLessThanOrEqual(o.dt + 1e-6);
          if (o.kind === 'pause') c.set(real, { paused: o.paused });
          if (o.kind === 'speed') c.set(real, { speed: o.speed });
          if (o.kind === 'step') c.advance(o.ms);
          const after = c.now(real);
          // A change of pace at an instant leaves the time at that instant as it was.
          if (o.kind !== 'step') expect(after).toBe(before);
          else expect(after - before).toBe(c.paused ? o.ms : 0);
          last = after;
        }
      }),
    );
  });
});

describe('the speed slider and keys', () => {
  it('the slider is a log scale from 0.05x to 1x, and position and speed are each other\'s inverse', () => {
    expect(speedAt(0)).toBeCloseTo(0.05, 10);
    expect(speedAt(1)).toBeCloseTo(1, 10);
    expect(speedAt(0.5)).toBeCloseTo(Math.sqrt(0.05), 10);
    for (const s of [0.05, 0.1, 0.25, 0.6, 1]) expect(speedAt(positionOf(s))).toBeCloseTo(s, 10);
  });

  it('[ and ] walk a ladder of speeds and stop at its ends', () => {
    expect(nudgeSpeed(1, false)).toBe(0.75);
    expect(nudgeSpeed(0.75, false)).toBe(0.5);
    expect(nudgeSpeed(0.3, false)).toBe(0.25);
    expect(nudgeSpeed(0.3, true)).toBe(0.35);
    expect(nudgeSpeed(1, true)).toBe(1);
    expect(nudgeSpeed(0.05, false)).toBe(0.05);
    expect(speedLabel(0.25)).toBe('0.25x');
    expect(speedLabel(1)).toBe('1x');
  });
});

describe('relay-to-peer clock messages', () => {
  it('reads a clock and a step', () => {
    expect(parseRelayToPeer({ type: 'clock', paused: true, speed: 0.5 })).toEqual({ ok: true, msg: { type: 'clock', paused: true, speed: 0.5 } });
    expect(parseRelayToPeer({ type: 'clock_step', n: 3, advanceMs: 12.5, peer: 'peer2', what: 'letter', rid: 'peer1:9' })).toEqual({
      ok: true,
      msg: { type: 'clock_step', n: 3, advanceMs: 12.5, peer: 'peer2', what: 'letter', rid: 'peer1:9' },
    });
    expect(parseRelayToPeer({ type: 'clock_step', n: 4, advanceMs: 0, peer: 'peer2', what: 'timer' }).ok).toBe(true);
  });

  it('reads a drop, keeping only its fields', () => {
    expect(parseRelayToPeer({ type: 'clock_drop', n: 5, peer: 'peer2', rid: 'peer1:9', extra: 1 })).toEqual({ ok: true, msg: { type: 'clock_drop', n: 5, peer: 'peer2', rid: 'peer1:9' } });
  });

  it('refuses malformed ones with a reason naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [null, /JSON object/],
      [[1], /JSON object/],
      [{ type: 'clock', paused: 'yes', speed: 1 }, /clock\.paused/],
      [{ type: 'clock', paused: false, speed: 3 }, /clock\.speed/],
      [{ type: 'clock_step', n: -1, advanceMs: 0, peer: 'p', what: 'timer' }, /clock_step\.n/],
      [{ type: 'clock_step', n: 1, advanceMs: Infinity, peer: 'p', what: 'timer' }, /advanceMs/],
      [{ type: 'clock_step', n: 1, advanceMs: 1, peer: '', what: 'timer' }, /clock_step\.peer/],
      [{ type: 'clock_step', n: 1, advanceMs: 1, peer: 'p', what: 'letter' }, /clock_step\.what/],
      [{ type: 'clock_drop', n: 1.5, peer: 'p', rid: 'a:1' }, /clock_drop\.n/],
      [{ type: 'clock_drop', n: 1, peer: 7, rid: 'a:1' }, /clock_drop\.peer/],
      [{ type: 'clock_drop', n: 1, peer: 'p' }, /clock_drop\.rid/],
      [{ type: 'clock_drop', n: 1, peer: 'p', rid: '' }, /clock_drop\.rid/],
      [{ type: 'clock_drop', n: 1, peer: 'p', rid: 'x'.repeat(81) }, /clock_drop\.rid/],
      [{ type: 'kill' }, /expected clock, clock_step or clock_drop/],
    ];
    for (const [input, why] of bad) {
      const r = parseRelayToPeer(input);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(why);
    }
  });
});
