// The shell's group commit: several Readies taken while a save was in flight become one save.
import { describe, expect, it } from 'vitest';
import type { Entry, HardState, Ready } from '../../peer/raft/types.ts';
import { describeRpc } from '../../peer/narrator.ts';
import { mergeForSave } from '../../peer/group-commit.ts';

function ready(hardState: HardState | null, entries: Entry[]): Ready {
  return { hardState, entries, snapshot: null, restore: false, compact: 0, early: [], messages: [], snapshotMessages: [], committed: [], readStates: [], readFailures: [], events: [] };
}
const e = (index: number, term: number, data: string | null = null): Entry => ({ index, term, data });

describe('group commit', () => {
  it('keeps the last hard state and appends the entries in order', () => {
    const m = mergeForSave([ready({ term: 1, vote: 'a', commit: 0 }, [e(1, 1)]), ready(null, [e(2, 1), e(3, 1)]), ready({ term: 1, vote: 'a', commit: 2 }, [])]);
    expect(m.hardState).toEqual({ term: 1, vote: 'a', commit: 2 });
    expect(m.entries.map((x) => x.index)).toEqual([1, 2, 3]);
  });

  it('lets a later Ready replace the tail an earlier one appended (Raft truncation)', () => {
    const m = mergeForSave([ready(null, [e(4, 2), e(5, 2), e(6, 2)]), ready({ term: 3, vote: null, commit: 3 }, [e(5, 3, 'x')])]);
    expect(m.entries).toEqual([e(4, 2), e(5, 3, 'x')]);
    const before = mergeForSave([ready(null, [e(4, 2), e(5, 2)]), ready(null, [e(2, 3)])]);
    expect(before.entries).toEqual([e(2, 3)]);
  });

  it('saves nothing when no Ready has state to persist', () => {
    expect(mergeForSave([ready(null, []), ready(null, [])])).toEqual({ hardState: null, entries: [] });
  });
});

describe('RPC log lines', () => {
  it('say what a person needs to follow an election and replication', () => {
    expect(describeRpc({ type: 'request_vote', from: 'a', to: 'b', term: 4, lastLogIndex: 7, lastLogTerm: 3, preVote: true })).toBe('PreVote term 4 last log 7/3');
    expect(describeRpc({ type: 'append_entries', from: 'a', to: 'b', term: 3, prevLogIndex: 4, prevLogTerm: 3, entries: [e(5, 3), e(6, 3)], leaderCommit: 4 })).toBe(
      'AppendEntries term 3 prev 4/3 entries 5..6 commit 4',
    );
    expect(describeRpc({ type: 'append_entries_reply', from: 'b', to: 'a', term: 3, success: false, matchIndex: 9, conflictIndex: 5, conflictTerm: 2 })).toBe(
      'AppendEntries reply term 3: rejected prev 9, conflict at 5 term 2',
    );
  });
});
