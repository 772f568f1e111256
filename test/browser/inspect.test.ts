// Looking inside, in a real browser on a real cluster: the inspector (villager menu -> Inspect)
// shows exactly what the peer's /admin status says — Figure 2's fields, its log, and on a leader
// only nextIndex/matchIndex — and a click on a letter in flight reads what its RPC said, as the
// sending peer reported it in its -v events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { PeerEvent } from '../../shared/events.ts';
import type { AdminReply } from '../../shared/peer-protocol.ts';
import { waitFor } from '../support/cluster.ts';
import type { InspectorProbe } from '../../game/src/page/inspector.ts';
import type { LetterProbe } from '../../game/src/page/letterPanel.ts';
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

type Status = Extract<AdminReply, { type: 'status' }>;

const villagers = () => page.evaluate(() => window.__village!.peers());
const inspector = () => page.evaluate(() => window.__village!.inspector()) as Promise<InspectorProbe | null>;
const letter = () => page.evaluate(() => window.__village!.letter()) as Promise<LetterProbe | null>;
const status = async (name: string) => (await village.cluster.admin(name, { type: 'status', log: { last: 50 }, progress: true })) as Status;

/** The panel a status should give, in the panel's words. */
function shownFor(st: Status): InspectorProbe {
  return {
    peer: st.peer,
    fields: {
      currentTerm: String(st.term),
      votedFor: st.vote ?? 'null',
      commitIndex: String(st.commitIndex),
      lastApplied: String(st.appliedIndex),
      role: st.role,
      leader: st.leader ?? 'unknown',
      lastLogIndex: String(st.lastIndex),
      lastLogTerm: String(st.lastTerm),
    },
    log: st.log!.entries.map((e) => [String(e.index), String(e.term), e.command]),
    progress: st.progress ? st.progress.map((f) => [f.peer, String(f.nextIndex), String(f.matchIndex)]) : null,
    error: null,
  };
}

/** Opens the inspector from the villager's menu (right-click, then Inspect). */
async function inspect(name: string): Promise<void> {
  const v = (await villagers()).find((p) => p.name === name)!;
  await page.mouse.click(v.x, v.y, { button: 'right' });
  // A click event on the menu's button (the page may be slow to settle under load; the panel is what is tested).
  await page.locator('#menu button', { hasText: `Inspect ${name}` }).dispatchEvent('click', undefined, { timeout: 20_000 });
}

/** Waits until the inspector shows what the peer's /admin status says, and checks it. */
async function expectInspectorMatchesAdmin(name: string): Promise<InspectorProbe> {
  let last: { shown: InspectorProbe | null; want: InspectorProbe } | null = null;
  await waitFor(
    `the inspector of ${name} to equal its /admin status`,
    async () => {
      const want = shownFor(await status(name));
      const shown = await inspector();
      last = { shown, want };
      return JSON.stringify(shown) === JSON.stringify(want);
    },
    20_000,
    200,
  ).catch(() => {});
  expect(last).not.toBeNull();
  expect(last!.shown).toEqual(last!.want);
  return last!.shown!;
}

/**
 * Clicks, in the page, the first letter drawn that `want` accepts, away from every villager (a
 * click there must not kill one), at the moment it is seen (letters move every frame; in the
 * fast profile most have already landed in the model while still drawn flying). Resolves with
 * its rid, or null if none came within `timeoutMs`.
 */
