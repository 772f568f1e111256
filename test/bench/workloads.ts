// The workloads, written once against BenchSystem so that both clusters run the same code.
import { distribution, type Distribution } from './stats.ts';
import { rssMiB } from './machine.ts';
import type { BenchClient, BenchSystem } from './system.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A value of fixed size, as a benchmark's payload (etcd's own benchmark uses small values too). */
export function payload(i: number): string {
  return `v${String(i).padStart(15, '0')}`;
}

// ---- W1: closed-loop throughput ----

export interface ThroughputResult {
  clients: number;
  /** Acknowledged writes per second in the measured window. */
  opsPerSec: number;
  /** Latency of the writes that started in the measured window, ms. */
  latency: Distribution;
  ops: number;
  errors: number;
  /** First error text, to say what went wrong. */
  firstError: string | null;
  seconds: number;
}

/**
 * `clients` concurrent closed-loop clients (each sends its next write when the last one is
 * answered) for `warmupMs + durationMs`; only the last `durationMs` count.
 */
export async function closedLoop(
  sys: BenchSystem,
  opts: { clients: number; durationMs: number; warmupMs: number; keyPrefix?: string; onOp?: () => void },
): Promise<ThroughputResult> {
  const clients: BenchClient[] = [];
  try {
    for (let i = 0; i < opts.clients; i++) clients.push(await sys.client());
    const start = performance.now();
    const measureFrom = start + opts.warmupMs;
    const end = measureFrom + opts.durationMs;
    const lat: number[] = [];
    let ops = 0;
    let errors = 0;
    let firstError: string | null = null;
    const prefix = opts.keyPrefix ?? 'w1';
    await Promise.all(
      clients.map(async (c, ci) => {
        const key = `${prefix}-${ci}`;
        let n = 0;
        for (;;) {
          const t0 = performance.now();
          if (t0 >= end) return;
          try {
            await c.put(key, payload(n++));
            opts.onOp?.();
            const t1 = performance.now();
            if (t0 >= measureFrom && t1 <= end) {
              lat.push(t1 - t0);
              ops++;
            } else if (t0 < measureFrom && t1 > measureFrom && t1 <= end) {
              ops++; // finished inside the window: counts for throughput, not for latency
            }
          } catch (e) {
            errors++;
            firstError ??= (e as Error).message;
            await sleep(10);
          }
        }
      }),
    );
    const seconds = opts.durationMs / 1000;
    return { clients: opts.clients, opsPerSec: ops / seconds, latency: distribution(lat), ops, errors, firstError, seconds };
  } finally {
    for (const c of clients) c.close();
  }
}

/**
 * Sends exactly `total` acknowledged writes with `clients` closed-loop clients (for the RSS
 * figure). A client whose write fails (say, its leader lost leadership) waits 50 ms and
 * reconnects to the current leader; its write is sent again.
 */
export async function pushCommands(
  sys: BenchSystem,
  total: number,
  clients: number,
  onProgress?: (done: number) => void,
  value: (i: number) => string = payload,
  key: (client: number, i: number) => string = (ci, i) => `rss-${ci}-${i % 64}`,
): Promise<{ seconds: number; errors: number; firstError: string | null }> {
  const cs: BenchClient[] = [];
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | null = null;
  const t0 = performance.now();
  try {
    for (let i = 0; i < clients; i++) cs.push(await sys.client());
    await Promise.all(
      cs.map(async (_c, ci) => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          for (;;) {
            try {
              await cs[ci]!.put(key(ci, i), value(i));
              break;
            } catch (e) {
              errors++;
              firstError ??= (e as Error).message;
              if (errors > Math.max(1000, total / 10)) throw new Error(`too many failed writes (${errors}; the first: ${firstError})`);
              cs[ci]!.close();
              await new Promise((r) => setTimeout(r, 50));
              cs[ci] = await sys.client().catch(() => cs[ci]!);
            }
          }
          if (++done % 10_000 === 0) onProgress?.(done);
        }
      }),
    );
  } finally {
    for (const c of cs) c.close();
  }
  return { seconds: (performance.now() - t0) / 1000, errors, firstError };
}

