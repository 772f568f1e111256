// Fault schedules for the planted bugs that lose committed entries: commit_previous_term (the
// Raft paper's Figure 8, played with real processes) and truncate_committed. Each round starts
// from a settled five-peer cluster and steers it with partitions, delivery delays and forced
// campaigns over the admin channel; the trigger points are states the peers report (a vote, a
// log length), never the planted bug itself, so an honest cluster goes through the same steps
// and breaks no law.
import { sleep, type TestCluster } from '../support/cluster.ts';
import { campaignUntilLeader, cutOff, delayInto, openClients, poll, settle, statusOf } from './steering.ts';

type Log = (line: string) => void;

/** Old-term entries the Figure 8 leader writes while cut off with one follower. */
const OLD_ENTRIES = 8;
/** Delay into the peer whose replies must come late; below the election timeout (300 ms in tests). */
const SLOW_MS = 150;

/**
 * Figure 8 of the Raft paper, §5.4.2, with five peers A (the leader) and B, C, D, E:
 * (a) A is cut off with B and writes entries that reach B only;
 * (b) E is elected by C and D in a later term, and cut off before its own entry (its no-op)
 *     reaches them;
 * (c) A (or B) leads a later term with C's vote and replicates the old entries to C one by one
 *     (one entry per append, one append in flight, C's messages delayed): a majority (A, B, C)
 *     holds an old-term entry before the new leader's no-op gets past B. A leader that commits
 *     it by counting replicas (the planted bug) reports it committed. C is cut off while it
 *     holds some of the old entries and not the no-op;
 * (d) the leader is cut off, and E, whose log ends in a later term than C's and D's, wins them
 *     over: it leads without the "committed" entries, and would overwrite them (Leader
 *     Completeness). An honest leader of (c) commits nothing, and (d) is then legal.
 */
export async function figure8Round(c: TestCluster, round: number, log: Log): Promise<void> {
  const start = await settle(c, round);
  if (!start) return log(`round ${round + 1}: the cluster did not settle; next round`);
  const a = start.leader;
  const [b, cc, d, e] = c.names.filter((n) => n !== a) as [string, string, string, string];
  const k0 = start.last;

  // (a) A and B apart; A writes entries of its term that only B stores.
  log(`round ${round + 1} (a): ${a} (leading) and ${b} cut off from ${cc}, ${d}, ${e}; ${a} is given ${OLD_ENTRIES} writes`);
  const clients = await openClients(c, a, OLD_ENTRIES);
  await c.partition([[a, b], [cc], [d], [e]]);
  for (let i = 0; i < OLD_ENTRIES; i++) clients.send(['planted', 'set', `old${round}.${i}`]);
  // At least two of them (A steps down within an election timeout or two, CheckQuorum).
  const got = await poll(async () => {
    const sb = await statusOf(c, b);
    return sb && sb.lastIndex > k0 + 1 ? sb : null;
  }, 3000);
  if (!got) {
    clients.close();
    return log(`round ${round + 1}: ${b} did not receive ${a}'s entries; next round`);
  }
  await sleep(300);
  clients.close();
  const held = (await statusOf(c, b)) ?? got;
  const oldTerm = held.lastTerm;
  log(`round ${round + 1} (a): ${a} and ${b} hold entries ${k0 + 1}..${held.lastIndex} of term ${oldTerm}`);

  // (b) E is elected by C and D; its replies come late, and it is cut off before it can send.
  await delayInto(c, e, 250);
  await c.partition([[a, b], [cc, d, e]]);
  await c.admin(e, { type: 'campaign' }, 1000).catch(() => {});
  const voted = await poll(async () => {
    const [se, sc, sd] = await Promise.all([statusOf(c, e), statusOf(c, cc), statusOf(c, d)]);
    return se && sc && sd && sc.vote === e && sd.vote === e && sc.term === se.term && sd.term === se.term ? se.term : null;
  }, 1000, 5);
  await cutOff(c, e);
  if (voted === null) return log(`round ${round + 1}: ${cc} and ${d} did not vote for ${e}; next round`);
  const eLeads = await poll(async () => {
    const s = await statusOf(c, e);
    return s && s.role === 'leader' && s.term === voted ? s : null;
  }, 1500);
  const [sc0, sd0] = await Promise.all([statusOf(c, cc), statusOf(c, d)]);
  if (!eLeads || eLeads.lastIndex !== k0 + 1 || !sc0 || !sd0 || sc0.lastIndex !== k0 || sd0.lastIndex !== k0) {
    return log(`round ${round + 1}: ${e} did not lead term ${voted} with an entry of its own only; next round`);
  }
  log(`round ${round + 1} (b): ${e} led term ${voted} with votes of ${cc} and ${d}; its entry ${k0 + 1} reached no one`);
  await delayInto(c, e, 0);

  // (c) A or B leads a later term with C's vote; C receives the old entries slowly.
  await c.partition([[a, b, cc], [d], [e]]);
  await delayInto(c, cc, SLOW_MS);
  const p = (await campaignUntilLeader(c, a, voted)) ?? (await campaignUntilLeader(c, b, voted, 2));
  if (!p) return log(`round ${round + 1}: neither ${a} nor ${b} was elected after term ${voted}; next round`);
  log(`round ${round + 1} (c): ${p.peer} leads term ${p.term} and sends the old entries to ${cc}, one at a time`);
  const trigger = await poll(async () => {
    const [sp, sc] = await Promise.all([statusOf(c, p.peer), statusOf(c, cc)]);
    if (!sp || !sc) return null;
    if (sc.lastTerm > oldTerm) return 'late';
    return sc.lastIndex >= k0 + 2 || sp.commitIndex > k0 ? sp : null;
  }, 3000);
  await cutOff(c, cc);
  if (trigger === null || trigger === 'late') return log(`round ${round + 1}: ${cc} did not get the old entries before the new term's; next round`);
  const sc1 = await statusOf(c, cc);
  const sp1 = await statusOf(c, p.peer);
  log(
    `round ${round + 1} (c): ${cc} cut off holding entries through ${sc1?.lastIndex ?? '?'} of term ${sc1?.lastTerm ?? '?'}; ` +
      `${p.peer} reports commit index ${sp1?.commitIndex ?? '?'}${(sp1?.commitIndex ?? 0) > k0 ? ' (an old-term entry, counted by replicas)' : ''}`,
  );

  // (d) The leader is cut off; E, with the newest last term among C, D and itself, wins them.
  await c.partition([[a], [b], [cc, d, e]]);
  await Promise.all([delayInto(c, cc, 0), delayInto(c, e, 0)]);
  const won = await campaignUntilLeader(c, e, p.term, 8);
  log(won ? `round ${round + 1} (d): ${e} leads term ${won.term} with a log that ends at ${won.lastIndex}` : `round ${round + 1} (d): ${e} was not elected`);
  await sleep(800);
}

