// What most browser suites start with: a village (support/village.ts) and a headless Chromium
// with one page that records its problems, the game built first. One call in beforeAll, one in
// afterAll; a suite that needs more (an event watcher, a second page) adds it itself.
import type { Page } from 'playwright-core';
import { ensureGameBuilt } from './build.ts';
import { ensureChromium, launchChromium, watchedPage, type Browser } from './chromium.ts';
import { startVillage, type TestVillage, type VillageOptions } from './village.ts';

export interface VillageInChromium {
  village: TestVillage;
  browser: Browser;
  /** A page that records console errors, page errors and failed requests into `problems`; not yet opened on the village. */
  page: Page;
  /** Closes the browser, then stops the village. */
  close(): Promise<void>;
}

/** Builds the game if needed, starts the village, then Chromium and a watched page; a failure half way stops what was started. */
export async function villageInChromium(opts: VillageOptions, problems: string[]): Promise<VillageInChromium> {
  ensureChromium();
  ensureGameBuilt();
  const village = await startVillage(opts);
  let browser: Browser | null = null;
  try {
    browser = await launchChromium();
    const page = await watchedPage(browser, problems);
    const b = browser;
    return {
      village,
      browser: b,
      page,
      close: async () => {
        await b.close();
        await village.teardown();
      },
    };
  } catch (e) {
    await browser?.close();
    await village.teardown();
    throw e;
  }
}
