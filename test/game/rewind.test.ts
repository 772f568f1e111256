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
import { letterProgress } from '../../game/src/game/letterMotion.ts';
import { VillageTime } from '../../game/src/villageTime.ts';
import { defaultClockView } from '../../shared/village-clock.ts';
import type { RelayToBrowser } from '../../shared/village.ts';
import { browser, FakeLauncher, FakePeer, sleep, testConfig, type Recorder } from './relay-support.ts';

const NAMES = ['peer1', 'peer2', 'peer3'];
const BUBBLE_MS = 2500;
const STRIKE_MS = 900;

/**
 * Everything a view draws from the model at `now` (the console, the connection and counters of
 * changes left out), with every local time given relative to `now`: a page's village time starts
 * when the page opens and stands still while the village is paused, so two folds of the same
 * frames agree on what is drawn and on how long ago things happened, not on the clock's reading.
 */
function drawn(m: VillageModel, now: number) {
  const rel = (t: number | null) => (t === null ? null : t - now);
  return {
    peers: [...m.peers.values()].map((p) => ({
      ...p,
      deadlineLocal: rel(p.deadlineLocal),
      look: m.lookOf(p),
      timer: m.timerLeft(p, now),
      lastApply: p.lastApply && now - p.lastApply.at < BUBBLE_MS ? { ...p.lastApply, at: rel(p.lastApply.at) } : null,
    })),
    leader: m.leader()?.name ?? null,
    kv: m.kv,
    attacks: m.attacks,
    nextAttack: rel(m.nextAttackLocal),
    counters: m.counters,
    launcher: m.launcher,
    laws: m.laws,
    timing: m.timing,
    cut: m.cutLinks(),
    flights: [...m.flights.values()].sort((a, b) => a.rid.localeCompare(b.rid)).map((f) => ({ ...f, sentAt: rel(f.sentAt), landedAt: rel(f.landedAt), vanishedAt: rel(f.vanishedAt) })),
    monster: m.monster.action === 'hunt' || (m.monster.action === 'strike' && now - m.monster.at < STRIKE_MS) ? { ...m.monster, at: rel(m.monster.at), strikeAt: rel(m.monster.strikeAt) } : 'wander',
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
    // The stand-in peers' events break a law, and with a clock the safety monitor would pause
    // the village while they go on talking, as real paused peers never do (a pause is below).
    clock: false,
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
  // The page: every frame folded at its own time (this page's wall clock is the relay's) on village
  // time, as connection.ts does, pruned as a page does every frame.
  page = browser(relay.port);
  const time = new VillageTime(Date.now());
  page.ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as RelayToBrowser;
    if (msg.type !== 'snapshot' && msg.type !== 'batch') return;
    time.observe(msg, msg.now);
    const v = time.now(msg.now);
    live.receive(msg, v);
    live.prune(v);
    if (wantMoment) {
      wantMoment = false;
      moments.push({ t: msg.now, drawn: structuredClone(drawn(live, v)) });
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

async function rebuiltAt(t: number, back: number): Promise<{ model: VillageModel; now: number; startedAt: number }> {
  const res = await fetch(`http://127.0.0.1:${relay.port}/api/recording/frames?at=${t}&back=${back}&ahead=0`);
  expect(res.status).toBe(200);
  const { frames, bad } = parseFrames(await res.text());
  expect(bad).toBe(0);
  const r = new Rewind(frames);
  const model = r.at(t, back);
  return { model, now: r.now(t), startedAt: frames[0]!.now };
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
      const { model, now, startedAt } = await rebuiltAt(m.t, back);
      if (startedAt > info.start!) fromKeyframe++;
      expect(drawn(model, now), `the village at ${m.t - info.start!} ms into the recording`).toEqual(m.drawn);
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
    expect(drawn(played, r.now(t1))).toEqual(moments[2]!.drawn);
  });

  it('keeps a letter held by a pause where it was in the rewound village, and lets it fly on after the resume', () => {
    const clock = (paused: boolean, at: number) => ({ type: 'clock' as const, clock: { ...defaultClockView(true), paused, by: paused ? 'a visitor' : null, at } });
    const send = { type: 'event' as const, event: { peer: 'peer1', t: 100, type: 'rpc_send' as const, to: 'peer2', rid: 'peer1:7', rpc: 'append_entries' as const, term: 1, heartbeat: false, entries: 1 } };
    const frames = [
      { now: 0, keyframe: false, msg: { type: 'batch' as const, now: 0, deltas: [clock(false, 0)] } },
      { now: 100, keyframe: false, msg: { type: 'batch' as const, now: 100, deltas: [send] } },
      { now: 130, keyframe: false, msg: { type: 'batch' as const, now: 130, deltas: [clock(true, 130)] } },
      { now: 20_130, keyframe: false, msg: { type: 'batch' as const, now: 20_130, deltas: [clock(false, 20_130)] } },
    ];
    const r = new Rewind(frames);
    const shown = (t: number) => {
      const m = r.at(t, 0);
      return letterProgress(m.flights.get('peer1:7')!, r.now(t), 400);
    };
    const atPause = shown(130);
    expect(atPause).toMatchObject({ puff: false, alpha: 1 });
    // Twenty seconds of pause, far past a letter's timeout: it stays in the air where it was.
    for (const t of [1_000, 10_000, 20_000]) expect(shown(t), `at ${t}`).toEqual(atPause);
    // Resumed, it flies on from there (and is still in the air, not given up).
    const after = shown(20_200)!;
    expect(after.t).toBeGreaterThan(atPause!.t);
    expect(after.puff).toBe(false);
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
