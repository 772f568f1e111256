// The village clock on a real cluster: the relay (in this process), the launcher with three real
// peer processes (-v, fast profile: heartbeats every 50 ms, elections after 300-600 ms), and
// headless Chromium pressing the clock's keys. What the cluster does is read from the peers'
// own events (a plain subscriber on the relay's /village) and the relay's picture.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { WebSocket } from 'ws';
import type { PeerEvent } from '../../shared/events.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { pidAlive, waitFor } from '../support/cluster.ts';
import { ensureGameBuilt } from './support/build.ts';
import { ensureChromium, launchChromium, watchedPage, type Browser } from './support/chromium.ts';
import { startVillage, type TestVillage } from './support/village.ts';

const PEERS = 3;
const HEARTBEAT_MS = 50;
const ELECTION_MAX_MS = 600;
const MAX_PAUSE_S = 3;

let village: TestVillage;
let browser: Browser;
let page: Page;
let events: { at: number; e: PeerEvent }[] = [];
let sub: WebSocket;
const problems: string[] = [];

beforeAll(async () => {
  ensureChromium();
  ensureGameBuilt();
  village = await startVillage({ peers: PEERS, profile: 'fast', attacks: false, ini: `[relay]\nmax_pause_s = ${MAX_PAUSE_S}` });
  sub = new WebSocket(`${village.url.replace(/^http/, 'ws')}village`);
  sub.on('message', (data) => {
    const msg = JSON.parse(String(data)) as RelayToBrowser;
    if (msg.type !== 'batch') return;
    for (const d of msg.deltas) if (d.type === 'event') events.push({ at: Date.now(), e: d.event });
  });
  await new Promise((r, j) => (sub.once('open', r), sub.once('error', j)));
  browser = await launchChromium();
  page = await watchedPage(browser, problems);
  await page.goto(village.url, { timeout: 120_000 });
  await page.waitForFunction(() => window.__village?.connected(), null, { timeout: 90_000 });
  await waitFor('a leader', () => village.relay.picture.leader() !== null, 20_000);
}, 600_000);

afterAll(async () => {
  sub?.terminate();
  await browser?.close();
  await village?.teardown();
}, 30_000);

