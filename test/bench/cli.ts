// `npm run bench [-- options]`: our cluster against etcd on this machine, side by side.
// See `npm run bench -- --help`.
import { cpus, tmpdir, totalmem } from 'node:os';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BusyMeter, fmtBusy, leastDisturbed, loadAverage, waitForQuiet, type Busyness } from './machine.ts';
import { EtcdCluster, ETCD_INSTALL, findEtcd } from './etcd.ts';
import { measureDisk, measureFloor } from './floor.ts';
import { OursCluster } from './ours.ts';
import { startOurPeers } from './peers.ts';
import { summarize, textTable, writeResults, type BenchResults, type RunRecord, type Sample, type Subject, type SystemName } from './report.ts';
import { distribution, fmtNumber } from './stats.ts';
import type { BenchSystem } from './system.ts';
import { closedLoop, failoverTrial, pushCommands, rssOf } from './workloads.ts';
import { RELAY_MAIN, runW3 } from './w3.ts';
import { runW4 } from './w4.ts';
import { runLongRun, runInstall, runSnapAb } from './compaction.ts';
import { compactionLabels } from './report.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const WORKLOADS = ['floor', 'w1', 'w2', 'w3', 'w4', 'rss', 'long', 'install', 'snapab'] as const;
type Workload = (typeof WORKLOADS)[number];

const USAGE = `usage: npm run bench [-- options]
  --quick            a tiny version of every workload (seconds, 1 repetition); for the test suite
  --only LIST        run only these, comma-separated: ${WORKLOADS.join(',')} (e.g. --only w1,w2)
  --systems LIST     ours,etcd (default both; etcd only when installed)
  --reps N           repetitions of every figure (default 3)
  --duration S       seconds per W1 run (default 10)
  --clients LIST     W1 client counts (default 1,8,64)
  --trials N         W2 failover trials per repetition (default 10)
  --rss-commands N   commands sent before reading RSS (default 100000)
  --long-commands N  the long run's commands from 64 clients before its RSS and restart figures
                     (default 1000000; --quick 20000)
  --install-mib N    MiB of big values in the store before a new member joins (default 50; --quick 2)
  --snap-pairs N     pairs of W1 64-client runs, snapshots on vs off (default 6; --quick 1)
                     (long, install and snapab are ours only and run once, in the first repetition)
  --etcd-client K    how the W1 clients talk to etcd's gateway over keep-alive connections:
                     raw (default: a minimal HTTP/1.1 client, about as cheap for the bench
                     process as our WebSocket clients) or http (node:http with an Agent,
                     which costs the bench twice the CPU and so takes CPU from etcd)
  --no-wait          do not wait for a quiet machine before each run
  --cpu-prof DIR     profile our peers (V8 sampling profiler), DIR/<peer>-<pid>.cpuprofile;
                     read them with: npx tsx test/bench/profile.ts FILE...
  --out DIR          where results go (default test-output/bench)
Results: DIR/latest.json and DIR/latest.md (and a timestamped copy of each).`;

interface Options {
  quick: boolean;
  only: Set<Workload>;
  systems: SystemName[];
  reps: number;
  durationMs: number;
  warmupMs: number;
  clients: number[];
  trials: number;
  rssCommands: number;
  longCommands: number;
  installMiB: number;
  snapPairs: number;
  snapMs: number;
  wait: boolean;
  etcdClient: 'http' | 'raw';
  cpuProf: string | null;
  out: string;
  floorIterations: number;
  w3Ms: number;
  w4: { windowMs: number; warmupMs: number; windows: number };
}

