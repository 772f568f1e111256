// The page's own behaviour, against a scripted stand-in relay (no cluster): keys, the console,
// the villager menu, help, and what the page does when the relay goes away and comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { waitFor } from '../support/cluster.ts';
import { ensureGameBuilt } from './support/build.ts';
import { ensureChromium, launchChromium, type Browser } from './support/chromium.ts';
import { FakeVillageRelay } from './support/fake-village-relay.ts';

let fake: FakeVillageRelay;
let browser: Browser;
let page: Page;
const problems: string[] = [];
/** While the relay is away on purpose, Chromium's own "WebSocket connection failed" lines are expected. */
let outage = false;

beforeAll(async () => {
  ensureChromium();
  ensureGameBuilt();
  fake = await FakeVillageRelay.start({ peers: 5 });
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (outage && /WebSocket connection to .* failed/.test(m.text())) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(fake.url);
  await page.waitForFunction(() => window.__village?.connected() && window.__village.peers().length === 5, null, { timeout: 20_000 });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await fake?.stop();
});

const hook = <T>(fn: string): Promise<T> => page.evaluate(`window.__village.${fn}()`) as Promise<T>;
const sent = (type: string) => fake.received.filter((m) => m.type === type);

describe('the page against a stand-in relay', () => {
  it('s sends attacks on, then off; the state shown follows the relay', async () => {
    await page.locator('canvas').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('s');
    await waitFor('attacks on at the page', () => hook<boolean>('attacks'));
    expect(sent('attacks').at(-1)).toMatchObject({ type: 'attacks', on: true });
    await page.keyboard.press('s');
    await waitFor('attacks off at the page', async () => !(await hook<boolean>('attacks')));
    expect(sent('attacks').at(-1)).toMatchObject({ type: 'attacks', on: false });
  });

  it('typing in the console never triggers game keys, and the line is sent as typed', async () => {
    const before = sent('attacks').length;
    await page.locator('#console-input').click();
    await page.keyboard.type('s? x add 100');
    await page.keyboard.press('Enter');
    await waitFor('the console line at the relay', () => sent('console').some((m) => m.type === 'console' && m.line === 's? x add 100'));
    expect(sent('attacks').length).toBe(before);
    expect(await hook<boolean>('helpOpen')).toBe(false);
    await page.locator('#console-out .line.error', { hasText: 'unknown command' }).first().waitFor();
  });

  it('the console runs x add 5, shows the line as input and the result, and the board shows it', async () => {
    await page.locator('#console-input').fill('x add 5');
    await page.keyboard.press('Enter');
    // The relay's echo arrives as level input and is drawn as input, not as info.
    await page.locator('#console-out .line.input', { hasText: /^\d\d:\d\d:\d\d> x add 5$/ }).first().waitFor();
    await page.locator('#console-out .line.result', { hasText: /^\d\d:\d\d:\d\d5$/ }).first().waitFor();
    await waitFor('x = 5 on the board', async () => (await hook<string[]>('board')).includes('x = 5'));
  });

  it('the console keeps a history on the arrow keys', async () => {
    const input = page.locator('#console-input');
    await input.click();
    await page.keyboard.press('ArrowUp');
    expect(await input.inputValue()).toBe('x add 5');
    await page.keyboard.press('ArrowUp');
    expect(await input.inputValue()).toBe('s? x add 100');
    await page.keyboard.press('ArrowDown');
    expect(await input.inputValue()).toBe('x add 5');
    await page.keyboard.press('ArrowDown');
    expect(await input.inputValue()).toBe('');
    await page.keyboard.press('Escape');
  });

  it('? opens the help and Esc closes it; a click closes it without reaching the villager below', async () => {
    await page.locator('canvas').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('?');
    await waitFor('help open', () => hook<boolean>('helpOpen'));
    await page.keyboard.press('Escape');
    await waitFor('help closed', async () => !(await hook<boolean>('helpOpen')));

    await page.keyboard.press('?');
    await waitFor('help open again', () => hook<boolean>('helpOpen'));
    const p1 = (await hook<{ name: string; x: number; y: number }[]>('peers')).find((p) => p.name === 'peer1')!;
    await page.mouse.click(p1.x, p1.y);
    await waitFor('help closed by the click', async () => !(await hook<boolean>('helpOpen')));
    await page.waitForTimeout(300);
    expect(sent('kill')).toHaveLength(0);
  });

  it('shift-click and right-click open the villager menu; its items send their command', async () => {
    const peers = await hook<{ name: string; x: number; y: number }[]>('peers');
    const p3 = peers.find((p) => p.name === 'peer3')!;
    await page.keyboard.down('Shift');
    await page.mouse.click(p3.x, p3.y);
    await page.keyboard.up('Shift');
    const menu = page.locator('#menu');
    await menu.waitFor({ state: 'visible' });
    expect(await menu.textContent()).toContain('Isolate peer3');
    await menu.getByText('Isolate peer3').click();
    await waitFor('isolate at the relay', () => sent('isolate').some((m) => m.type === 'isolate' && m.peer === 'peer3'));
    expect(await menu.isVisible()).toBe(false);
    expect(sent('kill')).toHaveLength(0);

    // A click outside the open menu only closes it.
    await page.mouse.click(p3.x, p3.y, { button: 'right' });
    await menu.waitFor({ state: 'visible' });
    const p2 = peers.find((p) => p.name === 'peer2')!;
    await page.mouse.click(p2.x, p2.y);
    await menu.waitFor({ state: 'hidden' });
    await page.waitForTimeout(300);
    expect(sent('kill')).toHaveLength(0);

    await page.mouse.click(p3.x, p3.y, { button: 'right' });
    await menu.waitFor({ state: 'visible' });
    await menu.getByText('Force an election at peer3').click();
    await waitFor('campaign at the relay', () => sent('campaign').some((m) => m.type === 'campaign' && m.peer === 'peer3'));
    expect(sent('kill')).toHaveLength(0);
  });

  it('a click kills a villager, which becomes a gravestone; a click on the gravestone revives it', async () => {
    const p4 = (await hook<{ name: string; x: number; y: number }[]>('peers')).find((p) => p.name === 'peer4')!;
    await page.mouse.click(p4.x, p4.y);
    await waitFor('peer4 drawn as a gravestone', async () => (await hook<{ name: string; look: string }[]>('peers')).find((p) => p.name === 'peer4')?.look === 'grave');
    expect(sent('kill').at(-1)).toMatchObject({ type: 'kill', peer: 'peer4' });
    await page.mouse.click(p4.x, p4.y);
    await waitFor('peer4 alive again', async () => (await hook<{ name: string; look: string }[]>('peers')).find((p) => p.name === 'peer4')?.look === 'follower');
    expect(sent('revive').at(-1)).toMatchObject({ type: 'revive', peer: 'peer4' });
  });

  it('when the relay goes away the page says so, and it reconnects by itself', async () => {
    outage = true;
    await fake.stop();
    await waitFor('the page to notice', async () => !(await hook<boolean>('connected')), 10_000);
    await page.locator('#conn', { hasText: /unreachable|connecting/ }).waitFor();
    expect((await hook<{ look: string }[]>('peers')).every((p) => p.look === 'unreachable' || p.look === 'grave')).toBe(true);
    await fake.restart();
    await waitFor('the page to reconnect', () => hook<boolean>('connected'), 15_000);
    await page.locator('#conn', { hasText: 'relay connected' }).waitFor();
    outage = false;
  });

  it('nothing went wrong in the page', () => {
    expect(problems).toEqual([]);
  });
});
