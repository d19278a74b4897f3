import { ApplicationFailure } from '@temporalio/activity';
import { creditsFor } from '../src/catalog/service';
import { settleCredits } from '../src/credits/ledger';
import { ErrorCode } from '../src/error-codes';
import { recordFinished } from '../src/metrics/business';
import { completeBatchOfJob } from '../src/batches/rows';
import type { Tx } from '../src/db/transaction';
import { changeWithEvents, type AlsoWake, type EventDeps } from './events';
import { outputColumns, type CopiedOutput } from './outputs';

const ACTIVE = ['queued', 'running'] as const;

/** Fallback retention of a job accepted before retention existed (the configured default then). */
const LEGACY_RETENTION_SECONDS = 30 * 24 * 3600;

/** A job became final: if it was its batch's last item, the batch completes (its event, its webhook). */
async function settleBatch(tx: Tx, jobId: string, alsoWake: AlsoWake): Promise<void> {
  const batch = await completeBatchOfJob(tx, jobId);
  if (batch) alsoWake(batch);
}

/**
 * Job state in Postgres. Every step is idempotent: a retried activity finds the work
 * done and changes nothing, and a finished job is never moved back. Finishing a job
 * settles its credit reservation in the same transaction (once, through the ledger). Each
 * change appends its event (src/events) in its own transaction.
 */
