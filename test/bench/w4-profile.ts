// Where the village page's time goes under W4's load: three peers with -v and the relay, the
// page in headless Chromium (software WebGL, as W4 runs it), W1 with 8 clients, and a CPU
// profile of the page (CDP Profiler) over a window. Prints the page's script time per second
// split into message handling (the WebSocket's frames: JSON.parse, the model, the lessons'
// journal, the timeline), drawing (Phaser's game step: scenes, views, WebGL calls), garbage
// collection and the rest, plus Chromium's CPU per frame and the bytes and frames received.
//
//   npx tsx test/bench/w4-profile.ts [--seconds 10] [--clients 8] [--out profile.cpuprofile]
import { readdirSync, writeFileSync } from 'node:fs';
import { ensureGameBuilt } from '../browser/support/build.ts';
import { launchChromium, type Browser } from '../browser/support/chromium.ts';
import { OursCluster } from './ours.ts';
import { startOurPeers } from './peers.ts';
import { startRelay, type RelayProcess } from './w3.ts';
import { chromiumPids } from './w4.ts';
import { procTicks } from './machine.ts';
import { closedLoop } from './workloads.ts';
import { WebSocket } from 'ws';
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const seconds = Number(arg('seconds', '10'));
const clients = Number(arg('clients', '8'));
const out = arg('out', '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Which part of the page a sample's stack belongs to, from the root down. */
function category(stack: ProfileNode[]): string {
  const names = stack.map((n) => n.callFrame.functionName);
  const leaf = names[names.length - 1] ?? '';
  if (leaf === '(garbage collector)') return 'gc';
  if (leaf === '(idle)') return 'idle';
  if (leaf === '(program)') return 'program';
  if (names.some((n) => n === 'onFrame' || n === 'receive')) return 'messages';
  if (names.some((n) => n === 'step' || n === 'render' || n === 'preRender')) return 'drawing';
  return 'other';
}

async function main(): Promise<void> {
  ensureGameBuilt();
  let relay: RelayProcess | null = null;
  let browser: Browser | null = null;
  const sys = new OursCluster(() =>
    startOurPeers({
      count: 3,
      verbose: true,
      beforeStart: async (c) => {
        relay = await startRelay(c.configFile, c.relayPort, c.dir, 'relay');
      },
    }),
  );
  try {
    await sys.start();
    browser = await launchChromium();
    const page = await browser.context.newPage();
    await page.addInitScript(`(() => {
      const W = window.WebSocket;
      window.__wsBytes = 0; window.__wsFrames = 0;
      window.WebSocket = class extends W {
        constructor(...a) { super(...a); this.addEventListener('message', (e) => { window.__wsFrames++; window.__wsBytes += typeof e.data === 'string' ? e.data.length : 0; }); }
      };
    })();`);
    await page.goto(`http://127.0.0.1:${relay!.port}/`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await page.waitForFunction('window.__village && window.__village.connected() && window.__village.peers().length === 3', null, { timeout: 60_000 });
    let stop = false;
    let ops = 0;
    let secs = 0;
    const load = (async () => {
      while (!stop) {
        const r = await closedLoop(sys, { clients, durationMs: 5000, warmupMs: 0, keyPrefix: 'w4p' });
        ops += r.ops;
        secs += r.seconds;
        console.log(`  load: ${(r.ops / Math.max(0.001, r.seconds)).toFixed(0)} commands/s over ${r.seconds.toFixed(1)} s`);
      }
    })();
    await sleep(Number(arg('warmup', '6')) * 1000);
    // What the page is sent, by kind (a delta's type, an event delta's event type): count and bytes.
    const mix = new Map<string, { n: number; bytes: number }>();
    let mixOn = false;
    const watch = new WebSocket(`ws://127.0.0.1:${relay!.port}/village`);
    watch.on('message', (data) => {
      if (!mixOn) return;
      const m = JSON.parse(String(data)) as { type: string; deltas?: { type: string; event?: { type: string } }[] };
      for (const d of m.deltas ?? []) {
        const k = d.type === 'event' ? `event ${d.event!.type}` : d.type;
        const x = mix.get(k) ?? { n: 0, bytes: 0 };
        x.n++;
        x.bytes += JSON.stringify(d).length;
        mix.set(k, x);
      }
    });
    mixOn = true;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    const chromium = chromiumPids();
    const ticks = () => chromium.map(procTicks).filter(Number.isFinite).reduce((a, b) => a + b, 0);
    const before = (await page.evaluate('({ b: window.__wsBytes, f: window.__wsFrames })')) as { b: number; f: number };
    const kind = (pid: number) => {
      try {
        return /--type=([a-z-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser';
      } catch {
        return 'gone';
      }
    };
    const perKind = () => {
      const m = new Map<string, number>();
      for (const pid of chromium) {
        let tasks: string[] = [];
        try {
          tasks = readdirSync(`/proc/${pid}/task`);
        } catch {
          continue;
        }
        for (const t of tasks) {
          let comm = '?';
          try {
            comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim().replace(/[0-9]+$/, '');
          } catch {
            continue;
          }
          let ticks = NaN;
          try {
            const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
            const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
            ticks = Number(rest[11]) + Number(rest[12]);
          } catch {
            continue;
          }
          const k = `${kind(pid)}/${comm}`;
          m.set(k, (m.get(k) ?? 0) + (Number.isFinite(ticks) ? ticks : 0));
        }
      }
      return m;
    };
    const k0 = perKind();
    const t0 = ticks();
    await cdp.send('Profiler.start');
    const frames = page.evaluate(`new Promise((resolve) => { let n = 0; const t0 = performance.now(); const tick = () => { n++; if (performance.now() - t0 < ${seconds * 1000}) requestAnimationFrame(tick); else resolve(n); }; requestAnimationFrame(tick); })`) as Promise<number>;
    const nFrames = await frames;
    const { profile } = (await cdp.send('Profiler.stop')) as { profile: Profile };
    const cpuMs = (ticks() - t0) * 10;
    const k1 = perKind();
    const after = (await page.evaluate('({ b: window.__wsBytes, f: window.__wsFrames })')) as { b: number; f: number };
    mixOn = false;
    watch.terminate();
    stop = true;
    await load;
    if (out) writeFileSync(out, JSON.stringify(profile));

    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stackOf = (id: number): ProfileNode[] => {
      const s: ProfileNode[] = [];
      for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) s.unshift(byId.get(x)!);
      return s;
    };
    const cats = new Map<string, number>();
    const self = new Map<string, number>();
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
      const st = stackOf(profile.samples[i]!);
      const c = category(st);
      cats.set(c, (cats.get(c) ?? 0) + dt);
      const leaf = st[st.length - 1]!.callFrame;
      const k = `${c} ${leaf.functionName || '(anonymous)'} ${leaf.url.split('/').pop()}`;
      self.set(k, (self.get(k) ?? 0) + dt);
    }
    const wall = (profile.endTime - profile.startTime) / 1e6;
    const per = (ms: number) => (ms / wall).toFixed(0);
    console.log(`load: ${(ops / Math.max(1, secs)).toFixed(0)} commands/s; window ${wall.toFixed(1)} s, ${nFrames} frames (${(nFrames / wall).toFixed(1)} fps)`);
    console.log(`Chromium CPU ${(cpuMs / nFrames).toFixed(1)} ms per frame, ${(cpuMs / wall).toFixed(0)} ms per second`);
    console.log(`  by process, ms per second: ${[...k1].filter(([k, v]) => v - (k0.get(k) ?? 0) > 0).sort((a, b) => b[1] - (k0.get(b[0]) ?? 0) - (a[1] - (k0.get(a[0]) ?? 0))).slice(0, 8).map(([k, v]) => `${k} ${(((v - (k0.get(k) ?? 0)) * 10) / wall).toFixed(0)}`).join(', ')}`);
    console.log(`received ${((after.b - before.b) / wall / 1024).toFixed(0)} KiB/s in ${((after.f - before.f) / wall).toFixed(1)} frames/s`);
    console.log(`page main thread, ms per second: ${[...cats].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
    console.log(`sent to a page, per second: ${[...mix].sort((a, b) => b[1].bytes - a[1].bytes).map(([k, v]) => `${k} ${(v.n / wall).toFixed(0)} (${(v.bytes / wall / 1024).toFixed(0)} KiB)`).join(', ')}`);
    console.log('top self time (ms per second):');
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${per(v).padStart(5)}  ${k}`);
  } finally {
    await (browser as Browser | null)?.close();
    await sys.stop();
    await (relay as RelayProcess | null)?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
