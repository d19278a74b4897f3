import type { RunningStack } from '../tools/dev/stack';
import { prepareStack } from '../tools/dev/prepared-stack';
import { STACK_INFO_ENV } from '../tools/dev/stack-info';

/**
 * Starts the real local stack once for the whole run (tools/dev/prepared-stack.ts): Temporal dev
 * server (tuned dynamic config), Postgres (TEST_DATABASE_URL, else embedded), MinIO and
 * stripe-mock, a migrated template database each test file clones, and the workflows bundled once.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const { stack, info, infoFile } = await prepareStack({ runId: String(process.pid), databaseUrl: process.env.TEST_DATABASE_URL || undefined });
  (globalThis as { __stack?: RunningStack }).__stack = stack;
  process.env[STACK_INFO_ENV] = infoFile;
  if (process.env.TEST_STACK_VERBOSE) console.log(`\nlocal stack ready in ${Date.now() - started} ms`, info);
}
