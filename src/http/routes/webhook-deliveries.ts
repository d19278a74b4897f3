import { Router } from 'express';
import { z } from 'zod';
import { RESOURCE_TYPES } from '../../events/types';
import { ownResourceHead } from '../../webhooks-out/resource';
import { webhookSecret } from '../../webhooks-out/secret';
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

/** The caller's webhook signing secret, and every attempt to deliver a resource's events. */
export function createWebhookDeliveriesRouter(deps: AppDeps): Router {
  const router = Router();

  router.get('/webhooks/secret', async (req, res) => {
    res.json({ key: await webhookSecret(deps.db, currentUser(req).id) });
  });

  router.get('/webhooks/deliveries', async (req, res) => {
    const { resource } = parse(deliveriesQuery, req.query, 'query');
    const [resourceType, resourceId] = resource.toLowerCase().split(':') as [(typeof RESOURCE_TYPES)[number], string];
    const userId = currentUser(req).id;
    await ownResourceHead(deps.db, { resourceType, resourceId }, userId);
    const rows = await deps.db.webhookDelivery.findMany({ where: { resourceType, resourceId, userId }, orderBy: { id: 'asc' }, take: 1000 });
    res.json({
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

  return router;
}
