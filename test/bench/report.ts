// The bench's results: every measured value with the repetition and system it came from and
// how busy the machine was; summarised per figure as median [min-max] with the ratio
// ours/etcd and the target; written as JSON and as a markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Busyness } from './machine.ts';
import { fmtNumber, fmtRatio, fmtSpread, ratio, spread, type Spread } from './stats.ts';

export type SystemName = 'ours' | 'etcd';
/** Who a sample describes: a system under test, or the machine itself (the floor). */
export type Subject = SystemName | 'machine';

export interface Sample {
  system: Subject;
  rep: number;
  figure: string;
  value: number;
}

/** One measured run (a workload on one system in one repetition) and how busy the machine was. */
export interface RunRecord {
  system: Subject;
  rep: number;
  workload: string;
  busy: Busyness | null;
  detail: unknown;
}

export interface FigureDef {
  key: string;
  label: string;
  unit: string;
  /** Whether ours should be higher or lower than etcd (for reading the ratio). */
  better: 'higher' | 'lower';
  target?: { text: string; met: (ours: Spread, etcd: Spread) => boolean | null };
}

const vsEtcd = (f: (r: number) => boolean) => (o: Spread, e: Spread) => {
  const r = ratio(o, e);
  return Number.isFinite(r) ? f(r) : null;
};
const absolute = (f: (v: number) => boolean) => (o: Spread) => (o.n ? f(o.median) : null);

