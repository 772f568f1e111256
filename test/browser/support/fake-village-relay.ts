// A stand-in relay for page tests that need no real cluster: it serves game/dist like the
// relay does (token injected), and plays a small scripted village on /village — a leader
// sending heartbeats that land after a delay, elections when the leader dies, commands that
// replicate and commit — through the same protocol (shared/village.ts). It can be closed and
// restarted on the same port to test reconnection.
//
//   const fake = await FakeVillageRelay.start({ peers: 5 });   // fake.url, fake.received
//   await fake.stop(); await fake.restart();
//
// Runnable by hand to look at the page: npx tsx test/browser/support/fake-village-relay.ts
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PeerEvent, RpcKind } from '../../../shared/events.ts';
import { emptyPeerView, type BrowserToRelay, type ConsoleLevel, type Delta, type PeerView, type RelayToBrowser, type VillagePicture } from '../../../shared/village.ts';
import { DIST } from './build.ts';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };

export interface FakeOptions {
  peers?: number;
  port?: number;
  latencyMs?: number;
  heartbeatMs?: number;
  token?: string;
}

export class FakeVillageRelay {
  readonly token: string;
  /** Every message browsers sent, in order. */
  readonly received: BrowserToRelay[] = [];
  port = 0;
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly browsers = new Set<WebSocket>();
  private pending: Delta[] = [];
  private readonly peers: PeerView[];
  private readonly kv: Record<string, unknown> = {};
  private attacks = false;
  private rid = 0;
  private nextBeat = 0;
  private electionAt = 0;
  private readonly later: { at: number; run: () => void }[] = [];
  private counters = { elections: 1, messages: 0, droppedEvents: 0 };
  private readonly latency: number;
  private readonly heartbeat: number;

  private constructor(opts: FakeOptions) {
    this.token = opts.token ?? 'fake-token';
    this.latency = opts.latencyMs ?? 300;
    this.heartbeat = opts.heartbeatMs ?? 900;
    const n = opts.peers ?? 5;
    this.peers = Array.from({ length: n }, (_, i) => blank(`peer${i + 1}`, 4000 + i));
    const l = this.peers[0]!;
    l.role = 'leader';
    for (const p of this.peers) {
      p.term = 1;
      p.vote = l.name;
      p.leader = l.name;
      p.log = [{ index: 1, term: 1, label: 'noop' }];
      p.lastIndex = 1;
      p.lastTerm = 1;
      p.commitIndex = 1;
      p.appliedIndex = 1;
    }
  }

