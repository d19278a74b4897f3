import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import { wakeWebhookDelivery } from '../events/record';
import type { Batch } from '../generated/prisma/client';
import type { GenerateBody } from '../jobs/schemas';
import { FINISHED } from '../jobs/rows';
import { cancelJob, submitJob } from '../jobs/service';
import { webhookColumns } from '../webhooks-out/request';
import { batchRef, completeBatchIfDone, getOwnBatch, type BatchWithJobs, type RejectedItem } from './rows';
import type { CreateBatchBody } from './schemas';
import { batchStatus } from './views';

/**
 * Batches: up to 100 jobs in one request. The batch is only a grouping: each item is an ordinary
 * job of the account, accepted by the same statement as POST /generate (credits, the active-jobs
 * cap, the key's budget, the queue's fairness), with no lane of its own. Exactly once: each item's
 * Idempotency-Key is `batch:<batch id>:<index>`, so submitting an item twice finds the first job;
 * the batch itself is found again by the request's Idempotency-Key.
 *
 * An item refused when it was sent (402, 422, 429 too_many_active_jobs, 503) is reported in the
 * batch's items with its error; the other items go on. `submitted_at` is set once every item was
 * tried; a retry of a batch whose submission finished submits nothing (send the refused items in a
 * new batch), one whose submission was cut short (a crash) submits the items not yet created.
 *
 * The batch completes when every created item is final: the step that makes the last one final
 * (activities/jobs.ts, in its transaction) or the end of the submission, whichever comes last,
 * sets `completed_at` in a conditional update and records the batch's one `completed` event, which
 * a batch `webhook` receives (the deliveries list shows it under `batch:<id>`).
 */
export interface BatchDeps {
  config: Config;
  db: Db;
  temporal: Client;
}

/** Items submitted at once: a batch of 100 takes its turns on the pool and on Temporal like a few clients would. */
const SUBMIT_CONCURRENCY = 4;


export async function createBatch(
  deps: BatchDeps,
  req: { userId: string; body: CreateBatchBody; idempotencyKey?: string; requestId?: string; apiKeyId?: string },
): Promise<{ batch: BatchWithJobs; replayed: boolean }> {
  const requestHash = createHash('sha256').update(JSON.stringify(req.body)).digest('hex');
  const webhook = webhookColumns({ webhook: req.body.webhook }, deps.config);
  let batch = req.idempotencyKey ? await deps.db.batch.findUnique({ where: { userId_idempotencyKey: { userId: req.userId, idempotencyKey: req.idempotencyKey } } }) : null;
  let replayed = batch !== null;
  if (!batch) {
    try {
      batch = await deps.db.batch.create({
        data: {
          id: randomUUID(),
          userId: req.userId,
          kind: 'job',
          size: req.body.jobs.length,
          idempotencyKey: req.idempotencyKey ?? null,
          requestHash,
          webhook: webhook.webhook,
        },
      });
    } catch (err) {
      // The same key sent concurrently: the first request's batch answers this one.
      if ((err as { code?: string }).code !== 'P2002' || !req.idempotencyKey) throw err;
      batch = await deps.db.batch.findUniqueOrThrow({ where: { userId_idempotencyKey: { userId: req.userId, idempotencyKey: req.idempotencyKey } } });
      replayed = true;
    }
  }
  if (batch.requestHash !== requestHash) {
    throw new AppError(422, ErrorCode.idempotencyKeyReused, 'This Idempotency-Key was already used with a different batch; use a new key for a new batch', { batch_id: batch.id });
  }
  if (batch.submittedAt === null) await submitItems(deps, batch, req);
  return { batch: await getOwnBatch(deps.db, req.userId, batch.id), replayed };
}

async function submitItems(deps: BatchDeps, batch: Batch, req: { userId: string; body: CreateBatchBody; requestId?: string; apiKeyId?: string }): Promise<void> {
  const rejected: RejectedItem[] = [];
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < req.body.jobs.length; index = next++) {
      try {
        await submitJob(deps, {
          userId: req.userId,
          body: req.body.jobs[index] as GenerateBody,
          idempotencyKey: `batch:${batch.id}:${index}`,
          requestId: req.requestId,
          apiKeyId: req.apiKeyId,
          batch: { id: batch.id, index },
        });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        rejected.push({ index, status: err.status, error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBMIT_CONCURRENCY, req.body.jobs.length) }, worker));
  rejected.sort((a, b) => a.index - b.index);

  const completed = await deps.db.$transaction(async (tx) => {
    await tx.batch.update({ where: { id: batch.id }, data: { rejected: rejected as object[], submittedAt: new Date() } });
    return completeBatchIfDone(tx, batch.id);
  });
  if (completed && batch.webhook) await wakeWebhookDelivery(deps.temporal, deps.config.temporal.taskQueue, batchRef(batch.id), batch.userId);
}

/** Cancels every item not final yet (each like DELETE /jobs/{id}); 409 when all are final. */
export async function cancelBatch(deps: BatchDeps, userId: string, batchId: string): Promise<{ batch: BatchWithJobs; canceled: number }> {
  const batch = await getOwnBatch(deps.db, userId, batchId);
  const active = batch.jobs.filter((j) => !FINISHED.has(j.status));
  if (active.length === 0 && batch.submittedAt !== null) {
    throw AppError.conflict(ErrorCode.batchAlreadyFinished, 'Every item of this batch is already final; there is nothing to cancel', { status: batchStatus(batch) });
  }
  let canceled = 0;
  for (const job of active) {
    try {
      await cancelJob(deps, userId, job.id);
      canceled++;
    } catch (err) {
      // It became final meanwhile: nothing to cancel there.
      if (!(err instanceof AppError && err.code === ErrorCode.jobAlreadyFinished)) throw err;
    }
  }
  return { batch, canceled };
}
