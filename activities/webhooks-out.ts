import { activityInfo, ApplicationFailure } from '@temporalio/activity';
import type { WebhookSettings } from '../src/config';
import type { Db } from '../src/db/client';
import { ErrorCode } from '../src/error-codes';
import { AppError } from '../src/errors';
import type { EventType, ResourceRef } from '../src/events/types';
import type { Storage } from '../src/storage/s3';
import { resourceBody, resourceHead } from '../src/webhooks-out/resource';
import { signingSecrets } from '../src/webhooks-out/secret';
import { admitDelivery, recordFailure, recordSuccess } from '../src/webhooks-out/endpoints';
import { postWebhook, redirectMessage, WebhookUrlRefused } from '../src/webhooks-out/send';
import { WEBHOOK_RETRY } from '../workflows/activity-options';

const NOT_FOUND = { job: ErrorCode.jobNotFound, prompt: ErrorCode.promptNotFound, version: ErrorCode.versionNotFound, batch: ErrorCode.batchNotFound } as const;

/** Outbound webhooks (webhooks group, on the webhooks task queue, webhookDelivery preset). */
export function createWebhookActivities({ db, storage, webhooks }: { db: Db; storage: Storage; webhooks: WebhookSettings }) {
  return {
    /**
     * Posts the resource as its GET shows it now to its webhook, signed with the owner's
     * secret, and records the attempt (status code, duration, error, when the next one is
     * due). Anything but a 2xx answer in time fails the attempt, and the retry policy tries
     * again. The endpoint's circuit breaker (src/webhooks-out/breaker.ts) comes first: while it
     * is paused nothing is posted and the attempt fails at once, due again when the pause ends;
     * once it is disabled the delivery is given up and recorded.
     */
    async deliverWebhook(req: ResourceRef & { eventId: string; type: EventType; redelivery?: boolean }): Promise<{ status: number }> {
      const head = await resourceHead(db, req);
      if (!head?.webhook) throw ApplicationFailure.nonRetryable(`The ${req.resourceType} ${req.resourceId} or its webhook is gone`, NOT_FOUND[req.resourceType]);
      const url = head.webhook;
      const attempt = activityInfo().attempt;
      const started = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      let responseExcerpt: string | null = null;
      let redirectLocation: string | null = null;

      const { endpoint, admission } = await admitDelivery(db, head.userId, url, webhooks.breaker, webhooks.timeoutMs + 2_000);
      if (admission.action === 'disabled') {
        error = disabledMessage(admission.since);
        await record(null);
        throw ApplicationFailure.nonRetryable(error, ErrorCode.webhookEndpointDisabled);
      }
      if (admission.action === 'wait' && req.redelivery) {
        // A redelivery makes one attempt: recorded, so its owner sees why nothing was sent.
        error = `The webhook endpoint is paused after repeated failures until ${admission.until.toISOString()}; nothing was sent`;
        await record(null);
        throw ApplicationFailure.nonRetryable(error, ErrorCode.webhookEndpointPaused);
      }
      if (admission.action === 'wait') {
        // Not recorded as an attempt: nothing was sent (the deliveries list shows the pause).
        throw ApplicationFailure.create({
          message: `The webhook endpoint is paused after repeated failures; the next attempt is due at ${admission.until.toISOString()}`,
          type: ErrorCode.webhookEndpointPaused,
          nextRetryDelay: Math.max(admission.until.getTime() - Date.now(), 100),
        });
      }

      const body = JSON.stringify(await resourceBody(db, storage, req, head.userId).catch(notFound(req)));
      const secrets = await signingSecrets(db, webhooks.secrets, head.userId);
      try {
        const answer = await postWebhook({ url, id: `evt_${req.eventId}`, body, secrets, allowLoopback: webhooks.allowLoopback, connectTimeoutMs: webhooks.connectTimeoutMs, timeoutMs: webhooks.timeoutMs });
        status = answer.status;
        responseExcerpt = answer.bodyExcerpt;
        redirectLocation = answer.redirectLocation;
        if (status >= 300 && status < 400) error = redirectMessage(status, redirectLocation);
        else if (status < 200 || status >= 300) error = `The receiver answered ${status}`;
      } catch (err) {
        error = (err as Error).message;
        if (err instanceof WebhookUrlRefused) {
          await record(null);
          throw ApplicationFailure.nonRetryable(error, ErrorCode.webhookUrlRefused);
        }
      }
      if (!error) {
        await recordSuccess(db, endpoint.id);
        await record(null);
        return { status: status! };
      }
      const after = await recordFailure(db, endpoint.id, error, webhooks.breaker, admission.probe);
      if (after.disabledAt) {
        error = `${error}; ${disabledMessage(after.disabledAt)}`;
        await record(null);
        throw ApplicationFailure.nonRetryable(error, ErrorCode.webhookEndpointDisabled);
      }
      const policyRetry = req.redelivery ? null : nextRetryAt(attempt);
      const pausedUntil = after.pausedUntil && after.pausedUntil.getTime() > Date.now() ? after.pausedUntil : null;
      const nextRetry = pausedUntil && policyRetry && pausedUntil > policyRetry ? pausedUntil : policyRetry;
      await record(nextRetry);
      throw ApplicationFailure.create({
        message: error,
        type: ErrorCode.webhookDeliveryFailed,
        ...(nextRetry === pausedUntil && pausedUntil ? { nextRetryDelay: Math.max(pausedUntil.getTime() - Date.now(), 100) } : {}),
      });

      async function record(nextRetry: Date | null) {
        await db.webhookDelivery.create({
          data: {
            eventId: BigInt(req.eventId),
            resourceType: req.resourceType,
            resourceId: req.resourceId,
            userId: head!.userId,
            event: req.type,
            url,
            attempt,
            statusCode: status,
            durationMs: Date.now() - started,
            error,
            nextRetryAt: nextRetry,
            responseExcerpt,
            redirectLocation,
            redelivery: req.redelivery ?? false,
          },
        });
      }
    },
  };
}

const disabledMessage = (since: Date) =>
  `The webhook endpoint has been disabled since ${since.toISOString()} after failing for too long; this delivery is given up (re-enable it with POST /api/v1/webhooks/endpoints/reenable)`;

/** When the retry policy runs the next attempt, or null once the policy's time is up. */
function nextRetryAt(attempt: number): Date | null {
  const retry = WEBHOOK_RETRY;
  const delay = Math.min(retry.initialInterval * retry.backoffCoefficient ** (attempt - 1), retry.maximumInterval);
  const at = Date.now() + delay;
  const { scheduledTimestampMs } = activityInfo();
  const deadline = (activityInfo().scheduleToCloseTimeoutMs ?? Infinity) + scheduledTimestampMs;
  return at < deadline ? new Date(at) : null;
}

/** A resource deleted under its delivery workflow: nothing left to deliver. */
function notFound(ref: ResourceRef) {
  return (err: unknown): never => {
    if (err instanceof AppError && err.status === 404) throw ApplicationFailure.nonRetryable(err.message, NOT_FOUND[ref.resourceType]);
    throw err;
  };
}
