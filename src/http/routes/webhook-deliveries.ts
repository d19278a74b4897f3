import { Router } from 'express';
import { z } from 'zod';
import { RESOURCE_TYPES } from '../../events/types';
import { endpointView, findEndpoint, reenableEndpoint } from '../../webhooks-out/endpoints';
import { ownResourceHead } from '../../webhooks-out/resource';
import { webhookSecret } from '../../webhooks-out/secret';
import { AppError } from '../../errors';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

export const deliveriesQuery = z.strictObject({
  resource: z
    .string()
    // The id is a uuid column: anything else (36 dashes) must be refused here, not by Postgres.
    .regex(new RegExp(`^(${RESOURCE_TYPES.join('|')}):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, 'i'), 'must be job:<id>, prompt:<id> or version:<id>')
    .describe('The resource whose webhook deliveries to list: `job:<id>`, `prompt:<id>` or `version:<id>`.'),
});

export const reenableEndpointBody = z.strictObject({
  url: z.string().min(1).max(2048).describe('The webhook URL exactly as your jobs, prompts or trainings gave it (`endpoint.url` of GET /api/v1/webhooks/deliveries).'),
});

const timestamp = z.iso.datetime();

/** A webhook endpoint (your account and one URL) and its circuit breaker (src/webhooks-out/breaker.ts). */
export const WebhookEndpoint = z
  .object({
    url: z.string(),
    status: z.enum(['active', 'paused', 'disabled']).meta({
      description: '`paused`: repeated failures, nothing is posted until `paused_until`; `disabled`: failing for days, deliveries are given up until you re-enable it',
    }),
    consecutive_failures: z.number().int(),
    failing_since: timestamp.nullable().meta({ description: 'The first failed attempt since the last success' }),
    paused_until: timestamp.nullable(),
    disabled_at: timestamp.nullable(),
    last_error: z.string().nullable(),
    last_failure_at: timestamp.nullable(),
    last_success_at: timestamp.nullable(),
  })
  .meta({ id: 'WebhookEndpoint' });

/**
 * The caller's webhook signing secret, every attempt to deliver a resource's events with the
 * state of its endpoint, and undoing an endpoint's pause or disable.
 */
export function createWebhookDeliveriesRouter(deps: AppDeps): Router {
  const router = Router();

  router.get('/webhooks/secret', async (req, res) => {
    res.json({ key: await webhookSecret(deps.db, currentUser(req).id) });
  });

  router.get('/webhooks/deliveries', async (req, res) => {
    const { resource } = parse(deliveriesQuery, req.query, 'query');
    const [resourceType, resourceId] = resource.toLowerCase().split(':') as [(typeof RESOURCE_TYPES)[number], string];
    const userId = currentUser(req).id;
    const head = await ownResourceHead(deps.db, { resourceType, resourceId }, userId);
    const rows = await deps.db.webhookDelivery.findMany({ where: { resourceType, resourceId, userId }, orderBy: { id: 'asc' }, take: 1000 });
    const endpoint = head.webhook ? await findEndpoint(deps.db, userId, head.webhook) : null;
    res.json({
      endpoint: endpoint ? view(endpoint) : null,
      items: rows.map((d) => ({
        event_id: d.eventId.toString(),
        event: d.event,
        url: d.url,
        attempt: d.attempt,
        status_code: d.statusCode,
        duration_ms: d.durationMs,
        error: d.error,
        next_retry_at: d.nextRetryAt?.toISOString() ?? null,
        created_at: d.createdAt.toISOString(),
      })),
    });
  });

  router.post('/webhooks/endpoints/reenable', async (req, res) => {
    const { url } = parse(reenableEndpointBody, req.body, 'body');
    const endpoint = await reenableEndpoint(deps.db, currentUser(req).id, url);
    if (!endpoint) throw AppError.notFound('Webhook endpoint');
    res.json(view(endpoint));
  });

  return router;
}

const view = (endpoint: Parameters<typeof endpointView>[0]): z.infer<typeof WebhookEndpoint> => endpointView(endpoint);
