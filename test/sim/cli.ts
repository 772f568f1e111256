// npm run sim -- --seeds 10000 --peers 5      run many seeds, print progress and seeds/second
// npm run sim -- --seed 42 --peers 5          replay one seed with its whole trace
// Other flags: --start S (first seed of a batch), --chaos-ms N, --liveness-ms N,
//              --plant-bug commit_previous_term|double_vote|count_self_before_durable|
//                          cut_log_before_snapshot_durable|install_stale_snapshot,
//              --membership none|grow|shrink (default: each seed with 5 peers or more picks),
//              --no-vote-check, --no-durable-check, --keep-going
import { DEFAULT_CHAOS_MS, DEFAULT_LIVENESS_MS, failureReport, runSim, type Membership, type SimOptions, type SimResult } from './sim.ts';
import { PLANTED_BUGS, type PlantedBug } from '../../peer/raft/types.ts';

const USAGE = `usage: npm run sim -- [--seeds N] [--start S] [--peers P[,P...]] [--seed S] [--chaos-ms N]
                    [--liveness-ms N] [--plant-bug ${PLANTED_BUGS.join('|')}] [--no-vote-check]
                    [--no-durable-check] [--membership none|grow|shrink] [--keep-going]`;

interface Args {
  seeds: number;
  start: number;
  peers: number[];
  seed: number | null;
  chaosMs: number;
  livenessMs: number;
  plantBug: PlantedBug | undefined;
  membership: Membership | undefined;
  voteCheck: boolean;
  durableCheck: boolean;
  keepGoing: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = { seeds: 100, start: 1, peers: [5], seed: null, chaosMs: DEFAULT_CHAOS_MS, livenessMs: DEFAULT_LIVENESS_MS, plantBug: undefined, membership: undefined, voteCheck: true, durableCheck: true, keepGoing: false };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < min) {
      console.error(`${flag} needs a whole number >= ${min}, got ${v ?? 'nothing'}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    switch (f) {
      case '--seeds':
        a.seeds = num(f, argv[++i], 1);
        break;
      case '--start':
        a.start = num(f, argv[++i], 0);
        break;
      case '--seed':
        a.seed = num(f, argv[++i], 0);
        break;
      case '--peers': {
        const v = argv[++i] ?? '';
        a.peers = v.split(',').map((s) => num(f, s, 1));
        if (a.peers.some((p) => p > 9)) {
          console.error(`--peers: at most 9, got ${v}`);
          process.exit(2);
        }
        break;
      }
      case '--chaos-ms':
        a.chaosMs = num(f, argv[++i], 0);
        break;
      case '--liveness-ms':
        a.livenessMs = num(f, argv[++i], 100);
        break;
      case '--plant-bug': {
        const v = argv[++i];
        const bug = PLANTED_BUGS.find((b) => b === v);
        if (bug === undefined) {
          console.error(`--plant-bug must be one of ${PLANTED_BUGS.join(', ')}, got ${v ?? 'nothing'}`);
          process.exit(2);
        }
        a.plantBug = bug;
        break;
      }
      case '--membership': {
        const v = argv[++i];
        if (v !== 'none' && v !== 'grow' && v !== 'shrink') {
          console.error(`--membership must be none, grow or shrink, got ${v ?? 'nothing'}`);
          process.exit(2);
        }
        a.membership = v;
        break;
      }
      case '--no-vote-check':
        a.voteCheck = false;
        break;
      case '--no-durable-check':
        a.durableCheck = false;
        break;
      case '--keep-going':
        a.keepGoing = true;
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        console.error(`unknown argument ${f}\n${USAGE}`);
        process.exit(2);
    }
  }
  return a;
}

function optsFor(a: Args, seed: number, peers: number, fullTrace: boolean): SimOptions {
  const o: SimOptions = { seed, peers, chaosMs: a.chaosMs, livenessMs: a.livenessMs, fullTrace };
  if (a.plantBug) o.plantBug = a.plantBug;
  if (a.membership) o.membership = a.membership;
  if (!a.voteCheck) o.checkVoteOnce = false;
  if (!a.durableCheck) o.checkDurableQuorum = false;
  return o;
}

function summary(r: SimResult): string {
  const s = r.stats;
  return `seed ${r.seed}: ${s.simMs.toFixed(0)} simulated ms, ${s.messages} messages (${s.dropped} lost), ${s.crashes} crashes, ${s.overtaken} acknowledgements ahead of the leader's own save, ${s.terms} terms, ${s.proposals} proposals (${s.acked} acknowledged), ${s.reads} reads (${s.readsServed} served), ${s.snapshots} snapshots taken, ${s.installs} installed from a leader, ${s.confChanges} configuration changes, converged ${s.healToConvergeMs.toFixed(0)} ms after healing`;
}

function main(): void {
  const a = parse(process.argv.slice(2));
  if (a.seed !== null) {
    const r = runSim(optsFor(a, a.seed, a.peers[0]!, true));
    console.log(`setup: ${r.setup}`);
    for (const line of r.trace) console.log(line);
    if (r.violation) {
      console.log('');
      console.log(`VIOLATION (${r.violation.kind}) at t=${r.violation.time.toFixed(1)}ms: ${r.violation.message}`);
      process.exit(1);
    }
    console.log(`\nok: ${summary(r)}`);
    return;
  }
  const total = a.seeds * a.peers.length;
  const t0 = performance.now();
  let done = 0;
  let violations = 0;
  let lastReport = t0;
  let worstConverge = 0;
  let snapshots = 0;
  let installs = 0;
  let seedsWithInstall = 0;
  let confChanges = 0;
  let membershipRuns = 0;
  for (const peers of a.peers) {
    for (let seed = a.start; seed < a.start + a.seeds; seed++) {
      const r = runSim(optsFor(a, seed, peers, false));
      done++;
      worstConverge = Math.max(worstConverge, r.stats.healToConvergeMs);
      snapshots += r.stats.snapshots;
      installs += r.stats.installs;
      if (r.stats.installs > 0) seedsWithInstall++;
      confChanges += r.stats.confChanges;
      if (r.stats.confChanges > 0) membershipRuns++;
      if (r.violation) {
        violations++;
        console.log(`\n${failureReport(r)}\n`);
        if (!a.keepGoing) {
          console.log(`stopped at the first violation (use --keep-going to continue); ${done}/${total} seeds run`);
          process.exit(1);
        }
      }
      const now = performance.now();
      if (now - lastReport > 2000) {
        lastReport = now;
        const rate = done / ((now - t0) / 1000);
        console.log(`${done}/${total} seeds, ${rate.toFixed(0)} seeds/s, ${violations} violations`);
      }
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `${done} seeds (peers ${a.peers.join(',')}, seeds ${a.start}..${a.start + a.seeds - 1}) in ${secs.toFixed(1)} s: ${(done / secs).toFixed(0)} seeds/s, ${violations} violations` +
      ` (slowest recovery after healing: ${worstConverge.toFixed(0)} simulated ms; ${snapshots} snapshots taken, ${installs} installed by InstallSnapshot in ${seedsWithInstall} seeds; ${confChanges} configuration changes in ${membershipRuns} seeds)`,
  );
  if (violations > 0) process.exit(1);
}

main();
