// What a status adds for someone looking inside a peer, read from a real core (RaftNode):
// Figure 2's nextIndex[] and matchIndex[] on a leader only, and a window of the log with each
// command as a user would type it.
import { describe, expect, it } from 'vitest';
import { logWindowOf, progressOf } from '../../peer/inspect-status.ts';
import { encodeEntry } from '../../peer/kv.ts';
import { RaftNode } from '../../peer/raft/node.ts';
import { parseCommand } from '../../shared/kv-commands.ts';
import { MAX_STATUS_COMMAND_CHARS, MAX_STATUS_ENTRIES } from '../../shared/peer-protocol.ts';
import { aeOk, Cluster, leaderOf, logOf, node, options, take } from '../raft/harness.ts';

const cmd = (words: unknown[]) => {
  const p = parseCommand(words);
  if (!p.ok) throw new Error(p.message);
  return encodeEntry(p.command);
};

describe('a leader\'s progress (Figure 2: nextIndex[], matchIndex[])', () => {
  it('starts every follower at nextIndex = last index + 1 and matchIndex = 0 (Figure 2, "Volatile state on leaders")', () => {
    const l = leaderOf('n1', { log: [1, 1, 1], term: 1 });
    // Elected over a log of 3 entries: nextIndex is 4 for both; the no-op went to index 4.
    expect(l.status().lastIndex).toBe(4);
    expect(progressOf(l)).toEqual([
      { peer: 'n2', nextIndex: 4, matchIndex: 0 },
      { peer: 'n3', nextIndex: 4, matchIndex: 0 },
    ]);
  });

  it('moves a follower\'s matchIndex to what it acknowledged and its nextIndex just past it', () => {
    const l = leaderOf('n1', { log: [1, 1, 1], term: 1 });
    l.step(aeOk('n2', 'n1', l.status().term, 4), 0);
    take(l);
    expect(progressOf(l)).toEqual([
      { peer: 'n2', nextIndex: 5, matchIndex: 4 },
      { peer: 'n3', nextIndex: 4, matchIndex: 0 },
    ]);
  });

  it('equals what every follower holds once a cluster has replicated its log', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.get('a').campaign(0);
    c.stabilize();
    const l = c.get('a');
    expect(l.propose(cmd(['x', 'add', 1]), 0).ok).toBe(true);
    expect(l.propose(cmd(['y', 'set', 'two words']), 0).ok).toBe(true);
    c.stabilize();
    const last = l.status().lastIndex;
    expect(last).toBe(3);
    expect(progressOf(l)).toEqual([
      { peer: 'b', nextIndex: last + 1, matchIndex: last },
      { peer: 'c', nextIndex: last + 1, matchIndex: last },
    ]);
    // A follower keeps no progress: it has nothing to show, not zeros.
    expect(progressOf(c.get('b'))).toBeNull();
  });

  it('is null on a follower, a candidate and a deposed leader', () => {
    expect(progressOf(node('n2', { log: [1, 1], term: 1 }))).toBeNull();
    const cand = node('n3', { term: 1 });
    cand.campaign(0);
    expect(cand.status().role).toBe('candidate');
    expect(progressOf(cand)).toBeNull();
    const l = leaderOf('n1', { term: 1 });
    l.step({ type: 'append_entries', from: 'n2', to: 'n1', term: 9, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 }, 0);
    expect(l.status().role).toBe('follower');
    expect(progressOf(l)).toBeNull();
  });
});

describe('a window of the log', () => {
  const peer = () => {
    const entries = logOf([1, 1, 2, 2, 3], (i) => (i === 2 ? cmd(['x', 'add', 100]) : i === 4 ? cmd(['<b>key</b>', 'set', 'a "quoted" value']) : cmd(['k', 'set', i])));
    entries[2] = { index: 3, term: 2, data: null };
    return new RaftNode(options('n1', ['n1', 'n2', 'n3']), { hardState: { term: 3, vote: null, commit: 2 }, entries }, 0);
  };

  it('gives the last N entries with index, term and the command as a user would type it', () => {
    expect(logWindowOf(peer(), { last: 3 })).toEqual({
      first: 1,
      last: 5,
      from: 3,
      to: 5,
      entries: [
        { index: 3, term: 2, command: 'noop' },
        { index: 4, term: 2, command: '<b>key</b> set "a \\"quoted\\" value"' },
        { index: 5, term: 3, command: 'k set 5' },
      ],
    });
  });

  it('gives the range asked for, clipped to the log', () => {
    const w = logWindowOf(peer(), { from: 2, to: 3 });
    expect(w.entries.map((e) => [e.index, e.term, e.command])).toEqual([
      [2, 1, 'x add 100'],
      [3, 2, 'noop'],
    ]);
    expect(logWindowOf(peer(), { from: 4, to: 90 })).toMatchObject({ from: 4, to: 5 });
    expect(logWindowOf(peer(), { last: 200 })).toMatchObject({ from: 1, to: 5 });
    const beyond = logWindowOf(peer(), { from: 7, to: 9 });
    expect(beyond.entries).toEqual([]);
    expect(beyond.from).toBeGreaterThan(beyond.to);
  });

  it('is empty for an empty log, and never longer than the limit', () => {
    expect(logWindowOf(node('n1'), { last: 5 })).toEqual({ first: 1, last: 0, from: 1, to: 0, entries: [] });
    const long = node('n1', { log: Array.from({ length: MAX_STATUS_ENTRIES + 50 }, () => 1) });
    const w = logWindowOf(long, { last: MAX_STATUS_ENTRIES });
    expect(w.entries).toHaveLength(MAX_STATUS_ENTRIES);
    expect(w.entries.at(-1)!.index).toBe(MAX_STATUS_ENTRIES + 50);
  });

  it('starts after a snapshot: compacted entries are not in the window', () => {
    const n = new RaftNode(
      options('n1', ['n1', 'n2', 'n3']),
      { hardState: { term: 2, vote: null, commit: 6 }, snapshot: { index: 4, term: 1, data: '{}', config: { voters: ['n1', 'n2', 'n3'], learners: [] } }, entries: logOf([1, 1, 1, 1, 2, 2]).slice(4) },
      0,
    );
    expect(logWindowOf(n, { last: 10 })).toMatchObject({ first: 5, last: 6, from: 5, to: 6 });
    expect(logWindowOf(n, { from: 1, to: 5 }).entries.map((e) => e.index)).toEqual([5]);
  });

  it('cuts a very long command and names a configuration entry by its members', () => {
    const n = new RaftNode(
      options('n1', ['n1', 'n2', 'n3']),
      {
        hardState: { term: 1, vote: null, commit: 0 },
        entries: [
          { index: 1, term: 1, data: cmd(['k', 'set', 'v'.repeat(1000)]) },
          { index: 2, term: 1, data: null, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } },
          { index: 3, term: 1, data: 'not a command' },
        ],
      },
      0,
    );
    const [long, conf, bad] = logWindowOf(n, { last: 3 }).entries;
    expect(long!.command).toHaveLength(MAX_STATUS_COMMAND_CHARS);
    expect(long!.command.endsWith('…')).toBe(true);
    expect(conf!.command).toBe('config voters=n1,n2,n3 learners=n4');
    expect(bad!.command).toBe('?');
  });
});
