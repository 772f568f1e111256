// W4, the village's frame rate in a browser: headless Chromium with software rendering (as the
// browser tests run it) draws the village page, served by the relay, while our peers run with
// -v, first idle and then under W3's load (W1 with 8 clients); an empty Phaser scene of the same
// size and config (test/bench/empty-scene/, built here, never part of the game's build) is
// measured in the same run, alternating with the village, so each figure is a ratio to what this
// machine draws with nothing to draw. Frames are counted in the page with requestAnimationFrame
// over a window after a warm-up; WebGL draw calls and texture uploads are counted per frame.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { StaticSite } from '../../game/relay/static.ts';
import { ensureGameBuilt } from '../browser/support/build.ts';
import { launchChromium, type Browser } from '../browser/support/chromium.ts';
import { BusyMeter, fmtBusy, procTicks } from './machine.ts';
import { OursCluster } from './ours.ts';
import { startOurPeers } from './peers.ts';
import type { RunRecord } from './report.ts';
import { fmtNumber } from './stats.ts';
import { startRelay, type RelayProcess } from './w3.ts';
import { closedLoop } from './workloads.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EMPTY_SCENE = join(REPO_ROOT, 'test/bench/empty-scene');
const PEERS = 3;
const LOAD_CLIENTS = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- in the page ----

/**
 * Runs before any script of a page: counts WebGL draw calls and texture uploads (Phaser binds
 * the instanced draws of ANGLE_instanced_arrays onto the context, so those are counted there).
 * Plain JavaScript in a string: the bench's TypeScript loader would add helpers the page lacks.
 */
const COUNT_GL = `(() => {
  const c = { draws: 0, uploads: 0 };
  window.__glCounts = c;
  const wrap = (proto, names, key) => {
    for (const name of names) {
      const f = proto && proto[name];
      if (typeof f !== 'function') continue;
      proto[name] = function (...args) { c[key]++; return f.apply(this, args); };
    }
  };
  const gl = window.WebGLRenderingContext && WebGLRenderingContext.prototype;
  wrap(gl, ['drawElements', 'drawArrays'], 'draws');
  wrap(gl, ['texImage2D', 'texSubImage2D'], 'uploads');
  wrap(window.ANGLEInstancedArrays && ANGLEInstancedArrays.prototype, ['drawElementsInstancedANGLE', 'drawArraysInstancedANGLE'], 'draws');
})();`;

export interface FrameWindow {
  fps: number;
  frames: number;
  ms: number;
  drawsPerFrame: number;
  uploadsPerFrame: number;
  /** CPU time of all Chromium processes (browser, renderer, GPU) per frame: less sensitive to a busy machine than the rate. */
  cpuMsPerFrame: number;
}

/** Counts animation frames (and GL calls, and Chromium's CPU time) over `ms` in the page. */
async function countFrames(page: Page, ms: number): Promise<FrameWindow> {
  const chromium = chromiumPids();
  const ticks = () => chromium.map(procTicks).filter(Number.isFinite).reduce((a, b) => a + b, 0);
  const before = ticks();
  const w = await countWindow(page, ms);
  // Clock ticks are 10 ms on Linux.
  return { ...w, cpuMsPerFrame: ((ticks() - before) * 10) / Math.max(1, w.frames) };
}

function countWindow(page: Page, ms: number): Promise<Omit<FrameWindow, 'cpuMsPerFrame'>> {
  return page.evaluate(`new Promise((resolve) => {
    const c = window.__glCounts || { draws: 0, uploads: 0 };
    let frames = -1, t0 = 0, d0 = 0, u0 = 0;
    const tick = (t) => {
      if (frames < 0) { t0 = t; d0 = c.draws; u0 = c.uploads; }
      frames++;
      if (t - t0 < ${ms}) return requestAnimationFrame(tick);
      const n = Math.max(1, frames);
      resolve({ fps: frames / ((t - t0) / 1000), frames, ms: t - t0, drawsPerFrame: (c.draws - d0) / n, uploadsPerFrame: (c.uploads - u0) / n });
    };
    requestAnimationFrame(tick);
  })`) as Promise<Omit<FrameWindow, 'cpuMsPerFrame'>>;
}

// ---- the empty scene ----

interface EmptyScenePage {
  url: string;
  close(): Promise<void>;
}

/** Builds test/bench/empty-scene with the game's Vite settings and serves it as the relay serves the game. */
async function serveEmptyScene(): Promise<EmptyScenePage> {
  const out = mkdtempSync(join(tmpdir(), 'raft-village-empty-scene-'));
  const { build } = await import('vite');
  await build({ configFile: false, root: EMPTY_SCENE, base: './', logLevel: 'warn', build: { outDir: out, emptyOutDir: true, chunkSizeWarningLimit: 2000 } });
  const site = new StaticSite(out, 'bench');
  const server: Server = createServer((req, res) => site.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(out, { recursive: true, force: true });
    },
  };
}

// ---- the processes a run uses ----

/** This process's descendants (peers, relay, Chromium and its helpers): what W4 measures. */
/** Chromium's processes (browser, renderer, GPU, ...) among this process's descendants. */
export function chromiumPids(): number[] {
  return descendants(process.pid).filter((pid) => {
    try {
      return /chrom/i.test(readFileSync(`/proc/${pid}/comm`, 'utf8'));
    } catch {
      return false;
    }
  });
}

export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

// ---- W4 as a whole ----

export interface W4Options {
  rep: number;
  /** How long each frame count lasts, and the warm-up after a page is ready. */
  windowMs: number;
  warmupMs: number;
  /** Frame counts per page and condition (alternating village and empty scene). */
  windows: number;
  log: (s: string) => void;
  track: (s: OursCluster) => void;
  untrack: (s: OursCluster) => void;
  quiet: () => Promise<void>;
  /** Where the village's screenshots go (w4-village-idle.png, w4-village-load.png), to compare pictures. */
  screenshots: string;
  figure: (key: string, value: number) => void;
  run: (r: RunRecord) => void;
}

