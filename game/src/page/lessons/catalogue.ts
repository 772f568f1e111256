// The ten lessons: each a script of real actions on the live cluster, captions citing the Raft
// paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm": §) or the
// dissertation (Ongaro, "Consensus: Bridging Theory and Practice": dissertation §), waits on
// what the model and the events show, and pauses at the key moments. A caption says only what
// the model has shown (names and numbers filled in from it); when the cluster goes another way
// the lesson says what really happened, and goes on or offers to run again.
import { appendAcks, appendedAt, candidatesIn, commitsOf, helloOf, leadersSince, preVoteRequests, votesFor } from './journal.ts';
import { commandResult, living, majority, newLeader, settledLeader, tile, type Lesson, type LessonAction, type LessonContext } from './runner.ts';

/**
 * A request sent while the script goes on: its command result once answered (the waits are
 * checked again then). A failure to carry it out is thrown by the next result() call, so it
 * ends the lesson the way a failed act would.
 */
function inBackground(ctx: LessonContext, action: LessonAction) {
  let answer: ReturnType<typeof commandResult> = null;
  let failure: unknown = null;
  const promise = ctx.act(action).then(
    (r) => {
      answer = commandResult(r);
      ctx.recheck();
      return answer;
    },
    (e: unknown) => {
      failure = e;
      ctx.recheck();
      return null;
    },
  );
  const settledPromise = promise.then((r) => {
    if (failure) throw failure;
    return r;
  });
  // A lesson that never awaits it (or stops first) learns of a failure through result().
  settledPromise.catch(() => {});
  return {
    promise: settledPromise,
    result: () => {
      if (failure) throw failure;
      return answer;
    },
  };
}

const settled = (ctx: LessonContext) => ctx.waitFor(() => settledLeader(ctx.model), 'the village settles with one leader that every villager follows');
const list = (names: readonly string[]) => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`);
const numberOf = (v: unknown) => (typeof v === 'number' ? v : 0);
const followers = (ctx: LessonContext, leader: string) => ctx.model.names().filter((n) => n !== leader);

/** Waits for the village to elect a leader above `term`, and says who won with whose votes. */
async function electionResult(ctx: LessonContext, mark: number, term: number, except: string[] = []) {
  const w = await ctx.waitFor(() => newLeader(ctx.model, term, except), `a new leader is elected in a term above ${term}`);
  const voters = await ctx.waitFor(() => {
    const v = votesFor(ctx.journal.since(mark), w.name, w.term);
    return v.length >= majority(ctx.model) ? v : null;
  }, `${w.name}'s granted votes in term ${w.term} (a majority) are heard`);
  return { name: w.name, term: w.term, voters };
}

const electing: Lesson = {
  id: 'election',
  title: 'Electing a leader',
  cite: '§5.2',
  async run(ctx) {
    const l = await settled(ctx);
    const t0 = l.term;
    const n = ctx.model.peers.size;
    ctx.caption(`${l.name} leads term ${t0}; the other ${n - 1} villagers follow it. A follower's election timer (the ring) restarts each time a heartbeat from the leader arrives.`, '§5.2');
    await ctx.pause();
    const f = followers(ctx, l.name)[0]!;
    ctx.caption(`We make ${f}'s timer run out now (a forced election at ${f}). A candidate adds one to its term, votes for itself and asks every other villager for its vote.`, '§5.2');
    const mark = ctx.journal.mark();
    // What the election does is read from the model; the relay's reply may come later than that.
    const asked = inBackground(ctx, { kind: 'campaign', peer: f });
    const t1 = await ctx.waitFor(() => {
      asked.result();
      const p = ctx.model.peers.get(f)!;
      return p.term > t0 && p.vote === f ? p.term : null;
    }, `${f} moves to a term above ${t0} and votes for itself`);
    ctx.caption(`${f} is a candidate in term ${t1} and voted for itself. Each voter grants one vote per term, first come, first served, and only to a candidate whose log is at least as up to date as its own.`, '§5.2, §5.4.1');
    const won = await electionResult(ctx, mark, t0);
    if (won.name === f && won.term === t1) {
      ctx.claim(won.voters.length >= majority(ctx.model), `${f} won term ${t1} with the votes of ${list(won.voters)}: ${won.voters.length} of ${n}, a majority (${majority(ctx.model)}). It became the leader.`, '§5.2');
    } else {
      ctx.caption(`Not ${f}: ${won.name} won term ${won.term} with the votes of ${list(won.voters)} (${won.voters.length} of ${n}). Another timer ran out too, and that candidate collected a majority first.`, '§5.2');
    }
    await ctx.pause();
    const s = await settled(ctx);
    ctx.claim(s.term >= won.term, `Every villager now follows ${s.name} in term ${s.term}: one leader per term (Election Safety).`, '§5.2, Figure 3');
  },
};

