// The timeline and replay in a real browser, on a real cluster: the relay (in this process) records
// the run; dragging the timeline back shows the leader and terms the recording holds for that
// moment, changes nothing in the cluster, and Live returns; `npm run replay -- FILE` of the same
// recording (a real process, no relay, no peers) shows the same villagers and log table, with the
// controls that need a live cluster greyed out and saying why.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../../peer/spawn.ts';
import type { PeerView } from '../../shared/village.ts';
import { waitFor } from '../support/cluster.ts';
import { watchedPage, type Browser } from './support/chromium.ts';
import { villageInChromium, type VillageInChromium } from './support/fixture.ts';
import type { TestVillage } from './support/village.ts';

const PEERS = 3;
const OUT = join(REPO_ROOT, 'test-output');

interface Probe {
  name: string;
  look: string;
  role: string;
  term: number;
}
interface TimelineProbe {
  mode: string;
  at: number;
  start: number | null;
  end: number | null;
  ready: boolean;
  note: string;
}

let fixture: VillageInChromium;
let village: TestVillage;
let browser: Browser;
let page: Page;
let replay: ChildProcess | null = null;
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  fixture = await villageInChromium({ peers: PEERS, profile: 'fast', attacks: false }, problems);
  ({ village, browser, page } = fixture);
}, 600_000);

