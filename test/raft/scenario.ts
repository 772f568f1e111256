// Scenario files (after etcd's raft testdata): a small script drives an in-memory cluster step
// by step and prints what happened, so a test reads like the village's story.
//
// File format: blocks separated by blank lines. A block is optional `#` comment lines, one
// command, a `----` line, then the expected output. Commands:
//   cluster n1 n2 n3 [prevote] [checkquorum] [max-entries=N] [inflight=N]   start a fresh cluster
//   campaign n1            n1 starts an election at once (the game's "force election")
//   tick n1                time moves to n1's next deadline and n1 ticks
//   run MS                 MS milliseconds pass: peers tick, messages arrive at once; prints changes
//   propose n1 DATA        a client command at n1
//   read n1 CTX            a ReadIndex read at n1
//   deliver [n2]           deliver the messages in flight (only those to n2, if given), once
//   stabilize              deliver until nothing is in flight
//   partition n1 n2 | n3   messages between the groups are lost (also those already in flight)
//   heal                   no more partition
//   drop [n1]              the messages in flight (from n1, if given) are lost
//   crash n1               n1 loses its volatile state (its disk stays)
//   restart n1             n1 starts again from its disk
//   status                 one line per peer
//   log n1                 n1's log
import { RaftNode } from '../../peer/raft/node.ts';
import type { Entry, HardState, Message, PeerId, PlantedBug, Ready } from '../../peer/raft/types.ts';
import { formatEntries, formatMessage } from '../sim/sim.ts';
import { options } from './harness.ts';

interface Peer {
  id: PeerId;
  node: RaftNode | null;
  disk: { hardState: HardState; entries: Entry[] };
  applied: number;
}

export class Scenario {
  private peers = new Map<PeerId, Peer>();
  private ids: PeerId[] = [];
  private inflight: Message[] = [];
  private group = new Map<PeerId, number>();
  private now = 0;
  private settings: { preVote: boolean; checkQuorum: boolean; maxEntriesPerAppend: number; maxInflightAppends: number; plantBug?: PlantedBug } = {
    preVote: false,
    checkQuorum: false,
    maxEntriesPerAppend: 64,
    maxInflightAppends: 4,
  };

