// A small seeded PRNG (mulberry32) and a seed mixer, so that everything random in a run (the
// simulator's network and faults, the monster's victims, the chaos nemesis) replays from one number.

export type Rng = () => number;

/** mulberry32: 32-bit state, uniform in [0, 1). Fast and good enough for scheduling. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mix a seed with a salt into a new 32-bit seed (murmur3 finalizer). */
export function mix(seed: number, salt: number): number {
  return fmix32((seed ^ Math.imul(salt + 0x9e3779b9, 0x85ebca6b)) >>> 0);
}

/** murmur3's finalizer: every input bit flips each output bit with probability ~1/2. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

export function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng() * (hi - lo);
}
