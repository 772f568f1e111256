// The Lessons panel as a person uses it, on a real village in headless Chromium: `l` opens the
// list, a lesson holds at Continue after its first caption, goes on when Continue is clicked,
// and leaving it midway undoes what it did (the leader it killed is revived). Screenshots of a
// caption with Continue go to test-output/lessons-caption*.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { waitFor } from '../support/cluster.ts';
import { ensureGameBuilt } from '../browser/support/build.ts';
import { ensureChromium, launchChromium, watchedPage, type Browser } from '../browser/support/chromium.ts';
import { startVillage, type TestVillage } from '../browser/support/village.ts';

const OUT = join(REPO_ROOT, 'test-output');
let village: TestVillage;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  ensureChromium();
  ensureGameBuilt();
  village = await startVillage({ peers: 5, profile: 'fast', attacks: false });
  browser = await launchChromium();
  page = await watchedPage(browser, problems);
  await page.goto(village.url, { waitUntil: 'commit', timeout: 60_000 });
  await page.waitForFunction(() => window.__village?.connected() && window.__village.leader() !== null, null, { timeout: 60_000 });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await village?.teardown();
}, 30_000);

const panelText = () => page.locator('#lessons').innerText();

describe('the Lessons panel on a real village', { timeout: 120_000 }, () => {
  it('l opens the list of the ten lessons, l again closes it', async () => {
    await page.keyboard.press('l');
    await page.locator('#lessons').waitFor({ state: 'visible' });
    expect(await page.locator('#lessons .lesson-start').count()).toBe(10);
    await page.keyboard.press('l');
    await page.locator('#lessons').waitFor({ state: 'hidden' });
  });

  it('a lesson holds at Continue with a caption naming the real leader, the village paused, and goes on when it is clicked', async () => {
    await page.keyboard.press('l');
    await page.locator('#lessons [data-lesson="crash"]').click();
    await page.locator('#lessons .lesson-continue').waitFor({ state: 'visible', timeout: 60_000 });
    const leader = village.relay.picture.leader()!.name;
    expect(await panelText()).toContain(`${leader} leads term`);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'lessons-caption.png') });
    // Held: nothing is killed while Continue waits, and the village clock is paused meanwhile
    // (the re-election awaited after Continue shows it was resumed).
    expect(village.relay.picture.peer(leader)?.process).toBe('up');
    await page.waitForFunction(() => window.__village?.clock()?.paused === true, null, { timeout: 30_000 });
    await page.locator('#lessons .lesson-continue').click();
    await waitFor(`${leader} killed by the lesson`, () => village.relay.picture.peer(leader)?.process === 'down', 30_000);
    await page.locator('#lessons .lesson-continue').waitFor({ state: 'visible', timeout: 60_000 });
    expect(await panelText()).toMatch(/won term \d+ with the votes of/);
    await page.screenshot({ path: join(OUT, 'lessons-caption-2.png') });
  });

  it('leaving the lesson midway revives the villager it killed', async () => {
    const killed = village.relay.picture.peerList().find((p) => p.process === 'down')!.name;
    await page.locator('#lessons .lesson-leave').click();
    await waitFor(`${killed} revived after leaving`, () => village.relay.picture.peer(killed)?.process === 'up', 30_000);
    await page.locator('#lessons .lesson-end').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await panelText()).toContain('You left the lesson');
    expect(problems).toEqual([]);
  });
});
