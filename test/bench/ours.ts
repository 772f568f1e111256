// Our cluster as a BenchSystem: peers started by the test harness (test/support), driven
// through the client contract (ws://HOST:PORT/client, one WebSocket per client), observed
// through /admin status on one persistent connection per peer.
import { WebSocket } from 'ws';
import type { PeerAddress } from '../../shared/config.ts';
import { CLIENT_PATH } from '../../shared/client-protocol.ts';
import { ADMIN_PATH, SECRET_HEADER } from '../../shared/peer-protocol.ts';
import { wsUrl } from '../../shared/ws.ts';
import { waitForAgreedLeader, type BenchClient, type BenchSystem, type FailoverClient, type MemberStatus } from './system.ts';

/** What the bench needs from a running cluster of our peers (provided by test/support). */
export interface PeerCluster {
  readonly peers: readonly PeerAddress[];
  readonly secret: string;
  pidOf(name: string): number | null;
  kill(name: string): void;
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

export type StartPeers = () => Promise<PeerCluster>;

const url = (p: PeerAddress, path: string) => wsUrl(p.host, p.port, path);

function openWs(address: string, headers: Record<string, string> = {}, timeoutMs = 3000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs });
    ws.once('open', () => {
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      resolve(ws);
    });
    ws.once('error', (e) => reject(e));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`${address}: HTTP ${res.statusCode}`)));
  });
}

type Reply = { type: string; id?: string; ok?: boolean; error?: string; leader?: string | null; message?: string; [k: string]: unknown };

/**
 * One WebSocket with requests matched to replies by id. Requests outstanding when the socket
 * closes are failed at once.
 */
class Channel {
  private pending = new Map<string, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | null }>();
  private n = 0;
  closed = false;
  constructor(readonly ws: WebSocket, private label: string) {
    ws.on('message', (data) => {
      let r: Reply;
      try {
        r = JSON.parse(String(data)) as Reply;
      } catch {
        return;
      }
      const p = r.id !== undefined ? this.pending.get(r.id) : undefined;
      if (!p) return;
      this.pending.delete(r.id!);
      if (p.timer) clearTimeout(p.timer);
      p.resolve(r);
    });
    ws.on('close', () => {
      this.closed = true;
      for (const [, p] of this.pending) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new Error(`${label}: connection closed`));
      }
      this.pending.clear();
    });
  }
  request(body: Record<string, unknown>, timeoutMs: number | null): Promise<Reply> {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`${this.label}: not connected`));
    const id = `b${++this.n}`;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === null
          ? null
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new Error(`${this.label}: no reply within ${timeoutMs} ms`));
            }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }
  close(): void {
    this.ws.terminate();
  }
}

export class OursCluster implements BenchSystem {
  readonly name = 'ours' as const;
  members: string[] = [];
  private cluster: PeerCluster | null = null;
  private admin = new Map<string, Channel>();
  private adminOpening = new Map<string, Promise<Channel>>();
  private channels = new Set<Channel>();

  constructor(private startPeers: StartPeers) {}

  get peers(): readonly PeerAddress[] {
    return this.c.peers;
  }

  private get c(): PeerCluster {
    if (!this.cluster) throw new Error('our cluster is not running');
    return this.cluster;
  }

  private peer(name: string): PeerAddress {
    const p = this.c.peers.find((x) => x.name === name);
    if (!p) throw new Error(`no peer ${name}`);
    return p;
  }

  async start(): Promise<void> {
    this.cluster = await this.startPeers();
    this.members = this.cluster.peers.map((p) => p.name);
    await this.waitForLeader(20_000);
  }

  async stop(): Promise<void> {
    for (const ch of this.channels) ch.close();
    this.channels.clear();
    for (const ch of this.admin.values()) ch.close();
    this.admin.clear();
    this.adminOpening.clear();
    if (this.cluster) await this.cluster.stop();
    this.cluster = null;
  }

  pids(): number[] {
    if (!this.cluster) return [];
    return this.members.flatMap((m) => {
      const pid = this.c.pidOf(m);
      return pid ? [pid] : [];
    });
  }

  pidOf(name: string): number | null {
    return this.cluster ? this.c.pidOf(name) : null;
  }

