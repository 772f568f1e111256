// The flight recorder (game/relay/recorder.ts) and the recording format it writes and the
// timeline reads (game/relay/recording.ts): keyframes, files that rotate at their size cap with
// the oldest removed first, and readings that survive a torn last line and a corrupted line.
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Recorder, recordingFileName } from '../../game/relay/recorder.ts';
import { answerRecording, readFrames, scanRecording } from '../../game/relay/recording.ts';

let dir: string;
let clock: number;
const logged: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'recorder-test-'));
  clock = Date.UTC(2026, 11, 6, 12, 0, 0);
  logged.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const snapshot = (t: number, term = 1) => JSON.stringify({ type: 'snapshot', now: t, picture: { peers: [{ name: 'peer1', term }], kv: {} } });
const batch = (t: number, pad = 0) => JSON.stringify({ type: 'batch', now: t, deltas: [{ type: 'counters', counters: { elections: 1, messages: t, droppedEvents: 0 } }], pad: 'x'.repeat(pad) });

function recorder(over: Partial<ConstructorParameters<typeof Recorder>[0]> = {}): Recorder {
  return new Recorder({ dir, maxBytes: 1 << 20, kept: 5, picture: () => ({ peers: [{ name: 'peer1', term: 9 }], kv: {} }), now: () => clock, log: (l) => logged.push(l), keyframeMs: 1000, flushMs: 60_000, ...over });
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; now: number; part?: number });
const files = () => readdirSync(dir).sort();

describe('the flight recorder', () => {
  it('writes a header, the snapshot and every batch, with a keyframe once keyframeMs of batches went by', () => {
    const r = recorder();
    r.send(snapshot(clock));
    for (let i = 1; i <= 5; i++) {
      clock += 400;
      r.send(batch(clock));
    }
    r.close();
    const got = lines(join(dir, files()[0]!));
    // 400, 800: no keyframe; 1200 is 1000 ms after the first snapshot: a keyframe right after that batch.
    expect(got.map((l) => l.type)).toEqual(['recording', 'snapshot', 'batch', 'batch', 'batch', 'snapshot', 'batch', 'batch']);
    expect(got[0]).toMatchObject({ type: 'recording', version: 1, part: 1 });
    // The fan-out's snapshot counts when folding forward; the recorder's own keyframe is marked.
    expect((got[1] as { keyframe?: boolean }).keyframe).toBeUndefined();
    expect(got[5]).toMatchObject({ keyframe: true, now: clock - 800, picture: { peers: [{ name: 'peer1', term: 9 }] } });
    const scan = scanRecording(join(dir, files()[0]!));
    expect(scan.keyframes.map((k) => k.line)).toEqual([2, 6]);
    expect(scan.errors).toEqual([]);
    expect(scan.end! - scan.start!).toBe(2000);
  });

  it('buffers lines and writes them only every flushMs, not per frame', () => {
    const r = recorder();
    r.send(snapshot(clock));
    r.send(batch(clock + 1));
    expect(r.pendingBytesCount).toBeGreaterThan(0);
    // The fan-out never sees the recorder behind: it writes its buffer itself.
    expect(r.bufferedAmount).toBe(0);
    expect(readFileSync(r.currentFile!, 'utf8')).toBe('');
    r.close();
    expect(lines(join(dir, files()[0]!)).length).toBe(3);
  });

  it('starts a new file at the size cap, each file beginning with a keyframe', () => {
    const r = recorder({ maxBytes: 20_000, kept: 100 });
    r.send(snapshot(clock));
    for (let i = 0; i < 30; i++) {
      clock += 10;
      r.send(batch(clock, 2000));
    }
    r.close();
    const names = files();
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const [i, name] of names.entries()) {
      const l = lines(join(dir, name));
      expect(l[0]).toMatchObject({ type: 'recording', part: i + 1 });
      expect(l[1]!.type).toBe('snapshot');
      expect(readFileSync(join(dir, name)).length).toBeLessThan(20_000 + 2 * 2200);
    }
  });

  it('keeps recordings_kept files, removing the oldest first, earlier runs before this one, and nothing else', () => {
    const older = [recordingFileName(clock - 3_000_000), recordingFileName(clock - 2_000_000)];
    for (const n of older) writeFileSync(join(dir, n), `${snapshot(1)}\n`);
    writeFileSync(join(dir, 'notes.txt'), 'not a recording\n');
    const r = recorder({ maxBytes: 20_000, kept: 3 });
    r.send(snapshot(clock));
    expect(files()).toEqual([...older, recordingFileName(clock), 'notes.txt']);
    for (let i = 0; i < 30; i++) {
      clock += 10;
      r.send(batch(clock, 2000));
    }
    r.close();
    const left = files();
    expect(left).toContain('notes.txt');
    expect(left).not.toContain(older[0]);
    expect(left).not.toContain(older[1]);
    const recs = left.filter((n) => n.endsWith('.jsonl'));
    expect(recs.length).toBe(3);
    // The newest three of this run: its last file is among them, its first is not.
    expect(recs).not.toContain(recordingFileName(Date.UTC(2026, 11, 6, 12, 0, 0)));
    expect(r.info().files).toEqual(recs);
  });

  it('serves the frames around a moment from the keyframe before it, across files', () => {
    const r = recorder({ maxBytes: 20_000, kept: 100 });
    const t0 = clock;
    r.send(snapshot(clock));
    for (let i = 0; i < 40; i++) {
      clock += 100;
      r.send(batch(clock, 1500));
    }
    const at = t0 + 2500;
    const w = r.frames(at, 1000, 500);
    const got = w.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; now: number });
    expect(got[0]!.type).toBe('snapshot');
    expect(got[0]!.now).toBeLessThanOrEqual(at - 1000);
    expect(got.every((f) => f.type !== 'recording')).toBe(true);
    expect(got[got.length - 1]!.now).toBeLessThanOrEqual(at + 500);
    expect(r.info()).toMatchObject({ mode: 'live', start: t0, end: clock, off: null });
    r.close();
  });

  it('says once why it stopped when it cannot write, and the relay goes on', () => {
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    const r = recorder({ dir: join(notADir, 'village') });
    expect(() => r.send(snapshot(clock))).not.toThrow();
    expect(() => r.send(batch(clock + 1))).not.toThrow();
    expect(r.open).toBe(false);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/recorder: cannot create a recording file in .*file\/village: .*; the village is no longer recorded/);
    expect(r.info().off).toMatch(/no longer recorded/);
  });
});

