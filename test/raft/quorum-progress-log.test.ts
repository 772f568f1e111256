// The small modules under the core: majority arithmetic, per-follower progress, the log array.
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../peer/raft/log.ts';
import { Progress } from '../../peer/raft/progress.ts';
import { majority, quorumValue, voteResult } from '../../peer/raft/quorum.ts';
import { logOf } from './harness.ts';

describe('quorum', () => {
  it('a majority of n is floor(n/2)+1', () => {
    expect([1, 2, 3, 4, 5, 9].map(majority)).toEqual([1, 2, 2, 3, 3, 5]);
  });

  it('the quorum value is the highest value held by a majority (§5.3: replicated on a majority)', () => {
    expect(quorumValue([5])).toBe(5);
    expect(quorumValue([7, 3, 5])).toBe(5);
    expect(quorumValue([9, 1, 2, 8, 3])).toBe(3);
    expect(quorumValue([4, 4, 0, 0])).toBe(0);
  });

  it('an election is won by a majority of grants and lost by a majority of rejections (§5.2)', () => {
    const v = (entries: [string, boolean][]) => new Map(entries);
    expect(voteResult(v([['a', true]]), 3)).toBe('pending');
    expect(voteResult(v([['a', true], ['b', true]]), 3)).toBe('won');
    expect(voteResult(v([['a', true], ['b', false], ['c', false]]), 3)).toBe('lost');
    expect(voteResult(v([['a', true], ['b', false], ['c', false]]), 5)).toBe('pending');
  });
});

describe('progress', () => {
  it('replicate state advances next optimistically and tracks appends in flight', () => {
    const p = new Progress(1);
    p.becomeReplicate();
    p.sent(3);
    p.sent(5);
    expect(p).toMatchObject({ next: 6, inflights: [3, 5] });
    expect(p.inflightFull(2)).toBe(true);
    expect(p.maybeUpdate(3)).toBe(true);
    expect(p).toMatchObject({ match: 3, inflights: [5] });
    expect(p.maybeUpdate(2)).toBe(false); // a stale acknowledgement
  });

  it('probe state pauses after each append and resumes on an answer', () => {
    const p = new Progress(4);
    p.sent(6);
    expect(p).toMatchObject({ paused: true, next: 4 });
    expect(p.maybeDecrTo(5, 2)).toBe(false); // not the outstanding probe
    expect(p.maybeDecrTo(3, 2)).toBe(true);
    expect(p).toMatchObject({ paused: false, next: 2 });
  });

  it('a rejection in replicate state drops back to probe, never below match + 1', () => {
    const p = new Progress(1);
    p.maybeUpdate(4);
    p.becomeReplicate();
    p.sent(8);
    expect(p.maybeDecrTo(3, 1)).toBe(false); // at or below match: stale
    expect(p.maybeDecrTo(6, 1)).toBe(true);
    expect(p).toMatchObject({ state: 'probe', next: 5 });
  });

  it('a follower whose log now ends below match (lost disk) resets match to where its log ends', () => {
    const p = new Progress(1);
    p.maybeUpdate(4);
    p.becomeReplicate();
    expect(p.maybeDecrTo(4, 1, 0)).toBe(true); // the heartbeat at match 4 is refused: the log is empty
    expect(p).toMatchObject({ state: 'probe', match: 0, next: 1 });
  });
});

describe('log', () => {
  it('entry i lives at position i - 1 and terms are looked up in constant time', () => {
    const l = new RaftLog(logOf([1, 1, 2]));
    expect([l.lastIndex, l.lastTerm, l.term(0), l.term(3), l.term(4)]).toEqual([3, 2, 0, 2, -1]);
  });

  it('finds the first index of a term and the last index of a term by binary search', () => {
    const l = new RaftLog(logOf([1, 1, 3, 3, 3, 5, 6]));
    expect(l.firstIndexOfTermAt(5)).toBe(3);
    expect(l.firstIndexOfTermAt(1)).toBe(1);
    expect(l.lastIndexOfTerm(3, 7)).toBe(5);
    expect(l.lastIndexOfTerm(3, 4)).toBe(4);
    expect(l.lastIndexOfTerm(2, 7)).toBe(0);
    expect(l.lastIndexOfTerm(6, 7)).toBe(7);
  });

  it('hands out only the changed suffix to persist, truncations included', () => {
    const l = new RaftLog(logOf([1, 1, 1]));
    expect(l.takeUnstable()).toEqual([]);
    l.truncateFrom(2);
    l.append({ index: 2, term: 2, data: null });
    l.append({ index: 3, term: 2, data: 'x' });
    expect(l.takeUnstable().map((e) => `${e.index}/${e.term}`)).toEqual(['2/2', '3/2']);
    expect(l.hasUnstable()).toBe(false);
  });

  it('the durable prefix grows with reports of saved entries, shrinks with truncation, and ignores reports of replaced entries', () => {
    const l = new RaftLog(logOf([1, 1, 1]));
    expect(l.durableIndex).toBe(3); // recovered from disk
    l.append({ index: 4, term: 1, data: 'a' });
    l.append({ index: 5, term: 1, data: 'b' });
    expect(l.durableIndex).toBe(3);
    l.truncateFrom(5);
    l.append({ index: 5, term: 2, data: 'c' });
    expect(l.persistedTo(5, 1)).toBe(false); // that save held the entry that was replaced
    expect(l.durableIndex).toBe(3);
    expect(l.persistedTo(5, 2)).toBe(true);
    expect(l.durableIndex).toBe(5);
    l.truncateFrom(2);
    expect(l.durableIndex).toBe(1);
    expect(l.persistedTo(1, 1)).toBe(false); // nothing new
  });

  it('batches stop at the entry or byte limit but always carry one entry', () => {
    const l = new RaftLog(logOf([1, 1, 1, 1], () => 'abcd'));
    expect(l.batch(1, 3, 100).length).toBe(3);
    expect(l.batch(1, 10, 9).length).toBe(2);
    expect(l.batch(1, 10, 1).length).toBe(1);
  });
});
