// Runs real clusters, drives every kind of exchange, and prints PROTOCOL.md with the frames
// as they were really sent:   npx tsx test/support/capture-protocol.ts > PROTOCOL.md
//
// Peer-to-peer frames come from the peers' wire tap (RAFT_WIRE_TAP), client and admin frames
// from this script's own connections, -v events and launcher reports from a fake relay, and
// browser frames from a real relay (game/relay/server.ts) in front of a one-peer cluster.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, type RawData } from 'ws';
import { ClusterClient } from '../../shared/client.ts';
import type { LauncherReport, PeerEvent } from '../../shared/events.ts';
import { PEER_HEADER, SECRET_HEADER } from '../../shared/peer-protocol.ts';
import { VILLAGE_TOKEN_PARAM, type BrowserToRelay, type Delta, type LawsView, type RelayToBrowser } from '../../shared/village.ts';
import { rawText } from '../../shared/ws.ts';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { startRelay } from '../../game/relay/server.ts';
import { sendFrame, sleep, startCluster, waitFor, type TestCluster } from './cluster.ts';
import { FakeRelay } from './fake-relay.ts';
import { FakePeer as StreamWriter } from '../monitor/fake-peer.ts';
import { CONFIG_EVENT_DOC, MEMBERSHIP_ADMIN_DOC } from './membership-protocol-doc.ts';

interface Exchange {
  title: string;
  note?: string;
  request: string;
  reply: unknown;
}

const out: string[] = [];
const p = (s = '') => out.push(s);

function json(v: unknown): string {
  const one = JSON.stringify(v);
  return one.length <= 110 ? one : JSON.stringify(v, null, 2);
}

function block(v: unknown): void {
  p('```json');
  p(typeof v === 'string' ? v : json(v));
  p('```');
}

async function client(c: TestCluster, peer: string, frame: unknown): Promise<Exchange & { raw: unknown }> {
  const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
  const reply = await sendFrame(c.peer(peer), '/client', text);
  return { title: '', request: text, reply, raw: reply };
}

async function admin(c: TestCluster, peer: string, frame: unknown): Promise<Exchange> {
  const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
  const reply = await sendFrame(c.peer(peer), '/admin', text, 5000, { [SECRET_HEADER]: c.config.secret });
  return { title: '', request: text, reply };
}

async function refusal(c: TestCluster, path: string, headers: Record<string, string>): Promise<string> {
  try {
    await sendFrame(c.peer('peer1'), path, '{}', 3000, headers);
    return 'accepted?';
  } catch (e) {
    return (e as Error).message;
  }
}

interface Tapped {
  t: number;
  from: string;
  to: string;
  frame: string;
}

function readTap(dir: string): Tapped[] {
  const all: Tapped[] = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) all.push(JSON.parse(line) as Tapped);
  }
  return all.sort((a, b) => a.t - b.t);
}