  run(command: string): string[] {
    const [cmd, ...args] = command.trim().split(/\s+/);
    const out: string[] = [];
    switch (cmd) {
      case 'cluster':
        this.cluster(args);
        for (const id of this.ids) this.process(this.peer(id), out);
        break;
      case 'campaign': {
        const p = this.peer(args[0]);
        p.node!.campaign(this.now);
        this.process(p, out);
        break;
      }
      case 'tick': {
        const p = this.peer(args[0]);
        this.now = Math.max(this.now, p.node!.nextDeadline());
        out.push(`t=${this.now}`);
        p.node!.tick(this.now);
        this.process(p, out);
        break;
      }
      case 'propose': {
        const p = this.peer(args[0]);
        const r = p.node!.propose(args.slice(1).join(' '), this.now);
        out.push(r.ok ? `${p.id} appends ${r.index}/${r.term}` : `${p.id} refuses: not the leader (leader ${r.leader ?? 'unknown'})`);
        this.process(p, out);
        break;
      }
      case 'read': {
        const p = this.peer(args[0]);
        p.node!.readIndex(args[1] ?? 'read', this.now);
        this.process(p, out);
        break;
      }
      case 'run': {
        // Let time pass: every peer ticks at its deadlines and messages arrive at once.
        // Only what changed is printed (roles, terms, step-downs, truncations), with the time.
        const until = this.now + Number(args[0]);
        for (let guard = 0; guard < 100_000; guard++) {
          let next: Peer | null = null;
          for (const id of this.ids) {
            const p = this.peers.get(id)!;
            if (p.node && (next === null || p.node.nextDeadline() < next.node!.nextDeadline())) next = p;
          }
          if (next === null || next.node!.nextDeadline() > until) break;
          this.now = Math.max(this.now, next.node!.nextDeadline());
          const lines: string[] = [];
          next.node!.tick(this.now);
          this.process(next, lines);
          for (let i = 0; i < 1000 && this.inflight.length > 0; i++) this.deliver(undefined, lines);
          for (const l of lines) if (/ (enters|becomes|steps down|truncates)/.test(l)) out.push(`t=${this.now} ${l.trim()}`);
        }
        this.now = until;
        break;
      }
      case 'deliver':
        this.deliver(args[0], out);
        break;
      case 'stabilize':
        for (let i = 0; i < 1000 && this.inflight.length > 0; i++) this.deliver(undefined, out);
        break;
      case 'partition': {
        let g = 0;
        this.group.clear();
        for (const a of args) {
          if (a === '|') g++;
          else this.group.set(this.peer(a).id, g);
        }
        break;
      }
      case 'heal':
        this.group.clear();
        break;
      case 'drop': {
        const from = args[0] === undefined ? undefined : this.peer(args[0]).id;
        for (const m of this.inflight) if (from === undefined || m.from === from) out.push(`${m.from} -x ${m.to} ${formatMessage(m)} (lost)`);
        this.inflight = this.inflight.filter((m) => from !== undefined && m.from !== from);
        break;
      }
      case 'crash': {
        const p = this.peer(args[0]);
        p.node = null;
        out.push(`${p.id} crashed`);
        break;
      }
      case 'restart': {
        const p = this.peer(args[0]);
        this.start(p);
        const hs = p.disk.hardState;
        out.push(`${p.id} restarts: term=${hs.term} vote=${hs.vote ?? '-'} commit=${hs.commit} log=${p.disk.entries.length}`);
        this.process(p, out);
        break;
      }
      case 'status':
        for (const id of this.ids) out.push(this.describe(this.peers.get(id)!));
        break;
      case 'log': {
        const p = this.peer(args[0]);
        out.push(`${p.id}: ${formatEntries(p.node ? p.node.entries() : p.disk.entries).replace(/\.\.\. (\d+) more/, '+$1')}`);
        break;
      }
      default:
        throw new Error(`unknown scenario command ${JSON.stringify(command)}`);
    }
    return out;
  }