export function rssOf(sys: BenchSystem): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of sys.members) {
    const pid = sys.pidOf(m);
    if (pid) out[m] = rssMiB(pid);
  }
  return out;
}

// ---- W2: failover ----

export interface FailoverTrial {
  killed: string;
  newLeader: string | null;
  /** Last acknowledged write before the kill to the first acknowledged after it, ms. */
  unavailableMs: number;
  /** Kill to the first survivor that names a new leader, ms. */
  killToLeaderMs: number;
  writesBefore: number;
  failedWrites: number;
}

/**
 * One failover trial: a client writes every `intervalMs` with a `timeoutMs` request timeout;
 * after `steadyMs` the leader gets SIGKILL; the trial ends `afterMs` after the first write
 * acknowledged after the kill. The killed member is restarted and caught up afterwards.
 */
export async function failoverTrial(
  sys: BenchSystem,
  opts: { intervalMs: number; timeoutMs: number; steadyMs: number; afterMs: number; giveUpMs: number; pollMs: number; trial: number },
): Promise<FailoverTrial> {
  const oldLeader = await sys.waitForLeader(15_000);
  const oldTerm = (await sys.status(oldLeader))?.term ?? 0;
  const fc = await sys.failoverClient();
  const acks: number[] = [];
  let failed = 0;
  let running = true;
  let killAt = Infinity;
  const key = `w2-${opts.trial}`;
  const writer = (async () => {
    let n = 0;
    while (running) {
      const t0 = performance.now();
      const ok = await fc.write(key, payload(n++), opts.timeoutMs);
      const t1 = performance.now();
      if (ok) acks.push(t1);
      else if (t0 >= killAt) failed++;
      const wait = t0 + opts.intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  try {
    await sleep(opts.steadyMs);
    const writesBefore = acks.length;
    killAt = performance.now();
    sys.kill(oldLeader);
    const survivors = sys.members.filter((m) => m !== oldLeader);
    // Kill to new leader: poll the survivors until one names a leader of a newer term.
    let newLeader: string | null = null;
    let killToLeaderMs = NaN;
    const pollEnd = killAt + opts.giveUpMs;
    while (performance.now() < pollEnd && newLeader === null) {
      const st = await Promise.all(survivors.map((m) => sys.status(m, Math.max(50, opts.pollMs * 4))));
      const now = performance.now();
      for (const s of st) {
        if (s && s.leader && s.leader !== oldLeader && s.term > oldTerm) {
          newLeader = s.leader;
          killToLeaderMs = now - killAt;
          break;
        }
      }
      if (newLeader === null) await sleep(opts.pollMs);
    }
    // Wait for writes to come back.
    while (performance.now() < killAt + opts.giveUpMs && !acks.some((t) => t > killAt)) await sleep(5);
    const firstAfter = acks.find((t) => t > killAt);
    if (firstAfter !== undefined) await sleep(opts.afterMs);
    let lastBefore = -Infinity;
    for (const t of acks) if (t <= killAt) lastBefore = t;
    const unavailableMs = firstAfter !== undefined && Number.isFinite(lastBefore) ? firstAfter - lastBefore : NaN;
    return { killed: oldLeader, newLeader, unavailableMs, killToLeaderMs, writesBefore, failedWrites: failed };
  } finally {
    running = false;
    await writer;
    fc.close();
    await restartAndCatchUp(sys, oldLeader);
  }
}

/** Restarts a killed member and waits until it follows the leader and has caught up. */
export async function restartAndCatchUp(sys: BenchSystem, member: string, timeoutMs = 20_000): Promise<void> {
  if (sys.pidOf(member) === null) await sys.restart(member);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = await sys.waitForLeader(Math.max(1000, deadline - Date.now())).catch(() => null);
    if (leader) {
      const [ls, ms] = await Promise.all([sys.status(leader), sys.status(member)]);
      if (ls && ms && ms.leader === leader && ms.index >= ls.index - 1) return;
    }
    if (Date.now() > deadline) throw new Error(`${sys.name}: ${member} did not catch up within ${timeoutMs} ms after restart`);
    await sleep(50);
  }
}
