// npm run chaos -- --check FILE: the verdict of a saved history in the exit status, with a
// readable counterexample; wrong arguments get the usage.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { loadHistory, saveHistory, type Operation } from './history.ts';
import { simulatedHistory } from './simulated-history.ts';
import { parseArgs } from './cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'chaos-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chaos(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, 'test/chaos/cli.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('npm run chaos -- --check', () => {
  const good = simulatedHistory({ seed: 11, operations: 400, clients: 5, unknownRate: 0.05 });

  it('saves and loads a history unchanged, unknown outcomes included', () => {
    const file = join(dir, 'roundtrip.jsonl');
    saveHistory(file, good);
    expect(loadHistory(file)).toEqual(good);
  });

  it('exits 0 and says LINEARIZABLE for a correct history', () => {
    const file = join(dir, 'good.jsonl');
    saveHistory(file, good);
    const r = chaos('--check', file);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Operations: 400 \(ok \d+, failed 0, unknown \d+\)/);
    expect(r.out).toMatch(/Linearizability: 1 keys, \d+ operations checked in [\d.]+ s: LINEARIZABLE/);
  });

  it('exits 1 and prints the counterexample for a history with a read of a value nobody wrote', () => {
    const bad: Operation[] = good.map((op) => ({ ...op }));
    const read = bad.find((op) => op.input.f === 'get' && op.outcome.type === 'ok' && op.id > 200)!;
    read.outcome = { type: 'ok', value: 987654 };
    const file = join(dir, 'bad.jsonl');
    saveHistory(file, bad);
    const r = chaos('--check', file);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/NOT LINEARIZABLE/);
    expect(r.out).toContain(`#${read.id} ${read.client}`);
    expect(r.out).toContain('get returned 987654, but the value');
  });

  it('explains wrong arguments with the usage and exits 2', () => {
    const r = chaos('--peers', '2');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/--peers must be from 3 to 9, got 2/);
    expect(r.out).toMatch(/usage: npm run chaos/);
    expect(chaos('--bogus').out).toMatch(/unknown argument "--bogus"/);
  });

  it('takes --netns (peers on hosts of their own, faults by the kernel) and names it in the usage', () => {
    expect(parseArgs(['--netns', '--peers', '5']).netns).toBe(true);
    expect(parseArgs([]).netns).toBe(false);
    expect(chaos('--help').out).toMatch(/--netns +each peer on a host of its own/);
  });
});
