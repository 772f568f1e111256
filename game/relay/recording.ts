// The recording format (PROTOCOL.md, "Recordings"): what the flight recorder (recorder.ts)
// writes and what the timeline and `npm run replay` (replay.ts) read.
//
// A recording is a JSON Lines file, `logs/village/<start time>.jsonl`: one JSON object per line,
// each line ended by "\n".
//   line 1     {"type":"recording","version":1,"now":T,"run":"<ISO start of the run>","part":1}
//   line 2     {"type":"snapshot","now":T,"picture":{...}}   the whole picture (a keyframe)
//   then       {"type":"batch","now":T,"deltas":[...]}       every batch the browsers were sent
//              {"type":"snapshot",...,"keyframe":true}        a keyframe at least every 10 s of batches
//              {"type":"snapshot",...}                        one the fan-out sent every browser (no mark)
// The snapshot and batch lines are exactly the frames the relay sends on /village (their `now` is
// the relay's wall clock, ms, never decreasing), so a page folds them into its model as it folds
// the live stream, and seeking starts from the last keyframe before the moment instead of from
// the start. Replies and console history are not recorded.
//
// Reading is forgiving, as a recording is not durable state: a last line without its "\n" (the
// relay died mid-write) is dropped; a line that is not a frame is an error naming its line number
// and is skipped, never the end of the reading.
import { closeSync, openSync, readSync } from 'node:fs';

export const RECORDING_VERSION = 1;
/** The first line of every recording file. */
export interface RecordingHeader {
  type: 'recording';
  version: number;
  now: number;
  /** When the run began (ISO); the files of one run share it. */
  run: string;
  /** 1 for the run's first file, then 2, ... */
  part: number;
}

export type LineKind = 'recording' | 'snapshot' | 'batch';

export type LineCheck = { ok: true; kind: LineKind; now: number } | { ok: false; message: string };

// The relay writes `{"type":...,"now":...` first (JSON.stringify keeps the literal's order).
const HEAD = /^\{"type":"(recording|snapshot|batch)","now":(-?\d+(?:\.\d+)?)[,}]/;

/** The kind and time of a line, from its head alone: cheap, for lines this relay wrote. */
export function lineHead(line: string): LineCheck {
  const m = HEAD.exec(line.length > 80 ? line.slice(0, 80) : line);
  if (m && line.endsWith('}')) return { ok: true, kind: m[1] as LineKind, now: Number(m[2]) };
  return checkLine(line);
}

