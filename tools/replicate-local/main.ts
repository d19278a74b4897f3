import pino from 'pino';
import { knobsFromEnv } from './knobs';
import { startLocalReplicate } from './server';

/**
 * CLI: starts the local Replicate server.
 * Env: REPLICATE_LOCAL_HOST (127.0.0.1), REPLICATE_LOCAL_PORT (8787), REPLICATE_LOCAL_PUBLIC_URL,
 * REPLICATE_LOCAL_WEBHOOK_SECRET, REPLICATE_LOCAL_DATA_DIR (keep jobs, outputs, models and the webhook
 * secret there across restarts, even a kill -9; in memory if unset), and REPLICATE_LOCAL_<KNOB> for
 * each knob (e.g. REPLICATE_LOCAL_LATENCY_MS=200).
 */
async function main(): Promise<void> {
  const logger = pino({ name: 'replicate-local' });
  const env = process.env;
  const local = await startLocalReplicate({
    host: env.REPLICATE_LOCAL_HOST || '127.0.0.1',
    port: Number(env.REPLICATE_LOCAL_PORT || 8787),
    publicBaseUrl: env.REPLICATE_LOCAL_PUBLIC_URL || undefined,
    webhookSecret: env.REPLICATE_LOCAL_WEBHOOK_SECRET || undefined,
    dataDir: env.REPLICATE_LOCAL_DATA_DIR || undefined,
    knobs: knobsFromEnv(env),
    logger,
  });
  logger.info(
    { url: local.url, apiBaseUrl: local.apiBaseUrl, dataDir: env.REPLICATE_LOCAL_DATA_DIR || null, knobs: local.knobs },
    `local Replicate listening on ${local.apiBaseUrl}`,
  );
  const shutdown = () => {
    logger.info({}, 'shutting down');
    local.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