async function main(): Promise<void> {
  const tapDir = mkdtempSync(join(tmpdir(), 'raft-village-tap-'));
  const c = await startCluster({ peers: 3, verbose: true, start: false, env: { RAFT_WIRE_TAP: tapDir } });
  const relay = await FakeRelay.start(c.relayPort);
  const exchanges: Record<string, Exchange> = {};
  const put = (key: string, title: string, e: Exchange, note?: string) => (exchanges[key] = { ...e, title, ...(note ? { note } : {}) });
  const refusals: Array<[string, string]> = [];
  try {
    c.startAll();
    let leader = await c.waitForLeader();
    let follower = c.names.find((n) => n !== leader)!;

    // ---- client contract ----
    put('add', 'add (a numeric string is taken as a number)', await client(c, leader, { type: 'request_command', id: 'r1', command: ['x', 'add', '100'] }));
    put('set', 'set', await client(c, leader, { type: 'request_command', id: 'r2', command: ['y', 'set', 'hello'] }));
    put('get', 'get (linearizable: ReadIndex)', await client(c, leader, { type: 'request_command', id: 'r3', command: ['x', 'get'] }));
    put('cas', 'cas that swaps', await client(c, leader, { type: 'request_command', id: 'r4', command: ['y', 'cas', 'hello', 'world'] }));
    put('cas2', 'cas that does not swap', await client(c, leader, { type: 'request_command', id: 'r5', command: ['y', 'cas', 'hello', 'again'] }));
    put('del', 'del', await client(c, leader, { type: 'request_command', id: 'r6', command: ['y', 'del'] }));
    put('once1', 'exactly-once: first try', await client(c, leader, { type: 'request_command', id: 'r7', command: ['n', 'add', 1], client: 'console-1f3a', seq: 1 }));
    put(
      'once2',
      'exactly-once: the retry is appended again but applied as a repeat: it returns the first outcome, n stays 1',
      await client(c, leader, { type: 'request_command', id: 'r8', command: ['n', 'add', 1], client: 'console-1f3a', seq: 1 }),
    );
    put('notleader', 'sent to a follower', await client(c, follower, { type: 'request_command', id: 'r9', command: ['x', 'add', '1'] }));
    put('bad', 'invalid command', await client(c, leader, { type: 'request_command', id: 'r10', command: ['x', 'explode'] }));
    put('bad2', 'add to a value that is not a number (decided when applied)', await client(c, leader, { type: 'request_command', id: 'r11', command: ['s', 'set', 'text'] }));
    put('bad3', '', await client(c, leader, { type: 'request_command', id: 'r12', command: ['s', 'add', 1] }));
    put('frame1', 'not JSON', await client(c, leader, 'x add 1'));
    put('frame2', 'a readable id is echoed', await client(c, leader, { type: 'request_command', id: 'r13' }));

    // ---- admin ----
    put('status', 'status', await admin(c, follower, { type: 'status', id: 'a1' }));
    put('statuskv', 'status with the key-value store', await admin(c, leader, { type: 'status', kv: true }));
    put('statuslog', "status with a window of the log and the leader's progress (what the village's inspector shows)", await admin(c, leader, { type: 'status', id: 'a2', log: { last: 3 }, progress: true }));
    put('statusbadlog', 'status with a log window that is too large', await admin(c, leader, { type: 'status', log: { from: 1, to: 500 } }));
    put('faultsread', 'read the faults', await admin(c, follower, { type: 'faults' }));
    put('faultsbad', 'bad admin frame', await admin(c, follower, { type: 'faults', blocked: ['peer7'] }));

    // ---- refusals ----
    refusals.push(['/nope', await refusal(c, '/nope', {})]);
    refusals.push(['/raft without headers', await refusal(c, '/raft', {})]);
    refusals.push(['/raft with a wrong secret', await refusal(c, '/raft', { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: 'guess' })]);
    refusals.push(['/raft from a non-member', await refusal(c, '/raft', { [PEER_HEADER]: 'mallory', [SECRET_HEADER]: c.config.secret })]);
    refusals.push(['/admin without the secret', await refusal(c, '/admin', {})]);

    // ---- unknown: the leader is cut off after appending ----
    put(
      'faultsset',
      'isolate a peer (block both directions)',
      await admin(c, leader, { type: 'faults', id: 'a2', blocked: c.names.filter((n) => n !== leader), dropRate: 0, latencyMs: 0 }),
    );
    put('unknown', 'the leader was cut off after appending: outcome unknown', await client(c, leader, { type: 'request_command', id: 'r14', command: ['x', 'add', '5'] }));
    const others = c.names.filter((n) => n !== leader);
    await c.waitForLeader({ among: others });
    await c.write(['x', 'add', '10'], { among: others });
    put('heal', 'heal', await admin(c, leader, { type: 'faults', blocked: [], dropRate: 0, latencyMs: 0 }));
    leader = await c.waitForLeader();
    follower = c.names.find((n) => n !== leader)!;
    await relay.waitForEvent((e) => e.type === 'log_truncate' && e.from > 1, 'a truncation after healing', 10_000).catch(() => null);

    // ---- a follower that falls behind: a refused vote, then rejected appends while it catches up ----
    const stale = follower;
    await c.faults(stale, { blocked: [leader] });
    for (let i = 0; i < 3; i++) await c.write(['z', 'add', 1], { among: c.names.filter((n) => n !== stale) });
    // A forced election on the stale peer: the third peer hears it and refuses (its log is behind, §5.4.1).
    put('campaign', 'force an election on this peer', await admin(c, stale, { type: 'campaign', id: 'a3' }));
    await sleep(200);
    await c.faults(stale, { blocked: [] });
    leader = await c.waitForLeader();
    await waitFor('the stale peer to catch up', async () => (await c.status(stale)).appliedIndex === (await c.status(leader)).appliedIndex);
    await c.write(['x', 'get']);
    await sleep(300);

    // ---- reporter_dropped: a tiny queue overflows on the catch-up burst ----
    const small = c.names.find((n) => n !== leader)!;
    await c.kill(small);
    c.start(small, { RAFT_REPORTER_QUEUE: '3' });
    await relay.waitForEvent((e) => e.type === 'reporter_dropped', 'reporter_dropped', 15_000);
    await c.waitForLeader();
  } finally {
    await c.teardown().catch(() => {});
  }

  // ---- launcher <-> relay ----
  const lc = await startCluster({ peers: 1, start: false });
  const lrelay = await FakeRelay.start(lc.relayPort);
  const launcher = spawn(process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, 'peer/launcher.ts'), '1', '-v', '--profile', 'fast', '--config', lc.ini], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const commands: string[] = [];
  try {
    await lrelay.waitForReport((r) => r.type === 'process' && r.alive, 'peer up', 20_000);
    const kill = { type: 'kill', peer: 'peer1' } as const;
    lrelay.command(kill);
    commands.push(JSON.stringify(kill));
    await lrelay.waitForReport((r) => r.type === 'process' && !r.alive, 'peer down');
    const revive = { type: 'revive', peer: 'peer1' } as const;
    lrelay.command(revive);
    commands.push(JSON.stringify(revive));
    await waitFor('peer up again', () => lrelay.reports.filter((r) => r.type === 'process' && r.alive).length >= 2);
  } finally {
    launcher.kill('SIGTERM');
    await new Promise((r) => launcher.once('exit', r));
    await lrelay.close();
    await lc.teardown();
  }

  const village = await captureVillage();

  const tapped = readTap(tapDir);
  rmSync(tapDir, { recursive: true, force: true });
  await relay.close();
  render(exchanges, refusals, tapped, relay.events, lrelay.reports, commands);
  renderVillage(village);
  process.stdout.write(out.join('\n') + '\n');
}

interface VillageCapture {
  /** What the browser sent, and the reply to it. */
  exchanges: Array<{ sent: string; reply: RelayToBrowser | undefined }>;
  /** The console deltas of the batches that followed the console line. */
  lines: Delta[];
  /** The snapshot's `laws` part, and the first `laws` delta after it. */
  laws: LawsView | undefined;
  lawsDelta: Delta | undefined;
  /** A `laws` delta that carries a violation (a relay fed by stand-in peers). */
  broken: Delta | undefined;
  /** Lines of the flight recorder's file of that run: header, first snapshot, a batch, a keyframe. */
  recording: string[];
}

