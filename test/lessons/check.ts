// Every lesson is a test. `npm run lessons -- --check` starts a real village (the relay in this
// process, the cluster launcher with five peers, fast profile), opens the page in headless
// Chromium with ?lessons=check (every lesson runs to its end, Continue pressed at once) and
// prints one line per lesson: its name, pass or fail, and for a fail the caption whose claim
// the events did not bear out. Exit status 0 only if every lesson passed.
//
// Without --check it starts a village in slow motion and prints the page's address: press l.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { ensureGameBuilt } from '../browser/support/build.ts';
import { launchChromium, watchedPage } from '../browser/support/chromium.ts';
import { startVillage } from '../browser/support/village.ts';
import type { LessonResult } from '../../game/src/page/lessons/index.ts';

export interface CheckReport {
  results: LessonResult[];
  /** Console errors and page errors seen while the lessons ran. */
  problems: string[];
  /** Every caption shown, for a reader who wants the story. */
  captions: { lesson: string; text: string; cite: string }[];
  /** The relay's safety monitor: violations seen during the run. */
  violations: number;
}

export const LESSON_COUNT = 10;

/** One line per lesson, as the CLI prints them. */
export function reportLines(results: readonly LessonResult[]): string[] {
  return results.map((r, i) => `${String(i + 1).padStart(2)}. ${r.title.padEnd(64)} ${r.ok ? 'pass' : 'FAIL'}${r.attempts > 1 ? ` (after ${r.attempts} tries)` : ''}${r.ok ? '' : `\n      not borne out: ${r.claim}`}`);
}

export async function checkLessons(opts: { timeoutMs?: number; screenshotDir?: string; onResult?: (r: LessonResult, n: number) => void } = {}): Promise<CheckReport> {
  ensureGameBuilt();
  const village = await startVillage({ peers: 5, profile: 'fast', attacks: false });
  const browser = await launchChromium();
  const problems: string[] = [];
  try {
    const page = await watchedPage(browser, problems);
    // Only the navigation is awaited: on a loaded machine the page's load event can take long.
    await page.goto(`${village.url}?lessons=check`, { waitUntil: 'commit', timeout: 60_000 });
    const deadline = Date.now() + (opts.timeoutMs ?? 480_000);
    let shown = 0;
    let shot = false;
    for (;;) {
      const state = await page.evaluate(() => ({ results: window.__lessons?.results() ?? [], done: window.__lessons?.done() ?? false }));
      for (; shown < state.results.length; shown++) opts.onResult?.(state.results[shown]!, shown + 1);
      if (opts.screenshotDir && !shot && state.results.length >= 2) {
        mkdirSync(opts.screenshotDir, { recursive: true });
        await page.screenshot({ path: join(opts.screenshotDir, 'lessons-check.png') });
        shot = true;
      }
      if (state.done) break;
      if (Date.now() > deadline) {
        const captions = await page.evaluate(() => window.__lessons?.captions() ?? []);
        const last = captions[captions.length - 1];
        throw new Error(`the lessons did not finish within ${Math.round((opts.timeoutMs ?? 480_000) / 1000)} s; ${state.results.length} finished; last caption: ${last ? last.text : 'none'}`);
      }
      await page.waitForTimeout(250);
    }
    const results = await page.evaluate(() => window.__lessons!.results());
    const captions = await page.evaluate(() => window.__lessons!.captions());
    return { results, problems, captions, violations: village.relay.laws.status().violationCount };
  } finally {
    await browser.close();
    await village.teardown();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (!args.includes('--check')) {
    ensureGameBuilt();
    const v = await startVillage({ peers: 5, profile: 'slow', attacks: false });
    process.stdout.write(`a village of 5 in slow motion at ${v.url}\nopen it and press l for the lessons; Ctrl-C stops it\n(npm run lessons -- --check runs every lesson as a test)\n`);
    const stop = () => void v.teardown().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  process.stdout.write('running every lesson on a real village of 5 (fast profile) in headless Chromium...\n');
  const report = await checkLessons({ screenshotDir: join(REPO_ROOT, 'test-output'), onResult: (r, n) => process.stdout.write(`${reportLines([r])[0]!.replace(/^ *1\./, `${String(n).padStart(2)}.`)}\n`) });
  const failed = report.results.filter((r) => !r.ok).length;
  if (report.problems.length) process.stdout.write(`page problems:\n  ${report.problems.join('\n  ')}\n`);
  const ok = failed === 0 && report.results.length === LESSON_COUNT;
  process.stdout.write(`${report.results.length - failed} of ${LESSON_COUNT} lessons passed${ok ? '' : `; ${failed} failed`}\n`);
  process.exit(ok ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`lessons: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