export function createJobActivities(deps: EventDeps) {
  const change = changeWithEvents(deps);
  const job = (jobId: string) => ({ resourceType: 'job' as const, resourceId: jobId });
  return {
    /** Records the job's run and moves it to running; false (nothing written) when the job already ended. */
    async markJobRunning(req: { jobId: string; predictionId: string; modelVersion: string | null; retryCount: number }): Promise<boolean> {
      return change(job(req.jobId), async (tx, emit) => {
        const [moved] = await tx.job.updateManyAndReturn({
          where: { id: req.jobId, status: { in: [...ACTIVE] } },
          data: {
            status: 'running',
            providerPredictionId: req.predictionId,
            modelVersion: req.modelVersion,
            retryCount: req.retryCount,
            startedAt: new Date(),
          },
          select: { deadlineAt: true },
        });
        // A job with a deadline says so on its stream when it starts (and again when it ends by it).
        if (moved) await emit('status', { status: 'running', ...(moved.deadlineAt ? { deadline: moved.deadlineAt.toISOString() } : {}) });
        return moved !== undefined;
      });
    },

    /**
     * Stores the outputs, commits what they cost (per run, or per stored output) and releases
     * the rest. The transaction starts by claiming the job's move to `succeeded` in one
     * conditional update, so a cancel or failure that commits first wins outright (the job
     * stays canceled and refunded) and a job can never end succeeded without being charged.
     */
    async completeJob(req: {
      jobId: string;
      outputs: CopiedOutput[];
      metrics: Record<string, unknown> | null;
      providerCompletedAt: string | null;
    }): Promise<void> {
      await change(job(req.jobId), async (tx, emit, alsoWake) => {
        const claimed = await tx.job.updateMany({
          where: { id: req.jobId, status: { in: [...ACTIVE] } },
          data: {
            status: 'succeeded',
            providerMetrics: (req.metrics ?? undefined) as object | undefined,
            providerCompletedAt: req.providerCompletedAt ? new Date(req.providerCompletedAt) : null,
            completedAt: new Date(),
          },
        });
        if (claimed.count === 0) {
          if (!(await tx.job.findUnique({ where: { id: req.jobId }, select: { id: true } }))) {
            throw ApplicationFailure.nonRetryable(`Job ${req.jobId} does not exist`, ErrorCode.jobNotFound);
          }
          return;
        }
        const job = await tx.job.findUniqueOrThrow({ where: { id: req.jobId }, select: { priceUnit: true, priceCredits: true, retentionSeconds: true } });
        // Each output is kept for the job's retention from now, when it is recorded as stored.
        const expiresAt = new Date(Date.now() + (job.retentionSeconds ?? LEGACY_RETENTION_SECONDS) * 1000);
        await tx.jobOutput.createMany({
          data: req.outputs.map((o) => ({ ...outputColumns(o), jobId: req.jobId, sourceUrl: o.sourceUrl, expiresAt })),
          skipDuplicates: true,
        });
        // A job from before credits has no price and no reservation: settling it does nothing.
        const cost = creditsFor({ priceUnit: job.priceUnit ?? 'run', priceCredits: job.priceCredits ?? 0 }, req.outputs.length);
        const spent = await settleCredits(tx, { jobId: req.jobId, used: cost });
        await tx.job.update({ where: { id: req.jobId }, data: { creditsSpent: spent ?? 0 } });
        for (const o of req.outputs) await emit('output', { index: o.index });
        await emit('completed', { status: 'succeeded', error: null });
        recordFinished('generation', 'succeeded', req.outputs);
        await settleBatch(tx, req.jobId, alsoWake);
      });
    },

    /** Records the failure and releases the whole reservation. */
    async failJob(req: { jobId: string; code: string; message: string }): Promise<void> {
      await change(job(req.jobId), async (tx, emit, alsoWake) => {
        const { count } = await tx.job.updateMany({
          where: { id: req.jobId, status: { in: [...ACTIVE] } },
          data: { status: 'failed', errorCode: req.code, errorMessage: req.message, completedAt: new Date(), creditsSpent: 0 },
        });
        if (count > 0) {
          await emit('completed', { status: 'failed', error: { code: req.code, message: req.message } });
          recordFinished('generation', 'failed');
        }
        await settleCredits(tx, { jobId: req.jobId, used: 0 });
        await settleBatch(tx, req.jobId, alsoWake);
      });
    },

    /**
     * The job's deadline passed before it was final: a job whose provider run never started
     * (still queued) ends `aborted`, one that was running ends `canceled`, both with error
     * deadline_exceeded and the whole reservation released. Returns the job's status now (a job
     * that finished first keeps its own).
     */
    async endJobAtDeadline(req: { jobId: string }): Promise<string> {
      return change(job(req.jobId), async (tx, emit, alsoWake) => {
        const now = await tx.job.findUnique({ where: { id: req.jobId }, select: { status: true, deadlineAt: true } });
        if (!now) throw ApplicationFailure.nonRetryable(`Job ${req.jobId} does not exist`, ErrorCode.jobNotFound);
        if (!(ACTIVE as readonly string[]).includes(now.status)) return now.status;
        const status = now.status === 'queued' ? 'aborted' : 'canceled';
        const message =
          status === 'aborted'
            ? `The deadline (${now.deadlineAt?.toISOString()}) passed before the model started; nothing ran and nothing was charged`
            : `The deadline (${now.deadlineAt?.toISOString()}) passed before the job finished; the run was canceled and its credits released`;
        const { count } = await tx.job.updateMany({
          where: { id: req.jobId, status: now.status },
          data: { status, errorCode: ErrorCode.deadlineExceeded, errorMessage: message, completedAt: new Date(), creditsSpent: 0 },
        });
        if (count === 0) return (await tx.job.findUniqueOrThrow({ where: { id: req.jobId }, select: { status: true } })).status;
        await emit('completed', { status, error: { code: ErrorCode.deadlineExceeded, message }, deadline: now.deadlineAt?.toISOString() ?? null });
        recordFinished('generation', 'canceled');
        await settleCredits(tx, { jobId: req.jobId, used: 0 });
        await settleBatch(tx, req.jobId, alsoWake);
        return status;
      });
    },

    /** Records the cancellation and releases the whole reservation. */
    async cancelJob(req: { jobId: string }): Promise<void> {
      await change(job(req.jobId), async (tx, emit, alsoWake) => {
        const { count } = await tx.job.updateMany({
          where: { id: req.jobId, status: { in: [...ACTIVE] } },
          data: { status: 'canceled', errorCode: ErrorCode.predictionCanceled, errorMessage: 'Canceled by request', completedAt: new Date(), creditsSpent: 0 },
        });
        if (count > 0) {
          await emit('completed', { status: 'canceled', error: { code: ErrorCode.predictionCanceled, message: 'Canceled by request' } });
          recordFinished('generation', 'canceled');
        }
        await settleCredits(tx, { jobId: req.jobId, used: 0 });
        await settleBatch(tx, req.jobId, alsoWake);
      });
    },
  };
}