const reelect: Lesson = {
  id: 'crash',
  title: 'The leader crashes and the village re-elects',
  cite: '§5.2',
  async run(ctx) {
    const l = await settled(ctx);
    const t0 = l.term;
    ctx.caption(`${l.name} leads term ${t0}. We kill its process (a real SIGKILL).`, '§5.2');
    await ctx.pause();
    const mark = ctx.journal.mark();
    await ctx.act({ kind: 'kill', peer: l.name });
    await ctx.waitFor(() => ctx.model.peers.get(l.name)!.process === 'down', `${l.name}'s process is down`);
    ctx.caption(`${l.name} is dead: no more heartbeats. A follower whose timer runs out first asks whether it could win (PreVote), then starts an election.`, '§5.2, dissertation §9.6');
    const won = await electionResult(ctx, mark, t0, [l.name]);
    ctx.claim(won.voters.length >= majority(ctx.model), `${won.name} won term ${won.term} with the votes of ${list(won.voters)}: ${won.voters.length} of ${ctx.model.peers.size} — a majority even with ${l.name} dead.`, '§5.2');
    await ctx.pause();
    await ctx.act({ kind: 'revive', peer: l.name });
    const back = await ctx.waitFor(() => {
      const p = ctx.model.peers.get(l.name)!;
      const lead = ctx.model.leader();
      return p.process === 'up' && p.reporting && p.role === 'follower' && lead && p.leader === lead.name && p.term === lead.term ? { term: p.term, leader: lead.name } : null;
    }, `${l.name} comes back and follows the new leader`);
    ctx.claim(back.term > t0, `${l.name} came back from its disk, learned the newer term ${back.term} and follows ${back.leader}: a server that sees a newer term becomes a follower.`, '§5.1');
  },
};

const replication: Lesson = {
  id: 'replication',
  title: 'Replication and commit: x add 100',
  cite: '§5.3',
  async run(ctx) {
    const l = await settled(ctx);
    const before = numberOf(ctx.model.kv.x);
    ctx.caption(`We type "x add 100" in the console. The console's client sends it to the leader, ${l.name} (term ${l.term}); only the leader takes commands.`, '§5.1, §5.3');
    await ctx.pause();
    const mark = ctx.journal.mark();
    const reply = ctx.act({ kind: 'console', line: 'x add 100' });
    reply.catch(() => {}); // awaited below; a lesson that stops before then leaves it unread
    const at = await ctx.waitFor(() => appendedAt(ctx.journal.since(mark), l.name, 'x add 100'), `${l.name} appends x add 100 to its log`);
    ctx.caption(`${l.name} appended "x add 100" at index ${at.index} in term ${at.term} (an outlined tile: not committed yet) and sends it to the followers in AppendEntries.`, '§5.3');
    await ctx.pause();
    const committed = await ctx.waitFor(() => {
      const c = commitsOf(ctx.journal.since(mark), l.name).find((i) => i >= at.index);
      return c === undefined ? null : c;
    }, `${l.name} commits index ${at.index}`);
    const acks = appendAcks(ctx.journal.since(mark), l.name);
    const maj = majority(ctx.model);
    ctx.claim(acks.length + 1 >= maj, `${list(acks)} stored it and said so; with ${l.name} itself that is ${acks.length + 1} of ${ctx.model.peers.size}, a majority: ${l.name} marked it committed (commit index ${committed}) and applied it.`, '§5.3');
    const r = await reply;
    const value = r.value;
    await ctx.waitFor(() => ctx.model.kv.x === value, `the board shows x = ${JSON.stringify(value)}`);
    ctx.claim(value === before + 100, `The console got ${JSON.stringify(value)} back (x was ${before}), and the board shows x = ${JSON.stringify(value)}.`, '§5.3');
    await ctx.pause();
    await ctx.waitFor(() => living(ctx.model).every((p) => p.appliedIndex >= at.index), `every villager applies index ${at.index}`);
    ctx.caption(`The followers learned the commit index from the leader's next AppendEntries and applied index ${at.index} too: every villager's log has a solid tile there.`, '§5.3');
  },
};

