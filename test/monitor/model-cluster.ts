// A tiny honest cluster for the monitor's property tests: real RaftNodes (peer/raft, the core the
// peers run) under virtual time, a lossy network, crashes and restarts from a simulated disk, and a
// shell that reports what it does as -v events with every field the monitor reads, the way the
// peer is to report them (PROTOCOL.md, "Fields the monitor reads"):
//   after each durable write: log_truncate (with the write's term), log_append (tiles with ph),
//   persisted; then the Ready's commit events (term, ph), rpc_send / rpc_drop, apply (h); then state.
//   A restart says hello (boot, dataId, recovered) and resync. Events may be lost on the way
//   (a hole in seq), after which the peer reports reporter_dropped and a resync.
// Persisting is synchronous here (a Ready is on disk before its messages leave), and a crash
// strikes between Readies. A commit-only hard state is written without being reported, like the
// shell's unsynced save.
// Planted bugs for proving the monitor bites: the core's own (`plantBug`), and
// `forgetVoteOnRestart` (the shell does not keep the vote on disk).
import { RaftNode } from '../../peer/raft/node.ts';
import type { Entry, HardState, Message, PlantedBug } from '../../peer/raft/types.ts';
import type { AppliedEntry, LogTile, PeerEvent, RpcSummary } from '../../shared/events.ts';
import { EMPTY_PREFIX, entryHash, prefixHash } from '../../shared/log-hash.ts';
import { mulberry32, type Rng } from '../../shared/random.ts';
import { Heap } from '../sim/heap.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Body = DistributiveOmit<PeerEvent, 'peer' | 't' | 'seq'>;

export interface ModelOptions {
  seed: number;
  peers: number;
  /** Virtual ms to run. */
  durationMs?: number;
  /** Chance that a message is dropped by the network (reported as rpc_drop by the sender). */
  dropRate?: number;
  /** Mean virtual ms between crashes of a random peer (0: none). */
  crashEveryMs?: number;
  /** Mean virtual ms between cutting one random peer off for 100-400 ms (0: never). */
  isolateEveryMs?: number;
  /** Chance that a reported event never reaches the monitor. */
  eventLossRate?: number;
  /** Chance that a newly elected leader crashes within its first 30 ms (where Figure 8 bugs show). */
  crashNewLeaderRate?: number;
  /** Chance, per commit advance of a leader, that it crashes within 5 ms. */
  crashAfterCommitRate?: number;
  /** Commands proposed to the leader at a time, every 5-25 ms (default 1). */
  commandsPerProposal?: number;
  plantBug?: PlantedBug;
  forgetVoteOnRestart?: boolean;
}

interface Disk {
  hs: HardState;
  entries: Entry[];
  /** ph of each entry on disk (phs[i] for entries[i]). */
  phs: number[];
  w: number;
  dataId: string;
}

interface ModelPeer {
  name: string;
  node: RaftNode | null;
  disk: Disk;
  boot: string;
  boots: number;
  seq: number;
  rids: number;
  lostSomething: boolean;
  wasLeader: boolean;
}

interface Agendum {
  time: number;
  seq: number;
  run: () => void;
}

export interface ModelRun {
  events: PeerEvent[];
  /** Events emitted, including the ones lost on the way. */
  emitted: number;
  crashes: number;
  leaders: number;
  applied: number;
}

const TIMING = { heartbeatMs: 50, electionMinMs: 150, electionMaxMs: 300, latencyMs: 0 };
const TAIL = 50;

