// README's "Running a village across machines", run as written: its ini (with the addresses of
// hosts made here with network namespaces instead of 192.168.1.x) and its commands, each on the
// machine the guide names: npm run certs and npm run game on the teacher's host, npm run
// cluster -- 3 -v --here on each student's host, npm run user from a student's host. Then the
// village: every peer reports to the relay over TLS, and a kill from the page goes to the
// launcher of that villager's host. (`npm run build` is done by the browser tests' build helper,
// the same vite build under their lock, so that parallel test files do not build at once.)
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { ensureGameBuilt } from '../browser/support/build.ts';
import { waitFor } from '../support/cluster.ts';
import { createNetwork, type Network } from '../support/netns.ts';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const start = README.indexOf('## Running a village across machines');
const section = README.slice(start, README.indexOf('\n## ', start + 10));
const iniText = /```ini\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
/** The guide's commands, each with the comment line above it (who runs it); none: any machine. */
const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => {
  let who = 'any machine';
  const out: { who: string; command: string }[] = [];
  for (const line of m[1]!.split('\n')) {
    if (line.startsWith('#')) who = line;
    else if (line.trim()) out.push({ who, command: line.trim() });
  }
  return out;
});

let net: Network | null = null;
const dir = mkdtempSync(join(tmpdir(), 'raft-village-guide-'));
afterAll(() => {
  net?.teardown();
  if (process.env.RAFT_TEST_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
});

interface Run {
  proc: ChildProcess;
  out(): string;
  exit: Promise<number | null>;
}

function runOn(host: string, command: string): Run {
  const proc = net!.spawn(host, 'sh', ['-c', command], { env: { ...process.env, RAFT_CONFIG: join(dir, 'raft_peer.ini'), NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stdin!.on('error', () => {});
  return { proc, out: () => out, exit: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

function httpsGet(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

describe("README's guide to running a village across machines", () => {
  it('has an ini and the commands of the teacher, the students and any machine', () => {
    expect(iniText).toMatch(/\[tls\]/);
    expect(commands.map((c) => c.command)).toEqual(['npm run certs', 'npm run build', 'npm run game', 'npm run cluster -- 3 -v --here', 'npm run user -- 3 get x', 'npm run user -- 3 x add 100']);
  });

  it('works as written on three student hosts and the teacher host, with TLS', async () => {
    net = createNetwork(['teacher', 'student1', 'student2', 'student3']);
    // The guide's addresses become the hosts' own.
    const addressOf = new Map<string, string>([['192.168.1.10', net.address('teacher')]]);
    for (const [i, s] of ['student1', 'student2', 'student3'].entries()) addressOf.set(`192.168.1.${11 + i}`, net.address(s));
    const ini = iniText.replace(/192\.168\.1\.\d+/g, (a) => addressOf.get(a) ?? a);
    expect(ini).not.toMatch(/192\.168/);
    writeFileSync(join(dir, 'raft_peer.ini'), ini);
    const hostFor = (who: string): string[] => (/teacher/.test(who) ? ['teacher'] : /student/.test(who) ? ['student1', 'student2', 'student3'] : ['student3']);
    const running: Run[] = [];
    let relayUp = false;
    const userOutputs: string[] = [];
    for (const { who, command } of commands) {
      if (command === 'npm run build') {
        ensureGameBuilt();
        continue;
      }
      for (const host of hostFor(who)) {
        if (command.startsWith('npm run user')) {
          // A read is retried while the cluster elects its first leader (reading twice is
          // harmless); a write is run once: a second run would add again.
          const attempts: string[] = [];
          const once = async () => {
            const u = runOn(host, command);
            const code = await u.exit;
            attempts.push(`exit ${code}: ${u.out()}`);
            return code === 0;
          };
          if (/ get /.test(command)) {
            await waitFor(`${command} to succeed`, () => once(), 60_000, 500).catch((e: Error) => {
              throw new Error(`${e.message}; attempts:\n${attempts.join('\n---\n')}`);
            });
          } else {
            expect(await once(), attempts.join('')).toBe(true);
          }
          userOutputs.push(attempts.at(-1)!);
          continue;
        }
        const r = runOn(host, command);
        if (command === 'npm run certs') {
          expect(await r.exit, r.out()).toBe(0);
          expect(r.out()).toMatch(/made the class CA/);
        } else if (command === 'npm run game') {
          await waitFor(`the relay to listen (${r.out()})`, () => /relay listening on/.test(r.out()), 60_000, 200);
          expect(r.out()).toMatch(/https:\/\//);
          // Bound beyond loopback, it says what it exposes (README: What the relay exposes).
          expect(r.out()).toMatch(/warning: the relay listens on .*Anyone who can reach it can watch the village/);
          relayUp = true;
          running.push(r);
        } else if (command.startsWith('npm run cluster')) {
          await waitFor(`the launcher on ${host} to start its peer (${r.out()})`, () => /started \(pid \d+\)/.test(r.out()), 60_000, 200);
          expect(r.out()).toMatch(/starting 1 peers of 3/);
          running.push(r);
        } else {
          throw new Error(`the guide has a command this test does not know how to check: ${command}`);
        }
      }
    }
    expect(relayUp).toBe(true);
    expect(userOutputs[0], userOutputs[0]).toMatch(/x is not set {2}\[index \d+, term \d+, peer\d\]/);
    expect(userOutputs[1], userOutputs[1]).toMatch(/x = 100 {2}\[index \d+, term \d+, peer\d\]/);

    // The page on the teacher's machine: every villager reporting, over https with the class CA.
    const ca = readFileSync(join(dir, 'certs/ca.crt'));
    const base = `https://${net.address('teacher')}:6100`;
    await waitFor(
      'all three villagers reporting to the relay',
      async () => {
        const p = JSON.parse(await httpsGet(`${base}/api/picture`, ca)) as { picture: { peers: { name: string; reporting: boolean; process: string }[] } };
        return p.picture.peers.filter((x) => x.reporting && x.process === 'up').length === 3;
      },
      30_000,
      300,
    );

    // A kill from the page reaches the launcher of student2's host, which SIGKILLs peer2 there.
    const page = await httpsGet(`${base}/`, ca);
    const token = /name="village-token" content="([^"]+)"/.exec(page)?.[1];
    expect(token).toBeTruthy();
    const before = net.pids('student2');
    const ws = new WebSocket(`wss://${net.address('teacher')}:6100/village?token=${token}`, { ca, headers: { origin: base } });
    const replies: { id?: string; ok?: boolean; text?: string }[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string; id?: string; ok?: boolean; text?: string };
      if (m.type === 'reply') replies.push(m);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'kill', peer: 'peer2', id: 'k2' }));
    await waitFor('the reply to kill peer2', () => replies.find((r) => r.id === 'k2'), 10_000);
    expect(replies.find((r) => r.id === 'k2')).toMatchObject({ ok: true });
    const after = net.pids('student2');
    expect(after.length).toBe(before.length - 1);
    ws.send(JSON.stringify({ type: 'revive', peer: 'peer2', id: 'r2' }));
    await waitFor('the reply to revive peer2', () => replies.find((r) => r.id === 'r2'), 10_000);
    expect(replies.find((r) => r.id === 'r2')).toMatchObject({ ok: true });
    expect(net.pids('student2').length).toBe(before.length);
    ws.terminate();
    for (const r of running) r.proc.kill('SIGTERM');
  }, 240_000);
});
