import { ActivityFailure, ApplicationFailure, log, patched, proxyActivities } from '@temporalio/workflow';
import type { PredictionSnapshot, StripeActivities } from '../activities';
import type { OrphanJob, OrphanPrompt, OrphanVersion } from '../activities/reconcile';
import { ErrorCode } from '../src/error-codes';
import { errorText, trainedVersion } from '../src/provider/prediction';
import { stripeCall } from './activity-options';
import { copyOutputs, workflowActivities, type WorkflowActivities } from './prediction-run';

export interface ReconcileInput {
  /** Only rows untouched this long are suspects (a live workflow updates its row). */
  graceMs: number;
  /** At most this many findings of each kind per run (pending checkouts: per page). */
  limit: number;
}

export interface ReconcileReport {
  completed: number;
  failed: number;
  stillRunning: number;
  paymentsUpdated: number;
  reservationsSettled: number;
  /** Findings whose repair failed this run; they are still there, and the next run tries again. */
  repairsFailed: number;
}

const LOST = 'The workflow running this stopped before it finished (terminated or lost); reconciliation closed it';

/**
 * Pages of pending checkouts one run visits at most. Each page is `limit` checkouts least
 * recently checked, so a run sees up to this many pages × limit of them (a paid checkout whose
 * webhook was lost is found in the run after its grace period), and a longer backlog is worked
 * off across runs, oldest check first, with a history of bounded size.
 */
const CHECKOUT_PAGES_PER_RUN = 10;

/**
 * Runs on a Temporal Schedule. Every repair is idempotent: completing from the provider's
 * result reuses the same activities as the normal path (deterministic keys, guarded state
 * changes, ledger keys), and failing refunds through the same settle step.
 *
 * Each finding is repaired on its own: one whose repair fails is counted (repair_failed),
 * logged and left for the next run, and neither stops nor waits for the others or the
 * leaked-reservation sweep. Runs started before that change took all findings together (one
 * failure failed the run); they replay on the path below `patched`.
 */
export async function reconcile(input: ReconcileInput): Promise<ReconcileReport> {
  if (patched('reconcile-isolated-findings')) return reconcileIsolated(input);
  return reconcileAllTogether(input);
}

async function reconcileIsolated(input: ReconcileInput): Promise<ReconcileReport> {
  const acts = workflowActivities();
  const stripe = proxyActivities<StripeActivities>(stripeCall);
  const report = emptyReport();
  const repair = repairs(acts, report);
  const runAt = Date.now();

  /** Runs one repair; a failure is counted and logged, and the next run finds the row again. */
  const isolated = (what: string, fn: () => Promise<void>) =>
    fn().catch((err: unknown) => {
      report.repairsFailed += 1;
      log.warn('reconcile: repair failed; the next run retries it', { what, error: errorMessage(err) });
    });

  async function orphans(): Promise<void> {
    const found = await acts.db.findOrphans({ olderThanMs: input.graceMs, limit: input.limit });
    await Promise.all([
      ...found.jobs.map((j) => isolated(`job ${j.id}`, () => repair.job(j))),
      ...found.prompts.map((p) => isolated(`prompt ${p.id}`, () => repair.prompt(p))),
      ...found.versions.map((v) => isolated(`version ${v.id}`, () => repair.version(v))),
    ]);
  }

  async function checkouts(): Promise<void> {
    for (let page = 0; page < CHECKOUT_PAGES_PER_RUN; page++) {
      const sessions = await acts.db.findPendingCheckouts({ olderThanMs: input.graceMs, limit: input.limit, visitedAt: runAt });
      await Promise.all(
        sessions.map((id) =>
          isolated(`checkout ${id}`, async () => {
            if ((await stripe.syncCheckoutSession(id)).changed) report.paymentsUpdated += 1;
          }),
        ),
      );
      if (sessions.length === 0) break;
    }
  }

  async function sweep(): Promise<void> {
    report.reservationsSettled = await acts.db.settleLeakedReservations({ limit: input.limit });
  }

  await Promise.all([isolated('orphans', orphans), isolated('checkouts', checkouts), isolated('leaked reservations', sweep)]);
  await acts.db.recordReconcileReport(report);
  return report;
}

/** The command sequence of runs started before findings were isolated; kept so they replay. */
async function reconcileAllTogether(input: ReconcileInput): Promise<ReconcileReport> {
  const acts = workflowActivities();
  const { db } = acts;
  // Same activity, same queue as these runs recorded; only the preset differs, which replay ignores.
  const stripe = proxyActivities<StripeActivities>(stripeCall);
  const report = emptyReport();
  const repair = repairs(acts, report);

  const orphans = await db.findOrphans({ olderThanMs: input.graceMs, limit: input.limit });
  await Promise.all([...orphans.jobs.map(repair.job), ...orphans.prompts.map(repair.prompt), ...orphans.versions.map(repair.version)]);

  const sessions = await db.findPendingCheckouts({ olderThanMs: input.graceMs, limit: input.limit });
  const synced = await Promise.all(sessions.map((id) => stripe.syncCheckoutSession(id)));
  report.paymentsUpdated = synced.filter((s) => s.changed).length;
  report.reservationsSettled = await db.settleLeakedReservations({ limit: input.limit });
  await db.recordReconcileReport(report);
  return report;
}

function emptyReport(): ReconcileReport {
  return { completed: 0, failed: 0, stillRunning: 0, paymentsUpdated: 0, reservationsSettled: 0, repairsFailed: 0 };
}

function errorMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return `${err.activityType}: ${err.cause.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** How each kind of orphan is repaired, counting its outcome in `report`. */
function repairs(acts: WorkflowActivities, report: ReconcileReport) {
  const { db, calls } = acts;
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

  const job = (j: OrphanJob) =>
    settle(
      j.predictionId,
      async (p) => {
        const max = patched('cap-outputs-at-requested') ? j.numOutputs : Infinity;
        await db.completeJob({ jobId: j.id, outputs: await copyOutputs(acts, `jobs/${j.id}`, p, max), metrics: p.metrics, providerCompletedAt: p.completedAt });
      },
      (code, message) => db.failJob({ jobId: j.id, code, message }),
    );

  const prompt = (pr: OrphanPrompt) =>
    settle(
      pr.predictionId,
      async (p) => db.completePrompt({ promptId: pr.id, versionId: pr.versionId, images: await copyOutputs(acts, `prompts/${pr.id}`, p, pr.numOutputs) }),
      (code, message) => db.finishPrompt({ promptId: pr.id, versionId: pr.versionId, status: 'failed', code, message }),
    );

  async function version(v: OrphanVersion): Promise<void> {
    const fail = (code: string, message: string) => db.finishTraining({ versionId: v.id, status: 'failed', code, message }).then(() => count('failed'));
    if (!v.trainingId) return fail(ErrorCode.workflowLost, LOST);
    const t = await calls.getTraining(v.trainingId);
    if (t.status === 'starting' || t.status === 'processing') return count('stillRunning');
    const trained = t.status === 'succeeded' ? trainedVersion(t.output) : null;
    if (!trained) return fail(t.status === 'failed' ? ErrorCode.trainingFailed : ErrorCode.workflowLost, t.status === 'failed' ? errorText(t.error) : LOST);
    await db.completeTraining({ versionId: v.id, providerModel: trained.model, providerVersion: trained.version });
    count('completed');
  }

  return { job, prompt, version };
}
