// What a peer writes in its log about what it does: the lines a person follows an election and
// replication by; and with -v the events, with every field the safety monitor reads. The narrator
// is given a log to write to and read-only views of the core and the store; it changes nothing.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Narrator, STATE_SPACING_MS, type NarratorLog } from '../../peer/narrator.ts';
import { encodeEntry, KvStore } from '../../peer/kv.ts';
import type { Entry, NodeStatus, PersistedState } from '../../peer/raft/types.ts';
import type { RecoveryReport } from '../../peer/storage.ts';
import { parseConfig, timingOf } from '../../shared/config.ts';
import type { PeerEvent } from '../../shared/events.ts';
import { EMPTY_PREFIX, entryHash, prefixHashes } from '../../shared/log-hash.ts';
import type { PeerEnvelope } from '../../shared/peer-protocol.ts';
import { freePorts, waitFor } from '../support/cluster.ts';
import { FakeRelay } from '../support/fake-relay.ts';

const config = parseConfig(readFileSync(new URL('../../raft_peer.ini', import.meta.url), 'utf8'));

const report = (lastWrite = 0): RecoveryReport => ({ records: 0, base: null, cutBytes: 0, cutReason: null, file: 'raft.wal', lastWrite, dataId: '0123456789ab', dataIdNote: null });
const empty: PersistedState = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };

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
    verbose: false, core: { status: () => st }, store, recovered: { state: empty, report: report() }, now: () => 0,
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

