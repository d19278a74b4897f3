import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { reconcileFindings } from '../src/metrics/business';
import { applyCheckoutSession } from '../src/payments/outcome';
import { stripeFailureType } from '../src/payments/stripe-errors';
import { settleReservation } from '../src/quota/ledger';
import type { Dependencies } from '../src/dependencies';

const ACTIVE_JOB = ['queued', 'running'] as const;
const ACTIVE_VERSION = ['queued', 'validating', 'uploading', 'training'] as const;

export interface OrphanJob {
  id: string;
  predictionId: string | null;
  /** The outputs the job asked for (one for models that make one). */
  numOutputs: number;
}
export interface OrphanPrompt {
  id: string;
  versionId: string;
  predictionId: string | null;
  numOutputs: number;
}
export interface OrphanVersion {
  id: string;
  trainingId: string | null;
}
export interface Orphans {
  jobs: OrphanJob[];
  prompts: OrphanPrompt[];
  versions: OrphanVersion[];
}

/**
 * What the cron service did in older designs: find rows Postgres says are in flight whose
 * workflow is gone (terminated by an operator, or lost), payments Stripe completed whose
 * webhook never arrived, and reservations that outlived their prompt.
 */
export function createReconcileActivities({ db, stripe, temporalClient }: Pick<Dependencies, 'db' | 'stripe' | 'temporalClient'>) {
  /** True unless the workflow (that exact run, when given) is still running. */
  async function workflowGone(workflowId: string, runId?: string | null): Promise<boolean> {
    const client = await temporalClient();
    try {
      const d = await client.workflow.getHandle(workflowId, runId ?? undefined).describe();
      return d.status.name !== 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return true;
      throw err;
    }
  }

  async function gone<T extends { workflowId: string; workflowRunId?: string | null }>(rows: T[]): Promise<T[]> {
    const verdicts = await Promise.all(rows.map((r) => workflowGone(r.workflowId, r.workflowRunId)));
    return rows.filter((_, i) => verdicts[i]);
  }

  return {
    /** Rows untouched for `olderThanMs` that are still active although their workflow is not running. */
    async findOrphans(req: { olderThanMs: number; limit: number }): Promise<Orphans> {
      const before = new Date(Date.now() - req.olderThanMs);
      const page = { take: req.limit, orderBy: { updatedAt: 'asc' as const } };
      const [jobs, prompts, versions] = await Promise.all([
        db.job.findMany({ where: { status: { in: [...ACTIVE_JOB] }, updatedAt: { lt: before } }, ...page }),
        db.prompt.findMany({ where: { status: { in: [...ACTIVE_JOB] }, updatedAt: { lt: before } }, ...page }),
        db.modelVersion.findMany({ where: { status: { in: [...ACTIVE_VERSION] }, updatedAt: { lt: before } }, ...page }),
      ]);
      return {
        jobs: (await gone(jobs)).map((j) => ({ id: j.id, predictionId: j.providerPredictionId, numOutputs: j.outputFormat === null ? 1 : j.numOutputs })),
        prompts: (await gone(prompts)).map((p) => ({ id: p.id, versionId: p.versionId, predictionId: p.providerPredictionId, numOutputs: p.numOutputs })),
        versions: (await gone(versions)).map((v) => ({ id: v.id, trainingId: v.providerTrainingId })),
      };
    },

    /**
     * The next page of pending plan payments and credit purchases whose checkout is older than
     * `olderThanMs` (Stripe has the truth), least recently checked first (never checked: newest
     * first), at most `limit` of each. Each is marked checked at `visitedAt` (the run's time) as it
     * is handed out, so the run's next page moves on, and a checkout that keeps failing or stays
     * open goes to the back of the line instead of holding its place at the front.
     */
    async findPendingCheckouts(req: { olderThanMs: number; limit: number; visitedAt?: number }): Promise<string[]> {
      const visitedAt = new Date(req.visitedAt ?? Date.now());
      const where = {
        status: 'pending' as const,
        checkoutSessionId: { not: null },
        createdAt: { lt: new Date(Date.now() - req.olderThanMs) },
        OR: [{ lastCheckedAt: null }, { lastCheckedAt: { lt: visitedAt } }],
      };
      const page = {
        select: { id: true, checkoutSessionId: true },
        orderBy: [{ lastCheckedAt: { sort: 'asc' as const, nulls: 'first' as const } }, { createdAt: 'desc' as const }],
        take: req.limit,
      };
      const [payments, purchases] = await Promise.all([db.payment.findMany({ where, ...page }), db.creditPurchase.findMany({ where, ...page })]);
      const visited = { data: { lastCheckedAt: visitedAt } };
      await Promise.all([
        db.payment.updateMany({ where: { id: { in: payments.map((p) => p.id) } }, ...visited }),
        db.creditPurchase.updateMany({ where: { id: { in: purchases.map((p) => p.id) } }, ...visited }),
      ]);
      return [...payments, ...purchases].map((r) => r.checkoutSessionId!);
    },

    /**
     * Applies the checkout session as Stripe has it now, exactly as its webhook would have. A
     * Stripe refusal no retry can fix fails with its type (non-retryable in the stripeCall preset).
     */
    async syncCheckoutSession(sessionId: string): Promise<{ changed: boolean }> {
      let session;
      try {
        session = await stripe.checkout.sessions.retrieve(sessionId);
      } catch (err) {
        const type = stripeFailureType(stripe, err);
        if (type) throw ApplicationFailure.create({ type, message: `Stripe refused checkout session ${sessionId}: ${(err as Error).message}` });
        throw err;
      }
      const result = await applyCheckoutSession(db, session);
      return { changed: result.changed };
    },

    /** Counts one run's findings in metrics (the workflow's result holds the same numbers); repair_failed: retried next run. */
    async recordReconcileReport(report: {
      completed: number;
      failed: number;
      stillRunning: number;
      paymentsUpdated: number;
      reservationsSettled: number;
      repairsFailed?: number;
    }): Promise<void> {
      const outcomes = {
        completed: report.completed,
        failed: report.failed,
        still_running: report.stillRunning,
        payment_updated: report.paymentsUpdated,
        reservation_settled: report.reservationsSettled,
        repair_failed: report.repairsFailed ?? 0,
      };
      for (const [outcome, n] of Object.entries(outcomes)) if (n > 0) reconcileFindings.inc({ outcome }, n);
    },

    /** Finished prompts whose reservation was never settled: commit what was stored, release the rest. */
    async settleLeakedReservations(req: { limit: number }): Promise<number> {
      const leaked = await db.$queryRaw<{ prompt_id: string; version_id: string; stored: number }[]>`
        SELECT p.id AS prompt_id, p.version_id, (SELECT count(*)::int FROM prompt_images i WHERE i.prompt_id = p.id) AS stored
          FROM prompts p
          JOIN quota_ledger r ON r.key = 'reserve:' || p.id
         WHERE p.status IN ('succeeded', 'failed', 'canceled')
           AND NOT EXISTS (SELECT 1 FROM quota_ledger s WHERE s.key = 'release:' || p.id)
         LIMIT ${req.limit}`;
      for (const row of leaked) {
        await db.$transaction((tx) => settleReservation(tx, { versionId: row.version_id, promptId: row.prompt_id, used: row.stored }));
      }
      return leaked.length;
    },
  };
}
