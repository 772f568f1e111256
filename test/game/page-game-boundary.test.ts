// The browser code's two halves stay apart: the page (game/src/page/: DOM widgets and the
// connection) and the Phaser game (game/src/game/: scenes and views) meet only in
// game/src/main.ts and the model; across the boundary only type-only imports are allowed.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../game/src');

interface Import {
  file: string;
  target: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every import of a file under game/src, with relative targets resolved to a path under game/src. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const name = relative(SRC, file);
  const found: Import[] = [];
  for (const m of text.matchAll(/^import\s+(type\s+)?(?:[^;']*?\s+from\s+)?'([^']+)'/gm)) {
    const spec = m[2]!;
    const target = spec.startsWith('.') ? relative(SRC, resolve(dirname(file), spec)) : spec;
    found.push({ file: name, target, typeOnly: m[1] !== undefined });
  }
  return found;
}

const all = sources(SRC).flatMap(importsOf);
const runTime = (from: string) => all.filter((i) => i.file.startsWith(from) && !i.typeOnly).map((i) => `${i.file} imports ${i.target}`);

describe('page and game apart', () => {
  it('the import reader sees the boot file wiring both halves together', () => {
    const boot = all.filter((i) => i.file === 'main.ts' && !i.typeOnly).map((i) => i.target);
    expect(boot).toContain('game/main.ts');
    expect(boot).toContain('page/connection.ts');
    expect(boot).toContain('model.ts');
    expect(boot).toContain('page/style.css');
  });

  it('the Phaser game imports nothing from the page at run time', () => {
    expect(runTime('game/').filter((l) => / imports (page\/|main\.ts$)/.test(l))).toEqual([]);
  });

  it('the page imports neither Phaser nor the game at run time', () => {
    expect(runTime('page/').filter((l) => / imports (phaser$|game\/)/.test(l))).toEqual([]);
  });

  it('the model imports only shared/ and nothing of the page, the game or Phaser', () => {
    const model = all.filter((i) => i.file === 'model.ts').map((i) => i.target);
    expect(model.length).toBeGreaterThan(0);
    for (const t of model) expect(t, `model.ts imports ${t}`).toMatch(/^\.\.\/\.\.\/shared\//);
  });
});