/**
 * A follower that takes each append as the end of its log (truncate_committed) is made to cut off
 * entries it acknowledged, and then elected without them. Five peers: L (the leader), F, G, H, I.
 * H and I are cut off; L, F and G go on writing, so every commit needs F's acknowledgement. F's
 * messages arrive late and so do L's, so L's heartbeats name a match index for F that is stale by
 * the time they arrive, and a rejection from F takes a while to be answered. The moment F's log
 * ends below L's commit index, L is cut off; F then campaigns with H and I, whose logs are
 * shorter: it leads without entries a majority had acknowledged (Leader Completeness). An honest
 * follower's log never ends below a commit index it helped make, and F never gets there.
 */
export async function truncateRound(c: TestCluster, round: number, log: Log): Promise<void> {
  const start = await settle(c, round);
  if (!start) return log(`round ${round + 1}: the cluster did not settle; next round`);
  const l = start.leader;
  const [f, g, h, i] = c.names.filter((n) => n !== l) as [string, string, string, string];
  log(`round ${round + 1}: ${h} and ${i} cut off; ${l} (leading), ${f} and ${g} take writes, messages into ${f} and ${l} delayed`);
  await c.partition([[l, f, g], [h], [i]]);
  await Promise.all([delayInto(c, f, SLOW_MS), delayInto(c, l, 200)]);

  let writing = true;
  let n = 0;
  const writer = async () => {
    while (writing) await c.request(l, ['planted', 'set', `w${round}.${n++}`], {}, 2000).catch(() => sleep(20));
  };
  const writers = Array.from({ length: 6 }, writer);
  const cut = await poll(async () => {
    // L first: every entry L counted F's acknowledgement for was in F's log before L's answer.
    const sl = await statusOf(c, l);
    const sf = sl && (await statusOf(c, f));
    return sl && sf && sl.role === 'leader' && sf.lastIndex < sl.commitIndex ? { f: sf.lastIndex, commit: sl.commitIndex } : null;
  }, 8000, 10);
  await cutOff(c, l);
  writing = false;
  await Promise.all(writers);
  if (!cut) return log(`round ${round + 1}: ${f}'s log never ended below ${l}'s commit index; next round`);
  const sf = await statusOf(c, f);
  const sl = await statusOf(c, l);
  log(`round ${round + 1}: ${f}'s log ends at ${sf?.lastIndex ?? '?'}, ${l} has committed through ${sl?.commitIndex ?? '?'}; ${l} cut off`);
  await c.partition([[l], [g], [f, h, i]]);
  await delayInto(c, f, 0);
  const won = await campaignUntilLeader(c, f, sf?.term ?? 0);
  log(won ? `round ${round + 1}: ${f} leads term ${won.term} with a log that ends at ${won.lastIndex}` : `round ${round + 1}: ${f} was not elected`);
  await sleep(800);
}