  private adminChannel(name: string): Promise<Channel> {
    const ch = this.admin.get(name);
    if (ch && !ch.closed) return Promise.resolve(ch);
    let opening = this.adminOpening.get(name);
    if (!opening) {
      opening = openWs(url(this.peer(name), ADMIN_PATH), { [SECRET_HEADER]: this.c.secret }, 1000)
        .then((ws) => {
          const c = new Channel(ws, `${name}/admin`);
          this.admin.set(name, c);
          return c;
        })
        .finally(() => this.adminOpening.delete(name));
      this.adminOpening.set(name, opening);
    }
    return opening;
  }

  /** The raw /admin status of a peer (null when it does not answer). */
  async adminStatus(name: string, timeoutMs = 1000): Promise<Reply | null> {
    if (this.pidOf(name) === null) return null;
    try {
      const ch = await this.adminChannel(name);
      const r = await ch.request({ type: 'status' }, timeoutMs);
      return r.type === 'status' ? r : null;
    } catch {
      return null;
    }
  }

  async status(name: string, timeoutMs = 1000): Promise<MemberStatus | null> {
    const r = await this.adminStatus(name, timeoutMs);
    if (!r) return null;
    return { leader: (r.leader as string | null) ?? null, term: Number(r.term), index: Number(r.commitIndex) };
  }

  waitForLeader(timeoutMs = 10_000): Promise<string> {
    return waitForAgreedLeader(this, timeoutMs, 'ours');
  }

  private async clientChannel(name: string): Promise<Channel> {
    const ws = await openWs(url(this.peer(name), CLIENT_PATH));
    const ch = new Channel(ws, `${name}/client`);
    this.channels.add(ch);
    ws.on('close', () => this.channels.delete(ch));
    return ch;
  }

  async client(): Promise<BenchClient> {
    const leader = await this.waitForLeader();
    const ch = await this.clientChannel(leader);
    return {
      put: async (key, value) => {
        const r = await ch.request({ type: 'request_command', command: [key, 'set', value] }, 10_000);
        if (r.type !== 'command_result' || r.ok !== true) throw new Error(`ours put: ${JSON.stringify(r).slice(0, 200)}`);
      },
      close: () => ch.close(),
    };
  }

  async failoverClient(): Promise<FailoverClient> {
    // A connection to every peer (reopened in the background when it closes); writes go to the
    // peer believed to lead; a not_leader reply naming the leader is followed at once, within
    // the same request timeout; a timeout or a closed connection moves on to the next peer.
    const names = [...this.members];
    const chans = new Map<string, Channel>();
    const opening = new Set<string>();
    let closed = false;
    const ensure = (name: string) => {
      const ch = chans.get(name);
      if ((ch && !ch.closed) || opening.has(name) || closed || this.pidOf(name) === null) return;
      opening.add(name);
      this.clientChannel(name)
        .then((c) => {
          if (closed) c.close();
          else chans.set(name, c);
        })
        .catch(() => {})
        .finally(() => opening.delete(name));
    };
    for (const n of names) ensure(n);
    let target = await this.waitForLeader();
    const t0 = Date.now();
    while (!chans.get(target) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    const next = (from: string) => names[(names.indexOf(from) + 1) % names.length]!;
    return {
      write: async (key, value, timeoutMs) => {
        const deadline = performance.now() + timeoutMs;
        for (let hop = 0; hop < 3; hop++) {
          const name = target;
          const ch = chans.get(name);
          if (!ch || ch.closed) {
            ensure(name);
            target = next(name);
            return false;
          }
          const left = deadline - performance.now();
          if (left <= 0) return false;
          let r: Reply;
          try {
            r = await ch.request({ type: 'request_command', command: [key, 'set', value] }, left);
          } catch {
            if (target === name) target = next(name);
            return false;
          }
          if (r.ok === true) return true;
          if (r.error === 'not_leader') {
            if (typeof r.leader === 'string' && r.leader !== name && names.includes(r.leader)) {
              target = r.leader; // follow the hint now
              continue;
            }
            if (target === name) target = next(name);
          }
          return false;
        }
        return false;
      },
      close: () => {
        closed = true;
        for (const c of chans.values()) c.close();
      },
    };
  }

  kill(name: string): void {
    this.admin.get(name)?.close();
    this.admin.delete(name);
    this.c.kill(name);
  }

  async restart(name: string): Promise<void> {
    await this.c.restart(name);
  }
}
