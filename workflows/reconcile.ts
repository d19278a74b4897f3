import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { PredictionSnapshot } from '../activities';
import type { OrphanJob, OrphanPrompt, OrphanVersion } from '../activities/reconcile';
import { ErrorCode } from '../src/error-codes';
import { errorText, trainedVersion } from '../src/provider/prediction';
import { copyOutputs, workflowActivities } from './prediction-run';

export interface ReconcileInput {
  /** Only rows untouched this long are suspects (a live workflow updates its row). */
  graceMs: number;
  /** At most this many findings of each kind per run. */
  limit: number;
}

export interface ReconcileReport {
  completed: number;
  failed: number;
  stillRunning: number;
  paymentsUpdated: number;
  reservationsSettled: number;
}

const LOST = 'The workflow running this stopped before it finished (terminated or lost); reconciliation closed it';

/**
 * Runs on a Temporal Schedule. Every repair is idempotent: completing from the provider's
 * result reuses the same activities as the normal path (deterministic keys, guarded state
 * changes, ledger keys), and failing refunds through the same settle step.
 */
export async function reconcile(input: ReconcileInput): Promise<ReconcileReport> {
  const acts = workflowActivities();
  const { db, calls } = acts;
  const report: ReconcileReport = { completed: 0, failed: 0, stillRunning: 0, paymentsUpdated: 0, reservationsSettled: 0 };
  const count = (outcome: 'completed' | 'failed' | 'stillRunning') => {
    report[outcome] += 1;
  };

  /** What to do with a prediction whose workflow is gone. */
  async function settle(
    predictionId: string | null,
    complete: (p: PredictionSnapshot) => Promise<void>,
    fail: (code: string, message: string) => Promise<void>,
  ): Promise<void> {
    if (!predictionId) return fail(ErrorCode.workflowLost, LOST).then(() => count('failed'));
    const p = await calls.getPrediction(predictionId);
    if (p.status === 'starting' || p.status === 'processing') return count('stillRunning');
    if (p.status !== 'succeeded') {
      await fail(p.status === 'failed' ? ErrorCode.predictionFailed : ErrorCode.predictionCanceled, p.status === 'failed' ? errorText(p.error) : LOST);
      return count('failed');
    }
    try {
      await complete(p);
      count('completed');
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      await fail(cause?.type ?? ErrorCode.workflowLost, cause?.message ?? LOST);
      count('failed');
    }
  }

  const repairJob = (job: OrphanJob) =>
    settle(
      job.predictionId,
      async (p) => db.completeJob({ jobId: job.id, outputs: await copyOutputs(acts, `jobs/${job.id}`, p), metrics: p.metrics, providerCompletedAt: p.completedAt }),
      (code, message) => db.failJob({ jobId: job.id, code, message }),
    );

  const repairPrompt = (prompt: OrphanPrompt) =>
    settle(
      prompt.predictionId,
      async (p) => db.completePrompt({ promptId: prompt.id, versionId: prompt.versionId, images: await copyOutputs(acts, `prompts/${prompt.id}`, p, prompt.numOutputs) }),
      (code, message) => db.finishPrompt({ promptId: prompt.id, versionId: prompt.versionId, status: 'failed', code, message }),
    );

  async function repairVersion(v: OrphanVersion): Promise<void> {
    const fail = (code: string, message: string) => db.finishTraining({ versionId: v.id, status: 'failed', code, message }).then(() => count('failed'));
    if (!v.trainingId) return fail(ErrorCode.workflowLost, LOST);
    const t = await calls.getTraining(v.trainingId);
    if (t.status === 'starting' || t.status === 'processing') return count('stillRunning');
    const trained = t.status === 'succeeded' ? trainedVersion(t.output) : null;
    if (!trained) return fail(t.status === 'failed' ? ErrorCode.trainingFailed : ErrorCode.workflowLost, t.status === 'failed' ? errorText(t.error) : LOST);
    await db.completeTraining({ versionId: v.id, providerModel: trained.model, providerVersion: trained.version });
    count('completed');
  }

  const orphans = await db.findOrphans({ olderThanMs: input.graceMs, limit: input.limit });
  await Promise.all([...orphans.jobs.map(repairJob), ...orphans.prompts.map(repairPrompt), ...orphans.versions.map(repairVersion)]);

  const sessions = await db.findPendingCheckouts({ olderThanMs: input.graceMs, limit: input.limit });
  const synced = await Promise.all(sessions.map((id) => db.syncCheckoutSession(id)));
  report.paymentsUpdated = synced.filter((s) => s.changed).length;
  report.reservationsSettled = await db.settleLeakedReservations({ limit: input.limit });
  await db.recordReconcileReport(report);
  return report;
}
