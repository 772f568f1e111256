// The chaos run's clients: several at once, each one operation at a time, doing add, get, set,
// cas and (rarely) del on a few keys through the client contract, and recording every
// operation's invocation, return and outcome in the history.
//
// Most clients are ClusterClients (shared/client.ts): they find the leader, follow it, and
// retry with the same client id and sequence number, so that a retried command takes effect
// once. One is a raw client: a single try per command, no session, to a peer it picks itself,
// which exercises the contract as a tool outside the project would use it.
//
// Keys rotate: after opsPerKey operations a key is retired and a fresh one takes its place,
// so that every key's history stays short enough to check quickly (the check is per key).
import { WebSocket } from 'ws';
import type { PeerAddress } from '../../shared/config.ts';
import { clientTls, endpointUrl } from '../../shared/tls.ts';
import { ClusterClient } from '../../shared/client.ts';
import { CLIENT_PATH, parseClientReply } from '../../shared/client-protocol.ts';
import { commandOf, outcomeOf, type HistoryRecorder, type KvInput, type Outcome, type Value } from './history.ts';

export interface WorkloadOptions {
  peers: PeerAddress[];
  clients: number;
  /** Keys in use at any time. */
  keys: number;
  /** Operations on a key before it is retired. */
  opsPerKey: number;
  random: () => number;
  history: HistoryRecorder;
  /** How long one command may take before its outcome counts as unknown. */
  timeoutMs: number;
  /** Session ids start with this (unique per run). */
  runId: string;
  /** Longest pause between a client's operations (default 5 ms, taken 30% of the time); spares the CPU. */
  thinkMs?: number;
}

interface Client {
  name: string;
  command(command: unknown[]): Promise<Outcome>;
  close(): void;
}

export class Workload {
  private readonly o: WorkloadOptions;
  private readonly active: string[] = [];
  private readonly uses = new Map<string, number>();
  /** The last value seen on each key (from any result), for cas to aim at. */
  private readonly lastSeen = new Map<string, Value>();
  private nextKey = 0;
  private nextValue = 1;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly clients: Client[] = [];

  constructor(o: WorkloadOptions) {
    this.o = o;
    for (let i = 0; i < o.keys; i++) this.active.push(this.freshKey());
    for (let i = 0; i < o.clients; i++) {
      const name = `c${i + 1}`;
      // The last client speaks the raw contract when there are enough others.
      if (i === o.clients - 1 && o.clients >= 3) this.clients.push(new RawClient(`${name}-raw`, o.peers, o.timeoutMs, o.random));
      else this.clients.push(sessionClient(name, o));
    }
  }

  start(): void {
    this.loops = this.clients.map((c) => this.loop(c));
  }

  /** Stops issuing operations; resolves when every operation in flight has its outcome. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const c of this.clients) c.close();
  }

  /** Stops at once: operations in flight end as they are (unknown or failed). */
  abort(): void {
    this.stopping = true;
    for (const c of this.clients) c.close();
  }

  /** Every key that was ever used. */
  keysUsed(): string[] {
    return [...this.uses.keys()];
  }

  private freshKey(): string {
    const k = `k${++this.nextKey}`;
    this.uses.set(k, 0);
    return k;
  }

  private pickKey(): string {
    const i = Math.floor(this.o.random() * this.active.length);
    const key = this.active[i]!;
    const n = (this.uses.get(key) ?? 0) + 1;
    this.uses.set(key, n);
    if (n >= this.o.opsPerKey) this.active[i] = this.freshKey();
    return key;
  }

  private pickInput(key: string): KvInput {
    const r = this.o.random();
    const unique = () => this.nextValue++;
    if (r < 0.35) return { f: 'add', n: 1 };
    if (r < 0.6) return { f: 'get' };
    if (r < 0.78) return { f: 'set', value: unique() };
    if (r < 0.98) {
      const seen = this.lastSeen.get(key);
      return { f: 'cas', from: seen === undefined || typeof seen === 'boolean' ? 0 : seen, to: unique() };
    }
    return { f: 'del' };
  }

