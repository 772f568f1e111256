// The page's village time: the time the page draws with. It follows the relay's clock view (the
// `clock` part of the picture and its deltas): equal to the wall clock while the village runs at
// full speed and was never paused, frozen while paused (letters stay where they are, timers stop
// counting down), slowed with the village. Pure: the wall clock is an argument.
import { VirtualClock, type ClockView } from '../../shared/village-clock.ts';
import type { RelayToBrowser } from '../../shared/village.ts';

export class VillageTime {
  private readonly v: VirtualClock;
  private current: ClockView | null = null;

  constructor(wall: number) {
    this.v = new VirtualClock(wall);
  }

  /** The clock as the relay last said it; null before the first picture or from a relay without a clock. */
  get view(): ClockView | null {
    return this.current;
  }

  get paused(): boolean {
    return this.current?.paused ?? false;
  }

  /** Takes the clock from a snapshot or a batch, before the model sees the frame. */
  observe(msg: RelayToBrowser, wall: number): void {
    if (msg.type === 'snapshot') {
      const c = msg.picture.clock;
      if (isClockView(c)) this.set(c, wall);
    } else if (msg.type === 'batch') {
      for (const d of msg.deltas) if (d.type === 'clock' && isClockView(d.clock)) this.set(d.clock, wall);
    }
  }

  set(view: ClockView, wall: number): void {
    this.current = view;
    this.v.set(wall, { paused: view.paused, speed: view.speed });
  }

  /** Village time at wall time `wall`. */
  now(wall: number): number {
    return this.v.now(wall);
  }
}

function isClockView(c: unknown): c is ClockView {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  return typeof o.paused === 'boolean' && typeof o.speed === 'number' && Number.isFinite(o.speed) && o.speed > 0 && Array.isArray(o.unclocked);
}
