// Spawned peers run from the plain JavaScript bundle (.build/peer.mjs), a bare node process
// without tsx's loader thread; the bundle is rebuilt when a source is newer, several builds at
// once leave a whole bundle, stack traces name the .ts files, and a failed build falls back to
// the tsx loader with one line on stderr.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildBundle, ensureBundle, PEER_BUNDLE, type BundleSpec } from '../../peer/bundle.ts';
import { PEER_MAIN, peerArgs, peerCommand, REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';

// Real processes and builds on a shared 2-core machine: generous limits.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const tmp = mkdtempSync(join(tmpdir(), 'raft-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the peer's sources in a temporary directory, with node_modules linked in. */
function copyOfPeer(name: string): BundleSpec {
  const root = join(tmp, name);
  mkdirSync(root);
  for (const d of ['peer', 'shared']) cpSync(join(REPO_ROOT, d), join(root, d), { recursive: true });
  cpSync(join(REPO_ROOT, 'tsconfig.json'), join(root, 'tsconfig.json'));
  cpSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  return {
    root,
    entry: join(root, 'peer', 'main.ts'),
    outfile: join(root, '.build', 'peer.mjs'),
    sources: [join(root, 'peer'), join(root, 'shared'), join(root, 'tsconfig.json')],
  };
}

function setMtime(path: string, ms: number): void {
  utimesSync(path, new Date(ms), new Date(ms));
}

describe('a spawned peer', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ peers: 1 });
  });
  afterAll(async () => {
    await c?.teardown();
  });

  it('runs from the bundle in a bare node process, without the tsx loader', async () => {
    await c.waitForLeader();
    const argv = readFileSync(`/proc/${c.pid('peer1')}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain(PEER_BUNDLE.outfile);
    expect(argv).toContain('--enable-source-maps');
    expect(argv.join(' ')).not.toMatch(/tsx|--import|--loader/);
    const r = await c.write(['x', 'add', 5]);
    expect(r).toMatchObject({ ok: true });
  });

  it('is started with node arguments ending in the bundle, the peer arguments after it', () => {
    expect(peerCommand()).toEqual(['--enable-source-maps', PEER_BUNDLE.outfile]);
    expect(peerArgs({ name: 'peer2', count: 3, config: 'x.ini', profile: 'fast' })).toEqual(['--enable-source-maps', PEER_BUNDLE.outfile, 'peer2', '3', '--config', 'x.ini', '--profile', 'fast']);
  });

  it('runs under the tsx loader when its environment has RAFT_PEER_TSX=1', () => {
    const args = peerArgs({ name: 'peer2', count: 3, config: 'x.ini', env: { RAFT_PEER_TSX: '1' } });
    expect(args).toEqual(['--import', tsxLoader(), PEER_MAIN, 'peer2', '3', '--config', 'x.ini']);
    expect(peerArgs({ name: 'peer2', count: 3, config: 'x.ini', env: { RAFT_PEER_TSX: '0' } })[1]).toBe(PEER_BUNDLE.outfile);
  });
});

describe('the peer bundle', () => {
  it('is built when missing, kept while fresh, and rebuilt when a source is newer', () => {
    const spec = copyOfPeer('stale');
    const first = ensureBundle(spec);
    expect(first).toMatchObject({ ok: true, built: true });
    expect(ensureBundle(spec)).toMatchObject({ ok: true, built: false });

    const main = join(spec.root, 'peer', 'main.ts');
    writeFileSync(main, readFileSync(main, 'utf8').replace('usage: npm run peer --', 'usage: npm run peer (edited) --'));
    // Newer than the bundle whatever the clock's granularity.
    setMtime(main, statSync(spec.outfile).mtimeMs + 2000);
    expect(ensureBundle(spec)).toMatchObject({ ok: true, built: true });
    expect(readFileSync(spec.outfile, 'utf8')).toContain('usage: npm run peer (edited) --');

    // The rebuilt bundle runs (ws and ini come from node_modules).
    const help = spawnSync(process.execPath, ['--enable-source-maps', spec.outfile, '--help'], { cwd: spec.root, encoding: 'utf8', timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stderr + help.stdout).toContain('usage: npm run peer (edited) --');

    // A new file in a source directory (say, a deleted or renamed one) also counts.
    expect(ensureBundle(spec)).toMatchObject({ built: false });
    const dir = join(spec.root, 'shared');
    writeFileSync(join(dir, 'extra.ts'), 'export {};\n');
    setMtime(dir, statSync(spec.outfile).mtimeMs + 4000);
    expect(ensureBundle(spec)).toMatchObject({ ok: true, built: true });
  });

  it('comes out whole when several processes build it at once', async () => {
    const spec = copyOfPeer('concurrent');
    // What a build killed midway leaves behind is cleared by the next build.
    mkdirSync(join(spec.root, '.build'));
    const leftover = join(spec.root, '.build', 'peer.mjs.12345-abcdef.tmp');
    writeFileSync(leftover, 'partial');
    setMtime(leftover, Date.now() - 120_000);
    const code = `import { buildBundle } from ${JSON.stringify(join(REPO_ROOT, 'peer', 'bundle.ts'))};
const r = buildBundle(${JSON.stringify(spec)});
if (!r.ok) { console.error(r.error); process.exit(1); }`;
    const runs = Array.from({ length: 4 }, () =>
      new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, ['--import', tsxLoader(), '--input-type=module', '-e', code], { cwd: REPO_ROOT, stdio: 'inherit' });
        p.on('exit', (status) => resolve(status));
      }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0]);
    expect(readdirSync(join(spec.root, '.build')).sort()).toEqual(['peer.mjs', 'peer.mjs.map']);
    const check = spawnSync(process.execPath, ['--check', spec.outfile], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(readFileSync(spec.outfile, 'utf8')).toMatch(/\/\/# sourceMappingURL=peer\.mjs\.map\s*$/);
  });

  it('maps stack traces back to the TypeScript files', () => {
    const root = join(tmp, 'maps');
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(join(root, 'src', 'main.ts'), "import { fail } from './fails.ts';\nfail('boom');\n");
    writeFileSync(join(root, 'src', 'fails.ts'), 'export function fail(why: string): never {\n  const n: number = 1;\n  throw new Error(`${why} ${n}`);\n}\n');
    const spec: BundleSpec = { root, entry: join(root, 'src', 'main.ts'), outfile: join(root, 'out', 'm.mjs'), sources: [join(root, 'src')] };
    expect(buildBundle(spec)).toMatchObject({ ok: true });
    const run = spawnSync(process.execPath, ['--enable-source-maps', spec.outfile], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/fails\.ts:3/);
  });

  it('falls back to the tsx loader, saying so once, when the build fails', () => {
    const spec = copyOfPeer('broken');
    writeFileSync(join(spec.root, 'shared', 'config.ts'), 'export const = ;\n');
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const cmd = peerCommand(spec);
      expect(cmd).toEqual(['--import', tsxLoader(), join(REPO_ROOT, 'peer', 'main.ts')]);
      expect(peerCommand(spec)).toEqual(cmd);
    } finally {
      spy.mockRestore();
    }
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^peer bundle: build failed \(.*config\.ts:1:\d+: .*\); running peers with the tsx loader instead\n$/);
    expect(existsSync(spec.outfile)).toBe(false);
  });
});
