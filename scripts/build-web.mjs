// Builds the web console (web/, with the typed client it imports from clients/typescript) into web/dist with Vite, only when its sources changed:
// a hash of every source file, the lock file and the Vite version is stamped into the output,
// like scripts/prisma-generate.mjs does for the Prisma client. The sources are type-checked
// first (Vite only strips types). Concurrent calls build once.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const WEB = 'web';
const CLIENT = path.join('clients', 'typescript');
const OUT = path.join(WEB, 'dist');
const STAMP = path.join(OUT, '.source-hash');
const LOCK = 'node_modules/.cache/build-web.lock';
const LOCK_STALE_MS = 5 * 60_000;

/** Every file of web/ except the build output, in a stable order. */
function sources(dir = WEB) {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => path.join(dir, e.name) !== OUT)
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

function sourceHash() {
  const hash = createHash('sha256');
  // The console imports the typed client (clients/typescript) too.
  for (const file of [...sources(), ...sources(CLIENT), 'package-lock.json']) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  hash.update(JSON.parse(readFileSync('node_modules/vite/package.json', 'utf8')).version);
  return hash.digest('hex');
}

const upToDate = (stamp) => existsSync(path.join(OUT, 'index.html')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === stamp;

/**
 * One build at a time (test files build in parallel jest workers): an exclusive lock file; a
 * lock older than LOCK_STALE_MS is left over from a killed build and is taken over.
 */
function withLock(fn) {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      closeSync(openSync(LOCK, 'wx'));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > LOCK_STALE_MS) rmSync(LOCK, { force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    fn();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

if (!upToDate(sourceHash())) {
  withLock(() => {
    const stamp = sourceHash();
    if (upToDate(stamp)) return; // built by another process while this one waited
    const run = (args) => execFileSync('npx', ['--no-install', ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    run(['tsc', '--noEmit', '-p', path.join(WEB, 'tsconfig.json')]);
    run(['vite', 'build', WEB, '--logLevel', 'warn']);
    writeFileSync(STAMP, stamp);
  });
}
