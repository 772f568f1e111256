// The whole village in a real browser: the relay serving the built game, the cluster launcher
// with five real peer processes (-v, fast profile), and headless Chromium clicking and typing.
// The relay's safety monitor watches every event of the run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { pidAlive, waitFor } from '../support/cluster.ts';
import { villageInChromium, type VillageInChromium } from './support/fixture.ts';
import type { TestVillage } from './support/village.ts';

const PEERS = 5;
const SCREENSHOT = join(REPO_ROOT, 'test-output', 'village.png');

interface Probe {
  name: string;
  look: string;
  fenced: boolean;
  x: number;
  y: number;
}

let fixture: VillageInChromium;
let village: TestVillage;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  fixture = await villageInChromium({ peers: PEERS, profile: 'fast', attacks: false }, problems);
  ({ village, page } = fixture);
}, 600_000);

afterAll(async () => {
  await fixture?.close();
}, 30_000);

const peers = () => page.evaluate(() => window.__village!.peers()) as Promise<Probe[]>;
const leaders = async () => (await peers()).filter((p) => p.look === 'leader');
/** Explains a failure: what the relay saw and what the cluster printed. */
const context = () => `\nrelay picture: ${JSON.stringify(village.relay.picture.peerList().map((p) => [p.name, p.process, p.role, p.term]))}\nlauncher output (tail):\n${village.output().slice(-3000)}`;

