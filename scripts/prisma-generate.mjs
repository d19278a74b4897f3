// Generates the Prisma client into src/generated/prisma, only when the schema changed.
// The client needs no engine; the CLI still looks for a schema engine binary on every
// command, and any existing file satisfies that check for `generate`.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const schema = readFileSync('prisma/schema.prisma');
const version = JSON.parse(readFileSync('node_modules/prisma/package.json', 'utf8')).version;
const stamp = createHash('sha256').update(schema).update(version).digest('hex');
const stampFile = 'src/generated/prisma/.schema-hash';
if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) process.exit(0);

execFileSync('npx', ['--no-install', 'prisma', 'generate'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
});
writeFileSync(stampFile, stamp);
