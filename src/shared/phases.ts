import { performance } from 'node:perf_hooks';

/**
 * How long each named phase of one request took (ms), in the order they ran. The HTTP layer
 * turns them into the `Server-Timing` response header (src/http/server-timing.ts).
 */
export class Phases {
  private readonly list: Array<{ name: string; ms: number }> = [];

  /** Runs `work` and records how long it took under `name` (also when it throws). */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.list.push({ name, ms: performance.now() - started });
    }
  }

  get entries(): ReadonlyArray<{ name: string; ms: number }> {
    return this.list;
  }
}
