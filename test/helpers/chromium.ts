import fs from 'node:fs';
import { ensureDebianPackages } from './apt';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet headless Chromium in a container: no sandbox (root), no background traffic. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update'];

export type ChromiumAvailability = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Makes sure a Chromium for the browser tests is installed, with apt-get if it is missing
 * (fonts-liberation too: without a font, text in screenshots renders as boxes).
 */
export function ensureChromium(log?: (line: string) => void): ChromiumAvailability {
  const got = ensureDebianPackages(CHROMIUM_PATH, ['chromium', 'fonts-liberation'], () => fs.existsSync(CHROMIUM_PATH), log);
  return got.ok ? { ok: true, path: CHROMIUM_PATH } : got;
}
