// The built game for browser tests: game/dist, rebuilt with vite when any source of the page
// (game/index.html, game/src/**, shared/**) is newer than it.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../peer/spawn.ts';
import { withLock } from '../../support/lock.ts';

export const DIST = join(REPO_ROOT, 'game', 'dist');

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

/** Builds the game unless game/dist is newer than every source file (one build at a time). */
export function ensureGameBuilt(): void {
  if (upToDate()) return;
  withLock('game-build', () => {
    if (upToDate()) return;
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'inherit' });
  });
}

function upToDate(): boolean {
  const built = existsSync(join(DIST, 'index.html')) ? statSync(join(DIST, 'index.html')).mtimeMs : 0;
  const sources = Math.max(newest(join(REPO_ROOT, 'game', 'index.html')), newest(join(REPO_ROOT, 'game', 'src')), newest(join(REPO_ROOT, 'shared')), newest(join(REPO_ROOT, 'vite.config.ts')));
  return built > sources;
}