const splitVote: Lesson = {
  id: 'split-vote',
  title: 'A split vote',
  cite: '§5.2',
  async run(ctx) {
    const l = await settled(ctx);
    const t0 = l.term;
    const names = ctx.model.names();
    const n = names.length;
    ctx.caption(`Elections can split. We start an election at all ${n} villagers at the same moment, as if their timers had run out together: each votes for itself, and a villager gives one vote per term.`, '§5.2');
    await ctx.pause();
    const mark = ctx.journal.mark();
    await Promise.all(names.map((p) => ctx.act({ kind: 'campaign', peer: p })));
    const won = await electionResult(ctx, mark, t0);
    const events = ctx.journal.since(mark);
    const t1 = t0 + 1;
    const leaders1 = leadersSince(events).filter((x) => x.term === t1);
    const cands = candidatesIn(events, t1);
    if (leaders1.length > 0 || won.term === t1) {
      ctx.retry(`${won.term === t1 ? won.name : leaders1[0]!.peer} won term ${t1} with ${list(won.term === t1 ? won.voters : votesFor(events, leaders1[0]!.peer, t1))}: the elections did not start close enough together for the vote to split`);
    }
    const tally = cands.map((c) => `${c} ${votesFor(events, c, t1).length}`);
    ctx.claim(cands.length >= 2, `In term ${t1} ${cands.length} candidates asked for votes — ${tally.join(', ')} vote(s) — and none reached a majority (${majority(ctx.model)} of ${n}): term ${t1} has no leader.`, '§5.2');
    await ctx.pause();
    ctx.claim(won.term > t1, `Election timers are random (${ctx.model.timing?.electionMinMs ?? '?'}–${ctx.model.timing?.electionMaxMs ?? '?'} ms), so one ran out first: ${won.name} won term ${won.term} with the votes of ${list(won.voters)}.`, '§5.2');
  },
};

