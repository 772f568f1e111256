// What the fields the safety monitor reads cost a -v peer, per entry and per event, in one
// process (no cluster): `npx tsx test/bench/fields-cost.ts [--entries N]`.
//
//   hashes       entryHash + prefixHash of one entry (shared/log-hash.ts)
//   tile         what a log tile cost before (its label, decoded from the entry)
//   write        ReportedLog.write per entry: the label and the hashes, in batches of 8
//   h on apply   entryHash of an applied entry
//   serialize    JSON.stringify of a one-tile log_append, without and with ph + seq
//   persisted    building and serializing the persisted event that follows each save
// Each figure is the median of 7 rounds (ns of CPU per item); the machine's load is printed with them.
import { loadavg } from 'node:os';
import { encodeEntry, entryLabel } from '../../peer/kv.ts';
import type { Entry } from '../../peer/raft/types.ts';
import { ReportedLog } from '../../peer/reported-log.ts';
import { EMPTY_PREFIX, entryHash, prefixHash } from '../../shared/log-hash.ts';

const arg = process.argv.indexOf('--entries');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 200_000;
const data = Array.from({ length: N }, (_, i) => encodeEntry({ op: 'add', key: `w3-${i % 64}`, amount: 1 }, `c-${(i % 8).toString(16).padStart(16, '0')}`, i));
const entries: Entry[] = data.map((d, i) => ({ index: i + 1, term: 3, data: d }));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * ns of this process's CPU per item of `fn` over `n` items, the median of 7 rounds after a
 * warm-up (CPU time, not wall time: on a busy machine the wall clock counts other processes).
 */
function measure(n: number, fn: () => void): number {
  fn();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t);
    rounds.push(((d.user + d.system) * 1000) / n);
  }
  return median(rounds);
}

let sink = 0;
const figures: [string, number][] = [];
figures.push([
  'hashes (entryHash + prefixHash)',
  measure(N, () => {
    let ph = EMPTY_PREFIX;
    for (const e of entries) ph = prefixHash(ph, e.term, entryHash(e.data));
    sink ^= ph;
  }),
]);
figures.push([
  'tile label (the cost before)',
  measure(N, () => {
    for (const e of entries) sink ^= entryLabel(e.data).length;
  }),
]);
figures.push([
  'ReportedLog.write, batches of 8',
  measure(N, () => {
    const log = new ReportedLog([], { term: 0, vote: null, commit: 0 }, 0, entryLabel);
    for (let i = 0; i < N; i += 8) sink ^= log.write(entries.slice(i, i + 8), i + 1, { term: 3, vote: null, commit: 0 }).tiles.length;
  }),
]);
figures.push([
  'h on apply (entryHash)',
  measure(N, () => {
    for (const e of entries) sink ^= entryHash(e.data);
  }),
]);
const M = 200_000;
const tile = { index: 12345, term: 3, label: 'w3-7 add 1' };
// As ReportedLog builds it: one object literal with its ph.
const tileWithPh = { index: 12345, term: 3, label: 'w3-7 add 1', ph: 3395020194462017 };
figures.push([
  'serialize log_append, 1 tile, before',
  measure(M, () => {
    for (let i = 0; i < M; i++) sink ^= JSON.stringify({ type: 'log_append', entries: [tile], peer: 'peer1', t: 1795907661793 }).length;
  }),
]);
figures.push([
  'serialize log_append, 1 tile, with ph and seq',
  measure(M, () => {
    for (let i = 0; i < M; i++) sink ^= JSON.stringify({ type: 'log_append', entries: [tileWithPh], peer: 'peer1', t: 1795907661793, seq: 40000 + i }).length;
  }),
]);
figures.push([
  'persisted event, built and serialized',
  measure(M, () => {
    for (let i = 0; i < M; i++) {
      const d = { w: i, term: 3, vote: 'peer1', lastIndex: 12345 + i, lastTerm: 3, lastPh: 3395020194462017 };
      sink ^= JSON.stringify({ type: 'persisted', ...d, peer: 'peer1', t: 1795907661793, seq: i }).length;
    }
  }),
]);
const before = JSON.stringify({ type: 'log_append', entries: [tile], peer: 'peer1', t: 1795907661793 }).length;
const after = JSON.stringify({ type: 'log_append', entries: [tileWithPh], peer: 'peer1', t: 1795907661793, seq: 40000 }).length;

process.stdout.write(`fields the monitor reads: cost per item, ${N.toLocaleString('en')} entries of ${data[0]!.length} characters; load ${loadavg()[0]!.toFixed(2)}\n`);
for (const [what, ns] of figures) process.stdout.write(`  ${what.padEnd(46)} ${ns.toFixed(0).padStart(6)} ns\n`);
process.stdout.write(`  a one-tile log_append: ${before} -> ${after} bytes\n`);
if (sink === 0.5) process.stdout.write('\n'); // keeps the work from being optimized away
