// Steering a real cluster through an exact sequence of elections and replications, for the fault
// schedules of planted.ts: a settled start, forced campaigns until a given peer leads, and polls
// that act the moment a peer reaches a state. Everything goes over the admin channel (faults,
// campaign, status); nothing here reaches into a peer.
import { WebSocket } from 'ws';
import { sleep, type Status, type TestCluster } from '../support/cluster.ts';

/** The status of one peer, or null if it does not answer. */
export async function statusOf(c: TestCluster, name: string): Promise<Status | null> {
  return c.status(name).catch(() => null);
}

/** Polls `check` every `everyMs` until it returns a value (returned) or the time runs out (null). */
export async function poll<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 15): Promise<T | null> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined && v !== false) return v;
    if (performance.now() > end) return null;
    await sleep(everyMs);
  }
}

/** Cuts `name` off from every other peer, on its side only: its sends stop at once. */
export async function cutOff(c: TestCluster, name: string): Promise<void> {
  await c.faults(name, { blocked: c.names.filter((n) => n !== name) }).catch(() => {});
}

/** Sets the delay added to every message arriving at `name`. */
export async function delayInto(c: TestCluster, name: string, latencyMs: number): Promise<void> {
  await c.faults(name, { latencyMs }).catch(() => {});
}

/**
 * Every peer running, no faults, one leader, and every log the same and committed: the start of a
 * round. Returns the leader and the index every log ends at, or null if the cluster does not get
 * there in time.
 */
export async function settle(c: TestCluster, round: number): Promise<{ leader: string; last: number } | null> {
  for (const n of c.names) if (!c.alive(n)) c.start(n);
  await c.heal().catch(() => {});
  const leader = await c.waitForLeader({ timeoutMs: 15_000 }).catch(() => null);
  if (!leader) return null;
  const wrote = await c.write(['planted', 'set', round], { timeoutMs: 8000 }).catch(() => null);
  if (!wrote) return null;
  return poll(async () => {
    const st = await c.statuses();
    if (st.length !== c.names.length) return null;
    const last = st[0]!.lastIndex;
    const lead = st.find((s) => s.role === 'leader');
    if (!lead || st.some((s) => s.lastIndex !== last || s.commitIndex !== last)) return null;
    return { leader: lead.peer, last };
  }, 8000, 50);
}

/**
 * Forces elections on `name` (each one a term higher) until it leads a term above `above`, or
 * `tries` campaigns went by. Returns its status as leader, or null.
 */
export async function campaignUntilLeader(c: TestCluster, name: string, above: number, tries = 6, waitMs = 900): Promise<Status | null> {
  for (let i = 0; i < tries; i++) {
    await c.admin(name, { type: 'campaign' }, 1000).catch(() => {});
    const won = await poll(async () => {
      const s = await statusOf(c, name);
      return s && s.role === 'leader' && s.term > above ? s : null;
    }, waitMs);
    if (won) return won;
  }
  return null;
}

/**
 * Client connections to `name`'s /client opened ahead (a connection takes a while on a busy
 * machine): `send` writes one request at once, for a leader that has only an election timeout
 * or two left. Replies are not awaited. Close them with `close`.
 */
export async function openClients(c: TestCluster, name: string, n: number): Promise<{ send(command: unknown[]): void; close(): void }> {
  const { host, port } = c.peer(name);
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket | null>((resolve) => {
          const ws = new WebSocket(`ws://${host}:${port}/client`, { perMessageDeflate: false, handshakeTimeout: 3000 });
          ws.on('error', () => resolve(null));
          ws.once('open', () => resolve(ws));
        }),
    ),
  );
  const open = sockets.filter((ws): ws is WebSocket => ws !== null);
  let next = 0;
  return {
    send(command) {
      const ws = open[next++ % Math.max(1, open.length)];
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'request_command', id: `s${next}`, command }));
    },
    close() {
      for (const ws of open) ws.terminate();
    },
  };
}
