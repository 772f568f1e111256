// Membership change and snapshots drawn in a real browser on a real cluster: three members of an
// ini of four, a small snapshot threshold so the logs are compacted after a few writes, and a
// 150 ms delivery pace so a newcomer's catching up lasts long enough to be watched. The page
// is sampled every 40 ms (what the test hook says is drawn), so what was drawn between two
// checks is seen too, and what must never be drawn (a voter as a newcomer, a leaver as a
// gravestone, a book for any other letter) is checked on every sample.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { waitFor } from '../support/cluster.ts';
import { villageInChromium, type VillageInChromium } from './support/fixture.ts';
import type { TestVillage } from './support/village.ts';

const OUT = join(REPO_ROOT, 'test-output');
const MEMBERS = ['peer1', 'peer2', 'peer3'];
const SNAPSHOT_ENTRIES = 5;

interface Sample {
  looks: Record<string, string>;
  letters: Array<{ rpc: string; shape: string; from: string; to: string }>;
  blocks: Record<string, { index: number; term: number; from: number; to: number }>;
  rows: Record<string, string[]>;
}

let fixture: VillageInChromium;
let village: TestVillage;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  fixture = await villageInChromium({
    peers: 4,
    members: 3,
    profile: 'watch',
    ini: '[profile.watch]\nheartbeat_ms = 100\nelection_min_ms = 900\nelection_max_ms = 1400\nlatency_ms = 150\n',
    limits: `[limits]\nmax_frame_bytes = 65536\nsnapshot_entries = ${SNAPSHOT_ENTRIES}\nsnapshot_trailing_entries = 0\n`,
  }, problems);
  ({ village, page } = fixture);
  mkdirSync(OUT, { recursive: true });
}, 600_000);

afterAll(async () => {
  await fixture?.close();
}, 30_000);

const context = () =>
  `\nrelay picture: ${JSON.stringify(village.relay.picture.peerList().map((p) => [p.name, p.process, p.role, p.term, p.config, p.logStart]))}\noutput (tail):\n${village.output().slice(-3000)}`;

/** Every sample the page took since the sampler started. */
const samples = () => page.evaluate(() => (window as unknown as { __samples: Sample[] }).__samples) as Promise<Sample[]>;
const drawnNow = () => page.evaluate(() => window.__village!.peers().map((p) => ({ name: p.name, look: p.look }))) as Promise<Array<{ name: string; look: string }>>;

async function consoleCommand(line: string, answer: RegExp): Promise<void> {
  await page.locator('#console-input').fill(line);
  await page.keyboard.press('Enter');
  await page.locator('#console-out .line', { hasText: answer }).first().waitFor({ timeout: 90_000 });
}

/** A write through whichever member leads now (asked in turn; each command once, by client and seq). */
let seq = 0;
async function write(command: unknown[]): Promise<void> {
  seq++;
  await waitFor(`${JSON.stringify(command)} to succeed${context()}`, async () => {
    for (const n of MEMBERS) {
      const r = await village.cluster.request(n, command, { client: 'membership-test', seq }, 5000).catch(() => null);
      if (r?.ok) return true;
    }
    return false;
  }, 30_000);
}

function leaderName(): string {
  const l = village.relay.picture.leader();
  if (!l) throw new Error(`no leader${context()}`);
  return l.name;
}

