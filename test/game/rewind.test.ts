// Seeking in a recording (game/src/rewind.ts over what the relay's flight recorder wrote): the
// village rebuilt at a moment T is the village a live page held at T. A real relay (in this
// process, on a loopback port) is fed by stand-in peers: elections, letters that land, are
// dropped or never land, appends, commits and applied commands. A browser socket folds the live
// stream into a model, as the page does, and keeps what it held at a few moments; then each
// moment is rebuilt from /api/recording/frames and compared, everything drawn included.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import { FLIGHT_TIMEOUT_MS, VillageModel } from '../../game/src/model.ts';
import { lookBackMs, parseFrames, Rewind } from '../../game/src/rewind.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { browser, FakeLauncher, FakePeer, sleep, testConfig, type Recorder } from './relay-support.ts';

const NAMES = ['peer1', 'peer2', 'peer3'];
const BUBBLE_MS = 2500;
const STRIKE_MS = 900;

/** Everything a view draws from the model at `now` (the console, the connection and counters of changes left out). */
function drawn(m: VillageModel, now: number) {
  return {
    peers: [...m.peers.values()].map((p) => ({ ...p, look: m.lookOf(p), timer: m.timerLeft(p, now), lastApply: p.lastApply && now - p.lastApply.at < BUBBLE_MS ? p.lastApply : null })),
    leader: m.leader()?.name ?? null,
    kv: m.kv,
    attacks: m.attacks,
    nextAttack: m.nextAttackLocal,
    counters: m.counters,
    launcher: m.launcher,
    laws: m.laws,
    timing: m.timing,
    cut: m.cutLinks(),
    flights: [...m.flights.values()].sort((a, b) => a.rid.localeCompare(b.rid)),
    monster: m.monster.action === 'hunt' || (m.monster.action === 'strike' && now - m.monster.at < STRIKE_MS) ? m.monster : 'wander',
  };
}

let dir: string;
let relay: Relay;
let peers: FakePeer[];
let launcher: FakeLauncher;
let page: Recorder<RelayToBrowser>;
const live = new VillageModel();
/** What the live page held at a few moments. */
const moments: { t: number; drawn: ReturnType<typeof drawn> }[] = [];
let wantMoment = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rewind-test-'));
  relay = await startRelay({
    config: testConfig({ peers: 3, recordingBytes: 64 * 1024 * 1024 }),
    port: 0,
    attacks: false,
    distDir: join(dir, 'no-dist'),
    recordingDir: join(dir, 'village'),
    recordingKeyframeMs: 2000,
    kvClient: () => ({ command: async () => ({ ok: false }) as never, close() {} }) as never,
    admin: async () => {
      throw new Error('no admin here');
    },
    log: () => {},
  });
  launcher = new FakeLauncher(relay.port, NAMES);
  await launcher.start();
  peers = NAMES.map((n) => new FakePeer(relay.port, n, NAMES));
  for (const p of peers) await p.hello();
  // The page: every frame folded at its own time (this page's clock is the relay's), pruned as a page does every frame.
  page = browser(relay.port);
  page.ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as RelayToBrowser;
    if (msg.type !== 'snapshot' && msg.type !== 'batch') return;
    live.receive(msg, msg.now);
    live.prune(msg.now);
    if (wantMoment) {
      wantMoment = false;
      moments.push({ t: msg.now, drawn: structuredClone(drawn(live, msg.now)) });
    }
  });
  await page.opened;
}, 30_000);

