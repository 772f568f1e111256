// Paired A/B of two source trees: `npx tsx test/bench/ab.ts --b DIR [options]`.
//
// Runs a cluster from tree A (default: this checkout) and one from tree B at the same time and
// alternates short W1 runs between them, so that both see the same machine: on a shared host
// whose fsync and CPU drift by 2x within minutes, only paired ratios are worth quoting. Prints
// each pair and the median of the per-pair ratios B/A with [min-max].
//
// Tree B is usually a copy of the repository with a change applied (e.g. `git worktree add` or
// a copied checkout with node_modules linked); it must have test/bench/peers.ts.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BusyMeter } from './machine.ts';
import { OursCluster, type PeerCluster } from './ours.ts';
import { median } from './stats.ts';
import { closedLoop } from './workloads.ts';

const HERE = fileURLToPath(new URL('../..', import.meta.url));

const USAGE = `usage: npx tsx test/bench/ab.ts --b DIR [--a DIR] [options]
  --a DIR          tree A (default: this checkout)
  --b DIR          tree B (a copy of the repository with a change)
  --env-b K=V,...  extra environment for tree B's peers (e.g. a switch in the change)
  --clients LIST   W1 client counts (default 1,64)
  --pairs N        pairs of runs per client count (default 6)
  --seconds S      seconds per run (default 4, after 0.5 s of warm-up)
  --out DIR        where ab-latest.json goes (default test-output/bench)`;

interface Options {
  a: string;
  b: string;
  envB: Record<string, string>;
  clients: number[];
  pairs: number;
  ms: number;
  out: string;
}