type PageName = 'village' | 'empty';

export async function runW4(o: W4Options): Promise<void> {
  ensureGameBuilt();
  const empty = await serveEmptyScene();
  let relay: RelayProcess | null = null;
  let browser: Browser | null = null;
  const sys = new OursCluster(() =>
    startOurPeers({
      count: PEERS,
      verbose: true,
      beforeStart: async (c) => {
        relay = await startRelay(c.configFile, c.relayPort, c.dir, 'relay');
      },
    }),
  );
  o.track(sys);
  try {
    await sys.start();
    const villageUrl = `http://127.0.0.1:${relay!.port}/`;
    browser = await launchChromium();
    await browser.context.addInitScript(COUNT_GL);
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));

    const open = async (which: PageName) => {
      if (which === 'village') {
        await page.goto(villageUrl, { waitUntil: 'domcontentloaded', timeout: 60_000 });
        await page.waitForFunction(`window.__village && window.__village.connected() && window.__village.peers().length === ${PEERS}`, null, { timeout: 60_000 });
      } else {
        await page.goto(empty.url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
        await page.waitForSelector('canvas', { timeout: 60_000 });
      }
      await sleep(o.warmupMs);
    };

    /** Alternates the two pages, `windows` counts each; returns every window per page. */
    const measure = async (condition: string, first: PageName): Promise<Record<PageName, FrameWindow[]>> => {
      const got: Record<PageName, FrameWindow[]> = { village: [], empty: [] };
      const order: PageName[] = first === 'village' ? ['village', 'empty'] : ['empty', 'village'];
      for (let i = 0; i < o.windows; i++) {
        for (const which of i % 2 === 0 ? order : [...order].reverse()) {
          await open(which);
          const w = await countFrames(page, o.windowMs);
          got[which].push(w);
          if (which === 'village' && i === 0) await page.screenshot({ path: join(o.screenshots, `w4-village-${condition === 'idle' ? 'idle' : 'load'}.png`) });
          o.log(`    W4 ${condition}, ${which === 'village' ? 'village' : 'empty scene'}: ${fmtNumber(w.fps)} frames/s, Chromium CPU ${fmtNumber(w.cpuMsPerFrame)} ms, ${fmtNumber(w.drawsPerFrame)} draw calls and ${fmtNumber(w.uploadsPerFrame)} texture uploads per frame`);
        }
      }
      return got;
    };

    const mean = (ws: FrameWindow[], k: keyof FrameWindow) => ws.reduce((s, w) => s + w[k], 0) / Math.max(1, ws.length);
    const record = (condition: 'idle' | 'load', got: Record<PageName, FrameWindow[]>, busy: ReturnType<BusyMeter['stop']>, extra: object = {}) => {
      const village = mean(got.village, 'fps');
      const base = mean(got.empty, 'fps');
      o.figure(`w4.${condition}.village`, village);
      o.figure(`w4.${condition}.empty`, base);
      if (base > 0) o.figure(`w4.${condition}.ratio`, village / base);
      o.figure(`w4.${condition}.draws`, mean(got.village, 'drawsPerFrame'));
      o.figure(`w4.${condition}.uploads`, mean(got.village, 'uploadsPerFrame'));
      o.figure(`w4.${condition}.cpu.village`, mean(got.village, 'cpuMsPerFrame'));
      o.figure(`w4.${condition}.cpu.empty`, mean(got.empty, 'cpuMsPerFrame'));
      o.run({ system: 'ours', rep: o.rep, workload: `W4 ${condition}`, busy, detail: { ...got, ...extra } });
      o.log(`  W4 ${condition}: village ${fmtNumber(village)} frames/s, empty scene ${fmtNumber(base)} frames/s, ratio ${base > 0 ? (village / base).toFixed(2) : '-'}; ${fmtBusy(busy)} (system: peers, relay, Chromium)`);
    };

    // Idle: the cluster sends heartbeats, nobody writes.
    await o.quiet();
    {
      const meter = new BusyMeter(() => descendants(process.pid));
      const got = await measure('idle', o.rep % 2 === 1 ? 'village' : 'empty');
      record('idle', got, meter.stop());
    }

    // Under W3's load: W1 with 8 clients while the pages are measured.
    await o.quiet();
    {
      const pageMs = (o.warmupMs + o.windowMs + 1500) * 2 * o.windows;
      const meter = new BusyMeter(() => descendants(process.pid));
      let stop = false;
      const load = (async () => {
        let ops = 0;
        let seconds = 0;
        while (!stop) {
          const r = await closedLoop(sys, { clients: LOAD_CLIENTS, durationMs: Math.min(pageMs, 5000), warmupMs: 0, keyPrefix: 'w4' });
          ops += r.ops;
          seconds += r.seconds;
        }
        return seconds > 0 ? ops / seconds : 0;
      })();
      await sleep(500);
      let got: Record<PageName, FrameWindow[]>;
      try {
        got = await measure(`under W1 ${LOAD_CLIENTS} clients`, o.rep % 2 === 1 ? 'empty' : 'village');
      } finally {
        stop = true;
      }
      const opsPerSec = await load;
      record('load', got, meter.stop(), { opsPerSec });
      o.figure('w4.load.ops', opsPerSec);
    }
    if (problems.length) throw new Error(`the pages threw: ${problems.slice(0, 3).join('; ')}`);
  } finally {
    await (browser as Browser | null)?.close();
    await sys.stop();
    await (relay as RelayProcess | null)?.stop();
    o.untrack(sys);
    await empty.close();
  }
}
