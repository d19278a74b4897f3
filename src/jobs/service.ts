import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Job } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import { afterCursor, decodeCursor, page } from '../http/pagination';
import { taskQueues, workflowIds } from '../temporal/names';
import { SA } from '../temporal/search-attributes';
import type { generationJob } from '../../workflows/generation-job';
import type { GenerateBody } from './schemas';

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

/** The exact input the model receives: passthrough parameters, then our own fields. */
export function providerInput(body: GenerateBody): Record<string, unknown> {
  return {
    ...body.parameters,
    prompt: body.prompt,
    num_outputs: body.num_outputs,
    output_format: body.output_format,
    ...(body.seed === undefined ? {} : { seed: body.seed }),
  };
}

/**
 * Records the job, then starts its workflow (the job id is the workflow id). With an
 * Idempotency-Key, the same key and body return the first job and start nothing new.
 */
export async function submitJob(
  deps: JobDeps,
  req: { userId: string; body: GenerateBody; idempotencyKey?: string; requestId?: string },
): Promise<SubmitResult> {
  const requestHash = createHash('sha256').update(JSON.stringify(req.body)).digest('hex');
  if (req.idempotencyKey) {
    const existing = await findByIdempotencyKey(deps.db, req.userId, req.idempotencyKey);
    if (existing) return replay(deps, existing, requestHash);
  }

  const id = randomUUID();
  let job: Job;
  try {
    job = await deps.db.job.create({
      data: {
        id,
        userId: req.userId,
        model: req.body.model,
        prompt: req.body.prompt,
        numOutputs: req.body.num_outputs,
        seed: req.body.seed ?? null,
        outputFormat: req.body.output_format,
        parameters: req.body.parameters as object,
        idempotencyKey: req.idempotencyKey ?? null,
        requestHash,
        requestId: req.requestId ?? null,
        workflowId: workflowIds.generationJob(id),
      },
    });
  } catch (err) {
    // Two requests with the same key raced; the other one made the job.
    if ((err as { code?: string }).code === 'P2002' && req.idempotencyKey) {
      const existing = await findByIdempotencyKey(deps.db, req.userId, req.idempotencyKey);
      if (existing) return replay(deps, existing, requestHash);
    }
    throw err;
  }

  try {
    await startJobWorkflow(deps, job);
  } catch (err) {
    // A concurrent replay of the same Idempotency-Key may have started it first.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { job, replayed: false };
    await deps.db.job.delete({ where: { id: job.id } }).catch(() => undefined);
    throw AppError.unavailable('The job could not be queued; nothing was started. Try again shortly.', {
      cause: (err as Error).message,
    });
  }
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
  // A crash between recording the job and starting its workflow leaves it queued: start it now.
  if (job.status === 'queued') {
    await startJobWorkflow(deps, job).catch((err) => {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    });
  }
  return { job, replayed: true };
}

export async function startJobWorkflow(deps: JobDeps, job: Job): Promise<void> {
  const { config } = deps;
  await deps.temporal.workflow.start<typeof generationJob>('generationJob', {
    workflowId: job.workflowId,
    taskQueue: taskQueues(config.temporal.taskQueue).main,
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    workflowIdConflictPolicy: 'FAIL',
    args: [
      {
        jobId: job.id,
        model: job.model,
        input: providerInput({
          model: job.model,
          prompt: job.prompt,
          num_outputs: job.numOutputs,
          seed: job.seed ?? undefined,
          output_format: job.outputFormat as GenerateBody['output_format'],
          parameters: job.parameters as Record<string, unknown>,
        }),
        webhookUrl: `${config.http.publicBaseUrl}/api/v1/webhooks/replicate?workflow_id=${encodeURIComponent(job.workflowId)}`,
        pollIntervalMs: config.jobs.pollIntervalMs,
        timeoutMs: config.jobs.timeoutMs,
      },
    ],
    memo: { requestId: job.requestId ?? null },
    typedSearchAttributes: [
      { key: SA.userId, value: job.userId },
      { key: SA.jobKind, value: 'generation' },
      { key: SA.modelName, value: job.model },
      { key: SA.jobStatus, value: 'queued' },
      ...(job.requestId ? [{ key: SA.requestId, value: job.requestId }] : []),
    ],
  });
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