const clock = () => village.relay.picture.snapshot().clock!;
/** What the relay shows of each peer: the fields a pause must not change. */
const state = () => village.relay.picture.peerList().map((p) => ({ name: p.name, term: p.term, vote: p.vote, lastIndex: p.lastIndex, commit: p.commitIndex, role: p.role }));
const context = () => `\nclock: ${JSON.stringify(clock())}\npeers: ${JSON.stringify(state())}\noutput (tail):\n${village.output().slice(-3000)}`;
/** Game keys go to the page, not to the console's text field. */
async function key(k: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press(k);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const landed = (from: number, to = Infinity) => events.filter((x) => x.at >= from && x.at < to && x.e.type === 'rpc_recv');
/** Waits until the page shows the clock as the relay has it (a busy machine draws late). */
async function pageCaughtUp(): Promise<void> {
  const { paused, lastStep } = clock();
  await page.waitForFunction(
    ([p, s]) => window.__village!.clock()?.paused === p && (s === null || window.__village!.clock()!.status.includes(s)),
    [paused, paused ? lastStep : null] as const,
    { timeout: 30_000 },
  );
}
/** Space on the page, once it shows the clock as it is: pauses. */
async function pauseAndSettle(): Promise<void> {
  await pageCaughtUp();
  await key('Space');
  await waitFor(`the relay's clock paused${context()}`, () => clock().paused, 5000);
  await page.waitForFunction(() => window.__village!.clock()?.paused, null, { timeout: 60_000 });
  // Letters already written to a socket arrive and are held; give them and the events time.
  await sleep(500);
}

describe('the village clock on a real cluster, in Chromium', { timeout: 90_000 }, () => {
  it('space pauses every peer for 10 s: no term, vote, log or commit changes, no letter lands, every process stays alive; every page says who paused', async () => {
    await pauseAndSettle();
    const before = state();
    const from = Date.now();
    const second = await browser.context.newPage();
    await second.goto(village.url, { timeout: 120_000 });
    await second.waitForFunction(() => window.__village?.connected() && window.__village.clock()?.paused, null, { timeout: 60_000 });
    expect((await second.evaluate(() => window.__village!.clock()))!.status).toMatch(/^Paused by a visitor at .*space or ▶ resumes/);
    // The bar is a strip of its own under the village: it covers no part of the picture, and its status is not cut short.
    const boxes = await second.evaluate(() => {
      const r = (id: string) => document.getElementById(id)!.getBoundingClientRect();
      const status = document.querySelector('#clock-bar .status') as HTMLElement;
      return { village: r('village').bottom, bar: r('clock-bar').top, timeline: r('timeline').top, cut: status.scrollWidth > status.clientWidth };
    });
    expect(boxes.bar, 'the clock bar starts where the village ends').toBeGreaterThanOrEqual(boxes.village);
    expect(boxes.timeline, 'and the timeline under it').toBeGreaterThan(boxes.bar);
    expect(boxes.cut, 'the status is shown in full').toBe(false);
    await second.close();
    await sleep(10_000 - (Date.now() - from));
    expect(state(), context()).toEqual(before);
    expect(landed(from).map((x) => `${x.e.peer} <- ${(x.e as { rid: string }).rid}`), 'letters that landed while paused').toEqual([]);
    for (const p of village.cluster.names) expect(pidAlive(village.pid(p)!), `${p} alive`).toBe(true);
    expect((await page.evaluate(() => window.__village!.clock()))!.status).toMatch(/^Paused by a visitor/);
    expect(await page.evaluate(() => window.__village!.letters())).toBeGreaterThan(0);
  });

  it('each step (.) while paused lands exactly one letter or fires one timer, and the page says which', async () => {
    expect(clock().paused).toBe(true);
    let letters = 0;
    let timers = 0;
    for (let i = 0; i < 8; i++) {
      const was = clock().lastStep;
      const from = Date.now();
      await pageCaughtUp();
      await key('.');
      await waitFor(`step ${i + 1} answered${context()}`, () => clock().lastStep !== was, 5000);
      await sleep(300);
      const step = clock().lastStep!;
      const got = landed(from);
      const m = /^step \d+: (\w+) (delivered (\w+) from (\w+)|fired its timer)/.exec(step);
      expect(m, step).not.toBeNull();
      if (m![3]) {
        letters++;
        expect(got.length, `${step}: letters that landed ${JSON.stringify(got.map((x) => x.e))}`).toBe(1);
        expect(got[0]!.e).toMatchObject({ peer: m![1], type: 'rpc_recv', rpc: m![3], from: m![4] });
      } else {
        timers++;
        expect(got, step).toEqual([]);
      }
      await pageCaughtUp(); // the page says which step
    }
    // A leader's heartbeat timer starts the round, its letters and their replies follow.
    expect(timers).toBeGreaterThan(0);
    expect(letters).toBeGreaterThan(0);
  });

  it('after resume no new term starts within an election timeout', async () => {
    const terms = state().map((p) => p.term);
    await pageCaughtUp();
    await key('Space');
    await waitFor(`running again${context()}`, () => !clock().paused, 5000);
    await sleep(ELECTION_MAX_MS * 2);
    expect(state().map((p) => p.term), context()).toEqual(terms);
    expect(village.relay.picture.leader()).not.toBeNull();
  });

  it('at 0.25x the leader\'s heartbeats come 4x as far apart (median of at least 20 intervals)', async () => {
    // 1 -> 0.75 -> 0.5 -> 0.35 -> 0.25, each once the page shows the one before
    for (const s of [0.75, 0.5, 0.35, 0.25]) {
      await key('BracketLeft');
      await waitFor(`speed ${s}${context()}`, () => clock().speed === s, 10_000);
      await page.waitForFunction((label) => window.__village!.clock()?.speed === label, `${s}x`, { timeout: 30_000 });
    }
    await sleep(1000);
    const from = Date.now();
    await sleep(6000);
    const leader = village.relay.picture.leader()!.name;
    const intervals: number[] = [];
    for (const to of village.cluster.names.filter((n) => n !== leader)) {
      const ts = events.filter((x) => x.at >= from && x.e.type === 'rpc_send' && x.e.peer === leader && x.e.to === to && x.e.heartbeat).map((x) => x.e.t);
      for (let i = 1; i < ts.length; i++) intervals.push(ts[i]! - ts[i - 1]!);
    }
    intervals.sort((a, b) => a - b);
    expect(intervals.length).toBeGreaterThanOrEqual(20);
    const median = intervals[Math.floor(intervals.length / 2)]!;
    expect(median).toBeGreaterThanOrEqual(4 * HEARTBEAT_MS * 0.8);
    expect(median).toBeLessThanOrEqual(4 * HEARTBEAT_MS * 1.2);
    for (const s of [0.35, 0.5, 0.75, 1]) {
      await key('BracketRight');
      await waitFor(`speed ${s}${context()}`, () => clock().speed === s, 10_000);
      await page.waitForFunction((label) => window.__village!.clock()?.speed === label, `${s}x`, { timeout: 30_000 });
    }
  });

  it('a command typed while paused waits, says so, and is answered after resume', async () => {
    await pauseAndSettle();
    await page.locator('#console-input').fill('clocked add 5');
    await page.keyboard.press('Enter');
    /** The console's lines after the last "waiting" line. */
    const afterWaiting = async () => {
      // Each line's text without its time.
      const lines = await page.locator('#console-out .line').evaluateAll((els) => els.map((e) => (e.textContent ?? '').slice((e.querySelector('.at')?.textContent ?? '').length)));
      let at = -1;
      lines.forEach((l, i) => {
        if (/waiting: the village is paused; the command goes to the cluster when it resumes/.test(l)) at = i;
      });
      return at < 0 ? null : lines.slice(at + 1);
    };
    await waitFor('the console says the command waits', async () => (await afterWaiting()) !== null, 30_000);
    await sleep(3000);
    expect(village.relay.picture.snapshot().kv.clocked).toBeUndefined();
    expect(await afterWaiting()).toEqual([]);
    await pageCaughtUp();
    await key('Space');
    await waitFor(`the command answered after resume${context()}`, () => village.relay.picture.snapshot().kv.clocked === 5, 10_000);
    await waitFor('its result in the console', async () => (await afterWaiting())!.some((l) => /^5\b/.test(l.trim())), 30_000);
  });

  it('if the relay goes away while paused, the peers resume by themselves after max_pause_s and say why', async () => {
    await pauseAndSettle();
    const terms = state().map((p) => p.term);
    const pids = village.cluster.names.map((n) => village.pid(n)!);
    const logs = village.output().length;
    sub.terminate();
    await village.relay.close();
    await sleep(MAX_PAUSE_S * 1000 - 1000);
    expect(village.output().slice(logs)).not.toMatch(/resumed by myself/);
    await waitFor(
      'every peer resumed by itself',
      () => village.cluster.names.every((n) => new RegExp(`${n} .*resumed by myself: the relay has been gone for ${MAX_PAUSE_S} s`).test(village.output().slice(logs))),
      MAX_PAUSE_S * 1000 + 5000,
    );
    // Running again, they keep their leader: the heartbeats resumed before anyone timed out.
    await sleep(ELECTION_MAX_MS * 2);
    const statuses = await Promise.all(village.cluster.names.map((n) => village.cluster.status(n)));
    expect(statuses.map((s) => s.term)).toEqual(terms);
    for (const pid of pids) expect(pidAlive(pid)).toBe(true);
  });
});
