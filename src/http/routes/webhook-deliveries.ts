import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Router, type Request } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
import { z } from 'zod';
import { RESOURCE_TYPES, type EventType, type ResourceType } from '../../events/types';
import { ErrorCode } from '../../error-codes';
import { webhookColumns } from '../../webhooks-out/request';
import { postWebhook, redirectMessage, WebhookUrlRefused } from '../../webhooks-out/send';
import { PostgresRateLimitStore } from '../rate-limit-store';
import type { redeliverWebhook } from '../../../workflows/redeliver-webhook';
import { endpointView, findEndpoint, reenableEndpoint } from '../../webhooks-out/endpoints';
import { ownResourceHead } from '../../webhooks-out/resource';
import { rotateWebhookSecret, signingSecrets, webhookSecret } from '../../webhooks-out/secret';
import { AppError } from '../../errors';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

export const deliveriesQuery = z.strictObject({
  resource: z
    .string()
    // The id is a uuid column: anything else (36 dashes) must be refused here, not by Postgres.
    .regex(new RegExp(`^(${RESOURCE_TYPES.join('|')}):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, 'i'), 'must be job:<id>, prompt:<id>, version:<id> or batch:<id>')
    .describe('The resource whose webhook deliveries to list: `job:<id>`, `prompt:<id>`, `version:<id>` or `batch:<id>`.'),
});

export const reenableEndpointBody = z.strictObject({
  url: z.string().min(1).max(2048).describe('The webhook URL exactly as your jobs, prompts or trainings gave it (`endpoint.url` of GET /api/v1/webhooks/deliveries).'),
});

export const testWebhookBody = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, message: 'must be an https URL' })
    .max(2000)
    .describe('Where to post the test event: https (plain http only to a loopback host in local development), as a job\'s `webhook`.'),
});

export const deliveryIdParam = z.object({ delivery_id: z.string().regex(/^[1-9]\d{0,17}$/, 'must be a delivery id (`id` in GET /api/v1/webhooks/deliveries)') });

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
  const { webhooks } = deps.config;

  router.get('/webhooks/secret', async (req, res) => {
    res.json({ key: await webhookSecret(deps.db, webhooks.secrets, currentUser(req).id) });
  });

  router.post('/webhooks/secret/rotate', async (req, res) => {
    const rotated = await rotateWebhookSecret(deps.db, webhooks.secrets, currentUser(req).id);
    res.status(201).json({ key: rotated.key, previous_expires_at: rotated.previousExpiresAt.toISOString() });
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
        id: d.id.toString(),
        event_id: d.eventId.toString(),
        event: d.event,
        url: d.url,
        attempt: d.attempt,
        status_code: d.statusCode,
        duration_ms: d.durationMs,
        error: d.error,
        response_excerpt: d.responseExcerpt,
        redirect_location: d.redirectLocation,
        redelivery: d.redelivery,
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

  /**
   * A signed `test` event posted now, with a delivery's guard and timeouts, and what the receiver
   * answered. Not a delivery of any resource: nothing is recorded and no breaker counts it. Each
   * is a request we make on the caller's behalf, so each API key may send WEBHOOK_TEST_PER_MINUTE.
   */
  const testLimit = webhooks.testPerMinute > 0 ? [perKeyLimit(deps, 'webhook-test', webhooks.testPerMinute)] : [];
  router.post('/webhooks/test', ...testLimit, async (req, res) => {
    const { url } = parse(testWebhookBody, req.body, 'body');
    const target = webhookColumns({ webhook: url }, deps.config).webhook!;
    const userId = currentUser(req).id;
    const id = `evt_test_${randomUUID()}`;
    const body = JSON.stringify({ type: 'test', id, created_at: new Date().toISOString(), message: 'A test event: this is how webhooks from this account are signed and sent.' });
    const started = Date.now();
    try {
      const answer = await postWebhook({
        url: target,
        id,
        body,
        secrets: await signingSecrets(deps.db, webhooks.secrets, userId),
        allowLoopback: webhooks.allowLoopback,
        connectTimeoutMs: webhooks.connectTimeoutMs,
        timeoutMs: webhooks.timeoutMs,
      });
      const redirect = answer.status >= 300 && answer.status < 400;
      res.json({
        webhook_id: id,
        delivered: answer.status >= 200 && answer.status < 300,
        status_code: answer.status,
        latency_ms: Date.now() - started,
        body_excerpt: answer.bodyExcerpt,
        redirect_location: answer.redirectLocation,
        error: redirect ? redirectMessage(answer.status, answer.redirectLocation) : answer.status >= 200 && answer.status < 300 ? null : `The receiver answered ${answer.status}`,
      });
    } catch (err) {
      if (err instanceof WebhookUrlRefused) throw new AppError(422, ErrorCode.webhookUrlRefused, err.message);
      // No answer (refused, timed out, unresolvable): that is the result of the test, not an error of this request.
      res.json({ webhook_id: id, delivered: false, status_code: null, latency_ms: Date.now() - started, body_excerpt: null, redirect_location: null, error: (err as Error).message });
    }
  });

  /**
   * One more attempt of a recorded delivery's event, now (workflows/redeliver-webhook.ts), to the
   * resource's webhook as it is today; the attempt appears in the deliveries list with
   * `redelivery: true`. One redelivery of an event at a time (409 redelivery_in_progress).
   */
  router.post('/webhooks/deliveries/:delivery_id/redeliver', async (req, res) => {
    const { delivery_id } = parse(deliveryIdParam, req.params, 'path');
    const userId = currentUser(req).id;
    const delivery = await deps.db.webhookDelivery.findFirst({ where: { id: BigInt(delivery_id), userId } });
    if (!delivery) throw AppError.notFound('Webhook delivery');
    const ref = { resourceType: delivery.resourceType as ResourceType, resourceId: delivery.resourceId };
    const head = await ownResourceHead(deps.db, ref, userId);
    if (!head.webhook) throw AppError.notFound('The webhook of this delivery\'s resource');
    const workflowId = `webhook-redeliver-${delivery.eventId}`;
    try {
      await deps.temporal.workflow.start<typeof redeliverWebhook>('redeliverWebhook', {
        workflowId,
        taskQueue: deps.config.temporal.taskQueue,
        args: [{ ...ref, eventId: delivery.eventId.toString(), type: delivery.event as EventType }],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        priority: { fairnessKey: userId },
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw AppError.conflict(ErrorCode.redeliveryInProgress, 'A redelivery of this event is already running; its attempt will appear in the deliveries list', { event_id: delivery.eventId.toString() });
      }
      throw AppError.unavailable('The redelivery could not be started; nothing was sent. Try again shortly.').withCause(err);
    }
    const resource = `${ref.resourceType}:${ref.resourceId}`;
    res
      .status(202)
      .location(`/api/v1/webhooks/deliveries?resource=${resource}`)
      .json({ delivery_id, event_id: delivery.eventId.toString(), event: delivery.event, resource, url: head.webhook, redelivery_requested: true });
  });

  return router;
}

const view = (endpoint: Parameters<typeof endpointView>[0]): z.infer<typeof WebhookEndpoint> => endpointView(endpoint);

/**
 * A per-API-key limit of one route, counted in Postgres like the service-wide limits
 * (src/http/hardening.ts): 429 rate_limited with Retry-After beyond it. Refused requests (a bad
 * URL, the 429 itself) are taken back: only the test events that were sent count.
 */
function perKeyLimit(deps: AppDeps, name: string, perMinute: number) {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    store: new PostgresRateLimitStore(deps.db, `${name}:`),
    passOnStoreError: true,
    skipFailedRequests: true,
    keyGenerator: (req: Request) => req.apiKey?.keyId ?? req.user?.id ?? 'anonymous',
    validate: { xForwardedForHeader: false },
    handler: (req, _res, next) => {
      const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
      const seconds = Math.max(1, Math.ceil(((info?.resetTime?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000));
      next(
        new AppError(429, ErrorCode.rateLimited, `Too many requests: at most ${perMinute} a minute per API key on this route. Retry in ${seconds} s.`, { retry_after_seconds: seconds }, {
          'Retry-After': String(seconds),
        }),
      );
    },
  });
}
