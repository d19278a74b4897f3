import { createHash, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { Prisma, type Job, type JobOutput } from '../generated/prisma/client';
import { creditsFor, unitCredits } from '../catalog/service';
import { jobQuote } from '../quotes/quote';
import { resolveDeadline } from '../shared/deadline';
import { reserveCreditsWithRow, settleCredits, type RowInsert } from '../credits/ledger';
import { AppError, ErrorCode } from '../errors';
import { afterCursor, decodeCursor, page } from '../shared/pagination';
import { providerWebhookUrl } from '../provider/webhook-url';
import { workflowIds } from '../temporal/names';
import { startWorkflowFor, type StartHooks } from '../temporal/start-workflow';
import type { generationJob } from '../../workflows/generation-job';
import { checkModelInput } from './model-input';
import { retentionSeconds } from './retention';
import type { GenerateBody } from './schemas';
import { webhookColumns } from '../webhooks-out/request';
import { phase } from '../shared/phases';

export interface JobDeps {
  config: Config;
  db: Db;
  temporal: Client;
}

/** What starting a job's workflow needs of its row. */
export type JobStart = Pick<
  Job,
  'id' | 'userId' | 'model' | 'prompt' | 'numOutputs' | 'seed' | 'outputFormat' | 'parameters' | 'inputUploadId' | 'workflowId' | 'requestId' | 'deadlineAt'
>;

/** The row an accepted job starts with, as the accept statement writes it. */
type NewJob = JobStart &
  Pick<Job, 'status' | 'priceUnit' | 'priceCredits' | 'webhook' | 'webhookEventsFilter' | 'idempotencyKey' | 'requestHash' | 'apiKeyId' | 'retentionSeconds' | 'batchId' | 'batchIndex'>;

export interface SubmitResult {
  job: Pick<Job, 'id' | 'status'>;
  /** True when an Idempotency-Key matched an earlier request: no new job was made. */
  replayed: boolean;
}

export const FINISHED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);


/**
 * The exact input the model receives, less the input file (its presigned URL is made when
 * the job runs): the validated parameters (the caller's, the contract's defaults and the
 * protected fields, src/jobs/model-input.ts), then our own fields. Image models (those with an
 * output format) also get num_outputs and output_format; other kinds make one output.
 */
export function providerInput(job: Pick<Job, 'prompt' | 'numOutputs' | 'seed' | 'outputFormat' | 'parameters'>): Record<string, unknown> {
  return {
    ...(job.parameters as Record<string, unknown>),
    ...(job.prompt === null ? {} : { prompt: job.prompt }),
    ...(job.outputFormat === null ? {} : { num_outputs: job.numOutputs, output_format: job.outputFormat }),
    ...(job.seed === null ? {} : { seed: job.seed }),
  };
}

type SubmitRequest = {
  userId: string;
  body: GenerateBody;
  idempotencyKey?: string;
  requestId?: string;
  /** The API key the request came with: the job counts into its month (and its budget, if it has one). */
  apiKeyId?: string;
  /** From a Cancel-After header (the route turns it into a time); the body's `deadline` is the other way. */
  deadlineAt?: Date;
  /** The batch (POST /batches) the job is an item of, and its index there. */
  batch?: { id: string; index: number };
};

/**
 * Checks the request against its catalog model (cached), then records the job and reserves
 * its maximum cost in one statement (402 and no job if the credits do not cover it), then
 * starts its workflow (the job id is the workflow id). With an Idempotency-Key, the same key
 * and body return the first job and neither reserve nor start anything new. The key is looked
 * up only when accepting fails (a refusal, or the key's unique index), so a first request
 * costs one statement. Its two phases, `db` and `temporal`, are the request's Server-Timing.
 */
export async function submitJob(deps: JobDeps, req: SubmitRequest): Promise<SubmitResult> {
  const requestHash = createHash('sha256').update(JSON.stringify(req.body)).digest('hex');
  let accepted: { job: NewJob; fileField: string | null };
  try {
    accepted = await phase('db', () => acceptJob(deps, req, requestHash));
  } catch (err) {
    // The first request with this key made a job (maybe concurrently): it answers this one.
    const existing = req.idempotencyKey && (err instanceof AppError || isUniqueViolation(err)) ? await findByIdempotencyKey(deps.db, req.userId, req.idempotencyKey) : null;
    if (existing) return replay(deps, existing, requestHash);
    throw err;
  }

  const { job, fileField } = accepted;
  await phase('temporal', () => startJobWorkflow(deps, job, fileField, {
    undo: () =>
      deps.db.$transaction(async (tx) => {
        await settleCredits(tx, { jobId: job.id, used: 0 });
        await tx.job.delete({ where: { id: job.id } });
      }),
    unavailable: 'The job could not be queued; nothing was started or charged. Try again shortly.',
  }));
  return { job, replayed: false };
}