/** A whole line checked: JSON, an object of a known type with a numeric `now`, and its body. */
export function checkLine(line: string): LineCheck {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { ok: false, message: `not JSON (${(e as Error).message})` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, message: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (o.type !== 'recording' && o.type !== 'snapshot' && o.type !== 'batch') return { ok: false, message: `unknown type ${JSON.stringify(o.type)} (expected recording, snapshot or batch)` };
  if (typeof o.now !== 'number' || !Number.isFinite(o.now)) return { ok: false, message: `${o.type} without a numeric now` };
  if (o.type === 'snapshot' && (!o.picture || typeof o.picture !== 'object')) return { ok: false, message: 'snapshot without a picture object' };
  if (o.type === 'batch' && !Array.isArray(o.deltas)) return { ok: false, message: 'batch without a deltas array' };
  return { ok: true, kind: o.type, now: o.now };
}

/** A keyframe: a snapshot line, where it starts in its file. */
export interface Keyframe {
  t: number;
  /** Byte offset of the line in the file. */
  offset: number;
  /** 1-based line number. */
  line: number;
}

export interface LineError {
  line: number;
  message: string;
}

/** What a reading of a whole file found. */
export interface RecordingScan {
  file: string;
  /** Time of the first and last good frame (null: none). */
  start: number | null;
  end: number | null;
  /** Bytes up to the end of the last whole line. */
  bytes: number;
  lines: number;
  keyframes: Keyframe[];
  /** Bad lines (the first 100; `errorCount` counts them all). */
  errors: LineError[];
  errorCount: number;
  /** The last line had no "\n": cut short by a crash, and left out. */
  torn: boolean;
  header: RecordingHeader | null;
}

const READ_CHUNK = 1 << 20;

/**
 * Reads a recording file line by line (a megabyte at a time, never the whole file in memory)
 * and checks every line. Throws only when the file cannot be read at all.
 */
export function scanRecording(file: string): RecordingScan {
  const scan: RecordingScan = { file, start: null, end: null, bytes: 0, lines: 0, keyframes: [], errors: [], errorCount: 0, torn: false, header: null };
  eachLine(file, 0, (line, offset, n) => {
    scan.lines = n;
    scan.bytes = offset + Buffer.byteLength(line) + 1;
    const c = checkLine(line);
    if (!c.ok) {
      scan.errorCount++;
      if (scan.errors.length < 100) scan.errors.push({ line: n, message: c.message });
      return true;
    }
    if (c.kind === 'recording') {
      if (n === 1) scan.header = JSON.parse(line) as RecordingHeader;
      return true;
    }
    if (c.kind === 'snapshot') scan.keyframes.push({ t: c.now, offset, line: n });
    scan.start ??= c.now;
    scan.end = c.now;
    return true;
  }, (rest) => {
    scan.torn = rest.length > 0;
  });
  return scan;
}

/**
 * Calls `each(line, byteOffset, lineNumber)` for every whole line from `offset` (which must be
 * the start of a line) until it returns false; `tail` gets what follows the last "\n".
 */
export function eachLine(file: string, offset: number, each: (line: string, offset: number, n: number) => boolean, tail?: (rest: string) => void, firstLine = 1): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let carry: Buffer = Buffer.alloc(0);
    let pos = offset;
    let lineStart = offset;
    let n = firstLine - 1;
    for (;;) {
      const got = readSync(fd, buf, 0, READ_CHUNK, pos);
      if (got === 0) break;
      pos += got;
      let data = carry.length ? Buffer.concat([carry, buf.subarray(0, got)]) : buf.subarray(0, got);
      let from = 0;
      for (;;) {
        const nl = data.indexOf(10, from);
        if (nl < 0) break;
        const line = data.toString('utf8', from, nl);
        n++;
        if (!each(line, lineStart, n)) return;
        lineStart += nl - from + 1;
        from = nl + 1;
      }
      data = data.subarray(from);
      carry = Buffer.from(data);
    }
    tail?.(carry.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/**
 * The frames to show a moment: the lines of `file` from the keyframe at `offset` on, until the
 * first frame after `until` or `maxBytes`, as JSON Lines text. Lines that are not frames (the
 * header, bad lines) are left out.
 */
export function readFrames(file: string, offset: number, until: number, maxBytes: number): { text: string; from: number | null; to: number | null; lines: number } {
  const out: string[] = [];
  let bytes = 0;
  let from: number | null = null;
  let to: number | null = null;
  eachLine(file, offset, (line) => {
    const h = lineHead(line);
    if (!h.ok || h.kind === 'recording') return true;
    if (from !== null && h.now > until) return false;
    bytes += line.length + 1;
    if (from !== null && bytes > maxBytes) return false;
    from ??= h.now;
    to = h.now;
    out.push(line);
    return true;
  });
  return { text: out.length ? `${out.join('\n')}\n` : '', from, to, lines: out.length };
}

/** The keyframe to start from for a moment: the last one at or before `t`, else the first. */
export function keyframeFor<K extends { t: number }>(keyframes: readonly K[], t: number): K | null {
  let best: K | null = null;
  for (const k of keyframes) {
    if (k.t <= t) best = k;
    else break;
  }
  return best ?? keyframes[0] ?? null;
}

/** What /api/recording says about the recording a page can seek in. */
export interface RecordingInfo {
  /** `live`: this relay's run, still growing; `replay`: a file served by npm run replay. */
  mode: 'live' | 'replay';
  /** The recording's files (live: this run's files still kept, oldest first). */
  files: string[];
  /** First and last moment that can be shown (relay wall ms); null while nothing is recorded. */
  start: number | null;
  end: number | null;
  /** Why there is no recording (recording off, a write failed), else null. */
  off: string | null;
}

/** A recording the relay (or npm run replay) can answer for. */
export interface RecordingSource {
  info(): RecordingInfo;
  /** Frames from a keyframe at or before `at - back` to the first frame after `at + ahead`. */
  frames(at: number, back: number, ahead: number): { text: string; from: number | null; to: number | null; lines: number };
}

/** The most a /api/recording/frames answer carries; the page asks again further on. */
export const MAX_WINDOW_BYTES = 8 * 1024 * 1024;
const MAX_BACK_MS = 120_000;
const MAX_AHEAD_MS = 600_000;

/**
 * GET /api/recording (the RecordingInfo) and /api/recording/frames?at=T&back=MS&ahead=MS (JSON
 * Lines). Returns false for other paths. A bad query gets 400 with what was wrong.
 */
export function answerRecording(path: string, query: URLSearchParams, source: RecordingSource | null, reply: (status: number, type: string, body: string) => void): boolean {
  if (path !== '/api/recording' && path !== '/api/recording/frames') return false;
  if (!source) {
    reply(404, 'text/plain; charset=utf-8', 'this relay records nothing ([relay] recording_bytes = 0)\n');
    return true;
  }
  if (path === '/api/recording') {
    reply(200, 'application/json; charset=utf-8', JSON.stringify(source.info()));
    return true;
  }
  const num = (name: string, def: number | null, max: number): number | string => {
    const v = query.get(name);
    if (v === null || v === '') return def ?? `missing ${name} (relay wall ms)`;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > max) return `${name} must be a number from 0 to ${max}, got ${JSON.stringify(v.slice(0, 40))}`;
    return n;
  };
  const at = num('at', null, Number.MAX_SAFE_INTEGER);
  const back = num('back', 10_000, MAX_BACK_MS);
  const ahead = num('ahead', 20_000, MAX_AHEAD_MS);
  const bad = [at, back, ahead].find((x) => typeof x === 'string');
  if (bad !== undefined) {
    reply(400, 'text/plain; charset=utf-8', `${bad}\n`);
    return true;
  }
  try {
    const w = source.frames(at as number, back as number, ahead as number);
    reply(200, 'application/x-ndjson; charset=utf-8', w.text);
  } catch (e) {
    reply(500, 'text/plain; charset=utf-8', `cannot read the recording: ${(e as Error).message}\n`);
  }
  return true;
}
