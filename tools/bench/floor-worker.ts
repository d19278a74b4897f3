/**
 * Child process: the floor worker. The real worker's createWorkers (same three task queues, the
 * same concurrency, cache and rate-limit settings from the same env) running the floor workflows
 * bundle with no-op activities. GET http://127.0.0.1:$FLOOR_STATS_PORT/stats counts activities.
 */
import http from 'node:http';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createDependencies } from '../../src/dependencies';
import { createTemporalClient } from '../../src/temporal/client';
import { createWorkers, installWorkerTelemetry } from '../../src/worker';
import { createFloorActivities } from './floor-activities';

async function main(): Promise<void> {
  const config = loadConfig();
  // the same Temporal Runtime as src/worker.ts main(): SDK logs to pino, Prometheus exporter on
  installWorkerTelemetry({
    logger: createLogger({ level: config.logLevel, name: 'floor-worker' }),
    metrics: { host: '127.0.0.1', port: config.metrics.workerSdkPort },
  });
  const runtime = createDependencies(config);
  const temporal = await createTemporalClient(config.temporal);
  const floor = createFloorActivities(temporal);
  const counts = { creates: 0, noops: 0 };
  const activities = {
    createPrediction: async (req: Parameters<typeof floor.createPrediction>[0]) => {
      counts.creates++;
      return floor.createPrediction(req);
    },
    markJobRunning: async () => {
      counts.noops++;
      return floor.markJobRunning();
    },
  };
  const workers = await createWorkers({
    config,
    runtime,
    workflowBundlePath: process.env.FLOOR_BUNDLE_PATH,
    // createWorkers puts these in place of the real activities of the same names (see floor-activities.ts).
    activities: activities as never,
  });
  const server = http.createServer((_req, res) => res.end(JSON.stringify(counts)));
  server.listen(Number(process.env.FLOOR_STATS_PORT), '127.0.0.1');
  process.once('SIGTERM', () => void workers.shutdown());
  process.once('SIGINT', () => void workers.shutdown());
  await workers.run();
  server.close();
  await temporal.connection.close();
  await runtime.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
