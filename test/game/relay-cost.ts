// Relay CPU per peer event: a relay (from this tree, or another checkout with --tree) runs in
// a child process with one /village subscriber; three synthetic peers replay the event mix a
// replicated command makes (log_append, letters, state, apply: about 20 events per command),
// one JSON-array frame per peer per 5 ms as the reporter sends. Prints the relay's CPU time
// (process.cpuUsage, user+system) per 1,000 events and the subscriber's delay from an event's
// `t` to its arrival. Not a test (no assertions): a measuring tool.
// --monitor-fields: the events carry what the safety monitor reads (seq, boot, dataId, recovered,
// prefix and entry hashes, commit terms, a `persisted` after every append), as peers are to send
// them; without it, the events of today's peers.
//
// --spacing MS: the time between two frames of a peer (default 5).
// --page [--page-fps 10]: the subscriber also does what the page does with each frame (JSON.parse,
// the tree's VillageModel.receive) and the model's prune as the page does once per animation frame
// (10 a second: the page's rate under W4's load before it was made lighter), and prints that
// work's time per second, with the frames and bytes per second a page is sent.
//
//   npx tsx test/game/relay-cost.ts [--rate 20000] [--seconds 5] [--tree DIR] [--browsers 1] [--cpu-prof DIR] [--monitor-fields] [--spacing 5] [--page [--page-fps 10]]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { SECRET, testConfig } from './relay-support.ts';
import { EMPTY_PREFIX, entryHash, prefixHash } from '../../shared/log-hash.ts';

