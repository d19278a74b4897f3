import fs from 'node:fs';
import path from 'node:path';
import type { RunningStack } from '../../tools/dev/stack';

/** What the global setup started, shared with test files (separate processes) through a file. */
export interface StackInfo {
  databaseUrl: string;
  templateDatabase: string;
  temporal: RunningStack['temporal'];
  s3: RunningStack['s3'];
  stripe: RunningStack['stripe'];
  workflowBundlePath: string;
}

export const STACK_DIR = path.resolve(__dirname, '../../.test-stack');
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
