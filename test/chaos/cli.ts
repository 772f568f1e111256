// npm run chaos -- [--peers 5] [--seconds 60] [--seed S] [--clients N] [--keys N]
//                  [--ops-per-key N] [--history FILE] [--keep] [--netns] [--membership]
// npm run chaos -- --check FILE      re-check a saved history
// npm run chaos -- --plant-bug NAME  run peers with a planted bug and a fault schedule that exposes it
//
// Exit status: 0 linearizable, the replicas agree and the safety monitor saw no law broken;
// 1 not linearizable, the replicas differ, or a law was broken (named in the output); 2 the
// check was inconclusive or the run could not be done.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkHistory, formatCounterexample, originOf, type HistoryResult } from './checker.ts';
import { loadHistory, type Operation } from './history.ts';
import { LAWS } from '../../game/relay/monitor/laws.ts';
import type { MonitorReport } from './monitor-sink.ts';
import { PLANT_SCHEDULES, runPlanted, type PlantedReport } from './planted.ts';
import type { PlantedBug } from '../../peer/raft/types.ts';
import { countOps, runChaos, type ChaosReport, type OperationCounts } from './run.ts';

const USAGE = `usage: npm run chaos -- [--peers N] [--seconds S] [--seed S] [--clients N] [--keys N] [--ops-per-key N] [--history FILE] [--keep] [--netns] [--membership]
       npm run chaos -- --check FILE
       npm run chaos -- --plant-bug NAME [--peers N]
  --peers N        cluster size, 3 to 9 (default 5)
  --seconds S      how long the clients and the nemesis run (default 60)
  --seed S         seed of the nemesis schedule and the workload (default: random, printed)
  --clients N      concurrent clients (default peers + 3)
  --keys N         keys in use at once (default 3); a key retires after --ops-per-key operations (default 300)
  --history FILE   where to save the history (default logs/chaos/seed-S.jsonl)
  --keep           keep the cluster's directory (logs, durable state); kept anyway when the check fails
  --netns          each peer on a host of its own (Linux network namespaces, needs root), lan profile,
                   partitions, one-way cuts, loss and delay made by the kernel
  --membership     change the members during the run: the ini lists one peer more than N, and peers
                   join (started as newcomers) and leave (the leader too) while the nemesis strikes
  --check FILE     check a saved history instead of running a cluster
  --plant-bug NAME for testing the monitor: the peers run with RAFT_PLANT_BUG=NAME (${Object.keys(PLANT_SCHEDULES).join(', ')})
                   and a scripted schedule of faults and forced elections that exposes the bug runs
                   until the monitor reports the law it breaks (exit 1, the laws named) or 10 rounds pass
                   (exit 0 if no law at all was broken)
The peers run with -v into the relay's safety monitor, which checks Raft's laws on every event;
a broken law fails the run (exit 1, the law named in the output). With --netns the peers run
inside their namespaces without -v, and the monitor does not run (the output says so).`;

interface Args {
  peers: number;
  seconds: number;
  seed: number;
  clients?: number;
  keys?: number;
  opsPerKey?: number;
  history?: string;
  keep: boolean;
  netns: boolean;
  membership?: boolean;
  check?: string;
  plantBug?: PlantedBug;
}

class UsageError extends Error {}

