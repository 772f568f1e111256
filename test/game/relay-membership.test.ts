// Membership on the relay's side: the console's join and leave (through the launcher, or straight
// to the leader without one), the strict validation of config events and launcher reports, a
// sixth peer appearing in the picture, and a leaver leaving the village once it is down.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConsoleLine } from '../../game/relay/console.ts';
import { Control, type ControlDeps } from '../../game/relay/control.ts';
import { Monster, seededRandom } from '../../game/relay/monster.ts';
import { Picture } from '../../game/relay/picture.ts';
import { parseLauncherReport, parsePeerEvent } from '../../game/relay/validate.ts';
import { latestMembers } from '../../peer/launcher-members.ts';
import { parseLauncherCommand } from '../../peer/launcher.ts';
import { parseConfig } from '../../shared/config.ts';
import type { LauncherCommand } from '../../shared/events.ts';
import type { MembershipResult } from '../../shared/membership.ts';
import { testConfig } from './relay-support.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function control(over: Partial<ControlDeps> = {}): { c: Control; sent: LauncherCommand[]; picture: Picture } {
  const picture = new Picture({ order: ['peer1', 'peer2', 'peer3', 'peer4', 'peer5', 'peer6'], reviveAfterS: 0 });
  const sent: LauncherCommand[] = [];
  const c = new Control({
    config: testConfig({ peers: 6 }),
    picture,
    monster: new Monster({ intervalMs: 10_000, reviveAfterMs: 0, walkMs: 100, random: seededRandom(1) }),
    sendLauncher: (cmd) => (sent.push(cmd), true),
    admin: async () => {
      throw new Error('no peers here');
    },
    kvClient: () => ({ command: async () => ({ type: 'command_result', id: 'r', ok: false, error: 'not_leader', leader: null }), leader: () => null, close() {} }),
    now: () => 0,
    log: () => {},
    ...over,
  });
  return { c, sent, picture };
}

const joined: MembershipResult = { ok: true, op: 'join', peer: 'peer6', config: { voters: ['peer1', 'peer2', 'peer3', 'peer6'], learners: [] }, index: 12 };

describe('join and leave in the web console', () => {
  it('parses join and leave as village commands, and keeps add for the key-value store', () => {
    expect(parseConsoleLine('join peer6')).toEqual({ ok: true, command: { kind: 'join', peer: 'peer6' } });
    expect(parseConsoleLine('leave peer2')).toEqual({ ok: true, command: { kind: 'leave', peer: 'peer2' } });
    expect(parseConsoleLine('add peer6 1')).toEqual({ ok: true, command: { kind: 'kv', command: ['peer6', 'add', 1] } });
    expect(parseConsoleLine('join')).toEqual({ ok: false, message: 'usage: join PEER (for example: join peer2)' });
  });

  it('asks the launcher to join a peer and answers with the outcome it reports', async () => {
    const { c, sent } = control();
    const reply = c.consoleLine('join peer6');
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([{ type: 'join', peer: 'peer6' }]);
    c.membershipReported(joined);
    expect(await reply).toEqual({ ok: true, text: 'peer6 joined the cluster (voters peer1, peer2, peer3, peer6; no learners)' });
  });

  it('says a change once in the console: the typed reply, and an event line with the new members', async () => {
    const { c, picture } = control();
    const reply = c.consoleLine('join peer6');
    await new Promise((r) => setTimeout(r, 10));
    c.membershipReported(joined);
    await reply;
    const lines = picture.consoleHistory().map((d) => (d.type === 'console' ? `${d.level}: ${d.line}` : d.type));
    expect(lines).toEqual([
      'input: join peer6',
      'event: members now: voters peer1, peer2, peer3, peer6; no learners (peer6 joined)',
      'result: peer6 joined the cluster (voters peer1, peer2, peer3, peer6; no learners)',
    ]);
  });

  it('asks the leader itself without a launcher, and passes its refusal on', async () => {
    const asked: string[] = [];
    const { c } = control({
      sendLauncher: () => false,
      membership: async (op, peer) => {
        asked.push(`${op} ${peer}`);
        return { ok: false, op, peer, error: 'in_flight', message: 'another change is under way (join peer5); try again when it is done', leader: 'peer1' };
      },
    });
    expect(await c.consoleLine('leave peer2')).toEqual({ ok: false, text: 'leave peer2: another change is under way (join peer5); try again when it is done' });
    expect(asked).toEqual(['leave peer2']);
  });

  it('refuses a name that is not in the ini before asking anyone', async () => {
    const { c, sent } = control();
    expect(await c.consoleLine('join peer9')).toEqual({ ok: false, text: 'peer9 is not in raft_peer.ini [peers]; names there: peer1, peer2, peer3, peer4, peer5, peer6' });
    expect(sent).toEqual([]);
  });
});

