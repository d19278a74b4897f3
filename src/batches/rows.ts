import type { Db } from '../db/client';
import type { Tx } from '../db/transaction';
import { AppError } from '../errors';
import { recordEvent } from '../events/record';
import type { ResourceRef } from '../events/types';
import type { Batch, Job } from '../generated/prisma/client';

/**
 * The batches row: its read with its items' jobs, and its completion, written by the step that
 * makes its last item final (the worker) or by the end of its submission (the API). Accepting
 * and cancelling batches is src/batches/service.ts; its public shape, src/batches/views.ts.
 */

export interface RejectedItem {
  index: number;
  status: number;
  error: { code: string; message: string; details?: unknown };
}

type BatchJob = Pick<Job, 'id' | 'status' | 'batchIndex' | 'errorCode' | 'errorMessage' | 'creditsSpent'>;
export type BatchWithJobs = Batch & { jobs: BatchJob[] };

export const batchRef = (id: string): ResourceRef => ({ resourceType: 'batch', resourceId: id });

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
