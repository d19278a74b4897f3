import type { Knobs } from './knobs';
import type { Logger } from './logger';
import type { ModelRegistry } from './models';
import type { Stats } from './stats';
import type { JobStore } from './store';
import type { WebhookSender } from './webhooks';

/** Everything request handlers and job runners share. */
export interface ServerContext {
  /** Live knobs: the same object is updated in place by setKnobs and /admin/knobs. */
  knobs: Knobs;
  stats: Stats;
  registry: ModelRegistry;
  store: JobStore;
  webhooks: WebhookSender;
  logger: Logger;
  webhookSecret: string;
  /** e.g. http://127.0.0.1:8787/v1, used in `urls.get` / `urls.cancel`. */
  apiBaseUrl: string;
  /** Base of output file URLs. */
  publicBaseUrl: string;
}
