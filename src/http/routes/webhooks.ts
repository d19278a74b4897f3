import { setTimeout as sleep } from 'node:timers/promises';
import express, { Router } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../errors';
import { snapshot } from '../../provider/prediction';
import type { ProviderPrediction } from '../../provider/replicate';
import { verifyWebhook } from '../../provider/webhook-signature';
import { workflowOfWebhook } from '../../provider/webhook-url';
import { predictionUpdated } from '../../../workflows/signals';
import type { AppDeps } from '../deps';
import { stripeWebhookHandler } from './stripe-webhook';

const predictionBody = z.looseObject({
  id: z.string().min(1),
  status: z.enum(['starting', 'processing', 'succeeded', 'failed', 'canceled']),
});

/**
 * Replicate webhooks: verify the signature and timestamp on the raw body, record the
 * delivery id once (a redelivery changes nothing), and signal the workflow.
 */
export function createWebhooksRouter(deps: AppDeps): Router {
  const { db, temporal, config, webhookSecret, logger } = deps;
  const router = Router();
  // The raw body only for the two signed webhooks: the account's own routes under /webhooks
  // (deliveries, endpoints) take JSON like every other API route.
  const raw = express.raw({ type: () => true, limit: '1mb' });
  router.post('/stripe', raw, stripeWebhookHandler(deps));

  router.post('/replicate', raw, async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifyWebhook({
      secret: await webhookSecret(),
      headers: {
        id: req.get('webhook-id'),
        timestamp: req.get('webhook-timestamp'),
        signature: req.get('webhook-signature'),
      },
      body,
      toleranceSeconds: config.webhookToleranceSeconds,
    });
    if (!verdict.ok) throw new AppError(400, ErrorCode.webhookSignatureInvalid, `Webhook rejected: ${verdict.reason}`);

    const prediction = parseJson(body, predictionBody) as unknown as ProviderPrediction;
    const target = workflowOfWebhook(req.query);
    const runId = target.runId;
    const workflowId = target.workflowId ?? (await db.job.findUnique({ where: { providerPredictionId: prediction.id }, select: { workflowId: true } }))?.workflowId;

    const deliveryId = `replicate:${verdict.id}`;
    const fresh = await db.webhookEvent.createMany({
      data: [{ id: deliveryId, source: 'replicate', type: prediction.status }],
      skipDuplicates: true,
    });
    if (fresh.count === 0) {
      res.json({ received: true, duplicate: true });
      return;
    }
    if (workflowId && !(await isStartOfRecordedRun(db, prediction, config.replicate.startWebhookWaitMs))) {
      try {
        await temporal.workflow.getHandle(workflowId, runId).signal(predictionUpdated, snapshot(prediction));
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) {
          // Let the provider redeliver: forget this delivery so the retry is not a "duplicate".
          await db.webhookEvent.delete({ where: { id: deliveryId } }).catch(() => undefined);
          throw err;
        }
        logger.info({ workflowId, predictionId: prediction.id }, 'webhook for a finished workflow ignored');
      }
    }
    res.json({ received: true });
  });
  return router;
}

/** How often a `start` webhook looks whether its run has been recorded while it waits. */
const RECORDED_POLL_MS = 50;

/**
 * A workflow hears of every run created for it, so it can cancel a stray duplicate
 * (workflows/prediction-wait.ts). The `start` of the run it recorded as its own tells it nothing,
 * and a signal is a step the engine records and Temporal Cloud bills: that one is not sent. The
 * provider sends `start` as it answers the create, so it usually arrives a few ms before the
 * create's activity records the run: it waits up to `waitMs` for that record. A run that is not
 * recorded by then (a stray, or a create still retrying) is signaled as before.
 */
async function isStartOfRecordedRun(db: AppDeps['db'], prediction: ProviderPrediction, waitMs: number): Promise<boolean> {
  if (prediction.status !== 'starting' && prediction.status !== 'processing') return false;
  const recorded = async () =>
    (
      await db.$queryRaw<unknown[]>`
        SELECT 1 FROM "jobs" WHERE "provider_prediction_id" = ${prediction.id}
        UNION ALL SELECT 1 FROM "prompts" WHERE "provider_prediction_id" = ${prediction.id}
        UNION ALL SELECT 1 FROM "model_versions" WHERE "provider_training_id" = ${prediction.id}
        LIMIT 1`
    ).length > 0;
  const until = Date.now() + waitMs;
  for (;;) {
    if (await recorded()) return true;
    if (Date.now() >= until) return false;
    await sleep(Math.min(RECORDED_POLL_MS, until - Date.now()));
  }
}

function parseJson(body: Buffer, schema: z.ZodType): unknown {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError(400, ErrorCode.invalidJson, 'The webhook body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw AppError.validation('The webhook body is not a prediction', { issues: parsed.error.issues });
  return parsed.data;
}
