import { createHash, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Job } from '../generated/prisma/client';
import { creditsFor, unitCredits } from '../catalog/service';
import { reserveCredits, settleCredits } from '../credits/ledger';
import { AppError, ErrorCode } from '../errors';
import { afterCursor, decodeCursor, page } from '../shared/pagination';
import { replicateWebhookUrl, workflowIds } from '../temporal/names';
import { startWorkflowFor, type StartHooks } from '../temporal/start-workflow';
import type { generationJob } from '../../workflows/generation-job';
import { checkModelInput } from './model-input';
import type { GenerateBody } from './schemas';
import { webhookColumns } from '../webhooks-out/request';

export interface JobDeps {
  config: Config;
  db: Db;
  temporal: Client;
}

export interface SubmitResult {
  job: Job;
  /** True when an Idempotency-Key matched an earlier request: no new job was made. */
  replayed: boolean;
}

const FINISHED = new Set(['succeeded', 'failed', 'canceled']);

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

/**
 * Checks the request against its catalog model, then records the job and reserves its
 * maximum cost in one transaction (402 and no job if the credits do not cover it), then
 * starts its workflow (the job id is the workflow id). With an Idempotency-Key, the same
 * key and body return the first job and neither reserve nor start anything new.
 */
export async function submitJob(
  deps: JobDeps,
  req: { userId: string; body: GenerateBody; idempotencyKey?: string; requestId?: string },
): Promise<SubmitResult> {
  const { body } = req;
  const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  if (req.idempotencyKey) {
    const existing = await findByIdempotencyKey(deps.db, req.userId, req.idempotencyKey);
    if (existing) return replay(deps, existing, requestHash);
  }

  const { model, upload, parameters } = await checkModelInput(deps.db, req.userId, body, { devKnobs: deps.config.env !== 'production' });
  const id = randomUUID();
  const maxCost = creditsFor(model, body.num_outputs, parameters);
  let job: Job;
  try {
    job = await deps.db.$transaction(async (tx) => {
      const created = await tx.job.create({
        data: {
          id,
          userId: req.userId,
          model: model.name,
          prompt: body.prompt ?? null,
          numOutputs: body.num_outputs,
          seed: body.seed ?? null,
          outputFormat: model.kind === 'image' ? (body.output_format ?? 'png') : null,
          parameters: parameters as object,
          priceUnit: model.priceUnit,
          priceCredits: unitCredits(model, parameters),
          inputUploadId: upload?.id ?? null,
          ...webhookColumns(body, deps.config),
          idempotencyKey: req.idempotencyKey ?? null,
          requestHash,
          requestId: req.requestId ?? null,
          workflowId: workflowIds.generationJob(id),
        },
      });
      const reservation = await reserveCredits(tx, { userId: req.userId, jobId: id, credits: maxCost });
      if (!reservation.reserved) {
        throw new AppError(402, ErrorCode.insufficientCredits, `This job costs up to ${maxCost} credits and you have ${reservation.available}; buy a credit pack (POST /api/v1/credits/checkout)`, {
          needed: maxCost,
          available: reservation.available,
        });
      }
      return created;
    });
  } catch (err) {
    // Two requests with the same key raced; the other one made the job (and its reservation).
    if ((err as { code?: string }).code === 'P2002' && req.idempotencyKey) {
      const existing = await findByIdempotencyKey(deps.db, req.userId, req.idempotencyKey);
      if (existing) return replay(deps, existing, requestHash);
    }
    throw err;
  }

  await startJobWorkflow(deps, job, {
    undo: () =>
      deps.db.$transaction(async (tx) => {
        await settleCredits(tx, { jobId: job.id, used: 0 });
        await tx.job.delete({ where: { id: job.id } });
      }),
    unavailable: 'The job could not be queued; nothing was started or charged. Try again shortly.',
  });
  return { job, replayed: false };
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
    await startJobWorkflow(deps, job, { undo: async () => undefined, unavailable: 'The job could not be queued yet. Try again shortly.' });
  }
  return { job, replayed: true };
}

/**
 * Starts the job's workflow (the job id is the workflow id; a job runs once, ever). A run that
 * already exists is this job's own, from a concurrent replay of its Idempotency-Key.
 */
export async function startJobWorkflow(deps: JobDeps, job: Job, hooks: Omit<StartHooks, 'conflict'>): Promise<void> {
  const { config, db } = deps;
  const inputFile = job.inputUploadId
    ? { uploadId: job.inputUploadId, field: (await db.catalogModel.findUniqueOrThrow({ where: { name: job.model } })).fileField! }
    : null;
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
          webhookUrl: replicateWebhookUrl(config.http.publicBaseUrl, job.workflowId),
          pollIntervalMs: config.jobs.pollIntervalMs,
          timeoutMs: config.jobs.timeoutMs,
        },
      ],
      attributes: { userId: job.userId, kind: 'generation', modelName: job.model, requestId: job.requestId },
    },
    hooks,
  );
}

/** The caller's job with its outputs, or 404: another user's job does not exist for them. */
export async function getOwnJob(db: Db, userId: string, jobId: string) {
  const job = await db.job.findFirst({
    where: { id: jobId, userId },
    include: { outputs: { orderBy: { index: 'asc' } } },
  });
  if (!job) throw AppError.notFound('Job');
  return job;
}
export type JobWithOutputs = Awaited<ReturnType<typeof getOwnJob>>;

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