export const FIGURES: FigureDef[] = [
  { key: 'floor.fsync.p50', label: 'floor: write+fsync p50', unit: 'ms', better: 'lower' },
  { key: 'floor.fsync.p99', label: 'floor: write+fsync p99', unit: 'ms', better: 'lower' },
  { key: 'floor.fdatasync.p50', label: 'floor: write+fdatasync p50', unit: 'ms', better: 'lower' },
  { key: 'floor.fsyncAsync.p50', label: 'floor: fs.write+fs.fsync (libuv pool) p50', unit: 'ms', better: 'lower' },
  { key: 'floor.ws.p50', label: 'floor: loopback WebSocket round trip p50', unit: 'ms', better: 'lower' },
  { key: 'floor.ws.p99', label: 'floor: loopback WebSocket round trip p99', unit: 'ms', better: 'lower' },
  { key: 'floor.http.p50', label: 'floor: loopback keep-alive HTTP round trip p50', unit: 'ms', better: 'lower' },
  { key: 'floor.echo64.perSec', label: 'floor: one Node thread answering 64 WebSocket clients (echo)', unit: 'req/s', better: 'higher' },
  { key: 'floor.echo64.cpuPerRequest', label: 'floor: that thread\'s CPU per request', unit: 'µs', better: 'lower' },
  ...[1, 8, 64].flatMap((c): FigureDef[] => [
    {
      key: `w1.${c}.ops`,
      label: `W1 ${c} client${c > 1 ? 's' : ''}: throughput`,
      unit: 'ops/s',
      better: 'higher',
      ...(c === 64 ? { target: { text: '>= 2x etcd', met: vsEtcd((r) => r >= 2) } } : {}),
    },
    {
      key: `w1.${c}.p50`,
      label: `W1 ${c} client${c > 1 ? 's' : ''}: latency p50`,
      unit: 'ms',
      better: 'lower',
      ...(c === 1 ? { target: { text: '<= etcd', met: vsEtcd((r) => r <= 1) } } : {}),
    },
    { key: `w1.${c}.p99`, label: `W1 ${c} client${c > 1 ? 's' : ''}: latency p99`, unit: 'ms', better: 'lower' },
    { key: `w1.${c}.cores`, label: `W1 ${c} client${c > 1 ? 's' : ''}: cores used by the cluster`, unit: 'cores', better: 'lower' },
    { key: `w1.${c}.cpuPerOp`, label: `W1 ${c} client${c > 1 ? 's' : ''}: cluster CPU per command`, unit: 'µs', better: 'lower' },
  ]),
  { key: 'w1.fsync', label: 'W1: the disk\'s fsync p50, probed before each run', unit: 'ms', better: 'lower' },
  {
    key: 'w2.unavailable.median',
    label: 'W2 failover: unavailability median',
    unit: 'ms',
    better: 'lower',
    target: { text: '<= etcd', met: vsEtcd((r) => r <= 1) },
  },
  {
    key: 'w2.unavailable.p90',
    label: 'W2 failover: unavailability p90',
    unit: 'ms',
    better: 'lower',
    target: { text: '<= 300 ms', met: absolute((v) => v <= 300) },
  },
  { key: 'w2.leader.median', label: 'W2 failover: kill to new leader median', unit: 'ms', better: 'lower' },
  { key: 'w2.leader.p90', label: 'W2 failover: kill to new leader p90', unit: 'ms', better: 'lower' },
  { key: 'w3.delay.p50', label: 'W3 event delay p50 (W1 8 clients, -v)', unit: 'ms', better: 'lower' },
  {
    key: 'w3.delay.p99',
    label: 'W3 event delay p99 (W1 8 clients, -v)',
    unit: 'ms',
    better: 'lower',
    target: { text: '<= 20 ms', met: absolute((v) => v <= 20) },
  },
  { key: 'w3.events', label: 'W3 events per second reaching the subscriber', unit: 'events/s', better: 'higher' },
  { key: 'w3.ops.plain', label: 'W3 W1 8 clients without -v', unit: 'ops/s', better: 'higher' },
  { key: 'w3.ops.verbose', label: 'W3 W1 8 clients with -v and the relay', unit: 'ops/s', better: 'higher' },
  {
    key: 'w3.ops.ratio',
    label: 'W3 throughput with -v / without',
    unit: '',
    better: 'higher',
    target: { text: '>= 0.80', met: absolute((v) => v >= 0.8) },
  },
  { key: 'w3.relay.rate', label: 'W3 highest event rate the relay sustains', unit: 'events/s', better: 'higher' },
  { key: 'w4.idle.village', label: 'W4 village idle (Chromium, software rendering)', unit: 'frames/s', better: 'higher' },
  { key: 'w4.idle.empty', label: 'W4 empty Phaser scene, same run', unit: 'frames/s', better: 'higher' },
  {
    key: 'w4.idle.ratio',
    label: 'W4 village idle / empty scene',
    unit: '',
    better: 'higher',
    target: { text: '>= 0.80', met: absolute((v) => v >= 0.8) },
  },
  { key: 'w4.idle.draws', label: 'W4 village idle: WebGL draw calls per frame', unit: 'calls', better: 'lower' },
  { key: 'w4.idle.uploads', label: 'W4 village idle: texture uploads per frame', unit: 'uploads', better: 'lower' },
  { key: 'w4.idle.cpu.village', label: 'W4 village idle: Chromium CPU per frame', unit: 'ms', better: 'lower' },
  { key: 'w4.idle.cpu.empty', label: 'W4 empty scene idle: Chromium CPU per frame', unit: 'ms', better: 'lower' },
  { key: 'w4.load.village', label: 'W4 village under W1 8 clients (-v)', unit: 'frames/s', better: 'higher' },
  { key: 'w4.load.empty', label: 'W4 empty Phaser scene under the same load', unit: 'frames/s', better: 'higher' },
  {
    key: 'w4.load.ratio',
    label: 'W4 village under load / empty scene',
    unit: '',
    better: 'higher',
    target: { text: '>= 0.60', met: absolute((v) => v >= 0.6) },
  },
  { key: 'w4.load.draws', label: 'W4 village under load: WebGL draw calls per frame', unit: 'calls', better: 'lower' },
  { key: 'w4.load.uploads', label: 'W4 village under load: texture uploads per frame', unit: 'uploads', better: 'lower' },
  { key: 'w4.load.cpu.village', label: 'W4 village under load: Chromium CPU per frame', unit: 'ms', better: 'lower' },
  { key: 'w4.load.cpu.empty', label: 'W4 empty scene under load: Chromium CPU per frame', unit: 'ms', better: 'lower' },
  { key: 'w4.load.ops', label: 'W4 the load: W1 8 clients throughput meanwhile', unit: 'ops/s', better: 'higher' },
  { key: 'rss.start', label: 'RSS of the largest member at start', unit: 'MiB', better: 'lower' },
  { key: 'long.commands', label: 'Long run: commands sent (64 clients)', unit: 'commands', better: 'higher' },
  { key: 'long.ops', label: 'Long run: throughput', unit: 'ops/s', better: 'higher' },
  {
    key: 'long.rss.max',
    label: 'Long run: RSS of the largest member',
    unit: 'MiB',
    better: 'lower',
    target: { text: '< 150 MiB', met: absolute((v) => v < 150) },
  },
  { key: 'long.elections', label: 'Long run: elections (terms begun) while the commands were sent', unit: 'terms', better: 'lower' },
  { key: 'long.data.max', label: "Long run: largest member's data directory", unit: 'MiB', better: 'lower' },
  { key: 'long.restart.caughtUp', label: 'Long run: restart to caught up', unit: 's', better: 'lower' },
  {
    key: 'long.restart.read',
    label: 'Long run: restart to serving a linearizable read',
    unit: 's',
    better: 'lower',
    target: { text: '< 2 s', met: absolute((v) => v < 2) },
  },
  { key: 'install.caughtUp', label: 'InstallSnapshot: join to caught up', unit: 's', better: 'lower' },
  { key: 'install.voter', label: 'InstallSnapshot: join to voter', unit: 's', better: 'lower' },
  { key: 'install.elections', label: 'InstallSnapshot: elections (terms begun) while the store was filled', unit: 'terms', better: 'lower' },
  { key: 'install.rss', label: "InstallSnapshot: the new member's RSS", unit: 'MiB', better: 'lower' },
  {
    key: 'snapab.ops',
    label: 'W1 64 clients, snapshots on / off: throughput (paired)',
    unit: '',
    better: 'higher',
    target: { text: '>= 0.90', met: absolute((v) => v >= 0.9) },
  },
  { key: 'snapab.p50', label: 'W1 64 clients, snapshots on / off: latency p50 (paired)', unit: '', better: 'lower' },
  { key: 'snapab.cpu', label: 'W1 64 clients, snapshots on / off: cluster CPU per command (paired)', unit: '', better: 'lower' },
  {
    key: 'rss.max',
    label: 'RSS of the largest member after 100,000 commands',
    unit: 'MiB',
    better: 'lower',
    target: { text: '< 150 MiB', met: absolute((v) => v < 150) },
  },
];