describe('the village in Chromium with a real cluster', { timeout: 60_000 }, () => {
  it('loads with no console errors and shows one villager per peer', async () => {
    const response = await page.goto(village.url);
    expect(response?.status()).toBe(200);
    await page.waitForFunction(() => window.__village?.connected(), null, { timeout: 20_000 });
    await waitFor(`${PEERS} villagers${context()}`, async () => (await peers()).length === PEERS, 20_000);
    expect((await peers()).map((p) => p.name)).toEqual(village.cluster.names);
    expect(problems).toEqual([]);
  });

  it('shows exactly one leader once the village has elected one, the one the relay knows', async () => {
    await waitFor(
      `exactly one villager drawn as leader${context()}`,
      async () => {
        const ls = await leaders();
        const relayLeader = village.relay.picture.leader()?.name;
        return ls.length === 1 && ls[0]!.name === relayLeader;
      },
      20_000,
    );
  });

  it('s toggles the attacks at the relay, and the page shows the state', async () => {
    expect(village.relay.picture.attacksOn()).toBe(false);
    await page.locator('canvas').click({ position: { x: 5, y: 400 } });
    await page.keyboard.press('s');
    await waitFor('attacks on at the relay', () => village.relay.picture.attacksOn(), 10_000);
    await waitFor('attacks on in the page', () => page.evaluate(() => window.__village!.attacks()), 10_000);
    await page.keyboard.press('s');
    await waitFor('attacks off at the relay', () => !village.relay.picture.attacksOn(), 10_000);
    await waitFor('attacks off in the page', async () => !(await page.evaluate(() => window.__village!.attacks())), 10_000);
  });

  it('the console runs x add 100 and shows the line as input, then 100; the board shows x = 100', async () => {
    await page.locator('#console-input').fill('x add 100');
    await page.keyboard.press('Enter');
    await page.locator('#console-out .line.input', { hasText: /^\d\d:\d\d:\d\d> x add 100$/ }).first().waitFor({ timeout: 20_000 });
    const result = page.locator('#console-out .line.result').filter({ hasText: /\d\d:\d\d:\d\d100$/ });
    await result.first().waitFor({ timeout: 20_000 });
    await waitFor(`x = 100 on the board${context()}`, async () => (await page.evaluate(() => window.__village!.board())).includes('x = 100'), 20_000);
    expect(await page.evaluate(() => window.__village!.kv())).toMatchObject({ x: 100 });
    await page.keyboard.press('Escape');
  });

  it('after a console command, a click on the village takes the focus, so ? opens the help at once', async () => {
    await page.locator('#console-input').fill('x get');
    await page.keyboard.press('Enter');
    await page.locator('#console-out .line.result').filter({ hasText: /100$/ }).nth(1).waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('console-input');
    await page.locator('canvas').click({ position: { x: 5, y: 400 } });
    expect(await page.evaluate(() => document.activeElement?.id ?? '')).not.toBe('console-input');
    await page.keyboard.press('?');
    await waitFor('the help open after ?', () => page.evaluate(() => window.__village!.helpOpen()), 5_000);
    await page.keyboard.press('?');
    await waitFor('the help closed after ? again', async () => !(await page.evaluate(() => window.__village!.helpOpen())), 5_000);
    expect(await page.locator('#console-input').inputValue()).toBe('');
  });

  it('isolate fences only that villager and draws its cut links; the others keep Isolate in their menu; heal clears both', async () => {
    const names = village.cluster.names;
    const target = names[2]!;
    await page.locator('#console-input').fill(`isolate ${target}`);
    await page.keyboard.press('Enter');
    const links = () => page.evaluate(() => window.__village!.cutLinks());
    const expected = names.filter((n) => n !== target).map((n) => (names.indexOf(n) < names.indexOf(target) ? `${n}-${target}` : `${target}-${n}`));
    await waitFor(
      `only ${target} fenced, and its ${PEERS - 1} links cut${context()}`,
      async () => {
        const fenced = (await peers()).filter((p) => p.fenced).map((p) => p.name);
        return fenced.length === 1 && fenced[0] === target && JSON.stringify((await links()).sort()) === JSON.stringify([...expected].sort());
      },
      20_000,
    );
    // Not drawn: a fence on any other villager, or a cut link that does not touch the isolated one.
    expect((await peers()).filter((p) => p.name !== target && p.fenced)).toEqual([]);
    expect((await links()).filter((l) => !l.split('-').includes(target))).toEqual([]);
    // Another villager's menu still offers to isolate it; the isolated one's does not.
    const other = (await peers()).find((p) => p.name === names[0])!;
    await page.keyboard.press('Escape');
    await page.mouse.click(other.x, other.y, { button: 'right' });
    await page.locator('#menu button', { hasText: `Isolate ${other.name}` }).waitFor({ timeout: 5_000 });
    await page.keyboard.press('Escape');
    const isolated = (await peers()).find((p) => p.name === target)!;
    await page.mouse.click(isolated.x, isolated.y, { button: 'right' });
    await page.locator('#menu button', { hasText: 'Heal all partitions' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#menu button', { hasText: `Isolate ${target}` }).count()).toBe(0);
    await page.locator('#menu button', { hasText: 'Heal all partitions' }).click();
    await waitFor(
      `no fence and no cut link after heal${context()}`,
      async () => (await peers()).every((p) => !p.fenced) && (await links()).length === 0,
      20_000,
    );
  });

  it('a press on a panel drawn over a villager stays in the panel: the villager under the menu lives', async () => {
    const victim = (await peers()).find((p) => p.look !== 'grave' && p.look !== 'leader')!;
    const pid = village.pid(victim.name)!;
    await page.mouse.click(victim.x, victim.y, { button: 'right' });
    const item = page.locator('#menu button', { hasText: 'Inspect' });
    await item.waitFor({ state: 'visible', timeout: 10_000 });
    // Move the menu so that its Inspect button sits right over the villager, then press it.
    const box = (await item.boundingBox())!;
    const shift = [victim.x - (box.x + box.width / 2), victim.y - (box.y + box.height / 2)] as const;
    await page.evaluate(([dx, dy]) => {
      const m = document.getElementById('menu')!;
      const r = m.getBoundingClientRect();
      m.style.left = `${r.left + dx}px`;
      m.style.top = `${r.top + dy}px`;
    }, shift);
    await page.mouse.click(victim.x, victim.y);
    await page.locator('#inspector').waitFor({ state: 'visible', timeout: 10_000 });
    await page.waitForTimeout(1500);
    expect(pidAlive(pid), `${victim.name} was killed by a press on the menu over it${context()}`).toBe(true);
    expect((await peers()).find((p) => p.name === victim.name)?.look).not.toBe('grave');
    await page.keyboard.press('Escape');
    await page.locator('#inspector').waitFor({ state: 'hidden', timeout: 10_000 });
  });

  it('a click on the leader ends its process; it becomes a gravestone and another villager leads', async () => {
    const [leader] = await leaders();
    expect(leader).toBeDefined();
    const pid = village.pid(leader!.name);
    expect(pid).not.toBeNull();
    expect(pidAlive(pid!)).toBe(true);
    await page.mouse.click(leader!.x, leader!.y);
    await waitFor(`pid ${pid} of ${leader!.name} to be gone${context()}`, () => !pidAlive(pid!), 15_000);
    await waitFor(
      `${leader!.name} drawn as a gravestone and another leader${context()}`,
      async () => {
        const now = await peers();
        const ls = now.filter((p) => p.look === 'leader');
        return now.find((p) => p.name === leader!.name)?.look === 'grave' && ls.length === 1 && ls[0]!.name !== leader!.name;
      },
      20_000,
    );
    // A moment for the new leader's letters to be in the air in the picture.
    await page.waitForTimeout(500);
    mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  it('the relay\'s safety monitor saw the real peers through all of it and no law broken; the HUD says so with its count', async () => {
    const laws = village.relay.laws.status();
    expect(laws.violationCount, JSON.stringify(village.relay.laws.monitor.status().violations, null, 1)).toBe(0);
    expect(laws.eventsChecked).toBeGreaterThan(0);
    const line = await waitFor('the HUD line about the laws', async () => {
      const l = (await page.evaluate(() => window.__village!.lawsLine())) as string;
      return /^laws hold · \d+ events checked/.test(l) ? l : undefined;
    });
    expect(Number(/(\d+) events checked/.exec(line)![1])).toBeGreaterThan(0);
    expect(await page.evaluate(() => window.__village!.lawPanel())).toBeNull();
    expect(await page.evaluate(() => window.__village!.highlighted())).toEqual({ villagers: [], tiles: [] });
  });

  it('nothing went wrong in the page', () => {
    expect(problems).toEqual([]);
  });
});
