import { activityInfo, ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../src/db/client';
import { ErrorCode } from '../src/error-codes';
import { AppError } from '../src/errors';
import type { EventType, ResourceRef } from '../src/events/types';
import type { Storage } from '../src/storage/s3';
import { resourceBody, resourceHead } from '../src/webhooks-out/resource';
import { webhookSecret } from '../src/webhooks-out/secret';
import { postWebhook, WebhookUrlRefused } from '../src/webhooks-out/send';
import { webhookDelivery } from '../workflows/activity-options';

const NOT_FOUND = { job: ErrorCode.jobNotFound, prompt: ErrorCode.promptNotFound, version: ErrorCode.versionNotFound } as const;

/** Outbound webhooks (webhooks group, webhookDelivery preset). */
export function createWebhookActivities({ db, storage, production }: { db: Db; storage: Storage; production: boolean }) {
  return {
    /**
     * Posts the resource as its GET shows it now to its webhook, signed with the owner's
     * secret, and records the attempt (status code, duration, error, when the next one is
     * due). Anything but a 2xx answer fails the attempt, and the retry policy tries again.
     */
    async deliverWebhook(req: ResourceRef & { eventId: string; type: EventType }): Promise<{ status: number }> {
      const head = await resourceHead(db, req);
      if (!head?.webhook) throw ApplicationFailure.nonRetryable(`The ${req.resourceType} ${req.resourceId} or its webhook is gone`, NOT_FOUND[req.resourceType]);
      const body = JSON.stringify(await resourceBody(db, storage, req, head.userId).catch(notFound(req)));
      const secret = await webhookSecret(db, head.userId);
      const attempt = activityInfo().attempt;
      const started = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      try {
        status = (await postWebhook({ url: head.webhook, id: `evt_${req.eventId}`, body, secret, production, timeoutMs: 10_000 })).status;
        if (status < 200 || status >= 300) error = `The receiver answered ${status}`;
      } catch (err) {
        error = (err as Error).message;
        if (err instanceof WebhookUrlRefused) {
          await record(null);
          throw ApplicationFailure.nonRetryable(error, ErrorCode.webhookUrlRefused);
        }
      }
      await record(error ? nextRetryAt(attempt) : null);
      if (error) throw ApplicationFailure.retryable(error, 'webhook_delivery_failed');
      return { status: status! };

      async function record(nextRetry: Date | null) {
        await db.webhookDelivery.create({
          data: {
            eventId: BigInt(req.eventId),
            resourceType: req.resourceType,
            resourceId: req.resourceId,
            userId: head!.userId,
            event: req.type,
            url: head!.webhook!,
            attempt,
            statusCode: status,
            durationMs: Date.now() - started,
            error,
            nextRetryAt: nextRetry,
          },
        });
      }
    },
  };
}

/** When the retry policy runs the next attempt, or null once the policy's time is up. */
function nextRetryAt(attempt: number): Date | null {
  const retry = webhookDelivery.retry!;
  const delay = Math.min(Number(retry.initialInterval) * Number(retry.backoffCoefficient) ** (attempt - 1), Number(retry.maximumInterval));
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
