// What -v costs a leader's thread per command, in CPU time, without a cluster: a Narrator (with
// and without -v) is driven through the calls a leader's shell makes for a batch of W3 commands
// (two AppendEntries sent, the save, two replies received, the commit, the applies, the batch
// handled), with the event loop turning between batches so that the reporter drains its frames
// as it does in a peer. The events go to a WebSocket server in a child process that discards
// them, so only the narrator's, the reporter's and the socket's work is counted here.
// Alternates rounds with and without -v; prints this process's CPU µs per command for each
// (median of the rounds) and their difference, the cost -v adds on the leader's thread.
//
//   npx tsx test/bench/narrate-cost.ts [--commands 20000] [--rounds 7] [--batch 2]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { encodeEntry, KvStore } from '../../peer/kv.ts';
import { Narrator, type NarratorLog } from '../../peer/narrator.ts';
import type { Entry, NodeStatus } from '../../peer/raft/types.ts';
import { parseConfig, timingOf } from '../../shared/config.ts';
import type { PeerEnvelope } from '../../shared/peer-protocol.ts';
import { median } from './stats.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} takes a whole number >= 1`);
  return v;
}
const COMMANDS = arg('--commands', 20_000);
const ROUNDS = arg('--rounds', 7);
const BATCH = arg('--batch', 2);

const config = parseConfig(readFileSync(new URL('../../raft_peer.ini', import.meta.url), 'utf8'));

/** A WebSocket server on a free port in a child process that reads and drops every frame. */
async function discardServer(): Promise<{ port: number; stop(): void }> {
  const code = `const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('listening', () => process.stdout.write(String(wss.address().port) + '\\n'));
wss.on('connection', (ws) => { ws.on('message', () => {}); ws.on('error', () => {}); });
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  const p = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'], cwd: new URL('../..', import.meta.url).pathname });
  const port = await new Promise<number>((resolve, reject) => {
    p.once('exit', (c) => reject(new Error(`the discarding server exited (${c})`)));
    p.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  return { port, stop: () => p.kill() };
}

const quiet: NarratorLog = { line: () => {}, important: () => {}, heartbeat: () => {}, setContext: () => {} };

async function run(verbose: boolean, port: number): Promise<number> {
  const st: NodeStatus = { id: 'peer1', role: 'leader', term: 3, vote: 'peer1', leader: 'peer1', commitIndex: 0, lastIndex: 0, lastTerm: 3, electionDeadline: null };
  const store = new KvStore();
  const n = new Narrator({
    logger: quiet, name: 'peer1', cluster: ['peer1', 'peer2', 'peer3'], config: { ...config, relay: { ...config.relay, host: '127.0.0.1', port } },
    profile: 'fast', timing: timingOf(config, 'fast'), verbose, core: { status: () => st }, store,
    recovered: { state: { hardState: { term: 3, vote: 'peer1', commit: 0 }, entries: [] }, report: { records: 0, base: null, cutBytes: 0, cutReason: null, file: 'raft.wal', lastWrite: 0, dataId: '0123456789ab', dataIdNote: null } },
    now: () => performance.now(),
  });
  n.startReporting();
  // Connected before the clock starts (the hello and the resync are not what is measured).
  await new Promise((r) => setTimeout(r, verbose ? 200 : 0));
  let rid = 0;
  let w = 0;
  const turn = () => new Promise((r) => setImmediate(r));
  const t0 = process.cpuUsage();
  for (let done = 0; done < COMMANDS; done += BATCH) {
    const first = st.lastIndex + 1;
    const entries: Entry[] = [];
    for (let k = 0; k < BATCH; k++) entries.push({ index: first + k, term: 3, data: encodeEntry({ op: 'add', key: `w3-${(first + k) % 64}`, amount: 1 }, `c-${k}`, first + k) });
    st.lastIndex = first + BATCH - 1;
    for (const to of ['peer2', 'peer3']) {
      const ae: PeerEnvelope = { type: 'append_entries', from: 'peer1', to, term: 3, prevLogIndex: first - 1, prevLogTerm: 3, entries, leaderCommit: st.commitIndex, rid: `peer1:${++rid}` };
      n.sent(ae);
    }
    n.saved(entries, ++w, { term: 3, vote: 'peer1', commit: st.commitIndex });
    await turn();
    for (const from of ['peer2', 'peer3']) n.received({ type: 'append_entries_reply', from, to: 'peer1', term: 3, success: true, matchIndex: st.lastIndex, rid: `${from}:${++rid}` });
    st.commitIndex = st.lastIndex;
    n.coreEvent({ kind: 'commit', index: st.commitIndex });
    for (const e of entries) n.applied(e, store.apply(e.data, e.index));
    n.appliedReady();
    n.batchHandled();
    await turn();
  }
  const cpu = process.cpuUsage(t0);
  // Let the last frames leave before the next round.
  await new Promise((r) => setTimeout(r, 50));
  n.close();
  return (cpu.user + cpu.system) / COMMANDS;
}

async function main(): Promise<void> {
  const server = await discardServer();
  try {
    await run(true, server.port); // warm-up of both paths
    await run(false, server.port);
    const plain: number[] = [];
    const verbose: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of r % 2 === 0 ? [false, true] : [true, false]) (v ? verbose : plain).push(await run(v, server.port));
    }
    const diffs = plain.map((p, i) => verbose[i]! - p);
    const f = (x: number) => x.toFixed(1);
    process.stdout.write(
      `leader thread CPU per command (batches of ${BATCH}, ${COMMANDS} commands, median of ${ROUNDS} rounds; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}):\n` +
        `  without -v ${f(median(plain))} µs, with -v ${f(median(verbose))} µs: -v adds ${f(median(diffs))} µs [${f(Math.min(...diffs))}-${f(Math.max(...diffs))}]\n`,
    );
  } finally {
    server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`narrate-cost: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
