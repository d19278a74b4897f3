import type { Server } from 'node:http';
import { loadConfig } from './config';
import { createApp } from './http/app';
import { createLogger } from './logger';
import { collectProcessMetrics } from './metrics/registry';
import { createDependencies } from './dependencies';
import { createTemporalClient } from './temporal/client';

/** In-flight requests get this long after SIGTERM (compose gives the api 30 s before SIGKILL). */
const HTTP_SHUTDOWN_GRACE_MS = 25_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  collectProcessMetrics({ service: 'api' });
  const runtime = createDependencies(config, { logger });
  const temporal = await createTemporalClient(config.temporal);
  const app = createApp({ config, logger, temporal, ...runtime });

  const server: Server = app.listen(config.http.port, config.http.host, () => {
    logger.info({ url: `http://${config.http.host}:${config.http.port}` }, 'api listening');
  });
  server.keepAliveTimeout = 65_000;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    server.close(async () => {
      await temporal.connection.close();
      await runtime.close();
      logger.info('api stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    // Open event streams end now with a `retry:` hint: their clients resume on another process.
    void runtime.eventFanout.close();
    // A request still running after the grace period (a stuck upload) does not hold the exit forever.
    setTimeout(() => server.closeAllConnections(), HTTP_SHUTDOWN_GRACE_MS).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