describe('moving in, moving out and snapshots, drawn in Chromium on a real cluster', { timeout: 120_000 }, () => {
  it('opens the village of three members, and starts watching what is drawn', async () => {
    await page.goto(village.url);
    await page.waitForFunction(() => window.__village?.connected(), null, { timeout: 20_000 });
    await waitFor(`three villagers and a leader${context()}`, async () => {
      const d = await drawnNow();
      return d.map((p) => p.name).join() === MEMBERS.join() && d.some((p) => p.look === 'leader');
    }, 30_000);
    await page.evaluate(() => {
      const w = window as unknown as { __samples: Sample[] };
      w.__samples = [];
      setInterval(() => {
        const v = window.__village!;
        w.__samples.push({
          looks: Object.fromEntries(v.peers().map((p) => [p.name, p.look])),
          letters: v.letterList().map((l) => ({ rpc: l.rpc, shape: l.shape, from: l.from, to: l.to })),
          blocks: v.snapshotBlocks(),
          rows: v.logRows(),
        });
      }, 40);
    });
    expect(await page.evaluate(() => window.__village!.snapshotBlocks())).toEqual({});
  });

  it('after compaction each row shows one snapshot block with its last index and term, and no tile at or below it', async () => {
    for (let i = 1; i <= 2 * SNAPSHOT_ENTRIES + 2; i++) await write(['n', 'add', 1]);
    await waitFor(`every member's log compacted at the relay${context()}`, () => MEMBERS.every((n) => (village.relay.picture.peer(n)?.logStart?.snapshotIndex ?? 0) >= SNAPSHOT_ENTRIES), 30_000);
    await waitFor(`the page draws what the relay holds${context()}`, async () => {
      const blocks = await page.evaluate(() => window.__village!.snapshotBlocks());
      return MEMBERS.every((n) => {
        const s = village.relay.picture.peer(n)!.logStart!;
        return blocks[n]?.index === s.snapshotIndex && blocks[n]?.term === s.snapshotTerm;
      });
    }, 10_000);
    const blocks = await page.evaluate(() => window.__village!.snapshotBlocks());
    const rows = await page.evaluate(() => window.__village!.logRows());
    for (const n of MEMBERS) {
      const p = village.relay.picture.peer(n)!;
      const b = blocks[n]!;
      expect(b.term).toBe(p.logStart!.snapshotTerm);
      expect(b.to).toBe(p.logStart!.snapshotIndex);
      // The tiles are exactly the entries after the snapshot, in order, and none before.
      const indexes = rows[n]!.map((t) => Number(t.split(':')[0]));
      expect(indexes.every((i) => i > b.index)).toBe(true);
      expect(indexes).toEqual(p.log.map((t) => t.index).filter((i) => i >= b.from));
    }
    await page.screenshot({ path: join(OUT, 'membership-snapshot.png') });
    // Never a tile inside a drawn block, at any moment watched.
    for (const s of await samples()) {
      for (const [n, b] of Object.entries(s.blocks)) expect((s.rows[n] ?? []).filter((t) => Number(t.split(':')[0]) <= b.index)).toEqual([]);
    }
  });

  it('join peer4: it appears as a newcomer while a learner, is sent the snapshot as a book, and is a plain villager once it votes', async () => {
    await page.locator('#console-input').fill('join peer4');
    await page.keyboard.press('Enter');
    // Pictures of the newcomer, and of the first book seen in the air (the checks below read the samples).
    let bookShot = false;
    const shootBook = (async () => {
      const end = Date.now() + 30_000;
      while (!bookShot && Date.now() < end) {
        if ((await page.evaluate(() => window.__village!.letterList())).some((l) => l.shape === 'book')) {
          await page.screenshot({ path: join(OUT, 'membership-book.png') });
          bookShot = true;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(`peer4 drawn as a newcomer${context()}`, async () => (await drawnNow()).find((p) => p.name === 'peer4')?.look === 'newcomer', 30_000, 30);
    await page.screenshot({ path: join(OUT, 'membership-newcomer.png') });
    await page.locator('#console-out .line', { hasText: /peer4 joined the cluster/ }).first().waitFor({ timeout: 90_000 });
    bookShot = true;
    await shootBook;
    await waitFor(`peer4 drawn as a voter${context()}`, async () => {
      const d = await drawnNow();
      return d.length === 4 && d.find((p) => p.name === 'peer4')?.look === 'follower';
    }, 30_000);
    await page.screenshot({ path: join(OUT, 'membership-joined.png') });
    const all = await samples();
    const peer4 = all.map((s) => s.looks.peer4).filter((l) => l !== undefined);
    // Drawn as a newcomer for a while, and never again once it was drawn as a voter.
    expect(peer4).toContain('newcomer');
    const firstVoter = peer4.findIndex((l) => l === 'follower' || l === 'leader' || l === 'candidate');
    expect(peer4.lastIndexOf('newcomer')).toBeLessThan(firstVoter);
    // The members are never drawn as newcomers.
    for (const s of all) for (const n of MEMBERS) expect(s.looks[n]).not.toBe('newcomer');
    // A book flew to peer4 (it joined after the logs were compacted), and only InstallSnapshots are books.
    const letters = all.flatMap((s) => s.letters);
    expect(letters.some((l) => l.rpc === 'install_snapshot' && l.to === 'peer4' && l.shape === 'book')).toBe(true);
    expect(letters.filter((l) => (l.rpc === 'install_snapshot') !== (l.shape === 'book') && l.shape !== 'puff')).toEqual([]);
    // The newcomer's row starts with the snapshot it was sent.
    await waitFor('peer4 row with a snapshot block', async () => (await page.evaluate(() => window.__village!.snapshotBlocks())).peer4 !== undefined, 10_000);
  });

  it('leave a follower: it walks out and is gone, never drawn as a gravestone, and the others stay', async () => {
    const leader = leaderName();
    const leaver = MEMBERS.find((n) => n !== leader)!;
    const stay = ['peer1', 'peer2', 'peer3', 'peer4'].filter((n) => n !== leaver);
    const before = (await samples()).length;
    await consoleCommand(`leave ${leaver}`, new RegExp(`${leaver} left the cluster`));
    await waitFor(`${leaver} gone from the relay and the page${context()}`, async () => !village.relay.picture.peer(leaver) && (await drawnNow()).map((p) => p.name).join() === stay.join(), 30_000);
    await new Promise((r) => setTimeout(r, 600));
    await page.screenshot({ path: join(OUT, 'membership-left.png') });
    const after = (await samples()).slice(before);
    for (const s of after) {
      expect(s.looks[leaver]).not.toBe('grave');
      for (const n of stay) expect(s.looks[n] === undefined || s.looks[n] === 'grave').toBe(false);
    }
    expect(after.at(-1)!.looks[leaver]).toBeUndefined();
    expect(problems).toEqual([]);
  });
});