export function runModel(opts: ModelOptions): ModelRun {
  const rng: Rng = mulberry32(opts.seed);
  const names = Array.from({ length: opts.peers }, (_, i) => `peer${i + 1}`);
  const duration = opts.durationMs ?? 3000;
  const dropRate = opts.dropRate ?? 0.05;
  const lossRate = opts.eventLossRate ?? 0;
  const agenda = new Heap<Agendum>();
  const out: PeerEvent[] = [];
  let agendaSeq = 0;
  let now = 0;
  let emitted = 0;
  let crashes = 0;
  let leaders = 0;
  let applied = 0;
  let commands = 0;

  const at = (time: number, run: () => void) => agenda.push({ time, seq: agendaSeq++, run });
  /** Peers cut off from everyone (both directions). */
  const isolated = new Set<string>();

  const peers = new Map<string, ModelPeer>();
  for (const name of names) {
    peers.set(name, {
      name,
      node: null,
      disk: { hs: { term: 0, vote: null, commit: 0 }, entries: [], phs: [], w: 0, dataId: `${name}-data` },
      boot: '',
      boots: 0,
      seq: 0,
      rids: 0,
      lostSomething: false,
      wasLeader: false,
    });
  }

  function emit(p: ModelPeer, body: Body): void {
    const snapshot = body.type === 'hello' || body.type === 'state' || body.type === 'resync';
    const seq = snapshot ? p.seq : p.seq++;
    emitted++;
    if (lossRate > 0 && body.type !== 'hello' && rng() < lossRate) {
      // Lost on the way (a full queue, a relay outage): snapshots vanish silently, counted events leave a hole.
      if (!snapshot) p.lostSomething = true;
      return;
    }
    out.push({ ...body, peer: p.name, t: Math.round(now), seq } as PeerEvent);
  }

  const ph = (d: Disk, index: number): number => (index === 0 ? EMPTY_PREFIX : d.phs[index - 1]!);

  function tile(d: Disk, index: number): LogTile {
    const e = d.entries[index - 1]!;
    return { index, term: e.term, label: e.data === null ? 'noop' : 'cmd', ph: d.phs[index - 1]! };
  }

  function summary(p: ModelPeer, m: Message, rid?: string): RpcSummary {
    const s: RpcSummary = {
      rid: rid ?? `${p.name}:${++p.rids}`,
      rpc: m.type,
      term: m.term,
      heartbeat: m.type === 'append_entries' && m.entries.length === 0,
      entries: m.type === 'append_entries' ? m.entries.length : 0,
    };
    if (m.type === 'request_vote' || m.type === 'request_vote_reply') s.preVote = m.preVote;
    if (m.type === 'request_vote_reply') s.ok = m.granted;
    if (m.type === 'append_entries_reply') s.ok = m.success;
    return s;
  }

  function resync(p: ModelPeer): void {
    const st = p.node!.status();
    const d = p.disk;
    const last = d.entries.length;
    const tail: LogTile[] = [];
    for (let i = Math.max(1, last - TAIL + 1); i <= last; i++) tail.push(tile(d, i));
    emit(p, {
      type: 'resync',
      role: st.role,
      term: st.term,
      vote: st.vote,
      leader: st.leader,
      commit: st.commitIndex,
      commitPh: ph(d, st.commitIndex),
      lastIndex: last,
      lastTerm: last === 0 ? 0 : d.entries[last - 1]!.term,
      lastPh: ph(d, last),
      base: null,
      durable: { w: d.w, term: d.hs.term, vote: d.hs.vote },
      tail,
    });
  }

  /** Takes every Ready: persist, report, send, apply, report the state. */
  function process(p: ModelPeer): void {
    const node = p.node;
    if (!node) return;
    while (node.hasReady()) {
      const rd = node.ready();
      const d = p.disk;
      // 1. Persist (one write), then report it.
      if (rd.entries.length > 0 || (rd.hardState && (rd.hardState.term !== d.hs.term || rd.hardState.vote !== d.hs.vote))) {
        if (rd.hardState) d.hs = { ...rd.hardState };
        d.w++;
        if (rd.entries.length > 0) {
          const first = rd.entries[0]!.index;
          const truncated = first <= d.entries.length;
          d.entries.length = first - 1;
          d.phs.length = first - 1;
          for (const e of rd.entries) {
            d.phs.push(prefixHash(ph(d, d.entries.length), e.term, entryHash(e.data)));
            d.entries.push(e);
          }
          if (truncated) emit(p, { type: 'log_truncate', from: first, term: d.hs.term });
          emit(p, { type: 'log_append', entries: rd.entries.map((e) => tile(d, e.index)) });
        }
        const last = d.entries.length;
        emit(p, { type: 'persisted', w: d.w, term: d.hs.term, vote: d.hs.vote, lastIndex: last, lastTerm: last === 0 ? 0 : d.entries[last - 1]!.term, lastPh: ph(d, last) });
      } else if (rd.hardState) {
        // Only the commit index moved: written without an fsync of its own, and not reported.
        d.hs = { ...rd.hardState };
        d.w++;
      }
      // 2. What the core did, then the messages.
      for (const ev of rd.events) {
        if (ev.kind !== 'commit') continue;
        emit(p, { type: 'commit', index: ev.index, term: node.status().term, ph: ph(d, ev.index) });
        if (opts.crashAfterCommitRate && node.status().role === 'leader' && rng() < opts.crashAfterCommitRate) at(now + rng() * 5, () => crash(p));
      }
      for (const m of rd.messages) send(p, m);
      // 3. Apply.
      if (rd.committed.length > 0) {
        const entries: AppliedEntry[] = rd.committed.map((e) => ({
          index: e.index,
          term: e.term,
          h: entryHash(e.data),
          command: e.data === null ? null : (JSON.parse(e.data) as { cmd: string[] }).cmd,
          ok: true,
          result: null,
          key: null,
          value: null,
        }));
        applied += entries.length;
        emit(p, { type: 'apply', entries });
      }
    }
    const st = node.status();
    if (st.role === 'leader' && !p.wasLeader) {
      leaders++;
      if (opts.crashNewLeaderRate && rng() < opts.crashNewLeaderRate) at(now + rng() * 30, () => crash(p));
    }
    p.wasLeader = st.role === 'leader';
    emit(p, {
      type: 'state',
      role: st.role,
      term: st.term,
      vote: st.vote,
      leader: st.leader,
      commitIndex: st.commitIndex,
      appliedIndex: st.commitIndex,
      lastIndex: st.lastIndex,
      lastTerm: st.lastTerm,
      electionDeadline: st.electionDeadline === null ? null : Math.round(st.electionDeadline),
    });
    if (p.lostSomething) {
      p.lostSomething = false;
      emit(p, { type: 'reporter_dropped', count: 1 });
      resync(p);
    }
  }

  function send(p: ModelPeer, m: Message): void {
    const s = summary(p, m);
    if (isolated.has(p.name) || isolated.has(m.to)) {
      emit(p, { type: 'rpc_drop', to: m.to, reason: 'blocked', ...s });
      return;
    }
    if (rng() < dropRate) {
      emit(p, { type: 'rpc_drop', to: m.to, reason: 'dropped', ...s });
      return;
    }
    emit(p, { type: 'rpc_send', to: m.to, ...s });
    at(now + 1 + rng() * 15, () => {
      const q = peers.get(m.to)!;
      if (!q.node) return;
      if (isolated.has(q.name) || isolated.has(m.from)) {
        emit(q, { type: 'rpc_drop', to: q.name, reason: 'blocked', ...s });
        return;
      }
      emit(q, { type: 'rpc_recv', from: m.from, ...s });
      q.node.step(m, now);
      process(q);
    });
  }

  function start(p: ModelPeer): void {
    const d = p.disk;
    if (opts.forgetVoteOnRestart) d.hs = { ...d.hs, vote: null };
    p.boots++;
    p.boot = `${p.name}-${opts.seed}-${p.boots}`;
    p.seq = 0;
    p.wasLeader = false;
    p.node = new RaftNode(
      {
        id: p.name,
        peers: names,
        heartbeatMs: TIMING.heartbeatMs,
        electionMinMs: TIMING.electionMinMs,
        electionMaxMs: TIMING.electionMaxMs,
        random: rng,
        maxEntriesPerAppend: 8,
        maxBytesPerAppend: 1 << 20,
        maxInflightAppends: 4,
        preVote: true,
        checkQuorum: true,
        ...(opts.plantBug ? { plantBug: opts.plantBug } : {}),
      },
      { hardState: { ...d.hs }, entries: d.entries.slice() },
      now,
    );
    const commit = Math.min(d.hs.commit, d.entries.length);
    const last = d.entries.length;
    emit(p, {
      type: 'hello',
      pid: p.boots,
      cluster: names,
      profile: 'fast',
      timing: TIMING,
      boot: p.boot,
      dataId: d.dataId,
      recovered: {
        w: d.w,
        term: d.hs.term,
        vote: d.hs.vote,
        commit,
        commitPh: ph(d, commit),
        lastIndex: last,
        lastTerm: last === 0 ? 0 : d.entries[last - 1]!.term,
        lastPh: ph(d, last),
        base: null,
      },
    });
    resync(p);
    process(p);
  }

  function crash(p: ModelPeer): void {
    if (!p.node) return;
    p.node = null;
    crashes++;
    at(now + 50 + rng() * 400, () => start(p));
  }

  for (const p of peers.values()) start(p);
  // Clients: a command to whoever leads, every few ms.
  const propose = () => {
    for (const p of peers.values()) {
      if (p.node && p.node.status().role === 'leader') {
        for (let i = 0; i < (opts.commandsPerProposal ?? 1); i++) p.node.propose(JSON.stringify({ cmd: ['k', 'add', String(++commands)] }), now);
        process(p);
        break;
      }
    }
    at(now + 5 + rng() * 20, propose);
  };
  at(10, propose);
  if (opts.crashEveryMs) {
    const nemesis = () => {
      const all = [...peers.values()];
      crash(all[Math.floor(rng() * all.length)]!);
      at(now + opts.crashEveryMs! * (0.5 + rng()), nemesis);
    };
    at(opts.crashEveryMs, nemesis);
  }

  if (opts.isolateEveryMs) {
    const cut = () => {
      const victim = names[Math.floor(rng() * names.length)]!;
      if (isolated.size < Math.floor((names.length - 1) / 2)) {
        isolated.add(victim);
        at(now + 100 + rng() * 300, () => isolated.delete(victim));
      }
      at(now + opts.isolateEveryMs! * (0.5 + rng()), cut);
    };
    at(opts.isolateEveryMs, cut);
  }

  // The loop: the earliest of the agenda and the nodes' timers.
  for (;;) {
    let next = agenda.peek()?.time ?? Infinity;
    let timer: ModelPeer | null = null;
    for (const p of peers.values()) {
      const d = p.node?.nextDeadline() ?? Infinity;
      if (d < next) {
        next = d;
        timer = p;
      }
    }
    if (next > duration) break;
    now = Math.max(now, next);
    if (timer) {
      timer.node!.tick(now);
      process(timer);
    } else {
      agenda.pop()!.run();
    }
  }
  return { events: out, emitted, crashes, leaders, applied };
}
