// Drop, on a real cluster: the relay (in this process), the launcher with three real peer
// processes (-v, fast profile) and headless Chromium. While the village is paused the letter
// panel offers Drop for a letter its receiver holds; the receiver throws it away unread (its log
// and term stay as they were, no rpc_recv ever comes for it) and reports the drop; after resume
// Raft sends again and the write it carried commits everywhere. While running, no Drop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { PeerEvent } from '../../shared/events.ts';
import type { LetterProbe } from '../../game/src/page/letterPanel.ts';
import { waitFor } from '../support/cluster.ts';
import { villageInChromium, type VillageInChromium } from './support/fixture.ts';
import { watchEvents, type EventWatch } from './support/events.ts';
import type { TestVillage } from './support/village.ts';

let fixture: VillageInChromium;
let village: TestVillage;
let page: Page;
let watcher: EventWatch;
const problems: string[] = [];

beforeAll(async () => {
  fixture = await villageInChromium({ peers: 3, profile: 'fast', attacks: false }, problems);
  ({ village, page } = fixture);
  watcher = watchEvents(village.relay.port);
  await page.goto(village.url, { timeout: 120_000 });
  await page.waitForFunction(() => window.__village?.connected() && window.__village.leader() !== null, null, { timeout: 60_000 });
}, 600_000);