function parseArgs(argv: string[]): Options | string {
  const o: Options = {
    quick: false,
    only: new Set(WORKLOADS),
    systems: ['ours', 'etcd'],
    reps: 3,
    durationMs: 10_000,
    warmupMs: 1000,
    clients: [1, 8, 64],
    trials: 10,
    rssCommands: 100_000,
    longCommands: 1_000_000,
    installMiB: 50,
    snapPairs: 6,
    snapMs: 4000,
    wait: true,
    etcdClient: 'raw',
    cpuProf: null,
    out: resolve(REPO_ROOT, 'test-output/bench'),
    floorIterations: 2000,
    w3Ms: 10_000,
    w4: { windowMs: 5000, warmupMs: 2000, windows: 2 },
  };
  const set: Record<string, boolean> = {};
  const list = (v: string | undefined, name: string) => {
    if (!v) throw new Error(`${name} needs a value`);
    return v.split(',').map((s) => s.trim()).filter(Boolean);
  };
  const num = (v: string | undefined, name: string, min: number) => {
    const n = Number(v);
    if (!v || !Number.isFinite(n) || n < min) throw new Error(`${name} needs a number >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const val = () => inline ?? argv[++i];
      set[flag] = true;
      switch (flag) {
        case '--quick':
          o.quick = true;
          break;
        case '--only': {
          const w = list(val(), '--only').map((x) => x.toLowerCase());
          const bad = w.filter((x) => !(WORKLOADS as readonly string[]).includes(x));
          if (bad.length) return `--only: unknown workload ${bad.join(', ')}; choose from ${WORKLOADS.join(', ')}`;
          o.only = new Set(w as Workload[]);
          break;
        }
        case '--systems': {
          const s = list(val(), '--systems');
          const bad = s.filter((x) => x !== 'ours' && x !== 'etcd');
          if (bad.length) return `--systems: unknown system ${bad.join(', ')}; choose from ours, etcd`;
          o.systems = s as SystemName[];
          break;
        }
        case '--reps':
          o.reps = Math.floor(num(val(), '--reps', 1));
          break;
        case '--duration':
          o.durationMs = num(val(), '--duration', 0.1) * 1000;
          break;
        case '--clients':
          o.clients = list(val(), '--clients').map((x) => Math.floor(num(x, '--clients', 1)));
          break;
        case '--trials':
          o.trials = Math.floor(num(val(), '--trials', 1));
          break;
        case '--rss-commands':
          o.rssCommands = Math.floor(num(val(), '--rss-commands', 0));
          break;
        case '--long-commands':
          o.longCommands = Math.floor(num(val(), '--long-commands', 1));
          break;
        case '--install-mib':
          o.installMiB = num(val(), '--install-mib', 0.1);
          break;
        case '--snap-pairs':
          o.snapPairs = Math.floor(num(val(), '--snap-pairs', 1));
          break;
        case '--etcd-client': {
          const v = val();
          if (v !== 'http' && v !== 'raw') return `--etcd-client takes http or raw, got ${JSON.stringify(v)}`;
          o.etcdClient = v;
          break;
        }
        case '--no-wait':
          o.wait = false;
          break;
        case '--cpu-prof':
          o.cpuProf = resolve(val() ?? '');
          if (!inline && !argv[i]) return '--cpu-prof needs a directory';
          break;
        case '--out':
          o.out = resolve(val() ?? '');
          if (!inline && !argv[i]) return '--out needs a directory';
          break;
        case '-h':
        case '--help':
          return '';
        default:
          return `unknown option ${a}`;
      }
    }
  } catch (e) {
    return (e as Error).message;
  }
  if (o.quick) {
    if (!set['--reps']) o.reps = 1;
    if (!set['--duration']) o.durationMs = 1000;
    o.warmupMs = 200;
    if (!set['--clients']) o.clients = [1, 8];
    if (!set['--trials']) o.trials = 1;
    if (!set['--rss-commands']) o.rssCommands = 2000;
    if (!set['--long-commands']) o.longCommands = 20_000;
    if (!set['--install-mib']) o.installMiB = 2;
    if (!set['--snap-pairs']) o.snapPairs = 1;
    o.snapMs = 1000;
    if (!set['--no-wait']) o.wait = false;
    o.floorIterations = 200;
    o.w3Ms = 1000;
    o.w4 = { windowMs: 2000, warmupMs: 1000, windows: 1 };
  }
  return o;
}

const t0 = Date.now();
function progress(line: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[bench ${s}s] ${line}\n`);
}

const ms = (x: number) => `${fmtNumber(x)} ms`;

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (parsed) process.stderr.write(`bench: ${parsed}\n`);
    process.stderr.write(`${USAGE}\n`);
    return parsed ? 2 : 0;
  }
  const o = parsed;
  const startedAt = new Date().toISOString();
  const notes: string[] = [];
  const samples: Sample[] = [];
  const runs: RunRecord[] = [];
  const add = (system: Subject, rep: number, figure: string, value: number) => samples.push({ system, rep, figure, value });

  const etcd = findEtcd();
  if (o.systems.includes('etcd') && !etcd) {
    const msg = `etcd is not installed, so only our side runs. To compare, install it: ${ETCD_INSTALL}`;
    progress(msg);
    notes.push(msg);
  }
  const systems = o.systems.filter((s) => s !== 'etcd' || etcd);
  progress(
    `${o.quick ? 'quick mode, ' : ''}${o.reps} repetition(s); systems: ${systems.join(', ') || 'none'}; workloads: ${[...o.only].join(', ')}; ` +
      `machine: ${cpus().length} cores, load ${loadAverage().toFixed(2)}`,
  );
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });

  const live = new Set<BenchSystem>();
  const stopAll = async () => {
    for (const s of live) await s.stop().catch(() => {});
    live.clear();
  };
  /** Summarizes what was measured so far, prints the table and writes the files. */
  const report = () => {
    const summary = summarize(samples, {
      'rss.max': `RSS of the largest member after ${fmtNumber(o.rssCommands)} commands`,
      ...compactionLabels({ longCommands: o.longCommands, installMiB: o.installMiB }),
    });
    const results: BenchResults = {
      startedAt,
      finishedAt: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, etcd: etcd?.version ?? null, memMiB: totalmem() / 2 ** 20 },
      options: { ...o, only: [...o.only] },
      notes,
      samples,
      runs,
      summary,
    };
    const files = writeResults(o.out, results);
    process.stdout.write(`\n${textTable(summary)}\n\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    return files;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: stopping the clusters; writing what was measured so far`);
      notes.push(`interrupted by ${sig}: the figures are partial`);
      void stopAll()
        .then(() => progress(`partial results: ${report().md}`))
        .catch(() => {})
        .finally(() => process.exit(130));
    });
  }

  const make = (name: SystemName): BenchSystem =>
    name === 'etcd'
      ? new EtcdCluster({ bin: etcd!.bin, client: o.etcdClient })
      : new OursCluster(() => startOurPeers({ count: 3, cpuProfDir: o.cpuProf }));

  const quiet = async () => {
    if (!o.wait) return;
    await waitForQuiet({ maxCores: 0.25, maxWaitMs: 60_000, log: progress });
  };
  /** A disturbed run is measured again (when waiting for quiet is on), up to this many times in all. */
  const attempts = o.wait ? 3 : 1;

  /** Runs fn on a fresh cluster of `name`, recording how busy the machine was. */
  const withSystem = async <T>(name: SystemName, fn: (sys: BenchSystem) => Promise<T>): Promise<T> => {
    const sys = make(name);
    live.add(sys);
    try {
      await sys.start();
      return await fn(sys);
    } finally {
      await sys.stop().catch((e) => progress(`${name}: stop failed: ${(e as Error).message}`));
      live.delete(sys);
    }
  };

  /** Runs one part; a failure is reported and recorded, and the bench goes on with the rest. */
  let failures = 0;
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      failures++;
      const msg = `FAILED ${what}: ${(e as Error).message}`;
      progress(msg);
      notes.push(msg);
    }
  };

  const measured = async <T>(sys: BenchSystem, fn: () => Promise<T>): Promise<{ value: T; busy: Busyness }> => {
    const meter = new BusyMeter(() => sys.pids());
    const value = await fn();
    const busy = meter.stop();
    return { value, busy };
  };

  try {
    for (let rep = 1; rep <= o.reps; rep++) {
      // ---- floor ----
      if (o.only.has('floor')) {
        await quiet();
        progress(`rep ${rep}/${o.reps} floor: fsync and loopback round trips (${o.floorIterations} iterations each)`);
        const meter = new BusyMeter(() => []);
        const f = await measureFloor({ cwd: REPO_ROOT, dir: tmpdir(), iterations: o.floorIterations });
        const busy = meter.stop();
        runs.push({ system: 'machine', rep, workload: 'floor', busy, detail: f });
        add('machine', rep, 'floor.fsync.p50', f.fsync.p50);
        add('machine', rep, 'floor.fsync.p99', f.fsync.p99);
        add('machine', rep, 'floor.fdatasync.p50', f.fdatasync.p50);
        add('machine', rep, 'floor.fsyncAsync.p50', f.fsyncAsync.p50);
        add('machine', rep, 'floor.ws.p50', f.wsRtt.p50);
        add('machine', rep, 'floor.ws.p99', f.wsRtt.p99);
        add('machine', rep, 'floor.http.p50', f.httpRtt.p50);
        add('machine', rep, 'floor.echo64.perSec', f.echo64.perSec);
        add('machine', rep, 'floor.echo64.cpuPerRequest', f.echo64.serverCpuUsPerRequest);
        progress(
          `  fsync p50 ${ms(f.fsync.p50)} p99 ${ms(f.fsync.p99)}, fdatasync p50 ${ms(f.fdatasync.p50)}, async fsync p50 ${ms(f.fsyncAsync.p50)}; ` +
            `ws rtt p50 ${ms(f.wsRtt.p50)} p99 ${ms(f.wsRtt.p99)}, http rtt p50 ${ms(f.httpRtt.p50)}; ${fmtBusy(busy)}`,
        );
      }

      // ---- W1, RSS, W2 on each system, alternating which goes first ----
      const order = rep % 2 === 1 ? systems : [...systems].reverse();
      if (o.only.has('w1') || o.only.has('rss') || o.only.has('w2')) {
        for (const name of order) {
          await quiet();
          progress(`rep ${rep}/${o.reps} ${name}: starting a 3-member cluster`);
          await attempt(`rep ${rep} ${name} W1/RSS/W2`, () => withSystem(name, async (sys) => {
            let sent = 0;
            const atStart = rssOf(sys);
            // RSS exactly when the cluster has taken rssCommands writes, even in the middle of W1.
            let rssAt: Record<string, number> | null = null;
            const onOp = () => {
              if (++sent === o.rssCommands) rssAt = rssOf(sys);
            };
            add(name, rep, 'rss.start', Math.max(...Object.values(atStart)));
            if (o.only.has('w1')) {
              for (const clients of o.clients) {
                const { value: r, busy } = await leastDisturbed(
                  attempts,
                  async () => {
                    // The disk's fsync right before the run: it drifts on a shared host.
                    const fsyncP50 = measureDisk(tmpdir(), 200).fsync.p50;
                    const m = await measured(sys, () => closedLoop(sys, { clients, durationMs: o.durationMs, warmupMs: o.warmupMs, onOp }));
                    return { value: { ...m.value, fsyncP50 }, busy: m.busy };
                  },
                  {
                    quiet,
                    log: progress,
                    label: `${name} W1 ${clients}`,
                    discarded: (d) => runs.push({ system: name, rep, workload: `W1-${clients} (discarded: disturbed)`, busy: d.busy, detail: d.value }),
                  },
                );
                runs.push({ system: name, rep, workload: `W1-${clients}`, busy, detail: r });
                add(name, rep, `w1.${clients}.ops`, r.opsPerSec);
                add(name, rep, `w1.${clients}.p50`, r.latency.p50);
                add(name, rep, `w1.${clients}.p99`, r.latency.p99);
                add(name, rep, `w1.${clients}.cores`, busy.systemCores);
                // CPU per command, all members together: what a core buys, and with the cores
                // this machine can give the cluster, the ceiling of its throughput.
                if (r.opsPerSec > 0) add(name, rep, `w1.${clients}.cpuPerOp`, (busy.systemCores * 1e6) / r.opsPerSec);
                add(name, rep, 'w1.fsync', r.fsyncP50);
                progress(
                  `  ${name} W1 ${clients} client${clients > 1 ? "s" : ""}: ${fmtNumber(r.opsPerSec)} ops/s, p50 ${ms(r.latency.p50)}, p99 ${ms(r.latency.p99)}` +
                    `${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}; fsync ${ms(r.fsyncP50)}; ${fmtBusy(busy)}`,
                );
              }
            }
            if (o.only.has('rss')) {
              const todo = Math.max(0, o.rssCommands - sent);
              let busy: Busyness | null = null;
              let pushed: unknown = null;
              if (rssAt === null) {
                progress(`  ${name} RSS: sending ${fmtNumber(todo)} more commands (${fmtNumber(sent)} sent so far)`);
                const m = await measured(sys, () => pushCommands(sys, todo, 64, (d) => progress(`    ${fmtNumber(sent + d)} commands`)));
                busy = m.busy;
                pushed = m.value;
                rssAt = rssOf(sys);
              }
              const rss: Record<string, number> = rssAt;
              const max = Math.max(...Object.values(rss));
              runs.push({ system: name, rep, workload: 'RSS', busy, detail: { pushed, rss, atStart, commands: o.rssCommands } });
              add(name, rep, 'rss.max', max);
              progress(`  ${name} RSS after ${fmtNumber(o.rssCommands)} commands: ${Object.entries(rss).map(([m, v]) => `${m} ${v.toFixed(1)} MiB`).join(', ')}`);
            }
            if (o.only.has('w2')) {
              const trials = [];
              const meter = new BusyMeter(() => sys.pids());
              for (let t = 1; t <= o.trials; t++) {
                const tr = await failoverTrial(sys, { intervalMs: 10, timeoutMs: 100, steadyMs: o.quick ? 300 : 1000, afterMs: 200, giveUpMs: 10_000, pollMs: 5, trial: t });
                trials.push(tr);
                progress(
                  `  ${name} W2 trial ${t}/${o.trials}: killed ${tr.killed}, unavailable ${ms(tr.unavailableMs)}, new leader ${tr.newLeader ?? 'none'} after ${ms(tr.killToLeaderMs)}`,
                );
              }
              const busy = meter.stop();
              const un = distribution(trials.map((t) => t.unavailableMs).filter(Number.isFinite));
              const ld = distribution(trials.map((t) => t.killToLeaderMs).filter(Number.isFinite));
              runs.push({ system: name, rep, workload: 'W2', busy, detail: { trials, unavailable: un, killToLeader: ld } });
              add(name, rep, 'w2.unavailable.median', un.p50);
              add(name, rep, 'w2.unavailable.p90', un.p90);
              add(name, rep, 'w2.leader.median', ld.p50);
              add(name, rep, 'w2.leader.p90', ld.p90);
              const failed = trials.filter((t) => !Number.isFinite(t.unavailableMs)).length;
              if (failed) notes.push(`${name} rep ${rep}: ${failed} failover trial(s) saw no write acknowledged within 10 s after the kill`);
              progress(`  ${name} W2: unavailability median ${ms(un.p50)} p90 ${ms(un.p90)}; kill to leader median ${ms(ld.p50)}; ${fmtBusy(busy)}`);
            }
          }));
        }
      }

      // ---- Snapshots (ours only, once): the long run, InstallSnapshot, W1 with snapshots on vs off ----
      const hooks = { log: progress, track: (s: BenchSystem) => live.add(s), untrack: (s: BenchSystem) => live.delete(s) };
      if (rep === 1 && o.only.has('long') && systems.includes('ours')) {
        await quiet();
        progress(`long run: ${fmtNumber(o.longCommands)} commands from 64 clients, then RSS and a member's restart`);
        await attempt('long run', async () => {
          const meter = new BusyMeter(() => []);
          const r = await runLongRun({ commands: o.longCommands, clients: 64, ...hooks });
          const busy = meter.stop();
          runs.push({ system: 'ours', rep, workload: 'long run', busy, detail: r });
          add('ours', rep, 'long.commands', r.commands);
          add('ours', rep, 'long.ops', r.commands / r.seconds);
          add('ours', rep, 'long.elections', r.elections.leaderChanges);
          add('ours', rep, 'long.rss.max', Math.max(...Object.values(r.rss)));
          add('ours', rep, 'long.data.max', Math.max(...Object.values(r.dataMiB)));
          add('ours', rep, 'long.restart.caughtUp', r.toCaughtUpMs / 1000);
          add('ours', rep, 'long.restart.read', r.toReadMs / 1000);
          progress(
            `  long run: ${fmtNumber(r.commands)} commands in ${r.seconds.toFixed(0)} s (${fmtNumber(r.commands / r.seconds)} ops/s; ${r.errors} writes failed and were sent again${r.firstError ? `, the first: ${r.firstError}` : ''}; terms ${r.elections.termsBefore} -> ${r.elections.termsAfter}); ` +
              `RSS ${Object.entries(r.rss).map(([m, v]) => `${m} ${v.toFixed(1)}`).join(', ')} MiB; data ${Object.entries(r.dataMiB).map(([m, v]) => `${m} ${v.toFixed(1)} MiB (${r.snapshots[m]} snapshot files)`).join(', ')}; ${fmtBusy(busy)}`,
          );
          if (r.elections.leaderChanges) progress(`  long run: leader changes: ${r.elections.lines.slice(0, 6).join(' | ')}`);
          progress(
            `  long run: ${r.restarted} restarted: status after ${ms(r.toStatusMs)}, applied through ${fmtNumber(r.commitAtKill)} after ${ms(r.toCaughtUpMs)}, ` +
              `a linearizable read served after ${ms(r.toReadMs)}; it said: ${r.startLine ?? '(no snapshot)'}`,
          );
        });
      }
      if (rep === 1 && o.only.has('install') && systems.includes('ours')) {
        await quiet();
        progress(`InstallSnapshot: ${o.installMiB} MiB of big values, then a new member joins`);
        await attempt('InstallSnapshot', async () => {
          const meter = new BusyMeter(() => []);
          const r = await runInstall({ mib: o.installMiB, valueBytes: 60_000, ...hooks });
          const busy = meter.stop();
          runs.push({ system: 'ours', rep, workload: 'InstallSnapshot', busy, detail: r });
          add('ours', rep, 'install.caughtUp', r.toCaughtUpMs / 1000);
          add('ours', rep, 'install.voter', r.toVoterMs / 1000);
          add('ours', rep, 'install.rss', r.rssMiB);
          add('ours', rep, 'install.elections', r.elections.leaderChanges);
          progress(
            `  InstallSnapshot: ${r.stateMiB.toFixed(1)} MiB (${r.values} values of ${fmtNumber(r.valueBytes)} bytes); ${r.newcomer} joined: caught up through ${fmtNumber(r.commitAtJoin)} after ` +
              `${(r.toCaughtUpMs / 1000).toFixed(2)} s, a voter after ${(r.toVoterMs / 1000).toFixed(2)} s; its RSS ${r.rssMiB.toFixed(1)} MiB; ${fmtBusy(busy)}`,
          );
          if (r.elections.leaderChanges) progress(`  InstallSnapshot: terms ${r.elections.termsBefore} -> ${r.elections.termsAfter} while filling (${r.fillErrors} writes sent again): ${r.elections.lines.slice(0, 6).join(' | ')}`);
          progress(`  InstallSnapshot: ${r.newcomer} said: ${r.installedLine ?? '(nothing about a snapshot: it got the log by AppendEntries)'}`);
          if (!r.installedLine) notes.push(`InstallSnapshot: ${r.newcomer} caught up without installing a snapshot`);
          progress(
            `  InstallSnapshot: (fill ${r.fillSeconds.toFixed(1)} s, then ${fmtNumber(r.smallCommands)} small commands until the log was cut past the big values)`,
          );
        });
      }
      if (rep === 1 && o.only.has('snapab') && systems.includes('ours')) {
        await quiet();
        progress(`W1 64 clients, snapshots on vs off: ${o.snapPairs} pair(s) of ${o.snapMs / 1000} s runs on two clusters at once`);
        await attempt('snapshots on vs off', async () => {
          const meter = new BusyMeter(() => []);
          const r = await runSnapAb({ clients: 64, pairs: o.snapPairs, ms: o.snapMs, warmupMs: o.warmupMs, ...hooks });
          const busy = meter.stop();
          runs.push({ system: 'ours', rep, workload: 'W1 64 snapshots on vs off', busy, detail: r });
          add('ours', rep, 'snapab.ops', r.opsRatio);
          add('ours', rep, 'snapab.p50', r.p50Ratio);
          add('ours', rep, 'snapab.cpu', r.cpuRatio);
          progress(
            `  snapshots on/off (median of ${r.pairs.length} pair(s)): throughput x${r.opsRatio.toFixed(3)}, p50 x${r.p50Ratio.toFixed(3)}, cluster CPU per command x${r.cpuRatio.toFixed(3)}; ` +
              `${r.snapshotFilesOn} snapshot file(s) in the leader's directory (on); ${fmtBusy(busy)}`,
          );
        });
      }

      // ---- W3: the village pipeline (ours only) ----
      if (o.only.has('w3') && systems.includes('ours') && !existsSync(RELAY_MAIN)) {
        if (rep === 1) notes.push(`W3 skipped: the relay (${RELAY_MAIN}) is missing`);
      } else if (o.only.has('w3') && systems.includes('ours')) {
        await quiet();
        progress(`rep ${rep}/${o.reps} W3: the -v event pipeline through the relay`);
        await attempt(`rep ${rep} W3`, async () => {
          await runW3({
            rep,
            durationMs: o.w3Ms,
            warmupMs: o.warmupMs,
            quick: o.quick,
            log: progress,
            cpuProfDir: o.cpuProf,
            track: (s) => live.add(s),
            untrack: (s) => live.delete(s),
            attempts,
            quiet,
            figure: (k, v) => add('ours', rep, k, v),
            run: (r) => runs.push(r),
          });
        });
      }

      // ---- W4: the village's frame rate in Chromium (ours only) ----
      if (o.only.has('w4') && systems.includes('ours') && !existsSync(RELAY_MAIN)) {
        if (rep === 1) notes.push(`W4 skipped: the relay (${RELAY_MAIN}) is missing`);
      } else if (o.only.has('w4') && systems.includes('ours')) {
        progress(`rep ${rep}/${o.reps} W4: the village's frames per second in headless Chromium, against an empty Phaser scene`);
        await attempt(`rep ${rep} W4`, () =>
          runW4({
            rep,
            ...o.w4,
            screenshots: o.out,
            log: progress,
            track: (s) => live.add(s),
            untrack: (s) => live.delete(s),
            quiet,
            figure: (k, v) => add('ours', rep, k, v),
            run: (r) => runs.push(r),
          }),
        );
      }
    }
  } finally {
    await stopAll();
  }

  const files = report();
  progress(`results: ${files.json} and ${files.md} (also latest.json, latest.md)`);
  if (failures) progress(`${failures} part(s) failed; see the notes above`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