function clickLetter(want: { rpc: string; from?: string; minEntries?: number }, timeoutMs: number): Promise<string | null> {
  return page.evaluate(
    ({ want, timeoutMs }) =>
      new Promise<string | null>((resolve) => {
        const v = window.__village!;
        const canvas = document.querySelector('canvas')!;
        const end = performance.now() + timeoutMs;
        const look = () => {
          const people = v.peers();
          const all = v.letterList();
          const l = all
            // Alone where it is drawn (a click takes the nearest letter), and away from the villagers.
            .filter((x) => all.every((o) => o.rid === x.rid || Math.hypot(o.x - x.x, o.y - x.y) > 24))
            .find((x) => x.rpc === want.rpc && (want.from === undefined || x.from === want.from) && x.entries >= (want.minEntries ?? 0) && people.every((p) => Math.hypot(p.x - x.x, p.y - x.y) > 80));
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

// The launcher runs the peers, not the test cluster: name them all when asking for a leader.
const leaderName = () => village.cluster.waitForLeader({ among: village.cluster.names });
async function write(command: unknown[]): Promise<void> {
  const r = await village.cluster.request(await leaderName(), command);
  if (!r.ok) throw new Error(`${JSON.stringify(command)}: ${JSON.stringify(r)}`);
}

const sentEvent = (rid: string) => waitFor(`the rpc_send of ${rid}`, () => watcher.events.find((e): e is Extract<PeerEvent, { type: 'rpc_send' }> => e.type === 'rpc_send' && e.rid === rid), 10_000);

describe('looking inside the village, in Chromium with a real cluster', { timeout: 90_000 }, () => {
  it('the leader\'s inspector equals its /admin status: Figure 2\'s fields, its log and nextIndex/matchIndex per follower', async () => {
    const leader = await leaderName();
    await write(['x', 'add', 100]);
    await write(['<b>k</b>', 'set', '<img src=x onerror=alert(1)>']);
    await inspect(leader);
    const shown = await expectInspectorMatchesAdmin(leader);
    expect(shown.fields.role).toBe('leader');
    expect(shown.progress?.map((r) => r[0]).sort()).toEqual(village.cluster.names.filter((n) => n !== leader).sort());
    // A command is user input: shown as text, never as markup.
    expect(shown.log.some((r) => r[2] === '<b>k</b> set "<img src=x onerror=alert(1)>"')).toBe(true);
    expect(await page.locator('#inspector img, #inspector b').count()).toBe(0);
  });

  it('stays live while open: a new command appears in the leader\'s log without reopening', async () => {
    const leader = (await inspector())!.peer;
    await write(['live', 'set', 1]);
    let shown = null as InspectorProbe | null;
    await waitFor('the new entry in the open inspector', async () => (shown = await inspector())?.log.some((r) => r[2] === 'live set 1'), 30_000).catch(() => {});
    expect(shown?.log.map((r) => r[2])).toContain('live set 1');
    await expectInspectorMatchesAdmin(leader);
  });

  it('a follower\'s inspector equals its /admin status and shows no nextIndex or matchIndex', async () => {
    await page.keyboard.press('Escape');
    expect(await inspector()).toBeNull();
    const leader = await leaderName();
    const follower = village.cluster.names.find((n) => n !== leader)!;
    await inspect(follower);
    const shown = await expectInspectorMatchesAdmin(follower);
    expect(shown.fields.role).toBe('follower');
    expect(shown.progress).toBeNull();
    expect(await page.locator('#inspector').textContent()).not.toMatch(/nextIndex|matchIndex/);
    await page.locator('#inspector .inspect-close').dispatchEvent('click');
    expect(await inspector()).toBeNull();
    expect(await page.locator('#inspector').isHidden()).toBe(true);
  });

  it('a heartbeat letter reads what the leader sent: term, leaderId, prevLogIndex/prevLogTerm, no entries, leaderCommit', async () => {
    const leader = await leaderName();
    const rid = await clickLetter({ rpc: 'append_entries', from: leader }, 10_000);
    expect(rid, 'a letter from the leader to click').not.toBeNull();
    const sent = await sentEvent(rid!);
    const shown = (await letter())!;
    expect(shown.rid).toBe(rid);
    expect(shown.title).toBe(`AppendEntries${sent.entries === 0 ? ' (heartbeat)' : ''} ${leader} → ${sent.to}`);
    const first = sent.prevLogIndex! + 1;
    expect(shown.fields).toEqual({
      term: String(sent.term),
      leaderId: leader,
      prevLogIndex: String(sent.prevLogIndex),
      prevLogTerm: String(sent.prevLogTerm),
      entries: sent.entries === 0 ? '0 (heartbeat)' : `${sent.entries} (${first}..${first + sent.entries - 1})`,
      leaderCommit: String(sent.leaderCommit),
      // A heartbeat sent early (within the sampler's spacing of the one before) is counted by the next letter drawn.
      ...(watcher.more.has(rid!) ? { 'stands for': `${watcher.more.get(rid!)! + 1} append_entries letters (${watcher.more.get(rid!)} more sent within 40 ms, not drawn)` } : {}),
    });
    expect(shown.actions).toEqual(['Close']);
    await page.keyboard.press('Escape');
    expect(await letter()).toBeNull();
  });

  it('an AppendEntries with entries shows their commands, read from the leader\'s log', async () => {
    const leader = await leaderName();
    // Entries letters follow each other on the same way within moments: delay what one follower
    // receives, so that one write's letter to it flies long enough, alone, to be clicked.
    const slow = village.cluster.names.find((n) => n !== leader)!;
    await village.cluster.admin(slow, { type: 'faults', latencyMs: 1500 });
    let rid: string | null = null;
    try {
      for (let i = 0; i < 3 && rid === null; i++) {
        const clicked = clickLetter({ rpc: 'append_entries', from: leader, minEntries: 1 }, 6_000);
        await village.cluster.request(leader, ['letter', 'add', 1]).catch(() => {});
        rid = await clicked;
      }
    } finally {
      await village.cluster.admin(slow, { type: 'faults', latencyMs: 0 });
    }
    expect(rid, 'an AppendEntries with entries to click').not.toBeNull();
    const sent = await sentEvent(rid!);
    const shown = await waitFor('the commands read from the leader', async () => {
      const l = await letter();
      return l && l.entries.length > 0 ? l : undefined;
    }, 30_000);
    expect(shown.rid).toBe(rid);
    const from = sent.prevLogIndex! + 1;
    const log = ((await village.cluster.admin(leader, { type: 'status', log: { from, to: from + sent.entries - 1 } })) as Status).log!;
    expect(shown.entries).toEqual(log.entries.map((e) => `${e.index}  t${e.term}  ${e.command}`));
    expect(shown.entries.length).toBe(sent.entries);
    await page.keyboard.press('Escape');
  });

  it('a vote request reads the candidate and its last log index and term, as it sent them', async () => {
    const leader = await leaderName();
    const candidate = village.cluster.names.find((n) => n !== leader)!;
    // In the fast profile an election is over in a moment, and the winner's AppendEntries fly
    // the same way at once: delay what the voters receive, so the vote requests stay in the air.
    const voters = village.cluster.names.filter((n) => n !== candidate);
    for (const n of voters) await village.cluster.admin(n, { type: 'faults', latencyMs: 1500 });
    let rid: string | null = null;
    try {
      for (let i = 0; i < 3 && rid === null; i++) {
        const clicked = clickLetter({ rpc: 'request_vote', from: candidate }, 6_000);
        await village.cluster.admin(candidate, { type: 'campaign' });
        rid = await clicked;
      }
    } finally {
      for (const n of voters) await village.cluster.admin(n, { type: 'faults', latencyMs: 0 });
    }
    expect(rid, 'a vote request to click').not.toBeNull();
    const sent = await sentEvent(rid!);
    const shown = (await letter())!;
    expect(shown.rid).toBe(rid);
    expect(shown.title).toBe(`${sent.preVote ? 'PreVote' : 'RequestVote'} ${candidate} → ${sent.to}`);
    expect(shown.fields).toEqual({ term: String(sent.term), candidateId: candidate, lastLogIndex: String(sent.lastLogIndex), lastLogTerm: String(sent.lastLogTerm) });
    await page.keyboard.press('Escape');
    expect(problems).toEqual([]);
  });
});
