import type { Phases } from '../shared/phases';

/**
 * The `Server-Timing` header (W3C Server Timing) of a request's phases, e.g.
 * `db;dur=4.1, temporal;dur=38.0`: clients and the bench read it to tell the time spent in our
 * dependencies from the time spent queueing for a connection or a CPU.
 */
export function serverTimingHeader(phases: Phases): string {
  return phases.entries.map((p) => `${p.name};dur=${p.ms.toFixed(1)}`).join(', ');
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
