/**
 * System packages (Chromium, docker-compose) are installed by the setup step
 * (scripts/system-packages.sh, run by `npm test` and .ci/run), never from inside a test. A test
 * that needs one that is missing skips, and says so loudly with this banner.
 */
export function loudSkip(what: string, reason: string): void {
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!!! SKIPPING ${what}: ${reason}.\n!!! Run scripts/system-packages.sh as root (npm test does) to install what they need.\n${bar}\n`);
}
