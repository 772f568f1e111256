// npm run peer: wrong arguments, a broken config, a taken port, damaged storage and a damaged data
// id each stop the peer at once with a message that says what is wrong, and a non-zero exit.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { peerCommand, REPO_ROOT } from '../../peer/spawn.ts';
import { DATA_ID_FILE, DurableLog } from '../../peer/storage.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let c: TestCluster;

beforeAll(async () => {
  c = await startCluster({ peers: 3, start: false });
});

afterAll(async () => {
  await c?.teardown();
});

function runPeer(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // node's arguments up to the peer's main module (the bundle, or the tsx loader and main.ts).
    const base = peerCommand();
    const p = spawn(process.execPath, [...base, ...args], { cwd: REPO_ROOT });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`the peer did not exit: ${out}`));
    }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

describe('npm run peer', () => {
  it('prints a usage naming the valid peers for wrong arguments', async () => {
    const none = await runPeer(['--config', c.ini]);
    expect(none.code).toBe(2);
    expect(none.out).toMatch(/usage: npm run peer -- NAME N/);
    expect(none.out).toMatch(/peers in .*: peer1, peer2, peer3/);

    const stranger = await runPeer(['peer7', '3', '--config', c.ini]);
    expect(stranger.code).toBe(2);
    expect(stranger.out).toMatch(/peer7 is not one of the 3 peers .*names there: peer1, peer2, peer3/);

    const outside = await runPeer(['peer3', '2', '--config', c.ini]);
    expect(outside.code).toBe(2);
    expect(outside.out).toMatch(/peer3 is not one of the 2 peers/);

    const flag = await runPeer(['peer1', '3', '--frobnicate', '--config', c.ini]);
    expect(flag.code).toBe(2);
    expect(flag.out).toMatch(/unknown option --frobnicate/);

    const profile = await runPeer(['peer1', '3', '--profile', 'warp', '--config', c.ini]);
    expect(profile.code).toBe(2);
    expect(profile.out).toMatch(/no \[profile.warp\]; profiles there: fast, slow/);
  });

  it('reports a config file it cannot use, naming the file and the key', async () => {
    const missing = await runPeer(['peer1', '3', '--config', join(c.dir, 'nope.ini')]);
    expect(missing.code).toBe(3);
    expect(missing.out).toMatch(/nope\.ini: cannot read the config file/);

    const broken = join(c.dir, 'broken.ini');
    writeFileSync(broken, readFileSync(c.ini, 'utf8').replace(/heartbeat_ms = 50/, 'heartbeat_ms = soon'));
    const bad = await runPeer(['peer1', '3', '--config', broken]);
    expect(bad.code).toBe(3);
    expect(bad.out).toMatch(/\[profile\.fast\] heartbeat_ms: expected a whole number, got "soon"/);
  });

  it('says so when its port is taken', async () => {
    const p = c.peer('peer1');
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(p.port, p.host, () => r()));
    try {
      const r = await runPeer(['peer1', '3', '--config', c.ini]);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(new RegExp(`port ${p.port} is already in use \\(is peer1 already running\\?\\)`));
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('refuses to start on storage damaged in the middle, with a clear message', async () => {
    c.startAll();
    await c.waitForLeader();
    for (let i = 0; i < 5; i++) expect((await c.write(['d', 'add', 1])).ok).toBe(true);
    await c.stopAll('SIGTERM');
    const wal = join(c.config.dataDir, 'peer2', 'raft.wal');
    const bytes = readFileSync(wal);
    bytes[20] = bytes[20]! ^ 0xff; // inside the first record; many records follow
    writeFileSync(wal, bytes);
    const r = await runPeer(['peer2', '3', '--config', c.ini, '--profile', 'fast']);
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/peer2: the durable state is damaged/);
    expect(r.out).toMatch(/will not start/);
  });

  it('refuses to start on a damaged data id, saying which file and what to do, and changes nothing', async () => {
    const dir = join(c.config.dataDir, 'peer3');
    await c.kill('peer3');
    // A directory with a log and an id, as a peer leaves it.
    const opened = DurableLog.open(dir);
    await opened.log.save({ term: 2, vote: 'peer1', commit: 0 }, [{ index: 1, term: 2, data: null }]);
    await opened.log.close();
    const idFile = join(dir, DATA_ID_FILE);
    writeFileSync(idFile, 'not an id\n');
    const wal = readFileSync(join(dir, 'raft.wal'));
    const r = await runPeer(['peer3', '3', '--config', c.ini, '--profile', 'fast']);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`peer3: ${idFile} is damaged`);
    expect(r.out).toMatch(/Restore the file from a backup; or, .* delete .*DATA_ID and the peer will create a new id/);
    expect(readFileSync(idFile, 'utf8')).toBe('not an id\n');
    expect(readFileSync(join(dir, 'raft.wal')).equals(wal)).toBe(true);
  });
});