const partition: Lesson = {
  id: 'partition',
  title: 'A partition: the minority cannot commit',
  cite: '§5.3, §5.4',
  async run(ctx) {
    const l = await settled(ctx);
    const t0 = l.term;
    const before = numberOf(ctx.model.kv.p);
    ctx.caption(`We cut the leader ${l.name} off from the others: a partition with ${l.name} alone on the minority side and ${ctx.model.peers.size - 1} villagers on the other.`, '§5.3');
    await ctx.pause();
    const mark = ctx.journal.mark();
    // The cut starts at the leader itself, in the relay's turn that sends the command, so the
    // command arrives before the leader can notice it is alone (CheckQuorum) and step down.
    const sent = inBackground(ctx, { kind: 'request', peer: l.name, command: ['p', 'add', '1'], timeoutMs: 5000, cutOff: followers(ctx, l.name) });
    await ctx.act({ kind: 'isolate', peer: l.name });
    const at = await ctx.waitFor(() => {
      const answered = sent.result();
      if (answered && answered.error === 'not_leader') return 'too late';
      const p = ctx.model.peers.get(l.name)!;
      const t = p.log.find((x) => x.label === 'p add 1' && x.term === t0 && x.index > p.commitIndex);
      return t ?? null;
    }, `${l.name} appends p add 1 to its log`);
    if (at === 'too late') return ctx.retry(`${l.name} had already stepped down before the command reached it`);
    const lp = ctx.model.peers.get(l.name)!;
    ctx.claim(lp.commitIndex < at.index, `A client sent "p add 1" to ${l.name}, which still thinks it leads: it appended it at index ${at.index} (term ${t0}) but cannot reach a majority, so its commit index stays ${lp.commitIndex}.`, '§5.3');
    await ctx.pause();
    const won = await electionResult(ctx, mark, t0, [l.name]);
    ctx.caption(`On the majority side ${won.name} won term ${won.term} with the votes of ${list(won.voters)}.`, '§5.2');
    const down = await ctx.waitFor(() => {
      const p = ctx.model.peers.get(l.name)!;
      return p.role !== 'leader' ? { term: p.term } : null;
    }, `${l.name} stops acting as leader`);
    ctx.claim(down.term === t0, `${l.name} stepped down by itself, still in term ${t0}: it had not heard from a majority for an election timeout (CheckQuorum).`, 'dissertation §6.2');
    const res = await sent.promise;
    ctx.caption(res ? `The client's request to ${l.name} ended with "${res.ok ? 'ok' : res.error}"${res.ok ? '' : ': the outcome is unknown to the client, it may or may not take effect'}.` : `The client got no usable answer from ${l.name}.`, '§8');
    await ctx.pause();
    const r5 = await ctx.act({ kind: 'console', line: 'p add 5' });
    ctx.claim(r5.ok && r5.value === before + 5, `Through the majority, "p add 5" committed: p = ${JSON.stringify(r5.value)} (it was ${before}).`, '§5.3');
    await ctx.act({ kind: 'heal' });
    const rep = await ctx.waitFor(() => {
      const p = ctx.model.peers.get(l.name)!;
      const lead = ctx.model.leader();
      const t = tile(ctx.model, l.name, at.index);
      return lead && p.leader === lead.name && t && t.term !== t0 && p.commitIndex >= at.index ? { t, lead: lead.name } : null;
    }, `${l.name} rejoins and its uncommitted entry at index ${at.index} is replaced`);
    await ctx.waitFor(() => ctx.model.kv.p === before + 5, `the board still shows p = ${before + 5}`);
    ctx.claim(ctx.model.kv.p === before + 5, `Healed: ${l.name} follows ${rep.lead}, and its entry at index ${at.index} (term ${t0}, p add 1) was replaced by the leader's (term ${rep.t.term}, ${rep.t.label}). p add 1 was never applied: p = ${before + 5}.`, '§5.3');
  },
};

