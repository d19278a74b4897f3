import { performance } from 'node:perf_hooks';

/**
 * Where one request's time went, for its `Server-Timing` response header (W3C Server Timing):
 * `db;dur=4.1, temporal;dur=38.0`. Clients and the bench read it to tell time spent in our
 * dependencies from time spent queueing for a connection or a CPU.
 */
export class ServerTiming {
  private readonly entries: string[] = [];

  /** Runs `work` and records how long it took under `name` (also when it throws). */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.entries.push(`${name};dur=${(performance.now() - started).toFixed(1)}`);
    }
  }

  /** The header's value; empty when nothing was timed. */
  header(): string {
    return this.entries.join(', ');
  }
}

/** Parses a Server-Timing header into durations by name (ms). */
export function parseServerTiming(header: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of (header ?? '').split(',')) {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    if (name && dur) out[name] = Number(dur.slice(4));
  }
  return out;
}
