import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './process.support';

/**
 * Debian's Chromium driven by playwright-core (no bundled browser: `npx playwright install` cannot
 * download here). scripts/ensure-test-tools.sh installs `chromium` when it is missing; CHROMIUM
 * names another binary. Each launch gets a fresh temporary profile (Playwright's default), so no
 * test sees another's localStorage.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS, timeout: 30_000 });
}

/** Where the browser tests write their screenshots: docs/ under `npm run docs:client-page` (CLIENT_PAGE_SCREENSHOTS=docs), else nowhere. */
export const SCREENSHOTS_DIR = process.env.CLIENT_PAGE_SCREENSHOTS === 'docs' ? join(ROOT, 'docs') : undefined;
