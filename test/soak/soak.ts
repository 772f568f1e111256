// A village left running: `npm start` as a user runs it (the relay in the start process, the
// launcher and its peers), the monster attacking often, one page open in headless Chromium for
// the whole run. Every sample reads the relay process's resident memory (/proc) and, through
// the Node inspector on loopback, its JavaScript heap right after a full garbage collection:
// resident memory alone cannot tell a leak from a heap that has not been collected yet, the heap
// after a collection can. At the end the attacks stop, a fresh page is opened, and the page
// that was open all along must draw what the fresh one draws (and what the relay holds).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { Page } from 'playwright-core';
import type { VillagePicture } from '../../shared/village.ts';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { startCluster, waitFor } from '../support/cluster.ts';
import { ensureGameBuilt } from '../browser/support/build.ts';
import { ensureChromium, launchChromium, watchedPage } from '../browser/support/chromium.ts';
import { differences, drawnOf, relayRow, type Drawn } from '../browser/support/drawn.ts';

export interface SoakOptions {
  minutes: number;
  peers: number;
  profile: 'fast' | 'slow';
  /** Seconds between the monster's attacks, and until a killed villager comes back. */
  attackEveryS: number;
  reviveAfterS: number;
  /** Samples taken over the run (at least 2). */
  samples: number;
  log: (line: string) => void;
}

export interface MemorySample {
  /** Seconds since the page was opened. */
  atS: number;
  rssMiB: number;
  /** The relay's JavaScript heap in use right after a full garbage collection. */
  heapMiB: number;
}

export interface SoakReport {
  samples: MemorySample[];
  /** Growth of the heap after collection over the second half of the run, MiB per minute. */
  heapSlopeMiBPerMin: number;
  rssSlopeMiBPerMin: number;
  /** Attacks the monster made (strikes the relay announced). */
  strikes: number;
  /** Empty when the page left open draws what a fresh page and the relay hold. */
  differences: string[];
  pageProblems: string[];
}

