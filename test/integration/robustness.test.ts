// Bad input against real peers: unknown paths, malformed frames, missing secrets, oversized
// frames, connection floods. Every one is refused with a clear reason and the cluster keeps working.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { PEER_HEADER, SECRET_HEADER } from '../../shared/peer-protocol.ts';
import { sendFrame, startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let c: TestCluster;
const MAX_FRAME = 65536; // the harness's [limits] max_frame_bytes

beforeAll(async () => {
  c = await startCluster({ peers: 3 });
  await c.waitForLeader();
});

afterAll(async () => {
  await c?.teardown();
});

function refusal(promise: Promise<unknown>): Promise<{ status: number; body: string }> {
  return promise.then(
    (v) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(v)}`);
    },
    (e: { status?: number; body?: string; message: string }) => {
      if (e.status === undefined) throw e;
      return { status: e.status, body: e.body ?? '' };
    },
  );
}

/** Opens a socket and resolves with the close code the peer ends it with. */
function closeCode(url: string, frames: (string | Buffer)[], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const t = setTimeout(() => reject(new Error('the peer did not close the connection')), 5000);
    ws.on('open', () => frames.forEach((f) => ws.send(f)));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

async function stillServes(): Promise<void> {
  const r = await c.write(['alive', 'add', 1]);
  expect(r.ok).toBe(true);
}

describe('a peer under bad input', () => {
  it('answers an unknown path with 404 naming the real endpoints, over HTTP and WebSocket', async () => {
    const p = c.peer('peer1');
    const ws = await refusal(sendFrame(p, '/nope', '{}'));
    expect(ws.status).toBe(404);
    expect(ws.body).toMatch(/no such path \/nope.*\/raft, \/client, \/admin/);
    const http = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: p.host, port: p.port, path: '/favicon.ico' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(http.status).toBe(404);
    expect(http.body).toMatch(/no such path/);
  });

  it('answers malformed client frames with bad_frame errors and changes nothing', async () => {
    const p = c.peer('peer1');
    const cases: Array<[string | Buffer, RegExp]> = [
      ['not json at all', /not valid JSON/],
      ['[1,2,3]', /expected a JSON object/],
      ['{"type":"request_command","command":["x","get"]}', /missing "id"/],
      ['{"type":"hello","id":"h1"}', /request_command/],
      ['{"type":"request_command","id":"r1","command":"x add 1"}', /must be a list/],
      ['{"type":"request_command","id":"r2","command":["x","add","1"],"client":"c"}', /go together/],
      [Buffer.from([1, 2, 3]), /binary/],
    ];
    for (const [frame, message] of cases) {
      const reply = (await sendFrame(p, '/client', frame)) as { type: string; error: string; message: string };
      expect(reply).toMatchObject({ type: 'error', error: 'bad_frame' });
      expect(reply.message).toMatch(message);
    }
    // A readable id comes back with the error, so a client can match it.
    expect(await sendFrame(p, '/client', '{"type":"request_command","id":"r9"}')).toMatchObject({ type: 'error', id: 'r9' });
    await stillServes();
  });

  it('answers malformed admin frames with bad_frame errors', async () => {
    const p = c.peer('peer2');
    const headers = { [SECRET_HEADER]: c.config.secret };
    const cases: Array<[string, RegExp]> = [
      ['{{', /not JSON/],
      ['{"type":"explode"}', /faults, campaign, status/],
      ['{"type":"faults","blocked":["peer99"]}', /peer99 not in the cluster/],
      ['{"type":"faults","dropRate":7}', /dropRate/],
      ['{"type":"faults","latencyMs":-1}', /latencyMs/],
    ];
    for (const [frame, message] of cases) {
      const reply = (await sendFrame(p, '/admin', frame, 5000, headers)) as { type: string; message: string };
      expect(reply).toMatchObject({ type: 'error', error: 'bad_frame' });
      expect(reply.message).toMatch(message);
    }
    expect((await c.status('peer2')).faults).toEqual({ blocked: [], dropRate: 0, latencyMs: 0 });
  });

  it('refuses peer and admin connections without the right secret', async () => {
    const p = c.peer('peer1');
    const none = await refusal(sendFrame(p, '/raft', '{}'));
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/x-raft-peer and x-raft-secret/);
    const wrong = await refusal(sendFrame(p, '/raft', '{}', 5000, { [PEER_HEADER]: 'peer2', [SECRET_HEADER]: 'guess' }));
    expect(wrong).toEqual({ status: 403, body: 'wrong cluster secret' });
    const stranger = await refusal(sendFrame(p, '/raft', '{}', 5000, { [PEER_HEADER]: 'mallory', [SECRET_HEADER]: c.config.secret }));
    expect(stranger.status).toBe(403);
    expect(stranger.body).toMatch(/mallory is not another member/);
    const admin = await refusal(sendFrame(p, '/admin', '{"type":"status"}'));
    expect(admin.status).toBe(401);
    const adminWrong = await refusal(sendFrame(p, '/admin', '{"type":"status"}', 5000, { [SECRET_HEADER]: 'guess' }));
    expect(adminWrong.status).toBe(403);
  });

  it('drops and logs invalid RPC frames from an authenticated peer, and keeps its term', async () => {
    const leader = await c.waitForLeader();
    const target = c.names.find((n) => n !== leader)!;
    const impostor = c.names.find((n) => n !== leader && n !== target)!;
    const before = await c.status(target);
    const p = c.peer(target);
    const frames = [
      'garbage',
      '{"type":"append_entries","rid":"x:1","from":"' + impostor + '","to":"' + target + '","term":"high"}',
      '{"type":"request_vote","rid":"x:2","from":"' + leader + '","to":"' + target + '","term":99999,"lastLogIndex":0,"lastLogTerm":0,"preVote":false}',
      '[]',
    ];
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`ws://${p.host}:${p.port}/raft`, { headers: { [PEER_HEADER]: impostor, [SECRET_HEADER]: c.config.secret } });
      ws.on('open', () => {
        frames.forEach((f) => ws.send(f));
        setTimeout(() => {
          ws.close();
          resolve();
        }, 200);
      });
      ws.on('error', reject);
    });
    const log = await waitFor('the invalid frames in the log', () => {
      const text = readFileSync(join(c.config.logDir, `${target}.log`), 'utf8');
      return (text.match(/dropped an invalid frame from/g) ?? []).length >= 4 ? text : undefined;
    });
    expect(log).toMatch(/arrived on .*'s connection/); // the forged "from" was not believed
    const after = await c.status(target);
    expect(after.term).toBe(before.term);
    await stillServes();
  });

  it('refuses oversized frames on every endpoint and keeps working', async () => {
    const p = c.peer('peer1');
    const big = JSON.stringify({ type: 'request_command', id: 'big', command: ['k', 'set', 'x'.repeat(MAX_FRAME)] });
    expect(await closeCode(`ws://${p.host}:${p.port}/client`, [big])).toBe(1009);
    expect(await closeCode(`ws://${p.host}:${p.port}/admin`, ['x'.repeat(MAX_FRAME + 1)], { [SECRET_HEADER]: c.config.secret })).toBe(1009);
    expect(
      await closeCode(`ws://${p.host}:${p.port}/raft`, ['x'.repeat(MAX_FRAME + 1)], { [PEER_HEADER]: 'peer3', [SECRET_HEADER]: c.config.secret }),
    ).toBe(1009);
    await stillServes();
  });

  it('replicates a large value, and refuses a command too large to travel in an AppendEntries frame', async () => {
    const big = 'v'.repeat(12_000);
    expect(await c.write(['big', 'set', big])).toMatchObject({ ok: true, value: big });
    const quotes = '"'.repeat(20_000); // fits in a client frame, but doubles twice on its way into the log
    const r = await c.write(['big', 'set', quotes]);
    expect(r).toMatchObject({ ok: false, error: 'bad_command' });
    expect((r as { message: string }).message).toMatch(/too large/);
    await waitFor('every peer to have the large value', async () => (await c.statuses(c.names, true)).every((s) => s.kv?.big === big));
  });

  it('refuses connections beyond the per-endpoint limit', async () => {
    const p = c.peer('peer3');
    const sockets: WebSocket[] = [];
    try {
      const refused = await new Promise<number>((resolve, reject) => {
        const open = () => {
          const ws = new WebSocket(`ws://${p.host}:${p.port}/admin`, { headers: { [SECRET_HEADER]: c.config.secret } });
          sockets.push(ws);
          ws.on('open', open);
          ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
          ws.on('error', (e) => reject(e));
        };
        open();
      });
      expect(refused).toBe(503);
      expect(sockets.length).toBeGreaterThan(1);
    } finally {
      sockets.forEach((s) => s.terminate());
    }
    await waitFor('admin to accept connections again', () => c.status('peer3').then(() => true));
  });
});