/** A real relay in front of a one-peer cluster, and a browser with the page's token. */
async function captureVillage(): Promise<VillageCapture> {
  const c = await startCluster({ peers: 1, verbose: true, start: false });
  const relay = await startRelay({ config: c.config, port: c.relayPort, attacks: false, log: () => {}, kvClient: (peers) => new ClusterClient({ peers }) });
  const received: RelayToBrowser[] = [];
  const exchanges: VillageCapture['exchanges'] = [];
  let ws: WebSocket | null = null;
  try {
    c.startAll();
    await c.waitForLeader();
    await waitFor('the peer reporting to the relay', () => relay.picture.peerList().some((p) => p.reporting));
    ws = new WebSocket(`ws://127.0.0.1:${relay.port}/village?${VILLAGE_TOKEN_PARAM}=${relay.token}`, { headers: { origin: `http://127.0.0.1:${relay.port}` } });
    ws.on('message', (data: RawData) => received.push(JSON.parse(rawText(data)) as RelayToBrowser));
    const sock = ws;
    await new Promise<void>((resolve, reject) => {
      sock.once('open', () => resolve());
      sock.once('error', reject);
    });
    await waitFor('the snapshot', () => received.some((m) => m.type === 'snapshot'));
    const from = received.length;
    const ask = async (msg: BrowserToRelay & { id: string }) => {
      const sent = JSON.stringify(msg);
      sock.send(sent);
      const reply = await waitFor(`the reply ${msg.id}`, () => received.find((m) => m.type === 'reply' && m.id === msg.id), 10_000);
      exchanges.push({ sent, reply });
    };
    await ask({ type: 'console', id: 'c1', line: 'x add 100' });
    await ask({ type: 'kill', id: 'c2', peer: 'peer1' });
    await ask({ type: 'lesson', id: 'c3', op: 'peek', peer: 'peer1' });
    await ask({ type: 'lesson', id: 'c4', op: 'request', peer: 'peer1', command: ['n', 'add', '1'], client: 'lesson-7f2c', seq: 1 });
    const bad = JSON.stringify({ type: 'lesson', id: 'c5', op: 'request', peer: 'peer1', command: ['n', 'add', '1'], seq: 1 });
    sock.send(bad);
    exchanges.push({ sent: bad, reply: await waitFor('the reply c5', () => received.find((m) => m.type === 'reply' && m.id === 'c5'), 10_000) });
    const lines = () => received.slice(from).flatMap((m) => (m.type === 'batch' ? m.deltas.filter((d) => d.type === 'console') : []));
    await waitFor('the console lines of both', () => lines().length >= 2);
    const snapshot = received.find((m) => m.type === 'snapshot');
    const lawsDeltas = () => received.flatMap((m) => (m.type === 'batch' ? m.deltas.filter((d) => d.type === 'laws') : []));
    await waitFor('a laws delta', () => lawsDeltas().length > 0);
    // Past the recorder's first keyframe (10 s of batches), then what it wrote.
    const file = relay.recorder!.currentFile!;
    await waitFor('a keyframe in the recording', () => readFileSync(file, 'utf8').includes('"keyframe":true'), 20_000);
    const written = readFileSync(file, 'utf8').split('\n');
    return {
      exchanges,
      lines: lines(),
      laws: snapshot?.type === 'snapshot' ? snapshot.picture.laws : undefined,
      lawsDelta: lawsDeltas()[0],
      broken: await captureBrokenLaw(),
      recording: [written[0]!, written[1]!, written.find((l) => l.includes('"type":"peer"') && l.length < 1500) ?? '', written.find((l) => l.includes('"keyframe":true'))!],
    };
  } finally {
    ws?.close();
    await relay.close();
    await c.teardown();
  }
}

/**
 * A real relay fed by two stand-in peers whose streams carry the monitor's fields
 * (test/monitor/fake-peer.ts) and both lead term 1: the `laws` delta that reports it.
 */
async function captureBrokenLaw(): Promise<Delta | undefined> {
  const c = await startCluster({ peers: 2, start: false });
  const relay = await startRelay({ config: c.config, port: c.relayPort, attacks: false, log: () => {}, kvClient: (peers) => new ClusterClient({ peers }) });
  const sockets: WebSocket[] = [];
  try {
    const received: RelayToBrowser[] = [];
    const browser = new WebSocket(`ws://127.0.0.1:${relay.port}/village`, { headers: { origin: `http://127.0.0.1:${relay.port}` } });
    sockets.push(browser);
    browser.on('message', (data: RawData) => received.push(JSON.parse(rawText(data)) as RelayToBrowser));
    await waitFor('the snapshot', () => received.some((m) => m.type === 'snapshot'));
    const [p1, p2] = [new StreamWriter('peer1'), new StreamWriter('peer2')];
    const story = [[p1.hello(), p2.hello()], [...p1.campaign(1), ...p1.lead()], [...p2.campaign(1), ...p2.lead()]];
    const streams = new Map<string, WebSocket>();
    for (const step of story) {
      for (const e of step) {
        let ws = streams.get(e.peer);
        if (!ws) {
          const open = new WebSocket(`ws://127.0.0.1:${relay.port}/peer`, { headers: { [SECRET_HEADER]: c.config.secret } });
          sockets.push(open);
          await new Promise<void>((resolve, reject) => {
            open.once('open', () => resolve());
            open.once('error', reject);
          });
          streams.set(e.peer, open);
          ws = open;
        }
        ws.send(JSON.stringify(e));
      }
      const sent = story.slice(0, story.indexOf(step) + 1).flat().length;
      await waitFor('the relay to take the step in', () => relay.laws.status().eventsSeen >= sent);
    }
    const broken = () => received.flatMap((m) => (m.type === 'batch' ? m.deltas.filter((d) => d.type === 'laws' && d.violations.length > 0) : []))[0];
    return await waitFor('the laws delta with the violation', broken);
  } finally {
    for (const ws of sockets) ws.terminate();
    await relay.close();
    await c.teardown();
  }
}

