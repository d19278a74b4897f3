import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Tx } from '../db/transaction';
import { AppError, ErrorCode } from '../errors';
import { recordEvent, wakeWebhookDelivery } from '../events/record';
import type { ResourceRef } from '../events/types';
import type { Batch, Job } from '../generated/prisma/client';
import type { GenerateBody } from '../jobs/schemas';
import { cancelJob, FINISHED, submitJob } from '../jobs/service';
import { iso } from '../shared/dates';
import { webhookColumns } from '../webhooks-out/request';
import type { CreateBatchBody } from './schemas';

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

export interface RejectedItem {
  index: number;
  status: number;
  error: { code: string; message: string; details?: unknown };
}

type BatchJob = Pick<Job, 'id' | 'status' | 'batchIndex' | 'errorCode' | 'errorMessage' | 'creditsSpent'>;
export type BatchWithJobs = Batch & { jobs: BatchJob[] };

const batchRef = (id: string): ResourceRef => ({ resourceType: 'batch', resourceId: id });

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

/**
 * Marks the batch completed if its submission finished and none of its jobs is queued or running,
 * and records its `completed` event, in the caller's transaction; true when this call completed it
 * (a conditional update: of two concurrent callers, one does).
 */
export async function completeBatchIfDone(tx: Tx, batchId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<Array<{ id: string }>>`
    UPDATE "batches" b SET "completed_at" = now()
     WHERE b."id" = ${batchId}::uuid AND b."completed_at" IS NULL AND b."submitted_at" IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM "jobs" j WHERE j."batch_id" = b."id" AND j."status" IN ('queued', 'running'))
    RETURNING b."id"`;
  if (!rows[0]) return false;
  const counts = await tx.$queryRaw<Array<{ status: string; n: number }>>`
    SELECT "status"::text AS status, count(*)::int AS n FROM "jobs" WHERE "batch_id" = ${batchId}::uuid GROUP BY 1`;
  await recordEvent(tx, batchRef(batchId), 'completed', { status: 'completed', counts: Object.fromEntries(counts.map((c) => [c.status, c.n])) });
  return true;
}

/**
 * After a job became final (in the same transaction): completes its batch if it was the last
 * item. Returns the batch to wake the webhook of, or null.
 */
export async function completeBatchOfJob(tx: Tx, jobId: string): Promise<ResourceRef | null> {
  const rows = await tx.$queryRaw<Array<{ batch_id: string | null }>>`SELECT "batch_id" FROM "jobs" WHERE "id" = ${jobId}::uuid`;
  const batchId = rows[0]?.batch_id;
  if (!batchId) return null;
  return (await completeBatchIfDone(tx, batchId)) ? batchRef(batchId) : null;
}

export async function getOwnBatch(db: Db, userId: string, batchId: string): Promise<BatchWithJobs> {
  const batch = await db.batch.findFirst({
    where: { id: batchId, userId },
    include: { jobs: { select: { id: true, status: true, batchIndex: true, errorCode: true, errorMessage: true, creditsSpent: true }, orderBy: { batchIndex: 'asc' } } },
  });
  if (!batch) throw AppError.notFound('Batch');
  return batch;
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

const batchStatus = (b: Batch) => (b.completedAt ? 'completed' : b.submittedAt ? 'running' : 'submitting');

/** The public shape of a batch: its counts and one entry per item, by index. */
export function batchView(b: BatchWithJobs) {
  const rejected = b.rejected as unknown as RejectedItem[];
  const byIndex = new Map(b.jobs.map((j) => [j.batchIndex, j]));
  const rejectedByIndex = new Map(rejected.map((r) => [r.index, r]));
  const counts: Record<string, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0, aborted: 0 };
  for (const j of b.jobs) counts[j.status] = (counts[j.status] ?? 0) + 1;
  const items = Array.from({ length: b.size }, (_, index) => {
    const job = byIndex.get(index);
    if (job) {
      return {
        index,
        job_id: job.id,
        status: job.status as string,
        error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null,
        credits_spent: job.creditsSpent,
      };
    }
    const refused = rejectedByIndex.get(index);
    return {
      index,
      job_id: null,
      status: refused ? 'rejected' : 'pending',
      error: refused ? { code: refused.error.code, message: refused.error.message, http_status: refused.status, ...(refused.error.details === undefined ? {} : { details: refused.error.details }) } : null,
      credits_spent: null,
    };
  });
  return {
    batch_id: b.id,
    kind: b.kind as 'job',
    status: batchStatus(b),
    size: b.size,
    counts: { ...counts, created: b.jobs.length, rejected: items.filter((i) => i.status === 'rejected').length, final: b.jobs.filter((j) => FINISHED.has(j.status)).length },
    webhook: b.webhook,
    created_at: b.createdAt.toISOString(),
    submitted_at: iso(b.submittedAt),
    completed_at: iso(b.completedAt),
    items,
  };
}