describe('narrator with -v: the fields the safety monitor reads', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f();
  });

  type Of<T extends PeerEvent['type']> = Extract<PeerEvent, { type: T }>;
  const cmd = (n: number) => encodeEntry({ op: 'add', key: 'x', amount: n }, 'c1', n);
  const entry = (index: number, term: number, data: string | null = cmd(index)): Entry => ({ index, term, data });

  /** A narrator with -v streaming to a fake relay, over a core whose status the test sets. */
  async function verbose(recovered: PersistedState, lastWrite: number) {
    const [port] = await freePorts(1);
    const relay = await FakeRelay.start(port!);
    cleanup.push(() => relay.close());
    const st: NodeStatus = { id: 'peer1', role: 'follower', term: recovered.hardState.term, vote: null, leader: null, commitIndex: recovered.hardState.commit, lastIndex: 0, lastTerm: 0, electionDeadline: 0 };
    const log: NarratorLog = { line: () => {}, important: () => {}, heartbeat: () => {}, setContext: () => {} };
    const store = new KvStore();
    const n = new Narrator({
      logger: log, name: 'peer1', cluster: ['peer1', 'peer2', 'peer3'], config: { ...config, relay: { ...config.relay, host: '127.0.0.1', port: port! } },
      profile: 'fast', timing: timingOf(config, 'fast'), verbose: true, core: { status: () => st }, store,
      recovered: { state: recovered, report: report(lastWrite) }, now: () => 0,
    });
    cleanup.push(() => n.close());
    n.startReporting();
    const events = <T extends PeerEvent['type']>(type: T) => relay.events.filter((e): e is Of<T> => e.type === type);
    await waitFor('the hello and the resync', () => events('resync').length > 0);
    return { n, st, store, relay, events };
  }

  it('says hello with its boot, its data id and what it recovered, then a resync of the same log', async () => {
    const entries = [entry(1, 1, null), entry(2, 1), entry(3, 2)];
    const phs = prefixHashes(EMPTY_PREFIX, entries);
    const { events } = await verbose({ hardState: { term: 2, vote: 'peer2', commit: 2 }, entries }, 9);
    const [hello] = events('hello');
    expect(hello).toMatchObject({ boot: expect.stringMatching(/^[0-9a-f]{12}$/), dataId: '0123456789ab', seq: 0 });
    expect(hello!.recovered).toEqual({ w: 9, term: 2, vote: 'peer2', commit: 2, commitPh: phs[1], lastIndex: 3, lastTerm: 2, lastPh: phs[2], base: null });
    const [resync] = events('resync');
    expect(resync).toMatchObject({ seq: 0, commit: 2, commitPh: phs[1], lastIndex: 3, lastTerm: 2, lastPh: phs[2], base: null, durable: { w: 9, term: 2, vote: 'peer2' } });
    expect(resync!.tail).toEqual([
      { index: 1, term: 1, label: 'noop', ph: phs[0] },
      { index: 2, term: 1, label: 'x add 2', ph: phs[1] },
      { index: 3, term: 2, label: 'x add 3', ph: phs[2] },
    ]);
  });

  it('reports a durable save as its truncation (with the write\'s term) and its tiles with prefix hashes and the write; a save without tiles as persisted', async () => {
    const { n, events, relay } = await verbose({ hardState: { term: 1, vote: null, commit: 0 }, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] }, 3);
    const from = relay.events.length;
    n.saved([entry(2, 4), entry(3, 4)], 4, { term: 4, vote: 'peer3', commit: 1 });
    n.saved([], 4, { term: 4, vote: 'peer3', commit: 1 }); // nothing new: no second persisted
    n.saved([], 5, { term: 5, vote: null, commit: 1 });
    await waitFor('the events', () => events('persisted').length === 1);
    const phs = prefixHashes(EMPTY_PREFIX, [entry(1, 1), entry(2, 4), entry(3, 4)]);
    const got = relay.events.slice(from).map(({ peer: _p, t: _t, ...rest }) => rest);
    expect(got).toEqual([
      // seq 0 went to the catch-up's faults event.
      { type: 'log_truncate', from: 2, term: 4, seq: 1 },
      {
        type: 'log_append',
        entries: [{ index: 2, term: 4, label: 'x add 2', ph: phs[1] }, { index: 3, term: 4, label: 'x add 3', ph: phs[2] }],
        durable: { w: 4, term: 4, vote: 'peer3' },
        seq: 2,
      },
      { type: 'persisted', w: 5, term: 5, vote: null, lastIndex: 3, lastTerm: 4, lastPh: phs[2], seq: 3 },
    ]);
  });

  it('gives a commit the reporter\'s term and the prefix hash through it, and an applied entry its hash', async () => {
    const entries = [entry(1, 1, null), entry(2, 1)];
    const phs = prefixHashes(EMPTY_PREFIX, entries);
    const { n, st, store, events } = await verbose({ hardState: { term: 1, vote: null, commit: 0 }, entries }, 2);
    st.term = 3;
    n.coreEvent({ kind: 'commit', index: 2 });
    n.coreEvent({ kind: 'commit', index: 7 }); // past the saved log: no claim it cannot back
    n.applied(entries[0]!, store.apply(null, 1));
    n.applied(entries[1]!, store.apply(entries[1]!.data, 2));
    n.appliedReady();
    await waitFor('the apply', () => events('apply').length === 1);
    expect(events('commit').map(({ index, term, ph }) => ({ index, term, ph }))).toEqual([
      { index: 2, term: 3, ph: phs[1] },
      { index: 7, term: undefined, ph: undefined },
    ]);
    expect(events('apply')[0]!.entries.map((a) => [a.index, a.h])).toEqual([[1, entryHash(null)], [2, entryHash(entries[1]!.data)]]);
  });

  it('states a resync only once the saved log holds the core\'s commit index', async () => {
    const { n, st, relay, events } = await verbose({ hardState: { term: 1, vote: null, commit: 0 }, entries: [entry(1, 1)] }, 1);
    // The core stepped entries 2..3 and their commit; the save is not done yet. Then the relay comes back.
    st.commitIndex = 3;
    await relay.close();
    const again = await FakeRelay.start(relay.port);
    cleanup.push(() => again.close());
    await waitFor('the second hello', () => again.events.some((e) => e.type === 'hello'), 10_000);
    await new Promise((r) => setTimeout(r, 60));
    expect(again.events.some((e) => e.type === 'resync')).toBe(false);
    n.saved([entry(2, 1), entry(3, 1)], 2, { term: 1, vote: null, commit: 3 });
    const resync = (await waitFor('the resync', () => again.events.find((e) => e.type === 'resync'))) as Of<'resync'>;
    expect(resync).toMatchObject({ commit: 3, lastIndex: 3, durable: { w: 2 } });
    expect(resync.seq).toBe(again.events.filter((e) => e.type === 'log_append' && e.durable?.w === 2).at(-1)!.seq! + 1);
    expect(events('resync')).toHaveLength(1); // the first relay's
  });

  it('says in each letter\'s event what the letter says, in small numbers (entries as a count)', async () => {
    const { n, relay } = await verbose(empty, 0);
    const from = relay.events.length;
    n.sent({ type: 'request_vote', from: 'peer1', to: 'peer2', term: 4, lastLogIndex: 9, lastLogTerm: 3, preVote: false, rid: 'peer1:1' });
    n.sent({ type: 'append_entries', from: 'peer1', to: 'peer3', term: 4, prevLogIndex: 7, prevLogTerm: 3, entries: [entry(8, 4), entry(9, 4)], leaderCommit: 6, rid: 'peer1:2' });
    n.received({ type: 'append_entries_reply', from: 'peer3', to: 'peer1', term: 4, success: false, matchIndex: 5, conflictIndex: 6, conflictTerm: 2, rid: 'peer3:1' });
    n.received({ type: 'request_vote_reply', from: 'peer2', to: 'peer1', term: 4, granted: true, preVote: false, rid: 'peer2:1' });
    await waitFor('the four letters', () => relay.events.length >= from + 4);
    const got = relay.events.slice(from).map(({ peer: _p, t: _t, seq: _s, ...rest }) => rest);
    expect(got).toEqual([
      { type: 'rpc_send', to: 'peer2', rid: 'peer1:1', rpc: 'request_vote', term: 4, heartbeat: false, entries: 0, preVote: false, lastLogIndex: 9, lastLogTerm: 3 },
      { type: 'rpc_send', to: 'peer3', rid: 'peer1:2', rpc: 'append_entries', term: 4, heartbeat: false, entries: 2, prevLogIndex: 7, prevLogTerm: 3, leaderCommit: 6 },
      { type: 'rpc_recv', from: 'peer3', rid: 'peer3:1', rpc: 'append_entries_reply', term: 4, heartbeat: false, entries: 0, ok: false, matchIndex: 5, conflictIndex: 6, conflictTerm: 2 },
      { type: 'rpc_recv', from: 'peer2', rid: 'peer2:1', rpc: 'request_vote_reply', term: 4, heartbeat: false, entries: 0, preVote: false, ok: true },
    ]);
  });
  it('sends a change of role, term, vote or leader in a state at once, and a moving log, commit or deadline at most once per spacing, the latest last', async () => {
    const { n, st, relay, events } = await verbose(empty, 0);
    await waitFor('the catch-up state', () => events('state').length === 1);
    // A new term goes out at once; so the batches right after it are within the spacing.
    st.term = 3;
    n.batchHandled();
    // Batches under load: the log's end, the commit and the follower's deadline move each time.
    for (let i = 1; i <= 20; i++) {
      st.lastIndex = i;
      st.commitIndex = i - 1;
      st.electionDeadline = 1000 + i;
      n.batchHandled();
    }
    n.coreEvent({ kind: 'commit', index: 19 });
    const held = (await waitFor('the held-back state', () => events('state')[2])) as Of<'state'>;
    expect(events('state')[1]).toMatchObject({ term: 3, lastIndex: 0 });
    expect(held).toMatchObject({ lastIndex: 20, commitIndex: 19, electionDeadline: 1020 });
    // Held back: it comes after the commit emitted after the batches, and one state says them all.
    const order = () => relay.events.filter((e) => e.type === 'state' || e.type === 'commit').map((e) => e.type);
    expect(order().slice(-2)).toEqual(['commit', 'state']);
    // A new term goes out at once (before the commit that follows it), with the log's end as it is then.
    st.term = 4;
    st.lastIndex = 21;
    n.batchHandled();
    n.coreEvent({ kind: 'commit', index: 20 });
    const termed = (await waitFor('the new term', () => events('state')[3])) as Of<'state'>;
    expect(termed).toMatchObject({ term: 4, lastIndex: 21 });
    await waitFor('the second commit', () => events('commit').length === 2);
    expect(order().slice(-3)).toEqual(['state', 'state', 'commit']);
    // An unchanged state is not sent again.
    n.batchHandled();
    await new Promise((r) => setTimeout(r, STATE_SPACING_MS + 20));
    expect(events('state')).toHaveLength(4);
  });
});
