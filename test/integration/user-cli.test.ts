import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeResult, parseArgs, parseLine, timeoutsFor } from '../../peer/user.ts';
import { ClusterClient } from '../../shared/client.ts';
import type { CommandResult } from '../../shared/client-protocol.ts';
import { REPO_ROOT, tsxLoader } from '../../peer/spawn.ts';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

const USER_MAIN = fileURLToPath(new URL('../../peer/user.ts', import.meta.url));

describe('reading typed lines', () => {
  it('takes key-first, operation-first and list forms of the same command', () => {
    const cases: [string, unknown[]][] = [
      ['x add 100', ['x', 'add', 100]],
      ['add x 100', ['x', 'add', 100]],
      ['  x ADD 100 ', ['x', 'add', 100]],
      ["['x', 'add', '100']", ['x', 'add', '100']],
      ['["x","add","100"]', ['x', 'add', '100']],
      ['[x, add, 100]', ['x', 'add', 100]],
    ];
    for (const [line, command] of cases) expect(parseLine(line), line).toEqual({ kind: 'command', command });
    expect(parseLine('get x')).toEqual({ kind: 'command', command: ['x', 'get'] });
    expect(parseLine('set y "two words"')).toEqual({ kind: 'command', command: ['y', 'set', 'two words'] });
    expect(parseLine("cas z null 'a b'")).toEqual({ kind: 'command', command: ['z', 'cas', null, 'a b'] });
    expect(parseLine("['z', 'cas', None, 1]")).toEqual({ kind: 'command', command: ['z', 'cas', null, 1] });
  });

  it('knows help, exit and leader', () => {
    expect(parseLine('help').kind).toBe('help');
    expect(parseLine('?').kind).toBe('help');
    expect(parseLine('exit').kind).toBe('exit');
    expect(parseLine('quit').kind).toBe('exit');
    expect(parseLine('leader').kind).toBe('leader');
    expect(parseLine('   ').kind).toBe('empty');
  });

  it('explains what is wrong with a line before sending anything', () => {
    const err = (line: string) => {
      const a = parseLine(line);
      if (a.kind !== 'error') throw new Error(`expected an error for ${line}`);
      return a.message;
    };
    expect(err('x mul 2')).toMatch(/unknown operation "mul".*operations: set, add, get, del, cas/);
    expect(err('x add')).toMatch(/add takes 1 argument/);
    expect(err('x add ten')).toMatch(/add needs a number/);
    expect(err('get')).toBe('get needs a key, e.g. "get x"');
    expect(err('bogus')).toMatch(/cannot read "bogus" as a command/);
    expect(err("['x', 'add'")).toMatch(/cannot read the list/);
    expect(err('set y "open')).toMatch(/unterminated double quote/);
  });
});

describe('showing results', () => {
  const ok = (value: unknown): CommandResult => ({ type: 'command_result', id: 'r', ok: true, value, index: 12, term: 3 });
  it('says what happened to the key, with index, term and peer', () => {
    expect(describeResult(['x', 'add', '100'], ok(105), 'peer2')).toEqual({ ok: true, text: 'x = 105  [index 12, term 3, peer2]' });
    expect(describeResult(['x', 'get'], ok(null), null).text).toBe('x is not set  [index 12, term 3]');
    expect(describeResult(['x', 'get'], ok('hi'), null).text).toMatch(/^x = "hi"/);
    expect(describeResult(['x', 'del'], ok(7), null).text).toMatch(/^deleted x \(was 7\)/);
    expect(describeResult(['x', 'del'], ok(null), null).text).toMatch(/^x was not set/);
    expect(describeResult(['x', 'cas', '1', '2'], ok(true), null).text).toMatch(/^x = 2 \(swapped\)/);
    expect(describeResult(['x', 'cas', null, '2'], ok(false), null).text).toMatch(/^x unchanged: it was not unset/);
  });

  it('says what each failure means', () => {
    const r = (x: object) => describeResult(['x', 'get'], { type: 'command_result', id: 'r', ok: false, ...x } as CommandResult, null);
    expect(r({ error: 'bad_command', message: 'nope' })).toEqual({ ok: false, text: 'error: bad command: nope' });
    expect(r({ error: 'unknown' }).text).toMatch(/^outcome unknown: .* may or may not have taken effect/);
    expect(r({ error: 'not_leader', leader: null, message: 'no leader found' }).text).toMatch(/^error: no leader answered: no leader found.*npm run cluster/);
  });
});

describe('arguments', () => {
  it('reads N, options and command words', () => {
    expect(parseArgs(['3'])).toEqual({ count: 3, words: [], json: false, profile: undefined, timeoutS: undefined });
    expect(parseArgs(['3', '--config', 'f.ini', '--profile', 'fast', '--json', 'x', 'add', '-5'])).toEqual({
      count: 3,
      words: ['x', 'add', '-5'],
      json: true,
      profile: 'fast',
      timeoutS: undefined,
    });
    expect(parseArgs(['3', '--timeout', '2.5'])).toMatchObject({ timeoutS: 2.5 });
    expect(parseArgs([])).toMatch(/how many peers/);
    expect(parseArgs(['three'])).toMatch(/N must be a whole number/);
    expect(parseArgs(['3', '--bogus'])).toBe('unknown option --bogus');
    expect(parseArgs(['3', '--timeout', 'soon'])).toMatch(/--timeout needs a number/);
  });

  it('waits long enough for an election in slow motion', () => {
    expect(timeoutsFor({ heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 })).toEqual({ timeoutMs: 5000, attemptTimeoutMs: 1000 });
    const slow = timeoutsFor({ heartbeatMs: 1500, electionMinMs: 4500, electionMaxMs: 7500, latencyMs: 500 });
    expect(slow.timeoutMs).toBeGreaterThan(7500 + 2 * 500);
    expect(timeoutsFor({ heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 }, 2)).toEqual({ timeoutMs: 2000, attemptTimeoutMs: 1000 });
  });
});

