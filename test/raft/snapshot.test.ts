// Snapshots and log compaction (dissertation ch. 5) and InstallSnapshot (paper §7).
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../peer/raft/node.ts';
import { Cluster, HB, ae, aeOk, logOf, node, options, stableLeader, take } from './harness.ts';
import type { InstallSnapshot, InstallSnapshotReply, RaftOptions, Snapshot } from '../../peer/raft/types.ts';

const CONF = { voters: ['n1', 'n2', 'n3'], learners: [] };

/** A leader of term 2 whose log is 1..n (the no-op at n), everything committed and applied. */
function committedLeader(extraEntries: number, opts: Partial<RaftOptions> = {}): RaftNode {
  const l = stableLeader('n1', { term: 1, opts });
  for (let i = 0; i < extraEntries; i++) l.propose(`k=${i}`, 1);
  take(l);
  const last = l.status().lastIndex;
  for (const p of ['n2', 'n3']) l.step(aeOk(p, 'n1', 2, last), 2);
  take(l);
  expect(l.status().commitIndex).toBe(last);
  return l;
}

function chunks(rd: { snapshotMessages: (InstallSnapshot | InstallSnapshotReply)[] }, to: string): InstallSnapshot[] {
  return rd.snapshotMessages.filter((m): m is InstallSnapshot => m.type === 'install_snapshot' && m.to === to);
}

describe('log compaction', () => {
  it('the log is cut only after the shell reports the snapshot durable, keeping the trailing entries', () => {
    const l = committedLeader(9, { snapshotTrailingEntries: 2 });
    l.snapshotTaken(8, 'state@8');
    const rd = l.ready();
    expect(rd.snapshot).toEqual({ index: 8, term: 2, data: 'state@8', config: CONF });
    expect(rd.compact).toBe(0);
    expect(l.firstIndex()).toBe(1); // not before the snapshot is durable
    l.persisted(rd);
    expect(l.firstIndex()).toBe(7);
    const next = l.ready();
    expect(next.compact).toBe(6);
    expect(next.snapshot).toBeNull();
    expect(l.status()).toMatchObject({ lastIndex: 10, lastTerm: 2 });
    expect(l.termAt(6)).toBe(2); // the base still answers the log-matching check
    expect(l.entryAt(6)).toBeUndefined();
  });

  it('the planted cut_log_before_snapshot_durable bug cuts in the Ready that carries the snapshot', () => {
    const l = committedLeader(4, { plantBug: 'cut_log_before_snapshot_durable' });
    l.snapshotTaken(5, 's');
    const rd = l.ready();
    expect(rd.snapshot?.index).toBe(5);
    expect(rd.compact).toBe(5);
  });

  it('a snapshot beyond what was handed out to apply is refused; an older one is ignored', () => {
    const l = committedLeader(2);
    expect(() => l.snapshotTaken(9, 's')).toThrow(/handed out/);
    l.snapshotTaken(3, 's3');
    take(l);
    l.snapshotTaken(2, 's2');
    expect(l.ready().snapshot).toBeNull();
  });

  it('a peer restarts from a snapshot and the log after it: the snapshot is its base and its commit', () => {
    const snapshot: Snapshot = { index: 10, term: 3, data: 'x', config: CONF };
    const n = new RaftNode(options('n2', ['n1', 'n2', 'n3']), { hardState: { term: 3, vote: null, commit: 0 }, snapshot, entries: [] }, 0);
    expect(n.status()).toMatchObject({ lastIndex: 10, lastTerm: 3, commitIndex: 10 });
    expect(n.firstIndex()).toBe(11);
    // An append right after the snapshot matches at its last index and term.
    n.step(ae('n1', 'n2', 3, 10, 3, [3], 11), 1);
    const rd = take(n);
    expect(rd.sent).toEqual([expect.objectContaining({ type: 'append_entries_reply', success: true, matchIndex: 11 })]);
    expect(rd.committed.map((e) => e.index)).toEqual([11]); // entries up to the snapshot are not handed out again
  });

  it('a restart keeps trailing entries that hold the snapshot\'s last entry, and discards a log that does not', () => {
    const keep = new RaftNode(options('n2', ['n1', 'n2', 'n3']), { hardState: { term: 2, vote: null, commit: 6 }, snapshot: { index: 4, term: 2, data: '', config: CONF }, entries: logOf([1, 1, 2, 2, 2, 2]) }, 0);
    expect(keep.firstIndex()).toBe(2);
    expect(keep.status().lastIndex).toBe(6);
    const drop = new RaftNode(options('n2', ['n1', 'n2', 'n3']), { hardState: { term: 3, vote: null, commit: 2 }, snapshot: { index: 4, term: 3, data: '', config: CONF }, entries: logOf([1, 1, 2, 2, 2]) }, 0);
    expect(drop.firstIndex()).toBe(5);
    expect(drop.status()).toMatchObject({ lastIndex: 4, lastTerm: 3, commitIndex: 4 });
  });

  it('a persisted log that starts after the snapshot is refused: entries would be missing', () => {
    expect(() => new RaftNode(options('n2', ['n1', 'n2']), { hardState: { term: 1, vote: null, commit: 0 }, snapshot: { index: 3, term: 1, data: '', config: CONF }, entries: [{ index: 6, term: 1, data: null }] }, 0)).toThrow(/not contiguous/);
  });
});

