// A 3-member etcd cluster on loopback for side-by-side figures, with the same timeouts as our
// fast profile (--heartbeat-interval 30 --election-timeout 150), driven through etcd's HTTP
// JSON gateway (/v3/kv/put with base64 keys and values) over keep-alive connections.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForAgreedLeader, type BenchClient, type BenchSystem, type FailoverClient, type MemberStatus } from './system.ts';

export const ETCD_INSTALL = 'apt-get update && apt-get install -y etcd-server etcd-client';

/** The etcd binary and its version, or null when it is not installed. */
export function findEtcd(bin = process.env.ETCD_BIN ?? 'etcd'): { bin: string; version: string } | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const m = /etcd Version:\s*(\S+)/.exec(r.stdout);
  return { bin, version: m ? m[1]! : 'unknown' };
}

/** Ports nobody listens on right now (the OS picks them; closed again before use). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// etcd does not notice its parent dying: whatever this process started goes with it.
const running = new Set<ChildProcess>();
let exitHook = false;
function track(p: ChildProcess): void {
  running.add(p);
  p.once('exit', () => running.delete(p));
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc: ChildProcess | null;
  /** etcd's member id (a uint64 as a decimal string), learned from its status. */
  id: string | null;
}

export interface EtcdOptions {
  bin: string;
  size?: number;
  /** Where the data directories go (a temp dir by default). */
  baseDir?: string;
  heartbeatMs?: number;
  electionMs?: number;
  /** Extra command-line flags for every member. */
  extraArgs?: string[];
  /** The closed-loop clients' HTTP stack: node:http with a keep-alive Agent (default) or raw. */
  client?: 'http' | 'raw';
}

/** POST a JSON body on a keep-alive agent; resolves with the parsed reply. */
function postJson(agent: Agent, port: number, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(parts).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* keep the text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(data);
  });
}

/**
 * A minimal HTTP/1.1 keep-alive connection for the closed-loop clients (--etcd-client raw):
 * one request at a time, a prebuilt head, Content-Length framing. It costs the bench process
 * far less CPU than node:http, which on a 2-core machine otherwise competes with etcd itself.
 */