  private async loop(c: Client): Promise<void> {
    while (!this.stopping) {
      const key = this.pickKey();
      const input = this.pickInput(key);
      const op = this.o.history.invoke(c.name, key, input);
      const outcome = await c.command(commandOf(key, input));
      this.o.history.complete(op, outcome);
      if (outcome.type === 'ok') {
        if (input.f === 'set' || input.f === 'add' || input.f === 'get') this.lastSeen.set(key, outcome.value);
        else if (input.f === 'cas' && outcome.value === true) this.lastSeen.set(key, input.to);
        else if (input.f === 'del') this.lastSeen.set(key, null);
      }
      // A little think time, to vary the interleavings.
      const think = this.o.thinkMs;
      if (think !== undefined) await new Promise((r) => setTimeout(r, Math.floor(this.o.random() * think)));
      else if (this.o.random() < 0.3) await new Promise((r) => setTimeout(r, Math.floor(this.o.random() * 5)));
    }
  }
}

function sessionClient(name: string, o: WorkloadOptions): Client {
  const client = new ClusterClient({ peers: o.peers, clientId: `${o.runId}-${name}`, timeoutMs: o.timeoutMs });
  return {
    name,
    command: async (command) => outcomeOf(await client.command(command)),
    close: () => client.close(),
  };
}

/**
 * One try per command on a fresh connection, no session: ok, not_leader and bad_command are
 * definite; no answer after the frame went out is unknown; a connection that never opened did
 * nothing. Follows not_leader hints, else moves to a random peer.
 */
class RawClient implements Client {
  private target: PeerAddress;
  private n = 0;
  private sockets = new Set<WebSocket>();

  constructor(
    readonly name: string,
    private readonly peers: PeerAddress[],
    private readonly timeoutMs: number,
    private readonly random: () => number,
  ) {
    this.target = peers[Math.floor(random() * peers.length)]!;
  }

  command(command: unknown[]): Promise<Outcome> {
    const id = `${this.name}-${++this.n}`;
    const peer = this.target;
    return new Promise<Outcome>((resolve) => {
      const ws = new WebSocket(endpointUrl(peer, CLIENT_PATH), { ...clientTls(peer.tls), perMessageDeflate: false, handshakeTimeout: this.timeoutMs });
      this.sockets.add(ws);
      let sent = false;
      let done = false;
      let leaderHint: string | null = null;
      const finish = (o: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.sockets.delete(ws);
        ws.terminate();
        if (o.type !== 'ok') {
          const hint = o.type === 'fail' && o.error === 'not_leader' ? leaderHint : null;
          const next = hint ? this.peers.find((p) => p.name === hint) : undefined;
          this.target = next ?? this.peers[Math.floor(this.random() * this.peers.length)]!;
        }
        resolve(o);
      };
      const timer = setTimeout(() => finish(sent ? { type: 'unknown', error: 'timeout' } : { type: 'fail', error: 'unreachable' }), this.timeoutMs);
      ws.on('open', () => {
        ws.send(JSON.stringify({ type: 'request_command', id, command }), (err) => {
          if (err) finish({ type: 'fail', error: 'unreachable' });
        });
        sent = true;
      });
      ws.on('message', (data) => {
        let json: unknown;
        try {
          json = JSON.parse(String(data));
        } catch {
          return;
        }
        const parsed = parseClientReply(json);
        if (!parsed.ok || parsed.value.id !== id) return;
        const reply = parsed.value;
        if (reply.type === 'error') return finish({ type: 'fail', error: 'bad_frame' });
        if (!reply.ok && reply.error === 'not_leader') leaderHint = reply.leader;
        finish(outcomeOf(reply));
      });
      ws.on('error', () => {});
      ws.on('close', () => finish(sent ? { type: 'unknown', error: 'connection closed' } : { type: 'fail', error: 'unreachable' }));
    });
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }
}