function renderVillage(v: VillageCapture): void {
  p();
  p('## Relay and browser: `ws://[relay]/village`');
  p();
  p('Types in `shared/village.ts`. A browser first gets a `snapshot` (the whole picture: every');
  p("peer's fields and log tail, the board, counters, the laws), then the recent console lines and");
  p('from then on `batch` frames of deltas. A browser that opened `/village?token=TOKEN` with the');
  p("relay's own Origin (the page the relay serves carries the token) may send commands; each");
  p('gets a `reply` with its `id`. Without the token every command is refused; the village still');
  p('shows.');
  p();
  p('`{"type":"inspect","peer":"peer2","id":"b7"}` (optional `log`: a window as in the admin');
  p("`status`, default `{\"last\":50}`) looks inside a peer: the relay asks the peer's `/admin` for");
  p('`status` with `log` and `progress: true` and replies with it as `value` (without `type`, `id`');
  p('and `kv`). Reading only: a page without the token may inspect too. Asks for the same peer and');
  p('window that overlap share one `/admin` round trip.');
  p();
  p('Console lines go to every browser as `console` deltas; `level` says what a line is:');
  p('`input` a line someone typed, as typed (the page shows it as `> line`), `result` or `error`');
  p('its outcome, `event` what happened in the village, `info` anything else. `at` is when the');
  p('relay wrote it.');
  p();
  const titles = [
    'a console line and its reply',
    'a command of the page (kill) refused: no launcher is connected',
    "a lesson's peek: one villager's own key-value store, through its /admin",
    "a lesson's request: one command of the client contract to one villager, its command_result as the value",
    'a lesson message refused: seq without client',
  ];
  v.exchanges.forEach((e, i) => {
    p(`### ${titles[i] ?? 'command'}`);
    p();
    block(e.sent);
    block(e.reply ?? '(no reply)');
    p();
  });
  p('### the console deltas that followed (other deltas of those batches left out)');
  p();
  for (const d of v.lines) block(d);
  p();
  p('### the laws: the `laws` part of the picture');
  p();
  p("The relay runs the safety monitor (`game/relay/monitor/`) over every peer's events; the");
  p('snapshot\'s `laws` part is its verdict so far (`LawsView`). `eventsChecked` counts the events');
  p('that took part in a check that could have failed; every law has held while `violationCount`');
  p('is 0. `blind` names the peers for which the checks that need every one of their events are');
  p('off: since which event of the peer\'s process (`sinceSeq`), why, and whether its events carry');
  p('`seq` at all (`numbered: false`: a peer that sends none of the fields the monitor reads).');
  p('`violations` lists the first 20 violations; each has a number `n` (1, 2, ... in the');
  p('order the relay saw them), the law\'s id, name and statement in plain words, what was seen,');
  p('the peers, indexes and terms, the events it rests on (`evidence`: peer, its `seq` and `boot`,');
  p('type, time on the peer, what it said), when the relay saw it, and the evidence file the relay');
  p('wrote in its log directory (null if it could not).');
  p();
  block(v.laws ?? '(not seen)');
  p();
  p('### a `laws` delta');
  p();
  p('When the counts, the blind peers or the violations change: at most one every 250 ms, not one');
  p('per event. `laws` carries the counts and blind peers in full; `violations` only those found');
  p('since the previous `laws` delta (a browser skips a number it holds already).');
  p();
  block(v.lawsDelta ?? '(not seen)');
  p();
  p('### a `laws` delta with a broken law (the relay fed by two stand-in peers that both lead term 1)');
  p();
  p('The relay also writes the evidence file and a `LAW BROKEN: ...` line on its console, and sends');
  p('every browser an `error` console line (`law broken: Election Safety. ...`).');
  p();
  block(v.broken ?? '(not seen)');
  renderRecording(v.recording);
}

/** A keyframe's picture with each log cut to its last tile, to keep the example short. */
function shortPicture(line: string): unknown {
  const f = JSON.parse(line) as { picture: { peers: Array<{ log: unknown[] }> } };
  return { ...f, picture: { ...f.picture, peers: f.picture.peers.map((p) => ({ ...p, log: p.log.slice(-1) })) } };
}

function renderRecording(lines: string[]): void {
  p();
  p('## Recordings: `[cluster] log_dir/village/<start time>.jsonl`');
  p();
  p("The relay's flight recorder (`game/relay/recorder.ts`) writes every frame the browsers are sent");
  p('on `/village` to a file, one JSON object per line (JSON Lines, UTF-8, each line ended by `\\n`).');
  p('The page\'s timeline and `npm run replay -- FILE` read it (`game/relay/recording.ts`). Lines:');
  p();
  p('1. a header: `{"type":"recording","version":1,"now":T,"run":ISO,"part":N}`; `run` is when the');
  p("   relay started (shared by a run's files), `part` the file's number in the run;");
  p('2. a `snapshot` frame, exactly as a browser gets it: the whole picture;');
  p('3. then every `batch` frame the browsers were sent, exactly as sent, and at least every 10 s of');
  p('   batches a keyframe: a `snapshot` with `"keyframe":true`, the picture right after the batch');
  p('   before it. A snapshot without the mark is one the fan-out itself sent to every browser (the');
  p("   village's villagers changed) and counts when folding forward.");
  p();
  p("`now` is the relay's wall clock (ms) and never decreases. A file grows to about");
  p('`[relay] recording_bytes`; the run then goes on in a new file that begins again with a header');
  p('and a snapshot, so every file can be replayed alone. Files beyond `[relay] recordings_kept` are');
  p('removed, oldest first. Replies, and the console history a new browser gets, are not recorded.');
  p();
  p('Readers: a last line without its `\\n` (the relay died mid-write) is left out; a line that is');
  p('not JSON, not an object, of another type, or without a numeric `now` is reported with its line');
  p('number (`FILE line 57: not JSON (...); skipped`) and skipped.');
  p();
  p('Over HTTP (the relay for its own run, `npm run replay` for its file):');
  p('`GET /api/recording` -> `{"mode":"live"|"replay","files":[...],"start":T,"end":T,"off":null|why}`;');
  p('`GET /api/recording/frames?at=T&back=MS&ahead=MS` -> the lines (JSON Lines) from the last');
  p('keyframe at or before `at - back` (default 10 s) to the first frame after `at + ahead`');
  p('(default 20 s), at most 8 MiB; a bad query gets 400 and what was wrong.');
  p();
  p('### the header and the first snapshot of a file');
  p();
  block(lines[0] ? JSON.parse(lines[0]) : '(not seen)');
  block(lines[1] ? shortPicture(lines[1]) : '(not seen)');
  p();
  p('### a batch');
  p();
  block(lines[2] ? JSON.parse(lines[2]) : '(not seen)');
  p();
  p('### a keyframe (logs cut to their last tile here)');
  p();
  block(lines[3] ? shortPicture(lines[3]) : '(not seen)');
}

