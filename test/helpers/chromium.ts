import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet headless Chromium in a container: no sandbox (root), no background traffic. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update'];

/** apt-get update and install can take minutes on a loaded machine. */
const APT_TIMEOUT_MS = 15 * 60_000;

export type ChromiumAvailability = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Makes sure a Chromium for the browser tests is installed: present already, or installed with
 * apt-get when this process may (root and apt-get on the machine). Synchronous, so a test file
 * calls it in its own beforeAll, independent of jest's global setup.
 */
export function ensureChromium(log: (line: string) => void = (line) => console.log(line)): ChromiumAvailability {
  if (fs.existsSync(CHROMIUM_PATH)) return { ok: true, path: CHROMIUM_PATH };
  if (process.getuid?.() !== 0) return { ok: false, reason: `${CHROMIUM_PATH} is missing and this process is not root, so it cannot apt-get install chromium` };
  if (!fs.existsSync('/usr/bin/apt-get')) return { ok: false, reason: `${CHROMIUM_PATH} is missing and there is no apt-get to install it` };
  log(`${CHROMIUM_PATH} is missing: installing chromium with apt-get (takes a few minutes once)`);
  try {
    const apt = (args: string[]) =>
      execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: APT_TIMEOUT_MS, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    apt(['update']);
    // fonts-liberation: without a font, text in screenshots renders as boxes.
    apt(['install', '-y', '--no-install-recommends', 'chromium', 'fonts-liberation']);
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' | ');
    return { ok: false, reason: `apt-get install chromium failed: ${stderr || (err as Error).message}` };
  }
  return fs.existsSync(CHROMIUM_PATH) ? { ok: true, path: CHROMIUM_PATH } : { ok: false, reason: `apt-get finished but ${CHROMIUM_PATH} is still missing` };
}