export const DEFAULT_SOAK: Omit<SoakOptions, 'log'> = { minutes: 60, peers: 5, profile: 'fast', attackEveryS: 6, reviveAfterS: 3, samples: 30 };

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const { log } = opts;
  ensureChromium();
  ensureGameBuilt();
  const cluster = await startCluster({
    peers: opts.peers,
    start: false,
    profile: opts.profile,
    ini: `[relay]\nattack_interval_s = ${opts.attackEveryS}\nrevive_after_s = ${opts.reviveAfterS}\n`,
  });
  let out = '';
  let strikes = 0;
  const start = spawn(
    process.execPath,
    ['--inspect=127.0.0.1:0', '--import', tsxLoader(), join(REPO_ROOT, 'game', 'start.ts'), '--config', cluster.ini, '--peers', String(opts.peers), '--profile', opts.profile, '--attacks', 'on', '--no-build'],
    { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keeper = () => {
    let partial = '';
    return (c: Buffer) => {
      const text = c.toString('utf8');
      out += text;
      if (out.length > 400_000) out = out.slice(-200_000);
      // The relay says "monster: kill peerN" for each strike; counted line by line, for hours.
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.includes('monster: kill ')) strikes++;
    };
  };
  start.stdout!.on('data', keeper());
  start.stderr!.on('data', keeper());
  const browser = await launchChromium();
  const problems: string[] = [];
  let inspector: Inspector | null = null;
  try {
    await waitFor('npm start to print the URL and the inspector to listen', () => /http:\/\/127\.0\.0\.1:\d+\//.test(out) && /Debugger listening on ws:\/\//.test(out), 60_000, 100);
    const url = out.match(/http:\/\/127\.0\.0\.1:\d+\//)![0];
    inspector = await Inspector.connect(out.match(/Debugger listening on (ws:\/\/\S+)/)![1]!);
    log(`village at ${url}, relay pid ${start.pid}; ${opts.peers} peers (${opts.profile}), the monster every ${opts.attackEveryS} s, revived after ${opts.reviveAfterS} s`);

    const page = await watchedPage(browser, problems);
    await page.goto(url);
    await page.waitForFunction(() => window.__village?.connected(), null, { timeout: 30_000 });
    const began = Date.now();
    const samples: MemorySample[] = [];
    const every = (opts.minutes * 60_000) / Math.max(1, opts.samples - 1);
    for (let i = 0; i < Math.max(2, opts.samples); i++) {
      const due = began + i * every;
      if (Date.now() < due) await sleep(due - Date.now());
      const s: MemorySample = { atS: Math.round((Date.now() - began) / 1000), rssMiB: rssMiB(start.pid!), heapMiB: await inspector.heapAfterGcMiB() };
      samples.push(s);
      log(`${String(s.atS).padStart(6)} s  relay rss ${s.rssMiB.toFixed(1)} MiB  heap after gc ${s.heapMiB.toFixed(1)} MiB`);
    }

    // A still moment to compare: no more attacks, every villager back up and reporting.
    await typeLine(page, 'attacks off');
    const api = `${url}api/picture`;
    const picture = async () => ((await (await fetch(api)).json()) as { picture: VillagePicture }).picture;
    await waitFor('every villager up and reporting after the attacks stop', async () => (await picture()).peers.every((p) => p.process === 'up' && p.reporting), 60_000, 250);
    const fresh = await watchedPage(browser, problems);
    await fresh.goto(url);
    await fresh.waitForFunction(() => window.__village?.connected(), null, { timeout: 30_000 });
    let diff: string[] = ['not compared yet'];
    await waitFor(
      'the page left open to draw what a fresh page draws',
      async () => {
        const a = await drawnOf(page);
        const b = await drawnOf(fresh);
        diff = [...differences(a, b), ...againstRelay(b, await picture())];
        return diff.length === 0;
      },
      20_000,
      250,
    ).catch(() => undefined);
    const half = samples.filter((s) => s.atS >= samples[samples.length - 1]!.atS / 2);
    return {
      samples,
      heapSlopeMiBPerMin: slopePerMinute(half.map((s) => [s.atS, s.heapMiB])),
      rssSlopeMiBPerMin: slopePerMinute(half.map((s) => [s.atS, s.rssMiB])),
      strikes,
      differences: diff,
      pageProblems: problems,
    };
  } catch (e) {
    throw new Error(`${(e as Error).message}\nnpm start output (tail):\n${out.slice(-3000)}`);
  } finally {
    inspector?.close();
    await browser.close();
    await stop(start);
    await cluster.teardown();
  }
}

/** Where the drawn log table differs from the relay's picture. */
function againstRelay(d: Drawn, picture: VillagePicture): string[] {
  const out: string[] = [];
  for (const p of picture.peers) {
    const shown = d.rows[p.name] ?? [];
    const want = relayRow(p, shown);
    if (JSON.stringify(shown) !== JSON.stringify(want)) out.push(`log of ${p.name}: drawn ${JSON.stringify(shown)}, relay ${JSON.stringify(want)}`);
  }
  return out;
}

async function typeLine(page: Page, line: string): Promise<void> {
  await page.locator('#console-input').fill(line);
  await page.keyboard.press('Enter');
}

/** Least-squares slope of [seconds, MiB] points, in MiB per minute (0 with fewer than 2 points). */
export function slopePerMinute(points: Array<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  await Promise.race([gone, sleep(10_000)]);
  try {
    process.kill(-p.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The Chrome DevTools protocol of a Node process's inspector, for two heap calls. */
class Inspector {
  private next = 1;
  private readonly waiting = new Map<number, (r: { result?: Record<string, unknown>; error?: { message: string } }) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const msg = JSON.parse(String(d)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      if (msg.id !== undefined) this.waiting.get(msg.id)?.(msg);
      if (msg.id !== undefined) this.waiting.delete(msg.id);
    });
  }

  static connect(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('open', () => resolve(new Inspector(ws)));
      ws.once('error', reject);
    });
  }

  private call(method: string): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${method}`)), 30_000);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        if (r.error) reject(new Error(`inspector: ${method}: ${r.error.message}`));
        else resolve(r.result ?? {});
      });
      this.ws.send(JSON.stringify({ id, method }));
    });
  }

  async heapAfterGcMiB(): Promise<number> {
    await this.call('HeapProfiler.collectGarbage');
    const r = await this.call('Runtime.getHeapUsage');
    return Number(r.usedSize) / 1024 / 1024;
  }

  close(): void {
    this.ws.close();
  }
}