function render(
  ex: Record<string, Exchange>,
  refusals: Array<[string, string]>,
  tapped: Tapped[],
  events: PeerEvent[],
  reports: LauncherReport[],
  commands: string[],
): void {
  const frames = tapped.map((t) => ({ ...t, value: JSON.parse(t.frame) as unknown }));
  const single = frames.filter((f) => !Array.isArray(f.value)) as Array<Tapped & { value: Record<string, unknown> }>;
  const find = (what: string, pred: (m: Record<string, unknown>) => boolean) => {
    const f = single.find((x) => pred(x.value));
    return f ? f.frame : `(not seen in this run: ${what})`;
  };

  p('# Raft Village wire protocol');
  p();
  p('Every frame below was captured from a running cluster by `test/support/capture-protocol.ts`');
  p('(`npx tsx test/support/capture-protocol.ts > PROTOCOL.md` regenerates this file). Ports and');
  p('times differ from run to run; the shapes do not.');
  p();
  p('Every message is one JSON object per WebSocket text frame. Each peer listens on the');
  p('`host:port` of its `[peers]` line in `raft_peer.ini`, with three paths:');
  p();
  p('| path | who | authentication |');
  p('|---|---|---|');
  p('| `/raft` | the other peers of the cluster | headers `x-raft-peer: NAME` and `x-raft-secret: [cluster] secret` |');
  p('| `/client` | clients (terminal client, relay console, tools) | none: the client contract |');
  p('| `/admin` | the relay, the launcher, tests | header `x-raft-secret` |');
  p();
  p('Frames larger than `[limits] max_frame_bytes` are refused on every path: the connection is');
  p('closed with code 1009 (message too big). Each path has a connection limit (`/raft` 4 per');
  p('member, `/client` 256, `/admin` 32); beyond it the upgrade is answered `503`. A frame that');
  p('does not validate is dropped and logged (`/raft`) or answered with a `bad_frame` error');
  p('(`/client`, `/admin`); nothing else happens and the connection stays open.');
  p();
  p('## Refused connections');
  p();
  p('The upgrade is answered with an HTTP status and a one-line reason:');
  p();
  p('| request | answer |');
  p('|---|---|');
  for (const [what, answer] of refusals) p(`| ${what} | \`${answer.replace(/\|/g, '\\|')}\` |`);
  p();
  p('## Peer to peer: `/raft`');
  p();
  p('Each peer opens one connection to every other peer and sends on it; it receives on the');
  p("connections the others opened (one stream per direction). A frame holds one message, or an");
  p('array of messages for the same peer sent in the same turn of the event loop. Every message');
  p('carries `rid` (`FROM:N`, unique per sender, also across restarts): the `rpc_send` and');
  p('`rpc_recv` events of its two ends carry the same rid. `from` must be the name the');
  p('connection authenticated as and `to` the receiving peer, or the message is dropped.');
  p('Field names follow the Raft paper (Figure 2).');
  p();
  const sections: Array<[string, string, (m: Record<string, unknown>) => boolean]> = [
    ['PreVote (dissertation §9.6): "would you vote for me?", changes no state', 'request_vote preVote', (m) => m.type === 'request_vote' && m.preVote === true],
    ['RequestVote', 'request_vote', (m) => m.type === 'request_vote' && m.preVote === false && !m.force],
    [
      'RequestVote of a forced election (`campaign`): `force` lets voters grant it while they still hear a leader',
      'request_vote force',
      (m) => m.type === 'request_vote' && m.force === true,
    ],
    ['PreVote reply', 'request_vote_reply preVote', (m) => m.type === 'request_vote_reply' && m.preVote === true],
    ['RequestVote reply, granted', 'request_vote_reply granted', (m) => m.type === 'request_vote_reply' && m.preVote === false && m.granted === true],
    ['RequestVote reply, refused', 'request_vote_reply refused', (m) => m.type === 'request_vote_reply' && m.granted === false],
    [
      "AppendEntries carrying entries (`data` is the state machine's command; `null` is a new leader's no-op)",
      'append_entries with entries',
      (m) => m.type === 'append_entries' && Array.isArray(m.entries) && m.entries.length > 1,
    ],
    [
      'AppendEntries as a heartbeat (no entries)',
      'heartbeat',
      (m) => m.type === 'append_entries' && Array.isArray(m.entries) && m.entries.length === 0 && !m.readSeq,
    ],
    [
      'AppendEntries confirming leadership for a linearizable read (ReadIndex, dissertation §6.4): `readSeq` is echoed back',
      'heartbeat with readSeq',
      (m) => m.type === 'append_entries' && Array.isArray(m.entries) && m.entries.length === 0 && typeof m.readSeq === 'number' && m.readSeq > 0,
    ],
    ['AppendEntries reply, success (`matchIndex`: the last entry known to match)', 'append_entries_reply success', (m) => m.type === 'append_entries_reply' && m.success === true],
    [
      'AppendEntries reply, rejected: `matchIndex` is the rejected prevLogIndex; optional `conflictIndex`/`conflictTerm` let the leader skip back fast',
      'append_entries_reply rejected',
      (m) => m.type === 'append_entries_reply' && m.success === false,
    ],
  ];
  for (const [title, what, pred] of sections) {
    p(`### ${title}`);
    p();
    block(find(what, pred));
    p();
  }
  const batch = frames.find((f) => Array.isArray(f.value));
  p('### Several messages in one frame');
  p();
  block(batch ? batch.frame : '(no batched frame was sent in this run)');
  p();
  p('### TimeoutNow');
  p();
  p('`{"type":"timeout_now","rid":"peer1:…","from":"peer1","to":"peer2","term":4}` makes the');
  p('receiver start an election at once (leadership transfer, dissertation §3.10). Peers accept');
  p('and validate it; the current core does not send it, so this run has no example.');
  p();
  p("### InstallSnapshot (paper §7): a leader sends its snapshot to a follower that needs compacted entries");
  p();
  p("In chunks of at most `max_bytes_per_append` characters of `data` (the snapshot's data: base64");
  p("of gzipped JSON of the store and sessions, peer/snapshot-state.ts, so no JSON escapes), one at a");
  p("time. `offset` is where the chunk starts, `size` the data's whole length, `snapshotConfig` the");
  p("configuration as of `snapshotIndex`. Every field is validated like the other RPCs (a chunk that");
  p("runs past `size`, a configuration without voters or naming a peer twice, are refused). Shapes");
  p("(from the types; `data` shortened):");
  p();
  p("```json");
  p("{\"type\":\"install_snapshot\",\"from\":\"peer1\",\"to\":\"peer3\",\"term\":4,\"snapshotIndex\":500,\"snapshotTerm\":4,\"snapshotConfig\":{\"voters\":[\"peer1\",\"peer2\",\"peer3\"],\"learners\":[]},\"offset\":0,\"size\":10476,\"data\":\"kv1:H4sIAAAAAAAAA…\",\"rid\":\"peer1:1795907661412101\"}");
  p("```");
  p();
  p("The reply says how much of that snapshot the follower holds (`offset`: the leader continues");
  p("from there); `matchIndex` is non-zero once it is installed (or was already covered by the");
  p("follower's commit index):");
  p();
  p("```json");
  p("{\"type\":\"install_snapshot_reply\",\"from\":\"peer3\",\"to\":\"peer1\",\"term\":4,\"snapshotIndex\":500,\"offset\":4096,\"matchIndex\":0,\"rid\":\"peer3:1795907661518101\"}");
  p("```");
  p();

  p('## Client contract: `/client`');
  p();
  p('Stable and external: see the client contract in the design notes. A request gets exactly one');
  p('`command_result` with its `id`. Optional `client` + `seq` make it exactly-once across');
  p('retries (the store remembers the outcome per client).');
  p();
  for (const key of ['add', 'set', 'get', 'cas', 'cas2', 'del', 'once1', 'once2', 'notleader', 'bad', 'bad2', 'bad3', 'unknown']) {
    const e = ex[key];
    if (!e) continue;
    if (e.title) p(`### ${e.title}`);
    p();
    block(e.request);
    block(e.reply);
    p();
  }
  p('A `command_result` that is not ok may carry a `message` saying why (it is not part of the');
  p('contract). `not_leader` and `bad_command` mean nothing was done; `unknown` means the command');
  p('may or may not take effect (retry with the same `client`/`seq` to be sure it happens once).');
  p();
  p('### Frames that are not requests');
  p();
  for (const key of ['frame1', 'frame2']) {
    const e = ex[key]!;
    p(`${e.title}:`);
    p();
    block(e.request);
    block(e.reply);
    p();
  }

  p('## Admin: `/admin`');
  p();
  p('Requests may carry an `id`, echoed in the reply. `faults` changes only the fields given:');
  p('`blocked` (peers whose traffic is dropped in both directions), `dropRate` (0..1, each');
  p('outgoing message), `latencyMs` (added to every incoming message, on top of the profile\'s');
  p('`latency_ms`). The reply is the peer\'s faults after the change.');
  p();
  p('`status` may ask for more: `kv: true` the whole store; `log` a window of the log, either');
  p('`{"last": n}` (its last n entries) or `{"from": a, "to": b}` (inclusive), at most 200 entries,');
  p('anything else refused; `progress: true` a leader\'s `nextIndex` and `matchIndex` per follower');
  p('(Figure 2), `null` on any other role. The reply\'s `log` says where the log starts (`first`:');
  p('entries before it are in a snapshot) and ends (`last`), and which part it holds (`from`..`to`,');
  p('clipped to the log); each entry\'s `command` is as a user would type it (`noop` for a');
  p('leader\'s no-op, `config voters=...` for a membership entry), cut at 160 characters.');
  p();
  for (const key of ['status', 'statuskv', 'statuslog', 'statusbadlog', 'faultsset', 'heal', 'faultsread', 'campaign', 'faultsbad']) {
    const e = ex[key];
    if (!e) continue;
    p(`### ${e.title}`);
    p();
    block(e.request);
    block(e.reply);
    p();
  }

  p(MEMBERSHIP_ADMIN_DOC);
  p('## Events with `-v`: peer to relay, `ws://[relay]/peer`');
  p();
  p('Types in `shared/events.ts`. Every event has `peer` (the sender), `t` (its wall clock, ms)');
  p('and `seq` (its number, see "Fields the monitor reads" below). The first frame on a connection');
  p('is `hello`, followed by a `resync` (the full state and the tail of the log), a fresh `state`');
  p('and the current `faults`, so that a relay that (re)connects is caught up at once. The peer');
  p('keeps working while the relay is down and reconnects by itself.');
  p();
  p('Rules for drawing: a letter leaves at `rpc_send` and lands at `rpc_recv` with the same `rid`.');
  p('`rpc_drop` is either sent *instead of* `rpc_send` by the sender (the message never left:');
  p('`blocked`, `dropped` by the drop rate, or `disconnected`), or by the receiver *after* the');
  p("sender's `rpc_send` (it arrived from a peer it blocks; then `to` is the receiver itself).");
  p('`reporter_dropped.count` is the total number of events this peer could not send since it');
  p('started (its bounded queue was full); a `resync` follows it.');
  p();
  p('What a letter says, for reading it in the village (small numbers only): a `request_vote`');
  p('carries `lastLogIndex` and `lastLogTerm`; an `append_entries` `prevLogIndex`, `prevLogTerm`');
  p('and `leaderCommit`, its entries as the count `entries` (they are `prevLogIndex + 1` ..');
  p('`prevLogIndex + entries` of the sender\'s log, which `/admin` `status` with `log` shows); an');
  p('`append_entries_reply` `matchIndex` and, on a refusal, `conflictIndex` / `conflictTerm` when');
  p('the follower knows them. `ok` is `granted` or `success` of a reply.');
  p();
  const eventSections: Array<[string, (e: PeerEvent) => boolean]> = [
    ['hello', (e) => e.type === 'hello'],
    ['state of a follower', (e) => e.type === 'state' && e.role === 'follower' && e.leader !== null],
    ['state of a leader', (e) => e.type === 'state' && e.role === 'leader'],
    ['state of a candidate', (e) => e.type === 'state' && (e.role === 'candidate' || e.role === 'precandidate')],
    ['rpc_send', (e) => e.type === 'rpc_send' && e.rpc === 'append_entries' && e.entries > 0],
    ['rpc_recv (the same rid)', () => false],
    ['rpc_send of a heartbeat', (e) => e.type === 'rpc_send' && e.heartbeat],
    ['rpc_send of a vote request', (e) => e.type === 'rpc_send' && e.rpc === 'request_vote'],
    ['rpc_recv of a vote reply', (e) => e.type === 'rpc_recv' && e.rpc === 'request_vote_reply'],
    ['rpc_recv of an append reply', (e) => e.type === 'rpc_recv' && e.rpc === 'append_entries_reply'],
    ['rpc_drop by the sender', (e) => e.type === 'rpc_drop' && e.peer !== e.to],
    ['rpc_drop by the receiver', (e) => e.type === 'rpc_drop' && e.peer === e.to],
    ['log_append', (e) => e.type === 'log_append' && e.entries.some((t) => t.label !== 'noop')],
    ['log_truncate', (e) => e.type === 'log_truncate' && e.from > 1],
    ['commit', (e) => e.type === 'commit'],
    ['apply', (e) => e.type === 'apply' && e.entries.some((a) => a.command !== null && a.ok)],
    ['apply of a command that failed', (e) => e.type === 'apply' && e.entries.some((a) => !a.ok)],
    ['faults', (e) => e.type === 'faults' && e.blocked.length > 0],
    ['reporter_dropped', (e) => e.type === 'reporter_dropped'],
  ];
  let sent: PeerEvent | undefined;
  for (const [title, pred] of eventSections) {
    let e = events.find(pred);
    if (title === 'rpc_send') sent = e;
    if (title.startsWith('rpc_recv (the same rid)')) e = sent && events.find((x) => x.type === 'rpc_recv' && 'rid' in x && x.rid === (sent as { rid: string }).rid);
    p(`### ${title}`);
    p();
    block(e ?? `(not seen in this run)`);
    p();
  }
  p(CONFIG_EVENT_DOC);
  p("### rpc_send of an InstallSnapshot chunk, and its reply");
  p();
  p("An RPC summary of `install_snapshot` or `install_snapshot_reply` carries `chunk`: which snapshot");
  p("(`index`), where the chunk starts (`offset`; in a reply, how much the follower holds), how many");
  p("characters it carries (`bytes`, 0 in a reply) and the snapshot's `size` (0 in a reply); never the");
  p("data. A reply's `ok` says the snapshot is installed. Shapes (from the types):");
  p();
  p("```json");
  p("{\"type\":\"rpc_send\",\"to\":\"peer3\",\"rid\":\"peer1:1795907661412101\",\"rpc\":\"install_snapshot\",\"term\":4,\"heartbeat\":false,\"entries\":0,\"chunk\":{\"index\":500,\"offset\":0,\"bytes\":4096,\"size\":10476},\"peer\":\"peer1\",\"t\":1795907700000,\"seq\":812}");
  p("```");
  p("```json");
  p("{\"type\":\"rpc_send\",\"to\":\"peer1\",\"rid\":\"peer3:1795907661518103\",\"rpc\":\"install_snapshot_reply\",\"term\":4,\"heartbeat\":false,\"entries\":0,\"ok\":true,\"chunk\":{\"index\":500,\"offset\":10476,\"bytes\":0,\"size\":0},\"peer\":\"peer3\",\"t\":1795907700040,\"seq\":97}");
  p("```");
  p();

  renderMonitorFields(events);

  p('## Launcher and relay: `ws://[relay]/launcher`');
  p();
  p('The launcher (`npm run cluster -- N -v`) says hello, then reports every process going up or');
  p('down; the relay sends `kill` (SIGKILL: a real failure) and `revive` (start again from the');
  p('durable state).');
  p();
  const hello = reports.find((r) => r.type === 'launcher_hello');
  const upR = reports.find((r) => r.type === 'process' && r.alive);
  const downR = reports.find((r) => r.type === 'process' && !r.alive);
  p('### launcher_hello');
  p();
  block(hello ?? '(not seen)');
  p();
  p('### process up');
  p();
  block(upR ?? '(not seen)');
  p();
  p('### kill, and the process report that follows');
  p();
  block(commands[0] ?? '(not sent)');
  block(downR ?? '(not seen)');
  p();
  p('### revive');
  p();
  block(commands[1] ?? '(not sent)');
}