afterAll(async () => {
  watcher?.close();
  await fixture?.close();
}, 30_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const letter = () => page.evaluate(() => window.__village!.letter()) as Promise<LetterProbe | null>;
const clock = () => village.relay.picture.snapshot().clock!;
const peerOf = (name: string) => village.relay.picture.peerList().find((p) => p.name === name)!;
const leaderName = () => village.cluster.waitForLeader({ among: village.cluster.names });
const context = () => `\nclock: ${JSON.stringify(clock())}\noutput (tail):\n${village.output().slice(-3000)}`;

/** Game keys go to the page, not to the console's text field. */
async function key(k: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press(k);
}

/**
 * Clicks, in the page, the letter drawn that `want` accepts, away from every villager and every
 * other letter, at the moment it is seen. Resolves with its rid, or null after `timeoutMs`.
 */
function clickLetter(want: { rpc: string; from?: string; rid?: string }, timeoutMs: number): Promise<string | null> {
  return page.evaluate(
    ({ want, timeoutMs }) =>
      new Promise<string | null>((resolve) => {
        const v = window.__village!;
        const canvas = document.querySelector('canvas')!;
        const end = performance.now() + timeoutMs;
        const look = () => {
          const people = v.peers();
          const all = v.letterList();
          // A letter asked for by rid need only be nearer the click than any other (letters on one
          // way, sent 50 ms apart, stand close together while paused) and off every villager's
          // click zone (84 x 104 px around it); any other must be alone and well away.
          const byRid = want.rid !== undefined;
          const apart = byRid ? 1 : 24;
          const offVillagers = (x: { x: number; y: number }) =>
            people.every((p) => (byRid ? Math.abs(p.x - x.x) > 50 || Math.abs(p.y - 6 - x.y) > 60 : Math.hypot(p.x - x.x, p.y - x.y) > 80));
          const l = all
            .filter((x) => all.every((o) => o.rid === x.rid || Math.hypot(o.x - x.x, o.y - x.y) > apart))
            .find((x) => x.rpc === want.rpc && (want.from === undefined || x.from === want.from) && (want.rid === undefined || x.rid === want.rid) && offVillagers(x));
          if (l) {
            canvas.dispatchEvent(new MouseEvent('mousedown', { clientX: l.x, clientY: l.y, button: 0, bubbles: true }));
            window.dispatchEvent(new MouseEvent('mouseup', { clientX: l.x, clientY: l.y, button: 0, bubbles: true }));
            resolve(l.rid);
          } else if (performance.now() > end) resolve(null);
          else requestAnimationFrame(look);
        };
        look();
      }),
    { want, timeoutMs },
  );
}

describe('dropping a held letter while the village is paused, in Chromium with a real cluster', { timeout: 120_000 }, () => {
  it('while the village runs, a letter\'s panel offers no Drop', async () => {
    const leader = await leaderName();
    const rid = await clickLetter({ rpc: 'append_entries', from: leader }, 10_000);
    expect(rid, 'a letter from the leader to click').not.toBeNull();
    const shown = (await letter())!;
    expect(shown.rid).toBe(rid);
    expect(clock().paused).toBe(false);
    expect(shown.actions).toEqual(['Close']);
    await page.keyboard.press('Escape');
  });

  it('paused: Drop on a write\'s letter its receiver holds drops it there unread; after resume Raft sends again and the write commits', async () => {
    const leader = await leaderName();
    const follower = village.cluster.names.find((n) => n !== leader)!;
    // At 0.05x a letter the page draws in 420 village ms flies for 8 s, and the follower holds
    // what it receives 400 village ms (8 s): time enough to pause while one of the write's
    // letters is drawn on its way, off the villagers, so it can be clicked, and still held.
    await village.relay.clock.command({ type: 'clock', action: 'speed', speed: 0.05 }, 'a test');
    await village.cluster.admin(follower, { type: 'faults', latencyMs: 400 });
    let rid: string | null = null;
    let answer: Promise<unknown> | null = null;
    const tried: string[] = [];
    try {
      for (let i = 0; i < 3 && rid === null; i++) {
        await page.keyboard.press('Escape');
        if (clock().paused) {
          await key('Space');
          await waitFor(`running${context()}`, () => !clock().paused, 5000);
        }
        await page.waitForFunction(() => window.__village!.clock()?.paused === false && window.__village!.clock()?.speed === '0.05x', null, { timeout: 30_000 });
        const from = watcher.events.length;
        answer = village.cluster.request(leader, ['dropped', 'set', i], {}, 90_000).catch((e: Error) => e);
        const sent = await waitFor(
          'the write\'s AppendEntries to the follower',
          () => watcher.events.slice(from).find((e): e is Extract<PeerEvent, { type: 'rpc_send' }> => e.type === 'rpc_send' && e.peer === leader && e.to === follower && e.rpc === 'append_entries' && e.entries > 0),
          20_000,
        );
        // Pause once the page draws it away from the villagers (letters are drawn at most 0.88 of the way).
        await page
          .waitForFunction(
            (rid) => {
              const v = window.__village!;
              const l = v.letterList().find((x) => x.rid === rid);
              return l !== undefined && v.peers().every((p) => Math.abs(p.x - l.x) > 60 || Math.abs(p.y - 6 - l.y) > 70);
            },
            sent.rid,
            { timeout: 10_000 },
          )
          .catch(() => {});
        await key('Space');
        await waitFor(`paused${context()}`, () => clock().paused, 5000);
        await page.waitForFunction(() => window.__village!.clock()?.paused, null, { timeout: 30_000 });
        await waitFor('the follower to report what it holds', () => (clock().held ?? []).includes(sent.rid), 3000).catch(() => {});
        if (!(clock().held ?? []).includes(sent.rid)) {
          tried.push(`${sent.rid} not held`);
          continue;
        }
        const clicked = await clickLetter({ rpc: 'append_entries', rid: sent.rid }, 2000);
        if (clicked === sent.rid) rid = clicked;
        else tried.push(`${sent.rid} not drawn apart: ${JSON.stringify((await page.evaluate(() => window.__village!.letterList())).find((l) => l.rid === sent.rid))}`);
      }
    } finally {
      await village.cluster.admin(follower, { type: 'faults', latencyMs: 0 });
    }
    expect(rid, `a write's letter held by ${follower}, clicked: ${tried.join('; ')}${context()}`).not.toBeNull();
    await waitFor('Drop offered', async () => (await letter())?.actions.includes('Drop'), 10_000);
    expect((await letter())!.actions).toEqual(['Drop', 'Close']);

    const before = peerOf(follower);
    const leaderLast = peerOf(leader).lastIndex;
    expect(before.lastIndex, 'the follower lacks the entry the letter carries').toBeLessThan(leaderLast);
    const from = watcher.events.length;
    // A DOM click on the button (a mouse click over the board could reach a villager under it).
    await page.locator('#letter-panel .letter-actions button', { hasText: 'Drop' }).dispatchEvent('click');
    const dropped = await waitFor('the follower reports the drop', () => watcher.events.slice(from).find((e) => e.type === 'rpc_drop' && e.rid === rid), 10_000);
    expect(dropped).toMatchObject({ type: 'rpc_drop', peer: follower, to: follower, reason: 'dropped', rid, rpc: 'append_entries' });
    await waitFor('the panel says dropped', async () => (await letter())?.state === 'dropped (dropped)', 10_000);
    expect((await letter())!.actions).toEqual(['Close']);
    expect(clock().held ?? []).not.toContain(rid);
    await page.locator('#console-out .line', { hasText: `a visitor dropped append_entries from ${leader} held by ${follower} (${rid})` }).first().waitFor({ timeout: 10_000 });
    expect(village.output()).toMatch(new RegExp(`${follower} .*village clock: dropped append_entries ${rid} from ${leader} unread`));
    // Still paused: the follower's log and term are as they were.
    await sleep(500);
    const after = peerOf(follower);
    expect({ term: after.term, lastIndex: after.lastIndex, commit: after.commitIndex }).toEqual({ term: before.term, lastIndex: before.lastIndex, commit: before.commitIndex });

    await village.relay.clock.command({ type: 'clock', action: 'speed', speed: 1 }, 'a test');
    await key('Space');
    await waitFor(`running again${context()}`, () => !clock().paused, 5000);
    const r = (await answer) as { ok?: boolean };
    expect(r, 'the write is answered after resume').toMatchObject({ ok: true });
    await waitFor('the follower catches up (Raft sent again)', () => peerOf(follower).lastIndex >= leaderLast, 10_000);
    await sleep(500);
    expect(watcher.events.some((e) => e.type === 'rpc_recv' && e.rid === rid), 'the dropped letter never landed').toBe(false);
    expect(peerOf(follower).term).toBe(before.term);
    expect(problems).toEqual([]);
  });

  it('Drop asked for a letter no receiver holds is refused, saying why', async () => {
    if (clock().paused) await village.relay.clock.command({ type: 'clock', action: 'resume' }, 'a test');
    const running = await village.relay.clock.command({ type: 'clock', action: 'drop', rid: 'peer1:1' }, 'a test');
    expect(running).toEqual({ ok: false, text: 'drop works while the village is paused: press space to pause it first' });
    await village.relay.clock.command({ type: 'clock', action: 'pause' }, 'a test');
    const r = await village.relay.clock.command({ type: 'clock', action: 'drop', rid: 'peer1:1' }, 'a test');
    expect(r).toEqual({ ok: false, text: 'no villager holds letter peer1:1: only a letter its receiver holds while paused can be dropped' });
    await village.relay.clock.command({ type: 'clock', action: 'resume' }, 'a test');
    expect(clock().paused).toBe(false);
  });
});
