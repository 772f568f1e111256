// Five real peer processes: election, and a partition that cuts the leader off into a minority.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let c: TestCluster;

beforeAll(async () => {
  c = await startCluster({ peers: 5 });
});

afterAll(async () => {
  await c?.teardown();
});

describe('a five-peer cluster of real processes', () => {
  it('elects exactly one leader that every peer recognises', async () => {
    const leader = await c.waitForLeader();
    const st = await c.statuses();
    expect(st).toHaveLength(5);
    expect(st.filter((s) => s.role === 'leader').map((s) => s.peer)).toEqual([leader]);
    expect(st.every((s) => s.leader === leader)).toBe(true);
  });

  it('refuses writes in a minority partition while the majority serves, and converges after healing', async () => {
    expect(await c.write(['k', 'set', 'before'])).toMatchObject({ ok: true });
    const old = await c.waitForLeader();
    const minority = [old, c.names.find((n) => n !== old)!];
    const majority = c.names.filter((n) => !minority.includes(n));
    await c.partition([minority, majority]);

    // The old leader may still think it leads for a moment: a write sent to it is appended
    // but can never commit; it answers unknown once CheckQuorum makes it step down.
    const stranded = await c.request(old, ['k', 'set', 'minority'], {}, 10_000);
    expect(stranded.ok).toBe(false);
    expect(['unknown', 'not_leader']).toContain((stranded as { error: string }).error);

    const leader = await c.waitForLeader({ among: majority });
    expect(majority).toContain(leader);
    expect(await c.write(['k', 'set', 'majority'], { among: majority })).toMatchObject({ ok: true, value: 'majority' });
    expect(await c.write(['n', 'add', 1], { among: majority })).toMatchObject({ ok: true, value: 1 });

    // Nobody in the minority can commit anything now.
    for (const n of minority) {
      const r = await c.request(n, ['k', 'set', 'minority'], {}, 10_000);
      expect(r.ok).toBe(false);
    }

    await c.heal();
    await c.waitForLeader();
    expect(await c.write(['n', 'add', 1])).toMatchObject({ ok: true, value: 2 });
    const st = await waitFor('all five peers to converge', async () => {
      const all = await c.statuses(c.names, true);
      if (all.length !== 5) return undefined;
      const a = all[0]!;
      return all.every((s) => s.appliedIndex === a.appliedIndex && s.lastIndex === a.lastIndex && JSON.stringify(s.kv) === JSON.stringify(a.kv))
        ? all
        : undefined;
    });
    for (const s of st) expect(s.kv).toEqual({ k: 'majority', n: 2 });
  });
});