const figure8: Lesson = {
  id: 'figure-8',
  title: 'Figure 8: commit by counting only in your own term',
  cite: '§5.4.2',
  async run(ctx) {
    const l = await settled(ctx);
    const t0 = l.term;
    const others = followers(ctx, l.name);
    const keep = others[0]!;
    const gone = others.slice(1);
    const before = numberOf(ctx.model.kv.f);
    if (others.length < 3) ctx.caption(`This lesson needs at least four villagers; this village has ${others.length + 1}.`);
    ctx.caption(`Figure 8 of the paper shows why a leader may not call an entry of an earlier term committed just because a majority holds it. We build the start of it: an entry of term ${t0} that only ${l.name} and ${keep} hold.`, '§5.4.2, Figure 8');
    await ctx.pause();
    // The leader stops hearing them first (its own faults, in the turn that sends the command),
    // so the command arrives before it can notice it has no majority and step down.
    const sent = inBackground(ctx, { kind: 'request', peer: l.name, command: ['f', 'add', '1'], timeoutMs: 3000, cutOff: gone });
    await Promise.all(gone.map((p) => ctx.act({ kind: 'kill', peer: p })));
    const at = await ctx.waitFor(() => {
      const answered = sent.result();
      if (answered && answered.error === 'not_leader') return 'too late';
      const a = ctx.model.peers.get(l.name)!.log.find((x) => x.label === 'f add 1' && x.term === t0 && x.index > ctx.model.peers.get(l.name)!.commitIndex);
      return a && tile(ctx.model, keep, a.index)?.term === t0 ? a : null;
    }, `${l.name} appends f add 1 and ${keep} stores it`);
    if (at === 'too late') return ctx.retry(`${l.name} had stepped down before "f add 1" reached it`);
    const cl = ctx.model.peers.get(l.name)!.commitIndex;
    const ck = ctx.model.peers.get(keep)!.commitIndex;
    ctx.claim(cl < at.index && ck < at.index, `With ${list(gone)} killed, ${l.name} appended "f add 1" at index ${at.index} (term ${t0}) and ${keep} stored it: 2 of ${others.length + 1}, no majority, so nobody committed it (commit indexes ${cl} and ${ck}).`, '§5.3');
    await sent.promise;
    await ctx.pause();
    ctx.caption(`Now ${l.name} dies and ${list(gone)} come back. We start an election at ${keep}, the one survivor holding the term-${t0} entry.`, '§5.4.1');
    const mark = ctx.journal.mark();
    await ctx.act({ kind: 'kill', peer: l.name });
    await Promise.all(gone.map((p) => ctx.act({ kind: 'revive', peer: p })));
    await ctx.waitFor(() => gone.every((p) => ctx.model.peers.get(p)!.reporting && ctx.model.peers.get(p)!.process === 'up'), `${list(gone)} are up again`);
    if (!newLeader(ctx.model, t0, [l.name])) await ctx.act({ kind: 'campaign', peer: keep });
    const won = await electionResult(ctx, mark, t0, [l.name]);
    if (won.name !== keep) {
      const gone1 = await ctx.waitFor(() => {
        const t = tile(ctx.model, keep, at.index);
        return t && t.term !== t0 ? t : null;
      }, `${keep}'s entry at index ${at.index} is replaced by ${won.name}'s`);
      ctx.caption(`${won.name} won term ${won.term} (votes of ${list(won.voters)}) without holding "f add 1": its log was up to date enough for a majority. It replaced ${keep}'s entry at index ${at.index} with its own (term ${gone1.term}). This is why an entry on a minority is never committed: a leader without it can still be elected and overwrite it.`, '§5.4.1, Figure 8');
    } else {
      const noop = await ctx.waitFor(() => {
        const t = tile(ctx.model, keep, at.index + 1);
        return t && t.term === won.term ? t : null;
      }, `${keep} appends an entry of its own term ${won.term} after index ${at.index}`);
      ctx.caption(`${keep} won term ${won.term} (votes of ${list(won.voters)}). Its log holds "f add 1" of term ${t0} at index ${at.index}, and it appended its own ${noop.label} at index ${noop.index} (term ${won.term}).`, '§5.4.2');
      await ctx.pause();
      const commits = await ctx.waitFor(() => {
        const c = commitsOf(ctx.journal.since(mark), keep);
        return c.some((i) => i >= noop.index) ? c : null;
      }, `${keep} commits index ${noop.index}`);
      const first = commits.find((i) => i >= at.index)!;
      ctx.claim(first >= noop.index, `${keep} never committed index ${at.index} by counting copies of the term-${t0} entry: its commit index went from ${commits.filter((i) => i < at.index).pop() ?? ck} straight to ${first}, when its own term-${won.term} entry reached a majority; "f add 1" was committed with it, as everything before a committed entry is (Log Matching).`, '§5.4.2');
      await ctx.waitFor(() => ctx.model.kv.f === before + 1, `the board shows f = ${before + 1}`);
      ctx.caption(`The board shows f = ${before + 1}. Had ${keep} counted replicas of the term-${t0} entry alone, Figure 8 shows a case where a later leader without it could still overwrite it.`, 'Figure 8');
    }
    await ctx.pause();
    await ctx.act({ kind: 'revive', peer: l.name });
    await ctx.act({ kind: 'heal' });
    const s = await settled(ctx);
    ctx.caption(`${l.name} is back; every villager follows ${s.name} in term ${s.term}.`, '§5.2');
  },
};

