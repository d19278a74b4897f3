import sharp from 'sharp';
import type { Client } from '@temporalio/client';
import type { Config, WebhookSettings } from './config';
import { createDb, type Db } from './db/client';
import { createEventFanout, type EventFanout } from './events/fanout';
import { createFaceInspector, type FaceInspector } from './images/faces/pool';
import { DEFAULT_IMAGE_RULES } from './images/validate';
import { createLogger, type Logger } from './logger';
import { createOutputFetcher, outputFetchPolicy, type OutputFetcher } from './provider/output-fetch';
import { createProvider, type Provider } from './provider/replicate';
import { createS3Client, createStorage, type Storage } from './storage/s3';
import { createStripe, type Stripe } from './stripe/client';
import { createTemporalClient } from './temporal/client';

/** The dependencies both the API and the worker build from config. */
export interface Dependencies {
  db: Db;
  storage: Storage;
  provider: Provider;
  /** Downloads of provider output files, restricted to the provider's delivery hosts. */
  outputFetcher: OutputFetcher;
  stripe: Stripe;
  /** NODE_ENV is production: outbound webhooks go only to https on public addresses (src/webhooks-out). */
  production: boolean;
  /** Outbound webhook timeouts and the per-endpoint circuit breaker (WEBHOOK_*). */
  webhooks: WebhookSettings;
  /** The provider's webhook signing secret: configured, or fetched once and cached. */
  webhookSecret: () => Promise<string>;
  /** A Temporal client, connected on first use (activities that inspect workflows need one). */
  temporalClient: () => Promise<Client>;
  /**
   * New resource events as Postgres notifies them, fanned out to this process's subscribers
   * (event streams). Its one listening connection opens on the first subscription, so a worker
   * opens none; closing it ends every subscription.
   */
  eventFanout: EventFanout;
  /** Face inspection of training photos on a few worker threads (src/images/faces); they start on first use. */
  faceInspector: FaceInspector;
  close(): Promise<void>;
}

/** `onQuery` sees every SQL statement (tests count queries with it). */
export function createDependencies(config: Config, opts: { onQuery?: (sql: string) => void; logger?: Logger } = {}): Dependencies {
  // Each photo is decoded once and passed on (the API checks and prepares training photos, the
  // worker reads outputs' dimensions): libvips' operation cache would only hold decoded pixels,
  // tens of MB per 12 MP photo, that are never reused.
  sharp.cache(false);
  const db = createDb(config.database.url, config.database.poolSize, { onQuery: opts.onQuery, timeouts: config.database });
  const eventFanout = createEventFanout({
    url: config.database.url,
    connectTimeoutMs: config.database.connectTimeoutMs,
    logger: opts.logger ?? createLogger({ level: config.logLevel, name: 'event-fanout' }),
    db,
  });
  const s3 = createS3Client(config.s3);
  const provider = createProvider({ apiToken: config.replicate.apiToken, baseUrl: config.replicate.baseUrl });
  const faceInspector = createFaceInspector({
    threads: config.faceCheck.threads,
    maxQueued: config.faceCheck.maxQueued,
    maxQueuedPerAccount: config.faceCheck.maxQueuedPerAccount,
    analyze: { maxSidePx: config.faceCheck.maxSidePx, minScore: config.faceCheck.minScore, maxPixels: DEFAULT_IMAGE_RULES.maxPixels },
  });
  let temporal: Promise<Client> | undefined;
  let secret: Promise<string> | undefined = config.replicate.webhookSecret ? Promise.resolve(config.replicate.webhookSecret) : undefined;
  return {
    db,
    storage: createStorage(s3, config.s3),
    provider,
    outputFetcher: createOutputFetcher(outputFetchPolicy(config)),
    stripe: createStripe(config.stripe),
    production: config.env === 'production',
    webhooks: config.webhooks,
    webhookSecret: () => {
      secret ??= provider.getWebhookSecret().catch((err) => {
        secret = undefined; // try again on the next webhook
        throw err;
      });
      return secret;
    },
    temporalClient: () => (temporal ??= createTemporalClient(config.temporal)),
    eventFanout,
    faceInspector,
    async close() {
      await eventFanout.close();
      await faceInspector.close();
      if (temporal) await (await temporal).connection.close();
      await db.$disconnect();
      s3.destroy();
    },
  };
}