  private cluster(args: string[]): void {
    this.ids = args.filter((a) => /^n\d+$/.test(a));
    this.settings.preVote = args.includes('prevote');
    this.settings.checkQuorum = args.includes('checkquorum');
    for (const a of args) {
      const m = /^(max-entries|inflight|plant-bug)=(.+)$/.exec(a);
      if (m?.[1] === 'max-entries') this.settings.maxEntriesPerAppend = Number(m[2]);
      if (m?.[1] === 'inflight') this.settings.maxInflightAppends = Number(m[2]);
      if (m?.[1] === 'plant-bug') this.settings.plantBug = m[2] as PlantedBug;
    }
    this.peers.clear();
    this.inflight = [];
    this.group.clear();
    this.now = 0;
    for (const id of this.ids) {
      const p: Peer = { id, node: null, disk: { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, applied: 0 };
      this.peers.set(id, p);
      this.start(p);
    }
  }

  private start(p: Peer): void {
    // Every peer draws the same timeout (the middle of the range); scripts pick who ticks.
    const o = options(p.id, this.ids, { ...this.settings, random: () => 0.5 });
    p.node = new RaftNode(o, { hardState: { ...p.disk.hardState }, entries: p.disk.entries.slice() }, this.now);
    p.applied = 0;
  }

  private peer(id: string | undefined): Peer {
    const p = id === undefined ? undefined : this.peers.get(id);
    if (!p) throw new Error(`no peer ${id ?? '(missing)'} in this scenario`);
    return p;
  }

  private connected(a: PeerId, b: PeerId): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  private deliver(only: string | undefined, out: string[]): void {
    const batch = only === undefined ? this.inflight : this.inflight.filter((m) => m.to === only);
    this.inflight = only === undefined ? [] : this.inflight.filter((m) => m.to !== only);
    const touched: Peer[] = [];
    for (const m of batch) {
      const to = this.peers.get(m.to)!;
      if (!this.connected(m.from, m.to)) {
        out.push(`${m.from} -x ${m.to} ${formatMessage(m)} (lost: partition)`);
        continue;
      }
      if (to.node === null) {
        out.push(`${m.from} -x ${m.to} ${formatMessage(m)} (lost: ${m.to} is down)`);
        continue;
      }
      out.push(`${m.to} <- ${m.from} ${formatMessage(m)}`);
      to.node.step(m, this.now);
      this.process(to, out);
      if (!touched.includes(to)) touched.push(to);
    }
  }

  /** The shell: persist, send (into the in-flight list), apply; print what happened. */
  private process(p: Peer, out: string[]): void {
    const node = p.node;
    while (node && node.hasReady()) {
      const rd: Ready = node.ready();
      for (const ev of rd.events) {
        switch (ev.kind) {
          case 'term':
            out.push(`  ${p.id} enters term ${ev.term}`);
            break;
          case 'role':
            out.push(`  ${p.id} becomes ${ev.role} in term ${ev.term}`);
            break;
          case 'truncate':
            out.push(`  ${p.id} truncates its log from ${ev.from}`);
            break;
          case 'commit':
            out.push(`  ${p.id} commits up to ${ev.index}`);
            break;
          case 'step_down':
            out.push(`  ${p.id} steps down: ${ev.reason}`);
            break;
          default:
            break;
        }
      }
      if (rd.hardState) p.disk.hardState = { ...rd.hardState };
      if (rd.entries.length > 0) {
        p.disk.entries.length = rd.entries[0]!.index - 1;
        p.disk.entries.push(...rd.entries);
      }
      node.persisted(rd);
      for (const m of [...rd.early, ...rd.messages]) {
        out.push(`  ${m.from} -> ${m.to} ${formatMessage(m)}`);
        this.inflight.push(m);
      }
      for (const e of rd.committed) {
        p.applied = e.index;
        out.push(`  ${p.id} applies ${e.index}/${e.term} ${e.data === null ? 'noop' : JSON.stringify(e.data)}`);
      }
      for (const r of rd.readStates) out.push(`  ${p.id} read ${r.ctx} may be served at index ${r.index}`);
      for (const r of rd.readFailures) out.push(`  ${p.id} read ${r.ctx} refused (leader ${r.leader ?? 'unknown'})`);
    }
  }

  private describe(p: Peer): string {
    if (p.node === null) return `${p.id}: down`;
    const s = p.node.status();
    return `${p.id}: ${s.role} term=${s.term} vote=${s.vote ?? '-'} leader=${s.leader ?? '-'} log=${s.lastIndex}/${s.lastTerm} commit=${s.commitIndex} applied=${p.applied}`;
  }
}

export interface Block {
  comments: string[];
  command: string;
  expected: string[];
}

export function parseScenario(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    while (i < lines.length && lines[i]!.trim() === '') i++;
    if (i >= lines.length) break;
    const comments: string[] = [];
    while (i < lines.length && lines[i]!.startsWith('#')) comments.push(lines[i++]!);
    if (i >= lines.length || lines[i]!.trim() === '') {
      blocks.push({ comments, command: '', expected: [] });
      continue;
    }
    const command = lines[i++]!;
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after ${JSON.stringify(command)}`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    blocks.push({ comments, command, expected });
  }
  return blocks;
}

export function formatScenario(blocks: Block[]): string {
  return (
    blocks
      .map((b) => [...b.comments, ...(b.command ? [b.command, '----', ...b.expected] : [])].join('\n'))
      .join('\n\n') + '\n'
  );
}