describe('the relay with a changing membership', () => {
  it('validates config events and resync.config strictly', () => {
    const base = { peer: 'peer2', t: 1, seq: 4 };
    expect(parsePeerEvent({ ...base, type: 'config', voters: ['peer1', 'peer2'], learners: ['peer6'] })).toEqual({ ok: true, value: { ...base, type: 'config', voters: ['peer1', 'peer2'], learners: ['peer6'] } });
    expect(parsePeerEvent({ ...base, type: 'config', voters: [], learners: ['peer6'] })).toEqual({ ok: false, message: 'a configuration needs at least one voter' });
    expect(parsePeerEvent({ ...base, type: 'config', voters: ['peer1', 'x y'], learners: [] })).toEqual({ ok: false, message: '"voters[1]" must be a peer name' });
  });

  it('validates the launcher membership report', () => {
    expect(parseLauncherReport({ type: 'membership', result: joined })).toEqual({ ok: true, value: { type: 'membership', result: joined } });
    expect(parseLauncherReport({ type: 'membership', result: { ...joined, ok: false } }).ok).toBe(false);
    expect(parseLauncherReport({ type: 'membership', result: { ok: false, op: 'join', peer: 'peer6', error: 'boom', message: 'x', leader: null } })).toEqual({
      ok: false,
      message: 'error: expected one of unknown_peer, already_member, not_member, in_flight, not_leader, timeout, refused',
    });
  });

  it('shows a sixth peer when it appears, and drops a leaver once it is down and no longer a member', () => {
    const { picture } = control();
    picture.applyLauncherReport({ type: 'launcher_hello', peers: ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'], profile: 'fast' });
    picture.applyLauncherReport({ type: 'process', peer: 'peer6', pid: 106, alive: true, exitCode: null, signal: null });
    expect(picture.names()).toEqual(['peer1', 'peer2', 'peer3', 'peer4', 'peer5', 'peer6']);
    picture.applyEvent({ peer: 'peer6', t: 1, seq: 0, type: 'config', voters: ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'], learners: ['peer6'] });
    // peer2 left: the launcher names the members again, then peer2's process exits.
    picture.applyLauncherReport({ type: 'launcher_hello', peers: ['peer1', 'peer3', 'peer4', 'peer5', 'peer6'], profile: 'fast' });
    picture.applyLauncherReport({ type: 'process', peer: 'peer2', pid: 102, alive: false, exitCode: 0, signal: null });
    expect(picture.names()).toEqual(['peer1', 'peer3', 'peer4', 'peer5', 'peer6']);
  });
});

describe('a village restarted after a leave', () => {
  it('does not bring back a peer that left: a hello names the initial voters, the launcher the members', () => {
    const { picture } = control();
    picture.applyLauncherReport({ type: 'launcher_hello', peers: ['peer1', 'peer3', 'peer4', 'peer5', 'peer6'], profile: 'fast' });
    const timing = { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 };
    picture.applyEvent({ peer: 'peer1', t: 1, seq: 0, type: 'hello', pid: 101, cluster: ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'], profile: 'fast', timing });
    expect(picture.names()).toEqual(['peer1', 'peer3', 'peer4', 'peer5', 'peer6']);
  });
});

describe('the launcher and membership', () => {
  it('takes join and leave of any name of the ini from the relay, kill and revive only of its own', () => {
    const ini = ['peer1', 'peer2', 'peer3', 'peer4'];
    expect(parseLauncherCommand('{"type":"join","peer":"peer4"}', ['peer1', 'peer2', 'peer3'], ini)).toEqual({ type: 'join', peer: 'peer4' });
    expect(parseLauncherCommand('{"type":"revive","peer":"peer4"}', ['peer1', 'peer2', 'peer3'], ini)).toBe('"peer4" is not one of peer1, peer2, peer3');
    expect(parseLauncherCommand('{"type":"leave","peer":"peer9"}', ['peer1'], ini)).toBe('"peer9" is not one of peer1, peer2, peer3, peer4');
  });

  it('starts the members named by the newest configuration entry among the peers\' members.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rv-members-'));
    dirs.push(dir);
    const config = parseConfig(
      `[cluster]\nsecret = s\ndata_dir = ${dir}\n[peers]\npeer1 = 127.0.0.1:1\npeer2 = 127.0.0.1:2\npeer3 = 127.0.0.1:3\npeer4 = 127.0.0.1:4\n[profile.fast]\nheartbeat_ms = 50\nelection_min_ms = 150\nelection_max_ms = 300\n[relay]\nport = 9\n`,
      join(dir, 'raft_peer.ini'),
    );
    expect(latestMembers(config)).toBeNull();
    const write = (peer: string, rec: unknown) => {
      mkdirSync(join(dir, peer), { recursive: true });
      writeFileSync(join(dir, peer, 'members.json'), typeof rec === 'string' ? rec : JSON.stringify(rec));
    };
    // peer1 missed its own removal (entry 9 of term 3): its file names the older entry 5.
    write('peer1', { peer: 'peer1', voters: ['peer1', 'peer2', 'peer3', 'peer4'], learners: [], term: 2, index: 5 });
    write('peer2', { peer: 'peer2', voters: ['peer2', 'peer3', 'peer4'], learners: [], term: 3, index: 9 });
    write('peer3', 'not json');
    const lines: string[] = [];
    const latest = latestMembers(config, (l) => lines.push(l));
    expect(latest?.members).toEqual(['peer2', 'peer3', 'peer4']);
    expect(latest?.file).toBe(join(dir, 'peer2', 'members.json'));
    expect(lines).toEqual([`ignoring ${join(dir, 'peer3', 'members.json')}: not JSON`]);
  });
});