afterAll(async () => {
  if (replay?.pid) {
    try {
      process.kill(-replay.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await fixture?.close();
}, 30_000);

const peersOf = (p: Page) => p.evaluate(() => window.__village!.peers().map(({ name, look, role, term }) => ({ name, look, role, term }))) as Promise<Probe[]>;
const timelineOf = (p: Page) => p.evaluate(() => window.__village!.timeline()) as Promise<TimelineProbe>;
const leaderOf = (p: Page) => p.evaluate(() => window.__village!.leader());

/** The peers as the recording holds them at `t`: every snapshot and `peer` delta up to it, read plainly from the file. */
function recordedPeers(file: string, t: number): Map<string, Partial<PeerView>> {
  const peers = new Map<string, Partial<PeerView>>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const f = JSON.parse(line) as { type: string; now: number; picture?: { peers: PeerView[] }; deltas?: { type: string; peer?: PeerView }[] };
    if (f.now > t) break;
    if (f.type === 'snapshot') {
      peers.clear();
      for (const p of f.picture!.peers) peers.set(p.name, p);
    }
    if (f.type === 'batch') for (const d of f.deltas!) if (d.type === 'peer') peers.set(d.peer!.name, { ...peers.get(d.peer!.name), ...d.peer });
  }
  return peers;
}

function recordedLeader(peers: Map<string, Partial<PeerView>>): { name: string; term: number } | null {
  let best: { name: string; term: number } | null = null;
  for (const p of peers.values()) if (p.role === 'leader' && p.reporting && p.process !== 'down' && (!best || p.term! > best.term)) best = { name: p.name!, term: p.term! };
  return best;
}

/** Drags the timeline's thumb from where it is to the given fraction of the bar. */
async function dragTimeline(p: Page, fraction: number): Promise<void> {
  const box = (await p.locator('#timeline .tl-range').boundingBox())!;
  const tl = await timelineOf(p);
  const from = tl.mode === 'live' || tl.start === null || tl.end === null ? 1 : (tl.at - tl.start) / (tl.end - tl.start);
  // The thumb's centre runs from 8 px inside one end to 8 px inside the other.
  const x = (f: number) => box.x + 8 + f * (box.width - 16);
  const y = box.y + box.height / 2;
  await p.mouse.move(x(from), y);
  await p.mouse.down();
  await p.mouse.move(x(fraction), y, { steps: 10 });
  await p.mouse.up();
}

let firstLeader: { name: string; term: number };
let beforeKill = 0;
let finalLive: { peers: Probe[]; rows: Record<string, string[]> };
let recording = '';

describe('the timeline on a real cluster', { timeout: 420_000 }, () => {
  it('dragging the timeline back shows the leader and terms the recording holds for that moment, and Live returns', async () => {
    await page.goto(village.url, { timeout: 90_000 });
    await page.waitForFunction(() => window.__village?.connected() && window.__village.leader() !== null, null, { timeout: 60_000 });
    const name = (await leaderOf(page))!;
    firstLeader = { name, term: (await peersOf(page)).find((p) => p.name === name)!.term };
    await new Promise((r) => setTimeout(r, 6000));
    beforeKill = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const killed = await village.relay.control.execute({ type: 'kill', peer: firstLeader.name });
    expect(killed.ok, killed.text).toBe(true);
    await waitFor('another leader, in a later term', async () => {
      const l = await leaderOf(page);
      return l !== null && l !== firstLeader.name;
    }, 30_000);
    const liveLeader = await leaderOf(page);
    await new Promise((r) => setTimeout(r, 2000));

    // Back to 2.5 s before the kill (a moment the first leader still led); a mouse is not
    // precise to the pixel, so further left if the drag fell short.
    // The page asks for the recording's extent when the pointer reaches the bar.
    await page.hover('#timeline');
    await page.waitForFunction(() => window.__village!.timeline().start !== null, null, { timeout: 60_000 });
    let shown: TimelineProbe = await timelineOf(page);
    const tries: string[] = [];
    for (let i = 0; i < 4; i++) {
      // The bar's end is now, so a fraction holds only for the moment it is taken.
      const bar = await timelineOf(page);
      const end = bar.mode === 'live' ? Date.now() : bar.end!;
      const fraction = (beforeKill - 2500 * (i + 1) - bar.start!) / (end - bar.start!);
      await dragTimeline(page, Math.max(0, fraction));
      await page.waitForFunction(() => {
        const t = window.__village!.timeline();
        return t.mode === 'rewound' && t.ready;
      }, null, { timeout: 60_000 });
      shown = await timelineOf(page);
      tries.push(`aimed at ${(fraction * 100).toFixed(1)}%, shown ${shown.at - beforeKill} ms from the kill's eve (bar ${shown.start}..${shown.end})`);
      if (shown.at < beforeKill) break;
    }
    expect(shown.at, tries.join('; ')).toBeLessThan(beforeKill);
    recording = village.relay.recorder!.currentFile!;
    const held = recordedPeers(recording, shown.at);
    const leader = recordedLeader(held);
    expect(leader, 'the recording holds a leader at that moment').not.toBeNull();
    expect(await leaderOf(page)).toBe(leader!.name);
    const drawn = await peersOf(page);
    expect(drawn.map((p) => [p.name, p.term])).toEqual([...held.values()].map((p) => [p.name, p.term]));
    // That moment is not now: the first leader, killed since, leads there.
    expect(leader!.name).toBe(firstLeader.name);
    expect(leader!.name).not.toBe(liveLeader);
    expect(shown.note).toMatch(/rewound, view only: the cluster is not changed/);
    await page.screenshot({ path: join(OUT, 'timeline-rewound.png') });

    // Rewound, a click on a villager changes nothing in the cluster, and says why.
    const pid = village.pid(liveLeader!);
    const target = drawn.find((p) => p.name === liveLeader)!;
    const at = (await page.evaluate(() => window.__village!.peers())).find((p) => p.name === target.name)!;
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction(() => document.getElementById('console-out')!.textContent!.includes('not done: rewound'), null, { timeout: 5000 });
    expect(village.pid(liveLeader!)).toBe(pid);
    expect(village.relay.picture.peer(liveLeader!)?.process).toBe('up');

    await page.locator('#timeline .tl-live').click();
    await page.waitForFunction(() => window.__village!.timeline().mode === 'live', null, { timeout: 5000 });
    expect(await leaderOf(page)).toBe(liveLeader);
    expect(problems).toEqual([]);
  });

  it('npm run replay of the recorded run shows the same villagers and log table, with the live-only controls greyed and saying why', async () => {
    if ((await timelineOf(page)).mode !== 'live') await page.locator('#timeline .tl-live').click();
    const put = await village.relay.control.execute({ type: 'console', line: 'x add 5' });
    expect(put.ok, put.text).toBe(true);
    await page.waitForFunction(() => window.__village!.kv().x === 5, null, { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 1000));
    finalLive = { peers: await peersOf(page), rows: (await page.evaluate(() => window.__village!.logRows())) as Record<string, string[]> };
    // The relay stops first (the recorder writes what it holds), then the cluster.
    recording = village.relay.recorder!.currentFile!;
    expect(problems).toEqual([]);
    await page.close();
    await village.relay.close();

    replay = spawn('npm', ['run', 'replay', '--', recording, '--port', '0'], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    replay.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    replay.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    for (const end = Date.now() + 120_000; !/open (http:\/\/\S+)/.test(out); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > end || replay.exitCode !== null) throw new Error(`npm run replay printed no address:\n${out}`);
    }
    const url = /open (http:\/\/\S+)/.exec(out)![1]!;

    const replayProblems: string[] = [];
    const p = await watchedPage(browser, replayProblems);
    await p.goto(url, { timeout: 90_000 });
    await p.waitForFunction(() => window.__village?.timeline().mode === 'replay' && window.__village.timeline().ready, null, { timeout: 30_000 });
    // To the end of the recording: a click at the bar's far right.
    const box = (await p.locator('#timeline .tl-range').boundingBox())!;
    await p.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
    await p.waitForFunction(() => {
      const t = window.__village!.timeline();
      return t.ready && t.end !== null && t.at >= t.end;
    }, null, { timeout: 20_000 });
    expect(await peersOf(p)).toEqual(finalLive.peers);
    expect(await p.evaluate(() => window.__village!.logRows())).toEqual(finalLive.rows);
    // Not an empty table: the leader's row holds at least its term's first entry and x add 5.
    expect(Math.max(...Object.values(finalLive.rows).map((r) => r.length))).toBeGreaterThan(1);

    // Greyed, with the reason: the console, the Live button, and a click on a villager.
    const input = p.locator('#console-input');
    expect(await input.isDisabled()).toBe(true);
    expect(await input.getAttribute('placeholder')).toBe('replay: no cluster is running');
    expect(await p.locator('#timeline .tl-live').isDisabled()).toBe(true);
    expect(await p.locator('#timeline .tl-live').getAttribute('title')).toMatch(/no cluster is running/);
    expect((await timelineOf(p)).note).toMatch(/no cluster is running: the console, clicks on villagers and the attacks are off/);
    const v = (await p.evaluate(() => window.__village!.peers()))[0]!;
    await p.mouse.click(v.x, v.y);
    await p.waitForFunction(() => document.getElementById('console-out')!.textContent!.includes('not done: replay of'), null, { timeout: 5000 });
    await p.screenshot({ path: join(OUT, 'replay.png') });
    expect(replayProblems).toEqual([]);
  });
});
