import fs from 'node:fs';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet headless Chromium in a container: no sandbox (root), no background traffic. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update'];

export type ChromiumAvailability = { ok: true; path: string } | { ok: false; reason: string };

/** Whether the Chromium the browser tests drive is installed (scripts/system-packages.sh installs it). */
export function findChromium(): ChromiumAvailability {
  return fs.existsSync(CHROMIUM_PATH) ? { ok: true, path: CHROMIUM_PATH } : { ok: false, reason: `${CHROMIUM_PATH} is not installed (apt-get install -y chromium fonts-liberation)` };
}
