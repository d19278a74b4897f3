import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import type { Storage } from '../storage/s3';
import { FINISHED, getOwnJob, type JobWithOutputs } from './rows';

/**
 * Deleting job outputs from our bucket, on request (DELETE /jobs/{id}/outputs) and on expiry
 * (the expire-outputs schedule, workflows/expire-outputs.ts). The objects go (S3 DeleteObjects,
 * which succeeds for keys already gone, so a retry is harmless); the rows stay with their
 * metadata (size, sha256, dimensions) and `deleted_at`, and the ledger is untouched.
 */

/** Deletes a finished job's outputs now; 409 job_not_finished while it may still store some. */
export async function deleteJobOutputs(deps: { db: Db; storage: Storage }, userId: string, jobId: string): Promise<JobWithOutputs> {
  const job = await getOwnJob(deps.db, userId, jobId);
  if (!FINISHED.has(job.status)) {
    throw AppError.conflict(ErrorCode.jobNotFinished, `The job is ${job.status}; its outputs can be deleted once it is final`, { status: job.status });
  }
  const live = job.outputs.filter((o) => o.deletedAt === null);
  if (live.length === 0) return job;
  try {
    await deps.storage.remove(live.map((o) => o.s3Key));
  } catch (err) {
    throw AppError.unavailable('The files could not be deleted right now; nothing was changed. Try again shortly.').withCause(err);
  }
  await deps.db.jobOutput.updateMany({ where: { jobId, id: { in: live.map((o) => o.id) }, deletedAt: null }, data: { deletedAt: new Date() } });
  return getOwnJob(deps.db, userId, jobId);
}

/**
 * Deletes up to `limit` outputs whose expiry has passed, oldest expiry first; returns how many.
 * Rows are claimed with SKIP LOCKED, so two runs never delete the same page twice.
 */
export async function expireOutputsPage(deps: { db: Db; storage: Storage }, limit: number): Promise<number> {
  return deps.db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<Array<{ id: string; s3_key: string }>>`
      SELECT "id", "s3_key" FROM "job_outputs"
       WHERE "expires_at" <= now() AND "deleted_at" IS NULL
       ORDER BY "expires_at" LIMIT ${limit}
       FOR UPDATE SKIP LOCKED`;
    if (rows.length === 0) return 0;
    await deps.storage.remove(rows.map((r) => r.s3_key));
    await tx.$executeRaw`UPDATE "job_outputs" SET "deleted_at" = now() WHERE "id" = ANY(${rows.map((r) => r.id)}::uuid[])`;
    return rows.length;
  }, { timeout: 9_000 });
}
