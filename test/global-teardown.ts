import fs from 'node:fs';
import type { RunningStack } from '../tools/dev/stack';
import { STACK_INFO_ENV } from '../tools/dev/stack-info';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __stack?: RunningStack }).__stack?.stop();
  const file = process.env[STACK_INFO_ENV];
  if (file) {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as { workflowBundlePath: string };
    fs.rmSync(info.workflowBundlePath, { force: true });
    fs.rmSync(file, { force: true });
  }
}
