import fs from 'node:fs';
import path from 'node:path';
import type { RunningStack } from '../../src/dev/stack';

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
export const STACK_INFO_FILE = path.join(STACK_DIR, 'stack.json');

export function readStackInfo(): StackInfo {
  return JSON.parse(fs.readFileSync(STACK_INFO_FILE, 'utf8')) as StackInfo;
}

/** Same server, another database. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