/** Validates the request and writes the job with its reservation (one statement), or throws a 4xx. */
async function acceptJob(deps: JobDeps, req: SubmitRequest, requestHash: string): Promise<{ job: NewJob; fileField: string | null }> {
  const { body } = req;
  const { model, upload, parameters } = await checkModelInput(deps.db, req.userId, body, { devKnobs: deps.config.env !== 'production' });
  const deadlineAt = jobDeadline(req);
  const retention = retentionSeconds(body.retention, deps.config.outputs);
  const maxCost = creditsFor(model, body.num_outputs, parameters, upload);
  if (body.max_credits !== undefined && maxCost > body.max_credits) {
    throw new AppError(402, ErrorCode.maxCreditsExceeded, `This job costs up to ${maxCost} credits, more than max_credits (${body.max_credits}); nothing was reserved`, {
      max_credits: body.max_credits,
      needed: maxCost,
      quote: jobQuote(model, body.num_outputs, parameters, upload),
    });
  }
  const id = randomUUID();
  const job: NewJob = {
    id,
    userId: req.userId,
    status: 'queued',
    model: model.name,
    prompt: body.prompt ?? null,
    numOutputs: body.num_outputs,
    seed: body.seed ?? null,
    outputFormat: model.kind === 'image' ? (body.output_format ?? 'png') : null,
    parameters: parameters as Job['parameters'],
    priceUnit: model.priceUnit,
    priceCredits: unitCredits(model, parameters, upload),
    inputUploadId: upload?.id ?? null,
    ...webhookColumns(body, deps.config),
    idempotencyKey: req.idempotencyKey ?? null,
    requestHash,
    requestId: req.requestId ?? null,
    workflowId: workflowIds.generationJob(id),
    deadlineAt,
    apiKeyId: req.apiKeyId ?? null,
    retentionSeconds: retention,
    batchId: req.batch?.id ?? null,
    batchIndex: req.batch?.index ?? null,
  };
  const reservation = await reserveCreditsWithRow(
    deps.db,
    { userId: req.userId, jobId: id, credits: maxCost, maxActive: deps.config.accounts.maxActiveJobs, apiKeyId: req.apiKeyId },
    jobRow(job),
  );
  if (!reservation.reserved) {
    throw new AppError(402, ErrorCode.insufficientCredits, `This job costs up to ${maxCost} credits and you have ${reservation.available}; buy a credit pack (POST /api/v1/credits/checkout)`, {
      needed: maxCost,
      available: reservation.available,
    });
  }
  return { job, fileField: upload ? model.fileField : null };
}

/** When the job must be final (src/shared/deadline.ts); 422 for an invalid deadline. */
function jobDeadline(req: SubmitRequest): Date | null {
  return resolveDeadline(req.body.deadline, req.deadlineAt);
}

/** The jobs row of a new job, column by column with its SQL type, for the accept statement. */
function jobRow(j: NewJob): RowInsert {
  const sql = Prisma.sql;
  return {
    table: 'jobs',
    columns: {
      id: sql`${j.id}::uuid`,
      user_id: sql`${j.userId}::uuid`,
      status: sql`${j.status}::job_status`,
      model: sql`${j.model}::text`,
      prompt: sql`${j.prompt}::text`,
      num_outputs: sql`${j.numOutputs}::int`,
      seed: sql`${j.seed}::int`,
      output_format: sql`${j.outputFormat}::text`,
      parameters: sql`${JSON.stringify(j.parameters)}::jsonb`,
      price_unit: sql`${j.priceUnit}::price_unit`,
      price_credits: sql`${j.priceCredits}::int`,
      input_upload_id: sql`${j.inputUploadId}::uuid`,
      webhook: sql`${j.webhook}::text`,
      webhook_events_filter: sql`${j.webhookEventsFilter}::text[]`,
      idempotency_key: sql`${j.idempotencyKey}::text`,
      request_hash: sql`${j.requestHash}::text`,
      request_id: sql`${j.requestId}::text`,
      workflow_id: sql`${j.workflowId}::text`,
      deadline_at: sql`${j.deadlineAt?.toISOString() ?? null}::timestamptz`,
      api_key_id: sql`${j.apiKeyId}::uuid`,
      retention_seconds: sql`${j.retentionSeconds}::int`,
      batch_id: sql`${j.batchId}::uuid`,
      batch_index: sql`${j.batchIndex}::int`,
    },
  };
}

