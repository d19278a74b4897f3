import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import path from 'node:path';
import { migrate } from '../src/db/migrate';
import { makeTempDataDir, startStack, type RunningStack } from '../src/dev/stack';
import { STACK_DIR, STACK_INFO_ENV, databaseUrlFor, stackInfoFile, type StackInfo } from './helpers/stack-info';

const TEMPLATE_DB = 'imagegen_test_template';

/**
 * Starts the real local stack once for the whole run: Temporal dev server (tuned dynamic
 * config), Postgres (TEST_DATABASE_URL, else embedded), MinIO and stripe-mock. Migrates a
 * template database each test file clones, and bundles the workflows once.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const [stack, workflowBundlePath] = await Promise.all([
    startStack({ dataDir: makeTempDataDir('imagegen-test-'), persistent: false, databaseUrl: process.env.TEST_DATABASE_URL || undefined }),
    bundleWorkflows(),
  ]);
  (globalThis as { __stack?: RunningStack }).__stack = stack;
  await createTemplateDatabase(stack.databaseUrl);

  const info: StackInfo = {
    databaseUrl: stack.databaseUrl,
    templateDatabase: TEMPLATE_DB,
    temporal: stack.temporal,
    s3: stack.s3,
    stripe: stack.stripe,
    workflowBundlePath,
  };
  const file = stackInfoFile(String(process.pid));
  fs.writeFileSync(file, JSON.stringify(info, null, 2));
  process.env[STACK_INFO_ENV] = file;
  if (process.env.TEST_STACK_VERBOSE) console.log(`\nlocal stack ready in ${Date.now() - started} ms`, info);
}

async function bundleWorkflows(): Promise<string> {
  fs.mkdirSync(STACK_DIR, { recursive: true });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
  });
  const file = path.join(STACK_DIR, `workflow-bundle-${process.pid}.js`);
  fs.writeFileSync(file, code);
  return file;
}

async function createTemplateDatabase(serverUrl: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrlFor(serverUrl, TEMPLATE_DB));
}
