// Shared by the fuzz suites: generators of random and mutated frames, a connection that sends
// them one at a time and records what came back, and a look at a process's memory.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { WebSocket } from 'ws';

/** What travels: a text frame, or raw bytes sent as a binary frame or as a (possibly invalid UTF-8) text frame. */
export type Frame = { text: string } | { binary: Buffer } | { badText: Buffer };

export function describeFrame(f: Frame): string {
  const s = 'text' in f ? f.text : 'binary' in f ? `<binary ${f.binary.length} bytes>` : `<text frame of ${f.badText.length} bytes, invalid UTF-8>`;
  return s.length > 160 ? `${s.slice(0, 157)}... (${s.length} chars)` : s;
}

/** Numbers that break careless code: huge, tiny, negative, fractional, past the safe integers. */
export const nastyNumber = fc.constantFrom(
  -1,
  -0,
  0.5,
  1e308,
  -1e308,
  5e-324,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER - 1,
  2 ** 31,
  2 ** 32,
  1e21,
);

/** Values of the wrong kind for any field. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyNumber,
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(null, true, false, '', [], {}, '__proto__', 'constructor', '1e400', 'NaN', '-Infinity'),
  fc.string({ minLength: 300, maxLength: 3000 }),
);

/** A valid object with fields replaced, removed or added. */
export function mutate(valid: readonly Record<string, unknown>[]): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'delete', 'add', 'nest'), wrongValue, fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 3 }))
    .map(([base, edits]) => {
      const o: Record<string, unknown> = structuredClone(base) as Record<string, unknown>;
      for (const [i, kind, value, name] of edits) {
        const keys = Object.keys(o);
        const key = keys[i % Math.max(1, keys.length)] ?? 'type';
        if (kind === 'replace') o[key] = value;
        else if (kind === 'delete') delete o[key];
        else if (kind === 'add') o[name] = value;
        else o[key] = [o[key], value];
      }
      return o;
    });
}

/** Deeply nested JSON, as text (built without recursion), inside an otherwise plausible frame. */
export function deepFrames(depth: number, shapes: ((nested: string) => string)[]): Frame[] {
  const arrays = '['.repeat(depth) + ']'.repeat(depth);
  const objects = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  return shapes.flatMap((shape) => [{ text: shape(arrays) }, { text: shape(objects) }]);
}

/** Random text, random bytes, invalid UTF-8, binary frames. */
export const junkFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.string({ maxLength: 200 }).map((text) => ({ text })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ text: JSON.stringify(v) })),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ binary: Buffer.from(b) })),
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => ({ badText: Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(b)]) })),
);

/** A frame that is in every way right, plus its expected reply: for probing that a connection still works. */
export interface Probe {
  frame: () => string;
  /** Whether a message is the reply to the probe just sent. */
  isReply: (m: Record<string, unknown>) => boolean;
}

export interface Exchange {
  frame: Frame;
  /** Messages that arrived after the frame was sent and before the probe's reply. */
  replies: Record<string, unknown>[];
  /** Close code if the endpoint closed the connection because of this frame. */
  closed: number | null;
}

/**
 * Sends frames one by one on ws://url. After each, sends a probe and waits for its reply, so that
 * everything the endpoint said about the frame has arrived. A connection the endpoint closes is
 * reopened for the next frame. Without a probe (the endpoint never replies) it waits `quietMs`.
 */
export async function exchange(url: string, headers: Record<string, string>, frames: Frame[], probe: Probe | null, quietMs = 20): Promise<Exchange[]> {
  const out: Exchange[] = [];
  let conn: Conn | null = null;
  for (const frame of frames) {
    if (!conn || conn.closed !== null) conn = await open(url, headers);
    const c = conn;
    c.inbox = [];
    if ('text' in frame) c.ws.send(frame.text);
    else if ('binary' in frame) c.ws.send(frame.binary, { binary: true });
    else c.ws.send(frame.badText, { binary: false });
    let replies: Record<string, unknown>[];
    if (probe) {
      c.ws.send(probe.frame());
      const got = await c.until((m) => probe.isReply(m), 5000);
      if (got === 'timeout') throw new Error(`no reply to the probe after ${describeFrame(frame)}`);
      replies = c.inbox.filter((m) => !probe.isReply(m));
    } else {
      // A ping is read after the frame: its pong (or the close the frame caused) means the
      // endpoint has dealt with the frame, however busy the machine, so a close is never
      // blamed on the next frame.
      await c.settled(5000);
      await new Promise((r) => setTimeout(r, quietMs));
      replies = [...c.inbox];
    }
    out.push({ frame, replies, closed: c.closed });
  }
  conn?.ws.terminate();
  return out;
}

interface Conn {
  ws: WebSocket;
  inbox: Record<string, unknown>[];
  closed: number | null;
  until(pred: (m: Record<string, unknown>) => boolean, ms: number): Promise<'ok' | 'closed' | 'timeout'>;
  /** Sends a ping and waits for its pong or for the connection to close. */
  settled(ms: number): Promise<void>;
}

function open(url: string, headers: Record<string, string>): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    const waiters = new Set<() => void>();
    let pongs = 0;
    const c: Conn = {
      ws,
      inbox: [],
      closed: null,
      settled(ms) {
        if (c.closed !== null) return Promise.resolve();
        const want = pongs + 1;
        return new Promise((res) => {
          const check = () => {
            if (pongs >= want || c.closed !== null) done();
          };
          const done = () => {
            clearTimeout(t);
            waiters.delete(check);
            res();
          };
          const t = setTimeout(done, ms);
          waiters.add(check);
          try {
            ws.ping();
          } catch {
            done();
          }
        });
      },
      until(pred, ms) {
        return new Promise((res) => {
          const check = () => {
            if (c.inbox.some(pred)) return done('ok');
            if (c.closed !== null) return done('closed');
          };
          const done = (r: 'ok' | 'closed' | 'timeout') => {
            clearTimeout(t);
            waiters.delete(check);
            res(r);
          };
          const t = setTimeout(() => done('timeout'), ms);
          waiters.add(check);
          check();
        });
      },
    };
    ws.on('message', (d) => {
      try {
        const v = JSON.parse(String(d)) as unknown;
        if (Array.isArray(v)) for (const x of v) c.inbox.push(x as Record<string, unknown>);
        else c.inbox.push(v as Record<string, unknown>);
      } catch {
        c.inbox.push({ unparseable: String(d) });
      }
      for (const w of [...waiters]) w();
    });
    ws.on('pong', () => {
      pongs++;
      for (const w of [...waiters]) w();
    });
    ws.on('close', (code) => {
      c.closed = code;
      for (const w of [...waiters]) w();
    });
    ws.on('error', () => {});
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`${url}: refused with HTTP ${res.statusCode}`)));
    ws.once('error', (e) => reject(e));
  });
}

/** Resident memory of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) / 1024;
}

/** The HTTP status with which an upgrade is refused (0 if it was accepted). */
export function upgradeStatus(u: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve(0);
    });
    ws.on('unexpected-response', (_q, res) => {
      res.resume();
      resolve(res.statusCode ?? -1);
    });
    ws.on('error', (e) => reject(e));
  });
}
