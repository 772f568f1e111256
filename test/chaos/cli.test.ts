// npm run chaos -- --check FILE: the verdict of a saved history in the exit status, with a
// readable counterexample; wrong arguments get the usage.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { checkHistory } from './checker.ts';
import { exitCode, monitorLines } from './cli.ts';
import { loadHistory, saveHistory, type Operation } from './history.ts';
import type { MonitorReport } from './monitor-sink.ts';
import { simulatedHistory } from './simulated-history.ts';
import { parseArgs } from './cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'chaos-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chaos(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', tsxLoader(), join(REPO_ROOT, 'test/chaos/cli.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the safety monitor in the chaos report', () => {
  const clean: MonitorReport = { eventsSeen: 5000, eventsChecked: 4100, violationCount: 0, violations: [], blind: [], blindPeriods: 0, peers: ['peer2', 'peer1'], refused: 0, reasons: [] };
  const broken: MonitorReport = {
    ...clean,
    violationCount: 1,
    violations: [
      {
        law: 'election_safety',
        statement: 'At most one leader can be elected in a given term.',
        message: 'peer1 and peer2 were both leaders in term 3.',
        peers: ['peer1', 'peer2'],
        indexes: [],
        terms: [3],
        evidence: [
          { peer: 'peer1', seq: 40, boot: 'a', type: 'state', t: 1, said: 'state: leader of term 3' },
          { peer: 'peer2', seq: 77, boot: 'b', type: 'rpc_send', t: 2, said: 'sent append_entries peer2:9 of term 3 to peer3' },
        ],
        at: 3,
        file: '/tmp/run/logs/violation-x-election_safety-1.json',
      },
    ],
  };
  const good = checkHistory(simulatedHistory({ seed: 3, operations: 50, clients: 2, unknownRate: 0 }));

  it('says how many events were checked and that no law was broken', () => {
    expect(monitorLines(clean)).toEqual(['Safety monitor: 4100 of 5000 events from peer1, peer2 checked: no law broken']);
    expect(exitCode(good, true, clean)).toBe(0);
  });

  it('names a broken law with its evidence, and the run exits 1 even when the history is linearizable', () => {
    expect(good.verdict).toBe('linearizable');
    expect(monitorLines(broken)).toEqual([
      'Safety monitor: 4100 of 5000 events from peer1, peer2 checked: LAW BROKEN (1): Election Safety',
      '  Election Safety: peer1 and peer2 were both leaders in term 3.',
      '    peer1, event 40 (state): state: leader of term 3',
      '    peer2, event 77 (rpc_send): sent append_entries peer2:9 of term 3 to peer3',
      '    evidence: /tmp/run/logs/violation-x-election_safety-1.json',
    ]);
    expect(exitCode(good, true, broken)).toBe(1);
  });

  it('says plainly when the peers send none of the fields the monitor reads, and lists other blind periods', () => {
    const legacy = (peer: string) => ({ peer, sinceSeq: 0, reason: 'its events carry no seq, so missing events cannot be told', numbered: false, from: 10, to: null });
    expect(monitorLines({ ...clean, blind: [legacy('peer1'), legacy('peer2')], blindPeriods: 2 })[1]).toMatch(/^ {2}blind for every peer, all along: their events carry no seq/);
    const lost = { peer: 'peer2', sinceSeq: 812, reason: 'the reporter dropped 40 events', numbered: true, from: 12_300, to: 12_900 };
    expect(monitorLines({ ...clean, blind: [lost, { ...lost, sinceSeq: 900, from: 20_000, to: null }], blindPeriods: 2 }).slice(1)).toEqual([
      '  blind for peer2 from its event 812, 12.3 s to 12.9 s after the peers started: the reporter dropped 40 events',
      '  blind for peer2 from its event 900, 20.0 s to the end after the peers started: the reporter dropped 40 events',
    ]);
    expect(monitorLines({ ...clean, eventsSeen: 0, eventsChecked: 0, peers: [] })).toEqual(['Safety monitor: no event arrived from the peers, so no law was checked']);
  });
});

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
