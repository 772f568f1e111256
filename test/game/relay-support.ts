// Helpers for the relay tests: a config on free ports, fake peers, a fake launcher and browsers.
import { WebSocket } from 'ws';
import { parseConfig, type Config } from '../../shared/config.ts';
import type { LauncherCommand, LauncherReport, PeerEvent } from '../../shared/events.ts';
import type { RelayToBrowser } from '../../shared/village.ts';

export const SECRET = 'test-secret-relay';

/** A relay config for tests; the flight recorder is off unless `recordingBytes` is given (it would write under /tmp/logs). */
export function testConfig(opts: { peers?: number; attackIntervalS?: number; reviveAfterS?: number; maxFrameBytes?: number; recordingBytes?: number } = {}): Config {
  const n = opts.peers ?? 5;
  const peers = Array.from({ length: n }, (_, i) => `peer${i + 1} = 127.0.0.1:${40001 + i}`).join('\n');
  return parseConfig(
    `[cluster]
secret = ${SECRET}
[peers]
${peers}
[profile.fast]
heartbeat_ms = 50
election_min_ms = 150
election_max_ms = 300
[relay]
host = 127.0.0.1
port = 40100
attack_interval_s = ${opts.attackIntervalS ?? 20}
revive_after_s = ${opts.reviveAfterS ?? 0}
recording_bytes = ${opts.recordingBytes ?? 0}
[limits]
max_frame_bytes = ${opts.maxFrameBytes ?? 65536}
`,
    '/tmp/relay-test.ini',
  );
}

type Waiter<T> = { pred: (m: T) => boolean; resolve: (m: T) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** A WebSocket client that records what it receives and can wait for a message. */
export class Recorder<T = unknown> {
  readonly messages: T[] = [];
  private waiters: Waiter<T>[] = [];
  closeCode: number | null = null;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve((this.closeCode = code))));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as T;
      this.messages.push(m);
      for (const w of [...this.waiters]) {
        if (w.pred(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(m);
        }
      }
    });
  }

  /** The first message (already received or yet to come) matching pred. */
  next(pred: (m: T) => boolean, timeoutMs = 5000, from = 0): Promise<T> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out waiting; got ${JSON.stringify(this.messages).slice(-1500)}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  close(): void {
    this.ws.terminate();
  }
}

export function browser(port: number, opts: { token?: string | null; origin?: string | null; host?: string } = {}): Recorder<RelayToBrowser> {
  const q = opts.token ? `?token=${encodeURIComponent(opts.token)}` : '';
  const headers: Record<string, string> = {};
  const origin = opts.origin === undefined ? `http://127.0.0.1:${port}` : opts.origin;
  if (origin !== null) headers.origin = origin;
  if (opts.host) headers.host = opts.host;
  return new Recorder<RelayToBrowser>(new WebSocket(`ws://127.0.0.1:${port}/village${q}`, { headers, perMessageDeflate: false }));
}

export function fakePeerSocket(port: number, secret: string | null = SECRET): Recorder {
  const headers: Record<string, string> = secret === null ? {} : { 'x-raft-secret': secret };
  return new Recorder(new WebSocket(`ws://127.0.0.1:${port}/peer`, { headers, perMessageDeflate: false }));
}

/** A peer's -v stream, speaking realistic PeerEvents. */
export class FakePeer {
  readonly rec: Recorder;
  private n = 0;
  constructor(
    port: number,
    readonly name: string,
    readonly cluster: string[],
  ) {
    this.rec = fakePeerSocket(port);
  }
  async hello(pid = 1000 + Number(this.name.replace(/\D/g, ''))): Promise<void> {
    await this.rec.opened;
    this.send({ type: 'hello', pid, cluster: this.cluster, profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 } });
  }
  send(body: Record<string, unknown>): void {
    this.rec.send({ peer: this.name, t: Date.now(), ...body } as PeerEvent);
  }
  state(s: Partial<{ role: string; term: number; vote: string | null; leader: string | null; commitIndex: number; appliedIndex: number; lastIndex: number; lastTerm: number }>): void {
    this.send({
      type: 'state',
      role: 'follower',
      term: 1,
      vote: null,
      leader: null,
      commitIndex: 0,
      appliedIndex: 0,
      lastIndex: 0,
      lastTerm: 0,
      electionDeadline: Date.now() + 200,
      ...s,
    });
  }
  rpc(to: string, rpc = 'append_entries'): string {
    const rid = `${this.name}:${++this.n}`;
    this.send({ type: 'rpc_send', to, rid, rpc, term: 1, heartbeat: true, entries: 0 });
    return rid;
  }
  close(): void {
    this.rec.close();
  }
}

/**
 * Ready-made peer streams (e.g. written by test/monitor/fake-peer.ts) sent to a relay: each peer's
 * events on its own /peer socket, kept open between calls. When the story moves from one peer to
 * another, send() waits until the relay took in what was sent, so the events arrive in the order
 * written (unless `interleave`: peers' streams then race, as they do for real).
 */
export class PeerStreams {
  private readonly sockets = new Map<string, Recorder>();
  private sent: number;

  constructor(private readonly relay: { port: number; laws: { status(): { eventsSeen: number } } }) {
    this.sent = relay.laws.status().eventsSeen;
  }

  async send(events: PeerEvent[], opts: { interleave?: boolean } = {}): Promise<void> {
    let last: string | null = null;
    for (const e of events) {
      if (!opts.interleave && last !== null && e.peer !== last) await this.settled();
      let s = this.sockets.get(e.peer);
      if (!s) {
        s = fakePeerSocket(this.relay.port);
        await s.opened;
        this.sockets.set(e.peer, s);
      }
      s.send(e);
      this.sent++;
      last = e.peer;
    }
  }

  /** Waits until the relay has taken in every event sent so far. */
  async settled(): Promise<void> {
    const want = this.sent;
    await until(() => this.relay.laws.status().eventsSeen >= want, `the relay to take in ${want} events`);
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}

/** The cluster launcher: obeys kill/revive by reporting the process down/up. */
export class FakeLauncher {
  readonly rec: Recorder<LauncherCommand>;
  readonly commands: LauncherCommand[] = [];
  private pid = 5000;
  constructor(
    port: number,
    readonly peers: string[],
    readonly obey = true,
  ) {
    this.rec = new Recorder<LauncherCommand>(new WebSocket(`ws://127.0.0.1:${port}/launcher`, { headers: { 'x-raft-secret': SECRET }, perMessageDeflate: false }));
    this.rec.ws.on('message', (data) => {
      const cmd = JSON.parse(String(data)) as LauncherCommand;
      this.commands.push(cmd);
      if (!this.obey) return;
      if (cmd.type === 'kill') this.report({ type: 'process', peer: cmd.peer, pid: null, alive: false, exitCode: null, signal: 'SIGKILL' });
      else this.report({ type: 'process', peer: cmd.peer, pid: ++this.pid, alive: true, exitCode: null, signal: null });
    });
  }
  async start(): Promise<void> {
    await this.rec.opened;
    this.report({ type: 'launcher_hello', peers: this.peers, profile: 'fast' });
    for (const p of this.peers) this.report({ type: 'process', peer: p, pid: ++this.pid, alive: true, exitCode: null, signal: null });
  }
  report(r: LauncherReport): void {
    this.rec.send(r);
  }
  close(): void {
    this.rec.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until check() is true (or throws with what it last saw). */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
