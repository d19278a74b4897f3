import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { FaceInspector } from '../images/faces/pool';
import type { Db } from '../db/client';
import type { EventFanout } from '../events/fanout';
import type { Logger } from '../logger';
import type { Provider } from '../provider/replicate';
import type { Storage } from '../storage/s3';
import type { Stripe } from '../stripe/client';

/** Everything the HTTP layer needs, created once per process and injected. */
export interface AppDeps {
  config: Config;
  db: Db;
  temporal: Client;
  storage: Storage;
  provider: Provider;
  stripe: Stripe;
  logger: Logger;
  /** The provider's webhook signing secret (configured, or fetched once and cached). */
  webhookSecret: () => Promise<string>;
  /** New resource events fanned out to this process's event streams (src/events/fanout.ts). */
  eventFanout: EventFanout;
  /** Face inspection of training photos, off the event loop (src/images/faces/pool.ts). */
  faceInspector: FaceInspector;
}
