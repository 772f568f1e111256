// Serves the built game (game/dist) over HTTP. The page gets the per-run control token injected
// into its <head>; nothing outside the dist folder is ever served.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VILLAGE_TOKEN_META } from '../../shared/village.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEFAULT_DIST = join(REPO_ROOT, 'game', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.webm': 'video/webm',
};

export function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Puts the token into the page: replaces %VILLAGE_TOKEN% and adds a <meta> to <head>. */
export function injectToken(html: string, token: string): string {
  const meta = `<meta name="${VILLAGE_TOKEN_META}" content="${token}">`;
  let out = html.replaceAll('%VILLAGE_TOKEN%', token);
  if (out.includes(`name="${VILLAGE_TOKEN_META}"`)) return out;
  const head = /<head[^>]*>/i.exec(out);
  if (head) out = out.slice(0, head.index + head[0].length) + meta + out.slice(head.index + head[0].length);
  else out = meta + out;
  return out;
}

const NOT_BUILT = (dist: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Raft Village: game not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The game is not built yet</h1>
<p>The relay is running, but it found no built game in <code>${escapeHtml(dist)}</code>.</p>
<p>Build it with <code>npm run build</code> and reload this page, or run <code>npm start</code>,
which builds the game when needed and starts everything.</p>
</body></html>`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  // The page can kill villagers: no other site may frame it and trick clicks into it.
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export class StaticSite {
  constructor(
    readonly dist: string,
    private readonly token: string,
  ) {}

  built(): boolean {
    return existsSync(join(this.dist, 'index.html'));
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://relay');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return this.send(res, req, 400, 'text/plain; charset=utf-8', 'bad path\n');
    }
    if (path.includes('\0')) return this.send(res, req, 400, 'text/plain; charset=utf-8', 'bad path\n');
    if (!this.built()) {
      if (path === '/' || path === '/index.html') return this.send(res, req, 503, 'text/html; charset=utf-8', NOT_BUILT(this.dist), { 'cache-control': 'no-store' });
      return this.send(res, req, 404, 'text/plain; charset=utf-8', 'not found (the game is not built: npm run build)\n');
    }
    if (path === '/' || path === '/index.html') {
      let html: string;
      try {
        html = readFileSync(join(this.dist, 'index.html'), 'utf8');
      } catch (e) {
        return this.send(res, req, 500, 'text/plain; charset=utf-8', `cannot read index.html: ${(e as Error).message}\n`);
      }
      return this.send(res, req, 200, 'text/html; charset=utf-8', injectToken(html, this.token), { 'cache-control': 'no-store' });
    }
    const file = resolve(this.dist, '.' + path);
    if (!file.startsWith(this.dist + sep)) return this.send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) return this.send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
      body = readFileSync(file);
    } catch {
      return this.send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
    // Vite puts content hashes in asset names: those never change.
    const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return this.send(res, req, 200, contentType(file), body, { 'cache-control': cache });
  }

  private send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, 'content-length': String(buf.length), ...headers });
    res.end(req.method === 'HEAD' ? undefined : buf);
  }
}
