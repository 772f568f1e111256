// The pure parts of the page around the model: the frame parser at the edge, the layout a
// test clicks on, and how a letter moves.
import { describe, expect, it } from 'vitest';
import { parseRelayFrame } from '../../game/src/page/wire.ts';
import { flightPoint, logWindow, villagerPositions, SQUARE } from '../../game/src/game/layout.ts';
import { letterProgress, letterTint, LETTER_TINTS } from '../../game/src/game/letterMotion.ts';
import { villageUrl } from '../../game/src/page/connection.ts';
import { termColour } from '../../game/src/game/palette.ts';
import type { Flight } from '../../game/src/model.ts';

describe('frames from the relay', () => {
  it('accepts snapshot, batch and reply frames', () => {
    expect(parseRelayFrame(JSON.stringify({ type: 'snapshot', now: 1, picture: { peers: [] } })).ok).toBe(true);
    const b = parseRelayFrame(JSON.stringify({ type: 'batch', now: 2, deltas: [{ type: 'kv', key: 'x', value: 1 }, 7, null] }));
    expect(b.ok && b.msg.type === 'batch' && b.msg.deltas).toEqual([{ type: 'kv', key: 'x', value: 1 }]);
    const r = parseRelayFrame(JSON.stringify({ type: 'reply', id: 'b1', ok: true, text: '100', value: 100 }));
    expect(r).toEqual({ ok: true, msg: { type: 'reply', id: 'b1', ok: true, text: '100', value: 100 } });
  });

  it('refuses anything else with a reason', () => {
    for (const [frame, reason] of [
      ['{oops', 'not JSON'],
      ['[1]', 'not a JSON object'],
      ['{"type":"snapshot","now":1}', 'snapshot without picture.peers'],
      ['{"type":"batch","deltas":[]}', 'batch without a numeric now'],
      ['{"type":"reply","ok":true}', 'reply without an id'],
      ['{"type":"hello"}', 'unknown message type "hello"'],
    ] as const) {
      expect(parseRelayFrame(frame)).toEqual({ ok: false, reason });
    }
    expect(parseRelayFrame(new ArrayBuffer(2))).toEqual({ ok: false, reason: 'not a text frame' });
  });
});

describe('layout', () => {
  it('villagers stand around the square, the first at the top, clockwise', () => {
    const ps = villagerPositions(4);
    expect(ps[0]).toEqual({ x: SQUARE.x, y: SQUARE.y - SQUARE.ry });
    expect(ps[1]).toEqual({ x: SQUARE.x + SQUARE.rx, y: SQUARE.y });
    for (const p of villagerPositions(9)) expect(((p.x - SQUARE.x) / SQUARE.rx) ** 2 + ((p.y - SQUARE.y) / SQUARE.ry) ** 2).toBeCloseTo(1, 1);
  });

  it('the log window starts at index 1 and then follows the newest entries', () => {
    expect(logWindow(0, 10)).toEqual({ first: 1, last: 10 });
    expect(logWindow(7, 10)).toEqual({ first: 1, last: 10 });
    expect(logWindow(25, 10)).toEqual({ first: 16, last: 25 });
  });

  it('a letter goes from sender to receiver along an arc', () => {
    const a = { x: 0, y: 0 };
    const b = { x: 100, y: 0 };
    expect(flightPoint(a, b, 0)).toEqual(a);
    expect(flightPoint(a, b, 1).x).toBeCloseTo(100);
    expect(flightPoint(a, b, 1).y).toBeCloseTo(0);
    expect(flightPoint(a, b, 0.5).y).not.toBeCloseTo(0);
  });

  it('term colours: grey before any term, distinct for neighbouring terms', () => {
    expect(termColour(0)).toBe(0x9e9e9e);
    expect(new Set([1, 2, 3, 4, 5, 6].map(termColour)).size).toBe(6);
  });

  it('the village socket is on the page host, with the token', () => {
    expect(villageUrl({ protocol: 'http:', host: '127.0.0.1:6100' }, 'a b')).toBe('ws://127.0.0.1:6100/village?token=a%20b');
    expect(villageUrl({ protocol: 'https:', host: 'x' }, null)).toBe('wss://x/village');
  });
});

describe('how a letter moves', () => {
  const flight = (over: Partial<Flight>): Flight => ({
    rid: 'a:1',
    from: 'a',
    to: 'b',
    rpc: 'append_entries',
    term: 1,
    heartbeat: false,
    entries: 1,
    preVote: false,
    ok: null,
    sentAt: 0,
    landedAt: null,
    vanishedAt: null,
    vanishReason: null,
    said: {},
    ...over,
  });

  it('flies while in the air but stops short of the receiver until the receive is heard', () => {
    expect(letterProgress(flight({}), 0, 1000)!.t).toBe(0);
    expect(letterProgress(flight({}), 500, 1000)!.t).toBeCloseTo(0.5);
    expect(letterProgress(flight({}), 5000, 1000)!.t).toBeLessThan(1);
  });

  it('after landing it finishes the trip and is gone', () => {
    const f = flight({ landedAt: 1000 });
    expect(letterProgress(f, 1001, 1000)!.t).toBeGreaterThan(0.85);
    expect(letterProgress(f, 3000, 1000)).toBeNull();
  });

  it('a dropped letter stays where it was and fades out', () => {
    const f = flight({ vanishedAt: 300, vanishReason: 'dropped' });
    const p = letterProgress(f, 400, 1000)!;
    expect(p.t).toBeCloseTo(0.3);
    expect(p.puff).toBe(true);
    expect(p.alpha).toBeLessThan(1);
    expect(letterProgress(f, 2000, 1000)).toBeNull();
  });

  it('a letter dropped before it left puffs out a little way toward its receiver', () => {
    const p = letterProgress(flight({ sentAt: 100, vanishedAt: 100, vanishReason: 'disconnected' }), 150, 1000)!;
    expect(p.puff).toBe(true);
    expect(p.t).toBeGreaterThan(0.1);
    expect(p.t).toBeLessThan(0.5);
  });

  it('draws every kind of letter in a colour of its own: a refused vote, a refused append and each success differ', () => {
    const kinds: Array<[Flight['rpc'], boolean | null]> = [
      ['request_vote', null],
      ['request_vote_reply', true],
      ['request_vote_reply', false],
      ['append_entries', null],
      ['append_entries_reply', true],
      ['append_entries_reply', false],
      ['timeout_now', null],
    ];
    const tints = kinds.map(([rpc, ok]) => letterTint({ rpc, ok }));
    expect(new Set(tints).size, tints.map((t) => t.toString(16)).join(' ')).toBe(kinds.length);
    // A refused append (the logs differ; the leader backs up) is not a refused vote.
    expect(letterTint({ rpc: 'append_entries_reply', ok: false })).not.toBe(letterTint({ rpc: 'request_vote_reply', ok: false }));
    // Every colour of the table is some letter's.
    expect(Object.values(LETTER_TINTS).sort((a, b) => a - b)).toEqual([...new Set(tints)].sort((a, b) => a - b));
  });
});
