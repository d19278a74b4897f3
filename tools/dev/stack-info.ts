import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths';
import type { RunningStack } from './stack';

/**
 * What a prepared stack (./prepared-stack.ts: jest's global setup, the bench, the history
 * recorder) started, shared with the processes that use it (test files, the bench's services)
 * through a file.
 */
export interface StackInfo {
  databaseUrl: string;
  templateDatabase: string;
  temporal: RunningStack['temporal'];
  s3: RunningStack['s3'];
  stripe: RunningStack['stripe'];
  workflowBundlePath: string;
}

export const STACK_DIR = path.join(REPO_ROOT, '.test-stack');
/** Set by the global setup for its test processes: each jest run has its own stack, even side by side. */
export const STACK_INFO_ENV = 'TEST_STACK_INFO_FILE';

export function stackInfoFile(runId: string): string {
  return path.join(STACK_DIR, `stack-${runId}.json`);
}

export function readStackInfo(): StackInfo {
  const file = process.env[STACK_INFO_ENV];
  if (!file) throw new Error(`${STACK_INFO_ENV} is not set: run tests through jest, whose global setup starts the local stack`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as StackInfo;
}

/** Same server, another database. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