const NAMES = ['peer1', 'peer2', 'peer3'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** The relay's config: three peers, attacks off, frames up to 4 MiB. */
function config() {
  return testConfig({ peers: 3, attackIntervalS: 3600, maxFrameBytes: 4194304 });
}

async function child(tree: string): Promise<void> {
  const mod = (await import(pathToFileURL(resolve(tree, 'game/relay/server.ts')).href)) as typeof import('../../game/relay/server.ts');
  const relay = await mod.startRelay({
    config: config(),
    port: 0,
    attacks: false,
    kvClient: () => ({ command: async () => ({ ok: false }) as never, close() {} }) as never,
    admin: async () => ({ type: 'error', message: 'no admin here' }) as never,
    log: () => {},
  });
  process.stdout.write(`port ${relay.port}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'cpu') {
      const u = process.cpuUsage();
      process.stdout.write(`cpu ${u.user + u.system} ${u.system}\n`);
    }
    if (line === 'laws') {
      // A tree from before the safety monitor has no relay.laws.
      const laws = (relay as { laws?: { status(): { eventsChecked: number; violationCount: number; blind: { peer: string }[] } } }).laws;
      const st = laws?.status();
      process.stdout.write(`laws ${st ? `${st.eventsChecked} events checked, ${st.violationCount} violations, blind: ${st.blind.map((b) => b.peer).join(' ') || 'none'}` : 'no monitor in this tree'}\n`);
    }
  });
  process.stdin.on('end', () => void relay.close().then(() => process.exit(0)));
}

const monitorFields = process.argv.includes('--monitor-fields');
/** Prefix hashes of the log (index -> ph), for --monitor-fields. */
const phs: number[] = [EMPTY_PREFIX];
/** Per peer: the seq of its next counted event. */
const seqs: Record<string, number> = {};

/** Adds what the safety monitor reads to one peer's events, in order (--monitor-fields). */
function withMonitorFields(peer: string, events: Record<string, unknown>[], n: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    const counted = e.type !== 'state' && e.type !== 'hello' && e.type !== 'resync';
    if (e.type === 'log_append') {
      const entries = (e.entries as Record<string, unknown>[]).map((tile) => ({ ...tile, ph: phs[tile.index as number] }));
      out.push({ ...e, entries, seq: (seqs[peer] = (seqs[peer] ?? 0) + 1) - 1 });
      out.push({ type: 'persisted', peer, t: e.t, w: n, term: 2, vote: 'peer1', lastIndex: n, lastTerm: 2, lastPh: phs[n], seq: (seqs[peer] = (seqs[peer] ?? 0) + 1) - 1 });
      continue;
    }
    if (e.type === 'apply') {
      const entries = (e.entries as Record<string, unknown>[]).map((a) => ({ ...a, h: entryHash(JSON.stringify(a.command)) }));
      out.push({ ...e, entries, seq: (seqs[peer] = (seqs[peer] ?? 0) + 1) - 1 });
      out.push({ type: 'commit', peer, t: e.t, index: n, term: 2, ph: phs[n], seq: (seqs[peer] = (seqs[peer] ?? 0) + 1) - 1 });
      continue;
    }
    out.push({ ...e, seq: counted ? (seqs[peer] = (seqs[peer] ?? 0) + 1) - 1 : (seqs[peer] ?? 0) });
  }
  return out;
}

/** The events of one replicated command (leader peer1), in the order peers emit them. */
function commandEvents(n: number, t: number): Record<string, object[]> {
  const out = plainCommandEvents(n, t);
  if (!monitorFields) return out;
  phs[n] = prefixHash(phs[n - 1]!, 2, entryHash(JSON.stringify([`k${n % 50}`, 'add', '1'])));
  for (const name of NAMES) out[name] = withMonitorFields(name, out[name] as Record<string, unknown>[], n);
  return out;
}

function plainCommandEvents(n: number, t: number): Record<string, object[]> {
  const [l, a, b] = NAMES as [string, string, string];
  const tile = { index: n, term: 2, label: `k${n % 50} add 1` };
  const rpc = (peer: string, to: string, kind: string, seq: string, extra: object = {}) => ({ type: 'rpc_send', peer, t, to, rid: `${peer}:${seq}`, rpc: kind, term: 2, heartbeat: false, entries: kind === 'append_entries' ? 1 : 0, ...extra });
  const recv = (peer: string, from: string, kind: string, seq: string, extra: object = {}) => ({ type: 'rpc_recv', peer, t, from, rid: `${from}:${seq}`, rpc: kind, term: 2, heartbeat: false, entries: kind === 'append_entries' ? 1 : 0, ...extra });
  const state = (peer: string, commit: number, applied: number) => ({
    type: 'state', peer, t, role: peer === l ? 'leader' : 'follower', term: 2, vote: l, leader: l,
    commitIndex: commit, appliedIndex: applied, lastIndex: n, lastTerm: 2, electionDeadline: peer === l ? null : t + 200,
  });
  const apply = (peer: string) => ({ type: 'apply', peer, t, entries: [{ index: n, term: 2, command: [`k${n % 50}`, 'add', '1'], ok: true, result: n, key: `k${n % 50}`, value: n }] });
  const out: Record<string, object[]> = { [l]: [], [a]: [], [b]: [] };
  out[l]!.push({ type: 'log_append', peer: l, t, entries: [tile] }, rpc(l, a, 'append_entries', `${n}a`), rpc(l, b, 'append_entries', `${n}b`), state(l, n - 1, n - 1));
  for (const f of [a, b]) {
    out[f]!.push(recv(f, l, 'append_entries', `${n}${f === a ? 'a' : 'b'}`), { type: 'log_append', peer: f, t, entries: [tile] }, state(f, n - 1, n - 1));
    out[f]!.push(rpc(f, l, 'append_entries_reply', `${n}r`, { ok: true }), apply(f), state(f, n, n));
    out[l]!.push(recv(l, f, 'append_entries_reply', `${n}r`, { ok: true }));
  }
  out[l]!.push(state(l, n, n), apply(l));
  return out;
}

async function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  return ws;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const tree = resolve(arg('--tree', resolve(import.meta.dirname, '../..')));
  if (process.argv.includes('--child')) return child(tree);
  const rate = Number(arg('--rate', '20000'));
  const seconds = Number(arg('--seconds', '5'));
  const nBrowsers = Number(arg('--browsers', '1'));
  /** Milliseconds between two frames of a peer (the reporter's spacing). */
  const spacing = Number(arg('--spacing', '5'));
  const profDir = process.argv.includes('--cpu-prof') ? arg('--cpu-prof', '') : '';
  const prof = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', import.meta.filename, '--child', '--tree', tree], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  const waiters: ((s: string) => void)[] = [];
  lines.on('line', (l) => waiters.shift()?.(l));
  const next = () => new Promise<string>((r) => waiters.push(r));
  const port = Number((await next()).split(' ')[1]);
  const cpu = async () => {
    proc.stdin!.write('cpu\n');
    const [, total, system] = (await next()).split(' ');
    return { total: Number(total), system: Number(system) };
  };

  let received = 0;
  let batches = 0;
  let bytes = 0;
  /** --page: the page's work on the frames (ms), with the tree's model. */
  const page = process.argv.includes('--page');
  const { VillageModel } = (await import(pathToFileURL(resolve(tree, 'game/src/model.ts')).href)) as typeof import('../../game/src/model.ts');
  const model = new VillageModel();
  let pageMs = 0;
  let parseMs = 0;
  const pruneEveryMs = 1000 / Number(arg('--page-fps', '10'));
  let prunedAt = 0;
  const delays: number[] = [];
  let from = Infinity;
  const browsers = [];
  for (let i = 0; i < nBrowsers; i++) {
    const ws = await open(`ws://127.0.0.1:${port}/village`);
    if (i === 0)
      ws.on('message', (data) => {
        const now = Date.now();
        const text = String(data);
        const p0 = performance.now();
        const m = JSON.parse(text);
        if (page && from !== Infinity) parseMs += performance.now() - p0;
        if (page) {
          model.receive(m, now);
          if (now - prunedAt >= pruneEveryMs) {
            model.prune(now);
            prunedAt = now;
          }
          if (from !== Infinity) pageMs += performance.now() - p0;
        }
        if (m.type !== 'batch') return;
        if (from !== Infinity) {
          batches++;
          bytes += text.length;
        }
        for (const d of m.deltas) if (d.type === 'event' && d.event.t >= from) {
          // A sampled letter stands for `more` RPCs whose events were not sent.
          received += 1 + (d.more ?? 0);
          delays.push(now - d.event.t);
        }
      });
    browsers.push(ws);
  }
  const peers = await Promise.all(NAMES.map(() => open(`ws://127.0.0.1:${port}/peer`, { 'x-raft-secret': SECRET })));
  const timing = { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 };
  const recovered = { w: 0, term: 0, vote: null, commit: 0, commitPh: EMPTY_PREFIX, lastIndex: 0, lastTerm: 0, lastPh: EMPTY_PREFIX, base: null };
  const extra = (i: number) => (monitorFields ? { boot: `boot${i}`, dataId: `data${i}`, recovered, seq: 0 } : {});
  peers.forEach((ws, i) => ws.send(JSON.stringify({ type: 'hello', peer: NAMES[i], t: Date.now(), pid: 1000 + i, cluster: NAMES, profile: 'fast', timing, ...extra(i) })));
  // Warm up: fill every log to its full tail (the relay keeps the last 300 tiles).
  let n = 0;
  /** Events the subscriber should get (all but `persisted`), of the current run. */
  let passedOn = 0;
  const run = async (ms: number) => {
    let sent = 0;
    passedOn = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      const t = Date.now();
      const due = ((performance.now() - start) / 1000) * rate;
      const frames: Record<string, object[]> = { peer1: [], peer2: [], peer3: [] };
      while (sent < due) {
        const ev = commandEvents(++n, t);
        for (const name of NAMES) {
          frames[name]!.push(...ev[name]!);
          sent += ev[name]!.length;
          passedOn += ev[name]!.length;
        }
      }
      peers.forEach((ws, i) => {
        const f = frames[NAMES[i]!]!;
        // The relay folds `persisted` into its picture without passing it on to browsers.
        for (const e of f) if ((e as { type: string }).type === 'persisted') passedOn--;
        if (f.length) ws.send(JSON.stringify(f));
      });
      await sleep(spacing);
    }
    return sent;
  };
  await run(1500);
  await sleep(500);
  from = Date.now();
  received = 0;
  batches = 0;
  bytes = 0;
  delays.length = 0;
  const u0 = await cpu();
  const sent = await run(seconds * 1000);
  const tailEnd = Date.now() + 2000;
  while (received < passedOn && Date.now() < tailEnd) await sleep(20);
  const u1 = await cpu();
  const [c0, c1] = [u0.total, u1.total];
  const kernel = (u1.system - u0.system) / 1000;
  delays.sort((x, y) => x - y);
  const q = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] ?? NaN;
  const wall = seconds + 0; // cpu was read after the tail wait too
  console.log(
    `tree ${tree}${monitorFields ? ' (monitor fields)' : ''}: ${sent} events in ${seconds} s (${rate}/s), subscriber got ${received}; relay cpu ${((c1 - c0) / 1000).toFixed(0)} ms (kernel ${kernel.toFixed(0)} ms) = ${(((c1 - c0) / 1000) / (sent / 1000)).toFixed(2)} ms per 1,000 events (${((c1 - c0) / 1e6 / wall).toFixed(2)} cores over the send); delay p50 ${q(0.5)} ms p99 ${q(0.99)} ms; ${batches} batches, ${Math.round(bytes / Math.max(1, received))} bytes per event`,
  );
  proc.stdin!.write('laws\n');
  console.log(`monitor: ${(await next()).slice('laws '.length)}`);
  if (page) console.log(`page: ${(batches / seconds).toFixed(1)} batches/s, ${(bytes / seconds / 1024).toFixed(0)} KiB/s; parse + model ${(pageMs / seconds).toFixed(1)} ms per second (parse ${(parseMs / seconds).toFixed(1)}) (${model.flights.size} letters held at the end)`);
  for (const ws of [...peers, ...browsers]) ws.terminate();
  proc.stdin!.end();
  await new Promise((r) => proc.once('exit', r));
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