function parse(argv: string[]): Options | string {
  const o: Options = { a: HERE, b: '', envB: {}, clients: [1, 64], pairs: 6, ms: 4000, out: resolve(HERE, 'test-output/bench') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    try {
      switch (a) {
        case '--a':
          o.a = resolve(v());
          break;
        case '--b':
          o.b = resolve(v());
          break;
        case '--env-b':
          for (const kv of v().split(',').filter(Boolean)) {
            const eq = kv.indexOf('=');
            if (eq < 1) return `--env-b takes K=V pairs, got ${JSON.stringify(kv)}`;
            o.envB[kv.slice(0, eq)] = kv.slice(eq + 1);
          }
          break;
        case '--clients':
          o.clients = v().split(',').map(Number);
          if (o.clients.some((c) => !Number.isInteger(c) || c < 1)) return '--clients takes whole numbers >= 1, e.g. 1,64';
          break;
        case '--pairs':
          o.pairs = Number(v());
          if (!Number.isInteger(o.pairs) || o.pairs < 1) return '--pairs takes a whole number >= 1';
          break;
        case '--seconds':
          o.ms = Number(v()) * 1000;
          if (!(o.ms >= 100)) return '--seconds takes a number >= 0.1';
          break;
        case '--out':
          o.out = resolve(v());
          break;
        case '-h':
        case '--help':
          return '';
        default:
          return `unknown option ${a}`;
      }
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (!o.b) return '--b DIR is required (the tree with the change)';
  for (const d of [o.a, o.b]) if (!existsSync(join(d, 'test/bench/peers.ts'))) return `${d} has no test/bench/peers.ts`;
  return o;
}

type StartOurPeers = (o: { count: number }) => Promise<PeerCluster>;

async function starter(dir: string, env: Record<string, string>): Promise<() => Promise<PeerCluster>> {
  const mod = (await import(pathToFileURL(join(dir, 'test/bench/peers.ts')).href)) as { startOurPeers: StartOurPeers };
  return async () => {
    // The harness spawns with this process's environment: apply B's extra variables around it.
    const saved: Record<string, string | undefined> = {};
    for (const k of Object.keys(env)) {
      saved[k] = process.env[k];
      process.env[k] = env[k];
    }
    try {
      return await mod.startOurPeers({ count: 3 });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  if (typeof o === 'string') {
    if (o) process.stderr.write(`ab: ${o}\n`);
    process.stderr.write(`${USAGE}\n`);
    return o ? 2 : 0;
  }
  const A = new OursCluster(await starter(o.a, {}));
  const B = new OursCluster(await starter(o.b, o.envB));
  const rows: { clients: number; pair: number; side: 'a' | 'b'; opsPerSec: number; p50: number; p99: number; otherCores: number; cpuUsPerOp: number }[] = [];
  const stop = async () => {
    await A.stop().catch(() => {});
    await B.stop().catch(() => {});
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    await A.start();
    await B.start();
    for (let pair = 0; pair < o.pairs; pair++) {
      for (const clients of o.clients) {
        // Alternate which side goes first, so that a drift favours neither.
        const order = pair % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
        for (const side of order) {
          const sys = side === 'a' ? A : B;
          const meter = new BusyMeter(() => sys.pids());
          const r = await closedLoop(sys, { clients, durationMs: o.ms, warmupMs: 500, keyPrefix: `ab${pair}` });
          const busy = meter.stop();
          // Cluster CPU per command: less sensitive to a busy machine than ops/s.
          const cpuUsPerOp = (busy.systemCores * 1e6) / r.opsPerSec;
          rows.push({ clients, pair, side, opsPerSec: r.opsPerSec, p50: r.latency.p50, p99: r.latency.p99, otherCores: busy.otherCores, cpuUsPerOp });
          process.stdout.write(
            `pair ${pair + 1}/${o.pairs} ${String(clients).padStart(3)} clients ${side.toUpperCase()}: ${r.opsPerSec.toFixed(0)} ops/s, p50 ${r.latency.p50.toFixed(2)} ms, p99 ${r.latency.p99.toFixed(2)} ms, cluster ${cpuUsPerOp.toFixed(0)} µs CPU/op (others ${busy.otherCores.toFixed(2)} cores)\n`,
          );
        }
      }
    }
  } finally {
    await stop();
  }
  const summary = o.clients.map((clients) => {
    const of = (side: 'a' | 'b') => rows.filter((r) => r.clients === clients && r.side === side).sort((x, y) => x.pair - y.pair);
    const a = of('a');
    const b = of('b');
    const ops = a.map((x, i) => b[i]!.opsPerSec / x.opsPerSec);
    const p50 = a.map((x, i) => b[i]!.p50 / x.p50);
    const cpu = a.map((x, i) => b[i]!.cpuUsPerOp / x.cpuUsPerOp);
    const s = {
      clients,
      a: { opsPerSec: median(a.map((x) => x.opsPerSec)), p50: median(a.map((x) => x.p50)) },
      b: { opsPerSec: median(b.map((x) => x.opsPerSec)), p50: median(b.map((x) => x.p50)) },
      opsRatio: { median: median(ops), min: Math.min(...ops), max: Math.max(...ops) },
      p50Ratio: { median: median(p50), min: Math.min(...p50), max: Math.max(...p50) },
      cpuPerOpRatio: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) },
    };
    process.stdout.write(
      `${clients} clients: A ${s.a.opsPerSec.toFixed(0)} ops/s p50 ${s.a.p50.toFixed(2)} ms; B ${s.b.opsPerSec.toFixed(0)} ops/s p50 ${s.b.p50.toFixed(2)} ms; ` +
        `B/A ops x${s.opsRatio.median.toFixed(2)} [${s.opsRatio.min.toFixed(2)}-${s.opsRatio.max.toFixed(2)}], p50 x${s.p50Ratio.median.toFixed(2)} [${s.p50Ratio.min.toFixed(2)}-${s.p50Ratio.max.toFixed(2)}], ` +
        `cluster CPU/op x${s.cpuPerOpRatio.median.toFixed(2)} [${s.cpuPerOpRatio.min.toFixed(2)}-${s.cpuPerOpRatio.max.toFixed(2)}]\n`,
    );
    return s;
  });
  mkdirSync(o.out, { recursive: true });
  const file = join(o.out, 'ab-latest.json');
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), a: o.a, b: o.b, envB: o.envB, seconds: o.ms / 1000, summary, rows }, null, 2));
  process.stdout.write(`written: ${file}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`ab: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
