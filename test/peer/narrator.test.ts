// What a peer writes in its log about what it does: the lines a person follows an election and
// replication by. The narrator is given a log to write to and read-only views of the core and
// the store; it changes nothing.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Narrator, type NarratorLog } from '../../peer/narrator.ts';
import { encodeEntry, KvStore } from '../../peer/kv.ts';
import type { NodeStatus } from '../../peer/raft/types.ts';
import { parseConfig, timingOf } from '../../shared/config.ts';
import type { PeerEnvelope } from '../../shared/peer-protocol.ts';

const config = parseConfig(readFileSync(new URL('../../raft_peer.ini', import.meta.url), 'utf8'));

function narrator(status: Partial<NodeStatus> = {}) {
  const lines: string[] = [];
  const log: NarratorLog & { context: string } = {
    context: '',
    line: (t) => lines.push(t),
    important: (t) => lines.push(`! ${t}`),
    heartbeat: (t) => lines.push(`hb ${t}`),
    setContext(c) {
      this.context = c;
    },
  };
  const st: NodeStatus = { id: 'peer1', role: 'follower', term: 2, vote: null, leader: null, commitIndex: 0, lastIndex: 0, lastTerm: 0, electionDeadline: 0, ...status };
  const store = new KvStore();
  const n = new Narrator({
    logger: log, name: 'peer1', cluster: ['peer1', 'peer2', 'peer3'], config, profile: 'fast', timing: timingOf(config, 'fast'),
    verbose: false, core: { status: () => st }, store, recovered: [], now: () => 0,
  });
  return { n, lines, log, store };
}

const reply = (matchIndex: number): PeerEnvelope => ({ type: 'append_entries_reply', from: 'peer2', to: 'peer1', term: 2, success: true, matchIndex, rid: 'peer2:1' });

describe('narrator', () => {
  it('prefixes lines with the term and role, and follows role changes', () => {
    const { n, log } = narrator();
    expect(log.context).toBe('term 2 follower');
    n.coreEvent({ kind: 'role', role: 'leader', term: 3, leader: 'peer1' });
    expect(log.context).toBe('term 3 leader');
  });

  it('tells an election and a commit as a person would follow them', () => {
    const { n, lines } = narrator();
    n.coreEvent({ kind: 'role', role: 'candidate', term: 3, leader: null });
    n.coreEvent({ kind: 'vote_granted', from: 'peer2', term: 3, preVote: false, votes: 2, needed: 2 });
    n.coreEvent({ kind: 'role', role: 'leader', term: 3, leader: 'peer1' });
    n.coreEvent({ kind: 'commit', index: 4 });
    expect(lines).toEqual(['! became candidate for term 3: asking for votes', 'vote granted by peer2 for term 3 (2 of 2 needed)', '! became LEADER for term 3', 'committed through index 4']);
  });

  it('counts an append reply that repeats the last match index as a heartbeat reply, and logs one that moves it', () => {
    const { n, lines } = narrator();
    n.received(reply(5));
    n.received(reply(5));
    n.received(reply(6));
    expect(lines).toEqual(['<- peer2 AppendEntries reply term 2: ok, match 5', 'hb heartbeat reply from peer2', '<- peer2 AppendEntries reply term 2: ok, match 6']);
  });

  it('logs an applied command with its result, and no line for a no-op', () => {
    const { n, lines, store } = narrator();
    const data = encodeEntry({ op: 'add', key: 'x', amount: 100 }, 'c1', 1);
    n.applied({ index: 1, term: 2, data: null }, store.apply(null, 1));
    n.applied({ index: 2, term: 2, data }, store.apply(data, 2));
    expect(lines).toEqual(['applied 2 (term 2): x add 100 -> 100']);
  });
});
