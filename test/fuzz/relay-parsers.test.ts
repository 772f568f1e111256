// Random and mutated frames at the relay: the parsers never throw, the server never falls over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startRelay, type Relay } from '../../game/relay/server.ts';
import { parseBrowserMessage, parseLauncherReport, parsePeerEvent } from '../../game/relay/validate.ts';
import { parseConsoleLine } from '../../game/relay/console.ts';
import { createMonitor } from '../../game/relay/monitor/monitor.ts';
import { mutate } from './frames.ts';
import { browser, FakePeer, testConfig, until } from '../game/relay-support.ts';

const validEvents: unknown[] = [
  { peer: 'peer1', t: 1, type: 'hello', pid: 1, cluster: ['peer1', 'peer2'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 } },
  { peer: 'peer1', t: 1, type: 'state', role: 'leader', term: 2, vote: 'peer1', leader: 'peer1', commitIndex: 3, appliedIndex: 3, lastIndex: 4, lastTerm: 2, electionDeadline: null },
  { peer: 'peer1', t: 1, type: 'rpc_send', to: 'peer2', rid: 'peer1:1', rpc: 'append_entries', term: 2, heartbeat: false, entries: 2 },
  { peer: 'peer1', t: 1, type: 'log_append', entries: [{ index: 4, term: 2, label: 'x add 1' }] },
  { peer: 'peer1', t: 1, type: 'apply', entries: [{ index: 4, term: 2, command: ['x', 'add', '1'], ok: true, result: 1, key: 'x', value: 1 }] },
  { peer: 'peer1', t: 1, type: 'faults', blocked: ['peer2'], dropRate: 0.5, latencyMs: 10 },
  // With the fields the safety monitor reads.
  {
    peer: 'peer1', t: 1, type: 'hello', pid: 1, cluster: ['peer1', 'peer2'], profile: 'fast', timing: { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 },
    boot: 'b1', dataId: 'd1', recovered: { w: 3, term: 2, vote: 'peer1', commit: 1, commitPh: 11, lastIndex: 2, lastTerm: 2, lastPh: 22, base: { index: 1, term: 1, ph: 11 } }, seq: 0,
  },
  { peer: 'peer1', t: 1, type: 'log_append', entries: [{ index: 4, term: 2, label: 'x add 1', ph: 44 }], seq: 3 },
  { peer: 'peer1', t: 1, type: 'log_truncate', from: 4, term: 2, seq: 2 },
  { peer: 'peer1', t: 1, type: 'commit', index: 4, term: 2, ph: 44, seq: 5 },
  { peer: 'peer1', t: 1, type: 'apply', entries: [{ index: 4, term: 2, h: 12345, command: ['x', 'add', '1'], ok: true, result: 1, key: 'x', value: 1 }], seq: 6 },
  { peer: 'peer1', t: 1, type: 'persisted', w: 4, term: 2, vote: 'peer1', lastIndex: 4, lastTerm: 2, lastPh: 44, seq: 4 },
  { peer: 'peer1', t: 1, type: 'snapshot', reason: 'compacted', index: 3, term: 2, ph: 33, lastIndex: 4, seq: 7 },
  {
    peer: 'peer1', t: 1, type: 'resync', role: 'leader', term: 2, vote: 'peer1', leader: 'peer1', commit: 4, commitPh: 44, lastIndex: 4, lastTerm: 2, lastPh: 44,
    base: null, durable: { w: 4, term: 2, vote: 'peer1' }, tail: [{ index: 4, term: 2, label: 'x add 1', ph: 44 }], seq: 8,
  },
];

/** A valid event with one field replaced by something random. */
const mutated = fc
  .tuple(fc.constantFrom(...validEvents), fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }))
  .map(([e, key, value]) => {
    const o = { ...(e as Record<string, unknown>) };
    const keys = Object.keys(o);
    o[keys[key.length % keys.length]!] = value;
    if (key.length % 3 === 0) o[key] = value;
    return o;
  });

/** A valid event with every number in it (seq, terms, indexes, hashes, ...) replaced by an edge value. */
const renumbered = fc
  .tuple(fc.constantFrom(...validEvents), fc.array(fc.constantFrom(0, 1, 2, 3, 7, 1000, 2 ** 31, 2 ** 32 - 1, 2 ** 48, 2 ** 53 - 1), { minLength: 8, maxLength: 8 }))
  .map(([e, numbers]) => {
    let i = 0;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'number') return numbers[i++ % numbers.length];
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(e);
  });

describe('relay parsers under random input', () => {
  it('never throw, whatever the frame', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), mutated), (v) => {
        for (const parse of [parsePeerEvent, parseLauncherReport, parseBrowserMessage]) {
          const r = parse(v);
          expect(typeof r.ok).toBe('boolean');
          if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the safety monitor takes every event the parser accepts without throwing, whatever its numbers', () => {
    const m = createMonitor({ termWindow: 50, indexWindow: 200, logWindow: 50 });
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(renumbered, mutated, mutate(validEvents as Record<string, unknown>[])), (v) => {
        const r = parsePeerEvent(v);
        if (!r.ok) return;
        accepted++;
        for (const violation of m.observe(r.value, 1)) expect(violation.message.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(1000);
    expect(m.status().eventsSeen).toBe(accepted);
  });

  it('console parser answers every line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (line) => {
        const r = parseConsoleLine(line);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('relay server under random frames', () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay({
      config: testConfig({ peers: 3 }),
      port: 0,
      attacks: false,
      distDir: '/nonexistent',
      kvClient: () => ({ command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'bad_command', message: 'fuzz' }), leader: () => null, close() {} }),
      admin: async () => ({ type: 'error', error: 'bad_frame', message: 'fuzz' }),
      log: () => {},
    });
  });
  afterAll(() => relay.close());

  it('keeps serving after a storm of random frames on /peer and /village', async () => {
    const frames = fc.sample(fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.string({ maxLength: 200 }), mutated.map((v) => JSON.stringify(v))), 400);
    const p = new FakePeer(relay.port, 'peer1', ['peer1', 'peer2', 'peer3']);
    await p.hello();
    const b = browser(relay.port, { token: relay.token });
    await b.opened;
    for (const f of frames) {
      p.rec.send(f);
      b.send(f);
    }
    // Both connections survive (no close) and the relay still answers.
    await until(() => b.messages.filter((m) => m.type === 'reply').length >= 100, 'replies to the storm', 10_000);
    p.state({ role: 'follower', term: 77 });
    await until(() => relay.picture.peer('peer1')?.term === 77, 'a good event after the storm', 10_000);
    b.send({ type: 'console', line: 'help', id: 'after' });
    await b.next((m) => m.type === 'reply' && m.id === 'after');
    expect(p.rec.closeCode).toBeNull();
    expect(b.closeCode).toBeNull();
    expect(process.memoryUsage().heapUsed).toBeLessThan(512 * 1024 * 1024);
    p.close();
    b.close();
  });
});
