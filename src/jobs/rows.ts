import type { Db } from '../db/client';
import { reserveWith, type CreditReservation, type ReserveResult } from '../credits/ledger';
import { AppError } from '../errors';
import type { Job, JobOutput } from '../generated/prisma/client';
import { afterCursor, decodeCursor, page } from '../shared/pagination';

/**
 * The jobs row: the one statement that writes it when a job is accepted (with its credit
 * reservation) and the reads of it with its outputs. The API's service, the worker's webhook
 * deliveries and the bench read jobs here; views of a row are src/jobs/serialize.ts.
 */

/** What starting a job's workflow needs of its row. */
export type JobStart = Pick<
  Job,
  'id' | 'userId' | 'model' | 'prompt' | 'numOutputs' | 'seed' | 'outputFormat' | 'parameters' | 'inputUploadId' | 'workflowId' | 'requestId' | 'deadlineAt'
>;

/** The row an accepted job starts with, as the accept statement writes it. */
export type NewJob = JobStart &
  Pick<Job, 'status' | 'priceUnit' | 'priceCredits' | 'webhook' | 'webhookEventsFilter' | 'idempotencyKey' | 'requestHash' | 'apiKeyId' | 'retentionSeconds' | 'batchId' | 'batchIndex'>;

export type JobWithOutputs = Job & { outputs: JobOutput[] };

/** The statuses a job never leaves. */
export const FINISHED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

/**
 * Writes the new job's row in the statement that reserves its maximum cost (reserveWith): the
 * row exists exactly when the credits were reserved. A unique index (the caller's
 * Idempotency-Key) refusing the row undoes the reservation too.
 */
export function insertJobReserving(db: Db, j: NewJob, reservation: CreditReservation): Promise<ReserveResult> {
  return reserveWith(db, reservation, async ({ ctes, guard }) => {
    const rows = await db.$queryRaw<{ written: number; guard: number }[]>`
      WITH ${ctes}, written AS (
        INSERT INTO jobs (id, user_id, status, model, prompt, num_outputs, seed, output_format, parameters, price_unit, price_credits,
                          input_upload_id, webhook, webhook_events_filter, idempotency_key, request_hash, request_id, workflow_id,
                          deadline_at, api_key_id, retention_seconds, batch_id, batch_index)
        SELECT ${j.id}::uuid, ${j.userId}::uuid, ${j.status}::job_status, ${j.model}::text, ${j.prompt}::text, ${j.numOutputs}::int,
               ${j.seed}::int, ${j.outputFormat}::text, ${JSON.stringify(j.parameters)}::jsonb, ${j.priceUnit}::price_unit,
               ${j.priceCredits}::int, ${j.inputUploadId}::uuid, ${j.webhook}::text, ${j.webhookEventsFilter}::text[],
               ${j.idempotencyKey}::text, ${j.requestHash}::text, ${j.requestId}::text, ${j.workflowId}::text,
               ${j.deadlineAt?.toISOString() ?? null}::timestamptz, ${j.apiKeyId}::uuid, ${j.retentionSeconds}::int,
               ${j.batchId}::uuid, ${j.batchIndex}::int
          FROM reserved
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM written)::int AS written, ${guard} AS guard`;
    return rows[0]?.written === 1;
  });
}

export function findByIdempotencyKey(db: Db, userId: string, key: string): Promise<Job | null> {
  return db.job.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey: key } } });
}

/**
 * The caller's job with its outputs (by index), or 404: another user's job does not exist for
 * them. One raw statement, the outputs aggregated as JSON: GET /status reads it on every poll,
 * and Prisma's own query costs more than twice the CPU for the same row (README, B7).
 */
export async function getOwnJob(db: Db, userId: string, jobId: string): Promise<JobWithOutputs> {
  const rows = await db.$queryRaw<JobRow[]>`
    SELECT j.*, COALESCE((SELECT json_agg(o ORDER BY o.index) FROM job_outputs o WHERE o.job_id = j.id), '[]') AS outputs
      FROM jobs j
     WHERE j.id = ${jobId}::uuid AND j.user_id = ${userId}::uuid`;
  if (!rows[0]) throw AppError.notFound('Job');
  return jobFromRow(rows[0]);
}

/** A page of the caller's jobs, newest first, with their outputs. */
export async function listJobs(db: Db, userId: string, q: { status?: Job['status']; limit: number; cursor?: string }) {
  const rows = await db.job.findMany({
    where: { userId, ...(q.status ? { status: q.status } : {}), ...afterCursor(decodeCursor(q.cursor)) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
    include: { outputs: { orderBy: { index: 'asc' } } },
  });
  return page(rows, q.limit);
}

/**
 * A jobs row as Postgres names it (snake_case), with its outputs as JSON (numbers and timestamps
 * as JSON gives them). Only the fields that need more than a new name are spelled out.
 */
interface JobRow extends Record<string, unknown> {
  webhook_events_filter: string[] | null;
  outputs: Array<Record<string, unknown> & { size_bytes: number; created_at: string; expires_at: string | null; deleted_at: string | null }>;
}

/** snake_case column names as the camelCase fields Prisma gives them, values unchanged. */
function camelCased(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), value]));
}

const dateOrNull = (iso: string | null) => (iso === null ? null : new Date(iso));

/**
 * The row in Prisma's shape, as the rest of the code reads jobs (test/api/hot-path-statements
 * holds it equal to Prisma's own read of the same job, so a new column cannot drift).
 */
function jobFromRow({ outputs, ...job }: JobRow): JobWithOutputs {
  return {
    ...(camelCased(job) as Job),
    webhookEventsFilter: job.webhook_events_filter ?? [],
    outputs: outputs.map((o) => ({
      ...(camelCased(o) as JobOutput),
      sizeBytes: BigInt(o.size_bytes),
      createdAt: new Date(o.created_at),
      expiresAt: dateOrNull(o.expires_at),
      deletedAt: dateOrNull(o.deleted_at),
    })),
  };
}
