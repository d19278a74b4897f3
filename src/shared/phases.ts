import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

/**
 * How long each named phase of one request took (ms), in the order they ran. The HTTP layer
 * opens one per request (`record`) and turns it into the `Server-Timing` response header
 * (src/http/server-timing.ts); the services mark their phases with `phase`, so no timer is
 * threaded through their signatures.
 */
export class Phases {
  private readonly list: Array<{ name: string; ms: number }> = [];

  /** Runs `work`, recording into this the phases it marks (`phase`), also in the functions it calls. */
  record<T>(work: () => Promise<T>): Promise<T> {
    return current.run(this, work);
  }

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

const current = new AsyncLocalStorage<Phases>();

/**
 * Runs `work` as the phase `name` of the request being recorded (Phases.record), if one is;
 * otherwise (a batch item, a test calling the service) it just runs it.
 */
export function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const phases = current.getStore();
  return phases ? phases.time(name, work) : work();
}
