import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/temporal/request-id';
import { makeTempDataDir, startStack, type RunningStack, type StackOptions } from './stack';
import { STACK_DIR, databaseUrlFor, stackInfoFile, type StackInfo } from './stack-info';

const TEMPLATE_DB = 'imagegen_test_template';

export interface PreparedStack {
  stack: RunningStack;
  info: StackInfo;
  /** Where `info` was written (what TEST_STACK_INFO_FILE points at). */
  infoFile: string;
}

/**
 * The real local stack, prepared for services that each take a database of their own: starts the
 * stack (Temporal dev server with the tuned dynamic config, Postgres, MinIO, stripe-mock) in a
 * throwaway state directory, migrates a template database each one clones, bundles the workflows
 * once, and writes the StackInfo file. Jest's global setup (test/global-setup.ts), the bench and
 * the history recorder start theirs with it.
 */
export async function prepareStack(opts: {
  runId: string;
  databaseUrl?: string;
  templateDatabase?: string;
  /** A throwaway state directory (deleted on stop); default a fresh temp dir. */
  dataDir?: string;
  log?: StackOptions['log'];
  /** Start the Temporal dev server (default); the bench's cluster engine brings its own. */
  temporal?: boolean;
}): Promise<PreparedStack> {
  const templateDatabase = opts.templateDatabase ?? TEMPLATE_DB;
  const starting = startStack({
    dataDir: opts.dataDir ?? makeTempDataDir('imagegen-test-'),
    persistent: false,
    databaseUrl: opts.databaseUrl,
    components: { temporal: opts.temporal ?? true },
    log: opts.log,
  });
  let stack: RunningStack | undefined;
  let workflowBundlePath: string;
  try {
    [stack, workflowBundlePath] = await Promise.all([starting, bundleWorkflows(require.resolve('../../workflows'), `workflow-bundle-${opts.runId}.js`)]);
    await createTemplateDatabase(stack.databaseUrl, templateDatabase);
  } catch (err) {
    await (stack ?? (await starting.catch(() => undefined)))?.stop();
    throw err;
  }

  const info: StackInfo = {
    databaseUrl: stack.databaseUrl,
    templateDatabase,
    temporal: stack.temporal,
    s3: stack.s3,
    stripe: stack.stripe,
    workflowBundlePath,
  };
  const infoFile = stackInfoFile(opts.runId);
  fs.writeFileSync(infoFile, JSON.stringify(info, null, 2));
  return { stack, info, infoFile };
}

/** Bundles the workflows at `workflowsPath` into STACK_DIR/`fileName`; returns the file. */
export async function bundleWorkflows(workflowsPath: string, fileName: string): Promise<string> {
  fs.mkdirSync(STACK_DIR, { recursive: true });
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
  });
  const file = path.join(STACK_DIR, fileName);
  fs.writeFileSync(file, code);
  return file;
}

async function createTemplateDatabase(serverUrl: string, templateDatabase: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${templateDatabase}`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrlFor(serverUrl, templateDatabase));
}
