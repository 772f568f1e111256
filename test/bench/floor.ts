// The physical floor under every durable commit on this machine: how long one small append
// plus fsync takes on the disk that holds the data directories, and how long one WebSocket
// (and one keep-alive HTTP) round trip takes on loopback between two processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasyncSync, readFileSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync, write, fsync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { distribution, type Distribution } from './stats.ts';

export interface FloorResult {
  /** write(128 B) + fsync, synchronous, ms per iteration. */
  fsync: Distribution;
  /** write(128 B) + fdatasync (what etcd's WAL uses on Linux). */
  fdatasync: Distribution;
  /** write + fsync through Node's thread pool (fs.write / fs.fsync callbacks). */
  fsyncAsync: Distribution;
  /** Round trip of a small JSON frame over a loopback WebSocket to another process. */
  wsRtt: Distribution;
  /** Round trip of a small POST over a keep-alive loopback HTTP connection to another process. */
  httpRtt: Distribution;
  /**
   * One Node thread answering 64 closed-loop WebSocket clients at once (an echo, no work): the
   * most requests per second a single-threaded server can answer on this machine, and the CPU
   * it spends per request (socket reads and writes, ws framing).
   */
  echo64: { perSec: number; serverCpuUsPerRequest: number };
}

export function measureDisk(dir: string, iterations: number): Pick<FloorResult, 'fsync' | 'fdatasync'> {
  const d = mkdtempSync(join(dir, 'bench-fsync-'));
  try {
    const fd = openSync(join(d, 'probe'), 'a');
    const buf = Buffer.alloc(128, 'x');
    const run = (sync: (fd: number) => void) => {
      const s: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        writeSync(fd, buf);
        sync(fd);
        s.push(performance.now() - t0);
      }
      return distribution(s);
    };
    run(fsyncSync); // warm-up
    const out = { fsync: run(fsyncSync), fdatasync: run(fdatasyncSync) };
    closeSync(fd);
    return out;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

export async function measureDiskAsync(dir: string, iterations: number): Promise<Distribution> {
  const d = mkdtempSync(join(dir, 'bench-fsync-'));
  try {
    const fd = openSync(join(d, 'probe'), 'a');
    const buf = Buffer.alloc(128, 'x');
    const s: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await new Promise<void>((res, rej) => write(fd, buf, (e) => (e ? rej(e) : fsync(fd, (e2) => (e2 ? rej(e2) : res())))));
      s.push(performance.now() - t0);
    }
    closeSync(fd);
    return distribution(s);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

// A tiny echo server in its own process, so that the round trip crosses processes as a
// client request to a peer does. It prints its two ports on stdout.
const ECHO_SERVER = `
const http = require('node:http');
const { WebSocketServer } = require('ws');
const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end(Buffer.concat(parts)); });
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
`;

async function startEcho(cwd: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', ECHO_SERVER], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)).port);
    });
    child.on('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  return { child, port };
}

export async function measureLoopback(cwd: string, iterations: number): Promise<Pick<FloorResult, 'wsRtt' | 'httpRtt'>> {
  const { child, port } = await startEcho(cwd);
  try {
    const frame = JSON.stringify({ type: 'request_command', id: 'r1', command: ['k00', 'set', 'v-0123456789'] });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    const wsOnce = () =>
      new Promise<number>((res) => {
        const t0 = performance.now();
        ws.once('message', () => res(performance.now() - t0));
        ws.send(frame);
      });
    for (let i = 0; i < Math.min(200, iterations); i++) await wsOnce();
    const w: number[] = [];
    for (let i = 0; i < iterations; i++) w.push(await wsOnce());
    ws.close();

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify({ key: 'azAw', value: 'di0wMTIzNDU2Nzg5' });
    const httpOnce = () =>
      new Promise<number>((res, rej) => {
        const t0 = performance.now();
        const req = request({ host: '127.0.0.1', port, path: '/v3/kv/put', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (r) => {
          r.resume();
          r.on('end', () => res(performance.now() - t0));
        });
        req.on('error', rej);
        req.end(body);
      });
    for (let i = 0; i < Math.min(200, iterations); i++) await httpOnce();
    const h: number[] = [];
    for (let i = 0; i < iterations; i++) h.push(await httpOnce());
    agent.destroy();
    return { wsRtt: distribution(w), httpRtt: distribution(h) };
  } finally {
    child.kill('SIGKILL');
  }
}

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

export async function measureEcho64(cwd: string, ms: number): Promise<FloorResult['echo64']> {
  const { child, port } = await startEcho(cwd);
  const sockets: WebSocket[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
      sockets.push(ws);
    }
    let answered = 0;
    let running = true;
    for (const [i, ws] of sockets.entries()) {
      const frame = JSON.stringify({ type: 'request_command', id: `r${i}`, command: [`k${i}`, 'set', 'v-0123456789'] });
      ws.on('message', () => {
        answered++;
        if (running) ws.send(frame);
      });
      ws.send(frame);
    }
    await new Promise((r) => setTimeout(r, 300));
    const a0 = answered;
    const c0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    const n = answered - a0;
    const cpu = cpuSeconds(child.pid!) - c0;
    const secs = (performance.now() - t0) / 1000;
    running = false;
    return { perSec: n / secs, serverCpuUsPerRequest: n > 0 ? (cpu * 1e6) / n : NaN };
  } finally {
    for (const ws of sockets) ws.terminate();
    child.kill('SIGKILL');
  }
}

export async function measureFloor(opts: { cwd: string; dir?: string; iterations: number }): Promise<FloorResult> {
  const dir = opts.dir ?? tmpdir();
  const disk = measureDisk(dir, opts.iterations);
  const fsyncAsync = await measureDiskAsync(dir, opts.iterations);
  const net = await measureLoopback(opts.cwd, opts.iterations);
  const echo64 = await measureEcho64(opts.cwd, Math.min(3000, Math.max(500, opts.iterations * 2)));
  return { ...disk, fsyncAsync, ...net, echo64 };
}