const preVote: Lesson = {
  id: 'prevote',
  title: 'PreVote and CheckQuorum: a villager cut off comes back quietly',
  cite: 'dissertation §9.6',
  async run(ctx) {
    const l = await settled(ctx);
    const t0 = l.term;
    const f = followers(ctx, l.name)[0]!;
    ctx.caption(`A villager cut off from the others keeps timing out. In plain Raft it would raise its term each time, and on its return its high term would depose a healthy leader. With PreVote it first asks "would you vote for me?" and raises its term only if a majority would. We isolate ${f}.`, 'dissertation §9.6');
    await ctx.pause();
    const mark = ctx.journal.mark();
    await ctx.act({ kind: 'isolate', peer: f });
    const asked = await ctx.waitFor(() => {
      const k = preVoteRequests(ctx.journal.since(mark), f);
      return k >= 2 * (ctx.model.peers.size - 1) ? k : null;
    }, `${f}'s timer runs out and it asks for pre-votes, more than once`);
    const fp = ctx.model.peers.get(f)!;
    ctx.claim(fp.term === t0, `Cut off, ${f}'s timer ran out again and again: it has asked for pre-votes ${asked} times (one request per villager per round), and its term is still ${t0}: a pre-vote raises no term.`, 'dissertation §9.6');
    await ctx.pause();
    await ctx.act({ kind: 'heal' });
    await ctx.waitFor(() => {
      const p = ctx.model.peers.get(f)!;
      return p.blocked.length === 0 && p.role === 'follower' && p.leader === l.name;
    }, `${f} rejoins and follows ${l.name}`);
    const lp = ctx.model.peers.get(l.name)!;
    ctx.claim(lp.role === 'leader' && lp.term === t0, `Healed: ${f} follows ${l.name} again, and ${l.name} still leads term ${t0}. The return disturbed nobody.`, 'dissertation §9.6');
    await ctx.pause();
    ctx.caption(`The other half: a leader cut off from the majority. We isolate ${l.name}.`, 'dissertation §6.2');
    await ctx.act({ kind: 'isolate', peer: l.name });
    const down = await ctx.waitFor(() => {
      const p = ctx.model.peers.get(l.name)!;
      return p.role !== 'leader' ? { term: p.term } : null;
    }, `${l.name} stops acting as leader`);
    ctx.claim(down.term === t0, `${l.name} stepped down on its own, still in term ${t0}: it had not heard from a majority within an election timeout (CheckQuorum). Clients asking it learn at once that it does not lead.`, 'dissertation §6.2');
    const w = await ctx.waitFor(() => newLeader(ctx.model, t0, [l.name]), 'the majority elects a new leader');
    ctx.caption(`Meanwhile the majority elected ${w.name} in term ${w.term}.`, '§5.2');
    await ctx.pause();
    await ctx.act({ kind: 'heal' });
    const s = await settled(ctx);
    ctx.caption(`Healed: every villager follows ${s.name} in term ${s.term}.`, '§5.2');
  },
};

