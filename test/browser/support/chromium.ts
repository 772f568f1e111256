// Debian's Chromium, driven headless by playwright-core. Never downloads a browser: when
// /usr/bin/chromium is missing it is installed with apt (as root), or the test stops at once
// with the command to run.
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { withLock } from '../../support/lock.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const INSTALL_COMMAND = 'apt-get update && apt-get install -y chromium';

export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) {
    throw new Error(`the browser tests need Debian's Chromium at ${CHROMIUM}, which is missing; install it with:\n  sudo sh -c '${INSTALL_COMMAND}'`);
  }
  withLock('apt-install', () => {
    if (existsSync(CHROMIUM)) return; // another test process installed it meanwhile
    process.stderr.write(`${CHROMIUM} is missing; installing it: ${INSTALL_COMMAND}\n`);
    execSync(INSTALL_COMMAND, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  });
  if (!existsSync(CHROMIUM)) throw new Error(`"${INSTALL_COMMAND}" ran but ${CHROMIUM} is still missing`);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile directory, removed on close. */
export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), 'raft-village-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1480, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new page that records console errors, page errors and failed requests into `problems`. */
export async function watchedPage(browser: Browser, problems: string[]): Promise<import('playwright-core').Page> {
  const page = await browser.context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  return page;
}