afterAll(async () => {
  page?.close();
  for (const p of peers ?? []) p.close();
  launcher?.close();
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A few seconds of a busy village: a leader per term, letters, entries, commits, applied commands. */
async function village(seconds: number, term0: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let index = 0;
  let n = 0;
  let term = term0;
  const leaderOf = (t: number) => peers[t % peers.length]!;
  const elect = () => {
    const l = leaderOf(term);
    for (const p of peers) p.state(p === l ? { role: 'leader', term, vote: l.name, leader: l.name, commitIndex: index, appliedIndex: index, lastIndex: index, lastTerm: term } : { role: 'follower', term, vote: l.name, leader: l.name, commitIndex: index, lastIndex: index });
  };
  elect();
  while (Date.now() < end) {
    n++;
    if (n % 40 === 0) {
      term++;
      elect();
    }
    const l = leaderOf(term);
    for (const f of peers) {
      if (f === l) continue;
      const rid = `${l.name}:${term}-${n}-${f.name}`;
      l.send({ type: 'rpc_send', to: f.name, rid, rpc: 'append_entries', term, heartbeat: n % 3 !== 0, entries: n % 3 === 0 ? 1 : 0 });
      // Most letters land; some are dropped; one in seven never lands (given up as lost later).
      if (n % 7 === 3) continue;
      if (n % 11 === 5) f.send({ type: 'rpc_drop', to: f.name, rid, rpc: 'append_entries', term, heartbeat: true, entries: 0, reason: 'dropped' });
      else setTimeout(() => f.send({ type: 'rpc_recv', from: l.name, rid, rpc: 'append_entries', term, heartbeat: true, entries: 0 }), 30 + (n % 5) * 40);
    }
    if (n % 3 === 0) {
      index++;
      const tile = { index, term, label: `k${index % 4} set ${n}` };
      for (const p of peers) p.send({ type: 'log_append', entries: [tile] });
      for (const p of peers) p.send({ type: 'commit', index });
      const applied = { index, term, command: [`k${index % 4}`, 'set', String(n)], ok: true, result: n, key: `k${index % 4}`, value: n };
      for (const p of peers) p.send({ type: 'apply', entries: [applied] });
      for (const p of peers) p.state(p === l ? { role: 'leader', term, vote: l.name, leader: l.name, commitIndex: index, appliedIndex: index, lastIndex: index, lastTerm: term } : { role: 'follower', term, vote: l.name, leader: l.name, commitIndex: index, appliedIndex: index, lastIndex: index, lastTerm: term });
    }
    await sleep(50);
  }
}

async function moment(): Promise<number> {
  const before = moments.length;
  wantMoment = true;
  while (moments.length === before) await sleep(10);
  return moments[moments.length - 1]!.t;
}

async function rebuiltAt(t: number, back: number): Promise<{ model: VillageModel; startedAt: number }> {
  const res = await fetch(`http://127.0.0.1:${relay.port}/api/recording/frames?at=${t}&back=${back}&ahead=0`);
  expect(res.status).toBe(200);
  const { frames, bad } = parseFrames(await res.text());
  expect(bad).toBe(0);
  const r = new Rewind(frames);
  return { model: r.at(t, back), startedAt: frames[0]!.now };
}

describe('seeking in a recording', () => {
  it('rebuilds at a moment T exactly the village a live page held at T, letters in the air and timers included', { timeout: 60_000 }, async () => {
    await village(3, 1);
    await moment();
    await village(4, 10);
    await moment();
    await village(FLIGHT_TIMEOUT_MS / 1000 + 6, 20);
    await moment();
    await village(1.5, 30);
    await moment();
    const info = relay.recorder!.info();
    const back = lookBackMs(live.timing);
    let fromKeyframe = 0;
    for (const m of moments) {
      const { model, startedAt } = await rebuiltAt(m.t, back);
      if (startedAt > info.start!) fromKeyframe++;
      expect(drawn(model, m.t), `the village at ${m.t - info.start!} ms into the recording`).toEqual(m.drawn);
    }
    // Not all from the recording's start: later moments start from a keyframe.
    expect(fromKeyframe).toBeGreaterThanOrEqual(1);
    // The moments show a busy village: letters in the air, some never landing, a board, changing leaders.
    const all = moments.map((m) => m.drawn);
    expect(all.some((d) => d.flights.some((f) => f.landedAt === null && f.vanishedAt === null))).toBe(true);
    expect(all.some((d) => d.flights.some((f) => f.vanishReason === 'lost'))).toBe(true);
    expect(new Set(all.map((d) => d.leader)).size).toBeGreaterThan(1);
    expect(Object.keys(all[all.length - 1]!.kv).length).toBe(4);
  });

  it('plays forward from a rebuilt moment to the same village as rebuilding at the later moment', async () => {
    const t0 = moments[1]!.t;
    const t1 = moments[2]!.t;
    const back = lookBackMs(live.timing);
    const res = await fetch(`http://127.0.0.1:${relay.port}/api/recording/frames?at=${t0}&back=${back}&ahead=${t1 - t0}`);
    const r = new Rewind(parseFrames(await res.text()).frames);
    r.at(t0, back);
    let played = r.at(t0, back);
    for (let t = t0; t < t1; t += 16) played = r.at(t, back);
    played = r.at(t1, back);
    expect(drawn(played, t1)).toEqual(moments[2]!.drawn);
  });

  it('gives a letter up as lost at its timeout, whenever the page looked', () => {
    const seen = (step: number) => {
      const m = new VillageModel();
      m.receive({ type: 'batch', now: 0, deltas: [{ type: 'event', event: { peer: 'peer1', t: 0, type: 'rpc_send', to: 'peer2', rid: 'peer1:1', rpc: 'append_entries', term: 1, heartbeat: true, entries: 0 } }] }, 0);
      for (let t = 0; t <= FLIGHT_TIMEOUT_MS + 300; t += step) m.prune(t);
      return m.flights.get('peer1:1');
    };
    expect(seen(16)).toMatchObject({ vanishReason: 'lost', vanishedAt: FLIGHT_TIMEOUT_MS });
    expect(seen(250)).toEqual(seen(16));
  });
});
