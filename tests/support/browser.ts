/**
 * Debian's Chromium for the browser tests (scripts/setup-chromium.sh installs it). Without it the tests
 * skip, unless QUORUM_REQUIRE_BROWSER=1 (CI), where a missing browser fails the file at load.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.QUORUM_REQUIRE_BROWSER === '1') {
  throw new Error(`QUORUM_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: run scripts/setup-chromium.sh`);
}

/** Headless Chromium without the background traffic of a desktop browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
