// The short soak in `npm test`: the village as `npm start` runs it, the monster striking every
// few seconds, one page open for a minute; then a fresh page. (`npm run soak` runs
// the long one.)
import { describe, expect, it } from 'vitest';
import { parseSoakArgs } from './cli.ts';
import { runSoak, slopePerMinute } from './soak.ts';

describe('a village left running', () => {
  it('keeps the relay heap after collection bounded, and the page left open draws what a fresh page draws', async () => {
    const lines: string[] = [];
    const r = await runSoak({ minutes: 1, peers: 5, profile: 'fast', attackEveryS: 3, reviveAfterS: 2, samples: 5, log: (l) => lines.push(l) });
    const why = lines.join('\n');
    expect(r.strikes, why).toBeGreaterThanOrEqual(5);
    expect(r.differences, why).toEqual([]);
    expect(r.pageProblems, why).toEqual([]);
    // The first sample is taken as the page opens; later ones must not have grown much past it.
    const first = r.samples[0]!.heapMiB;
    for (const s of r.samples) expect(s.heapMiB, why).toBeLessThan(first + 24);
  }, 300_000);

  it('measures a slope in MiB per minute by least squares', () => {
    expect(slopePerMinute([[0, 10], [60, 11], [120, 12]])).toBeCloseTo(1);
    expect(slopePerMinute([[0, 10], [60, 10]])).toBe(0);
    expect(slopePerMinute([[30, 5]])).toBe(0);
  });

  it('reads its arguments and refuses bad ones with the reason', () => {
    expect(parseSoakArgs(['--minutes', '5', '--profile', 'slow'])).toMatchObject({ minutes: 5, profile: 'slow' });
    expect(parseSoakArgs(['--minutes', 'x'])).toMatch(/--minutes needs a number/);
    expect(parseSoakArgs(['--profile', 'medium'])).toMatch(/fast or slow/);
    expect(parseSoakArgs(['--wat'])).toMatch(/unknown argument/);
  });
});