/** The snapshot figures' labels name the sizes used (--long-commands, --install-mib). */
export function compactionLabels(o: { longCommands: number; installMiB: number }): Record<string, string> {
  const n = fmtNumber(o.longCommands);
  const mib = String(o.installMiB);
  return {
    'long.commands': 'Long run: commands sent (64 clients)',
    'long.ops': `Long run: throughput over the ${n} commands`,
    'long.rss.max': `Long run: RSS of the largest member after ${n} commands`,
    'long.data.max': `Long run: largest member's data directory after ${n} commands`,
    'long.restart.caughtUp': 'Long run: a member restarted, process start to applied through the commit index',
    'long.restart.read': 'Long run: a member restarted, process start to serving a linearizable read',
    'install.caughtUp': `InstallSnapshot (${mib} MiB state): join to the new member caught up`,
    'install.voter': `InstallSnapshot (${mib} MiB state): join to the new member a voter`,
    'install.rss': `InstallSnapshot (${mib} MiB state): the new member's RSS`,
  };
}

export interface Row {
  key: string;
  label: string;
  unit: string;
  /** The floor: a property of the machine, not of a system. */
  machine: Spread;
  ours: Spread;
  etcd: Spread;
  /** ours / etcd of the medians (NaN when one side is missing). */
  ratio: number;
  target: string | null;
  met: boolean | null;
}

/** `labels` replaces figure labels (e.g. the RSS row when --rss-commands is not 100,000). */
export function summarize(samples: readonly Sample[], labels: Record<string, string> = {}): Row[] {
  const rows: Row[] = [];
  const known = new Set(FIGURES.map((f) => f.key));
  const defs = [...FIGURES];
  for (const s of samples) {
    if (!known.has(s.figure)) {
      known.add(s.figure);
      defs.push({ key: s.figure, label: s.figure, unit: '', better: 'lower' });
    }
  }
  for (const f of defs) {
    const of = (sys: Subject) => spread(samples.filter((s) => s.figure === f.key && s.system === sys).map((s) => s.value));
    const machine = of('machine');
    const ours = of('ours');
    const etcd = of('etcd');
    if (!ours.n && !etcd.n && !machine.n) continue;
    rows.push({
      key: f.key,
      label: labels[f.key] ?? f.label,
      unit: f.unit,
      machine,
      ours,
      etcd,
      ratio: ratio(ours, etcd),
      target: f.target?.text ?? null,
      met: f.target ? f.target.met(ours, etcd) : null,
    });
  }
  return rows;
}

