// The Ready contract (persist -> send -> apply), restarts from persisted state, the core's
// purity (no Node imports, injected clock and randomness), and shared/'s independence of the
// peer and the game (no run-time import of either).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../peer/raft/node.ts';
import { mulberry32 } from '../../shared/random.ts';
import { Cluster, HB, ae, logOf, node, options, stableLeader, take } from './harness.ts';

describe('Ready', () => {
  it('a Ready is taken once: a second ready() right after is empty', () => {
    const l = stableLeader('n1', { term: 1 });
    l.propose('x', 1);
    expect(l.hasReady()).toBe(true);
    const rd = take(l);
    expect(rd.entries).toHaveLength(1);
    expect(l.hasReady()).toBe(false);
    expect(l.ready()).toEqual({ hardState: null, entries: [], snapshot: null, restore: false, compact: 0, early: [], messages: [], snapshotMessages: [], committed: [], readStates: [], readFailures: [], events: [] });
  });

  it('committed entries are handed out exactly once, in order (Figure 2: apply log[lastApplied])', () => {
    const c = new Cluster(['n1', 'n2', 'n3']);
    c.get('n1').campaign(0);
    c.stabilize();
    for (let i = 0; i < 5; i++) c.get('n1').propose(`c${i}`, 1);
    c.stabilize();
    c.advance(HB);
    c.stabilize();
    for (const id of ['n1', 'n2', 'n3']) {
      expect(c.applied.get(id)!.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it('a follower hands out committed entries in the same Ready that persists them', () => {
    const f = node('n2', { term: 1 });
    f.step(ae('n1', 'n2', 1, 0, 0, [1, 1], 2), 1);
    const rd = take(f);
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.hardState).toEqual({ term: 1, vote: null, commit: 2 });
  });

  it('a restarted node keeps its term, vote and log, and replays its committed entries from index 1', () => {
    const n = new RaftNode(options('n1', ['n1', 'n2', 'n3']), { hardState: { term: 4, vote: 'n2', commit: 2 }, entries: logOf([1, 2, 4]) }, 1000);
    expect(n.status()).toMatchObject({ role: 'follower', term: 4, vote: 'n2', commitIndex: 2, lastIndex: 3, lastTerm: 4 });
    const rd = take(n);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.hardState).toBeNull(); // nothing new to persist
    expect(rd.entries).toEqual([]);
  });

  it('a persisted commit index past the persisted log is clamped to the log', () => {
    const n = new RaftNode(options('n1', ['n1', 'n2', 'n3']), { hardState: { term: 2, vote: null, commit: 9 }, entries: logOf([1, 2]) }, 0);
    expect(n.status().commitIndex).toBe(2);
  });

  it('a persisted log that is not contiguous is refused with a clear error', () => {
    expect(() => new RaftNode(options('n1', ['n1']), { hardState: { term: 1, vote: null, commit: 0 }, entries: [{ index: 2, term: 1, data: null }] }, 0)).toThrow(/not contiguous/);
  });

  it('bad options are refused with a clear error', () => {
    expect(() => new RaftNode(options('n9', ['n1', 'n2']), { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, 0)).toThrow(/n9 is not one of the peers/);
    expect(() => new RaftNode(options('n1', ['n1'], { electionMinMs: 40 }), { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }, 0)).toThrow(/heartbeatMs < electionMinMs/);
  });

  it('events report role, term, vote, appends and commits for the village', () => {
    const n = node('solo', { peers: ['solo'] });
    take(n);
    n.tick(n.nextDeadline());
    const kinds = take(n).events.map((e) => e.kind);
    kinds.push(...take(n).events.map((e) => e.kind)); // the commit follows the save
    expect(kinds).toEqual(expect.arrayContaining(['term', 'vote', 'role', 'leader_change', 'append', 'commit']));
  });

  it('the same inputs give the same outputs (determinism)', () => {
    const run = () => {
      const c = new Cluster(['n1', 'n2', 'n3'], { preVote: true, checkQuorum: true }, (id) => mulberry32(id.charCodeAt(1)));
      for (let t = 0; t < 2000 && !c.leader(); t += 10) {
        c.advance(t);
        c.stabilize();
      }
      c.leader()!.propose('x', c.now);
      c.stabilize();
      return JSON.stringify(c.readies);
    };
    expect(run()).toEqual(run());
  });
});

describe('purity', () => {
  it('nothing under peer/raft imports a Node module or touches timers, the clock or Math.random', () => {
    const dir = join(import.meta.dirname, '../../peer/raft');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('node.ts');
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      const imports = [...src.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
      for (const i of imports) expect(i, `${f} imports ${i}`).toMatch(/^\.\//);
      expect(src, f).not.toMatch(/\b(setTimeout|setInterval|Date\.now|performance\.now|Math\.random|process\.|require\()/);
    }
  });

  it('the import scanner flags every run-time form of an import and lets type-only ones pass', () => {
    const at = join(ROOT, 'shared/sub/file.ts');
    const flagged = (src: string) => runtimeImports(src).filter((spec) => reachesInto(at, spec, ['peer', 'game']));
    expect(flagged(`import { a } from '../../peer/kv.ts';`)).toEqual(['../../peer/kv.ts']);
    expect(flagged(`import {\n  a,\n  type B,\n} from "../../game/relay/x.ts";`)).toEqual(['../../game/relay/x.ts']);
    expect(flagged(`import * as kv from '../../peer/kv.ts';`)).toHaveLength(1);
    expect(flagged(`import '../../peer/side-effect.ts';`)).toHaveLength(1);
    expect(flagged(`export { a } from '../../peer/kv.ts';`)).toHaveLength(1);
    expect(flagged(`export * from '../../game/x.ts';`)).toHaveLength(1);
    expect(flagged(`const m = await import('../../peer/kv.ts');`)).toHaveLength(1);
    expect(flagged(`import type from '../../peer/kv.ts';`)).toHaveLength(1); // a default import named "type"
    expect(flagged(`export interface A {\n  a: number\n}\nimport { b } from '../../peer/kv.ts'`)).toHaveLength(1);
    expect(flagged(`export type A = {\n  a: number\n}\nimport { b } from '../../peer/kv.ts'`)).toHaveLength(1);
    expect(flagged(`import type { A } from '../../peer/raft/types.ts';\nexport type { B } from '../../game/x.ts';`)).toEqual([]);
    expect(flagged(`import { a } from '../kv-commands.ts';\nimport { b } from 'ws';\n// import { c } from '../../peer/kv.ts'`)).toEqual([]);
    expect(flagged(`import { a } from '../peer/kv.ts';`)).toEqual([]); // shared/peer/, not the peer
  });

  it('nothing under shared/ imports peer/ or game/ at run time (type-only imports aside)', () => {
    const files = tsFilesUnder(join(ROOT, 'shared'));
    expect(files.map((f) => relative(ROOT, f).split(sep).join('/'))).toContain('shared/kv-commands.ts');
    for (const f of files) {
      for (const spec of runtimeImports(readFileSync(f, 'utf8'))) {
        expect(reachesInto(f, spec, ['peer', 'game']), `${relative(ROOT, f)} imports ${spec} at run time`).toBe(false);
      }
    }
  });
});

const ROOT = join(import.meta.dirname, '../..');

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFilesUnder(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/**
 * The module specifiers a TypeScript source loads at run time: `import ... from` and `export ...
 * from` (over several lines too), side-effect `import '...'` and `import('...')`. `import type`
 * and `export type` are left out, as the compiler erases them; `import { type A }` is not, as it
 * may still load the module.
 */
function runtimeImports(src: string): string[] {
  const out: string[] = [];
  // The clause between the keyword and `from` holds names, braces, commas and `* as`: never a
  // quote, `;`, `=`, a parenthesis or another import/export, so a match cannot run across code.
  const clause = String.raw`(?:(?!\b(?:import|export)\b)[^;'"=()])*?`;
  for (const m of src.matchAll(new RegExp(String.raw`^[ \t]*(?:import|export)\s+(type\s+)?(${clause})\bfrom\s*(['"])([^'"]+)\3`, 'gm'))) {
    const typeOnly = m[1] !== undefined && m[2]!.trim() !== '';
    if (!typeOnly) out.push(m[4]!);
  }
  for (const m of src.matchAll(/^[ \t]*import\s*(['"])([^'"]+)\1/gm)) out.push(m[2]!);
  for (const m of src.matchAll(/\bimport\s*\(\s*(['"`])([^'"`]+)\1/g)) out.push(m[2]!);
  return out;
}

/** Whether a relative specifier in `file` leads into one of the project's top-level folders. */
function reachesInto(file: string, spec: string, folders: string[]): boolean {
  if (!spec.startsWith('.')) return false;
  const rel = relative(ROOT, resolve(dirname(file), spec)).split(sep);
  return rel.length > 1 && folders.includes(rel[0]!);
}
