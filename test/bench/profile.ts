// Reads V8 .cpuprofile files (node --cpu-prof) and says where the time went: self time per
// function, inclusive time per function, and a rough split into categories (our code, JSON,
// WebSocket framing, fs, GC, idle, ...).
//
//   npx tsx test/bench/profile.ts FILE.cpuprofile [--top N]
//
// Peers run from a bundle (.build/peer.mjs, see peer/bundle.ts): frames in a .mjs file with a
// source map beside it are mapped back to the .ts files and lines. Read a profile before the
// bundle is rebuilt (the next peer spawn after a source edit), or the lines are off.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  key: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  /** Sampled time that was not idle. */
  busyMs: number;
  categories: Record<string, number>;
  functions: FunctionTime[];
}

const sourceMaps = new Map<string, { map: SourceMap; dir: string } | null>();

/** The frame in its original source, when it is in a bundle with a source map; else itself. */
export function originalFrame(f: CallFrame): CallFrame {
  if (!f.url.startsWith('file://') || !f.url.endsWith('.mjs')) return f;
  let m = sourceMaps.get(f.url);
  if (m === undefined) {
    const file = `${fileURLToPath(f.url)}.map`;
    m = null;
    try {
      if (existsSync(file)) m = { map: new SourceMap(JSON.parse(readFileSync(file, 'utf8'))), dir: dirname(file) };
    } catch {
      // an unreadable map: keep the bundle's positions
    }
    sourceMaps.set(f.url, m);
  }
  if (!m) return f;
  const e = m.map.findEntry(f.lineNumber, f.columnNumber);
  if (!('originalSource' in e) || !e.originalSource) return f;
  return { ...f, url: pathToFileURL(resolve(m.dir, e.originalSource)).href, lineNumber: e.originalLine, columnNumber: e.originalColumn };
}

function shortUrl(url: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const m = /\/(peer|shared|game|test)\/.*$/.exec(u);
  return m ? m[0].slice(1) : u;
}

export function frameKey(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  const url = shortUrl(f.url);
  return url ? `${name} ${url}:${f.lineNumber + 1}` : name;
}

/**
 * A coarse category for a frame, to say what bounds a figure. A native frame (no url: a syscall
 * binding such as writev, or a builtin such as JSON.parse) belongs to the category of the frame
 * that called it, so a socket's writev counts as network and a log file's write as fs.
 */
export function category(f: CallFrame, parent: string | null): string {
  const n = f.functionName;
  const u = f.url;
  if (n === '(idle)') return 'idle';
  if (n === '(garbage collector)') return 'gc';
  if (n === '(program)') return 'program (native, unattributed)';
  if (n === '(root)') return 'root';
  if (!u && /^(parse|stringify)$/.test(n)) return 'JSON';
  if (/node_modules\/ws\//.test(u)) return 'ws library (framing, masking)';
  if (/node_modules\/(tsx|esbuild|get-tsconfig)|node:internal\/modules\//.test(u)) return 'module loading (startup)';
  if (/node:internal\/fs|^node:fs/.test(u)) return 'fs';
  if (/node:(internal\/)?(net|stream|streams|http|_http|stream_base_commons)/.test(u) || /node:internal\/streams/.test(u)) return 'net and streams';
  if (/node:internal\/(timers|process\/task_queues)/.test(u)) return 'timers and ticks';
  if (/\/peer\/raft\//.test(u)) return 'peer: raft core';
  if (/\/peer\/storage/.test(u)) return 'peer: storage';
  if (/\/peer\/kv/.test(u)) return 'peer: kv';
  if (/\/peer\/transport/.test(u)) return 'peer: transport';
  if (/\/peer\/reporter/.test(u)) return 'peer: reporter (-v)';
  if (/\/peer\/logger/.test(u)) return 'peer: logger';
  if (/\/peer\//.test(u)) return 'peer: shell and other';
  if (/\/shared\//.test(u)) return 'shared (protocol validation)';
  if (/\/game\/relay\//.test(u)) return 'relay';
  if (!u) return parent && parent !== 'root' ? parent : 'native (other)';
  if (u.startsWith('node:')) return 'node internals (other)';
  return 'other JS';
}

export function summarizeProfile(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) {
    n.callFrame = originalFrame(n.callFrame);
    byId.set(n.id, n);
  }
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const categories: Record<string, number> = {};
  const selfBy = new Map<string, number>();
  const totalBy = new Map<string, number>();
  let busyMs = 0;
  // Inclusive time: walk from the root, counting a function once per stack (recursion).
  const root = p.nodes[0]!;
  const walk = (node: ProfileNode, onStack: Set<string>, parentCat: string | null): number => {
    const key = frameKey(node.callFrame);
    const s = self.get(node.id) ?? 0;
    const cat = category(node.callFrame, parentCat);
    categories[cat] = (categories[cat] ?? 0) + s;
    if (cat !== 'idle') busyMs += s;
    selfBy.set(key, (selfBy.get(key) ?? 0) + s);
    let total = s;
    const added = !onStack.has(key);
    if (added) onStack.add(key);
    for (const c of node.children ?? []) total += walk(byId.get(c)!, onStack, cat);
    if (added) {
      onStack.delete(key);
      totalBy.set(key, (totalBy.get(key) ?? 0) + total);
    }
    return total;
  };
  walk(root, new Set(), null);
  const functions = [...selfBy.entries()].map(([key, selfMs]) => ({ key, selfMs, totalMs: totalBy.get(key) ?? selfMs }));
  return { file, wallMs: (p.endTime - p.startTime) / 1000, busyMs, categories, functions };
}

export function formatProfile(s: ProfileSummary, top = 25): string {
  const pct = (x: number) => `${((100 * x) / s.wallMs).toFixed(1).padStart(5)}%`;
  const lines = [`${basename(s.file)}: ${(s.wallMs / 1000).toFixed(1)} s wall, ${(s.busyMs / 1000).toFixed(1)} s busy (${pct(s.busyMs)})`, '  categories (self time, % of wall):'];
  for (const [k, v] of Object.entries(s.categories).sort((a, b) => b[1] - a[1])) lines.push(`    ${pct(v)}  ${k}`);
  lines.push('  top functions by self time:');
  for (const f of [...s.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) lines.push(`    ${pct(f.selfMs)}  ${f.key}`);
  lines.push('  top functions by inclusive time (excluding idle/program/gc):');
  for (const f of [...s.functions]
    .filter((f) => !/^\((root|idle|program|garbage collector)\)/.test(f.key))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top))
    lines.push(`    ${pct(f.totalMs)}  ${f.key}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 25;
  if (!args.length) {
    process.stderr.write('usage: npx tsx test/bench/profile.ts FILE.cpuprofile... [--top N]\n');
    process.exit(2);
  }
  for (const f of args) process.stdout.write(`${formatProfile(summarizeProfile(f), top)}\n\n`);
}
