import type { RunningStack } from '../src/dev/stack';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __stack?: RunningStack }).__stack?.stop();
}