const recovery: Lesson = {
  id: 'recovery',
  title: 'Crash and recovery: what survives on disk',
  cite: 'Figure 2, §5.1',
  async run(ctx) {
    const l = await settled(ctx);
    const f = followers(ctx, l.name)[1] ?? followers(ctx, l.name)[0]!;
    const fp = ctx.model.peers.get(f)!;
    const pre = { term: fp.term, vote: fp.vote, last: fp.lastIndex };
    ctx.caption(`A peer keeps its current term, its vote and its log on stable storage, written before it answers; its commit index, applied index and key-value store live in memory and are rebuilt. ${f} now: term ${pre.term}, vote ${pre.vote ?? 'none'}, log through index ${pre.last}. We kill it.`, 'Figure 2');
    await ctx.pause();
    await ctx.act({ kind: 'kill', peer: f });
    await ctx.waitFor(() => ctx.model.peers.get(f)!.process === 'down', `${f} is down`);
    const values: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await ctx.act({ kind: 'console', line: 'r add 1' });
      if (!r.ok) ctx.retry(`"r add 1" did not commit: ${r.text}`);
      values.push(r.value);
    }
    const leader = ctx.model.leader()!;
    const target = leader.commitIndex;
    ctx.caption(`While ${f} was down the others committed "r add 1" three times (r = ${values.map((v) => JSON.stringify(v)).join(', ')}); the leader's commit index is ${target}.`, '§5.3');
    await ctx.pause();
    const mark = ctx.journal.mark();
    await ctx.act({ kind: 'revive', peer: f });
    const hello = await ctx.waitFor(() => helloOf(ctx.journal.since(mark), f), `${f} restarts and reports`);
    const rec = hello.recovered;
    if (rec) {
      ctx.claim(rec.term >= pre.term && rec.lastIndex >= pre.last, `${f} restarted (pid ${hello.pid}) and read from its disk: term ${rec.term}, vote ${rec.vote ?? 'none'}, log through index ${rec.lastIndex} (term ${rec.lastTerm})${rec.term === pre.term && rec.vote === pre.vote && rec.lastIndex === pre.last ? ' — exactly what it held when it was killed' : ''}. Its commit index starts at ${rec.commit}: not kept on disk with the log, learned again from the leader.`, 'Figure 2');
    } else {
      ctx.caption(`${f} restarted (pid ${hello.pid}) from its data directory (this peer does not report what it recovered).`, 'Figure 2');
    }
    await ctx.pause();
    await ctx.waitFor(() => {
      const p = ctx.model.peers.get(f)!;
      return p.lastIndex >= target && p.appliedIndex >= target;
    }, `${f} catches up to index ${target}`);
    const peek = await ctx.act({ kind: 'peek', peer: f });
    const kv = (peek.value as { kv?: Record<string, unknown> } | undefined)?.kv ?? {};
    ctx.claim(peek.ok && kv.r === values[values.length - 1], `The leader sent ${f} the entries it missed; ${f} applied its log through index ${target} and rebuilt its store: its own copy says r = ${JSON.stringify(kv.r)}, as the village does.`, '§5.3');
  },
};

