import { z } from 'zod';
import type { Config } from '../config';
import { AppError } from '../errors';
import { WEBHOOK_FILTERS } from '../events/types';

/**
 * The `webhook` and `webhook_events_filter` fields of create requests (jobs, prompts,
 * trainings), like Replicate's. The scheme rule (https only, unless WEBHOOK_ALLOW_LOOPBACK) is
 * checked by `webhookColumns`, which knows the setting; addresses are checked at delivery.
 */
export const webhookFields = {
  webhook: z.url({ protocol: /^https?$/, message: 'must be an https URL' }).max(2000).optional(),
  webhook_events_filter: z
    .array(z.enum(WEBHOOK_FILTERS))
    .min(1)
    .max(WEBHOOK_FILTERS.length)
    .optional()
    .describe('Which events are sent to `webhook`: start, output, logs, completed (default: all).'),
};

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The columns a create request stores. A webhook must be https; plain http is accepted only
 * to a loopback host with WEBHOOK_ALLOW_LOOPBACK (local development). A filter without a webhook
 * means nothing.
 */
export function webhookColumns(body: { webhook?: string; webhook_events_filter?: string[] }, config: Pick<Config, 'env' | 'webhooks'>) {
  if (!body.webhook) {
    if (body.webhook_events_filter) throw AppError.validation('webhook_events_filter needs a webhook');
    return { webhook: null, webhookEventsFilter: [] };
  }
  const url = new URL(body.webhook);
  if (url.protocol === 'http:' && (config.env === 'production' || !config.webhooks.allowLoopback || !LOOPBACK_HOSTS.has(url.hostname))) {
    throw AppError.validation('webhook must be an https URL (plain http only to a loopback host in local development)');
  }
  if (url.username || url.password) throw AppError.validation('webhook must not carry credentials');
  return { webhook: url.href, webhookEventsFilter: [...new Set(body.webhook_events_filter ?? [])] };
}

const formFields = z.object({
  webhook: webhookFields.webhook,
  webhook_events_filter: z
    .string()
    .optional()
    .transform((v) => (v === undefined ? undefined : v.split(',').map((s) => s.trim())))
    .pipe(webhookFields.webhook_events_filter),
});

/** The same fields sent as multipart form fields (training): the filter comma-separated. */
export function webhookFormColumns(fields: Record<string, string | undefined>, config: Pick<Config, 'env' | 'webhooks'>) {
  const parsed = formFields.safeParse({ webhook: fields.webhook, webhook_events_filter: fields.webhook_events_filter });
  if (!parsed.success) {
    throw AppError.validation(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), { issues: parsed.error.issues });
  }
  return webhookColumns(parsed.data, config);
}
