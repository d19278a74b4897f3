// Builds the web console (web/) into web/dist with Vite, only when its sources changed:
// a hash of every source file, the lock file and the Vite version is stamped into the output,
// like scripts/prisma-generate.mjs does for the Prisma client. The sources are type-checked
// first (Vite only strips types).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const WEB = 'web';
const OUT = path.join(WEB, 'dist');
const STAMP = path.join(OUT, '.source-hash');

/** Every file of web/ except the build output, in a stable order. */
function sources(dir = WEB) {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => path.join(dir, e.name) !== OUT)
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

const hash = createHash('sha256');
for (const file of [...sources(), 'package-lock.json']) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
hash.update(JSON.parse(readFileSync('node_modules/vite/package.json', 'utf8')).version);
const stamp = hash.digest('hex');
if (existsSync(path.join(OUT, 'index.html')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === stamp) process.exit(0);

const run = (args) => execFileSync('npx', ['--no-install', ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
run(['tsc', '--noEmit', '-p', path.join(WEB, 'tsconfig.json')]);
run(['vite', 'build', WEB, '--logLevel', 'warn']);
writeFileSync(STAMP, stamp);