/** A unique index refused the write: Prisma's P2002, or SQLSTATE 23505 from a raw statement. */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  return e.code === 'P2002' || e.meta?.driverAdapterError?.cause?.originalCode === '23505';
}

async function findByIdempotencyKey(db: Db, userId: string, key: string): Promise<Job | null> {
  return db.job.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey: key } } });
}

async function replay(deps: JobDeps, job: Job, requestHash: string): Promise<SubmitResult> {
  if (job.requestHash !== requestHash) {
    throw new AppError(
      422,
      ErrorCode.idempotencyKeyReused,
      'This Idempotency-Key was already used with a different request body; use a new key for a new job',
      { job_id: job.id },
    );
  }
  // A crash between recording the job and starting its workflow leaves it queued: start it now
  // (a run of this job that already exists counts as started). Nothing is undone on failure:
  // the first request's row and reservation stay until a retry or reconciliation settles them.
  if (job.status === 'queued') {
    const fileField = job.inputUploadId ? (await deps.db.catalogModel.findUniqueOrThrow({ where: { name: job.model } })).fileField : null;
    await startJobWorkflow(deps, job, fileField, { undo: async () => undefined, unavailable: 'The job could not be queued yet. Try again shortly.' });
  }
  return { job, replayed: true };
}

/**
 * Starts the job's workflow (the job id is the workflow id; a job runs once, ever). A run that
 * already exists is this job's own, from a concurrent replay of its Idempotency-Key.
 * `fileField`: the model's input field that receives the job's input file (null without one).
 */
export async function startJobWorkflow(deps: JobDeps, job: JobStart, fileField: string | null, hooks: Omit<StartHooks, 'conflict'>): Promise<void> {
  const { config } = deps;
  const inputFile = job.inputUploadId && fileField ? { uploadId: job.inputUploadId, field: fileField } : null;
  await startWorkflowFor<typeof generationJob>(
    { temporal: deps.temporal, taskQueue: config.temporal.taskQueue },
    {
      workflowType: 'generationJob',
      workflowId: job.workflowId,
      reusePolicy: 'REJECT_DUPLICATE',
      args: [
        {
          jobId: job.id,
          model: job.model,
          input: providerInput(job),
          inputFile,
          webhookUrl: providerWebhookUrl(config.http.publicBaseUrl, job.workflowId),
          pollIntervalMs: config.jobs.pollIntervalMs,
          timeoutMs: config.jobs.timeoutMs,
          ...(job.deadlineAt ? { deadlineMs: job.deadlineAt.getTime() } : {}),
        },
      ],
      attributes: { userId: job.userId, kind: 'generation', modelName: job.model, requestId: job.requestId },
    },
    hooks,
  );
}

export type JobWithOutputs = Job & { outputs: JobOutput[] };

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

export async function listJobs(db: Db, userId: string, q: { status?: Job['status']; limit: number; cursor?: string }) {
  const rows = await db.job.findMany({
    where: { userId, ...(q.status ? { status: q.status } : {}), ...afterCursor(decodeCursor(q.cursor)) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
    include: { outputs: { orderBy: { index: 'asc' } } },
  });
  return page(rows, q.limit);
}

/** Cancels the workflow, which cancels the provider prediction and records `canceled`. */
export async function cancelJob(deps: JobDeps, userId: string, jobId: string): Promise<Job> {
  const job = await getOwnJob(deps.db, userId, jobId);
  const finishedConflict = (status: string) =>
    AppError.conflict(ErrorCode.jobAlreadyFinished, `The job already ${status === 'canceled' ? 'was canceled' : status}; there is nothing to cancel`, { status });
  if (FINISHED.has(job.status)) throw finishedConflict(job.status);
  try {
    await deps.temporal.workflow.getHandle(job.workflowId).cancel();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    const now = await deps.db.job.findUniqueOrThrow({ where: { id: job.id } });
    throw finishedConflict(now.status);
  }
  return job;
}