  static async start(opts: FakeOptions = {}): Promise<FakeVillageRelay> {
    const f = new FakeVillageRelay(opts);
    await f.listen(opts.port ?? 0);
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Closes every connection and stops listening (the page should say the relay is gone). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const b of this.browsers) b.terminate();
    this.browsers.clear();
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()));
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
    this.server = null;
    this.wss = null;
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const file = normalize(join(DIST, path === '/' ? 'index.html' : path));
      if (!file.startsWith(DIST) || !existsSync(file)) {
        res.writeHead(404).end('not found');
        return;
      }
      let body: Buffer | string = readFileSync(file);
      if (file.endsWith('index.html')) body = body.toString('utf8').replace('<head>', `<head>\n<meta name="village-token" content="${this.token}">`);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    });
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/village') return socket.destroy();
      const control = url.searchParams.get('token') === this.token;
      wss.handleUpgrade(req, socket, head, (ws) => this.onBrowser(ws, control));
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    this.wss = wss;
    this.nextBeat = Date.now() + 200;
    this.electionAt = 0;
    this.timer = setInterval(() => this.tick(), 25);
  }

  private onBrowser(ws: WebSocket, control: boolean): void {
    this.browsers.add(ws);
    this.sendTo(ws, { type: 'snapshot', now: Date.now(), picture: this.picture() });
    ws.on('close', () => this.browsers.delete(ws));
    ws.on('message', (data) => {
      let msg: BrowserToRelay;
      try {
        msg = JSON.parse(String(data)) as BrowserToRelay;
      } catch {
        return;
      }
      this.received.push(msg);
      const reply = (ok: boolean, text: string, value?: unknown) =>
        msg.id !== undefined && this.sendTo(ws, { type: 'reply', id: msg.id, ok, text, ...(value !== undefined ? { value } : {}) });
      if (!control) return reply(false, 'read-only: no token');
      const r = this.command(msg);
      reply(r.ok, r.text, r.value);
    });
  }

  private command(msg: BrowserToRelay): { ok: boolean; text: string; value?: unknown } {
    switch (msg.type) {
      case 'attacks':
        this.attacks = msg.on;
        this.push({ type: 'attacks', on: msg.on, nextAttackAt: msg.on ? Date.now() + 20_000 : null });
        this.say(msg.on ? 'the monster is on the prowl (attacks on)' : 'the monster rests (attacks off)', 'event');
        return { ok: true, text: msg.on ? 'attacks on' : 'attacks off', value: msg.on };
      case 'kill': {
        const p = this.find(msg.peer);
        if (!p || p.process === 'down') return { ok: false, text: `${msg.peer} is not up` };
        p.process = 'down';
        p.pid = null;
        p.reporting = false;
        p.electionDeadline = null;
        this.dirty(p);
        this.say(`${p.name} went down (SIGKILL)`, 'event');
        if (p.role === 'leader') this.electionAt = Date.now() + 1200;
        return { ok: true, text: `${p.name} was killed (SIGKILL)` };
      }
      case 'revive': {
        const p = this.find(msg.peer);
        if (!p || p.process === 'up') return { ok: false, text: `${msg.peer} is already up` };
        p.process = 'up';
        p.reporting = true;
        p.pid = 5000 + Math.floor(Math.random() * 1000);
        p.role = 'follower';
        this.dirty(p);
        this.say(`${p.name} is up (pid ${p.pid})`, 'event');
        return { ok: true, text: `${p.name} is back up, restarting from its durable state` };
      }
      case 'isolate': {
        const p = this.find(msg.peer);
        if (!p) return { ok: false, text: `${msg.peer} is not in the village` };
        p.blocked = this.peers.filter((o) => o !== p).map((o) => o.name);
        this.dirty(p);
        return { ok: true, text: `${p.name} is isolated from the village` };
      }
      case 'heal':
        for (const p of this.peers) {
          p.blocked = [];
          this.dirty(p);
        }
        return { ok: true, text: 'healed: all faults cleared' };
      case 'campaign':
        return { ok: true, text: `${msg.peer} starts an election` };
      case 'console':
        return this.consoleLine(msg.line);
      case 'lesson':
        return { ok: false, text: 'this stand-in relay runs no lessons' };
      case 'clock':
        return { ok: false, text: 'this stand-in relay has no village clock' };
      case 'inspect':
        return { ok: false, text: 'this stand-in relay has no peers to look inside' };
    }
  }

  private consoleLine(line: string): { ok: boolean; text: string; value?: unknown } {
    this.say(line, 'input');
    const m = /^\s*(\w+)\s+(add|set)\s+(-?\d+)\s*$/.exec(line);
    let r: { ok: boolean; text: string; value?: unknown };
    const leader = this.leader();
    if (line.trim() === 'help') r = { ok: true, text: 'set KEY VALUE  add KEY N  get KEY  del KEY  cas KEY FROM TO' };
    else if (!m) r = { ok: false, text: `unknown command ${JSON.stringify(line)}; type help for the commands` };
    else if (!leader) r = { ok: false, text: 'no leader could take it; nothing was done' };
    else {
      const [, key, op, arg] = m;
      const v = op === 'add' ? Number(this.kv[key!] ?? 0) + Number(arg) : Number(arg);
      this.append(leader, `${key} ${op} ${arg}`, key!, v);
      r = { ok: true, text: JSON.stringify(v), value: v };
    }
    this.say(r.text, r.ok ? 'result' : 'error');
    return r;
  }

  private append(leader: PeerView, label: string, key: string | null, value: unknown): void {
    const index = leader.lastIndex + 1;
    const tile = { index, term: leader.term, label };
    for (const p of this.alive()) {
      p.log = [...p.log, tile];
      p.lastIndex = index;
      p.lastTerm = leader.term;
      this.dirty(p);
      if (p !== leader) this.letter(leader, p, 'append_entries', false, 1);
    }
    this.after(this.latency * 2 + 50, () => {
      for (const p of this.alive()) {
        p.commitIndex = index;
        p.appliedIndex = index;
        this.dirty(p);
        this.event({ type: 'apply', peer: p.name, t: Date.now(), entries: [{ index, term: leader.term, command: key === null ? null : label.split(' '), ok: true, result: value, key, value }] });
      }
      if (key === null) return;
      this.kv[key] = value;
      this.push({ type: 'kv', key, value });
    });
  }

  private tick(): void {
    const now = Date.now();
    for (let i = this.later.length - 1; i >= 0; i--) {
      if (this.later[i]!.at <= now) this.later.splice(i, 1)[0]!.run();
    }
    const leader = this.leader();
    if (leader && now >= this.nextBeat) {
      this.nextBeat = now + this.heartbeat;
      for (const p of this.alive()) {
        if (p === leader) continue;
        this.letter(leader, p, 'append_entries', true, 0);
        p.electionDeadline = now + this.latency + 1500 + Math.floor(Math.random() * 1000);
        this.dirty(p);
      }
    }
    if (!leader && this.electionAt && now >= this.electionAt) {
      this.electionAt = 0;
      const c = this.alive()[0];
      if (c) this.elect(c);
    }
    if (this.pending.length && this.browsers.size) {
      const frame: RelayToBrowser = { type: 'batch', now, deltas: this.pending };
      for (const b of this.browsers) this.sendTo(b, frame);
    }
    this.pending = [];
  }

  private elect(c: PeerView): void {
    const term = c.term + 1;
    c.role = 'candidate';
    c.term = term;
    c.vote = c.name;
    this.dirty(c);
    for (const p of this.alive()) if (p !== c) this.letter(c, p, 'request_vote', false, 0, true);
    this.after(this.latency * 2 + 50, () => {
      c.role = 'leader';
      c.leader = c.name;
      this.counters.elections++;
      this.push({ type: 'counters', counters: { ...this.counters } });
      for (const p of this.alive()) {
        p.term = term;
        p.leader = c.name;
        if (p !== c) {
          p.vote = c.name;
          p.role = 'follower';
        }
        this.dirty(p);
      }
      this.say(`${c.name} is the leader of term ${term}`, 'event');
      this.append(c, 'noop', null, null);
    });
  }

  /** A letter and, when it is a request, its reply; each lands `latency` after it leaves. */
  private letter(from: PeerView, to: PeerView, rpc: RpcKind, heartbeat: boolean, entries: number, reply = true): void {
    const rid = `${from.name}:${++this.rid}`;
    const base = { rid, rpc, term: from.term, heartbeat, entries };
    this.counters.messages++;
    this.event({ type: 'rpc_send', peer: from.name, to: to.name, t: Date.now(), ...base });
    this.after(this.latency, () => {
      if (to.process !== 'up') return;
      this.event({ type: 'rpc_recv', peer: to.name, from: from.name, t: Date.now(), ...base });
      if (reply && !rpc.endsWith('_reply')) this.letter(to, from, `${rpc}_reply` as RpcKind, heartbeat, 0, false);
    });
  }

  private picture(): VillagePicture {
    return {
      peers: structuredClone(this.peers),
      kv: { ...this.kv },
      attacks: this.attacks,
      nextAttackAt: this.attacks ? Date.now() + 20_000 : null,
      reviveAfterS: 15,
      timing: { heartbeatMs: this.heartbeat, electionMinMs: 2000, electionMaxMs: 3000, latencyMs: this.latency },
      profile: 'fake',
      counters: { ...this.counters },
      launcher: true,
    };
  }

  private leader(): PeerView | undefined {
    return this.peers.find((p) => p.role === 'leader' && p.process === 'up');
  }

  private alive(): PeerView[] {
    return this.peers.filter((p) => p.process === 'up');
  }

  private find(name: string): PeerView | undefined {
    return this.peers.find((p) => p.name === name);
  }

  private after(ms: number, run: () => void): void {
    this.later.push({ at: Date.now() + ms, run });
  }

  private event(e: PeerEvent): void {
    this.push({ type: 'event', event: e });
  }

  /** Per peer: the highest log index a `peer` delta has carried. */
  private readonly sentLog = new Map<string, number>();

  /** A `peer` delta as the relay sends it: the fields, and only the log tiles not sent before. */
  private dirty(p: PeerView): void {
    const { log, ...fields } = structuredClone(p);
    const last = log.length ? log[log.length - 1]!.index : 0;
    const sent = this.sentLog.get(p.name) ?? 0;
    const from = last >= sent ? sent + 1 : 0;
    this.sentLog.set(p.name, last);
    this.push({ type: 'peer', peer: fields, log: { from, tiles: log.filter((t) => t.index >= from), start: log.length ? log[0]!.index : null } });
  }

  private say(line: string, level: ConsoleLevel): void {
    this.push({ type: 'console', line, level });
  }

  private push(d: Delta): void {
    this.pending.push(d);
  }

  private sendTo(ws: WebSocket, msg: RelayToBrowser): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }
}

function blank(name: string, pid: number): PeerView {
  return { ...emptyPeerView(name), process: 'up', pid, reporting: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void FakeVillageRelay.start({ port: Number(process.argv[2] ?? 0) }).then((f) => process.stdout.write(`fake village at ${f.url}\n`));
}
