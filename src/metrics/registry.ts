import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The process's one Prometheus registry. The API serves it on GET /metrics; the worker on its
 * own port (WORKER_APP_METRICS_PORT, src/metrics/server.ts). A metric is registered when the
 * module defining it is first imported, so each process exposes the metrics of the code it runs
 * (the API never imports the activities, so it has no activity series).
 *
 * Every label value is from a closed set (route patterns, error codes, activity types, job
 * kinds, outcomes): no ids, URLs or user input, so the number of series stays bounded.
 */
export const registry = new Registry();

export const METRIC_PREFIX = 'imagegen_';

let defaultsOn = false;
/** Node process metrics (CPU, memory, event-loop lag, GC), once per process: called by server.ts and worker.ts. */
export function collectProcessMetrics(labels: { service: 'api' | 'worker' }): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: registry, labels });
}

/** The registry in Prometheus text format, with its content type. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
