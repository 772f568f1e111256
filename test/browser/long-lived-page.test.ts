// A page left open through a run of faults must draw what a fresh page draws: the same
// villagers, looks, terms and log table. Page A is opened first and watches a scripted run
// (writes, a kill and a revive, an isolation and a heal); page B is opened afterwards. Both
// must then agree with each other and with the relay's picture.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { waitFor } from '../support/cluster.ts';
import { ensureGameBuilt } from './support/build.ts';
import { ensureChromium, launchChromium, watchedPage, type Browser } from './support/chromium.ts';
import { drawnOf, relayRow, type Drawn } from './support/drawn.ts';
import { startVillage, type TestVillage } from './support/village.ts';

const PEERS = 5;

let village: TestVillage;
let browser: Browser;
let longLived: Page;
const problems: string[] = [];

beforeAll(async () => {
  ensureChromium();
  ensureGameBuilt();
  village = await startVillage({ peers: PEERS, profile: 'fast', attacks: false });
  browser = await launchChromium();
  longLived = await openPage();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await village?.teardown();
}, 30_000);

async function openPage(): Promise<Page> {
  const page = await watchedPage(browser, problems);
  await page.goto(village.url);
  await page.waitForFunction(() => window.__village?.connected(), null, { timeout: 20_000 });
  return page;
}

/** Types a console line in the long-lived page and waits for its answer line. */
async function type(line: string): Promise<void> {
  const answers = longLived.locator('#console-out .line.result, #console-out .line.error');
  const before = await answers.count();
  await longLived.locator('#console-input').fill(line);
  await longLived.keyboard.press('Enter');
  await waitFor(`an answer to "${line}"`, async () => (await answers.count()) > before, 20_000);
}

describe('a page left open and a fresh page', { timeout: 180_000 }, () => {
  it('draw the same villagers and log table after writes, a kill and revive, an isolation and a heal', async () => {
    const names = village.cluster.names;
    const leader = () => village.relay.picture.leader()?.name ?? null;
    await waitFor('a leader', () => leader() !== null, 20_000);
    await type('x add 1');
    const victim = names.find((n) => n !== leader())!;
    await type(`kill ${victim}`);
    await waitFor(`${victim} down`, () => village.relay.picture.peer(victim)?.process === 'down', 20_000);
    await type('x add 1');
    await type('x add 1');
    await type(`revive ${victim}`);
    await waitFor(`${victim} up and reporting`, () => {
      const p = village.relay.picture.peer(victim);
      return p?.process === 'up' && p.reporting;
    }, 30_000);
    const cut = names.find((n) => n !== leader() && n !== victim)!;
    await type(`isolate ${cut}`);
    await type('x add 1');
    await type('heal');
    await type('x add 1');
    await type('y set 7');

    const fresh = await openPage();
    let last: [Drawn, Drawn] | null = null;
    await waitFor(
      'the long-lived page to draw what the fresh page draws, and both what the relay holds',
      async () => {
        const a = await drawnOf(longLived);
        const b = await drawnOf(fresh);
        last = [a, b];
        if (JSON.stringify(a) !== JSON.stringify(b)) return false;
        return names.every((n) => JSON.stringify(b.rows[n] ?? []) === JSON.stringify(relayRow(village.relay.picture.peer(n)!, b.rows[n] ?? [])));
      },
      20_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nlong-lived: ${JSON.stringify(last?.[0])}\nfresh:      ${JSON.stringify(last?.[1])}`);
    });
    const [, b] = last!;
    // The run did happen: five writes on every log, and the board shows them.
    expect(b.board).toContain('x = 5');
    for (const n of names) expect(b.rows[n]!.length, n).toBeGreaterThanOrEqual(6);
    expect(problems).toEqual([]);
  });
});
