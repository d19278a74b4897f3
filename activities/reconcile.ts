import { WorkflowNotFoundError } from '@temporalio/client';
import { reconcileFindings } from '../src/metrics/business';
import { applyCheckoutSession } from '../src/payments/outcome';
import { settleReservation } from '../src/quota/ledger';
import type { Runtime } from '../src/runtime';

const ACTIVE_JOB = ['queued', 'running'] as const;
const ACTIVE_VERSION = ['queued', 'validating', 'uploading', 'training'] as const;

export interface OrphanJob {
  id: string;
  predictionId: string | null;
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
export function createReconcileActivities({ db, stripe, temporalClient }: Pick<Runtime, 'db' | 'stripe' | 'temporalClient'>) {
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
        jobs: (await gone(jobs)).map((j) => ({ id: j.id, predictionId: j.providerPredictionId })),
        prompts: (await gone(prompts)).map((p) => ({ id: p.id, versionId: p.versionId, predictionId: p.providerPredictionId, numOutputs: p.numOutputs })),
        versions: (await gone(versions)).map((v) => ({ id: v.id, trainingId: v.providerTrainingId })),
      };
    },

    /** Pending plan payments and credit purchases whose checkout is older than `olderThanMs`: Stripe has the truth. */
    async findPendingCheckouts(req: { olderThanMs: number; limit: number }): Promise<string[]> {
      const where = { status: 'pending' as const, checkoutSessionId: { not: null }, createdAt: { lt: new Date(Date.now() - req.olderThanMs) } };
      const page = { select: { checkoutSessionId: true }, orderBy: { createdAt: 'asc' as const }, take: req.limit };
      const [payments, purchases] = await Promise.all([db.payment.findMany({ where, ...page }), db.creditPurchase.findMany({ where, ...page })]);
      return [...payments, ...purchases].map((r) => r.checkoutSessionId!);
    },

    /** Applies the checkout session as Stripe has it now, exactly as its webhook would have. */
    async syncCheckoutSession(sessionId: string): Promise<{ changed: boolean }> {
      const session = await stripe.checkout.sessions.retrieve(sessionId);
      const result = await applyCheckoutSession(db, session);
      return { changed: result.changed };
    },

    /** Counts one run's findings in metrics (the workflow's result holds the same numbers). */
    async recordReconcileReport(report: { completed: number; failed: number; stillRunning: number; paymentsUpdated: number; reservationsSettled: number }): Promise<void> {
      const outcomes = {
        completed: report.completed,
        failed: report.failed,
        still_running: report.stillRunning,
        payment_updated: report.paymentsUpdated,
        reservation_settled: report.reservationsSettled,
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
