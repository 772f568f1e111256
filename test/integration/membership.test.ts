// Membership changes in a cluster of real peer processes: a newcomer joins as a learner and is
// promoted once caught up, the leader leaves and exits, a removed peer cannot disrupt the rest,
// the configuration survives restarts, and wrong requests get clear errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { changeMembership } from '../../shared/membership-client.ts';
import type { MembersRecord } from '../../peer/membership.ts';
import { sleep, startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 });

let c: TestCluster;

beforeAll(async () => {
  // Five names in the ini, a cluster of the first three.
  c = await startCluster({ peers: 5, members: 3 });
});

afterAll(async () => {
  await c?.teardown();
});

function members(name: string): MembersRecord {
  return JSON.parse(readFileSync(join(c.config.dataDir, name, 'members.json'), 'utf8')) as MembersRecord;
}

/** Writes until stopped, counting successes: the cluster must keep answering during a change. */
function keepWriting(among: () => string[]): { stop(): Promise<number> } {
  let on = true;
  let ok = 0;
  const loop = (async () => {
    for (let i = 0; on; i++) {
      try {
        const r = await c.write(['during', 'add', 1], { among: among(), timeoutMs: 10_000 });
        if (r.ok) ok++;
      } catch {
        // counted by its absence
      }
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      return ok;
    },
  };
}

describe('membership changes in a real cluster', () => {
  it('a newcomer started with --join catches up as a learner and becomes a voter, while clients are served', async () => {
    await c.waitForLeader({ among: ['peer1', 'peer2', 'peer3'] });
    for (let i = 0; i < 20; i++) expect(await c.write(['x', 'add', 1], { among: ['peer1', 'peer2', 'peer3'] })).toMatchObject({ ok: true });
    c.start('peer4', {}, { join: true });
    const writer = keepWriting(() => ['peer1', 'peer2', 'peer3']);
    const r = await changeMembership(c.config, 'join', 'peer4', { ask: ['peer1', 'peer2', 'peer3'] });
    const served = await writer.stop();
    expect(r).toMatchObject({ ok: true, op: 'join', peer: 'peer4' });
    expect(r.ok && r.config.voters.sort()).toEqual(['peer1', 'peer2', 'peer3', 'peer4']);
    expect(served).toBeGreaterThan(0);
    // The newcomer holds the whole store, and says it went through being a learner.
    const st = await waitFor('peer4 to apply what the leader has', async () => {
      const [l, n] = await Promise.all([c.status('peer1', true), c.status('peer4', true)]);
      return n.appliedIndex >= l.commitIndex && n.kv?.x === 20 ? n : undefined;
    });
    expect(st.kv?.during).toEqual(expect.any(Number));
    expect(c.output('peer4')).toMatch(/configuration: voters peer1, peer2, peer3; learners peer4/);
    expect(c.output('peer4')).toMatch(/configuration: voters peer1, peer2, peer3, peer4; no learners/);
    expect(members('peer4').voters.sort()).toEqual(['peer1', 'peer2', 'peer3', 'peer4']);
  });

  it('refuses wrong requests with clear errors and changes nothing', async () => {
    const ask = { ask: ['peer1', 'peer2', 'peer3', 'peer4'] };
    expect(await changeMembership(c.config, 'join', 'peer9', ask)).toMatchObject({ ok: false, error: 'unknown_peer', message: expect.stringMatching(/peer9 is not in .*\[peers\]/) });
    expect(await changeMembership(c.config, 'join', 'peer2', ask)).toMatchObject({ ok: false, error: 'already_member', message: 'peer2 is a member (a voter) already' });
    expect(await changeMembership(c.config, 'leave', 'peer5', ask)).toMatchObject({ ok: false, error: 'not_member', message: expect.stringMatching(/^peer5 is not a member/) });
    // A follower's /admin says who leads instead of acting.
    const leader = await c.waitForLeader({ among: ['peer1', 'peer2', 'peer3', 'peer4'] });
    const follower = ['peer1', 'peer2', 'peer3', 'peer4'].find((n) => n !== leader)!;
    expect(await c.admin(follower, { type: 'membership', op: 'leave', peer: 'peer2' })).toMatchObject({ type: 'membership', ok: false, error: 'not_leader', leader });
    // A malformed request is a bad frame, not a change.
    expect(await c.admin(leader, { type: 'membership', op: 'add', peer: 'peer5' } as never)).toMatchObject({ type: 'error', error: 'bad_frame', message: '"op" must be join or leave, got "add"' });

    // peer5 is not running, so it never catches up: its join stays a learner and times out, and
    // meanwhile any other change is refused as in flight.
    const stuck = changeMembership(c.config, 'join', 'peer5', { ...ask, timeoutMs: 4000 });
    await waitFor('peer5 to be a learner', () => members(leader).learners.includes('peer5'));
    expect(await changeMembership(c.config, 'leave', 'peer3', ask)).toMatchObject({ ok: false, error: 'in_flight', message: expect.stringMatching(/join peer5/) });
    expect(await stuck).toMatchObject({ ok: false, error: 'timeout', message: expect.stringMatching(/peer5 is a learner that has not caught up/) });
    // The learner is taken out again; the voters never changed.
    const out = await changeMembership(c.config, 'leave', 'peer5', ask);
    expect(out).toMatchObject({ ok: true });
    expect(out.ok && out.config).toEqual({ voters: expect.arrayContaining(['peer1', 'peer2', 'peer3', 'peer4']), learners: [] });
  });

  it('the leader leaves: it steps down and exits on its own, the rest elect a leader and keep answering', async () => {
    const all = ['peer1', 'peer2', 'peer3', 'peer4'];
    const leader = await c.waitForLeader({ among: all });
    const rest = all.filter((n) => n !== leader);
    const writer = keepWriting(() => rest);
    const r = await changeMembership(c.config, 'leave', leader, { ask: all });
    expect(r).toMatchObject({ ok: true, op: 'leave', peer: leader });
    expect(r.ok && r.config.voters.sort()).toEqual(rest);
    // The leaving leader itself answered, with the entry that removed it.
    expect(r.ok && r.index).toBeGreaterThan(0);
    await waitFor(`${leader} to exit by itself`, () => !c.alive(leader), 10_000);
    expect(c.output(leader)).toMatch(/removed from the configuration .*; exiting \(the data stays in /);
    const next = await c.waitForLeader({ among: rest });
    expect(rest).toContain(next);
    expect(await c.write(['after', 'set', 1], { among: rest })).toMatchObject({ ok: true });
    expect(await writer.stop()).toBeGreaterThan(0);

    // Back from its disk, the removed peer still thinks it is a voter: PreVote and CheckQuorum
    // keep it from moving the others' term or unseating their leader.
    const before = await c.status(next);
    c.start(leader);
    await sleep(3000);
    const after = await c.status(next);
    expect(after.role).toBe('leader');
    expect(after.term).toBe(before.term);
    expect(await c.write(['after', 'add', 1], { among: rest })).toMatchObject({ ok: true, value: 2 });
    await c.kill(leader);
  });

  it('the configuration survives restarts: every member comes back from its log with it', async () => {
    const voters = members('peer4').voters.sort();
    expect(voters).toHaveLength(3);
    for (const n of voters) await c.kill(n);
    // The newcomer is started as it was first (--join): its log, not the flag, decides.
    for (const n of voters) c.start(n, {}, { join: n === 'peer4' });
    const leader = await c.waitForLeader({ among: voters });
    expect(voters).toContain(leader);
    expect(await c.write(['after', 'add', 1], { among: voters })).toMatchObject({ ok: true, value: 3 });
    for (const n of voters) expect(members(n).voters.sort()).toEqual(voters);

    // Without a majority there is no leader to take a change: the request says so in time.
    await c.kill(voters[0]!);
    await c.kill(voters[1]!);
    const r = await changeMembership(c.config, 'join', 'peer5', { ask: voters, timeoutMs: 3000 });
    expect(r).toMatchObject({ ok: false, error: 'not_leader', message: expect.stringMatching(/^no leader took join peer5 in time/) });
  });
});