describe('reading a recording', () => {
  function written(): string {
    const r = recorder();
    r.send(snapshot(clock));
    for (let i = 1; i <= 3; i++) r.send(batch(clock + i * 100));
    r.close();
    return join(dir, files()[0]!);
  }

  it('leaves out a torn last line (the relay died mid-write) without calling it an error', () => {
    const file = written();
    appendFileSync(file, '{"type":"batch","now":99999999,"del');
    const scan = scanRecording(file);
    expect(scan.torn).toBe(true);
    expect(scan.errors).toEqual([]);
    expect(scan.lines).toBe(5);
    expect(scan.end).toBe(clock + 300);
    const w = readFrames(file, 0, Infinity, 1 << 20);
    expect(w.lines).toBe(4);
    expect(w.to).toBe(clock + 300);
  });

  it('names a corrupted line by its number and why, skips it and reads the rest', () => {
    const file = written();
    const text = readFileSync(file, 'utf8').split('\n');
    text[3] = text[3]!.slice(0, 30) + '#garbage#';
    text.splice(4, 0, '{"type":"batch","deltas":[]}', '[1,2]');
    writeFileSync(file, text.join('\n'));
    const scan = scanRecording(file);
    expect(scan.errors).toEqual([
      { line: 4, message: expect.stringMatching(/^not JSON \(/) },
      { line: 5, message: 'batch without a numeric now' },
      { line: 6, message: 'not a JSON object' },
    ]);
    expect(scan.errorCount).toBe(3);
    expect(scan.keyframes.map((k) => k.line)).toEqual([2]);
    const w = readFrames(file, scan.keyframes[0]!.offset, Infinity, 1 << 20);
    expect(w.text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { now: number }).now)).toEqual([clock, clock + 100, clock + 300]);
  });

  it('answers a bad frames request with 400 and what was wrong', () => {
    const r = recorder();
    const ask = (q: string) => {
      let got: [number, string] = [0, ''];
      answerRecording('/api/recording/frames', new URLSearchParams(q), r, (status, _t, body) => (got = [status, body]));
      return got;
    };
    expect(ask('at=abc')).toEqual([400, 'at must be a number from 0 to 9007199254740991, got "abc"\n']);
    expect(ask('')).toEqual([400, 'missing at (relay wall ms)\n']);
    expect(ask('at=5&back=-1')[0]).toBe(400);
    expect(ask('at=5')).toEqual([200, '']);
    expect(answerRecording('/api/other', new URLSearchParams(), r, () => {})).toBe(false);
    r.close();
  });
});
