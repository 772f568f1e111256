// Every lesson is a test: the same run as `npm run lessons -- --check` (a real village of five
// peers, fast profile, the relay, headless Chromium with ?lessons=check), and each lesson must
// reach its end with every caption's claim borne out by the village's events.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../peer/spawn.ts';
import { ensureChromium } from '../browser/support/chromium.ts';
import { LESSONS } from '../../game/src/page/lessons/catalogue.ts';
import { checkLessons, reportLines, type CheckReport } from './check.ts';

let report: CheckReport;

beforeAll(async () => {
  ensureChromium();
  report = await checkLessons({ timeoutMs: 480_000, screenshotDir: join(REPO_ROOT, 'test-output') });
}, 600_000);

afterAll(() => {
  if (report) process.stdout.write(`${reportLines(report.results).join('\n')}\n`);
});

describe('the lessons on a real village, in headless Chromium', () => {
  for (const [i, lesson] of LESSONS.entries()) {
    it(`lesson ${i + 1}, ${lesson.title}: every caption's claim is borne out`, () => {
      const r = report.results[i];
      expect(r?.id, `lesson ${i + 1} did not run`).toBe(lesson.id);
      expect(r!.ok ? 'pass' : `fail: ${r!.claim}`).toBe('pass');
      expect(report.captions.filter((c) => c.lesson === lesson.id).length).toBeGreaterThan(2);
    });
  }

  it('the page logged no errors and the safety monitor saw no broken law during the lessons', () => {
    expect(report.problems).toEqual([]);
    expect(report.violations).toBe(0);
  });
});
