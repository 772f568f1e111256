// `npm run chaos -- --plant-bug NAME`: proof that the safety monitor catches a broken law in the
// real peers. The peers run with RAFT_PLANT_BUG=NAME and -v into the monitor's sink, and a
// scripted schedule of faults and election nudges (forced campaigns and kills over the admin
// channel) that exposes that bug runs round after round until the monitor reports a broken law
// or the rounds run out. Random faults rarely expose these bugs in a short run; the schedules do.
import { LAWS, type LawId } from '../../game/relay/monitor/laws.ts';
import { PLANT_BUG_ENV } from '../../peer/planted.ts';
import type { PlantedBug } from '../../peer/raft/types.ts';
import { sleep, startCluster, type ClusterOptions, type TestCluster } from '../support/cluster.ts';
import { MonitorSink, type MonitorReport } from './monitor-sink.ts';
import { figure8Round, truncateRound } from './planted-logs.ts';

type Round = (c: TestCluster, round: number, log: (line: string) => void) => Promise<void>;

async function leaderOf(c: TestCluster): Promise<string | null> {
  const st = await c.statuses().catch(() => []);
  return st.find((s) => s.role === 'leader')?.peer ?? null;
}

/** Two followers campaign at the same instant: with votes granted twice in a term, both win it. */
const doubleVote: Round = async (c, round, log) => {
  const leader = await leaderOf(c);
  const others = c.names.filter((n) => n !== leader);
  const a = others[round % others.length]!;
  const b = others[(round + 1) % others.length]!;
  log(`round ${round + 1}: ${a} and ${b} campaign at once`);
  await Promise.all([c.admin(a, { type: 'campaign' }, 1000), c.admin(b, { type: 'campaign' }, 1000)]).catch(() => {});
  await sleep(800);
};

/** A follower campaigns so that every peer votes in a new term; then a voter is killed and restarted. */
const forgetVote: Round = async (c, round, log) => {
  const leader = await leaderOf(c);
  const others = c.names.filter((n) => n !== leader);
  const candidate = others[round % others.length]!;
  log(`round ${round + 1}: ${candidate} campaigns, the others vote`);
  await c.admin(candidate, { type: 'campaign' }, 1000).catch(() => {});
  await sleep(600);
  const voter = c.names.find((n) => n !== candidate && c.alive(n))!;
  log(`round ${round + 1}: ${voter} is killed and restarted`);
  await c.restart(voter);
  await sleep(1500);
};

/**
 * The leader is cut off and given a write, which it applies at once though it cannot commit it;
 * the others elect a new leader, whose own entries at that index they commit and apply.
 */
const applyUncommitted: Round = async (c, round, log) => {
  const leader = await leaderOf(c);
  if (!leader) return void (await sleep(500));
  const rest = c.names.filter((n) => n !== leader);
  log(`round ${round + 1}: ${leader} (leading) is cut off and asked to set planted=${round}`);
  await c.partition([[leader], rest]);
  await c.request(leader, ['planted', 'set', round], {}, 800).catch(() => {});
  await c.waitForLeader({ among: rest, timeoutMs: 10_000 }).catch(() => {});
  await c.write(['planted', 'set', -round - 1], { among: rest, timeoutMs: 5000 }).catch(() => {});
  log(`round ${round + 1}: the others elected a leader and wrote; healed`);
  await c.heal();
  await sleep(1000);
};

/**
 * The planted bugs that have a schedule here, and the law each is meant to break (the rounds go
 * on until the monitor reports that one); the others live in the simulator only.
 */
export const PLANT_SCHEDULES: Partial<Record<PlantedBug, Schedule>> = {
  double_vote: { law: 'election_safety', round: doubleVote },
  forget_vote_on_restart: { law: 'one_vote_per_term', round: forgetVote },
  apply_uncommitted: { law: 'state_machine_safety', round: applyUncommitted },
  // Figure 8 needs entries to reach a lagging follower one append at a time.
  commit_previous_term: {
    law: 'leader_completeness',
    round: figure8Round,
    peers: 5,
    limits: '[limits]\nmax_frame_bytes = 65536\nmax_entries_per_append = 1\nmax_inflight_appends = 1',
  },
  truncate_committed: { law: 'leader_completeness', round: truncateRound, peers: 5 },
};

interface Schedule {
  law: LawId;
  round: Round;
  /** The number of peers the schedule is written for (it refuses others). */
  peers?: number;
  /** The cluster's [limits] section, when the schedule needs other than the tests' default. */
  limits?: ClusterOptions['limits'];
}

export interface PlantedOptions {
  bug: PlantedBug;
  peers: number;
  /** Rounds of the schedule at most (default 10). */
  rounds?: number;
  log?: (line: string) => void;
  /** Where the monitor writes evidence files (default: none, the cluster's directory is removed). */
  evidenceDir?: string | null;
  /** Run the schedule with the bug off: a control, in which the monitor must see no law broken. */
  honest?: boolean;
}

export interface PlantedReport {
  bug: PlantedBug;
  /** The law the schedule is meant to break. */
  law: LawId;
  rounds: number;
  monitor: MonitorReport;
}

export async function runPlanted(o: PlantedOptions): Promise<PlantedReport> {
  const schedule = PLANT_SCHEDULES[o.bug];
  if (!schedule) throw new Error(`no fault schedule for the planted bug ${o.bug}; there is one for ${Object.keys(PLANT_SCHEDULES).join(', ')}`);
  if (schedule.peers !== undefined && o.peers !== schedule.peers) throw new Error(`the fault schedule for ${o.bug} is written for ${schedule.peers} peers, not ${o.peers}`);
  const log = o.log ?? (() => {});
  const c = await startCluster({ peers: o.peers, verbose: true, start: false, env: o.honest ? {} : { [PLANT_BUG_ENV]: o.bug }, ...(schedule.limits ? { limits: schedule.limits } : {}) });
  const started = performance.now();
  let sink: MonitorSink | null = null;
  try {
    sink = await MonitorSink.start({
      config: c.config,
      now: () => performance.now() - started,
      evidenceDir: o.evidenceDir ?? null,
      onViolation: (v, file) => log(`LAW BROKEN: ${LAWS[v.law].name}. ${v.message}${file ? ` Evidence: ${file}` : ''}`),
    });
    c.startAll();
    log(`planted bug ${o.bug}: ${o.peers} peers ${o.honest ? 'without it (a control)' : `with ${PLANT_BUG_ENV}=${o.bug}`}; cluster in ${c.dir}`);
    // A planted bug may make two leaders in the very first election: any one will do.
    const until = performance.now() + 30_000;
    while ((await leaderOf(c)) === null) {
      if (performance.now() > until) throw new Error('no leader was elected in 30 s');
      await sleep(100);
    }
    const rounds = o.rounds ?? 10;
    let done = 0;
    const seen = () => sink!.report().violations.some((v) => v.law === schedule.law);
    while (done < rounds && !seen()) {
      await schedule.round(c, done, log);
      done++;
    }
    return { bug: o.bug, law: schedule.law, rounds: done, monitor: sink.report() };
  } finally {
    await c.teardown();
    await sink?.close();
  }
}