const metText = (m: boolean | null, target: string | null) => (target === null ? '' : m === null ? 'n/a' : m ? 'yes' : 'NO');

const isFloor = (r: Row) => r.machine.n > 0;

export function markdownTable(rows: readonly Row[]): string {
  const head = '| Figure | Unit | ours | etcd | ours/etcd | Target | Met |\n|---|---|---:|---:|---:|---|---|';
  const lines = rows
    .filter((r) => !isFloor(r))
    .map((r) => `| ${r.label} | ${r.unit} | ${fmtSpread(r.ours)} | ${fmtSpread(r.etcd)} | ${fmtRatio(r.ours, r.etcd)} | ${r.target ?? ''} | ${metText(r.met, r.target)} |`);
  return [head, ...lines].join('\n');
}

export function markdownFloorTable(rows: readonly Row[]): string {
  const head = '| Floor (this machine) | Unit | median [min-max] |\n|---|---|---:|';
  return [head, ...rows.filter(isFloor).map((r) => `| ${r.label.replace(/^floor: /, '')} | ${r.unit} | ${fmtSpread(r.machine)} |`)].join('\n');
}

function pad(cells: string[][], right: Set<number>): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((x, i) => (right.has(i) ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** Plain-text tables for the terminal: the side-by-side figures, then the floor. */
export function textTable(rows: readonly Row[]): string {
  const main = [
    ['figure', 'unit', 'ours', 'etcd', 'ours/etcd', 'target', 'met'],
    ...rows.filter((r) => !isFloor(r)).map((r) => [r.label, r.unit, fmtSpread(r.ours), fmtSpread(r.etcd), fmtRatio(r.ours, r.etcd), r.target ?? '', metText(r.met, r.target)]),
  ];
  const floor = rows.filter(isFloor);
  const parts = [pad(main, new Set([2, 3, 4]))];
  if (floor.length) parts.push(pad([['floor (this machine)', 'unit', 'median [min-max]'], ...floor.map((r) => [r.label.replace(/^floor: /, ''), r.unit, fmtSpread(r.machine)])], new Set([2])));
  return parts.join('\n\n');
}

export function busyTable(runs: readonly RunRecord[]): string {
  const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2));
  const head = '| Rep | System | Workload | Load 1 min (start->end) | Cores: system | bench | other |\n|---:|---|---|---|---:|---:|---:|';
  const lines = runs
    .filter((r) => r.busy)
    .map((r) => `| ${r.rep} | ${r.system} | ${r.workload} | ${f(r.busy!.loadStart)}->${f(r.busy!.loadEnd)} | ${f(r.busy!.systemCores)} | ${f(r.busy!.benchCores)} | ${f(r.busy!.otherCores)} |`);
  return [head, ...lines].join('\n');
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; node: string; etcd: string | null; memMiB: number };
  options: Record<string, unknown>;
  notes: string[];
  samples: Sample[];
  runs: RunRecord[];
  summary: Row[];
}

export function markdownReport(r: BenchResults): string {
  const parts = [
    `# Raft Village bench, ${r.startedAt}`,
    '',
    `Command: \`${r.command}\``,
    '',
    `Machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${fmtNumber(r.machine.memMiB)} MiB, Node ${r.machine.node}, etcd ${r.machine.etcd ?? 'not installed'}.`,
    'Each figure is the median [min-max] of its repetitions; the ratio is ours/etcd of the medians.',
    '',
    markdownTable(r.summary),
    '',
    markdownFloorTable(r.summary),
  ];
  if (r.notes.length) parts.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  parts.push('', '## How busy the machine was', '', 'Cores used during each run: by the system under test, by the bench process (clients), and by everything else.', '', busyTable(r.runs), '');
  return parts.join('\n');
}

export function writeResults(dir: string, r: BenchResults): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const json = join(dir, `bench-${stamp}.json`);
  const md = join(dir, `bench-${stamp}.md`);
  const text = JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
  writeFileSync(json, text);
  writeFileSync(md, markdownReport(r));
  writeFileSync(join(dir, 'latest.json'), text);
  writeFileSync(join(dir, 'latest.md'), markdownReport(r));
  return { json, md };
}
