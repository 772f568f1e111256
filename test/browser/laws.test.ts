// The laws of Raft in a real browser: the relay (in this process, serving the built game, running
// the safety monitor) fed by stand-in peers over /peer, whose streams are written to the monitor's
// fields (test/monitor/fake-peer.ts). A clean village: no panel, nothing highlighted, and the
// HUD's count of checked events grows. Then a second leader in the same term: the panel states
// Election Safety with its evidence, and only the two leaders are highlighted; dismissed, the next
// broken law (two different commands applied at one index) shows, with its villagers and tiles.
// Screenshots: test-output/laws.png and laws-tiles.png.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { PeerEvent } from '../../shared/events.ts';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { command, FakePeer as StreamWriter } from '../monitor/fake-peer.ts';
import { PeerStreams, testConfig } from '../game/relay-support.ts';
import { waitFor } from '../support/cluster.ts';
import { DIST, ensureGameBuilt } from './support/build.ts';
import { ensureChromium, launchChromium, watchedPage, type Browser } from './support/chromium.ts';

let relay: Relay;
let streams: PeerStreams;
let browser: Browser;
let page: Page;
let evidenceDir: string;
const problems: string[] = [];
const [p1, p2, p3] = ['peer1', 'peer2', 'peer3'].map((n) => new StreamWriter(n)) as [StreamWriter, StreamWriter, StreamWriter];

beforeAll(async () => {
  ensureChromium();
  ensureGameBuilt();
  evidenceDir = mkdtempSync(join(tmpdir(), 'laws-browser-'));
  relay = await startRelay({
    config: testConfig({ peers: 3 }),
    port: 0,
    attacks: false,
    distDir: DIST,
    evidenceDir,
    kvClient: () => ({ command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'bad_command', message: 'none' }), leader: () => null, close() {} }),
    admin: async () => ({ type: 'error', error: 'bad_frame', message: 'no admin here' }),
    log: () => {},
  });
  streams = new PeerStreams(relay);
  browser = await launchChromium();
  page = await watchedPage(browser, problems);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  streams?.close();
  await relay?.close();
  if (evidenceDir) rmSync(evidenceDir, { recursive: true, force: true });
});

const hook = <T>(fn: string): Promise<T> => page.evaluate(`window.__village.${fn}()`) as Promise<T>;
type Panel = { law: string; text: string } | null;
type Highlighted = { villagers: string[]; tiles: string[] };

/** peer1 is elected in term 1 and replicates `n` commands to peer2 and peer3, who apply them. */
function commands(n: number, first: number): PeerEvent[] {
  const out: PeerEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push(...p1.propose([`k${first + i}`, 'add', '1']), ...p2.follow(p1), ...p3.follow(p1), ...p1.commitTo(p1.lastIndex));
    for (const p of [p1, p2, p3]) out.push(p.apply(p1.lastIndex, p1.lastIndex));
  }
  return out;
}

const checked = async () => {
  const m = /^laws hold · (\d+) events checked$/.exec(await hook<string>('lawsLine'));
  return m ? Number(m[1]) : null;
};