/** The section on the fields the safety monitor reads, with frames of this run. */
function renderMonitorFields(events: PeerEvent[]): void {
  const first = <T extends PeerEvent['type']>(type: T, pred: (e: Extract<PeerEvent, { type: T }>) => boolean = () => true) =>
    events.find((e): e is Extract<PeerEvent, { type: T }> => e.type === type && pred(e as Extract<PeerEvent, { type: T }>));
  const show = (e: PeerEvent | undefined, what: string) => block(e ?? `(not seen in this run: ${what})`);
  p('## Fields the monitor reads');
  p();
  p("The safety monitor (`game/relay/monitor/`, ARCHITECTURE.md \"The safety monitor\") checks Raft's");
  p('laws from the `-v` events alone. The fields below are optional in `shared/events.ts`, so that');
  p('a reader copes with a peer that sends none of them: a check whose field is missing is not made,');
  p('never guessed. The peers send all of them (`snapshot` once they compact their logs; its frame');
  p('here is written to the type, as are those of InstallSnapshot).');
  p();
  p('**Numbering.** Every event carries `seq`, counted per process lifetime and assigned when the');
  p("shell emits the event, before the reporter's queue (peer/reporter.ts): an event the reporter");
  p('drops (full queue, relay down) leaves a hole. `hello`, `state` and `resync` are snapshots: not');
  p('counted (a newer `state` may replace an unsent one), they carry the seq the next counted event');
  p('will have. A hole, a seq that goes back, or `reporter_dropped` makes the monitor blind for that');
  p('peer until its next `resync`; so the reporter sends `reporter_dropped` and then a `resync` once');
  p('its queue is at most half full after dropping anything, and `hello` then `resync` on every');
  p('connection (the resync replaces the old catch-up of `log_truncate` + `log_append`, which would');
  p("read as a real truncation). A resync is stated only once the durable log holds the core's");
  p('commit index (entries stepped but not yet saved: the reporter asks again 10 ms later).');
  p();
  p("**Hashes** (`shared/log-hash.ts`). `h = entryHash(Entry.data)`: 32 bits of the entry's stored");
  p('command (client session included; the no-op has its own value). `ph(i) = prefixHash(ph(i-1),');
  p('term_i, h_i)`, `ph(0) = 0`: 53 bits naming the whole log through index i. A peer keeps one ph');
  p('per entry (peer/reported-log.ts; from its snapshot\'s base on, once there are snapshots) and');
  p('reports ph wherever it names an entry.');
  p();
  p('**Write numbers.** `w` is the number of the durable write (the `b` of the write in `raft.wal`:');
  p('it grows across restarts and compaction). The acknowledgement of a write, what must come back');
  p('after a crash, is `durable` on its `log_append` when the write added entries (the log then ends');
  p('at the last tile), and a `persisted` event when it did not (a vote, a term). A write that only');
  p('moves the commit index is not fsynced on its own and not reported; it takes a number too.');
  p();
  p('### hello of a new process: `boot`, `dataId`, `recovered`');
  p();
  p('`boot` is random per process start (a new boot is a new lifetime; a hello with the same boot is');
  p('the same process reconnecting). `dataId` is random, created with the data directory and kept in');
  p('it (`DATA_ID`, ARCHITECTURE.md "Durable state"): a new one tells the monitor the directory was');
  p('replaced on purpose, and nothing durable is expected back. `recovered` is the durable state the');
  p('process started from. Here, a peer restarted after some writes:');
  p();
  show(first('hello', (e) => (e.recovered?.lastIndex ?? 0) > 0), 'the hello of a restarted peer');
  p();
  p('### persisted: a durable write without new entries completed (a vote, a term, or a cut only)');
  p();
  show(first('persisted', (e) => e.vote !== null && e.lastIndex > 1), 'persisted');
  p();
  p("### log_append tiles with `ph` and the write's `durable`, log_truncate with the write's `term`");
  p();
  p('`durable` is the write that added the tiles (`w`, and the `term` and `vote` it wrote): the');
  p('`persisted` it stands for would say the same, with the log ending at the last tile.');
  p();
  const cut = first('log_truncate', (e) => e.from > 1 && e.term !== undefined);
  show(cut, 'a log_truncate');
  show(cut ? events.find((e) => e.type === 'log_append' && e.peer === cut.peer && (e.seq ?? 0) > (cut.seq ?? 0)) : undefined, 'the log_append after it');
  p();
  p("### commit with the reporter's `term` and the `ph` through the index; apply with `h`");
  p();
  p("`commit.term` is the peer's term when it reports the commit: the entries were committed in that");
  p('term or earlier.');
  p();
  show(first('commit', (e) => e.index > 1 && e.ph !== undefined), 'commit');
  show(first('apply', (e) => e.entries.length === 1 && e.entries[0]!.command !== null && e.entries[0]!.ok), 'apply');
  p();
  p('### snapshot: the log now starts after a snapshot (for compaction)');
  p();
  p('`compacted`: the peer folded its own entries through `index` into a snapshot; `installed`: a');
  p("leader's snapshot replaced the log. The base keeps its prefix hash, so the laws go on holding");
  p("above it (the snapshot's data carries the prefix hash at its index, so an installing peer knows");
  p('it). `hello.recovered.base` and `resync.base` name the same point once a log starts after a');
  p('snapshot. Written to the type:');
  p();
  block({ type: 'snapshot', reason: 'compacted', index: 5000, term: 7, ph: 8817300264209113, lastIndex: 5123, peer: 'peer2', t: 1795907700000, seq: 20511 });
  p();
  p('### resync: a full state');
  p();
  p("Role, term, vote, leader and commit are the core's now (as in `state`); the log (`last*`,");
  p('`base`, `tail`) is what the log events have described so far, i.e. the durable log; `durable`');
  p('is the last durable write. `tail` holds the last tiles (at most 500, within a quarter of');
  p('`max_frame_bytes`); here cut to its last two.');
  p();
  const resync = first('resync', (e) => e.tail.length >= 2 && e.durable.w > 0);
  show(resync ? { ...resync, tail: resync.tail.slice(-2) } : undefined, 'resync');
  p();
  p('### reporter_dropped, and the resync that follows it');
  p();
  const dropped = first('reporter_dropped', (e) => e.seq !== undefined);
  show(dropped, 'reporter_dropped');
  const after = dropped ? events.find((e) => e.type === 'resync' && e.peer === dropped.peer && (e.seq ?? -1) >= (dropped.seq ?? 0) + 1) : undefined;
  p(after ? `then \`resync\` with \`seq\` ${after.seq}.` : '(no resync seen after it in this run)');
  p();
  p('### What each law reads');
  p();
  p('"Facts" need no other event of the peer, so the check goes on while the monitor is blind for');
  p('it; "known log" needs every event of the peer since its last hello or resync.');
  p();
  for (const row of MONITOR_LAW_TABLE) p(row);
  p();
}