const reads: Lesson = {
  id: 'reads',
  title: 'Linearizable reads against a stale one',
  cite: 'dissertation §6.4',
  async run(ctx) {
    const l = await settled(ctx);
    const f = followers(ctx, l.name)[0]!;
    const r1 = await ctx.act({ kind: 'console', line: 'y add 1' });
    if (!r1.ok) ctx.retry(`"y add 1" did not commit: ${r1.text}`);
    await ctx.waitFor(() => ctx.model.peers.get(f)!.appliedIndex >= ctx.model.peers.get(l.name)!.commitIndex, `${f} applies y = ${JSON.stringify(r1.value)}`);
    ctx.caption(`y = ${JSON.stringify(r1.value)}, committed and applied everywhere. We cut ${f} off and change y through the leader.`, '§5.3');
    await ctx.pause();
    await ctx.act({ kind: 'isolate', peer: f });
    const r2 = await ctx.act({ kind: 'console', line: 'y add 1' });
    if (!r2.ok) ctx.retry(`"y add 1" did not commit: ${r2.text}`);
    const peek = await ctx.act({ kind: 'peek', peer: f });
    const kv = (peek.value as { kv?: Record<string, unknown> } | undefined)?.kv ?? {};
    ctx.claim(peek.ok && kv.y === r1.value && r2.value !== r1.value, `The village committed y = ${JSON.stringify(r2.value)}, but ${f}'s own store, read through /admin, still says y = ${JSON.stringify(kv.y)}. A read served from it would be stale.`, 'dissertation §6.4');
    await ctx.pause();
    const direct = commandResult(await ctx.act({ kind: 'request', peer: f, command: ['y', 'get'] }));
    ctx.claim(!!direct && !direct.ok && direct.error === 'not_leader', `Asked for y through the client contract, ${f} does not answer from its store: "${direct?.error}" — only a leader serves reads.`, '§8');
    const g = await ctx.act({ kind: 'console', line: 'get y' });
    ctx.claim(g.ok && g.value === r2.value, `"get y" returns ${JSON.stringify(g.value)}: the leader noted its commit index, confirmed with a heartbeat round to a majority that it still leads, and answered once it had applied that far (ReadIndex). A cut-off leader could not confirm, so it cannot answer stale.`, 'dissertation §6.4');
    await ctx.pause();
    await ctx.act({ kind: 'heal' });
    await ctx.waitFor(() => ctx.model.peers.get(f)!.blocked.length === 0 && ctx.model.peers.get(f)!.appliedIndex >= (ctx.model.leader()?.commitIndex ?? Infinity), `${f} catches up`);
    const again = await ctx.act({ kind: 'peek', peer: f });
    const kv2 = (again.value as { kv?: Record<string, unknown> } | undefined)?.kv ?? {};
    ctx.claim(again.ok && kv2.y === r2.value, `Healed, ${f} caught up: its own store now says y = ${JSON.stringify(kv2.y)}.`, '§5.3');
  },
};

const exactlyOnce: Lesson = {
  id: 'exactly-once',
  title: 'Exactly-once retries of a command',
  cite: 'dissertation §6.3',
  async run(ctx) {
    const l = await settled(ctx);
    const client = `lesson-${Math.random().toString(36).slice(2, 10)}`;
    const send = async (seq: number) => {
      const r = commandResult(await ctx.act({ kind: 'request', peer: l.name, command: ['n', 'add', '1'], client, seq }));
      if (!r || !r.ok) return ctx.retry(`${l.name} did not take "n add 1" (${r ? r.error : 'no answer'})`);
      return r;
    };
    ctx.caption(`A client that gets no answer must try again, and a retry must not apply twice. Each command carries the client's session id and a sequence number; the state machine remembers each session's last answer. Client ${client} sends "n add 1" (seq 1) to ${l.name}.`, 'dissertation §6.3');
    await ctx.pause();
    const first = await send(1);
    ctx.caption(`First try: n add 1 → ${JSON.stringify(first.value)}, at index ${first.index}.`, 'dissertation §6.3');
    await ctx.pause();
    const second = await send(1);
    await ctx.waitFor(() => living(ctx.model).every((p) => p.appliedIndex >= (second.index ?? 0)), `every villager applies index ${second.index}`);
    ctx.claim(second.value === first.value && second.index !== first.index && ctx.model.kv.n === first.value, `Suppose the answer was lost: the client sends the same command with the same seq. It was appended again (index ${second.index}) but applied as a repeat: the answer is ${JSON.stringify(second.value)} again, and the board still shows n = ${JSON.stringify(ctx.model.kv.n)}.`, 'dissertation §6.3');
    await ctx.pause();
    const third = await send(2);
    ctx.claim(third.value === numberOf(first.value) + 1, `A new command (seq 2) is applied: n = ${JSON.stringify(third.value)}.`, 'dissertation §6.3');
  },
};

export const LESSONS: readonly Lesson[] = [electing, reelect, replication, splitVote, partition, figure8, preVote, recovery, reads, exactlyOnce];
