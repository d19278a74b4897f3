import { createHash, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Job } from '../generated/prisma/client';
import { creditsFor, unitCredits } from '../catalog/service';
import { jobQuote } from '../quotes/quote';
import { resolveDeadline } from '../shared/deadline';
import { settleCredits } from '../credits/ledger';
import { AppError, ErrorCode } from '../errors';
import { providerWebhookUrl } from '../provider/webhook-url';
import { workflowIds } from '../temporal/names';
import { startWorkflowFor, type StartHooks } from '../temporal/start-workflow';
import type { generationJobV2 } from '../../workflows/generation-job';
import { checkModelInput, providerInput } from './model-input';
import { FINISHED, findByIdempotencyKey, getOwnJob, insertJobReserving, type JobStart, type NewJob } from './rows';
import { retentionSeconds } from './retention';
import type { GenerateBody } from './schemas';
import { webhookColumns } from '../webhooks-out/request';
import { phase } from '../shared/phases';

export interface JobDeps {
  config: Config;
  db: Db;
  temporal: Client;
}

export interface SubmitResult {
  job: Pick<Job, 'id' | 'status'>;
  /** True when an Idempotency-Key matched an earlier request: no new job was made. */
  replayed: boolean;
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
  const reservation = await insertJobReserving(deps.db, job, {
    userId: req.userId,
    jobId: id,
    credits: maxCost,
    maxActive: deps.config.accounts.maxActiveJobs,
    apiKeyId: req.apiKeyId ?? null,
  });
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

/** A unique index refused the write: Prisma's P2002, or SQLSTATE 23505 from a raw statement. */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  return e.code === 'P2002' || e.meta?.driverAdapterError?.cause?.originalCode === '23505';
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
  await startWorkflowFor<typeof generationJobV2>(
    { temporal: deps.temporal, taskQueue: config.temporal.taskQueue },
    {
      workflowType: 'generationJobV2',
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