describe('InstallSnapshot (§7)', () => {
  it('a leader sends its snapshot in chunks of maxBytesPerAppend to a follower that needs compacted entries', () => {
    const l = committedLeader(9, { maxBytesPerAppend: 4 });
    l.snapshotTaken(10, 'abcdefghij');
    l.persisted(l.ready());
    take(l);
    // n2 lost its log: it rejects, saying its log ends at 0.
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 2, success: false, matchIndex: 10, conflictIndex: 1 }, 3);
    let rd = l.ready();
    let c = chunks(rd, 'n2');
    expect(c).toEqual([expect.objectContaining({ snapshotIndex: 10, snapshotTerm: 2, snapshotConfig: CONF, offset: 0, size: 10, data: 'abcd' })]);
    expect(l.followers().find((f) => f.peer === 'n2')?.state).toBe('snapshot');
    l.step({ type: 'install_snapshot_reply', from: 'n2', to: 'n1', term: 2, snapshotIndex: 10, offset: 4, matchIndex: 0 }, 4);
    rd = l.ready();
    c = chunks(rd, 'n2');
    expect(c).toEqual([expect.objectContaining({ offset: 4, data: 'efgh' })]);
    // Installed: the follower matches through 10; the leader goes back to appends after it.
    l.step({ type: 'install_snapshot_reply', from: 'n2', to: 'n1', term: 2, snapshotIndex: 10, offset: 10, matchIndex: 10 }, 5);
    expect(l.followers().find((f) => f.peer === 'n2')).toMatchObject({ state: 'probe', match: 10, next: 11 });
  });

  it('a follower assembles the chunks, hands the snapshot to the shell to restore, and its log starts after it', () => {
    const f = node('n2', { term: 2, log: [1, 1, 1] });
    const chunk = (offset: number, data: string): InstallSnapshot => ({ type: 'install_snapshot', from: 'n1', to: 'n2', term: 2, snapshotIndex: 10, snapshotTerm: 2, snapshotConfig: CONF, offset, size: 6, data });
    f.step(chunk(0, 'abc'), 1);
    let rd = take(f);
    expect(rd.snapshotMessages).toEqual([expect.objectContaining({ offset: 3, matchIndex: 0 })]);
    expect(rd.snapshot).toBeNull();
    f.step(chunk(3, 'def'), 2);
    rd = take(f);
    expect(rd.snapshot).toEqual({ index: 10, term: 2, data: 'abcdef', config: CONF });
    expect(rd.restore).toBe(true);
    expect(rd.committed).toEqual([]);
    expect(rd.hardState?.commit).toBe(10);
    expect(rd.snapshotMessages).toEqual([expect.objectContaining({ offset: 6, matchIndex: 10 })]);
    expect(f.status()).toMatchObject({ lastIndex: 10, lastTerm: 2, commitIndex: 10 });
    expect(f.firstIndex()).toBe(11);
  });

  it('after a lost chunk the follower answers with what it holds, and the leader resumes from there', () => {
    const f = node('n2', { term: 2 });
    const chunk = (offset: number, data: string): InstallSnapshot => ({ type: 'install_snapshot', from: 'n1', to: 'n2', term: 2, snapshotIndex: 5, snapshotTerm: 2, snapshotConfig: CONF, offset, size: 6, data });
    f.step(chunk(0, 'ab'), 1);
    take(f);
    f.step(chunk(4, 'ef'), 2); // the chunk at 2 was lost
    expect(take(f).snapshotMessages).toEqual([expect.objectContaining({ offset: 2, matchIndex: 0 })]);
    f.step(chunk(2, 'cd'), 3);
    f.step(chunk(4, 'ef'), 4);
    expect(take(f).snapshot).toEqual({ index: 5, term: 2, data: 'abcdef', config: CONF });
  });

  it('a leader resends the chunk from the follower\'s offset at the next heartbeat', () => {
    const l = committedLeader(5, { maxBytesPerAppend: 3 });
    l.snapshotTaken(6, 'abcdefgh');
    l.persisted(l.ready());
    take(l);
    l.step({ type: 'append_entries_reply', from: 'n2', to: 'n1', term: 2, success: false, matchIndex: 6, conflictIndex: 1 }, 3);
    expect(chunks(l.ready(), 'n2').map((m) => m.offset)).toEqual([0]);
    l.step({ type: 'install_snapshot_reply', from: 'n2', to: 'n1', term: 2, snapshotIndex: 6, offset: 3, matchIndex: 0 }, 4);
    expect(chunks(l.ready(), 'n2').map((m) => m.offset)).toEqual([3]);
    // That chunk is lost; a duplicate of the old reply changes nothing at once.
    l.step({ type: 'install_snapshot_reply', from: 'n2', to: 'n1', term: 2, snapshotIndex: 6, offset: 3, matchIndex: 0 }, 5);
    expect(chunks(l.ready(), 'n2')).toEqual([]);
    l.tick(l.nextDeadline());
    expect(chunks(l.ready(), 'n2').map((m) => m.offset)).toEqual([3]);
  });

  it('a snapshot at or below the follower\'s commit index is answered with that index and dropped', () => {
    const f = node('n2', { term: 2, log: [1, 1, 2, 2], commit: 4 });
    f.step({ type: 'install_snapshot', from: 'n1', to: 'n2', term: 2, snapshotIndex: 3, snapshotTerm: 2, snapshotConfig: CONF, offset: 0, size: 1, data: 'x' }, 1);
    const rd = take(f);
    expect(rd.snapshot).toBeNull();
    expect(rd.snapshotMessages).toEqual([expect.objectContaining({ matchIndex: 4 })]);
    expect(f.status()).toMatchObject({ lastIndex: 4, commitIndex: 4 });
    expect(f.firstIndex()).toBe(1);
  });

  it('a follower whose log holds the snapshot\'s last entry keeps the entries after it (§7 step 6)', () => {
    const f = node('n2', { term: 2, log: [1, 1, 2, 2, 2, 2], commit: 1 });
    f.step({ type: 'install_snapshot', from: 'n1', to: 'n2', term: 2, snapshotIndex: 4, snapshotTerm: 2, snapshotConfig: CONF, offset: 0, size: 1, data: 'x' }, 1);
    const rd = take(f);
    expect(rd.snapshot?.index).toBe(4);
    expect(f.firstIndex()).toBe(5);
    expect(f.status()).toMatchObject({ lastIndex: 6, commitIndex: 4 });
    // A follower whose entry there has another term discards its whole log.
    const g = node('n3', { term: 3, log: [1, 1, 2, 2, 2, 2], commit: 1 });
    g.step({ type: 'install_snapshot', from: 'n1', to: 'n3', term: 3, snapshotIndex: 4, snapshotTerm: 3, snapshotConfig: CONF, offset: 0, size: 1, data: 'x' }, 1);
    take(g);
    expect(g.status()).toMatchObject({ lastIndex: 4, lastTerm: 3, commitIndex: 4 });
  });

  it('an append whose previous entry is below a follower\'s base is answered with the follower\'s commit index', () => {
    const f = new RaftNode(options('n2', ['n1', 'n2', 'n3']), { hardState: { term: 2, vote: null, commit: 0 }, snapshot: { index: 8, term: 2, data: '', config: CONF }, entries: [] }, 0);
    f.step(ae('n1', 'n2', 2, 5, 2, [2, 2, 2], 8), 1);
    expect(take(f).sent).toEqual([expect.objectContaining({ type: 'append_entries_reply', success: true, matchIndex: 8 })]);
    expect(f.status().lastIndex).toBe(8);
  });

  it('a heartbeat to a follower whose match is below the leader\'s base checks at the base', () => {
    const l = stableLeader('n1', { term: 1 });
    for (let i = 0; i < 5; i++) l.propose(`k=${i}`, 1);
    take(l);
    l.step(aeOk('n2', 'n1', 2, 6), 2); // n3 stays at match 1
    take(l);
    expect(l.status().commitIndex).toBe(6);
    l.snapshotTaken(6, 's');
    l.persisted(l.ready());
    take(l);
    expect(l.firstIndex()).toBe(7);
    l.tick(l.nextDeadline());
    const beats = take(l).sent.filter((m) => m.type === 'append_entries' && m.to === 'n3' && m.entries.length === 0);
    expect(beats).toEqual([expect.objectContaining({ prevLogIndex: 6, prevLogTerm: 2 })]);
  });

  it('an InstallSnapshot of a stale term is refused with the current term', () => {
    const f = node('n2', { term: 5 });
    f.step({ type: 'install_snapshot', from: 'n1', to: 'n2', term: 4, snapshotIndex: 3, snapshotTerm: 2, snapshotConfig: CONF, offset: 0, size: 1, data: 'x' }, 1);
    const rd = take(f);
    expect(rd.snapshot).toBeNull();
    expect(rd.snapshotMessages).toEqual([expect.objectContaining({ type: 'install_snapshot_reply', term: 5, matchIndex: 0 })]);
  });

  it('a cluster brings a follower that missed compacted entries up to date through its snapshot', () => {
    const c = new Cluster(['n1', 'n2', 'n3'], { maxBytesPerAppend: 5 });
    c.get('n1').campaign(0);
    c.stabilize();
    const l = c.get('n1');
    c.drop = (m) => m.to === 'n3' || m.from === 'n3';
    for (let i = 0; i < 8; i++) l.propose(`k=${i}`, 1);
    c.stabilize();
    const applied = c.applied.get('n1')!.length;
    l.snapshotTaken(applied, 'snapshot-of-n1');
    c.stabilize();
    expect(l.firstIndex()).toBe(applied + 1);
    c.drop = () => false;
    l.propose('k=last', 2);
    // The appends to n3 were lost: heartbeats find it behind the leader's first index.
    for (let t = HB; t <= 10 * HB; t += HB) {
      c.advance(t);
      c.stabilize();
    }
    const snaps = c.readies.filter((r) => r.id === 'n3' && r.rd.snapshot !== null);
    expect(snaps.map((r) => r.rd.snapshot)).toEqual([{ index: applied, term: 1, data: 'snapshot-of-n1', config: CONF }]);
    expect(c.get('n3').status()).toMatchObject({ lastIndex: l.status().lastIndex, commitIndex: l.status().commitIndex });
  });
});