export function parseArgs(argv: string[]): Args {
  const args: Args = { peers: 5, seconds: 60, seed: Math.floor(Math.random() * 2 ** 31), keep: false, netns: false };
  const int = (flag: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`${flag} needs a whole number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`${flag} must be from ${min} to ${max}, got ${n}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--peers':
        args.peers = int(flag, value(), 3, 9);
        break;
      case '--seconds':
        args.seconds = int(flag, value(), 1, 86_400);
        break;
      case '--seed':
        args.seed = int(flag, value(), 0, 2 ** 31 - 1);
        break;
      case '--clients':
        args.clients = int(flag, value(), 1, 64);
        break;
      case '--keys':
        args.keys = int(flag, value(), 1, 100);
        break;
      case '--ops-per-key':
        args.opsPerKey = int(flag, value(), 10, 100_000);
        break;
      case '--history': {
        const v = value();
        if (!v) throw new UsageError('--history needs a file name');
        args.history = v;
        break;
      }
      case '--check': {
        const v = value();
        if (!v) throw new UsageError('--check needs a history file');
        args.check = v;
        break;
      }
      case '--plant-bug': {
        const v = value();
        const bug = Object.keys(PLANT_SCHEDULES).find((b) => b === v) as PlantedBug | undefined;
        if (!bug) throw new UsageError(`--plant-bug must be one of ${Object.keys(PLANT_SCHEDULES).join(', ')}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
        args.plantBug = bug;
        break;
      }
      case '--keep':
        args.keep = true;
        break;
      case '--netns':
        args.netns = true;
        break;
      case '--membership':
        args.membership = true;
        break;
      case '-h':
      case '--help':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return args;
}

function counts(k: OperationCounts): string[] {
  const lines = [`Operations: ${k.total} (ok ${k.ok}, failed ${k.failed}, unknown ${k.unknown})`];
  const by = Object.entries(k.byCommand)
    .sort()
    .map(([cmd, o]) => `${cmd} ${['ok', 'failed', 'unknown'].filter((t) => o[t]).map((t) => `${o[t]} ${t}`).join('/')}`);
  lines.push(`  by command: ${by.join(' · ')}`);
  const errs = Object.entries(k.byError).sort((a, b) => b[1] - a[1]);
  if (errs.length) lines.push(`  not ok because: ${errs.map(([e, n]) => `${e} ${n}`).join(' · ')}`);
  return lines;
}

function verdictLines(check: HistoryResult, ops: readonly Operation[], checkMs: number): string[] {
  const lines: string[] = [];
  const bad = check.keys.filter((k) => k.verdict !== 'linearizable');
  const checked = check.keys.reduce((s, k) => s + k.operations, 0);
  lines.push(`Linearizability: ${check.keys.length} keys, ${checked} operations checked in ${(checkMs / 1000).toFixed(2)} s: ${check.verdict.toUpperCase().replace('_', ' ')}`);
  const origin = originOf(ops);
  for (const k of bad) {
    if (k.counterexample) lines.push(formatCounterexample(k.counterexample, origin));
    else lines.push(`key ${JSON.stringify(k.key)}: ${k.verdict} (${k.operations} operations, ${k.steps} search steps; no counterexample)`);
  }
  return lines;
}

/** The names of the laws the monitor saw broken, in the order first seen. */
export function brokenLaws(m: MonitorReport): string[] {
  return [...new Set(m.violations.map((v) => LAWS[v.law].name))];
}

export function monitorLines(m: MonitorReport | null): string[] {
  if (m === null) return ['Safety monitor: not run (with --netns the peers run inside their namespaces without -v)'];
  const lines: string[] = [];
  const from = m.peers.length ? ` from ${m.peers.slice().sort().join(', ')}` : '';
  if (m.eventsSeen === 0) lines.push('Safety monitor: no event arrived from the peers, so no law was checked');
  else if (m.violationCount > 0) lines.push(`Safety monitor: ${m.eventsChecked} of ${m.eventsSeen} events${from} checked: LAW BROKEN (${m.violationCount}): ${brokenLaws(m).join(', ')}`);
  else lines.push(`Safety monitor: ${m.eventsChecked} of ${m.eventsSeen} events${from} checked: no law broken`);
  for (const v of m.violations.slice(0, 5)) {
    lines.push(`  ${LAWS[v.law].name}: ${v.message}`);
    for (const e of v.evidence) lines.push(`    ${e.peer}${e.seq === null ? '' : `, event ${e.seq}`} (${e.type}): ${e.said}`);
    if (v.file) lines.push(`    evidence: ${v.file}`);
  }
  if (m.violations.length > 5) lines.push(`  ... and ${m.violationCount - 5} more`);
  const unnumbered = new Set(m.blind.filter((b) => !b.numbered).map((b) => b.peer));
  if (m.peers.length > 0 && m.peers.every((p) => unnumbered.has(p))) {
    lines.push("  blind for every peer, all along: their events carry no seq (the fields the monitor reads are not sent yet), so lost events cannot be told; only checks between single events' facts were made");
  } else {
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    for (const b of m.blind.slice(0, 10)) {
      const until = b.to === null ? 'to the end' : `to ${s(b.to)}`;
      lines.push(`  blind for ${b.peer} from its event ${b.sinceSeq}, ${s(b.from)} ${until} after the peers started: ${b.reason}`);
    }
    if (m.blindPeriods > 10) lines.push(`  ... and ${m.blindPeriods - 10} more blind periods`);
  }
  if (m.refused > 0) lines.push(`  ${m.refused} frames or events refused, e.g. ${m.reasons.slice(0, 3).join('; ')}`);
  return lines;
}

export function formatReport(r: ChaosReport): string {
  const lines: string[] = [''];
  lines.push(`Chaos run: ${r.peers} peers, ${r.seconds} s, seed ${r.seed}, ${r.clients} clients`);
  lines.push(...counts(r.operations));
  const n = r.nemesis;
  const get = (k: string) => n[k] ?? 0;
  lines.push(
    `Nemesis: kills ${get('kill')} (of the leader ${get('kill-leader')}) · restarts ${get('restart')} · partitions ${get('partition')} (isolate ${get('isolate')}, split ${get('split')}) · pauses ${get('pause')} (of the leader ${get('pause-leader')}) · resumes ${get('resume')} · lossy ${get('lossy')} · heals ${get('heal')}`,
  );
  if (r.membership) {
    const m = r.membership;
    const why = Object.entries(m.byError).map(([e, k]) => `${e} ${k}`).join(', ');
    lines.push(`Membership: ${m.joins} joins, ${m.leaves} leaves, ${m.failed} failed${why ? ` (${why})` : ''}; members at the end: ${m.members.join(', ')}`);
  }
  lines.push(`Replicas: ${r.replicas.detail}`);
  lines.push(...verdictLines(r.check, r.history, r.checkMs));
  lines.push(...monitorLines(r.monitor));
  if (r.historyFile) lines.push(`History: ${r.historyFile} (re-check: npm run chaos -- --check ${r.historyFile})`);
  if (r.dir) lines.push(`Cluster directory kept: ${r.dir}`);
  const failures: string[] = [];
  if (r.monitor && r.monitor.violationCount > 0) failures.push(`the safety monitor saw ${brokenLaws(r.monitor).join(', ')} broken`);
  if (r.check.verdict === 'not_linearizable') failures.push('the history is not linearizable');
  if (!r.replicas.agree) failures.push('the replicas differ');
  if (failures.length) lines.push(`FAILED: ${failures.join('; ')}`);
  return lines.join('\n');
}

export function formatPlanted(r: PlantedReport): string {
  const lines = ['', `Planted bug ${r.bug}: ${r.rounds} rounds of its fault schedule, meant to break ${LAWS[r.law].name}`, ...monitorLines(r.monitor)];
  const target = r.monitor.violations.find((v) => v.law === r.law);
  if (target) lines.push(`The law it targets: ${LAWS[r.law].name}: ${target.message}${target.file ? ` (evidence: ${target.file})` : ''}`);
  if (r.monitor.violationCount > 0) lines.push(`CAUGHT: the safety monitor saw ${brokenLaws(r.monitor).join(', ')} broken`);
  else lines.push('NOT CAUGHT: the safety monitor saw no law broken');
  return lines.join('\n');
}

export function exitCode(check: HistoryResult, replicasAgree = true, monitor?: Pick<MonitorReport, 'violationCount'>): number {
  if (check.verdict === 'not_linearizable' || !replicasAgree || (monitor?.violationCount ?? 0) > 0) return 1;
  return check.verdict === 'inconclusive' ? 2 : 0;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`chaos: ${e.message}`);
    console.error(USAGE);
    return e.message ? 2 : 0;
  }
  if (args.check) {
    const ops = loadHistory(args.check);
    const t = performance.now();
    const check = checkHistory(ops);
    const ms = performance.now() - t;
    console.log(counts(countOps(ops)).join('\n'));
    console.log(verdictLines(check, ops, ms).join('\n'));
    return exitCode(check);
  }
  if (args.plantBug) {
    const r = await runPlanted({ bug: args.plantBug, peers: args.peers, evidenceDir: resolve('logs/chaos'), log: (line) => console.log(line) });
    console.log(formatPlanted(r));
    return r.monitor.violationCount > 0 ? 1 : 0;
  }
  const history = resolve(args.history ?? `logs/chaos/seed-${args.seed}.jsonl`);
  const report = await runChaos({
    peers: args.peers,
    seconds: args.seconds,
    seed: args.seed,
    clients: args.clients,
    keys: args.keys,
    opsPerKey: args.opsPerKey,
    historyFile: history,
    keep: args.keep,
    netns: args.netns,
    membership: args.membership ?? false,
    log: (line) => console.log(line),
  });
  console.log(formatReport(report));
  return exitCode(report.check, report.replicas.agree, report.monitor ?? undefined);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`chaos: ${e.stack ?? e.message}`);
      process.exit(2);
    },
  );
}
