// Three real peer processes: election, replication, leader crash, catch-up, whole-cluster restart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCluster, waitFor, type TestCluster } from '../support/cluster.ts';

// Real processes on a shared 2-core machine: generous limits; every wait returns as soon as it can.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let c: TestCluster;

beforeAll(async () => {
  c = await startCluster({ peers: 3 });
});

afterAll(async () => {
  await c?.teardown();
});

/** The "applied N (term T): label" lines of a peer's log, in file order. */
function appliedLines(name: string): Array<{ index: number; label: string }> {
  const text = readFileSync(join(c.config.logDir, `${name}.log`), 'utf8');
  return [...text.matchAll(/ applied (\d+) \(term \d+\): (.*) -> /g)].map((m) => ({ index: Number(m[1]), label: m[2]! }));
}

async function converged(names: string[]) {
  return waitFor(`${names.join(', ')} to apply the same entries`, async () => {
    const st = await c.statuses(names, true);
    if (st.length !== names.length) return undefined;
    const a = st[0]!;
    const same = st.every((s) => s.appliedIndex === a.appliedIndex && s.commitIndex === a.commitIndex && JSON.stringify(s.kv) === JSON.stringify(a.kv));
    return same && a.appliedIndex === a.lastIndex ? st : undefined;
  });
}

describe('a three-peer cluster of real processes', () => {
  it('elects exactly one leader that every peer recognises', async () => {
    const leader = await c.waitForLeader();
    const st = await c.statuses();
    expect(st.filter((s) => s.role === 'leader').map((s) => s.peer)).toEqual([leader]);
    expect(new Set(st.map((s) => s.term)).size).toBe(1);
  });

  it('commits commands and every peer applies them in the same order', async () => {
    const values: unknown[] = [];
    for (let i = 1; i <= 15; i++) {
      const r = await c.write(['x', 'add', String(i)]);
      expect(r.ok).toBe(true);
      if (r.ok) values.push(r.value);
    }
    // Running sums 1, 3, 6, ...: each add saw exactly the ones before it.
    expect(values).toEqual(Array.from({ length: 15 }, (_, i) => ((i + 1) * (i + 2)) / 2));
    expect(await c.write(['y', 'set', 'hello'])).toMatchObject({ ok: true, value: 'hello' });
    expect(await c.write(['y', 'cas', 'hello', 'world'])).toMatchObject({ ok: true, value: true });
    expect(await c.write(['y', 'cas', 'hello', 'again'])).toMatchObject({ ok: true, value: false });
    expect(await c.write(['z', 'set', 5])).toMatchObject({ ok: true });
    expect(await c.write(['z', 'del'])).toMatchObject({ ok: true, value: 5 });
    expect(await c.write(['x', 'get'])).toMatchObject({ ok: true, value: 120 });

    const st = await converged(c.names);
    for (const s of st) expect(s.kv).toEqual({ x: 120, y: 'world' });
    await waitFor('log lines of every apply', () => c.names.every((n) => appliedLines(n).length >= 20));
    const reference = appliedLines(c.names[0]!);
    for (const n of c.names) {
      const lines = appliedLines(n);
      expect(lines).toEqual(reference);
      for (let i = 1; i < lines.length; i++) expect(lines[i]!.index).toBeGreaterThan(lines[i - 1]!.index);
    }
  });

  it('answers a follower with not_leader naming the leader, and a bad command with bad_command', async () => {
    const leader = await c.waitForLeader();
    const follower = c.names.find((n) => n !== leader)!;
    expect(await c.request(follower, ['x', 'add', '1'])).toMatchObject({ ok: false, error: 'not_leader', leader });
    const bad = await c.request(leader, ['x', 'explode']);
    expect(bad).toMatchObject({ ok: false, error: 'bad_command' });
    expect((bad as { message: string }).message).toMatch(/unknown operation/);
  });

  it('elects a new leader after SIGKILL of the leader, and writes go on', async () => {
    const old = await c.waitForLeader();
    await c.kill(old);
    const survivors = c.names.filter((n) => n !== old);
    const leader = await c.waitForLeader({ among: survivors });
    expect(leader).not.toBe(old);
    expect(await c.write(['x', 'add', '1000'], { among: survivors })).toMatchObject({ ok: true, value: 1120 });
  });

  it('brings a restarted peer back up to date from its durable state and the leader', async () => {
    const down = c.names.find((n) => !c.alive(n))!;
    c.start(down);
    await c.waitForLeader();
    expect(await c.write(['w', 'set', 'after-restart'])).toMatchObject({ ok: true });
    const st = await converged(c.names);
    expect(st.find((s) => s.peer === down)!.kv).toEqual({ x: 1120, y: 'world', w: 'after-restart' });
  });

  it('keeps every committed command across a restart of the whole cluster', async () => {
    const before = (await converged(c.names))[0]!;
    await c.stopAll('SIGKILL');
    c.startAll();
    await c.waitForLeader();
    expect(await c.write(['x', 'get'])).toMatchObject({ ok: true, value: 1120 });
    const st = await converged(c.names);
    for (const s of st) {
      expect(s.kv).toEqual(before.kv);
      expect(s.appliedIndex).toBeGreaterThanOrEqual(before.appliedIndex);
    }
  });
});
