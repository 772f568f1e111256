// W3's subscriber in a thread of its own. A browser watching the village is its own process,
// so the subscriber that stands in for it must not share an event loop with the W1 clients that
// load the cluster: parsing ~20,000 events a second there would slow the clients' own requests
// and be counted as the cost of -v. The thread does what Subscriber (w3.ts) does: it listens on
// the relay's /village and records, for each event whose peer time `t` falls in the window,
// arrival time minus `t`. The main thread only sets the window and collects the delays.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { distribution, type Distribution } from './stats.ts';

// Plain JavaScript (an eval'd CommonJS worker), so the thread needs no TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocket } = require(workerData.ws);
let from = Infinity, to = Infinity, delays = [], byType = {}, seen = 0, seenAtWindow = 0;
const reporting = {};
const ws = new WebSocket('ws://127.0.0.1:' + workerData.port + '/village', { perMessageDeflate: false, handshakeTimeout: 3000 });
ws.once('open', () => parentPort.postMessage({ type: 'open' }));
ws.once('error', (e) => parentPort.postMessage({ type: 'error', message: String(e && e.message || e) }));
ws.once('unexpected-response', (_q, res) => parentPort.postMessage({ type: 'error', message: '/village: HTTP ' + res.statusCode }));
const setReporting = (name, on) => {
  if (reporting[name] === on) return;
  reporting[name] = on;
  parentPort.postMessage({ type: 'reporting', name, on });
};
ws.on('message', (data) => {
  const now = Date.now();
  let m;
  try { m = JSON.parse(String(data)); } catch { return; }
  if (m.type === 'snapshot') { for (const p of m.picture.peers) setReporting(p.name, p.reporting); return; }
  if (m.type !== 'batch') return;
  for (const d of m.deltas) {
    if (d.type === 'peer') setReporting(d.peer.name, d.peer.reporting);
    if (d.type === 'laws') seen = d.laws.eventsSeen;
    if (d.type !== 'event') continue;
    const e = d.event;
    if (e.t >= from && e.t <= to) {
      delays.push(now - e.t);
      byType[e.type] = (byType[e.type] || 0) + 1;
    }
  }
});
parentPort.on('message', (m) => {
  if (m.type === 'window') { from = m.from; to = m.to; delays = []; byType = {}; seenAtWindow = seen; }
  else if (m.type === 'collect') parentPort.postMessage({ type: 'collected', delays, byType, monitored: seen - seenAtWindow });
  else if (m.type === 'close') { ws.terminate(); parentPort.close(); }
});
`;

export class SubscriberThread {
  private readonly reporting = new Map<string, boolean>();
  private collected: ((r: { delays: number[]; byType: Record<string, number>; monitored: number }) => void) | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { type: string; name?: string; on?: boolean; delays?: number[]; byType?: Record<string, number>; monitored?: number }) => {
      if (m.type === 'reporting') this.reporting.set(m.name!, m.on!);
      else if (m.type === 'collected') this.collected?.({ delays: m.delays!, byType: m.byType!, monitored: m.monitored! });
    });
  }

  static open(port: number): Promise<SubscriberThread> {
    const wsPath = createRequire(import.meta.url).resolve('ws');
    const worker = new Worker(WORKER, { eval: true, workerData: { port, ws: wsPath } });
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      const onMessage = (m: { type: string; message?: string }) => {
        if (m.type === 'open') {
          worker.off('message', onMessage);
          resolve(new SubscriberThread(worker));
        } else if (m.type === 'error') {
          worker.off('message', onMessage);
          void worker.terminate();
          reject(new Error(m.message));
        }
      };
      worker.on('message', onMessage);
    });
  }

  /** Whether each peer's -v stream is connected, as the relay last said. */
  async waitForReporting(names: readonly string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!names.every((n) => this.reporting.get(n))) {
      if (Date.now() > end) throw new Error(`peers not reporting to the relay within ${timeoutMs} ms: ${names.filter((n) => !this.reporting.get(n)).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Records events whose peer time `t` lies in [from, to] (wall clock ms) from now on. */
  window(from: number, to: number): void {
    this.worker.postMessage({ type: 'window', from, to });
  }

  /**
   * The delays recorded in the window, the events per type, and `monitored`: how many events the
   * relay's safety monitor took in since the window was set (every event the peers sent, those
   * the browsers are not shown included), as its `laws` deltas said (at most 250 ms late).
   */
  collect(): Promise<{ delays: Distribution; received: number; byType: Record<string, number>; monitored: number }> {
    return new Promise((resolve) => {
      this.collected = (r) => {
        this.collected = null;
        resolve({ delays: distribution(r.delays), received: r.delays.length, byType: r.byType, monitored: r.monitored });
      };
      this.worker.postMessage({ type: 'collect' });
    });
  }

  close(): void {
    this.worker.postMessage({ type: 'close' });
    setTimeout(() => void this.worker.terminate(), 200).unref();
  }
}
