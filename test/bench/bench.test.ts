// The bench's quick mode runs end to end: every workload in miniature (the snapshot ones too), on our cluster (and on
// etcd when it is installed), printing the side-by-side table and writing JSON and markdown.
// It asserts nothing about speed: this machine is shared, and figures only count as ratios
// measured in one full run (`npm run bench`).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'bench-test-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', tsx, CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c));
    p.stderr.on('data', (c: Buffer) => (stderr += c));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench -- --quick', () => {
  it('runs every workload in miniature and prints and writes the side-by-side table', async () => {
    const r = await runBench(['--quick', '--out', out]);
    expect(r.stderr, r.stdout).not.toMatch(/^bench: /m);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Progress lines while it ran, then the table.
    expect(r.stdout).toMatch(/\[bench +\d+s\] rep 1\/1/);
    expect(r.stdout).toMatch(/^figure\s+unit\s+ours\s+etcd\s+ours\/etcd\s+target\s+met$/m);
    expect(r.stdout).toMatch(/^floor \(this machine\)\s+unit\s+median \[min-max\]$/m);
    for (const label of ['write+fsync p50', 'loopback WebSocket round trip p50', 'W1 1 client: throughput', 'W1 8 clients: latency p99', 'W2 failover: unavailability median', 'RSS of the largest member', 'W3 event delay p99', 'W3 highest event rate the relay sustains', 'W4 village idle / empty scene', 'W4 village under load / empty scene', 'Long run: RSS of the largest member after 20,000 commands', 'Long run: a member restarted, process start to serving a linearizable read', 'InstallSnapshot (2 MiB state): join to the new member caught up', 'W1 64 clients, snapshots on / off: throughput (paired)']) {
      expect(r.stdout).toContain(label);
    }
    // The snapshot workloads say how many commands they used and that a snapshot was installed.
    expect(r.stdout).toMatch(/long run: 20,000 commands in /);
    expect(r.stdout).toMatch(/peer4 said: installed a snapshot from peer\d at index \d+/);
    // When etcd is missing the bench says how to install it and still runs our side.
    if (!/etcd is not installed/.test(r.stdout)) expect(r.stdout).toMatch(/etcd W1 1 client: [\d,]+ ops\/s/);
    else expect(r.stdout).toContain('apt-get install -y etcd-server');

    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    expect(json.summary.length).toBeGreaterThan(5);
    const w1 = json.summary.find((row: { key: string }) => row.key === 'w1.1.ops');
    expect(w1.ours.n).toBe(1);
    expect(w1.ours.median).toBeGreaterThan(0);
    expect(json.runs.every((run: { busy: unknown }) => run.busy === null || typeof run.busy === 'object')).toBe(true);
    expect(existsSync(join(out, 'latest.md'))).toBe(true);
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('| Figure | Unit | ours | etcd | ours/etcd | Target | Met |');
  }, 420_000);

  it('refuses an unknown option with the usage', async () => {
    const r = await runBench(['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --bogus');
    expect(r.stderr).toContain('usage: npm run bench');
  }, 60_000);
});