const MONITOR_LAW_TABLE = [
  '| law | events and fields | needs |',
  '|---|---|---|',
  '| Election Safety | `state.role` leader + `term`; `rpc_send`/`rpc_drop` (sender) of `append_entries`/`timeout_now`/`install_snapshot` + `term`; `rpc_recv` of those (the sender led that term) | facts |',
  '| Leader Append-Only | `log_truncate.term` in a term the peer led | facts |',
  "| | the end of the leader's log (`persisted.lastIndex` or the last tile of a `log_append` with `durable`, tiles' `ph`) never lost or changed by a write of its term | known log |",
  '| Log Matching | `ph` at equal (index, term): tiles, `persisted.last*`, `resync`, `hello.recovered`, `snapshot` | facts |',
  '| Leader Completeness | every entry (index, term) against `commit` facts (`index`, `term`, `ph`): no entry at or below a committed index has a later term | facts |',
  "| | a new leader's log holds the highest entry committed before its term, same `ph` | known log |",
  '| State Machine Safety | `apply` entries: `index`, `term`, `h` (the words when `h` is missing) | facts |',
  '| Terms only grow | `state.term`/`resync.term` in order within a lifetime; across restarts (same `dataId`) `hello.recovered.term` and every later term ≥ the highest durable term: `persisted.term`, `log_append.durable.term`, `log_truncate.term`, non-pre-vote `rpc_send` terms | facts |',
  "| One vote per term | votes: `state.vote`, granted `request_vote_reply` `rpc_send` (`ok`, `to`, `term`), a candidate's own `request_vote`; durable ones (`rpc_send`, `persisted.vote`, `log_append.durable.vote`, `resync.durable`, `recovered.vote`) must survive a restart with the same `dataId` | facts |",
  '| Commit only moves forward | `state.commitIndex`/`resync.commit`, and `commit.index`, each in order within a lifetime | facts |',
  '| Durable means durable | same `dataId`: `recovered.w` ≥ the last `persisted.w` or `log_append.durable.w`; equal `w`, equal log end; the highest own `commit` (`index`, `ph`) is in the recovered log (`recovered`, or the first `resync.tail`) | facts |',
];

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
