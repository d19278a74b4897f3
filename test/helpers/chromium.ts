import fs from 'node:fs';
import type { Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet headless Chromium in a container: no sandbox (root), no background traffic. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update'];

export type ChromiumAvailability = { ok: true; path: string } | { ok: false; reason: string };

/** Whether the Chromium the browser tests drive is installed (scripts/system-packages.sh installs it). */
export function findChromium(): ChromiumAvailability {
  return fs.existsSync(CHROMIUM_PATH) ? { ok: true, path: CHROMIUM_PATH } : { ok: false, reason: `${CHROMIUM_PATH} is not installed (apt-get install -y chromium fonts-liberation)` };
}

/**
 * Collects what a console page must never cause into `problems`: Content-Security-Policy
 * violations and uncaught page errors (each test asserts the list is empty).
 */
export function collectPageProblems(page: Page, problems: string[]): void {
  problems.length = 0;
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
}
