// `npm run replay -- FILE [--port P] [--host H]`: serves a recorded run (a file the relay's flight
// recorder wrote, logs/village/<start time>.jsonl) in the village page, with no relay, no peers
// and no launcher. The page is the same one the relay serves, told by a <meta> that it replays:
// it opens no WebSocket, plays the recording on its timeline, and greys out what needs a live
// cluster (the console, clicks on villagers, the attacks), saying why.
//
// The file is read once at start (a megabyte at a time) to check every line and find its
// keyframes; then each request of the page reads only the window it asks for. Bad lines are
// reported by number and skipped; a torn last line is left out; neither stops the replay.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hostForUrl } from '../../shared/ws.ts';
import { answerRecording, keyframeFor, MAX_WINDOW_BYTES, readFrames, scanRecording, type RecordingScan, type RecordingSource } from './recording.ts';
import { Gate } from './security.ts';
import { DEFAULT_DIST, injectToken, StaticSite } from './static.ts';
import { stopOnSignals } from './stop-signals.ts';

/** Must match VILLAGE_REPLAY_META of game/src/page/timeline.ts. */
const REPLAY_META = 'village-replay';
export const DEFAULT_REPLAY_PORT = 6180;

const USAGE = `usage: npm run replay -- FILE [--port P] [--host H]
  FILE     a recording the relay wrote: logs/village/<start time>.jsonl
  --port   listen port (default ${DEFAULT_REPLAY_PORT}; 0 picks a free one)
  --host   bind address (default 127.0.0.1)`;

export interface ReplayArgs {
  file: string;
  port: number;
  host: string;
}

export function parseReplayArgs(argv: readonly string[]): ReplayArgs | string {
  let file: string | null = null;
  let port = DEFAULT_REPLAY_PORT;
  let host = '127.0.0.1';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return '';
    if (a === '--port' || a === '--host') {
      const v = argv[++i];
      if (v === undefined || v === '') return `${a} needs a value`;
      if (a === '--host') host = v;
      else {
        if (!/^\d+$/.test(v) || Number(v) > 65535) return `--port must be a port number from 0 to 65535, got ${JSON.stringify(v)}`;
        port = Number(v);
      }
      continue;
    }
    if (a.startsWith('-')) return `unknown argument ${JSON.stringify(a)}`;
    if (file !== null) return `one recording at a time; got ${JSON.stringify(file)} and ${JSON.stringify(a)}`;
    file = a;
  }
  if (file === null) return 'which recording? give a file of logs/village/';
  return { file: resolve(file), port, host };
}

/** A recording file as /api/recording answers it. */
export class ReplaySource implements RecordingSource {
  constructor(readonly scan: RecordingScan) {}

  info() {
    return { mode: 'replay' as const, files: [basename(this.scan.file)], start: this.scan.start, end: this.scan.end, off: null };
  }

  frames(at: number, back: number, ahead: number) {
    const k = keyframeFor(this.scan.keyframes, at - back);
    if (!k) return { text: '', from: null, to: null, lines: 0 };
    return readFrames(this.scan.file, k.offset, at + ahead, MAX_WINDOW_BYTES);
  }
}

/** What reading the file found that a person should know, one line each. */
export function scanReport(scan: RecordingScan): string[] {
  const name = scan.file;
  const lines: string[] = [];
  for (const e of scan.errors.slice(0, 20)) lines.push(`${name} line ${e.line}: ${e.message}; skipped`);
  if (scan.errorCount > 20) lines.push(`${name}: ${scan.errorCount - 20} more bad lines skipped`);
  if (scan.torn) lines.push(`${name}: the last line is cut short (the relay stopped while writing it); left out`);
  return lines;
}

export interface ReplayServer {
  readonly url: string;
  readonly port: number;
  readonly source: ReplaySource;
  close(): Promise<void>;
}

/** Reads the file and serves it; throws with a plain message when it holds nothing to show. */
export async function startReplay(args: ReplayArgs & { distDir?: string; log?: (line: string) => void }): Promise<ReplayServer> {
  const log = args.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  let scan: RecordingScan;
  try {
    scan = scanRecording(args.file);
  } catch (e) {
    throw new Error(`cannot read ${args.file}: ${(e as Error).message}`);
  }
  for (const line of scanReport(scan)) log(line);
  if (scan.keyframes.length === 0 || scan.start === null) {
    throw new Error(`${args.file} holds no picture of the village to start from (${scan.lines} lines, ${scan.errorCount} bad); is it a recording of logs/village/?`);
  }
  const source = new ReplaySource(scan);
  let port = args.port;
  const gate = new Gate(args.host, () => port);
  const site = new StaticSite(resolve(args.distDir ?? DEFAULT_DIST), gate.token);
  const server = createServer((req, res) => answer(req, res, { gate, site, source, file: basename(args.file) }));
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {});
    const body = 'a replay has no live village: no relay and no cluster are running\n';
    socket.end(`HTTP/1.1 404 ${STATUS_CODES[404]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  port = await listen(server, args.port, args.host);
  if (!site.built()) log(`the game is not built (${site.dist} has no index.html): run "npm run build" first`);
  return {
    url: `http://${hostForUrl(args.host === '0.0.0.0' || args.host === '::' ? '127.0.0.1' : args.host)}:${port}/`,
    port,
    source,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, d: { gate: Gate; site: StaticSite; source: ReplaySource; file: string }): void {
  const text = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (!d.gate.hostAllowed(req)) return text(403, `this replay does not answer to the host ${JSON.stringify(req.headers.host ?? '')}\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'only GET and HEAD\n');
  const url = new URL(req.url ?? '/', 'http://replay');
  const reply = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (answerRecording(url.pathname, url.searchParams, d.source, reply)) return;
  if ((url.pathname === '/' || url.pathname === '/index.html') && d.site.built()) {
    let html: string;
    try {
      html = readFileSync(resolve(d.site.dist, 'index.html'), 'utf8');
    } catch (e) {
      return text(500, `cannot read index.html: ${(e as Error).message}\n`);
    }
    html = injectToken(html, d.gate.token);
    const meta = `<meta name="${REPLAY_META}" content="${d.file.replace(/[&<>"]/g, '')}">`;
    html = html.replace(/<head[^>]*>/i, (h) => h + meta);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
    res.end(req.method === 'HEAD' ? undefined : html);
    return;
  }
  d.site.handle(req, res);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(new Error(e.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use; pick another with --port` : e.message)));
    server.listen(port, host, () => {
      const a = server.address();
      ok(a && typeof a === 'object' ? a.port : port);
    });
  });
}

async function main(): Promise<void> {
  const args = parseReplayArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args) process.stderr.write(`${args}\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(args ? 2 : 0);
  }
  let replay: ReplayServer;
  try {
    replay = await startReplay(args);
  } catch (e) {
    process.stderr.write(`replay: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const s = replay.source.scan;
  const seconds = ((s.end! - s.start!) / 1000).toFixed(1);
  process.stdout.write(`replay of ${args.file}: ${seconds} s from ${new Date(s.start!).toISOString()}, ${s.lines} lines, ${s.keyframes.length} keyframes; open ${replay.url}\n`);
  const stop = () => void replay.close().then(() => process.exit(0));
  stopOnSignals(stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