export class RawHttpConnection {
  private socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void } | null = null;
  private ready: Promise<void>;
  private error: Error | null = null;

  constructor(private port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.ready = new Promise((res, rej) => {
      this.socket.once('connect', () => res());
      this.socket.once('error', rej);
    });
    this.socket.on('data', (c: Buffer) => this.onData(c));
    const fail = (e: Error) => {
      this.error = e;
      const w = this.waiting;
      this.waiting = null;
      w?.reject(e);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  private onData(c: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + len) return;
    const body = this.buf.subarray(end + 4, end + 4 + len).toString();
    this.buf = this.buf.subarray(end + 4 + len);
    const status = Number(head.slice(9, 12));
    const w = this.waiting;
    this.waiting = null;
    w?.resolve({ status, body });
  }

  async post(path: string, json: string): Promise<{ status: number; body: string }> {
    await this.ready;
    if (this.error) throw this.error;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
      );
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export class EtcdCluster implements BenchSystem {
  readonly name = 'etcd' as const;
  readonly members: string[];
  private ms: Member[] = [];
  private base: string;
  private ownBase: boolean;
  private statusAgent = new Agent({ keepAlive: true, maxSockets: 8 });
  private agents: Agent[] = [];
  private raws = new Set<RawHttpConnection>();
  private logs: WriteStream[] = [];

  constructor(private opts: EtcdOptions) {
    const n = opts.size ?? 3;
    this.members = Array.from({ length: n }, (_, i) => `etcd${i + 1}`);
    this.ownBase = !opts.baseDir;
    this.base = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'bench-etcd-'));
  }

  get dataDir(): string {
    return this.base;
  }

  async start(): Promise<void> {
    const ports = await freePorts(this.members.length * 2);
    this.ms = this.members.map((name, i) => ({
      name,
      clientPort: ports[2 * i]!,
      peerPort: ports[2 * i + 1]!,
      dataDir: join(this.base, name),
      proc: null,
      id: null,
    }));
    for (const m of this.ms) this.spawnMember(m, 'new');
    try {
      await this.awaitMembers();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private async awaitMembers(): Promise<void> {
    // Learn the member ids so that a status's `leader` can be named.
    const deadline = Date.now() + 20_000;
    for (const m of this.ms) {
      while (!m.id) {
        try {
          const r = await postJson(this.statusAgent, m.clientPort, '/v3/maintenance/status', {}, 1000);
          if (r.status === 200 && r.body?.header?.member_id) m.id = String(r.body.header.member_id);
        } catch {
          /* not up yet */
        }
        if (m.id) break;
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} did not answer within 20 s; see ${join(this.base, `${m.name}.log`)}`);
        if (!m.proc) throw new Error(`etcd member ${m.name} exited at start; see ${join(this.base, `${m.name}.log`)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await this.waitForLeader(20_000);
  }

  private spawnMember(m: Member, state: 'new' | 'existing'): void {
    const initialCluster = this.ms.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', 'raft-village-bench',
      '--heartbeat-interval', String(this.opts.heartbeatMs ?? 30),
      '--election-timeout', String(this.opts.electionMs ?? 150),
      '--logger', 'zap',
      '--log-level', 'error',
      ...(this.opts.extraArgs ?? []),
    ];
    const log = createWriteStream(join(this.base, `${m.name}.log`), { flags: 'a' });
    this.logs.push(log);
    const p = spawn(this.opts.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(p);
    p.stdout!.pipe(log, { end: false });
    p.stderr!.pipe(log, { end: false });
    p.on('exit', () => {
      if (m.proc === p) m.proc = null;
    });
    m.proc = p;
  }

  private member(name: string): Member {
    const m = this.ms.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member ${name}`);
    return m;
  }

  pids(): number[] {
    return this.ms.flatMap((m) => (m.proc?.pid ? [m.proc.pid] : []));
  }

  pidOf(name: string): number | null {
    return this.member(name).proc?.pid ?? null;
  }

  async status(name: string, timeoutMs = 1000): Promise<MemberStatus | null> {
    const m = this.member(name);
    if (!m.proc) return null;
    try {
      const r = await postJson(this.statusAgent, m.clientPort, '/v3/maintenance/status', {}, timeoutMs);
      if (r.status !== 200) return null;
      const leaderId = String(r.body?.leader ?? '0');
      const leader = leaderId === '0' ? null : (this.ms.find((x) => x.id === leaderId)?.name ?? `id:${leaderId}`);
      return { leader, term: Number(r.body?.raftTerm ?? 0), index: Number(r.body?.raftIndex ?? 0) };
    } catch {
      return null;
    }
  }

  waitForLeader(timeoutMs = 10_000): Promise<string> {
    return waitForAgreedLeader(this, timeoutMs, 'etcd');
  }

  async client(): Promise<BenchClient> {
    const leader = this.member(await this.waitForLeader());
    if (this.opts.client === 'raw') {
      const conn = new RawHttpConnection(leader.clientPort);
      this.raws.add(conn);
      return {
        put: async (key, value) => {
          const r = await conn.post('/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(value) }));
          if (r.status !== 200) throw new Error(`etcd put: HTTP ${r.status} ${r.body.slice(0, 200)}`);
        },
        close: () => {
          conn.close();
          this.raws.delete(conn);
        },
      };
    }
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.agents.push(agent);
    return {
      put: async (key, value) => {
        const r = await postJson(agent, leader.clientPort, '/v3/kv/put', { key: b64(key), value: b64(value) }, 10_000);
        if (r.status !== 200) throw new Error(`etcd put: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      },
      close: () => agent.destroy(),
    };
  }

  async failoverClient(): Promise<FailoverClient> {
    // Any member takes a write (a follower forwards it to the leader); start at the leader and
    // move to the next member whenever a request fails or times out, as etcd's client does.
    const agents = this.ms.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
    this.agents.push(...agents);
    let target = this.ms.indexOf(this.member(await this.waitForLeader()));
    return {
      write: async (key, value, timeoutMs) => {
        const i = target;
        try {
          const r = await postJson(agents[i]!, this.ms[i]!.clientPort, '/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs);
          if (r.status === 200) return true;
        } catch {
          /* refused, reset or timed out */
        }
        if (target === i) target = (i + 1) % this.ms.length;
        return false;
      },
      close: () => agents.forEach((a) => a.destroy()),
    };
  }

  kill(name: string): void {
    const m = this.member(name);
    m.proc?.kill('SIGKILL');
    m.proc = null;
  }

  async restart(name: string): Promise<void> {
    const m = this.member(name);
    if (m.proc) return;
    this.spawnMember(m, 'existing');
  }

  async stop(): Promise<void> {
    for (const a of this.agents) a.destroy();
    this.agents = [];
    for (const r of this.raws) r.close();
    this.raws.clear();
    this.statusAgent.destroy();
    this.statusAgent = new Agent({ keepAlive: true, maxSockets: 8 });
    const exits = this.ms.map(
      (m) =>
        new Promise<void>((res) => {
          const p = m.proc;
          if (!p || p.exitCode !== null) return res();
          p.once('exit', () => res());
          p.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
    for (const m of this.ms) m.proc = null;
    for (const l of this.logs) l.end();
    this.logs = [];
    if (this.ownBase) rmSync(this.base, { recursive: true, force: true });
  }
}