// ---- against a real cluster of peer processes ----

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function userProcess(cluster: TestCluster, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader(), USER_MAIN, ...args, '--config', cluster.ini, '--profile', 'fast'], {
    cwd: REPO_ROOT,
    env: { ...process.env, RAFT_USER_HISTORY: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function runUser(cluster: TestCluster, args: string[]): Promise<Run> {
  const p = userProcess(cluster, args);
  p.stdin!.end();
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('npm run user against a real 3-peer cluster', () => {
  let cluster: TestCluster;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ peers: 3 });
    await cluster.waitForLeader();
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await cluster?.teardown();
  });

  it('runs one command from its arguments, in every spelling, and exits 0', async () => {
    const a = await runUser(cluster, ['3', 'x', 'add', '100']);
    expect(a).toMatchObject({ code: 0, stderr: '' });
    expect(a.stdout).toMatch(/^x = 100 {2}\[index \d+, term \d+, peer\d\]\n$/);
    const b = await runUser(cluster, ['3', "['x', 'add', '100']"]);
    expect(b.stdout).toMatch(/^x = 200 /);
    const c = await runUser(cluster, ['3', '--json', 'get', 'x']);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ type: 'command_result', ok: true, value: 200 });
  });

  it('exits 1 with the reason when the cluster refuses a command, and 2 with usage for wrong arguments', async () => {
    const bad = await runUser(cluster, ['3', 'x', 'add', 'ten']);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(/bad command: add needs a number to add, got "ten"/);
    const s = await runUser(cluster, ['3', 's', 'set', 'word']);
    expect(s.code).toBe(0);
    const refused = await runUser(cluster, ['3', 's', 'add', '1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot add to s: it holds a string/);
    const usage = await runUser(cluster, ['7']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/lists 3 peers \(peer1, peer2, peer3\), so a cluster of 7 is not possible/);
    expect(usage.stderr).toMatch(/so N is 1\.\.3/);
  });

  it('works interactively through stdin and tells once when the leader changes', async () => {
    const p = userProcess(cluster, ['3']);
    children.push(p);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => p.on('close', r));
    const leader = await waitFor('the client to find the leader', () => /Talking to (peer\d), the leader/.exec(out)?.[1], 15_000);
    expect(await cluster.waitForLeader()).toBe(leader);
    expect(out).toContain(`${leader}> `);

    p.stdin!.write('k set 1\n');
    await waitFor('the first result', () => out.includes('k = 1 '), 10_000);
    p.stdin!.write('help\n');
    await waitFor('help', () => out.includes('Commands (KEY is any name'), 5000);

    await cluster.kill(leader);
    p.stdin!.write('add k 1\n');
    await waitFor('the result after the leader died', () => out.includes('k = 2 '), 20_000);
    const changes = out.match(/leader changed: now talking to (peer\d) \(was (peer\d)\)/g) ?? [];
    expect(changes).toHaveLength(1);
    expect(changes[0]).toContain(`(was ${leader})`);
    expect(changes[0]).not.toContain(`to ${leader}`);

    p.stdin!.write("['k', 'get']\nnonsense here\nexit\n");
    expect(await exited).toBe(0);
    expect(out).toMatch(/k = 2 {2}\[index/);
    expect(out).toMatch(/error: bad command: unknown operation "here"/);
    cluster.start(leader);
  });

  it('ends on Ctrl-D (end of input)', async () => {
    const p = userProcess(cluster, ['3']);
    children.push(p);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stdin!.end('z add 3\n');
    const code = await new Promise<number | null>((r) => p.on('close', r));
    expect(code).toBe(0);
    expect(out).toMatch(/z = 3 /);
  });

  it('applies each command once through a leader crash (client sessions)', async () => {
    await cluster.waitForLeader();
    const client = new ClusterClient({ peers: cluster.peers, timeoutMs: 10_000, attemptTimeoutMs: 1000 });
    try {
      const results: CommandResult[] = [];
      for (let i = 0; i < 40; i++) {
        if (i === 15) void cluster.kill((client.leader() ?? (await cluster.waitForLeader())));
        results.push(await client.command(['n', 'add', '1']));
      }
      const ok = results.filter((r) => r.ok).length;
      const unknown = results.filter((r) => !r.ok && r.error === 'unknown').length;
      expect(ok + unknown).toBe(40);
      const final = await client.command(['n', 'get']);
      expect(final.ok).toBe(true);
      if (final.ok) {
        expect(final.value).toBeGreaterThanOrEqual(ok);
        expect(final.value).toBeLessThanOrEqual(ok + unknown);
      }
      // The values seen by successful adds never repeat: no add was applied twice.
      const seen = results.filter((r) => r.ok).map((r) => (r.ok ? r.value : null));
      expect(new Set(seen).size).toBe(seen.length);
    } finally {
      client.close();
    }
  });
});
