// How busy the machine is: load average, CPU use of the whole machine (/proc/stat), of the
// processes under test (/proc/PID/stat) and of the bench process itself. Every repetition
// records this, because a shared 2-core machine easily halves a figure.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc/*\/stat times (USER_HZ; 100 on Linux). */
const HZ = 100;

export interface CpuSnapshot {
  at: number;
  /** Busy and total jiffies summed over all CPUs. */
  busy: number;
  total: number;
  /** utime + stime (ticks) per watched pid. */
  procs: Map<number, number>;
  /** This process's own CPU time, microseconds. */
  self: number;
}

export interface Busyness {
  /** 1-minute load average at the start and end of the window. */
  loadStart: number;
  loadEnd: number;
  /** Cores busy on the whole machine during the window (0..cores). */
  machineCores: number;
  /** Cores used by the processes under test. */
  systemCores: number;
  /** Cores used by the bench process (clients, measurement). */
  benchCores: number;
  /** Cores used by everything else: a noise indicator. */
  otherCores: number;
  cores: number;
  seconds: number;
}

export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

function readProcStat(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** utime + stime in ticks, or NaN when the process is gone. */
export function procTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields resume after the last ')'.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // fields 14 and 15 of the full line
  } catch {
    return NaN;
  }
}

/** VmRSS of a process in MiB, NaN when unreadable. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function snapshot(pids: readonly number[]): CpuSnapshot {
  const { busy, total } = readProcStat();
  const procs = new Map<number, number>();
  for (const pid of pids) procs.set(pid, procTicks(pid));
  const u = process.cpuUsage();
  return { at: performance.now(), busy, total, procs, self: u.user + u.system };
}

/** A window of measurement: call stop() at its end. */
export class BusyMeter {
  private start: CpuSnapshot;
  private loadStart = loadAverage();
  constructor(private pids: () => readonly number[]) {
    this.start = snapshot(pids());
  }
  stop(): Busyness {
    const end = snapshot(this.pids());
    const cores = cpus().length || 1;
    const seconds = (end.at - this.start.at) / 1000;
    const machineCores = end.total > this.start.total ? ((end.busy - this.start.busy) / (end.total - this.start.total)) * cores : NaN;
    let systemTicks = 0;
    for (const [pid, t1] of end.procs) {
      if (!Number.isFinite(t1)) continue;
      const t0 = this.start.procs.get(pid);
      // A process started during the window counts whole; one that died in it is lost.
      systemTicks += t0 !== undefined && Number.isFinite(t0) ? t1 - t0 : t1;
    }
    const systemCores = seconds > 0 ? systemTicks / HZ / seconds : NaN;
    const benchCores = seconds > 0 ? (end.self - this.start.self) / 1e6 / seconds : NaN;
    const otherCores = Math.max(0, machineCores - systemCores - benchCores);
    return { loadStart: this.loadStart, loadEnd: loadAverage(), machineCores, systemCores, benchCores, otherCores, cores, seconds };
  }
}

/** Measures how many cores other processes use over `ms` (the bench itself excluded). */
export async function othersBusy(ms: number, exclude: readonly number[] = []): Promise<number> {
  const m = new BusyMeter(() => exclude);
  await new Promise((r) => setTimeout(r, ms));
  const b = m.stop();
  return b.otherCores;
}

/**
 * Waits until the rest of the machine is quiet (others use under `maxCores` cores), up to
 * `maxWaitMs`. Returns what it saw last, so a report can say the run was noisy.
 */
export async function waitForQuiet(opts: { maxCores: number; maxWaitMs: number; exclude?: readonly number[]; log?: (s: string) => void }): Promise<{ waitedMs: number; otherCores: number }> {
  const t0 = Date.now();
  let said = false;
  for (;;) {
    const other = await othersBusy(1000, opts.exclude);
    const waited = Date.now() - t0;
    if (other <= opts.maxCores) return { waitedMs: waited, otherCores: other };
    if (waited >= opts.maxWaitMs) {
      opts.log?.(`machine still busy after ${Math.round(waited / 1000)} s (others use ${other.toFixed(2)} cores); measuring anyway, load is recorded`);
      return { waitedMs: waited, otherCores: other };
    }
    if (!said) {
      opts.log?.(`waiting for a quiet machine (others use ${other.toFixed(2)} cores, want <= ${opts.maxCores})`);
      said = true;
    }
  }
}

export function fmtBusy(b: Busyness): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '?');
  return `load ${f(b.loadStart)}->${f(b.loadEnd)}, cores: system ${f(b.systemCores)} bench ${f(b.benchCores)} other ${f(b.otherCores)} of ${b.cores}`;
}

/** Others may use this many cores during a run before the run counts as disturbed. */
export const NOISY_OTHER_CORES = 0.3;

/**
 * Runs a measurement; when the rest of the machine was busy during it, waits for quiet and
 * runs it again, up to `attempts` times in all, and keeps the least disturbed run. Every
 * discarded run is passed to `discarded`, so that the report can still show it.
 */
export async function leastDisturbed<T>(
  attempts: number,
  run: () => Promise<{ value: T; busy: Busyness }>,
  opts: { quiet: () => Promise<void>; log: (s: string) => void; label: string; discarded?: (r: { value: T; busy: Busyness }) => void },
): Promise<{ value: T; busy: Busyness }> {
  let best: { value: T; busy: Busyness } | null = null;
  for (let i = 0; i < attempts; i++) {
    const r = await run();
    if (best === null || r.busy.otherCores < best.busy.otherCores) {
      if (best) opts.discarded?.(best);
      best = r;
    } else {
      opts.discarded?.(r);
    }
    if (!(r.busy.otherCores > NOISY_OTHER_CORES) || i === attempts - 1) break;
    opts.log(`  ${opts.label}: other processes used ${r.busy.otherCores.toFixed(2)} cores meanwhile; measuring again when the machine is quiet`);
    await opts.quiet();
  }
  return best!;
}