describe('the laws in the page', { timeout: 60_000 }, () => {
  it('a clean village: no panel, nothing highlighted, and the count of checked events grows', async () => {
    await streams.send([p1.hello(), p2.hello(), p3.hello(), ...p1.campaign(1), ...p2.grantVote(1, 'peer1'), ...p3.grantVote(1, 'peer1'), ...p1.lead()]);
    await streams.send(commands(5, 0), { interleave: true });
    await page.goto(relay.url);
    await page.waitForFunction(() => window.__village?.connected() && window.__village.peers().length === 3, null, { timeout: 20_000 });
    const before = await waitFor('the HUD to say the laws hold', async () => (await checked()) ?? undefined, 20_000);
    expect(before).toBeGreaterThan(0);
    await streams.send(commands(5, 5), { interleave: true });
    await streams.settled();
    const after = await waitFor('the count to grow', async () => {
      const n = await checked();
      return n !== null && n > before ? n : undefined;
    });
    expect(after).toBe(relay.laws.status().eventsChecked);
    expect(await hook<Panel>('lawPanel')).toBeNull();
    expect(await page.locator('#law-panel').isVisible()).toBe(false);
    expect(await hook<Highlighted>('highlighted')).toEqual({ villagers: [], tiles: [] });
  });

  it('a second leader in term 1: the panel states Election Safety with its evidence, only the two leaders are highlighted', async () => {
    // peer3 crowns itself in the term peer1 leads.
    await streams.send(p3.lead());
    const panel = await waitFor('the law panel', async () => (await hook<Panel>('lawPanel')) ?? undefined, 20_000);
    expect(panel.law).toBe('election_safety');
    expect(panel.text).toContain('A law of Raft was broken: Election Safety');
    expect(panel.text).toContain('At most one leader can be elected in a given term.');
    expect(panel.text).toContain('peer1 and peer3 were both leaders in term 1.');
    expect(panel.text).toContain('peers: peer1, peer3 · term: 1');
    // The evidence: each event, by peer and place in its stream.
    expect(panel.text).toMatch(/peer1, event \d+ \(\w+, [\d:.]+\): .*term 1/);
    expect(panel.text).toMatch(/peer3, event \d+ \(state, [\d:.]+\): state: leader of term 1/);
    expect(panel.text).toContain(`Evidence saved by the relay: ${evidenceDir}/violation-`);
    await waitFor('the two leaders highlighted', async () => (await hook<Highlighted>('highlighted')).villagers.length === 2);
    expect(await hook<Highlighted>('highlighted')).toEqual({ villagers: ['peer1', 'peer3'], tiles: [] });
    expect(await hook<string>('lawsLine')).toMatch(/^LAW BROKEN: Election Safety · \d+ events checked$/);
    expect(await page.locator('#law-panel').isVisible()).toBe(true);
    mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-output', 'laws.png') });
  });

  it('stays until dismissed; then the next broken law shows, with the villagers and log tiles it involves', async () => {
    // peer2 applies another command at index 3, which every peer applied already.
    await page.waitForTimeout(500);
    expect(await hook<Panel>('lawPanel')).not.toBeNull();
    p2.log[2] = { term: 1, data: command(['k1', 'add', '999']) };
    await streams.send([p2.apply(3, 3)]);
    await waitFor('the second violation at the page', async () => /\(\+1 more\)/.test(await hook<string>('lawsLine')));
    expect((await hook<Panel>('lawPanel'))!.law).toBe('election_safety');
    await page.locator('#law-panel .law-dismiss').click();
    const next = await waitFor('the next law in the panel', async () => {
      const p = await hook<Panel>('lawPanel');
      return p && p.law !== 'election_safety' ? p : undefined;
    });
    expect(next.law).toBe('state_machine_safety');
    expect(next.text).toContain('A law of Raft was broken: State Machine Safety');
    expect(next.text).toContain('log index: 3');
    const shown = relay.picture.lawsView().violations[1]!;
    expect(shown.peers).toContain('peer2');
    expect(shown.peers).toHaveLength(2);
    const h = await waitFor('the tiles highlighted', async () => {
      const x = await hook<Highlighted>('highlighted');
      return x.tiles.length > 0 ? x : undefined;
    });
    await page.screenshot({ path: join(REPO_ROOT, 'test-output', 'laws-tiles.png') });
    expect(h.villagers.slice().sort()).toEqual(shown.peers.slice().sort());
    expect(h.tiles.slice().sort()).toEqual(shown.peers.map((p) => `${p}:3`).sort());
    await page.locator('#law-panel .law-dismiss').click();
    await waitFor('the panel closed', async () => (await hook<Panel>('lawPanel')) === null);
    expect(await hook<Highlighted>('highlighted')).toEqual({ villagers: [], tiles: [] });
    expect(await hook<string>('lawsLine')).toMatch(/^LAW BROKEN: Election Safety \(\+1 more\)/);
    expect(problems).toEqual([]);
  });
});
