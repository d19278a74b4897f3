import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** apt-get update and install can take minutes on a loaded machine. */
const APT_TIMEOUT_MS = 15 * 60_000;

export type Availability = { ok: true } | { ok: false; reason: string };

/**
 * Makes sure a tool the tests need is installed: present already (`present()`), or installed
 * from Debian's packages with apt-get when this process may (root and apt-get on the machine).
 * Synchronous, so a test file can call it in its own beforeAll or while it defines its tests,
 * independent of jest's global setup. `what` names the tool in messages.
 */
export function ensureDebianPackages(what: string, packages: string[], present: () => boolean, log: (line: string) => void = (line) => console.log(line)): Availability {
  if (present()) return { ok: true };
  if (process.getuid?.() !== 0) return { ok: false, reason: `${what} is missing and this process is not root, so it cannot apt-get install ${packages.join(' ')}` };
  if (!fs.existsSync('/usr/bin/apt-get')) return { ok: false, reason: `${what} is missing and there is no apt-get to install it` };
  log(`${what} is missing: installing ${packages.join(' ')} with apt-get (takes a few minutes once)`);
  try {
    const apt = (args: string[]) =>
      execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: APT_TIMEOUT_MS, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', ...packages]);
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' | ');
    return { ok: false, reason: `apt-get install ${packages.join(' ')} failed: ${stderr || (err as Error).message}` };
  }
  return present() ? { ok: true } : { ok: false, reason: `apt-get finished but ${what} is still missing` };
}
